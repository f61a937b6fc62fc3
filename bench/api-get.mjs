#!/usr/bin/env node
// Authenticated API GET latency at a fixed 1,000 requests/s: `GET /api/v1/projects/:id` with a personal
// token (`Authorization: Bearer peep_pat_...`), on PGlite and, when PEEP_TEST_DATABASE_URL is set, on
// PostgreSQL, in the same run. The server runs in a child process (so the load generator does not
// share its event loop) through api/dist/testing.js: a fresh, migrated database, the real owner-setup,
// project and token endpoints.
//
// Two load generators, both at the target rate over `--connections` keep-alive connections:
//   open-loop   one request every 1/rate s on a fixed schedule, latency counted from the scheduled
//               send time (a request that waits for a free connection counts its wait). This is the
//               figure to quote.
//   autocannon  `overallRate`: each connection sends its share of the second back to back, then
//               idles until the next second (bursts of `connections` concurrent requests), and its
//               coordinated-omission correction assumes a 1 ms interval, which weights slow answers
//               heavily. Shown for comparison with other autocannon figures.
//
//   npm run bench                      # both engines when PEEP_TEST_DATABASE_URL is set
//   node bench/api-get.mjs --rate 500 --duration 10 --connections 20 --engine pglite --json
//   node bench/api-get.mjs --profile /tmp/prof    # CPU profile of each server (open in DevTools)
//
// Needs the TypeScript build (`npm run build:ts`).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const self = fileURLToPath(import.meta.url);

const { values: opts } = parseArgs({
  options: {
    rate: { type: 'string', default: '1000' },
    duration: { type: 'string', default: '15' },
    warmup: { type: 'string', default: '5' },
    connections: { type: 'string', default: '20' },
    engine: { type: 'string', multiple: true },
    json: { type: 'boolean', default: false },
    'no-autocannon': { type: 'boolean', default: false },
    profile: { type: 'string' }, // write a V8 CPU profile of each server process into this folder
    serve: { type: 'string' }, // internal: run the server for one engine and print its details
  },
});

if (opts.serve) await serve(opts.serve);
else await main();

/** Child process: start a test server on `engine`, create owner, project and token, report, wait. */
async function serve(engine) {
  const testing = path.join(root, 'api/dist/testing.js');
  const { startTestServer, createOwner } = await import(testing);
  const server = await startTestServer({ engine, config: { logLevel: 'warn' } });
  const owner = await createOwner(server);
  const post = async (route, body) => {
    const res = await fetch(`${server.url}${route}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie: owner.cookie, 'x-csrf-token': owner.csrfToken },
      body: JSON.stringify(body),
    });
    if (res.status !== 201) throw new Error(`POST ${route}: ${res.status} ${await res.text()}`);
    return res.json();
  };
  const { project } = await post('/api/v1/projects', { name: 'Bench' });
  const { secret } = await post('/api/v1/tokens', { name: 'bench', scopes: ['read'] });
  process.send?.({ url: server.url, projectId: project.id, token: secret });
  process.on('disconnect', async () => {
    await server.close();
    process.exit(0);
  });
}

function startServer(engine) {
  return new Promise((resolve, reject) => {
    const prof = opts.profile ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(opts.profile)}`] : [];
    const child = spawn(process.execPath, [...prof, self, '--serve', engine], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: { ...process.env, PEEP_TEST_LOG: 'warn' },
    });
    child.once('message', (m) => resolve({ ...m, child }));
    child.once('exit', (code) => reject(new Error(`the ${engine} server exited with code ${code}`)));
    child.once('error', reject);
  });
}

async function stopServer(s) {
  const exited = new Promise((r) => s.child.once('exit', r));
  s.child.disconnect();
  await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
  if (s.child.exitCode === null) s.child.kill('SIGKILL');
}

async function checkTarget(s) {
  const url = `${s.url}/api/v1/projects/${s.projectId}`;
  const check = await fetch(url, { headers: { authorization: `Bearer ${s.token}` } });
  if (check.status !== 200) throw new Error(`GET ${url}: ${check.status} ${await check.text()}`);
  return url;
}

async function withAutocannon(autocannon, s, { rate, duration, connections }) {
  const url = await checkTarget(s);
  const r = await autocannon({
    url,
    headers: { authorization: `Bearer ${s.token}` },
    connections,
    overallRate: rate,
    duration,
  });
  // autocannon closes its sockets at the deadline; let the requests it abandoned finish.
  await new Promise((res) => setTimeout(res, 1000));
  return {
    achieved: Math.round(r.requests.total / r.duration),
    p50: r.latency.p50,
    p90: r.latency.p90,
    p99: r.latency.p99,
    max: r.latency.max,
    requests: r.requests.total,
    errors: r.errors + r.timeouts,
    non2xx: r.non2xx,
  };
}

