#!/usr/bin/env node
// The target list API with 10,000 targets in one project (issue 4: "answers a page in under 100 ms").
// Creates the targets with one `POST /targets/apply` (bulk insert, timed too), gives them a realistic
// mix of states as the scheduler would (SQL: most up, some down, pending, paused), then measures
// p50/p99 over real HTTP, one request at a time, of:
//
//   first page     GET /targets?limit=50
//   deep page      GET /targets?limit=50&cursor=<after target 5,000>
//   status=down    GET /targets?status=down&limit=50 (about 5% of the targets)
//   q filter       GET /targets?q=-0012&limit=50 (10 of the names contain it: the whole list is scanned)
//   tag + env      GET /targets?tag=team-3&env=prod&limit=50
//   500 per page   GET /targets?limit=500
//
// Every answer includes the counts by status (one aggregate over the project's targets).
//
//   node bench/uptime-list.mjs                     # PostgreSQL when PEEP_TEST_DATABASE_URL is set, else PGlite
//   node bench/uptime-list.mjs --engine pglite --targets 10000 --runs 200 --json
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values: opts } = parseArgs({
  options: {
    engine: { type: 'string' },
    targets: { type: 'string', default: '10000' },
    runs: { type: 'string', default: '200' },
    json: { type: 'boolean', default: false },
  },
});
const engine = opts.engine ?? (process.env.PEEP_TEST_DATABASE_URL ? 'postgres' : 'pglite');
const total = Number(opts.targets);
const runs = Number(opts.runs);
const { startTestServer, createOwner, createProjectWithKey, call } = await import(
  path.join(root, 'api/dist/testing.js')
);

const server = await startTestServer({ engine, config: { logLevel: 'warn' } });
const owner = await createOwner(server);
const p = await createProjectWithKey(server, owner, { name: 'uptime list' });
const base = `/api/v1/projects/${p.projectId}/targets`;

const WORDS = ['api', 'web', 'db', 'cache', 'queue', 'auth', 'search', 'billing', 'mail', 'cdn'];
const ENVS = ['prod', 'staging', 'dev'];
const items = Array.from({ length: total }, (_, i) => {
  const word = WORDS[i % WORDS.length];
  const env = ENVS[i % 10 < 6 ? 0 : i % 10 < 8 ? 1 : 2];
  const tags = [`team-${i % 12}`, i % 3 ? 'public' : 'internal'];
  const name = `${word}-${String(i).padStart(5, '0')}.example.test`;
  if (i % 20 === 0) return { name, env, kind: 'heartbeat', intervalS: 3600, graceS: 300, tags };
  if (i % 7 === 0)
    return {
      name,
      env,
      kind: 'tcp',
      spec: { host: `db${i}.example.test`, port: 5432, timeoutMs: 3000 },
      intervalS: 30,
      tags,
    };
  return {
    name,
    env,
    kind: 'http',
    spec: {
      url: `https://${name}/health`,
      method: 'GET',
      timeoutMs: 5000,
      acceptStatus: ['200-299'],
      ...(i % 5 === 0 ? { keyword: { text: 'ok', mode: 'present' } } : {}),
    },
    intervalS: [10, 30, 60, 300][i % 4],
    tags,
  };
});

let t0 = performance.now();
const applied = await call(server, owner, 'POST', `${base}/apply`, { targets: items });
const applyMs = performance.now() - t0;
if (applied.status !== 200)
  throw new Error(`apply: ${applied.status} ${JSON.stringify(applied.body).slice(0, 500)}`);
if (applied.body.create.length !== total) throw new Error(`apply created ${applied.body.create.length}`);

// States as the scheduler keeps them: 90% up, 5% down, 3% pending, 2% paused.
await server.db.query(
  `UPDATE targets SET
     status = CASE WHEN r < 0.05 THEN 'down' WHEN r < 0.08 THEN 'pending' ELSE 'up' END,
     enabled = NOT (r >= 0.08 AND r < 0.10),
     last_check_at = now(), last_ok = r >= 0.05, last_duration_ms = 20 + r * 200
   FROM (SELECT id, random() AS r FROM targets WHERE project_id = $1) x
   WHERE targets.id = x.id`,
  [p.projectId],
);
await server.db.query('ANALYZE targets');

// A cursor in the middle: page through once to the 5,000th target (by name order).
let cursor = null;
for (let seen = 0; seen < Math.min(5000, total - 50); seen += 500) {
  const r = await call(server, owner, 'GET', `${base}?limit=500${cursor ? `&cursor=${cursor}` : ''}`);
  cursor = r.body.nextCursor;
}

const cases = [
  ['first page', `${base}?limit=50`],
  ['deep page (cursor at 5,000)', `${base}?limit=50&cursor=${cursor}`],
  ['status=down', `${base}?status=down&limit=50`],
  ['q=-0012 (10 names match)', `${base}?q=${encodeURIComponent('-0012')}&limit=50`],
  ['tag=team-3 env=prod', `${base}?tag=team-3&env=prod&limit=50`],
  ['500 per page', `${base}?limit=500`],
];

const pct = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
const results = [];
for (const [name, url] of cases) {
  const ms = [];
  let rows = 0;
  let counts = null;
  for (let i = 0; i < runs + 5; i++) {
    t0 = performance.now();
    const r = await call(server, owner, 'GET', url);
    const dt = performance.now() - t0;
    if (r.status !== 200) throw new Error(`${name}: ${r.status} ${JSON.stringify(r.body)}`);
    rows = r.body.targets.length;
    counts = r.body.counts;
    if (i >= 5) ms.push(dt); // the first few warm the caches and the JIT
  }
  ms.sort((a, b) => a - b);
  results.push({ name, rows, counts, p50: pct(ms, 0.5), p99: pct(ms, 0.99), max: ms[ms.length - 1] });
}
await server.close();

if (opts.json) {
  console.log(JSON.stringify({ engine, targets: total, runs, applyMs, results }, null, 2));
} else {
  console.log(
    `uptime target list, ${total} targets in one project, ${engine}, ${runs} requests per case over HTTP`,
  );
  console.log(`apply of ${total} targets (one request, one transaction): ${applyMs.toFixed(0)} ms`);
  console.log('');
  const w = Math.max(...results.map((r) => r.name.length));
  console.log(`${'case'.padEnd(w)}  rows    p50 ms   p99 ms   max ms  counts (total/up/down/pending/paused)`);
  for (const r of results) {
    const c = r.counts;
    console.log(
      `${r.name.padEnd(w)}  ${String(r.rows).padStart(4)}  ${r.p50.toFixed(2).padStart(8)} ${r.p99.toFixed(2).padStart(8)} ${r.max.toFixed(2).padStart(8)}  ${c.total}/${c.up}/${c.down}/${c.pending}/${c.paused}`,
    );
  }
}
