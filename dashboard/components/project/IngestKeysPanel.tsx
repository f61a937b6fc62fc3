'use client';
import { type FormEvent, useCallback, useState } from 'react';
import { ConfirmButton } from '@/components/ConfirmButton';
import { DataTable } from '@/components/DataTable';
import { ErrorAlert } from '@/components/ErrorAlert';
import { Loaded } from '@/components/Loaded';
import { SecretOnce } from '@/components/SecretOnce';
import { api } from '@/lib/api';
import { formatDate, relative } from '@/lib/format';
import { useAction, useResource } from '@/lib/hooks';
import type { IngestKey, ProjectDetail } from '@/lib/types';
import styles from './project.module.css';

export function IngestKeysPanel({ detail }: { detail: ProjectDetail }) {
  const { project } = detail;
  const envs = [...detail.environments].sort((a, b) => a.position - b.position);
  const envName = (id: string) => envs.find((e) => e.id === id)?.slug ?? 'deleted environment';
  const { run, busy, error, setError } = useAction();
  const { data: keys, reload: load } = useResource(
    useCallback(
      async () => (await api<{ ingestKeys: IngestKey[] }>(`/projects/${project.id}/ingest-keys`)).ingestKeys,
      [project.id],
    ),
    setError,
  );
  const [name, setName] = useState('');
  const [environmentId, setEnvironmentId] = useState(envs[0]?.id ?? '');
  const [secret, setSecret] = useState<string | null>(null);

  function create(e: FormEvent) {
    e.preventDefault();
    return run(async () => {
      const out = await api<{ ingestKey: IngestKey; secret: string }>(`/projects/${project.id}/ingest-keys`, {
        method: 'POST',
        body: { name: name.trim(), environmentId },
      });
      setSecret(out.secret);
      setName('');
      await load();
    });
  }

  async function revoke(id: string) {
    await run(
      async () => {
        await api(`/projects/${project.id}/ingest-keys/${id}`, { method: 'DELETE' });
        await load();
      },
      { busy: false },
    );
  }

  return (
    <>
      <div className={styles.toolbar}>
        <h2 className={styles.sectionTitle}>Ingest keys</h2>
        <span className="hint">The SDK sends metrics and logs with one key per environment.</span>
      </div>
      <ErrorAlert error={error} />
      <SecretOnce title="Your new ingest key" secret={secret} onDone={() => setSecret(null)} />
      <form onSubmit={create} className="card stack" aria-labelledby="new-key">
        <h3 id="new-key" className={styles.sectionTitle}>
          Create an ingest key
        </h3>
        <div className="form-row">
          <div className="field">
            <label htmlFor="key-name">Name</label>
            <input
              id="key-name"
              className="input"
              required
              maxLength={100}
              placeholder="e.g. api server"
              value={name}
              onChange={(e) => setName(e.target.value)}
            />
          </div>
          <div className="field">
            <label htmlFor="key-env">Environment</label>
            <select
              id="key-env"
              className="select"
              required
              value={environmentId}
              onChange={(e) => setEnvironmentId(e.target.value)}
            >
              {envs.map((env) => (
                <option key={env.id} value={env.id}>
                  {env.name} ({env.slug})
                </option>
              ))}
            </select>
          </div>
          <button
            type="submit"
            className="btn btn-primary"
            disabled={busy || !environmentId}
            style={{ minHeight: 34 }}
          >
            {busy ? 'Creating…' : 'Create key'}
          </button>
        </div>
      </form>
      <Loaded items={keys} error={error} empty="No ingest keys yet.">
        {(keys) => (
          <DataTable columns={['Name', 'Environment', 'Key', 'Created', 'Last used', 'Status']} actions>
            {keys.map((k) => (
              <tr key={k.id}>
                <td>
                  <strong>{k.name}</strong>
                </td>
                <td className="mono">{envName(k.environmentId)}</td>
                <td className="mono">{k.prefix}…</td>
                <td className="muted nowrap">{formatDate(k.createdAt)}</td>
                <td className="muted nowrap">{relative(k.lastUsedAt)}</td>
                <td>
                  {k.revokedAt ? (
                    <span className="badge badge-danger">revoked</span>
                  ) : (
                    <span className="badge badge-success">active</span>
                  )}
                </td>
                <td className="actions">
                  {k.revokedAt ? null : <ConfirmButton label="Revoke" onConfirm={() => revoke(k.id)} />}
                </td>
              </tr>
            ))}
          </DataTable>
        )}
      </Loaded>
    </>
  );
}
