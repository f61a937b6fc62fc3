#!/usr/bin/env node
// Ingest throughput and acknowledgement latency of `POST /api/v1/ingest/events`, against the baseline
// the issue names, in the same run:
//
//   baseline   a bare Fastify server that inserts each 500-event batch with `postgres` (porsager) and
//              one INSERT ... SELECT FROM unnest(...): no checks, no rollups, no idempotency.
//   peep       the real API (api/dist/testing.js: fresh migrated database, ingest key through the API):
//              item checks, raw rows, minute/hour/day rollups with sketches, acks after commit.
//
// Each server runs in its own child process. Two phases per server:
//   max        `--concurrency` requests in flight back to back for `--duration` s: sustained events/s.
//   half       open loop at half the measured peep rate (or `--rate`): ack latency p50/p99, counted
//              from the scheduled send time.
//
//   node bench/ingest.mjs                                  # PostgreSQL (PEEP_TEST_DATABASE_URL) and PGlite
//   node bench/ingest.mjs --engine postgres --duration 60
//   node bench/ingest.mjs --engine pglite --duration 30 --json
//
// Needs the TypeScript build (`npm run build:ts`).
import { spawn } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const self = fileURLToPath(import.meta.url);

const { values: opts } = parseArgs({
  options: {
    duration: { type: 'string', default: '60' },
    'half-duration': { type: 'string', default: '20' },
    batch: { type: 'string', default: '500' },
    concurrency: { type: 'string', default: '12' },
    engine: { type: 'string', multiple: true },
    rate: { type: 'string' },
    'no-baseline': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    profile: { type: 'string' }, // write a V8 CPU profile of each server into this folder
    serve: { type: 'string' }, // internal: baseline | peep-pglite | peep-postgres
  },
});

async function serve(kind) {
  if (kind === 'baseline') {
    const { default: Fastify } = await import('fastify');
    const { default: postgres } = await import('postgres');
    const url = process.env.PEEP_TEST_DATABASE_URL;
    const admin = postgres(url, { max: 1, onnotice: () => {} });
    const dbName = `peep_bench_${process.pid}`;
    await admin.unsafe(`CREATE DATABASE ${dbName}`);
    const u = new URL(url);
    u.pathname = `/${dbName}`;
    const sql = postgres(u.toString(), { max: 10, onnotice: () => {} });
    await sql.unsafe(`CREATE TABLE events (project_id uuid, environment_id uuid, time timestamptz, service text,
      route text, method text, status int2, duration_ms float8, bytes_in int8, bytes_out int8, request_id text,
      trace_id text, instance text, attributes jsonb);
      CREATE INDEX ON events (project_id, time)`);
    const app = Fastify({ bodyLimit: 64 * 1024 * 1024 });
    const project = '00000000-0000-4000-8000-000000000001';
    app.post('/api/v1/ingest/events', async (req) => {
      const items = req.body;
      const cols = Array.from({ length: 12 }, () => []);
      for (const e of items) {
        cols[0].push(new Date(e.time).toISOString());
        cols[1].push(e.service);
        cols[2].push(e.route);
        cols[3].push(e.method);
        cols[4].push(e.status);
        cols[5].push(e.durationMs);
        cols[6].push(e.bytesIn ?? null);
        cols[7].push(e.bytesOut ?? null);
        cols[8].push(e.requestId ?? null);
        cols[9].push(e.traceId ?? null);
        cols[10].push(e.instance ?? null);
        cols[11].push(e.attributes ? JSON.stringify(e.attributes) : null);
      }
      await sql`INSERT INTO events SELECT ${project}::uuid, ${project}::uuid, * FROM unnest(
        ${cols[0]}::timestamptz[], ${cols[1]}::text[], ${cols[2]}::text[], ${cols[3]}::text[], ${cols[4]}::int2[],
        ${cols[5]}::float8[], ${cols[6]}::int8[], ${cols[7]}::int8[], ${cols[8]}::text[], ${cols[9]}::text[],
        ${cols[10]}::text[], ${cols[11]}::jsonb[])`;
      return { accepted: items.length };
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    process.stdout.write(
      `${JSON.stringify({ url: `http://127.0.0.1:${app.server.address().port}`, key: 'none' })}\n`,
    );
    process.on('SIGTERM', async () => {
      await app.close();
      await sql.end();
      await admin.unsafe(`DROP DATABASE ${dbName}`);
      await admin.end();
      process.exit(0);
    });
    return;
  }
  const engine = kind === 'peep-postgres' ? 'postgres' : 'pglite';
  const { startTestServer, createOwner, createProjectWithKey } = await import(
    path.join(root, 'api/dist/testing.js')
  );
  const server = await startTestServer({
    engine,
    config: { logLevel: 'warn', ingestBodyLimit: 64 * 1024 * 1024 },
  });
  const owner = await createOwner(server);
  const p = await createProjectWithKey(server, owner, { name: 'bench' });
  process.stdout.write(`${JSON.stringify({ url: server.url, key: p.key })}\n`);
  process.on('SIGTERM', async () => {
    await server.close();
    process.exit(0);
  });
}

function startChild(kind) {
  const prof = opts.profile
    ? ['--cpu-prof', `--cpu-prof-dir=${opts.profile}`, `--cpu-prof-name=${kind}.cpuprofile`]
    : [];
  const child = spawn(process.execPath, [...prof, self, '--serve', kind], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: process.env,
  });
  return new Promise((resolve, reject) => {
    let buf = '';
    child.stdout.on('data', (d) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl >= 0) resolve({ child, ...JSON.parse(buf.slice(0, nl)) });
    });
    child.on('exit', (code) => reject(new Error(`${kind} server exited with ${code}`)));
  });
}

