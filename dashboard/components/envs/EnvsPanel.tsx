'use client';
/**
 * The project's Environments tab: pick an environment (in the project's order, dev → staging →
 * prod), then its variables (masked, audited reveal, a draft of edits saved with a message), history
 * and diffs with rollback, promotion to a later environment, pending approvals and the audit trail.
 * The policy flags of GET vars (canReveal, canChange, canPropose, canApprove) decide what shows. The
 * environment and the view are kept in the query string so a shared link opens the same screen. The
 * project's list of environments (order, add, delete) stays below the variables.
 */
import { useCallback, useMemo, useState } from 'react';
import { ErrorAlert } from '@/components/ErrorAlert';
import { Loading } from '@/components/Loaded';
import { EnvironmentsPanel } from '@/components/project/EnvironmentsPanel';
import { api } from '@/lib/api';
import { envPath, type Frozen, type VarsResponse } from '@/lib/envs';
import { formatDate } from '@/lib/format';
import { useResource } from '@/lib/hooks';
import { atLeast, type ProjectDetail } from '@/lib/types';
import { ApprovalsView } from './ApprovalsView';
import { AuditView } from './AuditView';
import styles from './envs.module.css';
import { HistoryView } from './HistoryView';
import { PromoteView } from './PromoteView';
import { VariablesView } from './VariablesView';

type View = 'variables' | 'history' | 'promote' | 'approvals' | 'audit';
const VIEWS: { id: View; label: string; admin?: boolean }[] = [
  { id: 'variables', label: 'Variables' },
  { id: 'history', label: 'History' },
  { id: 'promote', label: 'Promote' },
  { id: 'approvals', label: 'Approvals' },
  { id: 'audit', label: 'Audit', admin: true },
];

function fromUrl(name: string): string | null {
  if (typeof window === 'undefined') return null;
  return new URLSearchParams(window.location.search).get(name);
}

/** Sets (or with null removes) query parameters without a navigation. */
function setQuery(values: Record<string, string | null>) {
  const p = new URLSearchParams(window.location.search);
  for (const [k, v] of Object.entries(values)) {
    if (v === null) p.delete(k);
    else p.set(k, v);
  }
  const qs = p.toString();
  window.history.replaceState(
    window.history.state,
    '',
    `${window.location.pathname}${qs ? `?${qs}` : ''}${window.location.hash}`,
  );
}

export function EnvsPanel({ detail, onChange }: { detail: ProjectDetail; onChange: () => Promise<void> }) {
  const { project } = detail;
  const envs = useMemo(
    () => [...detail.environments].sort((a, b) => a.position - b.position),
    [detail.environments],
  );
  const isAdmin = atLeast(project.role, 'admin');
  const views = VIEWS.filter((v) => !v.admin || isAdmin);
  const [picked, setPicked] = useState<string | null>(() => fromUrl('env'));
  const env = envs.find((e) => e.slug === picked) ?? envs[0];
  const [view, setView] = useState<View>(() => {
    const v = fromUrl('view');
    return views.some((x) => x.id === v) ? (v as View) : 'variables';
  });

  const slug = env?.slug ?? '';
  const { data, error, reload } = useResource(
    useCallback(
      () => (slug ? api<VarsResponse>(envPath(project.id, slug, '/vars')) : Promise.resolve(null)),
      [project.id, slug],
    ),
  );
  const freeze = useResource(
    useCallback(
      () =>
        slug
          ? api<{ frozen: Frozen | null }>(envPath(project.id, slug, '/freezes'))
          : Promise.resolve({ frozen: null }),
      [project.id, slug],
    ),
  );
  // History, approvals and audit load again when the version they show moves.
  // The current version of every environment for the picker (read again after each change).
  const versionsLoader = useCallback(async () => {
    const out = new Map<string, number>();
    await Promise.all(
      envs.map(async (e) => {
        const r = await api<{ versions: { number: number }[] }>(envPath(project.id, e.slug, '/versions'), {
          query: { limit: 1 },
        }).catch(() => null);
        if (r) out.set(e.slug, r.versions[0]?.number ?? 0);
      }),
    );
    return out;
  }, [project.id, envs]);
  const versions = useResource(versionsLoader);
  const changed = useCallback(async () => {
    await Promise.all([reload(), freeze.reload(), versions.reload()]);
  }, [reload, freeze.reload, versions.reload]);

  function pick(s: string) {
    setPicked(s);
    setQuery({ env: s });
  }
  function select(v: View) {
    setView(v);
    setQuery({ view: v === 'variables' ? null : v });
  }

  if (!env) return <EnvironmentsPanel detail={detail} onChange={onChange} />;
  const current = data?.environment.slug === env.slug ? data : null;
  const frozen = freeze.data?.frozen ?? null;

  return (
    <div className={styles.envs}>
      <div className={styles.picker}>
        <ol className={styles.pickerList} aria-label="Environment">
          {envs.map((e, i) => (
            <li key={e.id}>
              {i > 0 ? (
                <span className={styles.arrow} aria-hidden="true">
                  →{' '}
                </span>
              ) : null}
              <button
                type="button"
                className={styles.envButton}
                aria-pressed={e.slug === env.slug}
                onClick={() => pick(e.slug)}
              >
                {e.name}
                {versions.data?.has(e.slug) ? (
                  <span className={styles.version}> v{versions.data.get(e.slug)}</span>
                ) : null}
              </button>
            </li>
          ))}
        </ol>
        <span className="hint" data-testid="env-version">
          {current ? `${env.slug} is at version ${current.version}` : ''}
        </span>
      </div>
      {frozen ? (
        <div className="alert alert-warning" role="status" data-testid="freeze-banner">
          <p>
            <strong>
              {env.name} is frozen until {formatDate(frozen.until)}.
            </strong>
            {frozen.reason ? ` ${frozen.reason}.` : ''} Changes are refused until then; proposals can still be
            made and wait for approval.
          </p>
        </div>
      ) : null}
      <nav aria-label="Environment sections" className={styles.subnav}>
        {views.map((v) => (
          <button
            key={v.id}
            type="button"
            className={styles.subnavItem}
            aria-current={view === v.id ? 'page' : undefined}
            onClick={() => select(v.id)}
          >
            {v.label}
          </button>
        ))}
      </nav>
      <ErrorAlert error={error} title={`Could not load the variables of ${env.slug}.`} />
      {!current ? (
        error ? null : (
          <Loading />
        )
      ) : view === 'variables' ? (
        <VariablesView
          key={env.slug}
          projectId={project.id}
          data={current}
          services={detail.services.map((s) => s.slug)}
          onChanged={changed}
          onReload={changed}
        />
      ) : view === 'history' ? (
        <HistoryView key={env.slug} projectId={project.id} data={current} envs={envs} onChanged={changed} />
      ) : view === 'promote' ? (
        <PromoteView key={env.slug} projectId={project.id} data={current} envs={envs} onChanged={changed} />
      ) : view === 'approvals' ? (
        <ApprovalsView key={env.slug} projectId={project.id} data={current} onChanged={changed} />
      ) : (
        <AuditView key={env.slug} projectId={project.id} env={env.slug} />
      )}
      {view === 'variables' ? (
        <div className={styles.manage}>
          <EnvironmentsPanel detail={detail} onChange={onChange} />
        </div>
      ) : null}
    </div>
  );
}
