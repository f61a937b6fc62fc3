'use client';
/**
 * One uptime target (`/projects/<id>/uptime/targets/<targetId>`): its status and since when, uptime
 * over 24 h, 7 d, 30 d and 90 d, latency percentiles over 1 h, 24 h or 7 d drawn with the Runtime tab's
 * chart, a strip of the same steps coloured by failed checks, and the last results with the time spent
 * in each phase (DNS, connect, TLS, first byte). Refreshes itself every 15 s.
 */
import Link from 'next/link';
import { useParams } from 'next/navigation';
import { useCallback, useEffect, useMemo, useState } from 'react';
import { ConfirmButton } from '@/components/ConfirmButton';
import { ErrorAlert } from '@/components/ErrorAlert';
import { Loading } from '@/components/Loaded';
import { PageHeader } from '@/components/PageHeader';
import { type ChartSeries, TimeChart } from '@/components/runtime/TimeChart';
import { useQuery } from '@/components/runtime/useQuery';
import { ApiError, api } from '@/lib/api';
import { formatDate } from '@/lib/format';
import { useAction, useResource } from '@/lib/hooks';
import { atLeast, type ProjectDetail } from '@/lib/types';
import {
  type CheckResult,
  fmtDuration,
  fmtSeconds,
  fmtSince,
  fmtUptime,
  type SeriesPoint,
  STATUS_LABEL,
  type TargetDetail,
  type TargetSeries,
  targetWhat,
} from '@/lib/uptime';
import { TargetSettings } from './TargetSettings';
import styles from './uptime.module.css';

const RANGES = ['1h', '24h', '7d', '30d', '90d'] as const;
type Range = (typeof RANGES)[number];
const REFRESH_MS = 15_000;
/** The API's most results per request. */
const MAX_RESULTS = 1000;
const RANGE_S: Record<Range, number> = {
  '1h': 3600,
  '24h': 86_400,
  '7d': 604_800,
  '30d': 2_592_000,
  '90d': 7_776_000,
};

/**
 * Every step of the range, oldest first: the API leaves out steps without a check, and the chart and
 * the strip must still span the whole range (a gap where nothing was checked, not a stretched line).
 */
export function fillRange(series: TargetSeries, rangeS: number, now: number): SeriesPoint[] {
  const step = Math.max(1, series.step);
  const byT = new Map(series.points.map((p) => [Math.floor(new Date(p.t).getTime() / 1000 / step), p]));
  const end = Math.floor(now / 1000 / step);
  const start = end - Math.ceil(rangeS / step) + 1;
  const out: SeriesPoint[] = [];
  for (let i = start; i <= end; i++) {
    out.push(
      byT.get(i) ?? {
        t: new Date(i * step * 1000).toISOString(),
        count: 0,
        failures: 0,
        p50: null,
        p95: null,
        p99: null,
        avg: null,
        min: null,
        max: null,
      },
    );
  }
  return out;
}

