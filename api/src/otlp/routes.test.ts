/**
 * OTLP/HTTP against a running peep (PGlite, and PostgreSQL when PEEP_TEST_DATABASE_URL is set): the
 * official OpenTelemetry JS exporters (JSON and protobuf, gzip) send traces, logs and metrics, and
 * the rows come back through the query API. Raw requests cover the answers the exporters hide:
 * partial_success, google.rpc.Status bodies in the request's format, 400, 401, 413, 415, 503.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import zlib from 'node:zlib';
import { SpanKind } from '@opentelemetry/api';
import { SeverityNumber } from '@opentelemetry/api-logs';
import {
  call,
  createOwner,
  createProjectWithKey,
  type ProjectWithKey,
  type SignedIn,
  startTestServer,
  type TestServer,
  testEngines,
} from '../testing.js';
import { decodeAnswer, ERROR_INFO, encodeRequest, type Format, type Msg, type Signal } from './decode.js';
import {
  exportLogs,
  exportMetrics,
  exportSpans,
  makeLogs,
  makeMetrics,
  makeSpans,
  type Target,
} from './testing.js';

const BODY_LIMIT = 256 * 1024;
const nanos = (ms: number) => String(BigInt(Math.floor(ms)) * 1_000_000n);

/** A SERVER span in OTLP/JSON; `extra` overrides fields. */
function jsonSpan(extra: Msg = {}): Msg {
  const now = Date.now();
  return {
    traceId: '5b8efff798038103d269b633813fc60c',
    spanId: 'eee19b7ec3c1b174',
    name: 'GET /raw',
    kind: 2,
    startTimeUnixNano: nanos(now - 40),
    endTimeUnixNano: nanos(now),
    attributes: [
      { key: 'http.request.method', value: { stringValue: 'GET' } },
      { key: 'http.route', value: { stringValue: '/raw' } },
      { key: 'http.response.status_code', value: { intValue: '200' } },
    ],
    ...extra,
  };
}
const jsonTraces = (service: string, spans: Msg[]): Msg => ({
  resourceSpans: [
    {
      resource: { attributes: [{ key: 'service.name', value: { stringValue: service } }] },
      scopeSpans: [{ spans }],
    },
  ],
});
/** protobufjs' fromObject wants ids as base64. */
const protoTraces = (service: string, spans: Msg[]) =>
  encodeRequest(
    'traces',
    JSON.parse(JSON.stringify(jsonTraces(service, spans)), (k, v) =>
      (k === 'traceId' || k === 'spanId') && typeof v === 'string'
        ? Buffer.from(v, 'hex').toString('base64')
        : v,
    ),
  );

