/**
 * OTLP decoding and mapping without a server: the official OpenTelemetry JS exporters send to a
 * recording HTTP server, and the recorded bodies (JSON and protobuf, plain and gzip) must decode and
 * map to the same rows. Hand-written OTLP/JSON covers what the SDKs never send.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, test } from 'node:test';
import zlib from 'node:zlib';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { SeverityNumber } from '@opentelemetry/api-logs';
import { AggregationType } from '@opentelemetry/sdk-metrics';
import { AppError } from '@peep/pkg';
import type { CheckContext, MetricRow } from '../telemetry/types.js';
import { decodeRequest, encodeRequest, type Format, type Msg, type Signal } from './decode.js';
import { capAttributes, exponentialPoint, levelOf, mapLogs, mapMetrics, mapTraces } from './map.js';
import {
  type Captured,
  exportLogs,
  exportMetrics,
  exportSpans,
  makeLogs,
  makeMetrics,
  makeSpans,
  startCaptureServer,
} from './testing.js';

const FORMATS: Format[] = ['json', 'protobuf'];
const ctx = (): CheckContext => ({ now: Date.now(), oldest: Date.now() - 7 * 86_400_000 });

let capture: Awaited<ReturnType<typeof startCaptureServer>>;
before(async () => {
  capture = await startCaptureServer();
});
after(() => capture.close());

/** Sends through the exporter and returns the one recorded request. */
async function recorded(send: () => Promise<{ code: number; error?: Error }>): Promise<Captured> {
  const n = capture.requests.length;
  const r = await send();
  assert.equal(r.code, 0, `export failed: ${r.error?.message}`);
  assert.equal(capture.requests.length, n + 1);
  return capture.requests[n] as Captured;
}

function decodeCaptured(signal: Signal, c: Captured): Msg {
  const format: Format = String(c.headers['content-type']).startsWith('application/json')
    ? 'json'
    : 'protobuf';
  const body = c.headers['content-encoding'] === 'gzip' ? zlib.gunzipSync(c.body) : c.body;
  return decodeRequest(signal, format, body);
}

describe('the vendored protobuf descriptor', () => {
  test('descriptor.ts is what proto/generate.mjs makes from the .proto files', async () => {
    const srcDir = new URL('../../src/otlp/', import.meta.url);
    const { generate } = (await import(new URL('proto/generate.mjs', srcDir).href)) as { generate(): string };
    assert.equal(fs.readFileSync(new URL('descriptor.ts', srcDir), 'utf8'), generate());
  });
});

