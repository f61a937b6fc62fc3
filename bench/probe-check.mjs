#!/usr/bin/env node
// Throughput and CPU cost of peep's check executor (builder/src/probes): `runCheck` for HTTP GET
// checks (or TCP connects with `--tcp`) against a local target server on loopback, in a child
// process so its work is not counted. Each check opens a fresh connection (as every probe does),
// reads the body and closes. Closed loop at full speed with `--concurrency` checks in flight for
// `--duration` seconds after a warm-up; or open loop at a fixed `--rate` of checks per second (the
// issue's target: >= 1,000 checks/s at <= 0.5 ms CPU per check, storage included; this measures the
// check alone, storage is the scheduler's). CPU is this process's user + system time
// (process.cpuUsage) over the measured window divided by the checks done, so a busy machine skews it
// less than wall time.
//
//   node bench/probe-check.mjs                                # HTTP GET, 50 in flight, 20 s
//   node bench/probe-check.mjs --concurrency 50 --duration 20
//   node bench/probe-check.mjs --rate 1000 --duration 20      # CPU at a fixed 1,000 checks/s
//   node bench/probe-check.mjs --tcp                          # TCP connect checks
//   node bench/probe-check.mjs --keyword                      # with a keyword and a JSON path assertion
//   node bench/probe-check.mjs --tls                          # HTTPS (self-signed via openssl, ignoreTls)
//   node bench/probe-check.mjs --json                         # figures as one JSON line
//
// Needs the TypeScript build (`npm run build:ts`).
import { fork } from 'node:child_process';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const self = fileURLToPath(import.meta.url);
const { values: opts } = parseArgs({
  options: {
    concurrency: { type: 'string', default: '50' },
    duration: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '3' },
    rate: { type: 'string' },
    tcp: { type: 'boolean', default: false },
    tls: { type: 'boolean', default: false },
    keyword: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    role: { type: 'string' }, // internal: 'target'
    key: { type: 'string' }, // internal: PEM for the TLS target
    cert: { type: 'string' },
  },
});

const BODY = JSON.stringify({ status: 'ok', service: 'bench-target', checks: [{ name: 'db', ok: true }] });

if (opts.role === 'target') {
  const handler = (_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(BODY);
  };
  // TCP checks connect and close: the target only accepts and closes too.
  const server = opts.tcp
    ? net.createServer((s) => s.on('error', () => {}).destroy())
    : opts.key
      ? https.createServer({ key: opts.key, cert: opts.cert }, handler)
      : http.createServer(handler);
  // A deep accept queue: the kernel completes a TCP handshake before the target accepts it, so a
  // fast prober can outrun a busy target's accept loop and overflow a short queue (SYNs dropped,
  // retried a second later).
  server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () =>
    process.send({ port: server.address().port }),
  );
  process.on('message', (m) => {
    if (m === 'cpu') process.send({ cpu: process.cpuUsage() });
  });
  process.on('disconnect', () => process.exit(0));
} else {
  await main();
}

