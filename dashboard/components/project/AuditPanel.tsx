'use client';
import { type FormEvent, useCallback, useEffect, useState } from 'react';
import { DataTable } from '@/components/DataTable';
import { ErrorAlert } from '@/components/ErrorAlert';
import { Loaded } from '@/components/Loaded';
import { api } from '@/lib/api';
import { formatDate } from '@/lib/format';
import type { AuditEntry, AuditPage, Project } from '@/lib/types';
import styles from './project.module.css';

const PAGE = 50;
interface Filters {
  action: string;
  outcome: '' | 'success' | 'failure';
}

export function AuditPanel({ project }: { project: Project }) {
  const [draft, setDraft] = useState<Filters>({ action: '', outcome: '' });
  const [filters, setFilters] = useState<Filters>({ action: '', outcome: '' });
  const [entries, setEntries] = useState<AuditEntry[] | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  const fetchPage = useCallback(
    (f: Filters, after?: string) =>
      api<AuditPage>(`/projects/${project.id}/audit`, {
        query: {
          action: f.action.trim() || undefined,
          outcome: f.outcome || undefined,
          limit: PAGE,
          cursor: after,
        },
      }),
    [project.id],
  );

  useEffect(() => {
    let live = true;
    setBusy(true);
    setError(null);
    fetchPage(filters).then(
      (page) => {
        if (!live) return;
        setEntries(page.entries);
        setCursor(page.nextCursor);
        setBusy(false);
      },
      (e) => {
        if (!live) return;
        setError(e);
        setBusy(false);
      },
    );
    return () => {
      live = false;
    };
  }, [fetchPage, filters]);

  async function more() {
    if (!cursor) return;
    setBusy(true);
    setError(null);
    try {
      const page = await fetchPage(filters, cursor);
      setEntries((prev) => [...(prev ?? []), ...page.entries]);
      setCursor(page.nextCursor);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  }

  function apply(e: FormEvent) {
    e.preventDefault();
    setFilters({ ...draft });
  }

  return (
    <>
      <h2 className={styles.sectionTitle}>Audit log</h2>
      <form className={styles.filters} onSubmit={apply} aria-label="Audit log filters">
        <div className="field">
          <label htmlFor="audit-action">Action</label>
          <input
            id="audit-action"
            className="input"
            placeholder="e.g. project.* or member.add"
            maxLength={100}
            value={draft.action}
            onChange={(e) => setDraft({ ...draft, action: e.target.value })}
            aria-describedby="audit-action-hint"
          />
        </div>
        <div className="field">
          <label htmlFor="audit-outcome">Outcome</label>
          <select
            id="audit-outcome"
            className="select"
            value={draft.outcome}
            onChange={(e) => setDraft({ ...draft, outcome: e.target.value as Filters['outcome'] })}
          >
            <option value="">Any</option>
            <option value="success">Success</option>
            <option value="failure">Failure</option>
          </select>
        </div>
        <button type="submit" className="btn" style={{ minHeight: 34 }}>
          Apply filters
        </button>
      </form>
      <span id="audit-action-hint" className="hint">
        An exact action, or a prefix ending in <code>*</code>.
      </span>
      <ErrorAlert error={error} />
      <Loaded items={entries} error={error} empty="No audit entries match.">
        {(entries) => (
          <DataTable
            columns={['Time', 'Actor', 'Action', 'Target', 'Outcome', 'IP']}
            describedBy="audit-count"
          >
            {entries.map((en) => (
              <tr key={en.id}>
                <td className="nowrap">
                  <time dateTime={en.at}>{formatDate(en.at)}</time>
                </td>
                <td>{en.actorEmail ?? en.actorId ?? <span className="muted">system</span>}</td>
                <td className="mono">{en.action}</td>
                <td className="mono">
                  {en.targetType ? (
                    <>
                      {en.targetType}
                      {en.targetId ? <span className="muted"> {en.targetId.slice(0, 8)}</span> : null}
                    </>
                  ) : (
                    <span className="muted">—</span>
                  )}
                </td>
                <td>
                  <span className={`badge ${en.outcome === 'success' ? 'badge-success' : 'badge-danger'}`}>
                    {en.outcome}
                    {en.status ? ` ${en.status}` : ''}
                  </span>
                </td>
                <td className="mono nowrap">{en.ip ?? '—'}</td>
              </tr>
            ))}
          </DataTable>
        )}
      </Loaded>
      <div style={{ display: 'flex', gap: 12, alignItems: 'center' }}>
        <span id="audit-count" className="hint" role="status">
          {entries ? `${entries.length} entr${entries.length === 1 ? 'y' : 'ies'} shown` : ''}
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
