/**
 * `peep ingest-keys`, `peep metrics`, `peep logs` (and `--follow`) as real processes against a real
 * API server with telemetry ingested through its ingest routes; and the nginx agent's crash path in
 * process against the same server: a batch that was committed but whose acknowledgement never
 * reached the disk is sent again with the same Idempotency-Key and counted once.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  call,
  createOwner,
  createProjectWithKey,
  ingest,
  type SignedIn,
  startTestServer,
  type TestServer,
} from '@peep/api/testing';
import { runNginxAgent } from './agent/nginx.js';
import { createStateStore } from './agent/state.js';
import { parseSse } from './commands/logs.js';
import { peep, startPeep, tempHome } from './testkit.js';

describe('SSE parser', () => {
  async function* chunks(...parts: string[]) {
    for (const p of parts) yield new TextEncoder().encode(p);
  }
  test('messages split across chunks, comments, multi-line data, CRLF, id kept per message', async () => {
    const got = [];
    for await (const m of parseSse(
      chunks(
        ': heartbeat\n\nid: 7\nevent: log\nda',
        'ta: {"a":1}\n\r\nid: 8\r\nevent: log\r\ndata: x\r\ndata: y\r\n\r\n',
      ),
    ))
      got.push(m);
    assert.deepEqual(got, [
      { id: '7', event: 'log', data: '{"a":1}' },
      { id: '8', event: 'log', data: 'x\ny' },
    ]);
  });
});

describe('peep ingest-keys, metrics and logs against a real server', { timeout: 120_000 }, () => {
  let s: TestServer;
  let owner: SignedIn;
  let projectId = '';
  let key = '';
  const h = tempHome();
  let env: Record<string, string> = {};
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'peep-agent-state-'));

  before(async () => {
    s = await startTestServer();
    owner = await createOwner(s, { email: 'olive@example.com' });
    const p = await createProjectWithKey(s, owner, { name: 'Shop', environment: 'prod' });
    projectId = p.projectId;
    key = p.key;
    const t = await call(s, owner, 'POST', '/api/v1/tokens', { name: 'cli', scopes: ['read', 'write'] });
    assert.equal(t.status, 201);
    env = { ...h.env, PEEP_TOKEN: t.body.secret, PEEP_SERVER: s.url };
  });
  after(async () => {
    await s?.close();
    h.cleanup();
    fs.rmSync(stateDir, { recursive: true, force: true });
  });

  test('ingest-keys create prints the key once; ls shows it with its environment; revoke makes ingest 401', async () => {
    const c = await peep(['ingest-keys', 'create', 'edge', '--env', 'staging', '--json'], env);
    assert.equal(c.code, 0, c.stderr);
    const created = JSON.parse(c.stdout);
    assert.match(created.secret, /^peep_ik_/);
    // One project: --project may be left out.
    const ls = await peep(['ingest-keys', 'ls'], env);
    assert.equal(ls.code, 0, ls.stderr);
    assert.match(ls.stdout, /edge\s+staging\s+\S+\s+.*active/);
    assert.equal((await ingest(s, created.secret, 'events', [])).status === 401, false);
    const rv = await peep(['ingest-keys', 'revoke', 'edge', '--project', 'shop'], env);
    assert.equal(rv.code, 0, rv.stderr);
    const refused = await ingest(s, created.secret, 'events', [
      { service: 'api', route: '/', method: 'GET', status: 200, durationMs: 1 },
    ]);
    assert.equal(refused.status, 401);
    assert.equal(refused.body.error.code, 'ingest_key_revoked');
    const bad = await peep(['ingest-keys', 'create', 'x', '--env', 'nope'], env);
    assert.equal(bad.code, 4);
    assert.match(bad.stderr, /no environment "nope"/);
  });

  test('metrics: per-route counts, percentiles and error rate; --sort p95 puts the slow route first', async () => {
    const now = Date.now();
    const items = [];
    for (let i = 1; i <= 100; i++)
      items.push({
        time: now - 1000,
        service: 'api',
        route: '/fast',
        method: 'GET',
        status: 200,
        durationMs: i,
      });
    for (let i = 0; i < 10; i++)
      items.push({
        time: now - 1000,
        service: 'api',
        route: '/slow',
        method: 'POST',
        status: i < 5 ? 500 : 201,
        durationMs: 1000,
      });
    const r = await ingest(s, key, 'events', items);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.accepted, 110);

    const m = await peep(['metrics', '--project', 'shop', '--env', 'prod', '--json'], env);
    assert.equal(m.code, 0, m.stderr);
    const body = JSON.parse(m.stdout);
    assert.equal(body.summary.count, 110);
    const fast = body.routes.find((x: { route: string }) => x.route === '/fast');
    assert.equal(fast.count, 100);
    assert.ok(Math.abs(fast.p50 - 50) <= 1, `p50 ${fast.p50}`);
    assert.ok(Math.abs(fast.p99 - 99) <= 1.5, `p99 ${fast.p99}`);
    assert.equal(body.routes[0].route, '/fast', 'traffic order by default');

    const sorted = await peep(['metrics', '--sort', 'p95', '--since', '15m'], env);
    assert.equal(sorted.code, 0, sorted.stderr);
    const lines = sorted.stdout.trim().split('\n');
    assert.match(lines[0] ?? '', /110 requests/);
    assert.match(
      lines[2] ?? '',
      /^SERVICE\s+METHOD\s+ROUTE\s+REQUESTS\s+RPS\s+P50 MS\s+P95 MS\s+P99 MS\s+ERRORS$/,
    );
    assert.match(lines[3] ?? '', /^api\s+POST\s+\/slow\s+10\s+\S+\s+1000\s+1000\s+1000\s+50\.0%$/);
    const usage = await peep(['metrics', '--since', 'yesterday'], env);
    assert.equal(usage.code, 2);
  });

  test('logs: newest last, NDJSON with --json, filters by level, text and request id', async () => {
    const now = Date.now();
    const r = await ingest(s, key, 'logs', [
      { time: now - 3000, service: 'api', level: 'info', message: 'started', requestId: 'r-1' },
      { time: now - 2000, service: 'api', level: 'error', message: 'Payment FAILED', requestId: 'r-2' },
      { time: now - 1000, service: 'worker', level: 'warn', message: 'slow job', requestId: 'r-2' },
    ]);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const all = await peep(['logs', '--json'], env);
    assert.equal(all.code, 0, all.stderr);
    const entries = all.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      entries.map((e) => e.message),
      ['started', 'Payment FAILED', 'slow job'],
    );
    const human = await peep(['logs', '--level', 'warn'], env);
    assert.equal(human.code, 0, human.stderr);
    const lines = human.stdout.trim().split('\n');
    assert.equal(lines.length, 2);
    assert.match(
      lines[0] ?? '',
      /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} ERROR api {2}Payment FAILED {2}req=r-2$/,
    );
    assert.match(lines[1] ?? '', / WARN {2}worker {2}slow job {2}req=r-2$/);
    const grep = await peep(['logs', '--grep', 'payment', '--json'], env);
    assert.deepEqual(
      grep.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).requestId),
      ['r-2'],
    );
    const byReq = await peep(['logs', '--request-id', 'r-1', '--json'], env);
    assert.equal(byReq.stdout.trim().split('\n').length, 1);
  });

  test('logs --follow prints new logs live, resumes after the connection drops without gaps or repeats, Ctrl-C exits 0', async () => {
    const f = startPeep(['logs', '--follow', '--service', 'live', '--json'], env);
    await sleep(800); // connected to the stream (no earlier "live" logs to wait for)
    // The test's own keep-alive socket dies with the dropped connections below: one retry.
    const send = async (message: string) => {
      const item = [{ service: 'live', level: 'info', message }];
      const r = await ingest(s, key, 'logs', item).catch(() => ingest(s, key, 'logs', item));
      assert.equal(r.status, 200, JSON.stringify(r.body));
    };
    await send('live-1');
    await f.waitFor(/"live-1"/);
    // Drop every open connection: the CLI reconnects with Last-Event-ID.
    s.api.app.server.closeAllConnections();
    await send('live-2');
    await send('live-3');
    await f.waitFor(/"live-3"/, 20_000);
    await send('live-4');
    await f.waitFor(/"live-4"/);
    f.child.kill('SIGINT');
    assert.equal(await f.exit(), 0, f.stderr());
    const got = f
      .stdout()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).message);
    assert.deepEqual(got, ['live-1', 'live-2', 'live-3', 'live-4']);
  });

  test('agent: a batch committed before a crash (ack not saved) is resent with the same key and counted once', async () => {
    const log = path.join(stateDir, 'access.log');
    const line = (i: number) =>
      JSON.stringify({
        msec: (Date.now() / 1000).toFixed(3),
        request_id: `crash-${i}`,
        host: 'shop.example',
        method: 'GET',
        uri: `/orders/${i}`,
        status: '200',
        bytes_sent: '100',
        request_length: '50',
        request_time: '0.010',
      });
    fs.writeFileSync(log, `${[0, 1, 2, 3].map(line).join('\n')}\n`);
    const base = {
      file: log,
      server: s.url,
      key,
      stateDir,
      batch: 100,
      intervalMs: 20,
      fromStart: true,
      note: () => {},
    };
    const countCrash = async () => {
      const r = await call(s, owner, 'GET', `/api/v1/projects/${projectId}/telemetry/events?limit=1000`);
      return (r.body.events as { requestId: string | null }[]).filter((e) =>
        e.requestId?.startsWith('crash-'),
      ).length;
    };
    // First run: sends the four lines, then stops.
    const stop1 = new AbortController();
    const run1 = runNginxAgent({ ...base, stop: stop1.signal });
    for (let i = 0; i < 100 && (await countCrash()) < 4; i++) await sleep(50);
    stop1.abort();
    const s1 = await run1;
    assert.equal(s1.events, 4);
    // Put the state back to "sent, not acknowledged": what a SIGKILL between commit and save leaves.
    const store = createStateStore(stateDir, log);
    const st = store.load();
    assert.ok(st);
    assert.equal(st.pending, null);
    const { dev, ino } = st.position;
    store.save({ dev, ino, offset: 0 }, { dev, ino, start: 0, end: st.position.offset });
    fs.appendFileSync(log, `${line(4)}\n`);
    const stop2 = new AbortController();
    const run2 = runNginxAgent({ ...base, stop: stop2.signal });
    for (let i = 0; i < 100 && (await countCrash()) < 5; i++) await sleep(50);
    stop2.abort();
    const s2 = await run2;
    assert.equal(s2.duplicates, 1, 'the resent batch was recognised by its Idempotency-Key');
    assert.equal(await countCrash(), 5, 'four from the first run, one new; none twice');
    assert.equal(store.load()?.pending, null);
  });
});
