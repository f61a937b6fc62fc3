'use client';
/**
 * A project's incidents, newest first: active ones by default (open or acknowledged), or all, or
 * resolved, of every kind or one; each links to its page `/projects/<id>/uptime/incidents/<number>` (the address the Slack
 * and webhook messages carry). Pages of 50 by cursor with "Load more".
 */
import Link from 'next/link';
import { useEffect, useState } from 'react';
import { ErrorAlert } from '@/components/ErrorAlert';
import { Loaded } from '@/components/Loaded';
import { api } from '@/lib/api';
import { formatDate } from '@/lib/format';
import { fmtSince, type Incident } from '@/lib/uptime';
import styles from './uptime.module.css';

type Filter = 'active' | 'resolved' | 'all';
const REFRESH_MS = 15_000;
/** builder/src/notify/types.ts INCIDENT_KINDS. */
const KINDS = [
  'down',
  'heartbeat_missed',
  'degraded',
  'cert_expiring',
  'latency_anomaly',
  'error_rate',
  'error_rate_anomaly',
] as const;

export function IncidentList({ projectId }: { projectId: string }) {
  const [filter, setFilter] = useState<Filter>('active');
  const [kind, setKind] = useState('');
  const [rows, setRows] = useState<Incident[] | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [tick, setTick] = useState(0);
  const path = `/projects/${encodeURIComponent(projectId)}/incidents`;

  // biome-ignore lint/correctness/useExhaustiveDependencies: tick reloads
  useEffect(() => {
    const ctl = new AbortController();
    api<{ incidents: Incident[]; nextCursor: string | null }>(path, {
      query: { status: filter, kind: kind || undefined, limit: 50 },
      signal: ctl.signal,
    }).then(
      (r) => {
        setRows(r.incidents);
        setCursor(r.nextCursor);
        setError(null);
      },
      (e: unknown) => {
        if (!ctl.signal.aborted) setError(e);
      },
    );
    return () => ctl.abort();
  }, [path, filter, kind, tick]);

  useEffect(() => {
    const id = setInterval(() => {
      if (document.visibilityState === 'visible') setTick((n) => n + 1);
    }, REFRESH_MS);
    return () => clearInterval(id);
  }, []);

  async function more() {
    if (!cursor) return;
    try {
      const r = await api<{ incidents: Incident[]; nextCursor: string | null }>(path, {
        query: { status: filter, kind: kind || undefined, limit: 50, cursor },
      });
      setRows((prev) => [...(prev ?? []), ...r.incidents]);
      setCursor(r.nextCursor);
    } catch (e) {
      setError(e);
    }
  }

  const now = Date.now();
  return (
    <section aria-labelledby="incidents-title" className={styles.section}>
      <div className={styles.sectionHead}>
        <h2 id="incidents-title" className={styles.h2}>
          Incidents
        </h2>
        <div className={styles.filters}>
          <fieldset className={styles.chips}>
            <legend className="visually-hidden">Show</legend>
            {(['active', 'resolved', 'all'] as const).map((f) => (
              <button
                key={f}
                type="button"
                className={styles.chip}
                aria-pressed={filter === f}
                onClick={() => {
                  setRows(null);
                  setFilter(f);
                }}
              >
                {f === 'active' ? 'Active' : f === 'resolved' ? 'Resolved' : 'All'}
              </button>
            ))}
          </fieldset>
          <label className={styles.filterField}>
            <span className="visually-hidden">Incident kind</span>
            <select
              className="select"
              value={kind}
              onChange={(e) => {
                setRows(null);
                setKind(e.target.value);
              }}
            >
              <option value="">All kinds</option>
              {KINDS.map((k) => (
                <option key={k} value={k}>
                  {k.replaceAll('_', ' ')}
                </option>
              ))}
            </select>
          </label>
        </div>
      </div>
      <ErrorAlert error={error} title="Could not load the incidents." />
      <Loaded items={rows} error={error} empty={filter === 'active' ? 'No active incident.' : 'No incident.'}>
        {(items) => (
          <div className="table-wrap">
            <table className="table" aria-label="Incidents">
              <thead>
                <tr>
                  <th scope="col">#</th>
                  <th scope="col">Status</th>
                  <th scope="col">Title</th>
                  <th scope="col">Kind</th>
                  <th scope="col">Env</th>
                  <th scope="col">Opened</th>
                  <th scope="col">Duration</th>
                </tr>
              </thead>
              <tbody>
                {items.map((i) => (
                  <tr key={i.id} data-incident={i.number}>
                    <td className="mono">
                      <Link href={`/projects/${projectId}/uptime/incidents/${i.number}`}>#{i.number}</Link>
                    </td>
                    <td>
                      <IncidentBadge status={i.status} />
                    </td>
                    <td>
                      <Link href={`/projects/${projectId}/uptime/incidents/${i.number}`}>{i.title}</Link>
                    </td>
                    <td className="mono">{i.kind}</td>
                    <td className="mono">{i.env}</td>
                    <td className="nowrap">{formatDate(i.openedAt)}</td>
                    <td className="nowrap">
                      {i.resolvedAt
                        ? fmtSince(i.openedAt, new Date(i.resolvedAt).getTime())
                        : fmtSince(i.openedAt, now)}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Loaded>
      {cursor ? (
        <button type="button" className="btn btn-sm" onClick={more}>
          Load more
        </button>
      ) : null}
    </section>
  );
}

export function IncidentBadge({ status }: { status: Incident['status'] }) {
  return (
    <span className={`${styles.badge} ${styles[`badge-${status}`]}`} data-incident-status={status}>
      {status === 'open' ? 'Open' : status === 'acknowledged' ? 'Acknowledged' : 'Resolved'}
    </span>
  );
}
