'use client';
import Link from 'next/link';
import { useParams } from 'next/navigation';
import { type KeyboardEvent, useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { ErrorAlert } from '@/components/ErrorAlert';
import { EnvsPanel } from '@/components/envs/EnvsPanel';
import { Loading } from '@/components/Loaded';
import { PageHeader } from '@/components/PageHeader';
import { RuntimePanel } from '@/components/runtime/RuntimePanel';
import { UptimePanel } from '@/components/uptime/UptimePanel';
import { ApiError, api } from '@/lib/api';
import { useResource } from '@/lib/hooks';
import { atLeast, type ProjectDetail } from '@/lib/types';
import { AuditPanel } from './AuditPanel';
import { IngestKeysPanel } from './IngestKeysPanel';
import { MembersPanel } from './MembersPanel';
import styles from './project.module.css';
import { ServicesPanel } from './ServicesPanel';
import { SettingsPanel } from './SettingsPanel';

type TabId =
  | 'environments'
  | 'runtime'
  | 'uptime'
  | 'services'
  | 'members'
  | 'ingest-keys'
  | 'audit'
  | 'settings';
const TABS: { id: TabId; label: string; adminOnly: boolean }[] = [
  { id: 'environments', label: 'Environments', adminOnly: false },
  { id: 'runtime', label: 'Runtime', adminOnly: false },
  { id: 'uptime', label: 'Uptime', adminOnly: false },
  { id: 'services', label: 'Services', adminOnly: false },
  { id: 'members', label: 'Members', adminOnly: false },
  { id: 'ingest-keys', label: 'Ingest keys', adminOnly: true },
  { id: 'audit', label: 'Audit log', adminOnly: true },
  { id: 'settings', label: 'Settings', adminOnly: true },
];

export function ProjectView() {
  const params = useParams<{ projectId: string }>();
  const projectId = params.projectId;
  const {
    data: detail,
    error,
    reload,
  } = useResource(
    useCallback(() => api<ProjectDetail>(`/projects/${encodeURIComponent(projectId)}`), [projectId]),
  );
  const [tab, setTab] = useState<TabId>('environments');
  const tabRefs = useRef<Record<string, HTMLButtonElement | null>>({});

  const role = detail?.project.role ?? 'viewer';
  const tabs = useMemo(() => TABS.filter((t) => !t.adminOnly || atLeast(role, 'admin')), [role]);

  // The tab lives in the URL hash (#members), so a reload or a shared link opens the same one.
  useEffect(() => {
    const fromHash = () => {
      const h = window.location.hash.slice(1);
      if (tabs.some((t) => t.id === h)) setTab(h as TabId);
    };
    fromHash();
    window.addEventListener('hashchange', fromHash);
    return () => window.removeEventListener('hashchange', fromHash);
  }, [tabs]);

  useEffect(() => {
    if (detail) document.title = `${detail.project.name} · peep`;
  }, [detail]);

  function select(id: TabId, focus = false) {
    setTab(id);
    window.history.replaceState(null, '', `#${id}`);
    if (focus) tabRefs.current[id]?.focus();
  }

  function onTabKey(e: KeyboardEvent<HTMLDivElement>) {
    const i = tabs.findIndex((t) => t.id === tab);
    const move = { ArrowRight: 1, ArrowLeft: -1 }[e.key];
    let next: number | null = move ? (i + move + tabs.length) % tabs.length : null;
    if (e.key === 'Home') next = 0;
    if (e.key === 'End') next = tabs.length - 1;
    const t = next === null ? undefined : tabs[next];
    if (t) {
      e.preventDefault();
      select(t.id, true);
    }
  }

  if (error instanceof ApiError && (error.code === 'project_not_found' || error.status === 404)) {
    return (
      <div className="stack">
        <PageHeader title="Project not found" />
        <p>There is no project with this id that you are a member of.</p>
        <p>
          <Link href="/projects">Back to projects</Link>
        </p>
      </div>
    );
  }
  if (!detail) {
    return error ? <ErrorAlert error={error} title="Could not load the project." /> : <Loading />;
  }
  const { project } = detail;
  const current = tabs.some((t) => t.id === tab) ? tab : 'environments';

  return (
    <>
      <nav aria-label="Breadcrumb" className={styles.crumbs}>
        <Link href="/projects">Projects</Link> <span aria-hidden="true">/</span>{' '}
        <span aria-current="page">{project.name}</span>
      </nav>
      <PageHeader
        title={project.name}
        description={
          <>
            <span className="mono">{project.slug}</span> · your role:{' '}
            <span className="badge">{project.role}</span>
          </>
        }
      />
      <div role="tablist" aria-label="Project sections" className={styles.tabs} onKeyDown={onTabKey}>
        {tabs.map((t) => (
          <button
            key={t.id}
            ref={(el) => {
              tabRefs.current[t.id] = el;
            }}
            type="button"
            role="tab"
            id={`tab-${t.id}`}
            aria-selected={current === t.id}
            aria-controls={`panel-${t.id}`}
            tabIndex={current === t.id ? 0 : -1}
            className={styles.tab}
            onClick={() => select(t.id)}
          >
            {t.label}
          </button>
        ))}
      </div>
      <div
        role="tabpanel"
        id={`panel-${current}`}
        aria-labelledby={`tab-${current}`}
        className={styles.panel}
      >
        {current === 'environments' ? (
          <EnvsPanel detail={detail} onChange={reload} />
        ) : current === 'runtime' ? (
          <RuntimePanel detail={detail} />
        ) : current === 'uptime' ? (
          <UptimePanel detail={detail} />
        ) : current === 'services' ? (
          <ServicesPanel detail={detail} onChange={reload} />
        ) : current === 'members' ? (
          <MembersPanel project={project} />
        ) : current === 'ingest-keys' ? (
          <IngestKeysPanel detail={detail} />
        ) : current === 'audit' ? (
          <AuditPanel project={project} />
        ) : (
          <SettingsPanel detail={detail} onChange={reload} />
        )}
      </div>
    </>
  );
}