/** Open-loop load: request i is due at start + i/rate; its latency runs from then to the last byte. */
async function openLoop(s, { rate, duration, connections }) {
  const url = new URL(await checkTarget(s));
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  const headers = { authorization: `Bearer ${s.token}` };
  const total = Math.round(rate * duration);
  const interval = 1000 / rate;
  const latency = new Float64Array(total).fill(Number.NaN);
  let done = 0;
  let errors = 0;
  let non2xx = 0;
  let sent = 0;
  let lastEnd = 0;
  const start = performance.now();
  await new Promise((resolve) => {
    const finish = () => {
      lastEnd = performance.now();
      if (++done === total) resolve();
    };
    const fire = (i) => {
      const due = start + i * interval;
      const req = http.request(
        { agent, host: url.hostname, port: url.port, path: url.pathname, headers },
        (res) => {
          res.resume();
          res.on('end', () => {
            latency[i] = performance.now() - due;
            if (res.statusCode < 200 || res.statusCode > 299) non2xx++;
            finish();
          });
        },
      );
      req.setTimeout(30_000, () => req.destroy(new Error('timeout')));
      req.on('error', () => {
        errors++;
        finish();
      });
      req.end();
    };
    const tick = () => {
      const due = Math.min(total, Math.floor((performance.now() - start) / interval) + 1);
      while (sent < due) fire(sent++);
      if (sent < total) setTimeout(tick, Math.max(0, start + sent * interval - performance.now()));
    };
    tick();
  });
  agent.destroy();
  const ok = Array.from(latency)
    .filter((x) => !Number.isNaN(x))
    .sort((a, b) => a - b);
  const pct = (q) =>
    ok.length ? Math.round(ok[Math.min(ok.length - 1, Math.floor(q * ok.length))] * 10) / 10 : NaN;
  return {
    achieved: Math.round((total * 1000) / (lastEnd - start)),
    p50: pct(0.5),
    p90: pct(0.9),
    p99: pct(0.99),
    max: ok.length ? Math.round(ok[ok.length - 1]) : NaN,
    requests: total,
    errors,
    non2xx,
  };
}

async function main() {
  if (!fs.existsSync(path.join(root, 'api/dist/testing.js'))) {
    console.error('bench: api/dist/testing.js is missing: run `npm run build:ts` first');
    process.exit(1);
  }
  const { default: autocannon } = await import('autocannon');
  const rate = Number(opts.rate);
  const duration = Number(opts.duration);
  const warmup = Number(opts.warmup);
  const connections = Number(opts.connections);
  const engines = opts.engine ?? (process.env.PEEP_TEST_DATABASE_URL ? ['pglite', 'postgres'] : ['pglite']);
  if (!opts.engine && !process.env.PEEP_TEST_DATABASE_URL)
    console.error('# PEEP_TEST_DATABASE_URL not set: PostgreSQL not measured');

  const rows = [];
  for (const engine of engines) {
    const s = await startServer(engine);
    try {
      console.error(
        `# ${engine}: warm-up ${warmup} s, then ${duration} s at ${rate} req/s, ${connections} connections`,
      );
      if (warmup > 0) await openLoop(s, { rate, duration: warmup, connections });
      rows.push({
        engine,
        load: 'open-loop',
        target: rate,
        ...(await openLoop(s, { rate, duration, connections })),
      });
      if (!opts['no-autocannon'])
        rows.push({
          engine,
          load: 'autocannon',
          target: rate,
          ...(await withAutocannon(autocannon, s, { rate, duration, connections })),
        });
    } finally {
      await stopServer(s);
    }
  }

  if (opts.json) {
    console.log(JSON.stringify({ benchmark: 'api-get', node: process.version, rows }, null, 2));
    return;
  }
  const head = [
    'engine',
    'load',
    'target/s',
    'achieved/s',
    'p50 ms',
    'p90 ms',
    'p99 ms',
    'max ms',
    'requests',
    'errors',
    'non-2xx',
  ];
  const body = rows.map((r) =>
    [r.engine, r.load, r.target, r.achieved, r.p50, r.p90, r.p99, r.max, r.requests, r.errors, r.non2xx].map(
      String,
    ),
  );
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells) =>
    cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  console.log(
    `\nGET /api/v1/projects/:id with a bearer token, ${connections} connections, ${duration} s (node ${process.version})`,
  );
  console.log(line(head));
  for (const b of body) console.log(line(b));
  if (rows.some((r) => r.errors || r.non2xx)) process.exitCode = 1;
}