export function TargetView() {
  const { projectId, targetId } = useParams<{ projectId: string; targetId: string }>();
  const base = `/projects/${encodeURIComponent(projectId)}`;
  const [range, setRange] = useState<Range>('24h');
  const [tick, setTick] = useState(0);
  const [resultLimit, setResultLimit] = useState(50);
  const project = useResource(useCallback(() => api<ProjectDetail>(base), [base]));
  const detail = useQuery<TargetDetail>(`${base}/targets/${encodeURIComponent(targetId)}`, {}, tick);
  const series = useQuery<TargetSeries>(
    `${base}/targets/${encodeURIComponent(targetId)}/series`,
    { range },
    tick,
  );
  const results = useQuery<{ results: CheckResult[] }>(
    `${base}/targets/${encodeURIComponent(targetId)}/results`,
    { limit: resultLimit },
    tick,
  );
  const action = useAction();

  useEffect(() => {
    const id = setInterval(() => {
      if (document.visibilityState === 'visible') setTick((n) => n + 1);
    }, REFRESH_MS);
    return () => clearInterval(id);
  }, []);

  const grid = useMemo(
    () => (series.data ? fillRange(series.data, RANGE_S[range], Date.now()) : []),
    [series.data, range],
  );
  const t = detail.data?.target;
  useEffect(() => {
    if (t) document.title = `${t.name} · uptime · peep`;
  }, [t]);

  if (detail.error instanceof ApiError && detail.error.status === 404) {
    return (
      <div className="stack">
        <PageHeader title="Target not found" />
        <p>It may have been deleted.</p>
        <p>
          <Link href={`/projects/${projectId}#uptime`}>Back to uptime</Link>
        </p>
      </div>
    );
  }
  if (!t || !detail.data) return detail.error ? <ErrorAlert error={detail.error} /> : <Loading />;
  const uptime = detail.data.uptime;
  const canEdit = project.data ? atLeast(project.data.project.role, 'developer') : false;

  async function setEnabled(enabled: boolean) {
    await action.run(async () => {
      await api(`${base}/targets/${targetId}`, { method: 'PATCH', body: { enabled } });
      setTick((n) => n + 1);
    });
  }

  return (
    <div className={styles.page}>
      <nav aria-label="Breadcrumb" className="muted">
        <Link href="/projects">Projects</Link> /{' '}
        <Link href={`/projects/${projectId}#uptime`}>{project.data?.project.name ?? 'Project'}</Link> / Uptime
        / <span aria-current="page">{t.name}</span>
      </nav>
      <PageHeader
        title={t.name}
        description={
          <>
            <span className={`${styles.badge} ${styles[`badge-${t.status}`]}`} data-testid="target-status">
              {STATUS_LABEL[t.status]}
            </span>{' '}
            for {fmtSince(t.statusSince)} (since {formatDate(t.statusSince)}) ·{' '}
            <span className="badge">{t.kind}</span> <span className="mono">{targetWhat(t)}</span> · {t.env} ·
            every {t.intervalS} s
            {t.tags.length ? (
              <>
                {' '}
                · tags <span className="mono">{t.tags.join(', ')}</span>
              </>
            ) : null}
          </>
        }
      />
      {canEdit ? (
        <div className={styles.buttons}>
          <button type="button" className="btn btn-sm" onClick={() => setEnabled(!t.enabled)}>
            {t.enabled ? 'Pause' : 'Resume'}
          </button>
          <ConfirmButton
            label="Delete"
            onConfirm={async () => {
              await action.run(async () => {
                await api(`${base}/targets/${targetId}`, { method: 'DELETE' });
                window.location.assign(`/projects/${projectId}#uptime`);
              });
            }}
          />
        </div>
      ) : null}
      <ErrorAlert error={action.error} />
      {t.lastOk === false && t.lastMessage ? (
        <div className="alert alert-error">
          <p>
            <strong>Last check failed</strong> ({t.lastErrorClass ?? 'error'}
            {t.lastStatusCode ? `, HTTP ${t.lastStatusCode}` : ''}): {t.lastMessage}
          </p>
        </div>
      ) : null}
      <section aria-label="Uptime" className={styles.tiles}>
        {(['24h', '7d', '30d', '90d'] as const).map((k) => (
          <div key={k} className={styles.tile} data-uptime={k}>
            <span className={styles.tileLabel}>Uptime {k}</span>
            <span className={styles.tileValue}>{fmtUptime(uptime[k])}</span>
          </div>
        ))}
        <div className={styles.tile}>
          <span className={styles.tileLabel}>{t.kind === 'heartbeat' ? 'Last beat' : 'Last check'}</span>
          <span className={styles.tileValue}>
            {t.kind === 'heartbeat'
              ? t.lastBeatAt
                ? `${fmtSince(t.lastBeatAt)} ago`
                : 'never'
              : fmtDuration(t.lastDurationMs)}
          </span>
        </div>
        {t.certDaysLeft !== null ? (
          <div className={styles.tile}>
            <span className={styles.tileLabel}>Certificate</span>
            <span className={styles.tileValue}>{Math.floor(t.certDaysLeft)} d left</span>
          </div>
        ) : null}
      </section>
      <section aria-labelledby="latency-title" className={styles.section}>
        <div className={styles.sectionHead}>
          <h2 id="latency-title" className={styles.h2}>
            Latency and failures
          </h2>
          <fieldset className={styles.chips}>
            <legend className="visually-hidden">Range</legend>
            {RANGES.map((r) => (
              <button
                key={r}
                type="button"
                className={styles.chip}
                aria-pressed={range === r}
                onClick={() => setRange(r)}
              >
                {r}
              </button>
            ))}
          </fieldset>
        </div>
        <ErrorAlert error={series.error} title="Could not load the series." />
        <LatencyChart points={grid} />
        <StatusStrip points={grid} step={series.data?.step ?? 60} />
      </section>
      <section aria-labelledby="results-title" className={styles.section}>
        <h2 id="results-title" className={styles.h2}>
          Last results
        </h2>
        <ErrorAlert error={results.error} title="Could not load the results." />
        <ResultsTable results={results.data?.results ?? null} />
        {results.data && results.data.results.length >= resultLimit && resultLimit < MAX_RESULTS ? (
          <div>
            <button
              type="button"
              className="btn btn-sm"
              disabled={results.loading}
              onClick={() => setResultLimit((n) => Math.min(MAX_RESULTS, n + 150))}
            >
              Show older results
            </button>
          </div>
        ) : null}
      </section>
      {canEdit ? (
        <TargetSettings
          path={`${base}/targets/${encodeURIComponent(targetId)}`}
          target={t}
          onSaved={() => setTick((n) => n + 1)}
        />
      ) : null}
    </div>
  );
}

