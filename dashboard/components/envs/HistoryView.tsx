'use client';
/**
 * The history of one environment: its versions, newest first (author, message, time, changed keys,
 * and where a version came from: a rollback, a promotion, an approved proposal), a side-by-side diff
 * of any two versions or of this environment against another one, and rollback to a version after a
 * confirmation (a new version equal to it; proposed instead when the caller may only propose).
 */
import { type FormEvent, useCallback, useEffect, useState } from 'react';
import { DataTable } from '@/components/DataTable';
import { ErrorAlert } from '@/components/ErrorAlert';
import { Loaded } from '@/components/Loaded';
import { api, isApiError } from '@/lib/api';
import { type EnvViewProps, envPath, keyList, type Proposal, type SidedDiff, type Version } from '@/lib/envs';
import { formatDate } from '@/lib/format';
import { useAction } from '@/lib/hooks';
import { ConfirmDialog } from './ConfirmDialog';
import { DiffView } from './DiffView';
import styles from './envs.module.css';
import { MoreButton, usePages } from './usePages';

function origin(v: Version): string {
  if (v.kind === 'rollback' && v.restoredVersion !== null) return `rollback to v${v.restoredVersion}`;
  if (v.kind === 'promotion' && v.source)
    return `promoted from ${v.source.environment ?? '?'}@v${v.source.version}`;
  return v.kind;
}