async function main() {
  const { runCheck } = await import(path.join(root, 'builder/dist/probes/check.js'));
  const concurrency = Number(opts.concurrency);
  const duration = Number(opts.duration) * 1000;
  const warmup = Number(opts.warmup) * 1000;
  const rate = opts.rate ? Number(opts.rate) : undefined;

  let pem;
  let cleanup = () => {};
  if (opts.tls) {
    const { certMaker, findOpenssl } = await import(path.join(root, 'builder/dist/probes/testing.js'));
    const found = findOpenssl();
    if ('skip' in found) throw new Error(found.skip);
    const certs = certMaker(found.bin);
    pem = certs.selfSigned(90);
    cleanup = certs.cleanup;
  }
  const child = fork(
    self,
    [
      '--role',
      'target',
      ...(opts.tcp ? ['--tcp'] : []),
      ...(pem ? [`--key=${pem.key}`, `--cert=${pem.cert}`] : []),
    ],
    {
      stdio: 'inherit',
    },
  );
  const { port } = await new Promise((resolve) => child.once('message', resolve));
  const childCpu = () =>
    new Promise((resolve) => {
      child.once('message', (m) => resolve(m.cpu));
      child.send('cpu');
    });

  const mode = opts.tcp ? 'tcp' : opts.tls ? 'https' : 'http';
  const check = opts.tcp
    ? { kind: 'tcp', host: '127.0.0.1', port, timeoutMs: 5000 }
    : {
        kind: 'http',
        url: `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}/health`,
        method: 'GET',
        timeoutMs: 5000,
        ignoreTls: opts.tls || undefined,
        ...(opts.keyword
          ? {
              keyword: { regex: '"status":\\s*"ok"', mode: 'present' },
              jsonPath: { path: '$.checks[0].ok', op: 'eq', value: true },
            }
          : {}),
      };

  // Measured window state.
  let measuring = false;
  let stopped = false;
  let done = 0;
  let failed = 0;
  let inFlight = 0;
  let skipped = 0;
  const errors = new Map();
  const lat = [];
  const one = async () => {
    inFlight++;
    const r = await runCheck(check);
    inFlight--;
    if (!measuring) return;
    done++;
    lat.push(r.durationMs);
    if (!r.ok) {
      failed++;
      const k = `${r.errorClass}: ${r.message}`;
      errors.set(k, (errors.get(k) ?? 0) + 1);
    }
  };

  let ticker;
  const loops = [];
  if (rate) {
    // Open loop: `rate` checks a second in 10 ms ticks, at most `concurrency` in flight (more are skipped).
    let carry = 0;
    let last = performance.now();
    ticker = setInterval(() => {
      const t = performance.now();
      carry += ((t - last) / 1000) * rate;
      last = t;
      for (; carry >= 1; carry--) {
        if (inFlight >= concurrency) {
          if (measuring) skipped++;
          continue;
        }
        one();
      }
    }, 10);
  } else {
    for (let i = 0; i < concurrency; i++)
      loops.push(
        (async () => {
          while (!stopped) await one();
        })(),
      );
  }

  await new Promise((r) => setTimeout(r, warmup));
  measuring = true;
  const cpu0 = process.cpuUsage();
  const tcpu0 = await childCpu();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, duration));
  const wall = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const tcpu1 = await childCpu();
  measuring = false;
  stopped = true;
  clearInterval(ticker);
  await Promise.all(loops);
  child.disconnect();
  cleanup();

  const cpuMs = (cpu.user + cpu.system) / 1000;
  const targetCpuMs = (tcpu1.user + tcpu1.system - tcpu0.user - tcpu0.system) / 1000;
  lat.sort((a, b) => a - b);
  const q = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] ?? Number.NaN;
  const figures = {
    mode: `${mode}${opts.keyword ? '+assertions' : ''}`,
    loop: rate ? `open, ${rate}/s` : `closed, ${concurrency} in flight`,
    durationS: +(wall / 1000).toFixed(1),
    checks: done,
    checksPerS: +((done / wall) * 1000).toFixed(0),
    cpuMsPerCheck: +(cpuMs / done).toFixed(3),
    cpuPercentOfCore: +((cpuMs / wall) * 100).toFixed(1),
    p50Ms: +q(0.5).toFixed(2),
    p99Ms: +q(0.99).toFixed(2),
    failed,
    skipped,
    targetCpuMsPerCheck: +(targetCpuMs / done).toFixed(3),
    errors: Object.fromEntries(errors),
  };
  if (opts.json) {
    console.log(JSON.stringify(figures));
    return;
  }
  console.log(
    `peep runCheck, ${figures.mode} against a local target (${figures.loop}, ${figures.durationS} s)`,
  );
  console.log(
    `  checks/s            ${figures.checksPerS}  (${done} checks, ${failed} failed, ${skipped} skipped)`,
  );
  console.log(
    `  CPU per check       ${figures.cpuMsPerCheck} ms  (${figures.cpuPercentOfCore}% of one core)`,
  );
  console.log(`  latency p50 / p99   ${figures.p50Ms} / ${figures.p99Ms} ms`);
  console.log(`  target server CPU   ${figures.targetCpuMsPerCheck} ms per check (not counted above)`);
  for (const [k, n] of errors) console.log(`  error ${n}x  ${k}`);
  console.log('baselines measured on this machine (issue 4):');
  console.log(
    '  Uptime Kuma 2.5     ~260 HTTP checks/s, one core saturated, ~4-5 ms CPU per check (stored in SQLite)',
  );
  console.log('  blackbox_exporter   ~0.8 ms CPU per probe (stores nothing)');
  console.log('  target              >= 1,000 checks/s at <= 0.5 ms CPU per check, storage included');
}
