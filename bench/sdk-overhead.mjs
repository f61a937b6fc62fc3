#!/usr/bin/env node
// Throughput cost of @peep/sdk on a hello-world `node:http` server: the same server with and without
// `peep.http(listener)` in its default mode (requests aggregated per route and window, a sample sent
// raw). `--events` sends every request as an event instead (aggregate: false); `--no-context` turns
// the request context off (requestContext: false); `--log` also ships one log record per request.
//
// Each server runs in its own child process; autocannon drives it from this process at full speed
// (closed loop, `--connections` keep-alive connections) for `--duration` seconds after a warm-up.
// Runs alternate plain / sdk (the order flips every round) so drift on the machine hits both alike.
// The SDK ships for real: to a local ingest sink in a third process that reads every body and
// answers like peep (`{accepted}`), so batching, JSON, gzip and HTTP all cost what they cost.
//
//   node bench/sdk-overhead.mjs                          # 3 rounds of 10 s each
//   node bench/sdk-overhead.mjs --duration 20 --rounds 5 --connections 50 --log --json
//   node bench/sdk-overhead.mjs --events                 # one raw event per request
//
// Needs the TypeScript build (`npm run build:ts`).
import { fork } from 'node:child_process';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import zlib from 'node:zlib';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const self = fileURLToPath(import.meta.url);

const { values: opts } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '3' },
    connections: { type: 'string', default: '50' },
    log: { type: 'boolean', default: false },
    events: { type: 'boolean', default: false },
    'no-context': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    role: { type: 'string' }, // internal: 'sink' | 'plain' | 'sdk'
    endpoint: { type: 'string' }, // internal: the sink's URL for the sdk server
  },
});

if (opts.role === 'sink') await sink();
else if (opts.role) await server(opts.role);
else await main();

function listen(s) {
  return new Promise((resolve) => s.listen(0, '127.0.0.1', () => resolve(s.address().port)));
}

/** Child: an ingest endpoint that decodes every batch and answers like peep. */
async function sink() {
  let items = 0;
  const s = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      let body = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') body = zlib.gunzipSync(body);
      const n = JSON.parse(body.toString('utf8')).length;
      items += n;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ accepted: n, rejected: [], rejectedCount: 0 }));
    });
  });
  const port = await listen(s);
  process.send({ port });
  process.on('message', (m) => {
    if (m === 'count') process.send({ items });
  });
}

/** Child: the hello-world server, bare or instrumented. */
async function server(role) {
  let listener = (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('hello world');
  };
  let peep;
  if (role === 'sdk') {
    const { createPeep } = await import(path.join(root, 'sdk/dist/index.js'));
    peep = createPeep({
      endpoint: opts.endpoint,
      ingestKey: 'peep_ik_benchmark',
      service: 'hello',
      processHooks: false,
      aggregate: !opts.events,
      requestContext: !opts['no-context'],
    });
    const inner = listener;
    listener = opts.log
      ? (req, res) => {
          peep.logger.info('hello', { path: req.url });
          inner(req, res);
        }
      : inner;
    listener = peep.http(listener);
  }
  const s = http.createServer(listener);
  s.keepAliveTimeout = 60_000;
  const port = await listen(s);
  process.send({ port });
  let mark = process.cpuUsage();
  process.on('message', async (m) => {
    if (m === 'mark') {
      mark = process.cpuUsage();
      process.send({ ok: true });
      return;
    }
    if (m !== 'stop') return;
    // CPU of the measured run only (this process: event loop and libuv threads, gzip included)
    const cpu = process.cpuUsage(mark);
    if (peep) await peep.flush(10_000);
    process.send({ stats: peep?.stats() ?? null, cpuMicros: cpu.user + cpu.system });
    s.closeAllConnections();
    s.close(() => process.exit(0));
  });
}

