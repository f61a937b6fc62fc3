'use client';
import { useRouter } from 'next/navigation';
import { type FormEvent, useState } from 'react';
import { ErrorAlert } from '@/components/ErrorAlert';
import { api } from '@/lib/api';
import { useAction } from '@/lib/hooks';
import type { ProjectDetail } from '@/lib/types';
import styles from './project.module.css';

/** Rename (admins) and delete (owners only, after typing the slug). */
export function SettingsPanel({
  detail,
  onChange,
}: {
  detail: ProjectDetail;
  onChange: () => Promise<void>;
}) {
  const { project } = detail;
  const router = useRouter();
  const [name, setName] = useState(project.name);
  const [confirm, setConfirm] = useState('');
  const { run, busy, pending, error } = useAction<'rename' | 'delete'>();
  const [saved, setSaved] = useState(false);

  function rename(e: FormEvent) {
    e.preventDefault();
    setSaved(false);
    return run(
      async () => {
        await api(`/projects/${project.id}`, { method: 'PATCH', body: { name: name.trim() } });
        await onChange();
        setSaved(true);
      },
      { busy: 'rename' },
    );
  }

  function remove(e: FormEvent) {
    e.preventDefault();
    return run(
      async () => {
        await api(`/projects/${project.id}`, { method: 'DELETE' });
        router.push('/projects');
      },
      { busy: 'delete', keepBusy: true },
    );
  }

  return (
    <>
      <h2 className={styles.sectionTitle}>Settings</h2>
      <ErrorAlert error={error} />
      <form onSubmit={rename} className="card stack" aria-labelledby="rename-title">
        <h3 id="rename-title" className={styles.sectionTitle}>
          Project name
        </h3>
        <div className="form-row">
          <div className="field">
            <label htmlFor="project-rename">Name</label>
            <input
              id="project-rename"
              className="input"
              required
              maxLength={100}
              value={name}
              onChange={(e) => {
                setName(e.target.value);
                setSaved(false);
              }}
            />
          </div>
          <button
            type="submit"
            className="btn btn-primary"
            disabled={busy || name.trim() === project.name}
            style={{ minHeight: 34 }}
          >
            {pending === 'rename' ? 'Saving…' : 'Save'}
          </button>
        </div>
        <span className="hint" role="status">
          {saved ? 'Saved.' : `The slug (${project.slug}) does not change.`}
        </span>
      </form>
      {project.role === 'owner' ? (
        <form onSubmit={remove} className={`card stack ${styles.danger}`} aria-labelledby="delete-title">
          <h3 id="delete-title" className={styles.sectionTitle}>
            Delete this project
          </h3>
          <p className="muted" style={{ margin: 0 }}>
            Deletes its environments, services, memberships and ingest keys. This cannot be undone.
          </p>
          <div className="form-row">
            <div className="field">
              <label htmlFor="delete-confirm">
                Type <span className="mono">{project.slug}</span> to confirm
              </label>
              <input
                id="delete-confirm"
                className="input"
                autoComplete="off"
                spellCheck={false}
                value={confirm}
                onChange={(e) => setConfirm(e.target.value)}
              />
            </div>
            <button
              type="submit"
              className="btn btn-danger"
              disabled={busy || confirm !== project.slug}
              style={{ minHeight: 34 }}
            >
              {pending === 'delete' ? 'Deleting…' : 'Delete project'}
            </button>
          </div>
        </form>
      ) : null}
    </>
  );
}