const SERVICES = ['checkout', 'catalog', 'accounts', 'search'];
const ROUTES = [
  '/',
  '/products/:id',
  '/cart',
  '/cart/items/:id',
  '/orders',
  '/orders/:id',
  '/search',
  '/login',
];
/** A handful of distinct bodies, each `batch` realistic events stamped now. */
function bodies(batch, n = 16) {
  const now = Date.now();
  return Array.from({ length: n }, (_, b) => {
    const items = [];
    for (let i = 0; i < batch; i++) {
      const r = Math.random();
      items.push({
        time: now - Math.floor(Math.random() * 1000),
        service: SERVICES[(b + i) % SERVICES.length],
        route: ROUTES[i % ROUTES.length],
        method: i % 5 === 0 ? 'POST' : 'GET',
        status: r < 0.01 ? 500 : r < 0.05 ? 404 : 200,
        durationMs: Math.round(Math.exp(2 + Math.random() * 3) * 100) / 100,
        bytesIn: 200 + (i % 50),
        bytesOut: 1000 + ((i * 37) % 5000),
        requestId: `req-${b}-${i}-${Math.random().toString(36).slice(2, 10)}`,
        instance: `pod-${i % 3}`,
      });
    }
    return Buffer.from(JSON.stringify(items));
  });
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
function post(url, key, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${url}/api/v1/ingest/events`,
      {
        method: 'POST',
        agent,
        headers: {
          authorization: `Bearer ${key}`,
          'content-type': 'application/json',
          'content-length': body.length,
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const pct = (sorted, p) =>
  sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] : null;

async function maxPhase(target, batch, seconds, concurrency) {
  const bs = bodies(batch);
  let ok = 0;
  let refused = 0;
  let failed = 0;
  let i = 0;
  const end = performance.now() + seconds * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const status = await post(target.url, target.key, bs[i++ % bs.length]).catch(() => 0);
        if (status === 200) ok++;
        else if (status === 503 || status === 429) refused++;
        else failed++;
      }
    }),
  );
  const secs = (performance.now() - started) / 1000;
  return {
    eventsPerSec: Math.round((ok * batch) / secs),
    requests: ok,
    refused,
    failed,
    seconds: Math.round(secs),
  };
}

async function ratePhase(target, batch, eventsPerSec, seconds) {
  const bs = bodies(batch);
  const interval = (1000 * batch) / eventsPerSec;
  const lat = [];
  let failed = 0;
  const start = performance.now();
  const n = Math.floor((seconds * 1000) / interval);
  const inflight = [];
  for (let k = 0; k < n; k++) {
    const at = start + k * interval;
    const wait = at - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    inflight.push(
      post(target.url, target.key, bs[k % bs.length]).then(
        (s) => {
          if (s === 200) lat.push(performance.now() - at);
          else failed++;
        },
        () => failed++,
      ),
    );
  }
  await Promise.all(inflight);
  lat.sort((a, b) => a - b);
  const r = (v) => (v === null ? null : Math.round(v * 10) / 10);
  return {
    eventsPerSec: Math.round(eventsPerSec),
    p50: r(pct(lat, 0.5)),
    p99: r(pct(lat, 0.99)),
    max: r(lat[lat.length - 1] ?? null),
    failed,
  };
}

async function main() {
  const engines = opts.engine ?? (process.env.PEEP_TEST_DATABASE_URL ? ['postgres', 'pglite'] : ['pglite']);
  const batch = Number(opts.batch);
  const duration = Number(opts.duration);
  const results = [];
  const runs = [];
  if (engines.includes('postgres') && !opts['no-baseline']) runs.push('baseline');
  for (const e of engines) runs.push(`peep-${e}`);
  for (const kind of runs) {
    const target = await startChild(kind);
    try {
      // Warm-up: connections, JIT, caches.
      await maxPhase(target, batch, 3, Number(opts.concurrency));
      const max = await maxPhase(target, batch, duration, Number(opts.concurrency));
      const rate = opts.rate ? Number(opts.rate) : max.eventsPerSec / 2;
      const half = await ratePhase(target, batch, rate, Number(opts['half-duration']));
      results.push({ server: kind, batch, max, half });
      if (!opts.json)
        console.log(
          `${kind.padEnd(14)} sustained ${max.eventsPerSec.toLocaleString('en')} events/s over ${max.seconds} s ` +
            `(${max.requests} batches, ${max.refused} refused 503, ${max.failed} failed) | ` +
            `at ${half.eventsPerSec.toLocaleString('en')} events/s: ack p50 ${half.p50} ms, p99 ${half.p99} ms, max ${half.max} ms, failed ${half.failed}`,
        );
    } finally {
      target.child.kill('SIGTERM');
      await new Promise((r) => target.child.once('exit', r));
    }
  }
  if (opts.json) console.log(JSON.stringify(results, null, 2));
  agent.destroy();
}

if (opts.serve) await serve(opts.serve);
else await main();
