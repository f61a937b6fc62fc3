/** Cross-cutting guarantees: documented error codes, audited writes, redacted logs, Prometheus output. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createLogger, createMemoryBus, ERROR_CODES, loadConfig } from '@peep/pkg';
import { buildApi } from '../app.js';
import { call, createOwner, openTestDb, startTestServer, type TestServer } from '../testing.js';
import { systemClock } from './types.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

test('every error code is documented in docs/errors.md', () => {
  const doc = fs.readFileSync(path.join(root, 'docs/errors.md'), 'utf8');
  const missing = Object.keys(ERROR_CODES).filter((c) => !doc.includes(`\`${c}\``));
  assert.deepEqual(missing, [], 'run `node scripts/errors-doc.mjs` to regenerate docs/errors.md');
});

describe('routes', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer();
  });
  after(() => s.close());

  test('every mutating API route records an audit action and every /api/v1 route but a few requires auth', () => {
    const routes = s.api.routes;
    assert.ok(routes.length > 20);
    const publicOk = new Set([
      '/api/v1/setup',
      '/api/v1/auth/login',
      '/api/v1/oauth/device_authorization',
      '/api/v1/oauth/token',
    ]);
    for (const r of routes.filter((r) => r.url.startsWith('/api/v1/'))) {
      // Telemetry ingest is data, not a change to the project: counted in /metrics, not audited.
      if (
        r.method !== 'GET' &&
        r.method !== 'HEAD' &&
        !r.url.startsWith('/api/v1/oauth/') &&
        r.auth !== 'ingest'
      )
        assert.ok(r.audit, `${r.method} ${r.url} has no audit action`);
      if (!publicOk.has(r.url)) assert.ok(r.auth && r.auth !== 'public', `${r.method} ${r.url} is public`);
    }
  });

  test('/metrics is Prometheus text with request counts and latency histograms per route and status', async () => {
    await fetch(`${s.url}/api/v1/setup`);
    await fetch(`${s.url}/api/v1/projects`);
    const res = await fetch(`${s.url}/metrics`);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    assert.match(
      text,
      /peep_http_requests_total\{method="GET",route="\/api\/v1\/setup",status_code="200"\} 1/,
    );
    assert.match(
      text,
      /peep_http_requests_total\{method="GET",route="\/api\/v1\/projects",status_code="401"\} 1/,
    );
    assert.match(
      text,
      /peep_http_request_duration_seconds_bucket\{le="0.005",method="GET",route="\/api\/v1\/setup",status_code="200"\}/,
    );
    assert.match(text, /peep_process_cpu_seconds_total/);
    await fetch(`${s.url}/no/such/path/${Math.random()}`);
    assert.match(await (await fetch(`${s.url}/metrics`)).text(), /route="unmatched"/);

    const promtool = process.env.PEEP_PROMTOOL ?? '/usr/bin/promtool';
    if (!fs.existsSync(promtool)) {
      if (process.env.CI === 'true') assert.fail(`promtool not found at ${promtool} (CI=true)`);
      console.log(
        `# promtool not found at ${promtool}: lint check skipped (install Debian's prometheus package)`,
      );
      return;
    }
    const r = spawnSync(promtool, ['check', 'metrics'], { input: text, encoding: 'utf8' });
    assert.equal(r.status, 0, `promtool check metrics:\n${r.stdout}${r.stderr}`);
  });

  test('PEEP_METRICS_TOKEN protects /metrics', async () => {
    const p = await startTestServer({ config: { metricsToken: 'scrape-secret' } });
    try {
      assert.equal((await fetch(`${p.url}/metrics`)).status, 401);
      assert.equal(
        (await fetch(`${p.url}/metrics`, { headers: { authorization: 'Bearer scrape-secret' } })).status,
        200,
      );
    } finally {
      await p.close();
    }
  });
});

test('logs are JSON with the request id on every line, and secrets are redacted', async () => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      cb();
    },
  });
  const t = await openTestDb('pglite');
  const config = loadConfig({}, { port: 0, logLevel: 'info', dashboard: false, builder: false });
  const log = createLogger({ level: 'info' }, sink);
  const api = await buildApi({ config, db: t.db, bus: createMemoryBus(), log, clock: systemClock });
  try {
    await api.app.listen({ port: 0, host: '127.0.0.1' });
    const addr = api.app.server.address();
    const url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
    const server = { url, api, db: t.db, config, engine: 'pglite' as const, close: async () => {} };
    const owner = await createOwner(server);
    await fetch(`${url}/api/v1/me`, {
      headers: { authorization: 'Bearer peep_pat_supersecretvalue', 'x-request-id': 'log-test-1' },
    });
    await call(server, null, 'POST', '/api/v1/auth/login', { email: owner.email, password: owner.password });
    const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    const forReq = parsed.filter((l) => l.requestId === 'log-test-1');
    assert.ok(forReq.length >= 2, 'incoming and completed lines carry the request id');
    const all = lines.join('\n');
    assert.equal(all.includes('peep_pat_supersecretvalue'), false, 'bearer token not logged');
    assert.equal(all.includes(owner.password), false, 'password not logged');
    assert.equal(all.includes(owner.cookie.split('=')[1] ?? 'x'), false, 'session cookie not logged');
    for (const l of parsed.filter((l) => l.req || l.res))
      assert.ok(l.requestId, `line without request id: ${JSON.stringify(l)}`);
  } finally {
    await api.app.close();
    await t.drop();
  }
});
