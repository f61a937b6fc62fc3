#!/usr/bin/env node
// OTLP decode + map cost per span, in CPU time of this process (so a busy machine skews it less than
// wall time): one ExportTraceServiceRequest of `--spans` SERVER spans (8 attributes each, as HTTP
// instrumentation writes them), as the official OTLP exporters send it in protobuf and JSON,
// then decoded and mapped to request events by api/src/otlp (decode.ts, map.ts) `--rounds` times.
// No HTTP and no database: the figure is the ceiling the OTLP path adds before the ingest pipeline.
//
//   node bench/otlp-decode.mjs [--spans 5000] [--rounds 20]
//
// Needs the TypeScript build (`npm run build:ts`) and the api workspace's devDependencies.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: { spans: { type: 'string', default: '5000' }, rounds: { type: 'string', default: '20' } },
});
const N = Number(values.spans);
const ROUNDS = Number(values.rounds);
const api = (p) => import(path.join(root, 'api', p));
const { SpanKind } = await import('@opentelemetry/api');
const { decodeRequest } = await api('dist/otlp/decode.js');
const { mapTraces } = await api('dist/otlp/map.js');
const { makeSpans, exportSpans, startCaptureServer } = await api('dist/otlp/testing.js');

const spans = await makeSpans((t) => {
  for (let i = 0; i < N; i++) {
    t.startSpan('GET /users/:id', {
      kind: SpanKind.SERVER,
      attributes: {
        'http.request.method': 'GET',
        'http.route': '/users/:id',
        'url.path': `/users/${i}`,
        'http.response.status_code': 200,
        'server.address': 'api.example.com',
        'user_agent.original': 'Mozilla/5.0 (X11; Linux x86_64)',
        'client.address': '10.0.0.1',
        'network.protocol.version': '1.1',
      },
    }).end();
  }
});
// The bodies exactly as the official exporters send them.
const capture = await startCaptureServer();
const bodies = {};
for (const format of ['protobuf', 'json']) {
  const r = await exportSpans(format, { url: capture.url }, spans);
  if (r.code !== 0) throw new Error(`export failed: ${r.error?.message}`);
  bodies[format] = capture.requests.at(-1).body;
}
await capture.close();
const ctx = () => ({ now: Date.now(), oldest: 0 });
const cpuMs = (u) => (u.user + u.system) / 1000;

for (const [format, body] of Object.entries(bodies)) {
  for (let w = 0; w < 5; w++) mapTraces(decodeRequest('traces', format, body), ctx());
  let decode = 0;
  let map = 0;
  for (let r = 0; r < ROUNDS; r++) {
    const c0 = process.cpuUsage();
    const msg = decodeRequest('traces', format, body);
    const c1 = process.cpuUsage(c0);
    const out = mapTraces(msg, ctx());
    const c2 = process.cpuUsage(c0);
    if (out.rows.length !== N) throw new Error(`mapped ${out.rows.length} of ${N} spans`);
    decode += cpuMs(c1);
    map += cpuMs(c2) - cpuMs(c1);
  }
  const per = (decode + map) / ROUNDS;
  console.log(
    `${format.padEnd(8)} ${N} spans, ${(body.length / 1024).toFixed(0)} KiB: decode ${(decode / ROUNDS).toFixed(1)} ms + map ${(map / ROUNDS).toFixed(1)} ms = ${Math.round((N / per) * 1000).toLocaleString('en')} spans/s of CPU`,
  );
}
