'use client';
import Link from 'next/link';
import { useRouter } from 'next/navigation';
import { type FormEvent, useState } from 'react';
import { DataTable } from '@/components/DataTable';
import { ErrorAlert } from '@/components/ErrorAlert';
import { Loaded } from '@/components/Loaded';
import { PageHeader } from '@/components/PageHeader';
import { api } from '@/lib/api';
import { formatDate } from '@/lib/format';
import { useAction, useResource } from '@/lib/hooks';
import { type Project, type ProjectDetail, SLUG_PATTERN } from '@/lib/types';

const loadProjects = async () => (await api<{ projects: Project[] }>('/projects')).projects;

export function ProjectsView() {
  const router = useRouter();
  const { data: projects, error: loadError } = useResource(loadProjects);
  const [name, setName] = useState('');
  const [slug, setSlug] = useState('');
  const { run, busy, error } = useAction();

  function create(e: FormEvent) {
    e.preventDefault();
    return run(
      async () => {
        const out = await api<ProjectDetail>('/projects', {
          method: 'POST',
          body: { name: name.trim(), ...(slug.trim() ? { slug: slug.trim() } : {}) },
        });
        router.push(`/projects/${out.project.id}`);
      },
      { keepBusy: true },
    );
  }

  return (
    <>
      <PageHeader
        title="Projects"
        description="Each project has its own environments, services, members and keys."
      />
      <section aria-labelledby="new-project" className="card" style={{ marginBottom: 24 }}>
        <h2 id="new-project" style={{ fontSize: 15 }}>
          New project
        </h2>
        <form onSubmit={create} className="stack">
          <ErrorAlert error={error} />
          <div className="form-row">
            <div className="field">
              <label htmlFor="project-name">Name</label>
              <input
                id="project-name"
                className="input"
                required
                maxLength={100}
                value={name}
                onChange={(e) => setName(e.target.value)}
              />
            </div>
            <div className="field">
              <label htmlFor="project-slug">Slug (optional)</label>
              <input
                id="project-slug"
                className="input"
                pattern={SLUG_PATTERN}
                maxLength={40}
                placeholder="derived from the name"
                aria-describedby="project-slug-hint"
                value={slug}
                onChange={(e) => setSlug(e.target.value)}
              />
            </div>
            <button type="submit" className="btn btn-primary" disabled={busy} style={{ minHeight: 34 }}>
              {busy ? 'Creating…' : 'Create project'}
            </button>
          </div>
          <span id="project-slug-hint" className="hint">
            Slug: lowercase letters, digits and dashes, up to 40 characters. New projects start with the dev,
            staging and prod environments.
          </span>
        </form>
      </section>

      <section aria-labelledby="project-list">
        <h2 id="project-list" style={{ fontSize: 15 }}>
          Your projects
        </h2>
        <ErrorAlert error={loadError} title="Could not load projects." />
        <Loaded items={projects} error={loadError} empty="No projects yet. Create the first one above.">
          {(projects) => (
            <DataTable columns={['Name', 'Slug', 'Your role', 'Created']}>
              {projects.map((p) => (
                <tr key={p.id}>
                  <td>
                    <Link href={`/projects/${p.id}`}>
                      <strong>{p.name}</strong>
                    </Link>
                  </td>
                  <td className="mono">{p.slug}</td>
                  <td>
                    <span className="badge">{p.role}</span>
                  </td>
                  <td className="nowrap muted">{formatDate(p.createdAt)}</td>
                </tr>
              ))}
            </DataTable>
          )}
        </Loaded>
      </section>
    </>
  );
}
