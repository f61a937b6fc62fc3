#!/usr/bin/env node
// Uptime check throughput and its CPU cost: N HTTP targets at an interval, checked by the real
// scheduler (builder/src/uptime: leases, wheel, runCheck, state machine and incident rules per
// result) with every result stored (COPY into check_results, minute/hour/day rollups with sketches,
// target state) in PGlite or, with --pg, PostgreSQL (a scratch database is created and dropped),
// and the anomaly evaluator (builder/src/incidents/evaluator.ts) on the minute rollups every 10 s as
// the builder runs it; the start waits so that a minute closes (and is evaluated) inside the window.
// The target server runs in a child process, so its CPU is not counted.
//
// Prints over the steady window after a warm-up: checks/s, stored rows/s, CPU ms per check of this
// process (process.cpuUsage; with PGlite that includes the database, which runs in this process;
// with PostgreSQL the server's processes are measured apart from /proc), and lag p50/p99.
//
//   node bench/uptime-checks.mjs                                  # 5,000 targets every 5 s, PGlite
//   node bench/uptime-checks.mjs --pg postgres://u:pw@127.0.0.1:5432/db
//   node bench/uptime-checks.mjs --targets 10000 --interval 5 --duration 30
//   node bench/uptime-checks.mjs --learned   # detector states of four weeks (steady state)
//   node bench/uptime-checks.mjs --profile /tmp/checks.cpuprofile   # CPU profile of the steady window
//
// Target: >= 1,000 checks/s at <= 0.5 ms CPU per check. Baselines from the issue: Uptime Kuma
// ~260 checks/s at 4-5 ms CPU per check; Prometheus blackbox_exporter ~0.8 ms CPU per probe, storing
// nothing. Needs the TypeScript build (`npx tsc -b tsconfig.build.json`).
// bench/uptime-schedule.mjs reuses the set-up below (startTargetServer, openBenchDb, seedTargets).
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const self = fileURLToPath(import.meta.url);
export const pkg = () => import(pathToFileURL(path.join(root, 'pkg/dist/index.js')).href);
export const builderModule = (p) => import(pathToFileURL(path.join(root, 'builder/dist', p)).href);

/** A tiny health endpoint in a child process; resolves { port, close }. */
export async function startTargetServer() {
  const child = fork(self, ['--role', 'target'], { stdio: 'inherit' });
  const port = await new Promise((resolve) => child.once('message', resolve));
  return { port, close: () => child.kill() };
}

/** PGlite in a temp dir, or a scratch database on the PostgreSQL server at `pgUrl`; migrated. */
export async function openBenchDb(pgUrl) {
  const { openDb, migrate } = await pkg();
  let db;
  let close;
  let dbName = null;
  if (pgUrl) {
    const name = `peep_bench_${randomBytes(4).toString('hex')}`;
    dbName = name;
    const admin = await openDb({ databaseUrl: pgUrl, poolSize: 1 });
    await admin.exec(`CREATE DATABASE ${name}`);
    await admin.close();
    const u = new URL(pgUrl);
    u.pathname = `/${name}`;
    db = await openDb({ databaseUrl: u.toString(), poolSize: 10 });
    close = async () => {
      await db.close();
      const a = await openDb({ databaseUrl: pgUrl, poolSize: 1 });
      await a.exec(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await a.close();
    };
  } else {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'peep-bench-uptime-'));
    db = await openDb({ dataDir: dir });
    close = async () => {
      await db.close();
      fs.rmSync(dir, { recursive: true, force: true });
    };
  }
  await migrate(db);
  return { db, close, dbName, engine: pgUrl ? 'postgres' : 'pglite' };
}

