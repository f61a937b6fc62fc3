/**
 * Real OpenTelemetry JS clients for the OTLP tests: the official SDKs make the spans, log records and
 * metrics, and the official OTLP/HTTP exporters (JSON and protobuf, optionally gzip) send them. Also a
 * small HTTP server that records what the exporters send, for the decode/map tests. Test-only code
 * (the OpenTelemetry packages are devDependencies).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { context, type Meter, type Tracer, trace } from '@opentelemetry/api';
import type { Logger } from '@opentelemetry/api-logs';
import { OTLPLogExporter as JsonLogExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPLogExporter as ProtoLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { OTLPMetricExporter as JsonMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as ProtoMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { OTLPTraceExporter as JsonTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtoTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  InMemoryLogRecordExporter,
  LoggerProvider,
  type ReadableLogRecord,
  SimpleLogRecordProcessor,
} from '@opentelemetry/sdk-logs';
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
  type ResourceMetrics,
  type ViewOptions,
} from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import type { Format } from './decode.js';

export type ResourceAttributes = Record<string, string | number | boolean>;
const DEFAULT_RESOURCE: ResourceAttributes = { 'service.name': 'checkout', 'service.instance.id': 'pod-1' };

/** Spans made by a real tracer provider, collected in memory. */
export async function makeSpans(
  build: (tracer: Tracer) => void,
  resource: ResourceAttributes = DEFAULT_RESOURCE,
): Promise<ReadableSpan[]> {
  const mem = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes(resource),
    spanProcessors: [new SimpleSpanProcessor(mem)],
  });
  build(provider.getTracer('peep-test'));
  await provider.forceFlush();
  const spans = mem.getFinishedSpans();
  await provider.shutdown();
  return spans;
}

/** Log records made by a real logger provider. `spanContext` correlates them with a trace. */
export async function makeLogs(
  build: (
    logger: Logger,
    withSpan: (traceId: string, spanId: string) => ReturnType<typeof context.active>,
  ) => void,
  resource: ResourceAttributes = DEFAULT_RESOURCE,
): Promise<ReadableLogRecord[]> {
  const mem = new InMemoryLogRecordExporter();
  const provider = new LoggerProvider({
    resource: resourceFromAttributes(resource),
    processors: [new SimpleLogRecordProcessor({ exporter: mem })],
  });
  build(provider.getLogger('peep-test'), (traceId, spanId) =>
    trace.setSpanContext(context.active(), { traceId, spanId, traceFlags: 1 }),
  );
  await provider.forceFlush();
  const logs = mem.getFinishedLogRecords();
  await provider.shutdown();
  return logs;
}

/** One collection of a real meter provider (cumulative temporality unless told). */
export async function makeMetrics(
  build: (meter: Meter) => void,
  opts: { resource?: ResourceAttributes; views?: ViewOptions[]; temporality?: AggregationTemporality } = {},
): Promise<ResourceMetrics> {
  const mem = new InMemoryMetricExporter(opts.temporality ?? AggregationTemporality.CUMULATIVE);
  const reader = new PeriodicExportingMetricReader({ exporter: mem, exportIntervalMillis: 3_600_000 });
  const provider = new MeterProvider({
    resource: resourceFromAttributes(opts.resource ?? DEFAULT_RESOURCE),
    readers: [reader],
    ...(opts.views ? { views: opts.views } : {}),
  });
  build(provider.getMeter('peep-test'));
  await provider.forceFlush();
  const all = mem.getMetrics();
  await provider.shutdown();
  const rm = all[0];
  if (!rm) throw new Error('the meter provider exported nothing');
  return rm;
}

export interface Target {
  /** Base URL: the exporters post to `${url}/v1/traces` etc. */
  url: string;
  headers?: Record<string, string>;
  gzip?: boolean;
}
export interface ExportOutcome {
  /** 0 success, 1 failed (ExportResultCode). */
  code: number;
  error?: Error;
}

interface Exporter<T> {
  export(items: T, cb: (r: ExportOutcome) => void): void;
  shutdown(): Promise<void>;
}

function config(t: Target, path: string) {
  return {
    url: `${t.url}${path}`,
    headers: t.headers ?? {},
    compression: (t.gzip ? 'gzip' : 'none') as never,
    timeoutMillis: 10_000,
  };
}

async function send<T>(exporter: Exporter<T>, items: T): Promise<ExportOutcome> {
  const r = await new Promise<ExportOutcome>((resolve) => exporter.export(items, resolve));
  await exporter.shutdown();
  return r;
}

/** Sends spans with the official OTLP/HTTP trace exporter (JSON or protobuf). */
export function exportSpans(format: Format, t: Target, spans: ReadableSpan[]): Promise<ExportOutcome> {
  const c = config(t, '/v1/traces');
  return send(format === 'json' ? new JsonTraceExporter(c) : new ProtoTraceExporter(c), spans);
}
export function exportLogs(format: Format, t: Target, logs: ReadableLogRecord[]): Promise<ExportOutcome> {
  const c = config(t, '/v1/logs');
  return send(format === 'json' ? new JsonLogExporter(c) : new ProtoLogExporter(c), logs);
}
export function exportMetrics(format: Format, t: Target, rm: ResourceMetrics): Promise<ExportOutcome> {
  const c = config(t, '/v1/metrics');
  return send(format === 'json' ? new JsonMetricExporter(c) : new ProtoMetricExporter(c), rm);
}

export interface Captured {
  path: string;
  headers: http.IncomingHttpHeaders;
  /** The body as sent (still gzip when Content-Encoding says so). */
  body: Buffer;
}

/** An HTTP server that records every request and answers 200 with an empty body in its content type. */
export async function startCaptureServer(): Promise<{
  url: string;
  requests: Captured[];
  close(): Promise<void>;
}> {
  const requests: Captured[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests.push({ path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) });
      const json = (req.headers['content-type'] ?? '').startsWith('application/json');
      res.writeHead(200, { 'content-type': json ? 'application/json' : 'application/x-protobuf' });
      res.end(json ? '{}' : '');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
