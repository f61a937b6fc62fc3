'use client';
/**
 * A diff side by side: one row per variable that differs (added, removed, changed), the left side's
 * value and the right side's, secret values masked (the API answers null for them).
 */
import { type Diff, diffRows, scopeLabel } from '@/lib/envs';
import styles from './envs.module.css';

const OP_CLASS = { added: styles.opAdded, removed: styles.opRemoved, changed: styles.opChanged };

export function Cell({
  value,
  secret,
  present,
}: {
  value: string | null;
  secret: boolean;
  present: boolean;
}) {
  if (!present) return <span className="muted">—</span>;
  if (value === null)
    return (
      <span className={styles.masked} title={secret ? 'secret value (masked)' : undefined}>
        ••••••••
      </span>
    );
  return <span className={styles.value}>{value === '' ? <em className="muted">(empty)</em> : value}</span>;
}

export function DiffView({
  diff,
  leftLabel,
  rightLabel,
  label,
}: {
  diff: Diff;
  leftLabel: string;
  rightLabel: string;
  label: string;
}) {
  const rows = diffRows(diff);
  return (
    <div className={styles.section}>
      <p className="hint" data-testid="diff-summary">
        {diff.added.length} added, {diff.removed.length} removed, {diff.changed.length} changed,{' '}
        {diff.unchanged} unchanged
      </p>
      {rows.length === 0 ? (
        <p className="empty">No differences.</p>
      ) : (
        <div className="table-wrap">
          <table className={`table ${styles.diff}`} aria-label={label}>
            <thead>
              <tr>
                <th scope="col">Key</th>
                <th scope="col">Scope</th>
                <th scope="col">Change</th>
                <th scope="col">{leftLabel}</th>
                <th scope="col">{rightLabel}</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr key={`${r.service}/${r.key}`} className={OP_CLASS[r.op]} data-key={r.key}>
                  <td className="mono">
                    {r.key} {r.secret ? <span className="badge">secret</span> : null}
                  </td>
                  <td className={styles.scope}>{scopeLabel(r.service)}</td>
                  <td>{r.op}</td>
                  <td>
                    <Cell value={r.left} secret={r.secret} present={r.op !== 'added'} />
                  </td>
                  <td>
                    <Cell value={r.right} secret={r.secret} present={r.op !== 'removed'} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}