/** One project, one environment, `n` HTTP targets against the target server; returns their ids. */
export async function seedTargets(db, { n, intervalS, port }) {
  const p = await db.query(`INSERT INTO projects (slug, name) VALUES ('bench', 'Bench') RETURNING id`);
  const projectId = p.rows[0].id;
  const e = await db.query(
    `INSERT INTO environments (project_id, slug, name, position) VALUES ($1, 'prod', 'Production', 0) RETURNING id`,
    [projectId],
  );
  const spec = JSON.stringify({
    kind: 'http',
    url: `http://127.0.0.1:${port}/health`,
    method: 'GET',
    timeoutMs: 5000,
  });
  // degradedMs set, so the degraded rule runs on every result too.
  const { rows } = await db.query(
    `INSERT INTO targets (project_id, environment_id, name, kind, spec, interval_s, degraded_ms)
     SELECT $1, $2, 'target-' || lpad(g::text, 5, '0'), 'http', $3::jsonb, $4, 2000 FROM generate_series(1, $5) g
     RETURNING id`,
    [projectId, e.rows[0].id, spec, intervalS, n],
  );
  return { projectId, ids: rows.map((r) => r.id) };
}

/**
 * Gives every target a detector state learned over four weeks of minutes (what a long-running peep
 * holds: a full trailing window and seasonal slots, about 9 KB of JSON each), ending two minutes
 * before `beforeMs`, so passes load and save full states instead of fresh ones.
 */
export async function seedLearnedStates(db, { projectId, ids, beforeMs }) {
  const { createDetector } = await builderModule('anomaly/index.js');
  const det = createDetector({ metric: 'latency', sensitivity: 'medium', label: 'p95' });
  const last = Math.floor(beforeMs / 60_000) * 60_000 - 2 * 60_000;
  let st;
  let seed = 1;
  const rnd = () => {
    seed = (seed * 16807) % 2147483647;
    return seed / 2147483647;
  };
  for (let t = last - 28 * 24 * 60 * 60_000; t <= last; t += 60_000)
    // Minute p95s spread log-uniformly over 0.4-6 ms, the range loopback checks show here under load:
    // the bench's own minutes are ordinary for the learned baseline (no anomaly opens).
    st = det.evaluate(st, { t, value: 0.4 * 15 ** rnd(), count: 12 }).state;
  const json = JSON.stringify(st);
  const env = (await db.query('SELECT id FROM environments WHERE project_id = $1', [projectId])).rows[0].id;
  for (let i = 0; i < ids.length; i += 1000)
    await db.query(
      `INSERT INTO detector_state (project_id, environment_id, subject_type, subject_id, metric, state, updated_at)
       SELECT $1, $2, 'target', id::text, 'latency', $4::jsonb, now() FROM unnest($3::uuid[]) AS id`,
      [projectId, env, ids.slice(i, i + 1000), json],
    );
  return { stateBytes: json.length };
}

/**
 * CPU ms of the `postgres` processes on this machine (Linux /proc), or null elsewhere: with `dbName`,
 * only the backends connected to that database (other work on the same server is not counted; the
 * shared WAL writer and checkpointer are not either).
 */
export function postgresCpuMs(dbName) {
  try {
    let ms = 0;
    for (const pid of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(pid)) continue;
      try {
        if (fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim() !== 'postgres') continue;
        if (dbName && !fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(` ${dbName} `)) continue;
        const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        ms += (Number(f[11]) + Number(f[12])) * 10; // utime + stime in USER_HZ (100) ticks
      } catch {
        // the process ended meanwhile
      }
    }
    return ms;
  } catch {
    return null;
  }
}