for (const engine of testEngines()) {
  describe(`OTLP/HTTP ingest (${engine})`, () => {
    let server: TestServer;
    let owner: SignedIn;
    let p: ProjectWithKey;
    let target: (extra?: Partial<Target>) => Target;

    before(async () => {
      server = await startTestServer({
        engine,
        config: { ingestBodyLimit: BODY_LIMIT, ingestQueueMax: 1000 },
      });
      owner = await createOwner(server);
      p = await createProjectWithKey(server, owner);
      target = (extra = {}) => ({ url: server.url, headers: { Authorization: `Bearer ${p.key}` }, ...extra });
    });
    after(() => server.close());

    async function post(
      signal: Signal,
      body: Buffer | string,
      headers: Record<string, string> = {},
    ): Promise<{ status: number; type: string; headers: Headers; body: Buffer }> {
      const res = await fetch(`${server.url}/v1/${signal}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${p.key}`, 'content-type': 'application/json', ...headers },
        body,
      });
      return {
        status: res.status,
        type: res.headers.get('content-type') ?? '',
        headers: res.headers,
        body: Buffer.from(await res.arrayBuffer()),
      };
    }
    /** Reads a google.rpc.Status answer: message and the peep error code of its ErrorInfo. */
    function status(format: Format, body: Buffer): { message: string; reason: string } {
      const s = decodeAnswer('status', format, body) as { message: string; details: Msg[] };
      const d = s.details[0] ?? {};
      if (format === 'json') return { message: s.message, reason: String(d.reason) };
      const info = ERROR_INFO.decode(d.value as Uint8Array) as unknown as { reason: string };
      return { message: s.message, reason: info.reason };
    }
    const query = (path: string) => call(server, owner, 'GET', `/api/v1/projects/${p.projectId}${path}`);

    for (const [format, gzip] of [
      ['json', false],
      ['protobuf', false],
      ['protobuf', true],
      ['json', true],
    ] as const) {
      const service = `web-${format}${gzip ? '-gzip' : ''}`;
      test(`${service}: the trace exporter's SERVER spans arrive as request events`, async () => {
        const t0 = Date.now() - 5000;
        const spans = await makeSpans(
          (tracer) => {
            const s = tracer.startSpan('GET /items/:id', {
              kind: SpanKind.SERVER,
              startTime: t0,
              attributes: {
                'http.request.method': 'GET',
                'http.route': '/items/:id',
                'url.path': '/items/7',
                'http.response.status_code': 404,
                'http.request.header.x-request-id': ['rid-1'],
                'feature.flag': 'blue',
              },
            });
            s.end(t0 + 42);
            tracer.startSpan('SELECT items', { kind: SpanKind.CLIENT, startTime: t0 }).end(t0 + 5);
            tracer
              .startSpan('POST /items', {
                kind: SpanKind.SERVER,
                startTime: t0,
                attributes: { 'http.method': 'POST', 'http.target': '/items?x=1', 'http.status_code': 201 },
              })
              .end(t0 + 7);
          },
          { 'service.name': service, 'host.name': 'host-a' },
        );
        const r = await exportSpans(format, target({ gzip }), spans);
        assert.equal(r.code, 0, r.error?.message);
        const q = await query(`/telemetry/events?service=${service}`);
        assert.equal(q.status, 200, JSON.stringify(q.body));
        const events = q.body.events as Record<string, unknown>[];
        assert.equal(events.length, 2, 'two SERVER spans; the CLIENT span is not stored');
        const get = events.find((e) => e.method === 'GET');
        assert.deepEqual(
          {
            route: get?.route,
            status: get?.status,
            durationMs: get?.durationMs,
            requestId: get?.requestId,
            instance: get?.instance,
            traceId: get?.traceId,
            attributes: get?.attributes,
          },
          {
            route: '/items/:id',
            status: 404,
            durationMs: 42,
            requestId: 'rid-1',
            instance: 'host-a',
            traceId: spans[0]?.spanContext().traceId,
            attributes: { 'url.path': '/items/7', 'feature.flag': 'blue' },
          },
        );
        const postEvent = events.find((e) => e.method === 'POST');
        assert.deepEqual([postEvent?.route, postEvent?.status], ['/items', 201]);
        // The rollups saw them too.
        const routes = await query(`/telemetry/routes?service=${service}&from=1h`);
        assert.equal(routes.status, 200);
        assert.deepEqual((routes.body.routes as { route: string }[]).map((x) => x.route).sort(), [
          '/items',
          '/items/:id',
        ]);
      });
    }

    for (const format of ['json', 'protobuf'] as const) {
      test(`${format}: the log exporter's records arrive as runtime logs`, async () => {
        const service = `logs-${format}`;
        const logs = await makeLogs(
          (logger, withSpan) => {
            logger.emit({ severityNumber: SeverityNumber.WARN, body: `disk almost full (${format})` });
            logger.emit({
              severityNumber: SeverityNumber.ERROR,
              body: { msg: 'payment failed', amount: 12 },
              attributes: { 'order.id': 'o-1' },
              context: withSpan('0af7651916cd43dd8448eb211c80319c', 'b7ad6b7169203331'),
            });
          },
          { 'service.name': service },
        );
        const r = await exportLogs(format, target({ gzip: format === 'json' }), logs);
        assert.equal(r.code, 0, r.error?.message);
        const q = await query(`/logs?service=${service}&from=1h`);
        assert.equal(q.status, 200, JSON.stringify(q.body));
        const byLevel = Object.fromEntries(
          (q.body.logs as Record<string, unknown>[]).map((l) => [l.level, l]),
        );
        assert.equal(byLevel.warn?.message, `disk almost full (${format})`);
        assert.equal(byLevel.error?.message, '{"msg":"payment failed","amount":12}');
        assert.equal(byLevel.error?.traceId, '0af7651916cd43dd8448eb211c80319c');
        assert.equal(byLevel.error?.spanId, 'b7ad6b7169203331');
        assert.deepEqual(byLevel.error?.attributes, { 'order.id': 'o-1' });
        const byTrace = await query('/logs?traceId=0af7651916cd43dd8448eb211c80319c&from=1h');
        assert.ok((byTrace.body.logs as unknown[]).length >= 1);
      });

      test(`${format}: the metric exporter's histogram and sum points are stored and queryable`, async () => {
        const service = `metrics-${format}`;
        const rm = await makeMetrics(
          (meter) => {
            meter.createCounter('orders.created').add(5, { region: 'eu' });
            const h = meter.createHistogram('checkout.duration', {
              unit: 'ms',
              advice: { explicitBucketBoundaries: [10, 50, 250] },
            });
            for (const v of [4, 20, 30, 400]) h.record(v);
          },
          { resource: { 'service.name': service } },
        );
        const r = await exportMetrics(format, target({ gzip: format === 'protobuf' }), rm);
        assert.equal(r.code, 0, r.error?.message);
        const h = await query(`/telemetry/metric-points?name=checkout.duration&service=${service}&from=1h`);
        assert.equal(h.status, 200, JSON.stringify(h.body));
        const hp = h.body.points[0];
        assert.deepEqual(
          [
            hp?.kind,
            hp?.unit,
            hp?.count,
            hp?.sum,
            hp?.min,
            hp?.max,
            hp?.bounds,
            hp?.bucketCounts,
            hp?.temporality,
          ],
          ['histogram', 'ms', 4, 454, 4, 400, [10, 50, 250], [1, 2, 0, 1], 'cumulative'],
        );
        const s = await query(`/telemetry/metric-points?name=orders.created&service=${service}&from=1h`);
        const sp = s.body.points[0];
        assert.deepEqual(
          [sp?.kind, sp?.value, sp?.monotonic, sp?.attributes],
          ['sum', 5, true, { region: 'eu' }],
        );
        assert.equal(sp?.environmentId, p.environments[0]?.id);
      });
    }

    test('a full success answers an empty Export*ServiceResponse in the request content type', async () => {
      const j = await post('traces', JSON.stringify(jsonTraces('raw', [jsonSpan()])));
      assert.equal(j.status, 200);
      assert.match(j.type, /^application\/json/);
      assert.deepEqual(JSON.parse(j.body.toString()), {});
      const b = await post('traces', protoTraces('raw', [jsonSpan()]), {
        'content-type': 'application/x-protobuf',
      });
      assert.equal(b.status, 200);
      assert.equal(b.type, 'application/x-protobuf');
      assert.equal(b.body.length, 0, 'an empty protobuf message');
      const l = await post('logs', '{}');
      assert.deepEqual([l.status, l.body.toString()], [200, '{}'], 'an empty request is a success');
    });

    test('rejected items are counted in partial_success, and the others are stored', async () => {
      const spans = [
        jsonSpan({
          name: 'ok',
          attributes: [...(jsonSpan().attributes as Msg[]), { key: 'n', value: { intValue: 1 } }],
        }),
        jsonSpan({ name: 'bad-id', traceId: 'abcdef' }),
        jsonSpan({
          name: 'bad-status',
          attributes: [
            { key: 'http.method', value: { stringValue: 'GET' } },
            { key: 'http.status_code', value: { intValue: '999' } },
          ],
        }),
      ];
      const j = await post('traces', JSON.stringify(jsonTraces('partial-json', spans)));
      assert.equal(j.status, 200);
      assert.match(j.type, /^application\/json/);
      const body = JSON.parse(j.body.toString());
      assert.equal(body.partialSuccess.rejectedSpans, '2');
      assert.match(
        body.partialSuccess.errorMessage,
        /2 spans rejected: span "bad-id": traceId must be 32 hex digits; span "bad-status": status must be between 100 and 599/,
      );

      const b = await post('traces', protoTraces('partial-proto', spans), {
        'content-type': 'application/x-protobuf',
      });
      assert.equal(b.status, 200);
      assert.equal(b.type, 'application/x-protobuf');
      const pb = decodeAnswer('traces', 'protobuf', b.body) as {
        partialSuccess: { rejectedSpans: number; errorMessage: string };
      };
      assert.equal(pb.partialSuccess.rejectedSpans, 2);
      assert.match(pb.partialSuccess.errorMessage, /span "bad-id": traceId must be 16 bytes/);

      for (const service of ['partial-json', 'partial-proto']) {
        const q = await query(`/telemetry/events?service=${service}`);
        assert.deepEqual(
          (q.body.events as { route: string; attributes: unknown }[]).map((e) => [e.route, e.attributes]),
          [['/raw', { n: 1 }]],
        );
      }
      const m = await post(
        'metrics',
        JSON.stringify({
          resourceMetrics: [
            {
              scopeMetrics: [
                {
                  metrics: [
                    {
                      name: 'lat',
                      summary: { dataPoints: [{ count: '1', timeUnixNano: nanos(Date.now()) }] },
                    },
                  ],
                },
              ],
            },
          ],
        }),
      );
      assert.equal(m.status, 200);
      assert.equal(JSON.parse(m.body.toString()).partialSuccess.rejectedDataPoints, '1');
    });

    test('undecodable bodies are 400 with a google.rpc.Status in the request format', async () => {
      const b = await post('traces', Buffer.from('this is not protobuf'), {
        'content-type': 'application/x-protobuf',
      });
      assert.equal(b.status, 400);
      assert.equal(b.type, 'application/x-protobuf');
      const s = status('protobuf', b.body);
      assert.equal(s.reason, 'invalid_payload');
      assert.match(s.message, /not a valid protobuf ExportTraceServiceRequest/);

      const j = await post('logs', '{"resourceLogs": [');
      assert.equal(j.status, 400);
      assert.match(j.type, /^application\/json/);
      assert.deepEqual(status('json', j.body).reason, 'invalid_payload');
      const shape = await post('metrics', '{"resourceMetrics": {"not": "a list"}}');
      assert.equal(shape.status, 400);
      assert.match(status('json', shape.body).message, /resourceMetrics must be a list/);
      const gz = await post('traces', Buffer.from('not gzip'), { 'content-encoding': 'gzip' });
      assert.equal(gz.status, 400);
      assert.match(status('json', gz.body).message, /not valid gzip/);
    });

    test('bodies over the limit are 413, as sent or once decompressed', async () => {
      const big = Buffer.alloc(BODY_LIMIT + 1, 0x20);
      const r = await post('traces', big, { 'content-type': 'application/x-protobuf' });
      assert.equal(r.status, 413);
      assert.equal(r.type, 'application/x-protobuf');
      assert.equal(status('protobuf', r.body).reason, 'payload_too_large');
      const bomb = zlib.gzipSync(Buffer.alloc(BODY_LIMIT * 4 + 1, 0x20));
      assert.ok(bomb.length < BODY_LIMIT);
      const g = await post('traces', bomb, { 'content-encoding': 'gzip' });
      assert.equal(g.status, 413);
      assert.equal(status('json', g.body).reason, 'payload_too_large');
    });

    test('unknown content types and encodings are 415', async () => {
      const r = await post('traces', 'hello', { 'content-type': 'text/plain' });
      assert.equal(r.status, 415);
      assert.match(r.type, /^application\/json/);
      assert.equal(status('json', r.body).reason, 'unsupported_media_type');
      const e = await post('traces', '{}', { 'content-encoding': 'br' });
      assert.equal(e.status, 415);
      assert.equal(status('json', e.body).reason, 'unsupported_encoding');
    });

    test('a missing, unknown or revoked ingest key is 401, and the exporter gives up', async () => {
      const none = await fetch(`${server.url}/v1/traces`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-protobuf' },
        body: protoTraces('x', [jsonSpan()]),
      });
      assert.equal(none.status, 401);
      assert.equal(status('protobuf', Buffer.from(await none.arrayBuffer())).reason, 'ingest_key_invalid');
      const unknown = await post('traces', '{}', { authorization: 'Bearer peep_ik_nosuchkey' });
      assert.equal(unknown.status, 401);
      assert.equal(status('json', unknown.body).reason, 'ingest_key_invalid');

      const other = await createProjectWithKey(server, owner, { name: 'Revoked' });
      const revoke = await call(
        server,
        owner,
        'DELETE',
        `/api/v1/projects/${other.projectId}/ingest-keys/${other.keyId}`,
      );
      assert.equal(revoke.status, 204);
      const spans = await makeSpans((t) => t.startSpan('GET /', { kind: SpanKind.SERVER }).end());
      const r = await exportSpans(
        'protobuf',
        { url: server.url, headers: { Authorization: `Bearer ${other.key}` } },
        spans,
      );
      assert.equal(r.code, 1, 'the exporter reports failure');
      const revoked = await post('traces', '{}', { authorization: `Bearer ${other.key}` });
      assert.equal(revoked.status, 401);
      assert.equal(status('json', revoked.body).reason, 'ingest_key_revoked');
    });

    test('a full ingest queue answers 503 with Retry-After; the exporter retries and gets through', async () => {
      // Hold the writer: a transaction that locks request_events keeps the pipeline's commit waiting.
      let release = () => {};
      let locked = () => {};
      const isLocked = new Promise<void>((r) => {
        locked = r;
      });
      const holding = server.db.transaction(async (tx) => {
        await tx.query('LOCK TABLE request_events IN EXCLUSIVE MODE');
        locked();
        await new Promise<void>((r) => {
          release = r;
        });
      });
      await isLocked;
      try {
        const first = post('traces', JSON.stringify(jsonTraces('queue', [jsonSpan()])));
        while (server.api.pipeline.stats().queuedItems === 0) await new Promise((r) => setTimeout(r, 5));
        const many = Array.from({ length: 1000 }, () => jsonSpan());
        const refused = await post('traces', protoTraces('queue', many), {
          'content-type': 'application/x-protobuf',
        });
        assert.equal(refused.status, 503);
        assert.equal(refused.headers.get('retry-after'), '1');
        assert.equal(refused.type, 'application/x-protobuf');
        assert.equal(status('protobuf', refused.body).reason, 'ingest_overloaded');

        // The exporter is refused too, honours Retry-After, and succeeds once the queue drains.
        const refusedBefore = server.api.pipeline.stats().refused;
        const spans = await makeSpans(
          (t) => {
            for (let i = 0; i < 1000; i++)
              t.startSpan('GET /retry', {
                kind: SpanKind.SERVER,
                attributes: { 'http.method': 'GET' },
              }).end();
          },
          { 'service.name': 'retried' },
        );
        const exported = exportSpans('protobuf', target(), spans);
        while (server.api.pipeline.stats().refused === refusedBefore)
          await new Promise((r) => setTimeout(r, 5));
        release();
        await holding;
        assert.equal((await first).status, 200);
        const r = await exported;
        assert.equal(r.code, 0, r.error?.message);
        const q = await query('/telemetry/summary?service=retried&from=1h');
        assert.equal(q.body.count, 1000);
      } finally {
        release();
        await holding;
      }
    });
  });
}