function start(args) {
  const child = fork(self, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const first = new Promise((resolve) => child.once('message', resolve));
  return { child, first };
}

function ask(child, msg) {
  return new Promise((resolve) => {
    child.once('message', resolve);
    child.send(msg);
  });
}

async function main() {
  const { default: autocannon } = await import('autocannon');
  const duration = Number(opts.duration);
  const warmup = Number(opts.warmup);
  const rounds = Number(opts.rounds);
  const connections = Number(opts.connections);

  const sk = start(['--role', 'sink']);
  const { port: sinkPort } = await sk.first;
  const endpoint = `http://127.0.0.1:${sinkPort}`;

  const run = async (role) => {
    const flags = ['log', 'events', 'no-context'].filter((f) => opts[f]).map((f) => `--${f}`);
    const srv = start(['--role', role, '--endpoint', endpoint, ...flags]);
    const { port } = await srv.first;
    const url = `http://127.0.0.1:${port}/`;
    await autocannon({ url, connections, duration: warmup });
    await ask(srv.child, 'mark');
    const r = await autocannon({ url, connections, duration });
    const { stats, cpuMicros } = await ask(srv.child, 'stop');
    await new Promise((resolve) => srv.child.once('exit', resolve));
    return {
      role,
      rps: r.requests.average,
      requests: r.requests.total,
      p99: r.latency.p99,
      errors: r.errors + r.non2xx,
      cpuPerRequest: cpuMicros / r.requests.total,
      stats,
    };
  };

  const results = { plain: [], sdk: [] };
  for (let i = 0; i < rounds; i++) {
    const order = i % 2 === 0 ? ['plain', 'sdk'] : ['sdk', 'plain'];
    for (const role of order) {
      const r = await run(role);
      results[role].push(r);
      if (!opts.json) {
        const shipped = r.stats
          ? ` (sdk: ${r.stats.aggregates.sent} aggregates, ${r.stats.events.sent} events sent, ${r.stats.events.dropped} dropped, ${r.stats.logs.sent} logs sent)`
          : '';
        console.log(
          `round ${i + 1} ${role.padEnd(5)} ${r.rps.toFixed(0).padStart(7)} req/s  p99 ${r.p99} ms  ` +
            `server CPU ${r.cpuPerRequest.toFixed(1)} µs/request  errors ${r.errors}${shipped}`,
        );
      }
    }
  }
  const { items } = await ask(sk.child, 'count');
  sk.child.kill();

  const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const median = (xs) => {
    const s = [...xs].sort((a, b) => a - b);
    const m = Math.floor(s.length / 2);
    return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
  };
  const plain = results.plain.map((r) => r.rps);
  const sdk = results.sdk.map((r) => r.rps);
  const summary = {
    duration,
    rounds,
    connections,
    log: opts.log,
    mode: opts.events ? 'events' : 'aggregate',
    requestContext: !opts['no-context'],
    plain: { mean: mean(plain), median: median(plain), runs: plain },
    sdk: { mean: mean(sdk), median: median(sdk), runs: sdk },
    cpuMicrosPerRequest: {
      plain: median(results.plain.map((r) => r.cpuPerRequest)),
      sdk: median(results.sdk.map((r) => r.cpuPerRequest)),
    },
    loadAverage: os.loadavg()[0],
    lossPercentMean: (100 * (mean(plain) - mean(sdk))) / mean(plain),
    lossPercentMedian: (100 * (median(plain) - median(sdk))) / median(plain),
    sinkItems: items,
    sdkRequests: results.sdk.reduce((a, r) => a + r.requests, 0),
  };
  if (opts.json) {
    console.log(JSON.stringify(summary, null, 2));
    return;
  }
  console.log('');
  console.log(
    `mode: ${summary.mode}, request context ${summary.requestContext ? 'on' : 'off'}${opts.log ? ', one log per request' : ''}`,
  );
  console.log(
    `plain ${summary.plain.mean.toFixed(0)} req/s (median ${summary.plain.median.toFixed(0)}), ` +
      `sdk ${summary.sdk.mean.toFixed(0)} req/s (median ${summary.sdk.median.toFixed(0)})`,
  );
  console.log(
    `throughput loss with the SDK: ${summary.lossPercentMean.toFixed(1)}% (means), ` +
      `${summary.lossPercentMedian.toFixed(1)}% (medians); target < 5%`,
  );
  console.log(
    `server CPU per request (median): plain ${summary.cpuMicrosPerRequest.plain.toFixed(1)} µs, ` +
      `sdk ${summary.cpuMicrosPerRequest.sdk.toFixed(1)} µs; 1-minute load average ${summary.loadAverage.toFixed(1)} on ${os.cpus().length} CPUs`,
  );
  console.log(
    `the sink received ${summary.sinkItems} items for ${summary.sdkRequests} instrumented requests (warm-ups included)`,
  );
}
