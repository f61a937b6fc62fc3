'use client';
/**
 * Requests as they arrive (`/stream/events` with the tab's filters), newest on top, at most MAX_ROWS in
 * the page. Rows are coloured by status class; a request id opens that request's logs below.
 */
import { useCallback, useEffect, useState } from 'react';
import { fmtClock, fmtMs, type RuntimeFilters, type StreamEvent, statusTone } from '@/lib/telemetry';
import type { Environment } from '@/lib/types';
import styles from './runtime.module.css';
import { useEventStream } from './useEventStream';

export const MAX_ROWS = 200;
const COLUMNS = ['Time', 'Env', 'Service', 'Request', 'Status', 'Duration', 'Request id'];

const STATE_LABEL = {
  connecting: 'Connecting…',
  live: 'Live',
  reconnecting: 'Reconnecting…',
  paused: 'Paused',
} as const;

export function LiveStream({
  projectId,
  filters,
  envs,
  onRequestId,
}: {
  projectId: string;
  filters: RuntimeFilters;
  envs: Environment[];
  onRequestId: (id: string) => void;
}) {
  const [rows, setRows] = useState<StreamEvent[]>([]);
  const [running, setRunning] = useState(true);
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries({
    env: filters.env,
    service: filters.service,
    route: filters.route,
    method: filters.method,
  }))
    if (v) qs.set(k, v);
  const url = `/api/v1/projects/${projectId}/stream/events${qs.toString() ? `?${qs}` : ''}`;

  // New filters, new stream: rows of the old filters would mislead.
  // biome-ignore lint/correctness/useExhaustiveDependencies: cleared when the stream's URL changes
  useEffect(() => setRows([]), [url]);

  const onBatch = useCallback((batch: StreamEvent[]) => {
    setRows((prev) => [...batch.reverse(), ...prev].slice(0, MAX_ROWS));
  }, []);
  const { state, notice } = useEventStream<StreamEvent>(url, 'request', running, onBatch);
  const envSlug = (id: string) => envs.find((e) => e.id === id)?.slug ?? '?';

  return (
    <>
      <div className={styles.sectionHead}>
        <h2 id="live-requests" className={styles.title}>
          Live requests
        </h2>
        <span className={styles.streamState} data-state={state} role="status">
          {STATE_LABEL[state]}
          {rows.length ? ` · ${rows.length} shown (newest ${MAX_ROWS} kept)` : ''}
        </span>
        <div className={styles.segmented}>
          <button type="button" className="btn btn-sm" onClick={() => setRunning((r) => !r)}>
            {running ? 'Pause' : 'Resume'}
          </button>
          <button type="button" className="btn btn-sm" onClick={() => setRows([])} disabled={!rows.length}>
            Clear
          </button>
        </div>
      </div>
      {notice ? <p className="hint">{notice}</p> : null}
      {rows.length === 0 ? (
        <p className="empty">
          {running ? 'Waiting for requests matching the filters…' : 'Paused. Resume to see new requests.'}
        </p>
      ) : (
        <div className={`table-wrap ${styles.scroll}`}>
          <table className="table" aria-label="Live requests">
            <thead>
              <tr>
                {COLUMNS.map((c) => (
                  <th key={c} scope="col">
                    {c}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr key={r.id} className={styles[`tone-${statusTone(r.status)}`]} data-status={r.status}>
                  <td className="mono nowrap">
                    <time dateTime={r.time}>{fmtClock(r.time)}</time>
                  </td>
                  <td className="mono">{envSlug(r.environmentId)}</td>
                  <td>{r.service}</td>
                  <td>
                    <span className={styles.method}>{r.method}</span> <span className="mono">{r.route}</span>
                  </td>
                  <td>
                    <span className={`${styles.status} ${styles[`status-${statusTone(r.status)}`]}`}>
                      {r.status}
                    </span>
                  </td>
                  <td className={styles.num}>{fmtMs(r.durationMs)}</td>
                  <td className="mono">
                    {r.requestId ? (
                      <button
                        type="button"
                        className={styles.linkButton}
                        title="Show this request's logs"
                        onClick={() => r.requestId && onRequestId(r.requestId)}
                      >
                        {r.requestId}
                      </button>
                    ) : (
                      <span className="muted">—</span>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}
