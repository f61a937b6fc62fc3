#!/usr/bin/env node
// p50/p95/p99 of one service over 30 days holding `--events` (default 10 million) request events:
//
//   peep       GET /api/v1/projects/:id/telemetry/summary?from=30d&service=checkout on the real API:
//              merges the day, hour and minute rollup sketches covering the window.
//   baseline   SELECT percentile_disc(ARRAY[.5,.95,.99]) over the same raw rows in PostgreSQL (the
//              exact answer the issue compares against), in the same run.
//   exact      the true nearest-rank percentiles, from sorting every generated duration in memory;
//              peep's answers must be within 1% of them.
//
// The events go through the ingest pipeline's own write path (raw rows by COPY, rollups with
// sketches), not through HTTP: the time checks of the HTTP API refuse events older than the raw
// retention (7 days), and 30 days of data is the point here.
//
//   node bench/percentiles.mjs                         # PostgreSQL (PEEP_TEST_DATABASE_URL)
//   node bench/percentiles.mjs --events 2000000 --engine pglite
//   node bench/percentiles.mjs --no-raw               # rollups only (no baseline)
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values: opts } = parseArgs({
  options: {
    events: { type: 'string', default: '10000000' },
    engine: { type: 'string' },
    runs: { type: 'string', default: '30' },
    'no-raw': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
});

const engine = opts.engine ?? (process.env.PEEP_TEST_DATABASE_URL ? 'postgres' : 'pglite');
const total = Number(opts.events);
const { startTestServer, createOwner, createProjectWithKey, call } = await import(
  path.join(root, 'api/dist/testing.js')
);
const { prepare, apply } = await import(path.join(root, 'api/dist/telemetry/store.js'));

const server = await startTestServer({ engine, config: { logLevel: 'warn' } });
const owner = await createOwner(server);
const p = await createProjectWithKey(server, owner, { name: 'percentiles' });
const env = p.environments[0].id;
const db = server.db;

// Deterministic data, spread evenly over 30 days: 12 routes with their own latency scale, log-normal-ish with a 1% slow tail.
let seed = 12345;
const rand = () => {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return seed / 2147483648;
};
const ROUTES = Array.from({ length: 12 }, (_, i) => ({ route: `/api/v1/thing${i}/:id`, scale: 5 + i * 4 }));
const now = Date.now();
const span = 30 * 86_400_000 - 3_600_000;
const durations = new Float64Array(total);
const BATCH = 50_000;
const t0 = performance.now();
let n = 0;
let shard = 0;
while (n < total) {
  const rows = [];
  const m = Math.min(BATCH, total - n);
  for (let i = 0; i < m; i++) {
    const r = ROUTES[Math.floor(rand() * ROUTES.length)];
    const d = Math.round(r.scale * Math.exp(rand() * 2.5) * (rand() < 0.01 ? 10 : 1) * 1000) / 1000;
    durations[n + i] = d;
    rows.push({
      // In time order, as traffic arrives (with a little jitter).
      time: now - span + Math.floor(((n + i + rand()) / total) * span),
      service: 'checkout',
      route: r.route,
      method: 'GET',
      status: rand() < 0.005 ? 500 : 200,
      durationMs: d,
      bytesIn: null,
      bytesOut: 1200,
      requestId: null,
      traceId: null,
      instance: null,
      attributes: null,
    });
  }
  const owned = [{ projectId: p.projectId, environmentId: env, rows }];
  const prepared = await prepare(db, owned, [], []);
  if (opts['no-raw']) prepared.events = null;
  await db.transaction((tx) => apply(tx, prepared, shard++ % 4));
  n += m;
  if (!opts.json && n % 1_000_000 === 0)
    process.stderr.write(
      `  loaded ${(n / 1e6).toFixed(0)}M events (${Math.round(n / ((performance.now() - t0) / 1000))}/s)\n`,
    );
}
const loadSeconds = (performance.now() - t0) / 1000;
if (engine === 'postgres') await db.exec('VACUUM ANALYZE');

const sorted = durations.sort();
const exact = (q) => sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1];
const want = { p50: exact(0.5), p95: exact(0.95), p99: exact(0.99) };

const route = `/api/v1/projects/${p.projectId}/telemetry/summary?from=30d&service=checkout`;
const times = [];
let answer;
for (let i = 0; i < Number(opts.runs); i++) {
  const s = performance.now();
  const r = await call(server, owner, 'GET', route);
  times.push(performance.now() - s);
  if (r.status !== 200) throw new Error(JSON.stringify(r.body));
  answer = r.body;
}
times.sort((a, b) => a - b);
const rowsRead = (
  await db.query(
    `SELECT (SELECT count(*) FROM rollups_1d WHERE project_id = $1) + (SELECT count(*) FROM rollups_1h WHERE project_id = $1)
       + (SELECT count(*) FROM rollups_1m WHERE project_id = $1) AS n`,
    [p.projectId],
  )
).rows[0].n;

let baseline = null;
if (!opts['no-raw'] && engine === 'postgres') {
  const s = performance.now();
  const r = await db.query(
    `SELECT percentile_disc(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY duration_ms) AS p
     FROM request_events WHERE project_id = $1 AND service = 'checkout' AND time >= $2`,
    [p.projectId, new Date(now - 30 * 86_400_000)],
  );
  baseline = { ms: Math.round(performance.now() - s), values: r.rows[0].p };
}

const err = (k) => Math.abs(answer[k] - want[k]) / want[k];
const result = {
  engine,
  events: total,
  loadSeconds: Math.round(loadSeconds),
  rollupRowsStored: Number(rowsRead),
  peep: {
    p50ms: Math.round(times[Math.floor(times.length / 2)] * 10) / 10,
    p99ms: Math.round(times[times.length - 1] * 10) / 10,
    count: answer.count,
    values: { p50: answer.p50, p95: answer.p95, p99: answer.p99 },
    relativeError: { p50: err('p50'), p95: err('p95'), p99: err('p99') },
  },
  exact: want,
  baseline,
};
if (opts.json) console.log(JSON.stringify(result, null, 2));
else {
  const pc = (v) => `${(v * 100).toFixed(3)}%`;
  console.log(
    `${engine}: ${total.toLocaleString('en')} events over 30 days loaded in ${result.loadSeconds} s`,
  );
  console.log(
    `peep summary (from=30d, service=checkout): median ${result.peep.p50ms} ms, slowest of ${times.length} ${result.peep.p99ms} ms; count ${answer.count.toLocaleString('en')}`,
  );
  console.log(
    `  p50 ${answer.p50} (exact ${want.p50}, off ${pc(err('p50'))})  p95 ${answer.p95} (exact ${want.p95}, off ${pc(err('p95'))})  p99 ${answer.p99} (exact ${want.p99}, off ${pc(err('p99'))})`,
  );
  if (baseline)
    console.log(
      `baseline percentile_disc over the raw rows: ${baseline.ms} ms -> ${baseline.values.join(', ')}`,
    );
}
await server.close();
