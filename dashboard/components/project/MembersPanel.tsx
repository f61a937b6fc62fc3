'use client';
import { useRouter } from 'next/navigation';
import { type FormEvent, useCallback, useState } from 'react';
import { useMe } from '@/components/AppShell';
import { ConfirmButton } from '@/components/ConfirmButton';
import { CopyButton } from '@/components/CopyButton';
import { DataTable } from '@/components/DataTable';
import { ErrorAlert } from '@/components/ErrorAlert';
import { Loaded } from '@/components/Loaded';
import { api, isApiError } from '@/lib/api';
import { formatDate } from '@/lib/format';
import { useAction, useResource } from '@/lib/hooks';
import { atLeast, type Member, type Project, ROLE_ORDER, type Role } from '@/lib/types';
import styles from './project.module.css';

export function MembersPanel({ project }: { project: Project }) {
  const me = useMe();
  const router = useRouter();
  const { run, busy, error, setError } = useAction();
  const { data: members, reload: load } = useResource(
    useCallback(
      async () => (await api<{ members: Member[] }>(`/projects/${project.id}/members`)).members,
      [project.id],
    ),
    setError,
  );
  const [email, setEmail] = useState('');
  const [role, setRole] = useState<Role>('developer');
  // An instance admin adding an email without an account can invite it to peep from here.
  const [invitable, setInvitable] = useState<string | null>(null);
  const [invite, setInvite] = useState<{ email: string; inviteUrl: string; expiresAt: string } | null>(null);
  const isAdmin = atLeast(project.role, 'admin');
  const isOwner = project.role === 'owner';
  // Admins manage everyone below owner; only owners grant or change the owner role.
  const grantable = ROLE_ORDER.filter((r) => r !== 'owner' || isOwner);

  function add(e: FormEvent) {
    e.preventDefault();
    return run(
      async () => {
        await api(`/projects/${project.id}/members`, { method: 'POST', body: { email: email.trim(), role } });
        setEmail('');
        setInvitable(null);
        await load();
      },
      {
        onError: (err) =>
          setInvitable(isApiError(err, 'user_not_found') && me.user.isAdmin ? email.trim() : null),
      },
    );
  }

  function changeRole(m: Member, next: Role) {
    return run(
      async () => {
        await api(`/projects/${project.id}/members/${m.userId}`, { method: 'PATCH', body: { role: next } });
        await load();
      },
      { busy: false },
    );
  }

  async function remove(m: Member) {
    await run(
      async () => {
        await api(`/projects/${project.id}/members/${m.userId}`, { method: 'DELETE' });
        if (m.userId === me.user.id) router.push('/projects');
        else await load();
      },
      { busy: false },
    );
  }

  function createInvite(to: string) {
    return run(
      async () => {
        setInvite(
          await api<{ email: string; inviteUrl: string; expiresAt: string }>('/invites', {
            method: 'POST',
            body: { email: to },
          }),
        );
        setInvitable(null);
      },
      { busy: false },
    );
  }

  const canManage = (m: Member) => isAdmin && (m.role !== 'owner' || isOwner);

  return (
    <>
      <h2 className={styles.sectionTitle}>Members</h2>
      <ErrorAlert error={error} />
      {invitable ? (
        <div className="alert">
          <p>
            No peep account uses <strong>{invitable}</strong> yet. As an instance admin you can invite them.
          </p>
          <button type="button" className="btn btn-sm" onClick={() => void createInvite(invitable)}>
            Create invitation link
          </button>
        </div>
      ) : null}
      {invite ? (
        <div className="alert alert-success stack" style={{ gap: 8, color: 'var(--fg)' }}>
          <p>
            Send this link to <strong>{invite.email}</strong> (valid until {formatDate(invite.expiresAt)}).
            Once they have joined, add them here.
          </p>
          <div style={{ display: 'flex', gap: 8, flexWrap: 'wrap', alignItems: 'center' }}>
            <code data-testid="invite-url" style={{ wordBreak: 'break-all' }}>
              {invite.inviteUrl}
            </code>
            <CopyButton value={invite.inviteUrl} />
          </div>
        </div>
      ) : null}
      <Loaded items={members} error={error}>
        {(members) => (
          <DataTable columns={['Name', 'Email', 'Role', 'Added']} actions>
            {members.map((m) => {
              const self = m.userId === me.user.id;
              return (
                <tr key={m.userId}>
                  <td>
                    <strong>{m.name}</strong> {self ? <span className="badge">you</span> : null}
                  </td>
                  <td>{m.email}</td>
                  <td>
                    {canManage(m) ? (
                      <>
                        <label className="visually-hidden" htmlFor={`role-${m.userId}`}>
                          Role of {m.email}
                        </label>
                        <select
                          id={`role-${m.userId}`}
                          className="select"
                          style={{ width: 'auto', minHeight: 28, padding: '2px 8px' }}
                          value={m.role}
                          onChange={(e) => void changeRole(m, e.target.value as Role)}
                        >
                          {grantable.map((r) => (
                            <option key={r} value={r}>
                              {r}
                            </option>
                          ))}
                        </select>
                      </>
                    ) : (
                      <span className="badge">{m.role}</span>
                    )}
                  </td>
                  <td className="muted nowrap">{formatDate(m.createdAt)}</td>
                  <td className="actions">
                    {self ? (
                      <ConfirmButton label="Leave" confirmLabel="Leave project" onConfirm={() => remove(m)} />
                    ) : canManage(m) ? (
                      <ConfirmButton label="Remove" onConfirm={() => remove(m)} />
                    ) : null}
                  </td>
                </tr>
              );
            })}
          </DataTable>
        )}
      </Loaded>
      {isAdmin ? (
        <form onSubmit={add} className="card stack" aria-labelledby="add-member">
          <h3 id="add-member" className={styles.sectionTitle}>
            Add a member
          </h3>
          <div className="form-row">
            <div className="field">
              <label htmlFor="member-email">Email</label>
              <input
                id="member-email"
                className="input"
                type="email"
                required
                value={email}
                onChange={(e) => setEmail(e.target.value)}
                aria-describedby="member-hint"
              />
            </div>
            <div className="field" style={{ flex: '0 1 160px' }}>
              <label htmlFor="member-role">Role</label>
              <select
                id="member-role"
                className="select"
                value={role}
                onChange={(e) => setRole(e.target.value as Role)}
              >
                {grantable.map((r) => (
                  <option key={r} value={r}>
                    {r}
                  </option>
                ))}
              </select>
            </div>
            <button type="submit" className="btn btn-primary" disabled={busy} style={{ minHeight: 34 }}>
              {busy ? 'Adding…' : 'Add member'}
            </button>
          </div>
          <span id="member-hint" className="hint">
            The person needs a peep account already (an instance admin can invite them).
          </span>
        </form>
      ) : (
        <p className="hint">Only project owners and admins can manage members.</p>
      )}
    </>
  );
}
