#!/usr/bin/env node
// Live streams under load: `--subscribers` (1,000) concurrent Server-Sent Events connections to
// `GET /api/v1/projects/:id/stream/events` while `--rate` (5,000) events/s are ingested through the
// real ingest API, for `--duration` seconds. Events are spread over `--services` (50) services and
// each subscriber filters one service, as a dashboard tab does (20 subscribers per service, each
// receiving 1/50 of the traffic); `--unfiltered N` makes N of them take every event instead.
//
// Printed: deliveries, the delivery delay from the moment an event's batch was sent to the moment a
// subscriber parsed it (p50, p99, max), and the server's resident memory sampled every second (it
// must stay flat). The server runs in its own process (api/dist/testing.js, a fresh database).
//
//   node bench/live.mjs
//   node bench/live.mjs --engine postgres --duration 60 --unfiltered 10
import { spawn } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const self = fileURLToPath(import.meta.url);
const { values: opts } = parseArgs({
  options: {
    subscribers: { type: 'string', default: '1000' },
    rate: { type: 'string', default: '5000' },
    services: { type: 'string', default: '50' },
    duration: { type: 'string', default: '30' },
    unfiltered: { type: 'string', default: '0' },
    engine: { type: 'string' },
    profile: { type: 'string' }, // write a V8 CPU profile of the server into this folder
    json: { type: 'boolean', default: false },
    serve: { type: 'string' },
  },
});

async function serve(engine) {
  const { startTestServer, createOwner, createProjectWithKey } = await import(
    path.join(root, 'api/dist/testing.js')
  );
  const server = await startTestServer({ engine, config: { logLevel: 'warn' } });
  const owner = await createOwner(server);
  const p = await createProjectWithKey(server, owner, { name: 'live' });
  process.stdout.write(
    `${JSON.stringify({ url: server.url, key: p.key, projectId: p.projectId, cookie: owner.cookie })}\n`,
  );
  process.on('SIGTERM', async () => {
    await server.close();
    process.exit(0);
  });
}

const pct = (a, q) => (a.length ? a[Math.min(a.length - 1, Math.floor(q * a.length))] : null);