/** A CPU profile of this process from now until stop() (open the file in Chrome DevTools). */
export async function startProfile() {
  const { Session } = await import('node:inspector/promises');
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  return {
    async stop() {
      const { profile } = await session.post('Profiler.stop');
      session.disconnect();
      return profile;
    },
  };
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const r2 = (v) => Math.round(v * 100) / 100;
const r3 = (v) => Math.round(v * 1000) / 1000;

async function main() {
  const { values: opts } = parseArgs({
    options: {
      targets: { type: 'string', default: '5000' },
      interval: { type: 'string', default: '5' },
      duration: { type: 'string', default: '30' },
      warmup: { type: 'string', default: '8' },
      concurrency: { type: 'string', default: '256' },
      pg: { type: 'string' },
      json: { type: 'boolean', default: false },
      role: { type: 'string' },
      profile: { type: 'string' },
      // Hour/day rollups are merged in memory and written once this old (60 s in production); 10 s
      // puts those writes inside the window (6 times as many as production: a pessimistic figure).
      'coarse-ms': { type: 'string', default: '10000' },
      // Skip waiting for a start that puts a closed, evaluated minute inside the window.
      'no-align': { type: 'boolean', default: false },
      // Without the anomaly evaluator (to see its share).
      'no-anomaly': { type: 'boolean', default: false },
      // Detector states learned over four weeks (the steady state) instead of fresh ones.
      learned: { type: 'boolean', default: false },
    },
  });
  const n = Number(opts.targets);
  const intervalS = Number(opts.interval);
  const { createLogger, createMemoryBus } = await pkg();
  const { createScheduler } = await builderModule('uptime/scheduler.js');
  const { createIncidentStore } = await builderModule('incidents/store.js');
  const { createEvaluator } = await builderModule('incidents/evaluator.js');

  const server = await startTargetServer();
  const { db, close, dbName, engine } = await openBenchDb(opts.pg);
  try {
    const seeded = await seedTargets(db, { n, intervalS, port: server.port });
    let stateBytes = null;
    const log = createLogger({ level: 'warn' });
    const incidents = createIncidentStore();
    const s = createScheduler({
      db,
      bus: createMemoryBus(),
      log,
      incidents,
      concurrency: Number(opts.concurrency),
      writer: { coarseMs: Number(opts['coarse-ms']) },
    });
    // The evaluator looks for closed minutes every 10 s and takes one 10 s after it ends: start so
    // that a minute ends 5-15 s after the warm-up, and its pass falls inside the window.
    const warmupMs = Number(opts.warmup) * 1000;
    if (!opts['no-align'] && !opts['no-anomaly']) {
      const intoMinute = Date.now() % 60_000;
      const wait = (((60_000 - intoMinute - warmupMs - 5_000) % 60_000) + 60_000) % 60_000;
      if (wait > 0) {
        console.error(
          `waiting ${Math.round(wait / 1000)} s so a minute closes inside the window (--no-align skips)`,
        );
        await sleep(wait);
      }
    }
    if (opts.learned) ({ stateBytes } = await seedLearnedStates(db, { ...seeded, beforeMs: Date.now() }));
    const evaluator = createEvaluator({ db, log, incidents });
    const passes = { n: 0, minutes: 0, points: 0, ms: 0 };
    let evaluating = Promise.resolve();
    const evalTimer = setInterval(() => {
      if (opts['no-anomaly']) return;
      evaluating = evaluating.then(async () => {
        const r = await evaluator.evaluateOnce();
        if (!r.ran) return;
        passes.n++;
        passes.minutes += r.minutes;
        passes.points += r.points;
        passes.ms += r.ms;
      });
    }, 10_000);
    await s.start();
    await sleep(warmupMs);
    const evalBefore = { ...passes };
    const profiler = opts.profile ? await startProfile() : null;
    const a = {
      stats: s.stats(),
      cpu: process.cpuUsage(),
      at: performance.now(),
      time: new Date(),
      pg: postgresCpuMs(dbName),
    };
    await sleep(Number(opts.duration) * 1000);
    const b = {
      stats: s.stats(),
      cpu: process.cpuUsage(a.cpu),
      at: performance.now(),
      time: new Date(),
      pg: postgresCpuMs(dbName),
    };
    if (profiler) fs.writeFileSync(opts.profile, JSON.stringify(await profiler.stop()));
    clearInterval(evalTimer);
    await evaluating;
    await s.flush();
    const secs = (b.at - a.at) / 1000;
    const checks = b.stats.checks - a.stats.checks;
    const cpuMs = (b.cpu.user + b.cpu.system) / 1000;
    const stored = (
      await db.query('SELECT count(*)::int AS n FROM check_results WHERE time >= $1 AND time < $2', [
        a.time,
        b.time,
      ])
    ).rows[0].n;
    const rollups = (
      await db.query('SELECT count(*)::int AS n, sum(count)::int AS checks FROM target_rollups_1m')
    ).rows[0];
    const dur = (
      await db.query(
        `SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY duration_ms) AS p50,
           percentile_disc(0.99) WITHIN GROUP (ORDER BY duration_ms) AS p99
         FROM check_results WHERE time >= $1 AND time < $2`,
        [a.time, b.time],
      )
    ).rows[0];
    await s.stop();
    const opened = (await db.query('SELECT count(*)::int AS n FROM incidents')).rows[0].n;
    const out = {
      engine,
      incidentsOpened: opened,
      targets: n,
      intervalS,
      demandPerS: Math.round(n / intervalS),
      windowS: r2(secs),
      checksPerS: Math.round(checks / secs),
      storedRowsPerS: Math.round(stored / secs),
      cpuMsPerCheck: r3(cpuMs / checks),
      cpuCores: r2(cpuMs / 1000 / secs),
      postgresCpuMsPerCheck: engine === 'postgres' && a.pg !== null ? r3((b.pg - a.pg) / checks) : null,
      lagP50Ms: b.stats.lagP50Ms,
      lagP99Ms: b.stats.lagP99Ms,
      lagMaxMs: b.stats.lagMaxMs,
      skippedSlots: b.stats.skipped - a.stats.skipped,
      failedChecks: b.stats.failures - a.stats.failures,
      failedBatches: b.stats.failedBatches,
      checkDurationP50Ms: r2(Number(dur.p50)),
      checkDurationP99Ms: r2(Number(dur.p99)),
      anomalyPasses: passes.n - evalBefore.n,
      anomalyPointsEvaluated: passes.points - evalBefore.points,
      anomalyPassMs: Math.round(passes.ms - evalBefore.ms),
      learnedStateBytes: stateBytes,
      rollupRows1m: rollups.n,
      rollupChecks1m: rollups.checks,
    };
    if (opts.json) console.log(JSON.stringify(out));
    else {
      console.log(
        `uptime checks, ${engine}: ${n} HTTP targets every ${intervalS} s (demand ${out.demandPerS} checks/s)`,
      );
      console.log(
        `  window            ${out.windowS} s after ${opts.warmup} s warm-up (hour/day rollups written after ${opts['coarse-ms']} ms)`,
      );
      console.log(
        `  checks/s          ${out.checksPerS}  (failed ${out.failedChecks}, skipped slots ${out.skippedSlots})`,
      );
      console.log(
        `  stored rows/s     ${out.storedRowsPerS}  (check_results; failed batches ${out.failedBatches})`,
      );
      console.log(
        `  CPU per check     ${out.cpuMsPerCheck} ms of this process (${out.cpuCores} cores${engine === 'pglite' ? ', database included' : ''})`,
      );
      if (out.postgresCpuMsPerCheck !== null)
        console.log(
          `  + PostgreSQL      ${out.postgresCpuMsPerCheck} ms per check (backends of the bench database, /proc)`,
        );
      console.log(
        `  lag               p50 ${out.lagP50Ms} ms  p99 ${out.lagP99Ms} ms  max ${out.lagMaxMs} ms (last minute)`,
      );
      console.log(
        `  anomaly evaluator ${out.anomalyPasses} passes in the window, ${out.anomalyPointsEvaluated} target minutes evaluated (${out.anomalyPassMs} ms), ${out.incidentsOpened} incidents opened${stateBytes ? `; states learned over 4 weeks, ${stateBytes} bytes of JSON each` : '; fresh states (--learned for the steady state)'}`,
      );
      console.log(
        `  check duration    p50 ${out.checkDurationP50Ms} ms  p99 ${out.checkDurationP99Ms} ms (connect to response, loopback)`,
      );
      console.log(
        '  baselines (issue) Uptime Kuma ~260 checks/s at 4-5 ms CPU/check; blackbox_exporter ~0.8 ms CPU/probe, storing nothing',
      );
    }
  } finally {
    server.close();
    await close();
  }
}

const { values: role } = parseArgs({ options: { role: { type: 'string' } }, strict: false });
if (role.role === 'target') {
  const server = http.createServer((_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end('{"status":"ok"}');
  });
  server.keepAliveTimeout = 60_000;
  server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => process.send?.(server.address().port));
} else if (process.argv[1] && pathToFileURL(process.argv[1]).href === import.meta.url) {
  await main();
}