describe('traces from the OpenTelemetry exporters', () => {
  const t0 = Date.now() - 60_000;
  const spans = () =>
    makeSpans((tracer) => {
      const a = tracer.startSpan('GET /users/:id', {
        kind: SpanKind.SERVER,
        startTime: t0,
        attributes: {
          'http.request.method': 'GET',
          'http.route': '/users/:id',
          'url.path': '/users/42',
          'http.response.status_code': 200,
          'http.request.header.x-request-id': ['req-1'],
          'http.response.body.size': 512,
          'user.tier': 'gold',
          retries: 2,
          cached: false,
          ratio: 0.25,
          tags: ['a', 'b'],
        },
      });
      a.end(t0 + 120.5);
      // Old semantic conventions; the route falls back to the target's path.
      const b = tracer.startSpan('POST', {
        kind: SpanKind.SERVER,
        startTime: t0,
        attributes: { 'http.method': 'post', 'http.target': '/orders?id=7', 'http.status_code': 503 },
      });
      b.end(t0 + 2000);
      // No status code: the span status decides.
      const c = tracer.startSpan('checkout.Pay/Charge', {
        kind: SpanKind.SERVER,
        startTime: t0,
        attributes: { 'rpc.system': 'grpc' },
      });
      c.setStatus({ code: SpanStatusCode.ERROR, message: 'boom' });
      c.end(t0 + 3);
      tracer.startSpan('SELECT', { kind: SpanKind.CLIENT, startTime: t0 }).end(t0 + 1);
      tracer.startSpan('work', { kind: SpanKind.INTERNAL, startTime: t0 }).end(t0 + 1);
      // A server span that names no method: rejected.
      tracer.startSpan('mystery', { kind: SpanKind.SERVER, startTime: t0 }).end(t0 + 1);
    });

  const results: Record<string, ReturnType<typeof mapTraces>> = {};
  for (const format of FORMATS) {
    for (const gzip of [false, true]) {
      test(`${format}${gzip ? ' gzip' : ''}: SERVER spans become request events`, async () => {
        const s = await spans();
        const c = await recorded(() => exportSpans(format, { url: capture.url, gzip }, s));
        assert.equal(c.path, '/v1/traces');
        assert.equal(c.headers['content-encoding'], gzip ? 'gzip' : undefined);
        const m = mapTraces(decodeCaptured('traces', c), ctx());
        results[`${format}${gzip}`] = m;
        assert.equal(m.rows.length, 3);
        assert.equal(m.ignored, 2, 'CLIENT and INTERNAL spans are accepted, not stored');
        assert.equal(m.rejected, 1);
        assert.match(m.messages[0] ?? '', /span "mystery": a SERVER span needs http.request.method/);

        const [a, b, cc] = m.rows;
        const traceId = s.find((x) => x.name === 'GET /users/:id')?.spanContext().traceId;
        assert.deepEqual(a, {
          time: Math.floor(t0 + 120.5),
          service: 'checkout',
          route: '/users/:id',
          method: 'GET',
          status: 200,
          durationMs: 120.5,
          bytesIn: null,
          bytesOut: 512,
          requestId: 'req-1',
          traceId,
          instance: 'pod-1',
          attributes: {
            'url.path': '/users/42',
            'user.tier': 'gold',
            retries: 2,
            cached: false,
            ratio: 0.25,
            tags: '["a","b"]',
          },
        });
        assert.equal(b?.route, '/orders');
        assert.equal(b?.method, 'POST');
        assert.equal(b?.status, 503);
        assert.equal(b?.durationMs, 2000);
        assert.equal(cc?.route, 'checkout.Pay/Charge', 'no HTTP route: the span name');
        assert.equal(cc?.method, 'GRPC');
        assert.equal(cc?.status, 500, 'span status ERROR without an HTTP status: 500');
      });
    }
  }
  test('JSON and protobuf bodies map to the same rows (apart from trace ids)', () => {
    const strip = (m: ReturnType<typeof mapTraces> | undefined) =>
      m?.rows.map((r) => ({ ...r, traceId: r.traceId?.length }));
    assert.ok(results.jsonfalse && results.protobuffalse && results.protobuftrue);
    assert.deepEqual(strip(results.jsonfalse), strip(results.protobuffalse));
    assert.deepEqual(strip(results.protobuftrue), strip(results.protobuffalse));
  });
});

describe('logs from the OpenTelemetry exporters', () => {
  const traceId = '5b8efff798038103d269b633813fc60c';
  const spanId = 'eee19b7ec3c1b174';
  const t = Date.now() - 1000;
  for (const format of FORMATS) {
    test(`${format}: log records become runtime logs with levels, bodies, trace ids`, async () => {
      const logs = await makeLogs((logger, withSpan) => {
        logger.emit({
          severityNumber: SeverityNumber.INFO,
          severityText: 'INFO',
          body: 'user signed in',
          timestamp: t,
        });
        logger.emit({
          severityNumber: SeverityNumber.ERROR2,
          body: { error: 'card declined', code: 402 },
          attributes: { 'http.request.header.x-request-id': 'req-9', 'user.id': 'u1' },
          context: withSpan(traceId, spanId),
          timestamp: t,
        });
        logger.emit({ severityNumber: SeverityNumber.TRACE, body: 'tick', timestamp: t });
        logger.emit({ severityNumber: SeverityNumber.FATAL4, body: 'dead', timestamp: t });
        logger.emit({ severityText: 'Warning', body: 'no number', timestamp: t });
      });
      const c = await recorded(() =>
        exportLogs(format, { url: capture.url, gzip: format === 'protobuf' }, logs),
      );
      assert.equal(c.path, '/v1/logs');
      const m = mapLogs(decodeCaptured('logs', c), ctx());
      assert.equal(m.rejected, 0, m.messages.join('; '));
      assert.deepEqual(
        m.rows.map((r) => [r.level, r.message]),
        [
          [3, 'user signed in'],
          [5, '{"error":"card declined","code":402}'],
          [1, 'tick'],
          [6, 'dead'],
          [4, 'no number'],
        ],
      );
      const e = m.rows[1];
      assert.equal(e?.traceId, traceId);
      assert.equal(e?.spanId, spanId);
      assert.equal(e?.requestId, 'req-9');
      assert.deepEqual(e?.attributes, { 'user.id': 'u1' });
      assert.equal(e?.service, 'checkout');
      assert.equal(e?.instance, 'pod-1');
      assert.equal(e?.time, Math.floor(t));
      assert.equal(m.rows[0]?.traceId, null);
    });
  }
});

