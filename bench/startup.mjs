#!/usr/bin/env node
// Start-up figures of the embedded stack, measured from outside like a user sees them:
//   cold start   `peep up` on a fresh data directory (PGlite initdb + migrations; dashboard already built), 3 times
//   warm start   `peep up` again on the same data directory (3 times)
//   shutdown     SIGTERM to exit
//   --help       `peep --help` wall time (median of 10)
// Time to ready = from spawning `node cli/dist/bin.js up` until GET /ready answers 200 (polled every
// 20 ms). Needs `npm run build:ts`; builds the dashboard first if it has no build.
//
//   node bench/startup.mjs [--cold 3] [--warm 3] [--help-runs 10] [--json]
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bin = path.join(root, 'cli/dist/bin.js');

const { values: opts } = parseArgs({
  options: {
    cold: { type: 'string', default: '3' },
    warm: { type: 'string', default: '3' },
    'help-runs': { type: 'string', default: '10' },
    json: { type: 'boolean', default: false },
  },
});

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const ms = (x) => `${Math.round(x)} ms`;

async function freePort() {
  const srv = net.createServer();
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address();
  await new Promise((r) => srv.close(r));
  return port;
}

/** Spawns `peep up` on dataDir, waits for /ready, sends SIGTERM; returns the timings. */
async function startOnce(dataDir) {
  const port = await freePort();
  const started = performance.now();
  const child = spawn(process.execPath, [bin, 'up'], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PEEP_PORT: String(port), PEEP_DATA_DIR: dataDir, PEEP_LOG_LEVEL: 'warn' },
  });
  let out = '';
  child.stdout.on('data', (c) => {
    out += c;
  });
  child.stderr.on('data', (c) => {
    out += c;
  });
  const exited = new Promise((r) => child.once('exit', (code) => r(code)));
  let ready = null;
  const deadline = started + 120_000;
  while (ready === null) {
    if (child.exitCode !== null) throw new Error(`peep up exited ${child.exitCode} before ready:\n${out}`);
    if (performance.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`peep up not ready after 120 s:\n${out}`);
    }
    try {
      const res = await fetch(`http://127.0.0.1:${port}/ready`, { signal: AbortSignal.timeout(1000) });
      if (res.status === 200) ready = performance.now() - started;
    } catch {
      // not listening yet
    }
    if (ready === null) await sleep(20);
  }
  // peep's own figure ("is ready at ... in N ms"), measured inside the process from its start.
  const own = /ready at \S+ in (\d+) ms/.exec(out);
  const stopAt = performance.now();
  child.kill('SIGTERM');
  const code = await exited;
  return {
    ready,
    reported: own ? Number(own[1]) : null,
    shutdown: performance.now() - stopAt,
    exitCode: code,
    ownerLink: /\/setup\?token=/.test(out),
  };
}

function helpOnce() {
  const t = performance.now();
  const r = spawnSync(process.execPath, [bin, '--help'], { encoding: 'utf8' });
  const elapsed = performance.now() - t;
  if (r.status !== 0) throw new Error(`peep --help exited ${r.status}: ${r.stderr}`);
  return elapsed;
}

if (!fs.existsSync(bin)) {
  console.error('bench: cli/dist/bin.js is missing: run `npm run build:ts` first');
  process.exit(1);
}
if (!fs.existsSync(path.join(root, 'dashboard/.next/BUILD_ID'))) {
  console.error('# no dashboard build: building it first (not part of the figures)');
  const r = spawnSync(process.execPath, [path.join(root, 'scripts/build-dashboard.mjs')], {
    stdio: 'inherit',
  });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

const dirs = [];
const result = { node: process.version, cpus: os.cpus().length, cold: [], warm: [], help: [] };
try {
  for (let i = 0; i < Number(opts.cold); i++) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'peep-bench-'));
    dirs.push(dir);
    const cold = await startOnce(path.join(dir, 'data'));
    if (!cold.ownerLink) throw new Error('a fresh data directory should print the owner-setup link');
    result.cold.push(cold);
    console.error(`# cold start ${i + 1}: ready in ${ms(cold.ready)}`);
  }
  const warmDir = path.join(dirs[0] ?? fs.mkdtempSync(path.join(os.tmpdir(), 'peep-bench-')), 'data');
  for (let i = 0; i < Number(opts.warm); i++) {
    const warm = await startOnce(warmDir);
    result.warm.push(warm);
    console.error(`# warm start ${i + 1}: ready in ${ms(warm.ready)}`);
  }
  helpOnce(); // first run fills the OS file cache; not counted
  for (let i = 0; i < Number(opts['help-runs']); i++) result.help.push(helpOnce());
} finally {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
}

if (opts.json) {
  console.log(JSON.stringify(result, null, 2));
} else {
  const row = (label, runs) =>
    runs.length
      ? `${label.padEnd(12)} ${runs.map((r) => ms(r.ready)).join(', ')}  (median ${ms(median(runs.map((r) => r.ready)))}; peep's own figure ${runs.map((r) => (r.reported === null ? '?' : ms(r.reported))).join(', ')}; SIGTERM to exit ${ms(median(runs.map((r) => r.shutdown)))}, exit codes ${runs.map((r) => r.exitCode).join(',')})`
      : `${label.padEnd(12)} (not run)`;
  console.log(`\npeep up: spawn to GET /ready = 200 (node ${process.version}, ${result.cpus} CPUs)`);
  console.log(row('cold start', result.cold));
  console.log(row('warm start', result.warm));
  console.log(
    `${'peep --help'.padEnd(12)} median ${ms(median(result.help))} of ${result.help.length} (min ${ms(Math.min(...result.help))}, max ${ms(Math.max(...result.help))})`,
  );
}
const bad = [...result.cold, ...result.warm].filter((r) => r.exitCode !== 0);
if (bad.length) {
  console.error(`bench: ${bad.length} run(s) did not exit 0 on SIGTERM`);
  process.exitCode = 1;
}
