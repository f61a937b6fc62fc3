'use client';
/**
 * The audit trail of one environment's variables (`GET /audit?environment=&action=env.`): who, what,
 * which keys (never values), when and with what outcome, optionally for one key; pages of 50 and
 * an NDJSON export of every matching entry. Shown to admins and owners (the audit log's readers).
 */
import { type FormEvent, useCallback, useState } from 'react';
import { DataTable } from '@/components/DataTable';
import { ErrorAlert } from '@/components/ErrorAlert';
import { Loaded } from '@/components/Loaded';
import { api } from '@/lib/api';
import { formatDate } from '@/lib/format';
import type { AuditEntry, AuditPage } from '@/lib/types';
import styles from './envs.module.css';
import { MoreButton, usePages } from './usePages';

/** Every variable action of `env`, or those naming `key`. */
const filters = (env: string, key: string): Record<string, string> => ({
  environment: env,
  action: 'env.',
  ...(key ? { key } : {}),
});

function keysOf(e: AuditEntry): string {
  const keys = e.details?.keys;
  return Array.isArray(keys) ? keys.map(String).join(', ') : '';
}

export function AuditView({ projectId, env }: { projectId: string; env: string }) {
  const path = `/projects/${encodeURIComponent(projectId)}/audit`;
  const [draftKey, setDraftKey] = useState('');
  const [key, setKey] = useState('');

  const page = useCallback(
    async (cursor?: string) => {
      const p = await api<AuditPage>(path, { query: { ...filters(env, key), limit: 50, cursor } });
      return { items: p.entries, nextCursor: p.nextCursor };
    },
    [path, env, key],
  );
  const load = usePages(page);

  function apply(e: FormEvent) {
    e.preventDefault();
    setKey(draftKey.trim());
  }

  const qs = new URLSearchParams({ ...filters(env, key), format: 'ndjson' });

  return (
    <section className={styles.section} aria-labelledby="env-audit-title">
      <div className={styles.head}>
        <h2 id="env-audit-title" className={styles.h2}>
          Audit of {env}
        </h2>
        <a className="btn btn-sm" href={`/api/v1${path}?${qs}`} download={`audit-${env}.ndjson`}>
          Export NDJSON
        </a>
      </div>
      <form onSubmit={apply} className={styles.row} aria-label="Audit filter">
        <div className="field">
          <label htmlFor="env-audit-key">Variable key</label>
          <input
            id="env-audit-key"
            className="input mono"
            maxLength={256}
            value={draftKey}
            onChange={(e) => setDraftKey(e.target.value)}
            placeholder="any key"
          />
        </div>
        <button type="submit" className="btn btn-sm">
          Filter
        </button>
      </form>
      <ErrorAlert error={load.error} title="Could not load the audit trail." />
      <Loaded items={load.items} error={load.error} empty="No audit entries match.">
        {(list) => (
          <DataTable caption={`Audit of ${env}`} columns={['Time', 'Actor', 'Action', 'Keys', 'Outcome']}>
            {list.map((e) => (
              <tr key={e.id} data-action={e.action}>
                <td className="nowrap">
                  <time dateTime={e.at}>{formatDate(e.at)}</time>
                </td>
                <td>{e.actorEmail ?? e.actorId ?? <span className="muted">system</span>}</td>
                <td className="mono">{e.action}</td>
                <td className="mono">{keysOf(e) || <span className="muted">—</span>}</td>
                <td>
                  <span className={`badge ${e.outcome === 'success' ? 'badge-success' : 'badge-danger'}`}>
                    {e.outcome}
                    {e.status ? ` ${e.status}` : ''}
                  </span>
                </td>
              </tr>
            ))}
          </DataTable>
        )}
      </Loaded>
      <MoreButton pages={load} label="Load more" />
    </section>
  );
}