async function main() {
  const engine = opts.engine ?? 'pglite';
  const prof = opts.profile ? ['--cpu-prof', `--cpu-prof-dir=${opts.profile}`] : [];
  const child = spawn(process.execPath, [...prof, self, '--serve', engine], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const target = await new Promise((resolve) => {
    let buf = '';
    child.stdout.on('data', (d) => {
      buf += d;
      if (buf.includes('\n')) resolve(JSON.parse(buf.slice(0, buf.indexOf('\n'))));
    });
  });
  const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
  const subs = Number(opts.subscribers);
  const services = Number(opts.services);
  const unfiltered = Number(opts.unfiltered);
  const delays = [];
  let deliveries = 0;
  let connected = 0;
  let dropped = 0;
  const reqs = [];
  for (let i = 0; i < subs; i++) {
    const filter = i < unfiltered ? '' : `?service=svc-${i % services}`;
    await new Promise((resolve) => {
      const req = http.get(
        `${target.url}/api/v1/projects/${target.projectId}/stream/events${filter}`,
        { agent, headers: { cookie: target.cookie, accept: 'text/event-stream' } },
        (res) => {
          if (res.statusCode !== 200) throw new Error(`subscribe: ${res.statusCode}`);
          connected++;
          res.setEncoding('utf8');
          let buf = '';
          res.on('data', (chunk) => {
            buf += chunk;
            let cut = buf.indexOf('\n\n');
            while (cut >= 0) {
              const block = buf.slice(0, cut);
              buf = buf.slice(cut + 2);
              const d = block.indexOf('\ndata: ');
              if (d >= 0 && block.includes('event: request')) {
                const ev = JSON.parse(block.slice(d + 7));
                delays.push(Date.now() - ev.attributes.sentAt);
                deliveries++;
              } else if (block.includes('event: error')) dropped++;
              cut = buf.indexOf('\n\n');
            }
          });
          res.on('close', () => connected--);
          resolve();
        },
      );
      req.on('error', () => resolve());
      reqs.push(req);
    });
  }
  // Ingest: a batch every 20 ms, `rate` events/s in total, each stamped with its send time.
  const rate = Number(opts.rate);
  const perBatch = Math.max(1, Math.round(rate / 50));
  const seconds = Number(opts.duration);
  const rss = [];
  let sent = 0;
  let seq = 0;
  const post = (body) =>
    new Promise((resolve) => {
      const r = http.request(
        `${target.url}/api/v1/ingest/events`,
        {
          method: 'POST',
          agent,
          headers: { authorization: `Bearer ${target.key}`, 'content-type': 'application/json' },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode));
        },
      );
      r.on('error', () => resolve(0));
      r.end(body);
    });
  const sampler = setInterval(async () => {
    const text = await (await fetch(`${target.url}/metrics`)).text();
    const m = /^peep_process_resident_memory_bytes (\d+)/m.exec(text);
    if (m) rss.push(Math.round(Number(m[1]) / 1048576));
  }, 1000);
  const start = performance.now();
  const inflight = [];
  const acks = [];
  let warmDeliveries = 0;
  for (let k = 0; performance.now() - start < seconds * 1000; k++) {
    const due = start + k * 20;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    if (k === 250) {
      warmDeliveries = deliveries; // the first 5 s are warm-up
      delays.length = 0;
    }
    const at = Date.now();
    const items = [];
    for (let i = 0; i < perBatch; i++)
      items.push({
        service: `svc-${seq++ % services}`,
        route: '/live',
        method: 'GET',
        status: 200,
        durationMs: 1,
        attributes: { sentAt: at },
      });
    sent += items.length;
    const t = performance.now();
    inflight.push(
      post(JSON.stringify(items)).then((status) => acks.push(status === 200 ? performance.now() - t : 1e9)),
    );
  }
  await Promise.all(inflight);
  await new Promise((r) => setTimeout(r, 1000));
  clearInterval(sampler);
  delays.sort((a, b) => a - b);
  acks.sort((a, b) => a - b);
  const result = {
    ingestAckMs: { p50: Math.round(pct(acks, 0.5)), p99: Math.round(pct(acks, 0.99)) },
    engine,
    subscribers: subs,
    unfiltered,
    connectedAtEnd: connected,
    dropped,
    eventsPerSec: rate,
    sent,
    deliveries: deliveries - warmDeliveries,
    deliveriesPerSec: Math.round((deliveries - warmDeliveries) / (seconds - 5)),
    delayMs: { p50: pct(delays, 0.5), p99: pct(delays, 0.99), max: delays[delays.length - 1] ?? null },
    rssMiB: { first: rss[0], last: rss[rss.length - 1], min: Math.min(...rss), max: Math.max(...rss) },
  };
  if (opts.json) console.log(JSON.stringify(result, null, 2));
  else {
    console.log(
      `${engine}: ${subs} subscribers (${unfiltered} unfiltered, the rest 1 of ${services} services), ${rate} events/s for ${seconds} s`,
    );
    console.log(
      `  deliveries ${result.deliveries.toLocaleString('en')} (${result.deliveriesPerSec.toLocaleString('en')}/s), delay p50 ${result.delayMs.p50} ms, p99 ${result.delayMs.p99} ms, max ${result.delayMs.max} ms; connected at end ${connected}, told too slow ${dropped}`,
    );
    console.log(`  ingest ack p50 ${result.ingestAckMs.p50} ms, p99 ${result.ingestAckMs.p99} ms`);
    console.log(
      `  server RSS MiB: first ${result.rssMiB.first}, min ${result.rssMiB.min}, max ${result.rssMiB.max}, last ${result.rssMiB.last} (${rss.join(' ')})`,
    );
  }
  for (const r of reqs) r.destroy();
  agent.destroy();
  child.kill('SIGTERM');
}

if (opts.serve) await serve(opts.serve);
else await main();
