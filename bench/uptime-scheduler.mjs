#!/usr/bin/env node
// The uptime scheduler end to end (builder/src/uptime): N HTTP targets at an interval, checked by the
// real scheduler (leases, wheel, runCheck, state machine with incidents) with every result stored
// (COPY into check_results, minute/hour/day rollups with sketches, target state) in PGlite or, with
// --pg, PostgreSQL. The target server runs in a child process so its CPU is not counted.
// Prints, over the steady window after a warm-up: checks/s, stored results/s, CPU ms per check of
// this process (user + system, process.cpuUsage), lag between due time and start (p50/p99/max), and
// how many checks each target got (expected: window / interval).
//
// The figures:
//   node bench/uptime-scheduler.mjs --targets 5000 --interval 5      # >= 1,000 checks/s at <= 0.5 ms CPU
//   node bench/uptime-scheduler.mjs --targets 10000 --interval 10    # p99 lag < 1 s
//   ... --pg postgres://user:pw@127.0.0.1:5432/db                    # PostgreSQL (a scratch database is created)
// Baselines measured on this machine (from the issue): Uptime Kuma 2.5 ~260 checks/s at 4-5 ms CPU per
// check (SQLite); Prometheus blackbox_exporter ~0.8 ms CPU per probe, storing nothing.
//
// Needs the TypeScript build (`npm run build:ts`).
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const self = fileURLToPath(import.meta.url);
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
  },
});

if (opts.role === 'target') {
  const server = http.createServer((_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end('{"status":"ok"}');
  });
  server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => process.send?.(server.address().port));
} else {
  await main();
}

/** CPU ms of every `postgres` process on this machine (Linux /proc), or null elsewhere. */
function pgCpuMs() {
  try {
    const tick = 100; // USER_HZ on Linux
    let ms = 0;
    for (const pid of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(pid)) continue;
      try {
        if (fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim() !== 'postgres') continue;
        const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        ms += ((Number(f[11]) + Number(f[12])) * 1000) / tick;
      } catch {
        // the process ended meanwhile
      }
    }
    return ms;
  } catch {
    return null;
  }
}

