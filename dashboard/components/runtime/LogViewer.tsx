'use client';
/**
 * Runtime logs, newest first: text search, minimum level, service and request id, over the tab's range
 * and environment, with "Load more" (cursor pages) and a Live toggle that adds new lines on top from
 * `/stream/logs`. A line opens to show its attributes and ids. A request id chosen elsewhere on the tab
 * (the live stream) arrives as `requestId` and replaces the filters with that id.
 */
import { type FormEvent, Fragment, useCallback, useEffect, useState } from 'react';
import { ErrorAlert } from '@/components/ErrorAlert';
import { api } from '@/lib/api';
import {
  fmtClock,
  LEVELS,
  type Level,
  type LogEntry,
  type LogPage,
  type RuntimeFilters,
  rangeQuery,
} from '@/lib/telemetry';
import type { Environment } from '@/lib/types';
import styles from './runtime.module.css';
import { ServiceField } from './ServiceField';
import { useEventStream } from './useEventStream';

const PAGE = 100;
/** Live lines on top of the loaded pages stop being added past this many rows. */
const MAX_LIVE_ROWS = 1000;

interface LogFilters {
  q: string;
  level: Level | '';
  service: string;
  requestId: string;
}
const EMPTY: LogFilters = { q: '', level: '', service: '', requestId: '' };