describe('metrics from the OpenTelemetry exporters', () => {
  const recordedValues = [3, 7, 50, 51, 900];
  const byName = (rows: MetricRow[], name: string) => rows.filter((r) => r.name === name);
  const results: Record<string, MetricRow[]> = {};
  for (const format of FORMATS) {
    test(`${format}: sums, gauges, histograms and exponential histograms become metric points`, async () => {
      const rm = await makeMetrics(
        (meter) => {
          const requests = meter.createCounter('http.requests', { unit: '1' });
          requests.add(3, { route: '/a' });
          requests.add(2, { route: '/b' });
          meter.createUpDownCounter('queue.depth').add(-4);
          meter.createGauge('cpu.temp', { unit: 'Cel' }).record(61.5);
          const h = meter.createHistogram('http.duration', {
            unit: 'ms',
            advice: { explicitBucketBoundaries: [10, 100] },
          });
          const e = meter.createHistogram('db.duration', { unit: 'ms' });
          for (const v of recordedValues) {
            h.record(v);
            e.record(v);
          }
        },
        {
          views: [
            { instrumentName: 'db.duration', aggregation: { type: AggregationType.EXPONENTIAL_HISTOGRAM } },
          ],
        },
      );
      const c = await recorded(() => exportMetrics(format, { url: capture.url }, rm));
      assert.equal(c.path, '/v1/metrics');
      const m = mapMetrics(decodeCaptured('metrics', c), ctx());
      assert.equal(m.rejected, 0, m.messages.join('; '));
      results[format] = m.rows;

      const sums = byName(m.rows, 'http.requests');
      assert.deepEqual(
        sums.map((r) => [
          r.kind,
          r.value,
          r.monotonic,
          r.temporality,
          r.unit,
          r.attributes?.route,
          r.service,
        ]),
        [
          ['sum', 3, true, 'cumulative', '1', '/a', 'checkout'],
          ['sum', 2, true, 'cumulative', '1', '/b', 'checkout'],
        ],
      );
      assert.ok(sums[0]?.startTime && sums[0].startTime <= sums[0].time);
      const updown = byName(m.rows, 'queue.depth')[0];
      assert.deepEqual([updown?.kind, updown?.value, updown?.monotonic], ['sum', -4, false]);
      const gauge = byName(m.rows, 'cpu.temp')[0];
      assert.deepEqual(
        [gauge?.kind, gauge?.value, gauge?.temporality, gauge?.unit],
        ['gauge', 61.5, null, 'Cel'],
      );

      const h = byName(m.rows, 'http.duration')[0];
      assert.deepEqual(
        [h?.kind, h?.count, h?.sum, h?.min, h?.max, h?.bounds, h?.bucketCounts, h?.temporality],
        ['histogram', 5, 1011, 3, 900, [10, 100], [2, 2, 1], 'cumulative'],
      );

      // The exponential histogram is stored as the equivalent explicit one: every recorded value
      // falls in the bucket the stored bounds give it (upper bounds inclusive).
      const e = byName(m.rows, 'db.duration')[0];
      assert.equal(e?.kind, 'histogram');
      assert.deepEqual([e?.count, e?.sum, e?.min, e?.max], [5, 1011, 3, 900]);
      const bounds = e?.bounds ?? [];
      assert.ok(bounds.length >= 2);
      const expected = new Array(bounds.length + 1).fill(0);
      for (const v of recordedValues) {
        const i = bounds.findIndex((b) => v <= b);
        expected[i === -1 ? bounds.length : i]++;
      }
      assert.deepEqual(e?.bucketCounts, expected);
    });
  }
  test('JSON and protobuf metric bodies map to the same rows', () => {
    assert.ok(results.json && results.protobuf);
    const norm = (rows: MetricRow[]) => rows.map((r) => ({ ...r, time: 0, startTime: 0 }));
    assert.deepEqual(norm(results.json), norm(results.protobuf));
  });
});

