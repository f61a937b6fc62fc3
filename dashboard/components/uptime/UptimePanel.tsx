'use client';
/**
 * The project's Uptime tab: targets (the virtualized list and the add form), incidents and
 * notification channels, one at a time, the choice kept in the query string (`view=`) next to the
 * list filters so a shared link opens the same screen.
 */
import { useMemo, useState } from 'react';
import { atLeast, type ProjectDetail } from '@/lib/types';
import { AddTargetForm } from './AddTargetForm';
import { ChannelsPanel } from './ChannelsPanel';
import { IncidentList } from './IncidentList';
import { MaintenancePanel } from './MaintenancePanel';
import { StatusBanner } from './StatusBanner';
import { TargetList } from './TargetList';
import styles from './uptime.module.css';

type View = 'targets' | 'incidents' | 'channels';
const VIEWS: { id: View; label: string }[] = [
  { id: 'targets', label: 'Targets' },
  { id: 'incidents', label: 'Incidents' },
  { id: 'channels', label: 'Channels' },
];

function viewFromUrl(): View {
  if (typeof window === 'undefined') return 'targets';
  const v = new URLSearchParams(window.location.search).get('view');
  return VIEWS.some((x) => x.id === v) ? (v as View) : 'targets';
}

export function UptimePanel({ detail }: { detail: ProjectDetail }) {
  const { project } = detail;
  const [view, setView] = useState<View>(viewFromUrl);
  const [reloadKey, setReloadKey] = useState(0);
  const envs = useMemo(
    () => [...detail.environments].sort((a, b) => a.position - b.position),
    [detail.environments],
  );
  const canEdit = atLeast(project.role, 'developer');

  function select(v: View) {
    setView(v);
    const p = new URLSearchParams(window.location.search);
    if (v === 'targets') p.delete('view');
    else p.set('view', v);
    const qs = p.toString();
    window.history.replaceState(
      window.history.state,
      '',
      `${window.location.pathname}${qs ? `?${qs}` : ''}${window.location.hash}`,
    );
  }

  return (
    <div className={styles.uptime}>
      <StatusBanner projectId={project.id} />
      <nav aria-label="Uptime sections" className={styles.subnav}>
        {VIEWS.map((v) => (
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
      {view === 'targets' ? (
        <>
          <TargetList projectId={project.id} envs={envs} canEdit={canEdit} reloadKey={reloadKey} />
          {canEdit ? (
            <AddTargetForm projectId={project.id} envs={envs} onCreated={() => setReloadKey((n) => n + 1)} />
          ) : null}
        </>
      ) : view === 'incidents' ? (
        <>
          <IncidentList projectId={project.id} />
          <MaintenancePanel projectId={project.id} canEdit={canEdit} />
        </>
      ) : canEdit ? (
        <ChannelsPanel projectId={project.id} canManage={atLeast(project.role, 'admin')} />
      ) : (
        <p className="empty">Notification channels are shown to developers and admins of the project.</p>
      )}
    </div>
  );
}
