'use client';
/**
 * The variables of one environment: key, scope (the environment or a service's override), the secret
 * badge and the value, masked for secrets until "Reveal" (POST /reveal for that key: audited), hidden
 * again by "Hide". Edits (add, edit, delete) collect in a draft shown in the table, then "Save" sends
 * them as one version with a required message, based on the version the table shows: a 409 says
 * someone else changed it meanwhile (reload, review, retry), a 403 approval_required offers to propose
 * the draft instead. Those who may only propose get "Propose change" directly.
 */
import { type FormEvent, useEffect, useMemo, useRef, useState } from 'react';
import { DataTable } from '@/components/DataTable';
import { ErrorAlert } from '@/components/ErrorAlert';
import { api, isApiError } from '@/lib/api';
import {
  type DraftItem,
  draftBody,
  envPath,
  KEY_PATTERN,
  type Proposal,
  SECRET_NAME,
  scopeLabel,
  slot,
  type Var,
  type VarsResponse,
} from '@/lib/envs';
import { useAction } from '@/lib/hooks';
import { Cell } from './DiffView';
import styles from './envs.module.css';

/** '' = every scope, ENV_ONLY = the environment-wide variables, else a service's view. */
const ENV_ONLY = ':environment';

interface Row {
  key: string;
  service: string;
  current: Var | null;
  draft: DraftItem | null;
}

