/**
 * The NATS bus against a real nats-server on loopback: two connections see each other's messages
 * through `.>` wildcards, unsubscribe stops delivery, a server restart is survived (buffered messages
 * go out on reconnect, later ones are delivered), close drains, and credentials never reach the logs.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { BusMessage } from './bus.js';
import { createBus } from './bus-factory.js';
import { createNatsBus, type NatsBus, parseNatsUrl } from './bus-nats.js';
import { createLogger } from './log.js';
import { natsMissing, startNatsServer, type TestNats, testNatsUrl } from './testing-nats.js';

const skip = natsMissing() ?? false;
const skipOwn = natsMissing({ needBinary: true }) ?? false;

function capture() {
  const lines: string[] = [];
  const out = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { lines, log: createLogger({ level: 'debug' }, out) };
}

async function until(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

function collect<T>() {
  const got: BusMessage<T>[] = [];
  return { got, handler: (m: BusMessage<T>) => got.push(m) };
}

describe('NATS bus', { skip }, () => {
  let server: { url: string; stop(): Promise<void> };
  const buses: NatsBus[] = [];
  const open = (url = server.url) => {
    const b = createNatsBus({ url, log: createLogger({ level: 'silent' }) });
    buses.push(b);
    return b;
  };
  before(async () => {
    server = await testNatsUrl();
  });
  after(async () => {
    for (const b of buses) await b.close();
    await server.stop();
  });

  test('two connections see each other’s messages, with `.>` wildcards and exact subjects', async () => {
    const a = open();
    const b = open();
    const prefix = `t${Date.now()}`;
    const onB = collect<{ n: number }>();
    const onBExact = collect<{ n: number }>();
    const onA = collect<{ n: number }>();
    b.subscribe(`${prefix}.events.>`, onB.handler);
    b.subscribe(`${prefix}.events.p1`, onBExact.handler);
    a.subscribe(`${prefix}.>`, onA.handler);
    await Promise.all([a.flush(), b.flush()]);
    assert.equal(a.distributed, true);
    assert.equal(a.connected, true);

    a.publish(`${prefix}.events.p1`, { n: 1 });
    a.publish(`${prefix}.events.p2.deep`, { n: 2 });
    b.publish(`${prefix}.logs.p1`, { n: 3 });
    await until('deliveries', () => onB.got.length >= 2 && onA.got.length >= 3 && onBExact.got.length >= 1);
    await sleep(50);
    assert.deepEqual(
      onB.got.map((m) => [m.subject, m.data.n]),
      [
        [`${prefix}.events.p1`, 1],
        [`${prefix}.events.p2.deep`, 2],
      ],
    );
    assert.deepEqual(
      onBExact.got.map((m) => m.data),
      [{ n: 1 }],
    );
    // A receives its own messages too (as with the in-process bus) and B's log message.
    assert.deepEqual(
      onA.got.map((m) => m.data.n),
      [1, 2, 3],
    );
    const first = onB.got[0] as BusMessage<{ n: number }>;
    assert.ok(Math.abs(Date.parse(first.at) - Date.now()) < 10_000, `at is a recent time: ${first.at}`);
  });

  test('unsubscribe stops delivery on that subscription only', async () => {
    const a = open();
    const b = open();
    const prefix = `u${Date.now()}`;
    const gone = collect<number>();
    const kept = collect<number>();
    const unsubscribe = b.subscribe(`${prefix}.>`, gone.handler);
    b.subscribe(`${prefix}.>`, kept.handler);
    await b.flush();
    a.publish(`${prefix}.x`, 1);
    await until('first message', () => gone.got.length === 1 && kept.got.length === 1);
    unsubscribe();
    await b.flush();
    a.publish(`${prefix}.x`, 2);
    a.publish(`${prefix}.x`, 3);
    await until('later messages on the kept subscription', () => kept.got.length === 3);
    await sleep(50);
    assert.deepEqual(
      gone.got.map((m) => m.data),
      [1],
    );
    assert.deepEqual(
      kept.got.map((m) => m.data),
      [1, 2, 3],
    );
  });

  test('a throwing handler does not stop other handlers or later messages', async () => {
    const errors: string[] = [];
    const a = createNatsBus({
      url: server.url,
      log: createLogger({ level: 'silent' }),
      onHandlerError: (err, subject) => errors.push(`${subject}: ${(err as Error).message}`),
    });
    buses.push(a);
    const prefix = `e${Date.now()}`;
    const ok = collect<number>();
    a.subscribe(`${prefix}.>`, () => {
      throw new Error('boom');
    });
    a.subscribe(`${prefix}.>`, ok.handler);
    await a.flush();
    a.publish(`${prefix}.a`, 1);
    a.publish(`${prefix}.a`, 2);
    await until('both messages', () => ok.got.length === 2);
    assert.deepEqual(errors, [`${prefix}.a: boom`, `${prefix}.a: boom`]);
  });

  test('thousands of messages a second reach another connection complete and in order', async () => {
    const a = open();
    const b = open();
    const subject = `load${Date.now()}.events.p`;
    const n = 50_000;
    let received = 0;
    let inOrder = true;
    b.subscribe<{ i: number; route: string }>(subject, ({ data }) => {
      if (data.i !== received) inOrder = false;
      received++;
    });
    await b.flush();
    const started = performance.now();
    for (let i = 0; i < n; i++) a.publish(subject, { i, route: '/users/:id', status: 200, durationMs: 12.5 });
    const publishMs = performance.now() - started;
    await until('all messages', () => received === n, 30_000);
    const totalMs = performance.now() - started;
    assert.ok(inOrder, 'messages arrive in publish order');
    console.log(
      `# NATS bus: ${n} messages published in ${publishMs.toFixed(0)} ms (${Math.round(n / (publishMs / 1000))}/s), ` +
        `all received by another connection in ${totalMs.toFixed(0)} ms (${Math.round(n / (totalMs / 1000))}/s)`,
    );
    assert.ok(n / (totalMs / 1000) > 2_000, 'at least 2,000 messages/s end to end, even on a loaded machine');
  });

  test('a message too large for the server is dropped and counted, never thrown', async () => {
    const a = open();
    await a.flush();
    const before = a.stats().dropped;
    assert.doesNotThrow(() => a.publish('big.one', 'x'.repeat(2 * 1024 * 1024)));
    assert.equal(a.stats().dropped, before + 1);
  });

  test('close drains what was published, then publishing is a silent no-op', async () => {
    const a = open();
    const b = open();
    const subject = `drain${Date.now()}`;
    const got = collect<number>();
    b.subscribe(subject, got.handler);
    await Promise.all([a.flush(), b.flush()]);
    for (let i = 0; i < 1000; i++) a.publish(subject, i);
    await a.close();
    await until('drained messages', () => got.got.length === 1000);
    assert.doesNotThrow(() => a.publish(subject, -1));
    assert.equal(a.connected, false);
    await a.close(); // twice is fine
  });

  test('createBus picks NATS when PEEP_NATS_URL is set, the in-process bus otherwise', async () => {
    const log = createLogger({ level: 'silent' });
    const nats = await createBus({ natsUrl: server.url }, log);
    const mem = await createBus({ natsUrl: '' }, log);
    try {
      assert.equal(nats.distributed, true);
      assert.equal(nats.connected, true);
      assert.equal(mem.distributed, false);
    } finally {
      await nats.close();
      await mem.close();
    }
  });
});

describe('NATS bus with a server of its own', { skip: skipOwn }, () => {
  let nats: TestNats;
  before(async () => {
    nats = await startNatsServer();
  });
  after(async () => {
    await nats.stop();
  });

  test('survives a nats-server restart: held messages go out on reconnect, later ones are delivered', async () => {
    const { log, lines } = capture();
    const a = createNatsBus({ url: nats.url, log, maxBackoffMs: 200 });
    const b = createNatsBus({ url: nats.url, log: createLogger({ level: 'silent' }), maxBackoffMs: 200 });
    try {
      const onA = collect<string>();
      const onB = collect<string>();
      a.subscribe('restart.>', onA.handler);
      b.subscribe('restart.>', onB.handler);
      await Promise.all([a.flush(), b.flush()]);
      a.publish('restart.before', 'before');
      await until('message before the restart', () => onB.got.length === 1);
      const gaps = a.gaps;

      await nats.stop({ hard: true });
      await until('disconnect noticed', () => !a.connected && !b.connected);
      assert.equal(a.gaps, gaps + 1);
      assert.doesNotThrow(() => a.publish('restart.during', 'during'));
      assert.equal(a.stats().buffered, 1);

      await nats.start();
      await until('both reconnected', () => a.connected && b.connected, 15_000);
      // A's own subscription is back before its held message goes out, so A sees it.
      await until('held message', () => onA.got.some((m) => m.data === 'during'));
      assert.equal(a.stats().buffered, 0);
      await Promise.all([a.flush(), b.flush()]);
      a.publish('restart.after', 'after');
      b.publish('restart.after', 'after-b');
      await until('messages after the restart', () => onB.got.some((m) => m.data === 'after'));
      await until('B to A after the restart', () => onA.got.some((m) => m.data === 'after-b'));
      const text = lines.join('');
      assert.match(text, /NATS connection lost/);
      assert.match(text, /NATS reconnected/);
    } finally {
      await a.close();
      await b.close();
    }
  });

  test('starts while the server is down, holds messages, and connects when it appears', async () => {
    const { log, lines } = capture();
    await nats.stop();
    const a = createNatsBus({ url: nats.url, log, maxBackoffMs: 200 });
    try {
      const got = collect<number>();
      a.subscribe('late.>', got.handler);
      a.publish('late.x', 1);
      await sleep(300);
      assert.equal(a.connected, false);
      assert.match(lines.join(''), /NATS not reachable/);
      await nats.start();
      await a.flush();
      await until('held message after the first connection', () => got.got.length === 1);
      assert.equal(a.connected, true);
    } finally {
      await a.close();
    }
  });

  test('the buffer while disconnected is bounded: oldest messages are dropped and counted', async () => {
    const a = createNatsBus({ url: nats.url, log: createLogger({ level: 'silent' }), bufferBytes: 10_000 });
    try {
      await a.flush();
      await nats.stop({ hard: true });
      await until('disconnect noticed', () => !a.connected);
      for (let i = 0; i < 1000; i++) a.publish('bounded', { i, pad: 'x'.repeat(80) });
      const s = a.stats();
      assert.ok(s.buffered < 120, `at most ~10 kB held (${s.buffered} messages)`);
      assert.equal(s.buffered + s.dropped, 1000);
    } finally {
      await nats.start();
      await a.close();
    }
  });
});

describe('NATS credentials', { skip: skipOwn }, () => {
  test('user and password come from the URL, and never appear in logs', async () => {
    const password = `pw-${Math.random().toString(36).slice(2)}`;
    const nats = await startNatsServer({ args: ['--user', 'peep', '--pass', password] });
    const { log, lines } = capture();
    const good = createNatsBus({ url: `nats://peep:${password}@127.0.0.1:${nats.port}`, log });
    const bad = createNatsBus({
      url: `nats://peep:wrong-${password}@127.0.0.1:${nats.port}`,
      log,
      maxBackoffMs: 100,
    });
    try {
      const got = collect<string>();
      good.subscribe('auth.x', got.handler);
      await good.flush();
      good.publish('auth.x', 'hello');
      await until('delivery with credentials', () => got.got.length === 1);
      await sleep(300);
      assert.equal(bad.connected, false, 'a wrong password does not connect');
      const text = lines.join('');
      assert.match(text, /NATS connected/);
      assert.match(text, /NATS not reachable/);
      assert.ok(!text.includes(password), 'the password is not logged');
    } finally {
      await good.close();
      await bad.close();
      await nats.stop();
    }
  });

  test('parseNatsUrl: token, user and password, tls, default port; the display form has no secret', () => {
    const a = parseNatsUrl('nats://u:p%40ss@nats.peep.svc:4223');
    assert.deepEqual(a.options, { servers: ['nats.peep.svc:4223'], user: 'u', pass: 'p@ss' });
    assert.equal(a.display, 'nats://nats.peep.svc:4223');
    const b = parseNatsUrl('tls://s3cret@nats');
    assert.deepEqual(b.options, { servers: ['nats:4222'], tls: {}, token: 's3cret' });
    assert.equal(b.display, 'tls://nats:4222');
  });
});
