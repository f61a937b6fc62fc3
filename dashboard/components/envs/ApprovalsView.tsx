'use client';
/**
 * Pending proposals for this environment: what each changes (its diff against the current version,
 * secret values masked), who proposed it and why; Approve and Reject for those with the approve role,
 * except on their own proposals (an approval comes from someone else), which their author may cancel.
 */
import { useCallback, useState } from 'react';
import { useMe } from '@/components/AppShell';
import { DataTable } from '@/components/DataTable';
import { ErrorAlert } from '@/components/ErrorAlert';
import { Loaded } from '@/components/Loaded';
import { api } from '@/lib/api';
import { type Diff, keyList, type Proposal, type VarsResponse } from '@/lib/envs';
import { formatDate } from '@/lib/format';
import { useAction, useResource } from '@/lib/hooks';
import { DiffView } from './DiffView';
import styles from './envs.module.css';

export function ApprovalsView({
  projectId,
  data,
  onChanged,
}: {
  projectId: string;
  data: VarsResponse;
  onChanged: () => Promise<void>;
}) {
  const env = data.environment.slug;
  const me = useMe();
  const base = `/projects/${encodeURIComponent(projectId)}/proposals`;
  // biome-ignore lint/correctness/useExhaustiveDependencies: a new version on screen may have applied one
  const loader = useCallback(
    () => api<{ proposals: Proposal[] }>(base, { query: { status: 'pending', env } }),
    [base, env, data.version],
  );
  const { data: list, error, reload } = useResource(loader);
  const [open, setOpen] = useState<{ number: number; diff: Diff } | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const action = useAction();

  async function show(p: Proposal) {
    if (open?.number === p.number) return setOpen(null);
    await action.run(async () => {
      const r = await api<{ diff: Diff }>(`${base}/${p.number}`);
      setOpen({ number: p.number, diff: r.diff });
    });
  }

  async function decide(p: Proposal, what: 'approve' | 'reject' | 'cancel') {
    setNotice(null);
    await action.run(async () => {
      const r = await api<{ proposal: Proposal; version?: number }>(`${base}/${p.number}/${what}`, {
        method: 'POST',
        body: {},
      });
      setOpen(null);
      setNotice(
        what === 'approve'
          ? `Proposal #${p.number} applied as version ${r.version ?? r.proposal.appliedVersion} of ${env}.`
          : `Proposal #${p.number} ${what === 'reject' ? 'rejected' : 'cancelled'}.`,
      );
      await reload();
      await onChanged();
    });
  }

  return (
    <section className={styles.section} aria-labelledby="approvals-title">
      <h2 id="approvals-title" className={styles.h2}>
        Pending approvals for {data.environment.name}
      </h2>
      <p className="hint">
        Approvers: {data.policy.approveRole} and above, never the author of the proposal.
      </p>
      {notice ? (
        <p className="alert alert-success" role="status">
          {notice}
        </p>
      ) : null}
      <ErrorAlert error={error ?? action.error} />
      <Loaded items={list?.proposals ?? null} error={error} empty={`No proposals wait for ${env}.`}>
        {(proposals) => (
          <DataTable
            caption={`Pending proposals for ${env}`}
            columns={['Proposal', 'Message', 'Author', 'Time', 'Keys']}
            actions
          >
            {proposals.map((p) => {
              const mine = p.author?.id === me.user.id;
              return (
                <tr key={p.id} data-proposal={p.number}>
                  <td className="nowrap">
                    <strong>#{p.number}</strong> <span className="muted">{p.kind}</span>
                    {p.source?.environment ? (
                      <span className="muted"> from {p.source.environment.slug}</span>
                    ) : null}
                  </td>
                  <td>{p.message || <span className="muted">—</span>}</td>
                  <td>
                    {p.author?.email ?? '—'} {mine ? <span className="badge">you</span> : null}
                  </td>
                  <td className="nowrap">
                    <time dateTime={p.createdAt}>{formatDate(p.createdAt)}</time>
                  </td>
                  <td className="mono">{keyList(p.changes)}</td>
                  <td className="actions nowrap">
                    <button type="button" className="btn btn-sm" onClick={() => void show(p)}>
                      {open?.number === p.number ? 'Hide diff' : 'Show diff'}
                    </button>{' '}
                    {data.policy.canApprove && !mine ? (
                      <>
                        <button
                          type="button"
                          className="btn btn-sm btn-primary"
                          aria-label={`Approve proposal ${p.number}`}
                          disabled={action.busy}
                          onClick={() => void decide(p, 'approve')}
                        >
                          Approve
                        </button>{' '}
                        <button
                          type="button"
                          className="btn btn-sm btn-danger"
                          aria-label={`Reject proposal ${p.number}`}
                          disabled={action.busy}
                          onClick={() => void decide(p, 'reject')}
                        >
                          Reject
                        </button>
                      </>
                    ) : mine ? (
                      <>
                        <span className="hint">another admin or owner approves it </span>
                        <button
                          type="button"
                          className="btn btn-sm"
                          aria-label={`Cancel proposal ${p.number}`}
                          disabled={action.busy}
                          onClick={() => void decide(p, 'cancel')}
                        >
                          Cancel
                        </button>
                      </>
                    ) : null}
                  </td>
                </tr>
              );
            })}
          </DataTable>
        )}
      </Loaded>
      {open ? (
        <DiffView
          diff={open.diff}
          label={`Proposal ${open.number}`}
          leftLabel={`${env} now`}
          rightLabel={`with proposal #${open.number}`}
        />
      ) : null}
    </section>
  );
}
