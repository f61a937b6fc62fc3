#!/usr/bin/env node
// Does every target get checked on time? 10,000 HTTP targets every 10 s (1,000 checks/s) through the
// real scheduler with results stored (PGlite, or PostgreSQL with --pg), the target server in a child
// process. After a warm-up, a window of whole intervals: each stored result's due time is computed
// from its target's phase (builder/src/uptime/wheel.ts phaseOf), so the lag (start minus due time)
// of every single check is known. Prints lag p50/p99/max, checks/s, and how many checks each target
// got in the window against the expected count (window / interval).
//
//   node bench/uptime-schedule.mjs                               # 10,000 targets every 10 s, PGlite
//   node bench/uptime-schedule.mjs --pg postgres://u:pw@127.0.0.1:5432/db
//   node bench/uptime-schedule.mjs --targets 20000 --interval 10 --intervals 3
//
// Target: p99 lag < 1 s, every target checked exactly window / interval times.
// Needs the TypeScript build (`npx tsc -b tsconfig.build.json`).
import { parseArgs } from 'node:util';
import { builderModule, openBenchDb, pkg, seedTargets, sleep, startTargetServer } from './uptime-checks.mjs';

const { values: opts } = parseArgs({
  options: {
    targets: { type: 'string', default: '10000' },
    interval: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '10' },
    intervals: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '256' },
    pg: { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});
const n = Number(opts.targets);
const intervalS = Number(opts.interval);
const I = intervalS * 1000;
const { createLogger, createMemoryBus } = await pkg();
const { createScheduler } = await builderModule('uptime/scheduler.js');
const { createIncidentStore } = await builderModule('incidents/store.js');
const { phaseOf } = await builderModule('uptime/wheel.js');

const pct = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
const r1 = (v) => Math.round(v * 10) / 10;

const server = await startTargetServer();
const { db, close, engine } = await openBenchDb(opts.pg);
try {
  const { ids } = await seedTargets(db, { n, intervalS, port: server.port });
  const phase = new Map(ids.map((id) => [id, phaseOf(id, I)]));
  const s = createScheduler({
    db,
    bus: createMemoryBus(),
    log: createLogger({ level: 'warn' }),
    incidents: createIncidentStore(),
    concurrency: Number(opts.concurrency),
  });
  await s.start();
  await sleep(Number(opts.warmup) * 1000);
  // The window: whole intervals of due times, starting now.
  const from = Date.now();
  const to = from + Number(opts.intervals) * I;
  const a = s.stats();
  await sleep(to - Date.now());
  const b = s.stats();
  // Checks due before `to` start a little later: let them finish and be stored.
  await sleep(2_000);
  await s.flush();
  const stats = s.stats();
  await s.stop();

  const { rows } = await db.query(
    `SELECT target_id, extract(epoch FROM time)::float8 * 1000 AS t FROM check_results
     WHERE time >= $1 AND time < $2`,
    [new Date(from), new Date(to + 60_000)],
  );
  const lags = [];
  const perTarget = new Map(ids.map((id) => [id, 0]));
  for (const r of rows) {
    const p = phase.get(r.target_id);
    const since = (((r.t - p) % I) + I) % I; // start minus the slot just before it
    const due = r.t - since;
    if (due < from || due >= to) continue;
    lags.push(since);
    perTarget.set(r.target_id, perTarget.get(r.target_id) + 1);
  }
  lags.sort((x, y) => x - y);
  const expected = Number(opts.intervals);
  const counts = [...perTarget.values()];
  const exact = counts.filter((c) => c === expected).length;
  const out = {
    engine,
    targets: n,
    intervalS,
    windowS: (to - from) / 1000,
    checksPerS: Math.round((b.checks - a.checks) / ((to - from) / 1000)),
    checksInWindow: lags.length,
    lagP50Ms: r1(pct(lags, 0.5)),
    lagP99Ms: r1(pct(lags, 0.99)),
    lagMaxMs: r1(lags[lags.length - 1]),
    expectedPerTarget: expected,
    targetsExact: exact,
    minPerTarget: Math.min(...counts),
    maxPerTarget: Math.max(...counts),
    skippedSlots: stats.skipped,
    failedChecks: stats.failures,
    failedBatches: stats.failedBatches,
  };
  if (opts.json) console.log(JSON.stringify(out));
  else {
    console.log(
      `uptime schedule, ${engine}: ${n} HTTP targets every ${intervalS} s (demand ${Math.round(n / intervalS)} checks/s)`,
    );
    console.log(`  window          ${out.windowS} s of due times after ${opts.warmup} s warm-up`);
    console.log(
      `  checks/s        ${out.checksPerS}  (${out.checksInWindow} checks due in the window, failed ${out.failedChecks})`,
    );
    console.log(
      `  lag             p50 ${out.lagP50Ms} ms  p99 ${out.lagP99Ms} ms  max ${out.lagMaxMs} ms (due time to check start, every check)`,
    );
    console.log(
      `  checks/target   ${exact} of ${n} targets exactly ${expected}; min ${out.minPerTarget} max ${out.maxPerTarget}; skipped slots ${out.skippedSlots}`,
    );
  }
} finally {
  server.close();
  await close();
}
