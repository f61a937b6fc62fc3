'use client';
/**
 * Promotion from this environment to a later one (the next by default): choose the target, the scope
 * and the keys, preview (the diff on the target, required-key problems, a freeze, and whether it will
 * be applied or proposed), then confirm: applied as a version of the target, or a proposal waiting
 * for approval. The confirmation names the target version the preview showed.
 */
import { type FormEvent, useMemo, useState } from 'react';
import { ErrorAlert } from '@/components/ErrorAlert';
import { api } from '@/lib/api';
import { type Applied, type EnvViewProps, envPath, type PromotionPreview, type Proposal } from '@/lib/envs';
import { formatDate } from '@/lib/format';
import { useAction } from '@/lib/hooks';
import { DiffView } from './DiffView';
import styles from './envs.module.css';

export function PromoteView({ projectId, data, envs, onChanged }: EnvViewProps) {
  const env = data.environment.slug;
  const at = envs.findIndex((e) => e.slug === env);
  const later = envs.slice(at + 1);
  const [to, setTo] = useState(later[0]?.slug ?? '');
  const [scope, setScope] = useState('');
  const scopes = useMemo(
    () => [...new Set((data.overrides ?? []).map((v) => v.service))].sort(),
    [data.overrides],
  );
  const candidates = useMemo(
    () =>
      [
        ...new Set(
          [...data.vars, ...(data.overrides ?? [])].filter((v) => v.service === scope).map((v) => v.key),
        ),
      ].sort(),
    [data, scope],
  );
  const [unchecked, setUnchecked] = useState<Set<string>>(new Set());
  const [message, setMessage] = useState('');
  const [preview, setPreview] = useState<PromotionPreview | null>(null);
  const [result, setResult] = useState<string | null>(null);
  const action = useAction<'preview' | 'confirm'>();

  const keys = candidates.filter((k) => !unchecked.has(k));
  const body = () => ({
    to,
    keys,
    ...(scope ? { service: scope } : {}),
    ...(later[0]?.slug !== to ? { skip: true } : {}),
  });

  function reset() {
    setPreview(null);
    setResult(null);
  }

  async function runPreview(e: FormEvent) {
    e.preventDefault();
    reset();
    await action.run(
      async () => {
        setPreview(
          await api<PromotionPreview>(envPath(projectId, env, '/promote'), {
            method: 'POST',
            body: { ...body(), dryRun: true },
          }),
        );
      },
      { busy: 'preview' },
    );
  }

  async function confirm() {
    if (!preview) return;
    await action.run(
      async () => {
        const r = await api<Applied | { proposal: Proposal }>(envPath(projectId, env, '/promote'), {
          method: 'POST',
          body: {
            ...body(),
            baseVersion: preview.to.version,
            message: message.trim() || `Promote ${keys.length} key(s) from ${env}@v${data.version}`,
          },
        });
        setPreview(null);
        setResult(
          'proposal' in r
            ? `Proposal #${r.proposal.number} waits for approval in ${to}.`
            : r.changes.length
              ? `Promoted: ${to} is now at version ${r.version}.`
              : `Nothing to promote: ${to} already has these values.`,
        );
        await onChanged();
      },
      { busy: 'confirm' },
    );
  }

  if (later.length === 0)
    return (
      <p className="empty">
        {data.environment.name} is the last environment of the project's order: there is nothing to promote
        to.
      </p>
    );
  return (
    <section className={styles.section} aria-labelledby="promote-title">
      <h2 id="promote-title" className={styles.h2}>
        Promote from {data.environment.name}
      </h2>
      <form onSubmit={runPreview} className="stack" aria-label="Promotion">
        <div className={styles.row}>
          <div className="field">
            <label htmlFor="promote-to">Target environment</label>
            <select
              id="promote-to"
              className="select"
              value={to}
              onChange={(e) => {
                setTo(e.target.value);
                reset();
              }}
            >
              {later.map((e, i) => (
                <option key={e.id} value={e.slug}>
                  {e.name} ({e.slug}){i > 0 ? ', skipping the next' : ''}
                </option>
              ))}
            </select>
          </div>
          <div className="field">
            <label htmlFor="promote-scope">Scope</label>
            <select
              id="promote-scope"
              className="select"
              value={scope}
              onChange={(e) => {
                setScope(e.target.value);
                setUnchecked(new Set());
                reset();
              }}
            >
              <option value="">Whole environment</option>
              {scopes.map((s) => (
                <option key={s} value={s}>
                  overrides of {s}
                </option>
              ))}
            </select>
          </div>
        </div>
        {candidates.length === 0 ? (
          <p className="empty">No variables in this scope of {env}.</p>
        ) : (
          <fieldset className={styles.keys}>
            <legend className="visually-hidden">Keys to promote</legend>
            {candidates.map((k) => (
              <label key={k} className="checks mono">
                <input
                  type="checkbox"
                  checked={!unchecked.has(k)}
                  onChange={(e) => {
                    const next = new Set(unchecked);
                    if (e.target.checked) next.delete(k);
                    else next.add(k);
                    setUnchecked(next);
                    reset();
                  }}
                />{' '}
                {k}
              </label>
            ))}
          </fieldset>
        )}
        <div>
          <button type="submit" className="btn" disabled={action.busy || keys.length === 0}>
            {action.pending === 'preview' ? 'Previewing…' : 'Preview promotion'}
          </button>
        </div>
      </form>
      <ErrorAlert error={action.error} title="Could not promote." />
      {result ? (
        <p className="alert alert-success" role="status">
          {result}
        </p>
      ) : null}
      {preview ? (
        <div className="card stack" data-testid="promotion-preview">
          <h3 className={styles.h3}>
            Preview: {preview.from.environment}@v{preview.from.version} → {preview.to.environment}@v
            {preview.to.version}
          </h3>
          <DiffView
            diff={preview.diff}
            label="Promotion preview"
            leftLabel={`${preview.to.environment} now`}
            rightLabel={`${preview.to.environment} after`}
          />
          {preview.requiredKeys.ok ? (
            <p className="hint">Every required key is present after the promotion.</p>
          ) : (
            <div className="alert alert-error" role="alert">
              <p>
                <strong>Required keys would be missing in {preview.to.environment}:</strong>
              </p>
              <ul>
                {preview.requiredKeys.problems.map((p) => (
                  <li key={`${p.service ?? ''}/${p.key}`}>
                    <span className="mono">{p.key}</span>{' '}
                    {p.problem === 'missing' ? 'is missing' : 'does not match its pattern'}
                    {p.service ? ` (for ${p.service})` : ''}
                  </li>
                ))}
              </ul>
            </div>
          )}
          {preview.frozen ? (
            <div className="alert alert-warning" role="status">
              <p>
                {preview.to.environment} is frozen until {formatDate(preview.frozen.until)}
                {preview.frozen.reason ? ` (${preview.frozen.reason})` : ''}.
              </p>
            </div>
          ) : null}
          <p>
            {preview.mode === 'apply'
              ? `Confirming applies the copy as the next version of ${preview.to.environment}.`
              : `Your role may only propose changes to ${preview.to.environment}: confirming creates a proposal an admin or owner approves.`}
          </p>
          <div className={styles.row}>
            <div className="field" style={{ flex: 1 }}>
              <label htmlFor="promote-message">Promotion message</label>
              <input
                id="promote-message"
                className="input"
                maxLength={1000}
                value={message}
                onChange={(e) => setMessage(e.target.value)}
                placeholder={`Promote from ${env}`}
              />
            </div>
            <button
              type="button"
              className="btn btn-primary"
              disabled={
                action.busy ||
                !preview.requiredKeys.ok ||
                (preview.frozen !== null && preview.mode === 'apply')
              }
              onClick={() => void confirm()}
            >
              {action.pending === 'confirm'
                ? 'Working…'
                : preview.mode === 'apply'
                  ? `Promote to ${preview.to.environment}`
                  : `Propose promotion to ${preview.to.environment}`}
            </button>
          </div>
        </div>
      ) : null}
    </section>
  );
}