function LatencyChart({ points }: { points: SeriesPoint[] }) {
  const t = useMemo(() => points.map((p) => Math.floor(new Date(p.t).getTime() / 1000)), [points]);
  const series = useMemo<ChartSeries[]>(() => {
    const last = (k: 'p50' | 'p95' | 'p99') => {
      const vals = points.map((p) => p[k]).filter((v): v is number => v !== null);
      return vals.length ? fmtDuration(Math.max(...vals)) : '—';
    };
    return [
      { label: 'p50', values: points.map((p) => p.p50), color: '--chart-p50', total: `max ${last('p50')}` },
      { label: 'p95', values: points.map((p) => p.p95), color: '--chart-p95', total: `max ${last('p95')}` },
      { label: 'p99', values: points.map((p) => p.p99), color: '--chart-p99', total: `max ${last('p99')}` },
    ];
  }, [points]);
  // Isolated values (a check now and then) draw no line: dots while few steps have data.
  const dots = points.filter((p) => p.p50 !== null).length < 120;
  return (
    <TimeChart
      title="Check latency"
      t={t}
      series={series}
      format={(v) => fmtDuration(v)}
      syncKey="uptime"
      dots={dots}
    />
  );
}

/** One cell per step: green all checks passed, amber some failed, red all failed, grey no check. */
function StatusStrip({ points, step }: { points: SeriesPoint[]; step: number }) {
  // Wide ranges are folded so the strip keeps at most 120 cells.
  const cells = useMemo(() => {
    const per = Math.max(1, Math.ceil(points.length / 120));
    const out: { t: string; count: number; failures: number }[] = [];
    for (let i = 0; i < points.length; i += per) {
      const group = points.slice(i, i + per);
      out.push({
        t: group[0]?.t ?? '',
        count: group.reduce((s, p) => s + p.count, 0),
        failures: group.reduce((s, p) => s + p.failures, 0),
      });
    }
    return { out, seconds: per * step };
  }, [points, step]);
  const failed = cells.out.filter((c) => c.failures > 0).length;
  return (
    <figure aria-label="Status over the range" style={{ margin: 0 }}>
      <div className={styles.strip} data-testid="status-strip" data-failed-cells={failed}>
        {cells.out.map((c) => (
          <span
            key={c.t}
            className={
              c.count === 0
                ? styles.cellNone
                : c.failures === 0
                  ? styles.cellOk
                  : c.failures >= c.count
                    ? styles.cellFail
                    : styles.cellSome
            }
            title={`${formatDate(c.t)}: ${c.count} checks, ${c.failures} failed`}
          />
        ))}
      </div>
      <figcaption className={styles.stripLegend}>
        <span>{cells.out[0] ? formatDate(cells.out[0].t) : ''}</span>
        <span>
          {failed} of {cells.out.length} periods with failures (one period = {fmtSeconds(cells.seconds)})
        </span>
        <span>now</span>
      </figcaption>
    </figure>
  );
}

function ResultsTable({ results }: { results: CheckResult[] | null }) {
  if (results === null) return <Loading />;
  if (results.length === 0) return <p className="empty">No check yet: the first runs within one interval.</p>;
  return (
    <div className="table-wrap">
      <table className="table" aria-label="Check results">
        <thead>
          <tr>
            <th scope="col">Time</th>
            <th scope="col">Result</th>
            <th scope="col">Code</th>
            <th scope="col">Duration</th>
            <th scope="col">Error</th>
          </tr>
        </thead>
        <tbody>
          {results.map((r) => (
            <tr key={r.id} data-ok={r.ok}>
              <td className="nowrap">{formatDate(r.time)}</td>
              <td>
                <span className={`${styles.badge} ${r.ok ? styles['badge-up'] : styles['badge-down']}`}>
                  {r.ok ? 'ok' : 'failed'}
                </span>
              </td>
              <td className="mono">{r.statusCode ?? '—'}</td>
              <td className="nowrap">
                {fmtDuration(r.durationMs)}
                <div className={styles.phases}>
                  {[
                    ['DNS', r.dnsMs],
                    ['connect', r.connectMs],
                    ['TLS', r.tlsMs],
                    ['first byte', r.firstByteMs],
                  ]
                    .filter(([, v]) => v !== null)
                    .map(([k, v]) => `${k} ${fmtDuration(v as number)}`)
                    .join(' · ')}
                </div>
              </td>
              <td>
                {r.errorClass ? <span className="mono">{r.errorClass}</span> : null}
                {r.message ? <span className="muted"> {r.message}</span> : null}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
