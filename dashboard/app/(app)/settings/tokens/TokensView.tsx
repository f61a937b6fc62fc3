'use client';
import { type FormEvent, useState } from 'react';
import { ConfirmButton } from '@/components/ConfirmButton';
import { DataTable } from '@/components/DataTable';
import { ErrorAlert } from '@/components/ErrorAlert';
import { Loaded } from '@/components/Loaded';
import { PageHeader } from '@/components/PageHeader';
import { SecretOnce } from '@/components/SecretOnce';
import { api } from '@/lib/api';
import { formatDate, relative } from '@/lib/format';
import { useAction, useResource } from '@/lib/hooks';
import type { ApiToken, Scope } from '@/lib/types';

const CHOOSABLE: Scope[] = ['read', 'write'];
const loadTokens = async () => (await api<{ tokens: ApiToken[] }>('/tokens')).tokens;

function status(t: ApiToken): { label: string; cls: string } {
  if (t.revokedAt) return { label: 'revoked', cls: 'badge-danger' };
  if (t.expiresAt && new Date(t.expiresAt).getTime() < Date.now())
    return { label: 'expired', cls: 'badge-danger' };
  return { label: 'active', cls: 'badge-success' };
}

export function TokensView() {
  const { run, busy, error, setError } = useAction();
  const { data: tokens, reload: load } = useResource(loadTokens, setError);
  const [name, setName] = useState('');
  const [scopes, setScopes] = useState<Scope[]>(['read']);
  const [days, setDays] = useState('90');
  const [secret, setSecret] = useState<string | null>(null);

  function toggle(s: Scope, on: boolean) {
    setScopes((prev) => (on ? [...new Set([...prev, s])] : prev.filter((x) => x !== s)));
  }

  function create(e: FormEvent) {
    e.preventDefault();
    return run(async () => {
      const out = await api<{ token: ApiToken; secret: string }>('/tokens', {
        method: 'POST',
        body: { name: name.trim(), scopes, ...(days ? { expiresInDays: Number(days) } : {}) },
      });
      setSecret(out.secret);
      setName('');
      await load();
    });
  }

  async function revoke(id: string) {
    await run(
      async () => {
        await api(`/tokens/${id}`, { method: 'DELETE' });
        await load();
      },
      { busy: false },
    );
  }

  return (
    <>
      <PageHeader
        title="API tokens"
        description="Personal tokens act as you from scripts and CI (Authorization: Bearer …). CLI sessions from peep login appear here too."
      />
      <div className="stack">
        <ErrorAlert error={error} />
        <SecretOnce title="Your new API token" secret={secret} onDone={() => setSecret(null)} />
        <form onSubmit={create} className="card stack" aria-labelledby="new-token">
          <h2 id="new-token" style={{ fontSize: 15, margin: 0 }}>
            Create a token
          </h2>
          <div className="form-row">
            <div className="field">
              <label htmlFor="token-name">Name</label>
              <input
                id="token-name"
                className="input"
                required
                maxLength={100}
                placeholder="e.g. ci deploys"
                value={name}
                onChange={(e) => setName(e.target.value)}
              />
            </div>
            <div className="field" style={{ flex: '0 1 160px' }}>
              <label htmlFor="token-days">Expires</label>
              <select
                id="token-days"
                className="select"
                value={days}
                onChange={(e) => setDays(e.target.value)}
              >
                <option value="7">in 7 days</option>
                <option value="30">in 30 days</option>
                <option value="90">in 90 days</option>
                <option value="365">in a year</option>
                <option value="">never</option>
              </select>
            </div>
            <fieldset className="checks">
              <legend>Scopes</legend>
              {CHOOSABLE.map((s) => (
                <label key={s}>
                  <input
                    type="checkbox"
                    checked={scopes.includes(s)}
                    onChange={(e) => toggle(s, e.target.checked)}
                  />
                  {s}
                </label>
              ))}
            </fieldset>
            <button
              type="submit"
              className="btn btn-primary"
              disabled={busy || scopes.length === 0}
              style={{ minHeight: 34 }}
            >
              {busy ? 'Creating…' : 'Create token'}
            </button>
          </div>
          <span className="hint">read: every GET. write: changes (create, update, delete).</span>
        </form>

        <Loaded items={tokens} error={error} empty="No tokens yet.">
          {(tokens) => (
            <DataTable
              columns={['Name', 'Kind', 'Scopes', 'Token', 'Created', 'Last used', 'Expires', 'Status']}
              actions
              caption="Your tokens"
            >
              {tokens.map((t) => {
                const st = status(t);
                return (
                  <tr key={t.id}>
                    <td>
                      <strong>{t.name}</strong>
                    </td>
                    <td>{t.kind === 'cli' ? 'CLI' : 'personal'}</td>
                    <td>{t.scopes.join(', ')}</td>
                    <td className="mono">{t.prefix}…</td>
                    <td className="muted nowrap">{formatDate(t.createdAt)}</td>
                    <td className="muted nowrap">{relative(t.lastUsedAt)}</td>
                    <td className="muted nowrap">{t.expiresAt ? formatDate(t.expiresAt) : 'never'}</td>
                    <td>
                      <span className={`badge ${st.cls}`}>{st.label}</span>
                    </td>
                    <td className="actions">
                      {t.revokedAt ? null : <ConfirmButton label="Revoke" onConfirm={() => revoke(t.id)} />}
                    </td>
                  </tr>
                );
              })}
            </DataTable>
          )}
        </Loaded>
      </div>
    </>
  );
}
