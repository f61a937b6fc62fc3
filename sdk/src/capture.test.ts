/**
 * Recording details that need no peep: route names for URLs, traceparent parsing, attribute limits,
 * the SDK's own failures staying out of the app, aborted requests, and flushing when the process
 * ends (a real child process, exiting on its own or by SIGTERM, with and without its own handler).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createPeep, normalizePath, parseTraceparent } from './index.js';
import { cleanAttributes } from './logger.js';
import { closeServer, listen, startRecorder, until } from './testkit.js';

const KEY = 'peep_ik_testkey0123456789';
const INDEX = path.join(path.dirname(fileURLToPath(import.meta.url)), 'index.js');

describe('request recording', () => {
  const closers: (() => Promise<unknown>)[] = [];
  after(async () => {
    for (const c of closers.reverse()) await c();
  });

  test('URLs without a router become templates: numbers, UUIDs and long hex ids are :id, the query goes', () => {
    assert.equal(normalizePath('/users/42/orders/7?x=1'), '/users/:id/orders/:id');
    assert.equal(normalizePath('/a/3f2504e0-4f89-11d3-9a0c-0305e82c3301/b'), '/a/:id/b');
    assert.equal(normalizePath('/blob/5d41402abc4b2a76b9719d911017c592'), '/blob/:id');
    assert.equal(normalizePath('/docs/getting-started/'), '/docs/getting-started');
    assert.equal(normalizePath('/v2/deadbeefcafe'), '/v2/deadbeefcafe', 'short or digit-free words stay');
    assert.equal(normalizePath('http://example.com/users/9'), '/users/:id');
    assert.equal(normalizePath(''), '/');
    assert.equal(normalizePath(`/${'x'.repeat(400)}`).length, 300);
  });

  test('traceparent: the trace and parent span ids of a valid header, nothing for a malformed or zero one', () => {
    assert.deepEqual(parseTraceparent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'), {
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      parentSpanId: '00f067aa0ba902b7',
    });
    assert.equal(parseTraceparent('00-00000000000000000000000000000000-00f067aa0ba902b7-01'), undefined);
    assert.equal(parseTraceparent('ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'), undefined);
    assert.equal(parseTraceparent('garbage'), undefined);
  });

  test('log attributes fit the contract: scalars kept, the rest flattened, at most 64 keys and 8 KB', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const a = cleanAttributes({
      s: 'x',
      n: 1.5,
      b: false,
      nil: null,
      undef: undefined,
      big: 10n,
      err: new TypeError('bad'),
      obj: { a: [1, 2] },
      cyclic,
      inf: Number.POSITIVE_INFINITY,
    });
    assert.deepEqual(a, {
      s: 'x',
      n: 1.5,
      b: false,
      big: '10',
      err: 'TypeError: bad',
      obj: '{"a":[1,2]}',
      cyclic: '[unserializable]',
      inf: 'Infinity',
    });
    const many = cleanAttributes(Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`k${i}`, i])));
    assert.ok(many && Object.keys(many).length <= 64 && many._truncated === true);
    const wide = cleanAttributes(
      Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`k${i}`, 'v'.repeat(2000)])),
    );
    assert.ok(wide && JSON.stringify(wide).length <= 8192 && wide._truncated === true);
  });

  test("the SDK's own failures never reach the app: a throwing route namer, a throwing onError", async () => {
    const rec = await startRecorder();
    closers.push(rec.close);
    const peep = createPeep({
      endpoint: rec.url,
      ingestKey: KEY,
      service: 'robust',
      processHooks: false,
      env: {},
      onError: () => {
        throw new Error('onError itself fails');
      },
    });
    const server = http.createServer(
      peep.http(
        (_req, res) => {
          peep.logger.info('ok', { cyclic: globalThis });
          res.end('fine');
        },
        {
          route: () => {
            throw new Error('router lookup failed');
          },
        },
      ),
    );
    const url = await listen(server);
    closers.push(() => closeServer(server));
    const r = await fetch(`${url}/things/12`);
    assert.equal(await r.text(), 'fine');
    await peep.flush();
    assert.equal(rec.items('events')[0]?.route, '/things/:id', 'falls back to the normalized path');
    assert.equal(rec.items('logs').length, 1);
    await peep.shutdown();
  });

  test('a request the client abandons is recorded, marked aborted', async () => {
    const rec = await startRecorder();
    closers.push(rec.close);
    const peep = createPeep({
      endpoint: rec.url,
      ingestKey: KEY,
      service: 'aborts',
      processHooks: false,
      env: {},
    });
    const server = http.createServer(
      peep.http((_req, res) => {
        res.writeHead(200);
        res.write('partial');
        // never ends: the client gives up
      }),
    );
    const url = await listen(server);
    closers.push(() => closeServer(server));
    const ac = new AbortController();
    const res = await fetch(`${url}/slow`, { signal: ac.signal, headers: { 'x-request-id': 'gone' } });
    assert.equal(res.status, 200);
    ac.abort();
    await until('the aborted request', async () => {
      await peep.flush();
      return rec.items('events').length;
    });
    const e = rec.items('events')[0];
    assert.equal(e?.requestId, 'gone');
    assert.deepEqual(e?.attributes, { aborted: true });
    await peep.shutdown();
  });

  test('requestContext: false keeps request ids on the wire but no context for the logger', async () => {
    const rec = await startRecorder();
    closers.push(rec.close);
    const seen: (string | undefined)[] = [];
    for (const requestContext of [true, false]) {
      const peep = createPeep({
        endpoint: rec.url,
        ingestKey: KEY,
        processHooks: false,
        requestContext,
        env: {},
      });
      const server = http.createServer(
        peep.http((_req, res) => {
          seen.push(peep.currentRequest()?.requestId);
          res.end();
        }),
      );
      const url = await listen(server);
      closers.push(() => closeServer(server));
      const r = await fetch(url, { headers: { 'x-request-id': `ctx-${requestContext}` } });
      assert.equal(r.headers.get('x-request-id'), `ctx-${requestContext}`);
      await peep.shutdown();
    }
    assert.deepEqual(seen, ['ctx-true', undefined]);
  });

  test('many distinct unrouted URLs are capped: past 1,000 names the rest are "(other)"', async () => {
    const rec = await startRecorder();
    closers.push(rec.close);
    const peep = createPeep({
      endpoint: rec.url,
      ingestKey: KEY,
      service: 'scan',
      processHooks: false,
      env: {},
    });
    const server = http.createServer(peep.http((_req, res) => res.end()));
    const url = await listen(server);
    closers.push(() => closeServer(server));
    for (let i = 0; i < 1_010; i++) await (await fetch(`${url}/probe-${i.toString(36)}x`)).arrayBuffer();
    await peep.flush();
    // every request is counted under one of the names, in the aggregates
    const routes = new Set(rec.items('aggregates').map((e) => e.route));
    assert.equal(routes.size, 1_001);
    assert.ok(routes.has('(other)'));
    assert.equal(
      rec.items('aggregates').reduce((n, a) => n + (a.count as number), 0),
      1_010,
    );
    await peep.shutdown();
  });
});

describe('flushing when the process ends', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'peep-sdk-exit-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  function run(name: string, body: string, endpoint: string) {
    const file = path.join(dir, `${name}.mjs`);
    fs.writeFileSync(
      file,
      `import { createPeep } from ${JSON.stringify(INDEX)};\n` +
        `import http from 'node:http';\n` +
        `const peep = createPeep({ endpoint: ${JSON.stringify(endpoint)}, ingestKey: '${KEY}', service: '${name}', flushIntervalMs: 600000 });\n` +
        body,
    );
    const child = spawn(process.execPath, [file], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      out += d;
    });
    const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.on('close', (code, signal) => resolve({ code, signal })),
    );
    return { child, done, out: () => out };
  }

  test('an app that simply finishes sends its queued logs before exiting (beforeExit)', async () => {
    const rec = await startRecorder();
    try {
      const p = run('finishes', "peep.logger.info('bye');\n", rec.url);
      const r = await p.done;
      assert.equal(r.code, 0, p.out());
      assert.deepEqual(
        rec.items('logs').map((l) => l.message),
        ['bye'],
      );
    } finally {
      await rec.close();
    }
  });

  test('SIGTERM with no handler of the app: logs are flushed, then the process ends by SIGTERM', async () => {
    const rec = await startRecorder();
    try {
      const p = run(
        'sigterm',
        "http.createServer().listen(0, () => { peep.logger.warn('about to be stopped'); console.log('ready'); });\n",
        rec.url,
      );
      await until('ready', () => p.out().includes('ready'));
      p.child.kill('SIGTERM');
      const r = await p.done;
      assert.equal(r.signal, 'SIGTERM', p.out());
      assert.deepEqual(
        rec.items('logs').map((l) => l.message),
        ['about to be stopped'],
      );
    } finally {
      await rec.close();
    }
  });

  test("SIGTERM with the app's own handler: both run, and the app decides how it exits", async () => {
    const rec = await startRecorder();
    try {
      const p = run(
        'own-handler',
        "const s = http.createServer().listen(0, () => { peep.logger.info('working'); console.log('ready'); });\n" +
          "process.on('SIGTERM', () => { console.log('app handler ran'); s.close(); });\n",
        rec.url,
      );
      await until('ready', () => p.out().includes('ready'));
      p.child.kill('SIGTERM');
      const r = await p.done;
      assert.equal(r.code, 0, p.out());
      assert.equal(r.signal, null);
      assert.match(p.out(), /app handler ran/);
      assert.deepEqual(
        rec.items('logs').map((l) => l.message),
        ['working'],
      );
    } finally {
      await rec.close();
    }
  });
});