describe('OTLP/JSON as the specification writes it', () => {
  const nanos = (ms: number) => String(BigInt(ms) * 1_000_000n);
  const now = Date.now();
  const server = (extra: Msg = {}) => ({
    traceId: '5B8EFFF798038103D269B633813FC60C',
    spanId: 'EEE19B7EC3C1B174',
    name: 'GET /x',
    kind: 2,
    startTimeUnixNano: nanos(now - 1000),
    endTimeUnixNano: nanos(now),
    attributes: [
      { key: 'http.request.method', value: { stringValue: 'GET' } },
      { key: 'http.route', value: { stringValue: '/x' } },
      { key: 'http.response.status_code', value: { intValue: '201' } },
    ],
    ...extra,
  });
  const traces = (...spans: Msg[]): Msg => ({
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'my.service' } }] },
        scopeSpans: [{ scope: { name: 'my.library' }, spans }],
      },
    ],
  });
  const json = (signal: Signal, v: unknown) => decodeRequest(signal, 'json', Buffer.from(JSON.stringify(v)));

  test('hex ids in any case, int64 as strings or numbers, the status from intValue', () => {
    const m = mapTraces(
      json('traces', traces(server(), server({ startTimeUnixNano: (now - 5) * 1e6 }))),
      ctx(),
    );
    assert.equal(m.rejected, 0);
    assert.equal(m.rows[0]?.traceId, '5b8efff798038103d269b633813fc60c');
    assert.equal(m.rows[0]?.status, 201);
    assert.equal(m.rows[0]?.durationMs, 1000);
    assert.equal(m.rows[1]?.durationMs, 5);
  });

  test('a bad item is rejected alone, with the reason; unknown fields are ignored', () => {
    const m = mapTraces(
      json(
        'traces',
        traces(
          server({ traceId: 'not-hex', someFutureField: { x: 1 } }),
          server({
            startTimeUnixNano: nanos(now - 30 * 86_400_000),
            endTimeUnixNano: nanos(now - 30 * 86_400_000),
          }),
          server({ kind: 'SPAN_KIND_SERVER' }),
          server({ someFutureField: 1 }),
        ),
      ),
      ctx(),
    );
    assert.equal(m.rows.length, 1);
    assert.equal(m.rejected, 3);
    assert.match(m.messages[0] ?? '', /traceId must be 32 hex digits/);
    assert.match(m.messages[1] ?? '', /raw retention/);
    assert.match(m.messages[2] ?? '', /kind must be an integer/);
  });

  test('a malformed envelope or body is a bad request (invalid_payload)', () => {
    const invalid = (f: () => unknown, re: RegExp) =>
      assert.throws(
        f,
        (e: unknown) => e instanceof AppError && e.code === 'invalid_payload' && re.test(e.message),
      );
    invalid(() => mapTraces(json('traces', { resourceSpans: {} }), ctx()), /resourceSpans must be a list/);
    invalid(() => mapLogs(json('logs', { resourceLogs: [{ scopeLogs: 'x' }] }), ctx()), /scopeLogs/);
    invalid(() => decodeRequest('traces', 'json', Buffer.from('{"resourceSpans": [')), /not valid JSON/);
    invalid(() => decodeRequest('traces', 'json', Buffer.from('[]')), /ExportTraceServiceRequest/);
    invalid(() => decodeRequest('traces', 'protobuf', Buffer.from('not protobuf at all')), /protobuf/);
  });

  test('a log body nested too deep rejects that record, not the request', () => {
    const deep = `${'{"arrayValue":{"values":['.repeat(1000)}{"stringValue":"leaf"}${']}}'.repeat(1000)}`;
    const body = `{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":${deep}},{"body":{"stringValue":"fine"}}]}]}]}`;
    const m = mapLogs(decodeRequest('logs', 'json', Buffer.from(body)), ctx());
    assert.equal(m.rejected, 1);
    assert.match(m.messages[0] ?? '', /nest deeper than 32 levels/);
    assert.deepEqual(
      m.rows.map((r) => r.message),
      ['fine'],
    );
  });

  test('an empty request is a success with nothing stored', () => {
    for (const [signal, map] of [
      ['traces', mapTraces],
      ['logs', mapLogs],
      ['metrics', mapMetrics],
    ] as const) {
      const m = map(json(signal, {}), ctx());
      assert.deepEqual([m.rows.length, m.rejected], [0, 0]);
    }
  });

  test('summary points are rejected; points flagged "no recorded value" are skipped', () => {
    const req = {
      resourceMetrics: [
        {
          scopeMetrics: [
            {
              metrics: [
                {
                  name: 'rpc.latency',
                  summary: { dataPoints: [{ timeUnixNano: nanos(now), count: '2', sum: 3 }] },
                },
                { name: 'up', gauge: { dataPoints: [{ timeUnixNano: nanos(now), asInt: '1', flags: 1 }] } },
                { name: 'up', gauge: { dataPoints: [{ timeUnixNano: nanos(now), asDouble: 'NaN' }] } },
                { name: 'up', gauge: { dataPoints: [{ timeUnixNano: nanos(now), asInt: 9 }] } },
              ],
            },
          ],
        },
      ],
    };
    const m = mapMetrics(json('metrics', req), ctx());
    assert.equal(m.rejected, 2);
    assert.equal(m.ignored, 1);
    assert.match(m.messages[0] ?? '', /summary metrics are not stored/);
    assert.match(m.messages[1] ?? '', /asDouble must be a finite number/);
    assert.deepEqual(
      m.rows.map((r) => [r.name, r.value, r.service]),
      [['up', 9, 'unknown_service']],
    );
  });

  test('protobuf from protobufjs itself decodes like the JSON form', () => {
    const obj = traces(server());
    const pb = decodeRequest('traces', 'protobuf', encodeRequest('traces', hexToBase64(obj)));
    assert.deepEqual(mapTraces(pb, ctx()).rows, mapTraces(json('traces', obj), ctx()).rows);
  });
});