export function HistoryView({ projectId, data, envs, onChanged }: EnvViewProps) {
  const env = data.environment.slug;
  const { policy } = data;
  // biome-ignore lint/correctness/useExhaustiveDependencies: a new version on screen reloads the list
  const page = useCallback(
    async (cursor?: string) => {
      const p = await api<{ versions: Version[]; nextCursor: string | null }>(
        envPath(projectId, env, '/versions'),
        { query: { limit: 50, cursor } },
      );
      return { items: p.versions, nextCursor: p.nextCursor };
    },
    [projectId, env, data.version],
  );
  const load = usePages(page);
  const versions = load.items;

  // ---- diff: two versions of this environment, or this one against another environment
  const [from, setFrom] = useState(String(Math.max(0, data.version - 1)));
  const [to, setTo] = useState(String(data.version));
  const [other, setOther] = useState('');
  const [diff, setDiff] = useState<SidedDiff | null>(null);
  const diffAction = useAction();

  const compare = useCallback(
    (f: string, t: string, o: string) =>
      diffAction.run(async () => {
        setDiff(
          o
            ? await api<SidedDiff>(`/projects/${encodeURIComponent(projectId)}/diff`, {
                query: { left: `${o}`, right: `${env}@${t}` },
              })
            : await api<SidedDiff>(envPath(projectId, env, '/diff'), { query: { from: f, to: t } }),
        );
      }),
    [projectId, env, diffAction.run],
  );
  // The latest change on arrival (nothing to compare before the first version).
  // biome-ignore lint/correctness/useExhaustiveDependencies: once per mount
  useEffect(() => {
    if (data.version > 0) void compare(String(data.version - 1), String(data.version), '');
  }, []);

  function showDiff(e: FormEvent) {
    e.preventDefault();
    void compare(from, to, other);
  }

  // ---- rollback
  const [target, setTarget] = useState<Version | null>(null);
  const [note, setNote] = useState('');
  const [done, setDone] = useState<string | null>(null);
  const rollback = useAction();
  const canRollback = policy.canChange || policy.canPropose;

  async function confirmRollback() {
    if (!target) return;
    const message = note.trim() || `Roll back to version ${target.number}`;
    await rollback.run(async () => {
      if (policy.canChange) {
        const r = await api<{ version: number; changes: unknown[] }>(envPath(projectId, env, '/rollback'), {
          method: 'POST',
          body: { toVersion: target.number, baseVersion: data.version, message },
        });
        setDone(
          r.changes.length
            ? `Version ${r.version} restores version ${target.number}.`
            : `Nothing to do: the variables already equal version ${target.number}.`,
        );
      } else {
        const { proposal } = await api<{ proposal: Proposal }>(envPath(projectId, env, '/proposals'), {
          method: 'POST',
          body: { kind: 'rollback', toVersion: target.number, baseVersion: data.version, message },
        });
        setDone(`Proposal #${proposal.number} (rollback to version ${target.number}) waits for approval.`);
      }
      setTarget(null);
      setNote('');
      await onChanged();
    });
  }

  const numbers = versions?.map((v) => v.number) ?? [];
  const versionOptions = [...numbers, 0].map((n) => (
    <option key={n} value={n}>
      {n === 0 ? 'v0 (empty)' : `v${n}`}
    </option>
  ));

  return (
    <section className={styles.section} aria-labelledby="history-title">
      <h2 id="history-title" className={styles.h2}>
        History of {data.environment.name}
      </h2>
      {done ? (
        <p className="alert alert-success" role="status">
          {done}
        </p>
      ) : null}
      <ErrorAlert error={load.error} title="Could not load the history." />
      <Loaded items={versions} error={load.error} empty={`${env} has no versions yet.`}>
        {(list) => (
          <DataTable
            caption={`Versions of ${env}`}
            columns={['Version', 'Message', 'Author', 'Time', 'Changed keys']}
            actions
          >
            {list.map((v) => (
              <tr key={v.number} data-version={v.number}>
                <td className="nowrap">
                  <strong>v{v.number}</strong> <span className="muted">{origin(v)}</span>
                </td>
                <td>
                  {v.message || <span className="muted">—</span>}
                  {v.proposal ? (
                    <span className="hint">
                      {' '}
                      proposal #{v.proposal.number}
                      {v.approvedBy ? `, approved by ${v.approvedBy.email ?? 'an admin'}` : ''}
                    </span>
                  ) : null}
                </td>
                <td>{v.author?.email ?? <span className="muted">system</span>}</td>
                <td className="nowrap">
                  <time dateTime={v.createdAt}>{formatDate(v.createdAt)}</time>
                </td>
                <td className="mono">{keyList(v.changes) || <span className="muted">—</span>}</td>
                <td className="actions nowrap">
                  <button
                    type="button"
                    className="btn btn-sm"
                    aria-label={`Diff of version ${v.number}`}
                    onClick={() => {
                      setFrom(String(v.number - 1));
                      setTo(String(v.number));
                      setOther('');
                      void compare(String(v.number - 1), String(v.number), '');
                    }}
                  >
                    Diff
                  </button>{' '}
                  {canRollback && v.number !== data.version ? (
                    <button
                      type="button"
                      className="btn btn-sm"
                      aria-label={`Roll back to version ${v.number}`}
                      onClick={() => {
                        setDone(null);
                        setTarget(v);
                      }}
                    >
                      Roll back
                    </button>
                  ) : null}
                </td>
              </tr>
            ))}
          </DataTable>
        )}
      </Loaded>
      <MoreButton pages={load} label="Older versions" />

      <form onSubmit={showDiff} className={styles.row} aria-label="Compare versions">
        <div className="field">
          <label htmlFor="diff-from">Compare</label>
          <select
            id="diff-from"
            className="select"
            value={other ? `env:${other}` : from}
            onChange={(e) => {
              const v = e.target.value;
              if (v.startsWith('env:')) setOther(v.slice(4));
              else {
                setOther('');
                setFrom(v);
              }
            }}
          >
            {versionOptions}
            {envs
              .filter((e) => e.slug !== env)
              .map((e) => (
                <option key={e.id} value={`env:${e.slug}`}>
                  {e.slug} (current)
                </option>
              ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="diff-to">with</label>
          <select id="diff-to" className="select" value={to} onChange={(e) => setTo(e.target.value)}>
            {versionOptions}
          </select>
        </div>
        <button type="submit" className="btn btn-sm" disabled={diffAction.busy}>
          Show diff
        </button>
      </form>
      <ErrorAlert error={diffAction.error} title="Could not compare." />
      {diff ? (
        <DiffView
          diff={diff}
          label="Diff"
          leftLabel={`${diff.left.environment}@v${diff.left.version}`}
          rightLabel={`${diff.right.environment}@v${diff.right.version}`}
        />
      ) : null}

      <ConfirmDialog
        open={target !== null}
        title={`Roll ${env} back to version ${target?.number ?? ''}?`}
        confirmLabel={policy.canChange ? 'Roll back' : 'Propose rollback'}
        busy={rollback.busy}
        onConfirm={() => void confirmRollback()}
        onCancel={() => {
          setTarget(null);
          rollback.setError(null);
        }}
      >
        <p>
          {policy.canChange
            ? `This creates version ${data.version + 1} of ${env}, equal to version ${target?.number ?? ''}. Nothing in the history is deleted.`
            : `Your role may only propose this: an admin or owner approves it.`}
        </p>
        <div className="field">
          <label htmlFor="rollback-message">Message</label>
          <input
            id="rollback-message"
            className="input"
            maxLength={1000}
            value={note}
            onChange={(e) => setNote(e.target.value)}
            placeholder={`Roll back to version ${target?.number ?? ''}`}
          />
        </div>
        <ErrorAlert
          error={rollback.error}
          title={
            isApiError(rollback.error, 'version_conflict')
              ? 'The environment moved on; reload first.'
              : undefined
          }
        />
      </ConfirmDialog>
    </section>
  );
}