async function main() {
  const { openDb, migrate, createLogger, createMemoryBus } = await import(
    path.join(root, 'pkg/dist/index.js')
  );
  const { createScheduler } = await import(path.join(root, 'builder/dist/uptime/scheduler.js'));
  const { createIncidentStore } = await import(path.join(root, 'builder/dist/incidents/store.js'));
  const N = Number(opts.targets);
  const interval = Number(opts.interval);
  const duration = Number(opts.duration) * 1000;
  const warmup = Number(opts.warmup) * 1000;

  const child = fork(self, ['--role', 'target'], { stdio: 'inherit' });
  const port = await new Promise((r) => child.once('message', r));

  let db;
  let cleanup;
  if (opts.pg) {
    const name = `peep_bench_${randomBytes(4).toString('hex')}`;
    const admin = await openDb({ databaseUrl: opts.pg, poolSize: 1 });
    await admin.exec(`CREATE DATABASE ${name}`);
    await admin.close();
    const u = new URL(opts.pg);
    u.pathname = `/${name}`;
    db = await openDb({ databaseUrl: u.toString(), poolSize: 10 });
    cleanup = async () => {
      await db.close();
      const a = await openDb({ databaseUrl: opts.pg, poolSize: 1 });
      await a.exec(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await a.close();
    };
  } else {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'peep-bench-uptime-'));
    db = await openDb({ dataDir: dir });
    cleanup = async () => {
      await db.close();
      fs.rmSync(dir, { recursive: true, force: true });
    };
  }
  await migrate(db);
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
  await db.query(
    `INSERT INTO targets (project_id, environment_id, name, kind, spec, interval_s)
     SELECT $1, $2, 'target-' || lpad(g::text, 5, '0'), 'http', $3::jsonb, $4 FROM generate_series(1, $5) g`,
    [projectId, e.rows[0].id, spec, interval, N],
  );

  const log = createLogger({ level: 'warn' });
  const s = createScheduler({
    db,
    bus: createMemoryBus(),
    log,
    incidents: createIncidentStore(),
    concurrency: Number(opts.concurrency),
  });
  const t0 = Date.now();
  await s.start();
  await new Promise((r) => setTimeout(r, warmup));
  const a = {
    stats: s.stats(),
    cpu: process.cpuUsage(),
    at: performance.now(),
    time: new Date(),
    pg: pgCpuMs(),
  };
  // Lags of the window only: sample the wheel's recent lags at the end and keep those after `a`.
  await new Promise((r) => setTimeout(r, duration));
  await s.flush();
  const b = { stats: s.stats(), cpu: process.cpuUsage(a.cpu), at: performance.now(), pg: pgCpuMs() };
  const secs = (b.at - a.at) / 1000;
  const checks = b.stats.checks - a.stats.checks;
  const written = b.stats.written - a.stats.written;
  const cpuMs = (b.cpu.user + b.cpu.system) / 1000;
  const per = await db.query(
    `SELECT min(n)::int AS min, max(n)::int AS max, avg(n)::float8 AS avg, count(*)::int AS targets FROM
       (SELECT target_id, count(*) AS n FROM check_results WHERE time >= $1 AND time < $2 GROUP BY target_id) x`,
    [a.time, new Date(a.time.getTime() + Math.floor(duration / (interval * 1000)) * interval * 1000)],
  );
  const rows = (await db.query('SELECT count(*)::int AS n FROM check_results')).rows[0].n;
  await s.stop();
  child.kill();
  await cleanup();

  const out = {
    engine: opts.pg ? 'postgres' : 'pglite',
    targets: N,
    intervalS: interval,
    demandPerS: Math.round(N / interval),
    windowS: Math.round(secs * 10) / 10,
    checksPerS: Math.round(checks / secs),
    storedPerS: Math.round(written / secs),
    cpuMsPerCheck: Math.round((cpuMs / checks) * 1000) / 1000,
    // PostgreSQL server processes on this machine (all of them: run on an otherwise idle server).
    dbCpuMsPerCheck:
      opts.pg && a.pg !== null && b.pg !== null ? Math.round(((b.pg - a.pg) / checks) * 1000) / 1000 : null,
    cpuCoresUsed: Math.round((cpuMs / 1000 / secs) * 100) / 100,
    lagP50Ms: b.stats.lagP50Ms,
    lagP99Ms: b.stats.lagP99Ms,
    skipped: b.stats.skipped - a.stats.skipped,
    failedBatches: b.stats.failedBatches,
    checksPerTarget: per.rows[0],
    rowsStored: rows,
  };
  if (opts.json) console.log(JSON.stringify(out));
  else {
    console.log(
      `uptime scheduler, ${out.engine}: ${N} HTTP targets every ${interval} s (demand ${out.demandPerS}/s)`,
    );
    console.log(`  window ${out.windowS} s after ${warmup / 1000} s warm-up`);
    console.log(
      `  checks/s        ${out.checksPerS}   stored/s ${out.storedPerS}   failed batches ${out.failedBatches}`,
    );
    console.log(
      `  CPU per check   ${out.cpuMsPerCheck} ms  (${out.cpuCoresUsed} cores of this process${out.engine === 'pglite' ? ', database included' : ''})`,
    );
    if (out.dbCpuMsPerCheck !== null)
      console.log(
        `  + PostgreSQL    ${out.dbCpuMsPerCheck} ms per check (postgres processes, /proc)  = ${Math.round((out.cpuMsPerCheck + out.dbCpuMsPerCheck) * 1000) / 1000} ms total`,
      );
    console.log(`  lag             p50 ${out.lagP50Ms} ms  p99 ${out.lagP99Ms} ms  (recent 10,000 checks)`);
    console.log(`  skipped slots   ${out.skipped}`);
    const c = out.checksPerTarget;
    console.log(
      `  checks/target   min ${c.min} avg ${Math.round(c.avg * 100) / 100} max ${c.max} over ${c.targets} targets (expected ${Math.floor(duration / (interval * 1000))})`,
    );
    console.log(
      '  baselines: Uptime Kuma 2.5 ~260 checks/s at 4-5 ms CPU/check; blackbox_exporter ~0.8 ms CPU/probe (no storage)',
    );
  }
}
