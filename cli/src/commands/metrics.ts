/**
 * `peep metrics`: latency percentiles, throughput and error rate per route over a recent window,
 * from GET …/telemetry/summary and …/telemetry/routes (percentiles merged from rollup sketches by
 * the server). `--json` prints `{project, summary, routes}` with the API's own shapes.
 */
import type { RouteStats as RouteRow, Summary } from '@peep/pkg/telemetry';
import type { Context } from '../context.js';
import type { Cell } from '../output.js';
import { pickProject } from './project-ref.js';

export interface MetricsOptions {
  project?: string;
  service?: string;
  route?: string;
  env?: string;
  since?: string;
  sort?: 'traffic' | 'p95' | 'errors';
  limit?: number;
}

/** Milliseconds with three significant digits at most: `0.42`, `4.2`, `42`, `420`, `4200`. */
export function formatMs(v: number | null | undefined): string {
  if (v === null || v === undefined) return '-';
  if (v >= 100) return String(Math.round(v));
  if (v >= 10) return v.toFixed(1).replace(/\.0$/, '');
  return v.toFixed(2).replace(/\.?0+$/, '') || '0';
}

export function formatRate(v: number | null | undefined): string {
  if (v === null || v === undefined) return '-';
  return `${(v * 100).toFixed(v > 0 && v < 0.001 ? 2 : 1)}%`;
}

export function formatRps(v: number): string {
  return v >= 100 ? String(Math.round(v)) : v >= 1 ? v.toFixed(1) : v.toFixed(3);
}

export async function metrics(ctx: Context, o: MetricsOptions): Promise<void> {
  const api = ctx.client();
  const p = await pickProject(ctx, api, o.project);
  const filters = { from: o.since ?? '1h', env: o.env, service: o.service, route: o.route };
  const base = `/api/v1/projects/${p.id}/telemetry`;
  const [summary, routes] = await Promise.all([
    api.get<Summary>(`${base}/summary`, filters),
    api.get<{ routes: RouteRow[] }>(`${base}/routes`, {
      ...filters,
      sort: o.sort ?? 'traffic',
      limit: o.limit ?? 20,
    }),
  ]);
  ctx.out.result({ project: { id: p.id, slug: p.slug }, summary, routes: routes.routes }, () => {
    const { c } = ctx.out;
    const window = `${summary.from.slice(0, 16).replace('T', ' ')} to ${summary.to.slice(0, 16).replace('T', ' ')} UTC`;
    ctx.out.line(
      `${c.bold(p.slug)}${o.env ? `/${o.env}` : ''} ${c.dim(window)}: ${summary.count} requests, ` +
        `${formatRps(summary.rps)} req/s, ${formatRate(summary.errorRate)} errors, ` +
        `p50 ${formatMs(summary.p50)} ms, p95 ${formatMs(summary.p95)} ms, p99 ${formatMs(summary.p99)} ms`,
    );
    ctx.out.line('');
    ctx.out.table(
      ['SERVICE', 'METHOD', 'ROUTE', 'REQUESTS', 'RPS', 'P50 MS', 'P95 MS', 'P99 MS', 'ERRORS'],
      routes.routes.map((r): Cell[] => [
        r.service,
        r.method,
        r.route,
        String(r.count),
        formatRps(r.rps),
        formatMs(r.p50),
        formatMs(r.p95),
        formatMs(r.p99),
        r.errors > 0 ? { text: formatRate(r.errorRate), style: c.red } : formatRate(r.errorRate),
      ]),
      'No requests in this window. Send some with @peep/sdk, OpenTelemetry or `peep agent nginx`.',
    );
  });
}
