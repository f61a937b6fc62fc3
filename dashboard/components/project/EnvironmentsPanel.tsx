'use client';
import { type FormEvent, useState } from 'react';
import { ConfirmButton } from '@/components/ConfirmButton';
import { ErrorAlert } from '@/components/ErrorAlert';
import { api } from '@/lib/api';
import { formatDate } from '@/lib/format';
import { useAction } from '@/lib/hooks';
import { atLeast, type ProjectDetail, SLUG_PATTERN } from '@/lib/types';
import styles from './project.module.css';

export function EnvironmentsPanel({
  detail,
  onChange,
}: {
  detail: ProjectDetail;
  onChange: () => Promise<void>;
}) {
  const { project } = detail;
  const envs = [...detail.environments].sort((a, b) => a.position - b.position);
  const canEdit = atLeast(project.role, 'admin');
  const [slug, setSlug] = useState('');
  const [name, setName] = useState('');
  const [position, setPosition] = useState('end');
  const { run, busy, error } = useAction();

  function add(e: FormEvent) {
    e.preventDefault();
    return run(async () => {
      await api(`/projects/${project.id}/environments`, {
        method: 'POST',
        body: {
          slug: slug.trim(),
          ...(name.trim() ? { name: name.trim() } : {}),
          ...(position === 'end' ? {} : { position: Number(position) }),
        },
      });
      setSlug('');
      setName('');
      setPosition('end');
      await onChange();
    });
  }

  async function remove(id: string) {
    await run(
      async () => {
        await api(`/projects/${project.id}/environments/${id}`, { method: 'DELETE' });
        await onChange();
      },
      { busy: false },
    );
  }

  return (
    <>
      <div className={styles.toolbar}>
        <h2 className={styles.sectionTitle}>Environments</h2>
        <span className="hint">Promotion order, first to last.</span>
      </div>
      <ErrorAlert error={error} />
      <ol className={styles.envList} aria-label="Environments in promotion order">
        {envs.map((env, i) => (
          <li key={env.id} className={styles.envItem}>
            <span className={styles.envPos} aria-hidden="true">
              {i + 1}
            </span>
            <span className={styles.envName}>
              <strong>{env.name}</strong> <span className="mono muted">{env.slug}</span>
            </span>
            <span className={`muted nowrap ${styles.envCreated}`}>created {formatDate(env.createdAt)}</span>
            {canEdit ? (
              <ConfirmButton
                label="Delete"
                confirmLabel={`Delete ${env.slug}`}
                onConfirm={() => remove(env.id)}
                disabled={envs.length <= 1}
              />
            ) : null}
          </li>
        ))}
      </ol>
      {canEdit ? (
        <form onSubmit={add} className="card stack" aria-labelledby="add-env">
          <h3 id="add-env" className={styles.sectionTitle}>
            Add an environment
          </h3>
          <div className="form-row">
            <div className="field">
              <label htmlFor="env-slug">Slug</label>
              <input
                id="env-slug"
                className="input"
                required
                pattern={SLUG_PATTERN}
                maxLength={40}
                placeholder="e.g. qa"
                value={slug}
                onChange={(e) => setSlug(e.target.value)}
              />
            </div>
            <div className="field">
              <label htmlFor="env-name">Display name (optional)</label>
              <input
                id="env-name"
                className="input"
                maxLength={100}
                value={name}
                onChange={(e) => setName(e.target.value)}
              />
            </div>
            <div className="field">
              <label htmlFor="env-position">Position</label>
              <select
                id="env-position"
                className="select"
                value={position}
                onChange={(e) => setPosition(e.target.value)}
              >
                <option value="end">At the end</option>
                {envs.map((env) => (
                  <option key={env.id} value={env.position}>
                    Before {env.slug}
                  </option>
                ))}
              </select>
            </div>
            <button type="submit" className="btn btn-primary" disabled={busy} style={{ minHeight: 34 }}>
              {busy ? 'Adding…' : 'Add environment'}
            </button>
          </div>
        </form>
      ) : (
        <p className="hint">Only project owners and admins can change environments.</p>
      )}
    </>
  );
}