export function VariablesView({
  projectId,
  data,
  services,
  onChanged,
  onReload,
}: {
  projectId: string;
  data: VarsResponse;
  services: string[];
  onChanged: () => Promise<void>;
  onReload: () => Promise<void>;
}) {
  const env = data.environment.slug;
  const { policy } = data;
  const canEdit = policy.canChange || policy.canPropose;
  const [filter, setFilter] = useState('');
  const [revealed, setRevealed] = useState<Map<string, string>>(new Map());
  const [draft, setDraft] = useState<Map<string, DraftItem>>(new Map());
  const [message, setMessage] = useState('');
  const [conflict, setConflict] = useState<number | null>(null);
  const [needsApproval, setNeedsApproval] = useState(false);
  const [notice, setNotice] = useState<string | null>(null);
  const save = useAction();
  const reveal = useAction();

  // A new version on screen: revealed values belong to the old one, a conflict is resolved by reading.
  // biome-ignore lint/correctness/useExhaustiveDependencies: reset exactly when the version moves
  useEffect(() => {
    setRevealed(new Map());
    setConflict(null);
  }, [data.version]);

  const all = useMemo(() => [...data.vars, ...(data.overrides ?? [])], [data]);
  const scopes = useMemo(
    () => [...new Set([...services, ...all.map((v) => v.service).filter(Boolean)])].sort(),
    [services, all],
  );

  const rows = useMemo(() => {
    const bySlot = new Map<string, Row>();
    for (const v of all)
      bySlot.set(slot(v.key, v.service), { key: v.key, service: v.service, current: v, draft: null });
    for (const [s, d] of draft) {
      const r = bySlot.get(s);
      bySlot.set(s, r ? { ...r, draft: d } : { key: d.key, service: d.service, current: null, draft: d });
    }
    let list = [...bySlot.values()];
    if (filter === ENV_ONLY) list = list.filter((r) => r.service === '');
    else if (filter) {
      const own = new Set(list.filter((r) => r.service === filter).map((r) => r.key));
      list = list.filter((r) => r.service === filter || (r.service === '' && !own.has(r.key)));
    }
    return list.sort((a, b) => a.key.localeCompare(b.key) || a.service.localeCompare(b.service));
  }, [all, draft, filter]);

  // ---- the editor: add a variable, or edit one picked from the table
  const [key, setKey] = useState('');
  const [scope, setScope] = useState('');
  const [value, setValue] = useState('');
  const [secret, setSecret] = useState(false);
  const [secretTouched, setSecretTouched] = useState(false);
  /** Editing a secret whose value is not on screen: the field starts empty, a new value replaces it. */
  const [hiddenValue, setHiddenValue] = useState(false);
  const valueRef = useRef<HTMLTextAreaElement>(null);

  function edit(r: Row) {
    const s = slot(r.key, r.service);
    const d = r.draft?.op === 'set' ? r.draft : null;
    setKey(r.key);
    setScope(r.service);
    const known = d ? d.value : (r.current?.value ?? revealed.get(s));
    setValue(known ?? '');
    setHiddenValue(known === undefined);
    setSecret(d ? d.secret : (r.current?.secret ?? false));
    setSecretTouched(true);
    valueRef.current?.focus();
  }

  function addToDraft(e: FormEvent) {
    e.preventDefault();
    const k = key.trim();
    const item: DraftItem = { op: 'set', key: k, service: scope, value, secret };
    setDraft((prev) => new Map(prev).set(slot(k, scope), item));
    setKey('');
    setValue('');
    setSecret(false);
    setSecretTouched(false);
    setHiddenValue(false);
    setNotice(null);
  }

  function remove(r: Row) {
    setDraft((prev) => {
      const next = new Map(prev);
      const s = slot(r.key, r.service);
      if (r.current) next.set(s, { op: 'unset', key: r.key, service: r.service });
      else next.delete(s);
      return next;
    });
  }

  function undo(r: Row) {
    setDraft((prev) => {
      const next = new Map(prev);
      next.delete(slot(r.key, r.service));
      return next;
    });
  }

  async function toggleReveal(r: Row) {
    const s = slot(r.key, r.service);
    if (revealed.has(s)) {
      setRevealed((prev) => {
        const next = new Map(prev);
        next.delete(s);
        return next;
      });
      return;
    }
    await reveal.run(
      async () => {
        const res = await api<{ values: Record<string, string> }>(envPath(projectId, env, '/reveal'), {
          method: 'POST',
          body: { keys: [r.key], ...(r.service ? { service: r.service } : {}) },
        });
        const v = res.values[r.key];
        if (v !== undefined) setRevealed((prev) => new Map(prev).set(s, v));
      },
      { busy: false },
    );
  }

  const done = async (note: string) => {
    setDraft(new Map());
    setMessage('');
    setNeedsApproval(false);
    setNotice(note);
    await onChanged();
  };

  async function submit(e: FormEvent) {
    e.preventDefault();
    if (!policy.canChange) return propose();
    setNotice(null);
    await save.run(
      async () => {
        const r = await api<{ version: number; changes: unknown[] }>(envPath(projectId, env, '/vars'), {
          method: 'PUT',
          body: { baseVersion: data.version, message: message.trim(), ...draftBody(draft) },
        });
        await done(
          r.changes.length
            ? `Saved as version ${r.version}.`
            : 'Nothing changed: the values were already set.',
        );
      },
      {
        onError: (err) => {
          if (isApiError(err, 'version_conflict'))
            setConflict((err.details as { currentVersion?: number })?.currentVersion ?? -1);
          if (isApiError(err, 'approval_required')) setNeedsApproval(true);
        },
      },
    );
  }

  async function propose() {
    setNotice(null);
    await save.run(async () => {
      const { proposal } = await api<{ proposal: Proposal }>(envPath(projectId, env, '/proposals'), {
        method: 'POST',
        body: { kind: 'change', baseVersion: data.version, message: message.trim(), ...draftBody(draft) },
      });
      await done(`Proposal #${proposal.number} is waiting for approval by an admin or owner.`);
    });
  }

  const shownError =
    isApiError(save.error, 'version_conflict') || isApiError(save.error, 'approval_required')
      ? null
      : save.error;

  return (
    <section className={styles.section} aria-labelledby="vars-title">
      <div className={styles.head}>
        <h2 id="vars-title" className={styles.h2}>
          Variables of {data.environment.name}
        </h2>
        <div className="field">
          <label htmlFor="vars-filter">Service filter</label>
          <select
            id="vars-filter"
            className="select"
            value={filter}
            onChange={(e) => setFilter(e.target.value)}
          >
            <option value="">Every scope</option>
            <option value={ENV_ONLY}>Environment-wide only</option>
            {scopes.map((s) => (
              <option key={s} value={s}>
                {s} (its view)
              </option>
            ))}
          </select>
        </div>
      </div>
      <ErrorAlert error={reveal.error} title="Could not reveal the value." />
      {rows.length === 0 ? (
        <p className="empty">No variables in {env} yet.</p>
      ) : (
        <DataTable caption={`Variables of ${env}`} columns={['Key', 'Scope', 'Value', 'Version']} actions>
          {rows.map((r) => {
            const s = slot(r.key, r.service);
            const d = r.draft;
            const isSecret = d?.op === 'set' ? d.secret : (r.current?.secret ?? false);
            const shown = revealed.get(s);
            return (
              <tr
                key={s}
                data-key={r.key}
                data-scope={scopeLabel(r.service)}
                className={d?.op === 'unset' ? styles.removedRow : d ? styles.draftRow : undefined}
              >
                <td className="mono">
                  {r.key} {isSecret ? <span className="badge badge-accent">secret</span> : null}{' '}
                  {d ? (
                    <span className="badge">
                      {d.op === 'unset' ? 'to delete' : r.current ? 'edited' : 'new'}
                    </span>
                  ) : null}
                </td>
                <td className={styles.scope}>
                  {r.service ? (
                    <>
                      override: <strong>{r.service}</strong>
                    </>
                  ) : (
                    'environment'
                  )}
                </td>
                <td data-testid="value">
                  {d?.op === 'set' ? (
                    <Cell value={isSecret ? null : d.value} secret={isSecret} present />
                  ) : (
                    <Cell value={r.current?.value ?? shown ?? null} secret={isSecret} present />
                  )}
                </td>
                <td className="nowrap muted">{r.current ? `v${r.current.updatedVersion}` : '—'}</td>
                <td className="actions nowrap">
                  {r.current?.secret && policy.canReveal && !d ? (
                    <button
                      type="button"
                      className="btn btn-sm"
                      aria-label={`${shown === undefined ? 'Reveal' : 'Hide'} ${r.key}`}
                      onClick={() => toggleReveal(r)}
                    >
                      {shown === undefined ? 'Reveal' : 'Hide'}
                    </button>
                  ) : null}{' '}
                  {canEdit && d?.op !== 'unset' ? (
                    <button
                      type="button"
                      className="btn btn-sm"
                      aria-label={`Edit ${r.key}`}
                      onClick={() => edit(r)}
                    >
                      Edit
                    </button>
                  ) : null}{' '}
                  {canEdit && d ? (
                    <button
                      type="button"
                      className="btn btn-sm"
                      aria-label={`Undo ${r.key}`}
                      onClick={() => undo(r)}
                    >
                      Undo
                    </button>
                  ) : canEdit ? (
                    <button
                      type="button"
                      className="btn btn-sm btn-danger"
                      aria-label={`Delete ${r.key}`}
                      onClick={() => remove(r)}
                    >
                      Delete
                    </button>
                  ) : null}
                </td>
              </tr>
            );
          })}
        </DataTable>
      )}

      {canEdit ? (
        <>
          <form onSubmit={addToDraft} className="card stack" aria-label="Add or edit a variable">
            <h3 className={styles.h3}>Add or edit a variable</h3>
            <div className={styles.editor}>
              <div className="field">
                <label htmlFor="var-key">Key</label>
                <input
                  id="var-key"
                  className="input mono"
                  required
                  pattern={KEY_PATTERN}
                  title="Letters, digits and underscores, not starting with a digit"
                  value={key}
                  onChange={(e) => {
                    setKey(e.target.value);
                    if (!secretTouched) setSecret(SECRET_NAME.test(e.target.value));
                  }}
                  placeholder="DATABASE_URL"
                />
              </div>
              <div className="field">
                <label htmlFor="var-value">Value</label>
                <textarea
                  id="var-value"
                  ref={valueRef}
                  className="input"
                  rows={1}
                  value={value}
                  onChange={(e) => setValue(e.target.value)}
                  placeholder={hiddenValue ? 'the new value (the current one stays hidden)' : undefined}
                />
              </div>
              <div className="field">
                <label htmlFor="var-scope">Scope</label>
                <select
                  id="var-scope"
                  className="select"
                  value={scope}
                  onChange={(e) => setScope(e.target.value)}
                >
                  <option value="">Whole environment</option>
                  {scopes.map((s) => (
                    <option key={s} value={s}>
                      override for {s}
                    </option>
                  ))}
                </select>
              </div>
            </div>
            <div className={styles.row}>
              <label className="checks">
                <input
                  type="checkbox"
                  checked={secret}
                  onChange={(e) => {
                    setSecret(e.target.checked);
                    setSecretTouched(true);
                  }}
                />{' '}
                Secret (masked, revealing it is audited)
              </label>
              <button type="submit" className="btn btn-sm">
                Add to draft
              </button>
            </div>
          </form>

          <form onSubmit={submit} className="stack" aria-label="Save the draft">
            {conflict !== null ? (
              <div className="alert alert-error" role="alert" data-testid="conflict-banner">
                <p>
                  <strong>The variables of {env} were changed by someone else since you opened them</strong>
                  {conflict > 0 ? ` (now version ${conflict}, you started from ${data.version})` : ''} —
                  review and retry. Your draft is kept.
                </p>
                <p>
                  <button type="button" className="btn btn-sm" onClick={() => void onReload()}>
                    Reload the variables
                  </button>
                </p>
              </div>
            ) : null}
            {needsApproval ? (
              <div className="alert alert-warning" role="alert">
                <p>
                  Changes to {env} need approval by an admin or owner. Propose this draft instead: it waits in
                  Approvals.
                </p>
                <p>
                  <button type="button" className="btn btn-sm btn-primary" onClick={() => void propose()}>
                    Propose change
                  </button>
                </p>
              </div>
            ) : null}
            <ErrorAlert error={shownError} title="Could not save." />
            {notice ? (
              <p className="alert alert-success" role="status">
                {notice}
              </p>
            ) : null}
            <div className={styles.row}>
              <div className="field" style={{ flex: 1 }}>
                <label htmlFor="change-message">Change message</label>
                <input
                  id="change-message"
                  className="input"
                  required
                  maxLength={1000}
                  value={message}
                  onChange={(e) => setMessage(e.target.value)}
                  placeholder="why (shown in the history)"
                />
              </div>
              <button type="submit" className="btn btn-primary" disabled={save.busy || draft.size === 0}>
                {save.busy
                  ? 'Saving…'
                  : !policy.canChange
                    ? 'Propose change'
                    : draft.size
                      ? `Save ${draft.size} change(s)`
                      : 'Save'}
              </button>
            </div>
            {!policy.canChange ? (
              <p className="hint">
                Your role ({policy.role}) may propose changes to {env}; an admin or owner approves them.
              </p>
            ) : null}
          </form>
        </>
      ) : (
        <p className="hint">
          Your role ({policy.role}) can read these variables; changing them needs {policy.changeRole}.
        </p>
      )}
    </section>
  );
}
