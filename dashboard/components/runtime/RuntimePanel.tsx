'use client';
/**
 * The project's Runtime tab: filters (range, environment, service, route, resolution) kept in the query
 * string so a view can be shared, summary tiles, latency/throughput/error-rate charts, the top routes,
 * the live request stream and the log viewer. Every figure comes from the telemetry API
 * (docs/telemetry.md); clicking a route filters the charts, clicking a request id opens its logs.
 */
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { ErrorAlert } from '@/components/ErrorAlert';
import {
  filtersFromSearch,
  filtersToSearch,
  NO_FILTERS,
  type RouteRow,
  type RuntimeFilters,
  rangeQuery,
  type Series,
  type Summary,
  scopeQuery,
  type TelemetryService,
} from '@/lib/telemetry';
import type { ProjectDetail } from '@/lib/types';
import { Charts } from './Charts';
import { FilterBar } from './FilterBar';
import { LiveStream } from './LiveStream';
import { LogViewer } from './LogViewer';
import styles from './runtime.module.css';
import { SummaryTiles } from './SummaryTiles';
import { type RouteSort, TopRoutes } from './TopRoutes';
import { useQuery } from './useQuery';

/** Relative ranges refresh on their own this often while the page is visible. */
const AUTO_REFRESH_MS = 60_000;

export function RuntimePanel({ detail }: { detail: ProjectDetail }) {
  const { project } = detail;
  const base = `/projects/${project.id}`;
  const envs = useMemo(
    () => [...detail.environments].sort((a, b) => a.position - b.position),
    [detail.environments],
  );
  const [filters, setFilters] = useState<RuntimeFilters>(() =>
    typeof window === 'undefined' ? NO_FILTERS : filtersFromSearch(window.location.search),
  );
  const [tick, setTick] = useState(0);
  const [sort, setSort] = useState<RouteSort>('traffic');
  const [logRequestId, setLogRequestId] = useState<{ id: string; n: number } | null>(null);
  const logsRef = useRef<HTMLElement>(null);

  // The filters live in the query string (the tab stays in the hash): reload or share shows this view.
  const update = useCallback((next: RuntimeFilters) => {
    setFilters(next);
    const keep = new URLSearchParams(window.location.search);
    for (const k of ['range', 'from', 'to', 'step', 'env', 'service', 'route', 'method']) keep.delete(k);
    const url = `${window.location.pathname}${filtersToSearch(next, keep)}${window.location.hash}`;
    window.history.replaceState(window.history.state, '', url);
  }, []);

  useEffect(() => {
    if (filters.range === 'custom') return;
    const id = setInterval(() => {
      if (document.visibilityState === 'visible') setTick((n) => n + 1);
    }, AUTO_REFRESH_MS);
    return () => clearInterval(id);
  }, [filters.range]);

  const range = rangeQuery(filters);
  const scope = scopeQuery(filters);
  const services = useQuery<{ services: TelemetryService[] }>(`${base}/telemetry/services`, {}, tick);
  const series = useQuery<Series>(
    `${base}/telemetry/series`,
    { ...range, ...scope, step: filters.step || undefined },
    tick,
  );
  const summary = useQuery<Summary>(`${base}/telemetry/summary`, { ...range, ...scope }, tick);
  const routes = useQuery<{ routes: RouteRow[] }>(
    `${base}/telemetry/routes`,
    { ...range, ...scopeQuery(filters, false), sort, limit: 50 },
    tick,
  );

  const serviceNames = useMemo(() => {
    const all = services.data?.services ?? [];
    const inEnv = filters.env ? all.filter((s) => s.environments.includes(filters.env)) : all;
    const names = inEnv.map((s) => s.name);
    if (filters.service && !names.includes(filters.service)) names.push(filters.service);
    return names.sort();
  }, [services.data, filters.env, filters.service]);

  function drillDown(requestId: string) {
    setLogRequestId((prev) => ({ id: requestId, n: (prev?.n ?? 0) + 1 }));
    logsRef.current?.scrollIntoView({ behavior: 'smooth', block: 'start' });
  }

  return (
    <div className={styles.runtime}>
      <FilterBar
        filters={filters}
        envs={envs}
        services={serviceNames}
        routes={routes.data?.routes ?? []}
        busy={series.loading || summary.loading}
        onChange={update}
        onRefresh={() => setTick((n) => n + 1)}
      />
      <ErrorAlert error={series.error ?? summary.error} title="Could not load the metrics." />
      <SummaryTiles summary={summary.data} />
      <Charts series={series.data} summary={summary.data} />
      <section aria-labelledby="top-routes" className={styles.section}>
        <TopRoutes
          rows={routes.data?.routes ?? null}
          error={routes.error}
          sort={sort}
          onSort={setSort}
          selected={filters.route ? filters : null}
          onSelect={(r) =>
            update(
              r
                ? { ...filters, service: r.service, route: r.route, method: r.method }
                : { ...filters, route: '', method: '' },
            )
          }
        />
      </section>
      <section aria-labelledby="live-requests" className={styles.section}>
        <LiveStream projectId={project.id} filters={filters} envs={envs} onRequestId={drillDown} />
      </section>
      <section aria-labelledby="logs" className={styles.section} ref={logsRef}>
        <LogViewer
          projectId={project.id}
          filters={filters}
          envs={envs}
          services={serviceNames}
          requestId={logRequestId}
        />
      </section>
    </div>
  );
}