/** protobufjs' fromObject reads bytes as base64: convert the hex ids of a JSON request. */
function hexToBase64(v: Msg): Msg {
  return JSON.parse(JSON.stringify(v), (k, x) =>
    (k === 'traceId' || k === 'spanId') && typeof x === 'string'
      ? Buffer.from(x, 'hex').toString('base64')
      : x,
  ) as Msg;
}

describe('mapping rules', () => {
  test('severity numbers map to the six levels at the range edges', () => {
    const at = (n: number) => levelOf(n, '');
    assert.deepEqual([1, 4, 5, 8, 9, 12, 13, 16, 17, 20, 21, 24].map(at), [
      'trace',
      'trace',
      'debug',
      'debug',
      'info',
      'info',
      'warn',
      'warn',
      'error',
      'error',
      'fatal',
      'fatal',
    ]);
    assert.equal(levelOf(0, 'CRITICAL'), 'fatal');
    assert.equal(levelOf(0, ''), 'info');
  });

  test('attributes are capped at 64 keys and 8 KB of JSON, long values cut', () => {
    const many = new Map(Array.from({ length: 100 }, (_, i) => [`k${i}`, i] as [string, number]));
    assert.equal(Object.keys(capAttributes(many, new Set()) ?? {}).length, 64);
    const big = new Map<string, string>([
      ['a', 'x'.repeat(5000)],
      ['b', 'y'.repeat(5000)],
      ['c', 'z'],
    ]);
    const capped = capAttributes(big, new Set()) ?? {};
    assert.equal((capped.a as string).length, 2048);
    assert.ok(JSON.stringify(capped).length <= 8192);
    assert.equal(capped.c, 'z');
    // Quotes double in JSON: the budget counts them escaped (2,047 quotes + … are 4,097 characters).
    const escaped = capAttributes(
      new Map([
        ['q', '"'.repeat(3000)],
        ['r', '"'.repeat(3000)],
        ['s', 'ok'],
      ]),
      new Set(),
    );
    assert.ok(JSON.stringify(escaped).length <= 8192, String(JSON.stringify(escaped).length));
    assert.deepEqual(Object.keys(escaped ?? {}), ['q', 's']);
  });

  test('an exponential histogram with only positive buckets becomes exact explicit buckets', () => {
    // scale 0: base 2; offset 2 → buckets (4, 8], (8, 16]
    const h = exponentialPoint({
      scale: 0,
      count: '6',
      zeroCount: '1',
      sum: 40,
      positive: { offset: 2, bucketCounts: ['2', '3'] },
    });
    assert.deepEqual(h.bounds, [4, 8, 16]);
    assert.deepEqual(h.bucketCounts, [1, 2, 3, 0]);
    const neg = exponentialPoint({ scale: 0, count: '1', negative: { offset: 0, bucketCounts: ['1'] } });
    assert.deepEqual([neg.count, neg.bounds, neg.bucketCounts], [1, null, null]);
  });
});