export function LogViewer({
  projectId,
  filters,
  envs,
  services,
  requestId,
}: {
  projectId: string;
  filters: RuntimeFilters;
  envs: Environment[];
  services: string[];
  requestId: { id: string; n: number } | null;
}) {
  const [draft, setDraft] = useState<LogFilters>(EMPTY);
  const [applied, setApplied] = useState<LogFilters>(EMPTY);
  const [logs, setLogs] = useState<LogEntry[] | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [live, setLive] = useState(false);
  const [open, setOpen] = useState<Set<string>>(new Set());

  useEffect(() => {
    if (!requestId) return;
    const next = { ...EMPTY, requestId: requestId.id };
    setDraft(next);
    setApplied(next);
  }, [requestId]);

  // A request id is looked up over the raw retention (7 days by default), not only the chosen range.
  const range = applied.requestId && filters.range !== 'custom' ? { from: '7d' } : rangeQuery(filters);
  const query = {
    ...range,
    env: filters.env,
    service: applied.service,
    level: applied.level,
    q: applied.q.trim(),
    requestId: applied.requestId.trim(),
  };
  const key = JSON.stringify(query);

  const fetchPage = useCallback(
    (after: string | null, signal?: AbortSignal) =>
      api<LogPage>(`/projects/${projectId}/logs`, {
        query: { ...(JSON.parse(key) as Record<string, string>), limit: PAGE, cursor: after },
        signal,
      }),
    [projectId, key],
  );

  useEffect(() => {
    const ctl = new AbortController();
    setBusy(true);
    fetchPage(null, ctl.signal).then(
      (page) => {
        setLogs(page.logs);
        setCursor(page.nextCursor);
        setError(null);
        setBusy(false);
      },
      (e: unknown) => {
        if (ctl.signal.aborted) return;
        setError(e);
        setBusy(false);
      },
    );
    return () => ctl.abort();
  }, [fetchPage]);

  async function more() {
    if (!cursor) return;
    setBusy(true);
    try {
      const page = await fetchPage(cursor);
      setLogs((prev) => [...(prev ?? []), ...page.logs]);
      setCursor(page.nextCursor);
      setError(null);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  }

  const streamQs = new URLSearchParams();
  for (const k of ['env', 'service', 'level', 'q', 'requestId'] as const) {
    const v = query[k];
    if (v) streamQs.set(k, v);
  }
  const streamUrl = `/api/v1/projects/${projectId}/stream/logs${streamQs.toString() ? `?${streamQs}` : ''}`;
  const onBatch = useCallback((batch: LogEntry[]) => {
    setLogs((prev) => {
      const have = new Set((prev ?? []).map((l) => l.id));
      const fresh = batch.filter((l) => !have.has(l.id)).reverse();
      const all = [...fresh, ...(prev ?? [])];
      return all.length > MAX_LIVE_ROWS ? all.slice(0, Math.max(MAX_LIVE_ROWS, prev?.length ?? 0)) : all;
    });
  }, []);
  const stream = useEventStream<LogEntry>(streamUrl, 'log', live, onBatch);

  function search(e: FormEvent) {
    e.preventDefault();
    setApplied({ ...draft });
  }

  function toggle(id: string) {
    setOpen((prev) => {
      const next = new Set(prev);
      if (next.has(id)) next.delete(id);
      else next.add(id);
      return next;
    });
  }

  const envSlug = (id: string) => envs.find((e) => e.id === id)?.slug ?? '?';
  const set = (patch: Partial<LogFilters>, apply = false) => {
    const next = { ...draft, ...patch };
    setDraft(next);
    if (apply) setApplied(next);
  };

  return (
    <>
      <div className={styles.sectionHead}>
        <h2 id="logs" className={styles.title}>
          Logs
        </h2>
        <label className={styles.toggle}>
          <input type="checkbox" checked={live} onChange={(e) => setLive(e.target.checked)} /> Live
        </label>
        {live ? (
          <span className={styles.streamState} data-state={stream.state} role="status">
            {stream.state === 'live' ? 'New lines appear on top' : stream.state}
          </span>
        ) : null}
      </div>
      <form className={styles.filterBar} onSubmit={search} aria-label="Log filters">
        <div className="field" style={{ flex: '2 1 240px' }}>
          <label htmlFor="log-q">Search</label>
          <input
            id="log-q"
            type="search"
            className="input"
            placeholder="Text in the message"
            maxLength={200}
            value={draft.q}
            onChange={(e) => set({ q: e.target.value })}
          />
        </div>
        <div className="field">
          <label htmlFor="log-level">Minimum level</label>
          <select
            id="log-level"
            className="select"
            value={draft.level}
            onChange={(e) => set({ level: e.target.value as Level | '' }, true)}
          >
            <option value="">Any</option>
            {LEVELS.map((l) => (
              <option key={l} value={l}>
                {l}
              </option>
            ))}
          </select>
        </div>
        <ServiceField
          id="log-service"
          label="Log service"
          value={draft.service}
          services={services}
          onChange={(service) => set({ service }, true)}
        />
        <div className="field">
          <label htmlFor="log-request">Request id</label>
          <input
            id="log-request"
            className="input mono"
            maxLength={128}
            value={draft.requestId}
            onChange={(e) => set({ requestId: e.target.value })}
          />
        </div>
        <button type="submit" className="btn btn-primary" style={{ minHeight: 34 }}>
          Search logs
        </button>
        {applied.q || applied.level || applied.service || applied.requestId ? (
          <button
            type="button"
            className="btn"
            style={{ minHeight: 34 }}
            onClick={() => {
              setDraft(EMPTY);
              setApplied(EMPTY);
            }}
          >
            Clear
          </button>
        ) : null}
      </form>
      {live && stream.notice ? <p className="hint">{stream.notice}</p> : null}
      <ErrorAlert error={error} title="Could not load the logs." />
      {logs === null ? (
        error ? null : (
          <p className="muted" role="status">
            Loading…
          </p>
        )
      ) : logs.length === 0 ? (
        <p className="empty">No log lines match.</p>
      ) : (
        <div className={`table-wrap ${styles.scroll}`}>
          <table className={`table ${styles.logTable}`} aria-label="Log lines">
            <thead>
              <tr>
                <th scope="col">
                  <span className="visually-hidden">Details</span>
                </th>
                <th scope="col">Time</th>
                <th scope="col">Level</th>
                <th scope="col">Service</th>
                <th scope="col">Message</th>
                <th scope="col">Request id</th>
              </tr>
            </thead>
            <tbody>
              {logs.map((l) => {
                const expanded = open.has(l.id);
                return (
                  <Fragment key={l.id}>
                    <tr data-log-id={l.id} data-level={l.level}>
                      <td>
                        <button
                          type="button"
                          className={styles.expand}
                          aria-expanded={expanded}
                          aria-controls={`log-${l.id}`}
                          aria-label={expanded ? 'Hide details' : 'Show details'}
                          onClick={() => toggle(l.id)}
                        >
                          {expanded ? '▾' : '▸'}
                        </button>
                      </td>
                      <td className="mono nowrap">
                        <time dateTime={l.time} title={l.time}>
                          {fmtClock(l.time)}
                        </time>
                      </td>
                      <td>
                        <span className={`${styles.level} ${styles[`level-${l.level}`] ?? ''}`}>
                          {l.level}
                        </span>
                      </td>
                      <td className="nowrap">{l.service}</td>
                      <td className={styles.message}>{l.message}</td>
                      <td className="mono">
                        {l.requestId ? (
                          <button
                            type="button"
                            className={styles.linkButton}
                            title="Show every line of this request"
                            onClick={() => {
                              const next = { ...EMPTY, requestId: l.requestId ?? '' };
                              setDraft(next);
                              setApplied(next);
                            }}
                          >
                            {l.requestId}
                          </button>
                        ) : (
                          <span className="muted">—</span>
                        )}
                      </td>
                    </tr>
                    {expanded ? (
                      <tr id={`log-${l.id}`} className={styles.detailRow}>
                        <td />
                        <td colSpan={5}>
                          <dl className={styles.attrs}>
                            <dt>time</dt>
                            <dd className="mono">{l.time}</dd>
                            <dt>environment</dt>
                            <dd className="mono">{envSlug(l.environmentId)}</dd>
                            {(['traceId', 'spanId', 'instance'] as const).map((k) =>
                              l[k] ? (
                                <Fragment key={k}>
                                  <dt>{k}</dt>
                                  <dd className="mono">{l[k]}</dd>
                                </Fragment>
                              ) : null,
                            )}
                            {Object.entries(l.attributes ?? {}).map(([k, v]) => (
                              <Fragment key={`a.${k}`}>
                                <dt className="mono">{k}</dt>
                                <dd className="mono">{JSON.stringify(v)}</dd>
                              </Fragment>
                            ))}
                          </dl>
                        </td>
                      </tr>
                    ) : null}
                  </Fragment>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      <div className={styles.sectionHead}>
        <span className="hint" role="status">
          {logs ? `${logs.length} line${logs.length === 1 ? '' : 's'} shown, newest first` : ''}
        </span>
        {cursor ? (
          <button type="button" className="btn" onClick={more} disabled={busy}>
            {busy ? 'Loading…' : 'Load more'}
          </button>
        ) : null}
      </div>
    </>
  );
}
