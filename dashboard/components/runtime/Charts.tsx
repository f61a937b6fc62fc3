'use client';
/**
 * The three Runtime charts over the chosen range, cursors linked: latency percentiles (gaps where a
 * step had no request), throughput in requests per second, and error rate (5xx share).
 */
import { useMemo } from 'react';
import { fmtMs, fmtPct, fmtRps, type Series, type Summary } from '@/lib/telemetry';
import styles from './runtime.module.css';
import { type ChartSeries, TimeChart } from './TimeChart';

const SYNC = 'runtime';
const STEP_NAMES: Record<number, string> = { 60: '1 min', 3600: '1 h', 86400: '1 d' };

function stepName(s: number): string {
  return STEP_NAMES[s] ?? (s % 3600 === 0 ? `${s / 3600} h` : `${s / 60} min`);
}

export function Charts({ series, summary }: { series: Series | null; summary: Summary | null }) {
  const latency = useMemo<ChartSeries[]>(
    () => [
      { label: 'p50', values: series?.p50 ?? [], color: '--chart-p50', total: fmtMs(summary?.p50) },
      { label: 'p95', values: series?.p95 ?? [], color: '--chart-p95', total: fmtMs(summary?.p95) },
      { label: 'p99', values: series?.p99 ?? [], color: '--chart-p99', total: fmtMs(summary?.p99) },
    ],
    [series, summary],
  );
  const throughput = useMemo<ChartSeries[]>(
    () => [
      { label: 'requests/s', values: series?.rps ?? [], color: '--chart-rps', total: fmtRps(summary?.rps) },
    ],
    [series, summary],
  );
  const errors = useMemo<ChartSeries[]>(
    () => [
      {
        label: 'error rate',
        values: series?.errorRate ?? [],
        color: '--chart-errors',
        total: fmtPct(summary?.errorRate),
      },
    ],
    [series, summary],
  );
  const t = series?.t ?? [];

  return (
    <section aria-label="Charts" className={styles.charts} aria-busy={series === null}>
      <p className="hint">
        {series
          ? `${t.length.toLocaleString('en-US')} points, one per ${stepName(series.step)}. Hover a chart for the values at that time.`
          : 'Loading the charts…'}
      </p>
      <TimeChart title="Latency" t={t} series={latency} format={fmtMs} syncKey={SYNC} />
      <div className={styles.chartPair}>
        <TimeChart title="Throughput" t={t} series={throughput} format={fmtRps} syncKey={SYNC} height={140} />
        <TimeChart title="Error rate" t={t} series={errors} format={fmtPct} syncKey={SYNC} height={140} />
      </div>
    </section>
  );
}
