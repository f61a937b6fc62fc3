/**
 * The shipper against a real local HTTP endpoint that records what arrives and answers as told:
 * batching by size and interval, headers, gzip, idempotent retries with Retry-After, what is dropped
 * and counted when peep refuses or cannot be reached, bounded memory, and shutdown.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, describe, test } from 'node:test';
import v8 from 'node:v8';
import vm from 'node:vm';
import { createPeep } from './index.js';
import { closedPort, closeServer, listen, startRecorder, until } from './testkit.js';
import { backoffMs, parseRetryAfter } from './transport.js';

const KEY = 'peep_ik_testkey0123456789';
const base = { ingestKey: KEY, service: 'shop', processHooks: false, env: {} };

describe('shipping to the ingest endpoint', () => {
  const closers: (() => Promise<unknown>)[] = [];
  after(async () => {
    for (const c of closers.reverse()) await c();
  });

  test('a full batch is sent at once, a partial one on the interval, with the key and one Idempotency-Key per batch', async () => {
    const rec = await startRecorder();
    closers.push(rec.close);
    const peep = createPeep({ ...base, endpoint: rec.url, batchSize: 10, flushIntervalMs: 300 });
    closers.push(() => peep.shutdown());
    for (let i = 0; i < 25; i++) peep.logger.info(`line ${i}`, { i });
    // two full batches go out without waiting for the interval
    await until('two full batches', () => rec.received.length >= 2, 250);
    assert.equal(rec.received[0]?.items.length, 10);
    assert.equal(rec.received[1]?.items.length, 10);
    await until('the partial batch', () => rec.received.length >= 3, 2_000);
    assert.equal(rec.received[2]?.items.length, 5);
    for (const r of rec.received) {
      assert.equal(r.path, '/api/v1/ingest/logs');
      assert.equal(r.headers.authorization, `Bearer ${KEY}`);
      assert.equal(r.headers['content-type'], 'application/json');
      assert.match(String(r.headers['user-agent']), /^peep-sdk\/\d/);
    }
    const keys = new Set(rec.received.map((r) => r.headers['idempotency-key']));
    assert.equal(keys.size, 3);
    assert.deepEqual(
      rec.items('logs').map((l) => l.message),
      Array.from({ length: 25 }, (_, i) => `line ${i}`),
    );
    const first = rec.items('logs')[0];
    assert.equal(first?.service, 'shop');
    assert.equal(first?.level, 'info');
    assert.deepEqual(first?.attributes, { i: 0 });
    assert.equal(typeof first?.time, 'number');
    await until('every line acknowledged', () => peep.stats().logs.sent === 25);
  });

  test('bodies over the threshold are gzipped and arrive whole', async () => {
    const rec = await startRecorder();
    closers.push(rec.close);
    const peep = createPeep({ ...base, endpoint: rec.url, gzipThresholdBytes: 1024 });
    for (let i = 0; i < 200; i++) peep.logger.warn('a fairly repetitive log line for compression', { i });
    assert.equal(await peep.flush(), true);
    const r = rec.received[0];
    assert.equal(r?.headers['content-encoding'], 'gzip');
    assert.equal(r?.items.length, 200);
    const plain = Buffer.byteLength(JSON.stringify(r?.items));
    assert.ok(r && r.bytes < plain / 4, `gzipped ${r?.bytes} bytes vs ${plain} plain`);
    await peep.shutdown();
  });

  test('a 503 with Retry-After is retried after that delay with the same Idempotency-Key, and counts once', async () => {
    const rec = await startRecorder({
      answer: (_r, n) =>
        n === 1
          ? { status: 503, headers: { 'retry-after': '1' }, body: { error: { code: 'ingest_overloaded' } } }
          : { status: 200 },
    });
    closers.push(rec.close);
    const errors: string[] = [];
    const peep = createPeep({
      ...base,
      endpoint: rec.url,
      retryBaseMs: 10,
      onError: (e) => errors.push(e.message),
    });
    peep.logger.error('boom');
    assert.equal(await peep.flush(5_000), true);
    assert.equal(rec.received.length, 2);
    const [a, b] = rec.received;
    assert.equal(a?.headers['idempotency-key'], b?.headers['idempotency-key']);
    const waited = (b?.at ?? 0) - (a?.at ?? 0);
    assert.ok(waited >= 950, `retried after ${waited} ms, Retry-After said 1 s`);
    const s = peep.stats();
    assert.equal(s.retries, 1);
    assert.equal(s.logs.sent, 1);
    assert.equal(s.logs.dropped, 0);
    assert.deepEqual(errors, []);
    await peep.shutdown();
  });

  test('429 and network errors are retried with backoff; the batch is dropped and counted after maxAttempts', async () => {
    const rec = await startRecorder({ answer: () => ({ status: 429, headers: { 'retry-after': '0' } }) });
    closers.push(rec.close);
    const errors: Error[] = [];
    const peep = createPeep({ ...base, endpoint: rec.url, maxAttempts: 3, onError: (e) => errors.push(e) });
    peep.logger.info('x');
    peep.logger.info('y');
    await peep.flush();
    assert.equal(rec.received.length, 3);
    const s = peep.stats();
    assert.equal(s.retries, 2);
    assert.equal(s.logs.dropped, 2);
    assert.equal(s.batchesFailed, 1);
    assert.match(errors[0]?.message ?? '', /dropped 2 logs: 429 .*after 3 attempts/);

    const port = await closedPort();
    const down = createPeep({
      ...base,
      endpoint: `http://127.0.0.1:${port}`,
      maxAttempts: 2,
      retryBaseMs: 5,
    });
    down.logger.info('nobody listens');
    await down.flush();
    assert.equal(down.stats().logs.dropped, 1);
    assert.match(down.stats().lastError ?? '', /ECONNREFUSED/);
    await peep.shutdown();
    await down.shutdown();
  });

  test('a refused key drops the batch without retrying; a 400 counts the items as rejected; 2xx partial rejections are counted', async () => {
    const rec = await startRecorder({
      answer: (r) => {
        const what = r.items[0]?.message;
        if (what === 'bad-key')
          return { status: 401, body: { error: { code: 'ingest_key_invalid', message: 'no' } } };
        if (what === 'invalid')
          return { status: 400, body: { error: { code: 'validation_failed', message: 'all bad' } } };
        return {
          status: 200,
          body: {
            accepted: 1,
            rejected: [{ index: 1, code: 'too_long', message: 'too long' }],
            rejectedCount: 1,
          },
        };
      },
    });
    closers.push(rec.close);
    const errors: string[] = [];
    const peep = createPeep({
      ...base,
      endpoint: rec.url,
      batchSize: 2,
      onError: (e) => errors.push(e.message),
    });
    peep.logger.info('bad-key');
    peep.logger.info('bad-key');
    await peep.flush();
    peep.logger.info('invalid');
    peep.logger.info('invalid');
    await peep.flush();
    peep.logger.info('fine');
    peep.logger.info('not fine');
    await peep.flush();
    assert.equal(rec.received.length, 3, 'no retries');
    const s = peep.stats();
    assert.equal(s.logs.dropped, 2);
    assert.equal(s.logs.rejected, 3);
    assert.equal(s.logs.sent, 1);
    assert.equal(s.retries, 0);
    assert.match(errors[0] ?? '', /401 ingest_key_invalid/);
    assert.match(errors[1] ?? '', /rejected 2 logs: 400 validation_failed/);
    assert.match(errors[2] ?? '', /rejected 1 of 2 logs \(item 1: too_long/);
    await peep.shutdown();
  });

  test('413 splits the batch until it fits', async () => {
    const rec = await startRecorder({
      answer: (r) => (r.items.length > 3 ? { status: 413 } : { status: 200 }),
    });
    closers.push(rec.close);
    const peep = createPeep({ ...base, endpoint: rec.url });
    for (let i = 0; i < 10; i++) peep.logger.info(`m${i}`);
    await peep.flush();
    const ok = rec.received.filter((r) => r.items.length <= 3);
    assert.deepEqual(
      ok.flatMap((r) => r.items.map((i) => i.message)),
      Array.from({ length: 10 }, (_, i) => `m${i}`),
    );
    assert.equal(peep.stats().logs.sent, 10);
    await peep.shutdown();
  });

  test('while peep is unreachable the queue stays bounded: new items are dropped and counted, memory does not grow', async () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const port = await closedPort();
    const peep = createPeep({
      ...base,
      endpoint: `http://127.0.0.1:${port}`,
      maxQueue: 1_000,
      batchSize: 100,
      retryBaseMs: 60_000,
      flushIntervalMs: 50,
    });
    const fill = (n: number) => {
      for (let i = 0; i < n; i++)
        peep.logger.info('request handled', { path: `/items/${i}`, bytes: i, ok: true });
    };
    fill(5_000); // reach the steady state: queue full, one batch in flight
    await new Promise((r) => setTimeout(r, 100));
    gc();
    const before = process.memoryUsage().heapUsed;
    fill(300_000);
    gc();
    const grew = process.memoryUsage().heapUsed - before;
    const s = peep.stats();
    assert.ok(s.logs.queued <= 1_000, `queued ${s.logs.queued}`);
    assert.equal(s.logs.queued + s.logs.inFlight + s.logs.dropped, 305_000);
    assert.ok(s.logs.dropped >= 303_900, `dropped ${s.logs.dropped}`);
    // 300,000 kept records would be well over 100 MB
    assert.ok(grew < 8 * 1024 * 1024, `heap grew ${(grew / 1048576).toFixed(1)} MB`);
    await peep.shutdown(100);
    assert.equal(peep.stats().logs.queued, 0);
  });

  test('shutdown sends what is queued, then refuses and counts new items', async () => {
    const rec = await startRecorder();
    closers.push(rec.close);
    const peep = createPeep({ ...base, endpoint: rec.url, flushIntervalMs: 60_000 });
    peep.logger.info('last words');
    await peep.shutdown();
    assert.deepEqual(
      rec.items('logs').map((l) => l.message),
      ['last words'],
    );
    peep.logger.info('too late');
    assert.equal(peep.stats().logs.dropped, 1);
    await peep.flush();
    assert.equal(rec.received.length, 1);
  });

  test('shutdown gives up on a batch whose retry would end after its deadline', async () => {
    const rec = await startRecorder({ answer: () => ({ status: 503, headers: { 'retry-after': '30' } }) });
    closers.push(rec.close);
    const peep = createPeep({ ...base, endpoint: rec.url });
    peep.logger.info('doomed');
    const t0 = Date.now();
    await peep.shutdown(1_000);
    assert.ok(Date.now() - t0 < 2_000, `shutdown took ${Date.now() - t0} ms`);
    assert.equal(peep.stats().logs.dropped, 1);
  });

  test('nothing is queued or sent without an ingest key; the app still gets request ids', async () => {
    const peep = createPeep({ service: 'shop', env: {}, processHooks: false });
    const server = http.createServer(
      peep.http((_req, res) => {
        peep.logger.info('hello');
        res.end(peep.currentRequest()?.requestId);
      }),
    );
    const url = await listen(server);
    closers.push(() => closeServer(server));
    const res = await fetch(url, { headers: { 'x-request-id': 'given-id' } });
    assert.equal(await res.text(), 'given-id');
    assert.equal(res.headers.get('x-request-id'), 'given-id');
    const s = peep.stats();
    assert.equal(s.enabled, false);
    assert.equal(s.logs.queued + s.events.queued + s.logs.dropped + s.events.dropped, 0);
  });

  test('malformed options throw at creation, naming the option', () => {
    assert.throws(() => createPeep({ ...base, endpoint: 'ftp://x' }), /endpoint must be http/);
    assert.throws(
      () => createPeep({ ...base, ingestKey: 'peep_pat_nope' }),
      /ingestKey must be an ingest key/,
    );
    assert.throws(() => createPeep({ ...base, service: 'has space' }), /service must be/);
    assert.throws(() => createPeep({ ...base, batchSize: 0 }), /batchSize must be an integer from 1/);
  });

  test('options come from the environment when not given in code', async () => {
    const rec = await startRecorder();
    closers.push(rec.close);
    const peep = createPeep({
      processHooks: false,
      env: { PEEP_ENDPOINT: `${rec.url}/`, PEEP_INGEST_KEY: KEY, PEEP_SERVICE: 'from-env' },
    });
    peep.logger.info('hi');
    await peep.flush();
    assert.equal(rec.items('logs')[0]?.service, 'from-env');
    assert.equal(rec.received[0]?.headers.authorization, `Bearer ${KEY}`);
    await peep.shutdown();
  });
});

describe('retry timing', () => {
  test('Retry-After is read as seconds or an HTTP date', () => {
    assert.equal(parseRetryAfter('3'), 3000);
    assert.equal(parseRetryAfter(new Date(10_000).toUTCString(), 4_000), 6_000);
    assert.equal(parseRetryAfter('soon'), undefined);
    assert.equal(parseRetryAfter(null), undefined);
  });
  test('backoff doubles per attempt up to the cap, with full jitter', () => {
    assert.equal(
      backoffMs(1, 500, 30_000, () => 0.999),
      499,
    );
    assert.equal(
      backoffMs(4, 500, 30_000, () => 0.999),
      3996,
    );
    assert.equal(
      backoffMs(20, 500, 30_000, () => 0.999),
      29_970,
    );
    assert.equal(
      backoffMs(3, 500, 30_000, () => 0),
      0,
    );
  });
});
