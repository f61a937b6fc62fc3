'use client';
import { type FormEvent, useState } from 'react';
import { ConfirmButton } from '@/components/ConfirmButton';
import { DataTable } from '@/components/DataTable';
import { ErrorAlert } from '@/components/ErrorAlert';
import { api } from '@/lib/api';
import { formatDate } from '@/lib/format';
import { useAction } from '@/lib/hooks';
import { atLeast, type ProjectDetail, SLUG_PATTERN } from '@/lib/types';
import styles from './project.module.css';

export function ServicesPanel({
  detail,
  onChange,
}: {
  detail: ProjectDetail;
  onChange: () => Promise<void>;
}) {
  const { project, services } = detail;
  const canAdd = atLeast(project.role, 'developer');
  const canDelete = atLeast(project.role, 'admin');
  const [name, setName] = useState('');
  const [slug, setSlug] = useState('');
  const { run, busy, error } = useAction();

  function add(e: FormEvent) {
    e.preventDefault();
    return run(async () => {
      await api(`/projects/${project.id}/services`, {
        method: 'POST',
        body: { name: name.trim(), ...(slug.trim() ? { slug: slug.trim() } : {}) },
      });
      setName('');
      setSlug('');
      await onChange();
    });
  }

  async function remove(id: string) {
    await run(
      async () => {
        await api(`/projects/${project.id}/services/${id}`, { method: 'DELETE' });
        await onChange();
      },
      { busy: false },
    );
  }

  return (
    <>
      <h2 className={styles.sectionTitle}>Services</h2>
      <ErrorAlert error={error} />
      {services.length === 0 ? (
        <p className="empty">No services yet.{canAdd ? ' Add the first one below.' : ''}</p>
      ) : (
        <DataTable columns={['Name', 'Slug', 'Created']} actions={canDelete}>
          {services.map((s) => (
            <tr key={s.id}>
              <td>
                <strong>{s.name}</strong>
              </td>
              <td className="mono">{s.slug}</td>
              <td className="muted nowrap">{formatDate(s.createdAt)}</td>
              {canDelete ? (
                <td className="actions">
                  <ConfirmButton label="Delete" onConfirm={() => remove(s.id)} />
                </td>
              ) : null}
            </tr>
          ))}
        </DataTable>
      )}
      {canAdd ? (
        <form onSubmit={add} className="card stack" aria-labelledby="add-service">
          <h3 id="add-service" className={styles.sectionTitle}>
            Add a service
          </h3>
          <div className="form-row">
            <div className="field">
              <label htmlFor="service-name">Name</label>
              <input
                id="service-name"
                className="input"
                required
                maxLength={100}
                value={name}
                onChange={(e) => setName(e.target.value)}
              />
            </div>
            <div className="field">
              <label htmlFor="service-slug">Slug (optional)</label>
              <input
                id="service-slug"
                className="input"
                pattern={SLUG_PATTERN}
                maxLength={40}
                value={slug}
                onChange={(e) => setSlug(e.target.value)}
              />
            </div>
            <button type="submit" className="btn btn-primary" disabled={busy} style={{ minHeight: 34 }}>
              {busy ? 'Adding…' : 'Add service'}
            </button>
          </div>
        </form>
      ) : (
        <p className="hint">Viewers cannot add services.</p>
      )}
    </>
  );
}
