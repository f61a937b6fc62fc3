/** Prometheus metrics: HTTP request counts and latency per route and status, plus process metrics. */
import { AppError, safeEqual } from '@peep/pkg';
import type { FastifyInstance } from 'fastify';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'peep_' });
  const requests = new Counter({
    name: 'peep_http_requests_total',
    help: 'HTTP requests answered by the API, by method, route template and status code.',
    labelNames: ['method', 'route', 'status_code'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'peep_http_request_duration_seconds',
    help: 'Time to answer HTTP requests, by method, route template and status code.',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const ingestItems = new Counter({
    name: 'peep_ingest_items_total',
    help: 'Telemetry items (request events, logs, metric points) committed by the ingest pipeline.',
    registers: [registry],
  });
  const ingestCommits = new Histogram({
    name: 'peep_ingest_commit_duration_seconds',
    help: 'Time to commit one group of ingest batches (raw rows and rollups).',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  /** Read at scrape time; the parts that know the numbers replace them. */
  const probes = { ingestQueue: () => 0, streamConnections: () => 0 };
  new Gauge({
    name: 'peep_ingest_queue_items',
    help: 'Telemetry items waiting for commit.',
    registers: [registry],
    collect() {
      this.set(probes.ingestQueue());
    },
  });
  new Gauge({
    name: 'peep_stream_connections',
    help: 'Open live-stream (Server-Sent Events) connections.',
    registers: [registry],
    collect() {
      this.set(probes.streamConnections());
    },
  });
  return { registry, requests, duration, ingestItems, ingestCommits, probes };
}
export type Metrics = ReturnType<typeof createMetrics>;

export function registerMetrics(app: FastifyInstance, metrics: Metrics, token: string) {
  app.addHook('onResponse', async (req, reply) => {
    // Unmatched paths share one label so scanners cannot blow up the series count.
    const route = req.routeOptions.url ?? 'unmatched';
    const labels = { method: req.method, route, status_code: String(reply.statusCode) };
    metrics.requests.inc(labels);
    metrics.duration.observe(labels, reply.elapsedTime / 1000);
  });
  app.get('/metrics', { schema: { hide: true } }, async (req, reply) => {
    if (token) {
      const h = req.headers.authorization ?? '';
      if (!safeEqual(h, `Bearer ${token}`))
        throw new AppError('unauthenticated', 'Send "Authorization: Bearer <PEEP_METRICS_TOKEN>".');
    }
    reply.type(metrics.registry.contentType);
    return lintClean(await metrics.registry.metrics());
  });
}

/**
 * prom-client exposes three gauges named `*_total`, a suffix reserved for counters (promtool rejects
 * it). They only sum the per-type gauges of the same name without the suffix, so they are left out:
 * `sum(peep_nodejs_active_handles)` gives the same number.
 */
const GAUGES_NAMED_TOTAL = /^(# (HELP|TYPE) )?peep_nodejs_active_(handles|requests|resources)_total\b/;
function lintClean(text: string): string {
  return text
    .split('\n')
    .filter((line) => !GAUGES_NAMED_TOTAL.test(line))
    .join('\n');
}
