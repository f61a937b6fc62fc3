'use client';
import { type FormEvent, useCallback, useEffect, useState } from 'react';
import { ConfirmButton } from '@/components/ConfirmButton';
import { ErrorAlert } from '@/components/ErrorAlert';
import { SecretOnce } from '@/components/SecretOnce';
import { api } from '@/lib/api';
import { formatDate, relative } from '@/lib/format';
import type { IngestKey, ProjectDetail } from '@/lib/types';
import styles from './project.module.css';

export function IngestKeysPanel({ detail }: { detail: ProjectDetail }) {
  const { project } = detail;
  const envs = [...detail.environments].sort((a, b) => a.position - b.position);
  const envName = (id: string) => envs.find((e) => e.id === id)?.slug ?? 'deleted environment';
  const [keys, setKeys] = useState<IngestKey[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [name, setName] = useState('');
  const [environmentId, setEnvironmentId] = useState(envs[0]?.id ?? '');
  const [secret, setSecret] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const load = useCallback(async () => {
    try {
      setKeys((await api<{ ingestKeys: IngestKey[] }>(`/projects/${project.id}/ingest-keys`)).ingestKeys);
    } catch (e) {
      setError(e);
    }
  }, [project.id]);
  useEffect(() => {
    void load();
  }, [load]);

  async function create(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const out = await api<{ ingestKey: IngestKey; secret: string }>(`/projects/${project.id}/ingest-keys`, {
        method: 'POST',
        body: { name: name.trim(), environmentId },
      });
      setSecret(out.secret);
      setName('');
      await load();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  async function revoke(id: string) {
    setError(null);
    try {
      await api(`/projects/${project.id}/ingest-keys/${id}`, { method: 'DELETE' });
      await load();
    } catch (err) {
      setError(err);
    }
  }

  return (
    <>
      <div className={styles.toolbar}>
        <h2 className={styles.sectionTitle}>Ingest keys</h2>
        <span className="hint">The SDK sends metrics and logs with one key per environment.</span>
      </div>
      <ErrorAlert error={error} />
      {secret ? (
        <SecretOnce title="Your new ingest key" secret={secret} onDone={() => setSecret(null)} />
      ) : null}
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
      {keys === null ? (
        error ? null : (
          <p className="muted" role="status">
            Loading…
          </p>
        )
      ) : keys.length === 0 ? (
        <p className="empty">No ingest keys yet.</p>
      ) : (
        <div className="table-wrap">
          <table className="table">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Environment</th>
                <th scope="col">Key</th>
                <th scope="col">Created</th>
                <th scope="col">Last used</th>
                <th scope="col">Status</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
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
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}
