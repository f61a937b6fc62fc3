'use client';
/**
 * The top of the Uptime tab: the project's health in one line (GET /status: targets down, services
 * in trouble) and its active incidents, each linking to its page. Refreshes every 10 s, like the list.
 */
import Link from 'next/link';
import { useEffect, useState } from 'react';
import { useQuery } from '@/components/runtime/useQuery';
import { fmtSince } from '@/lib/uptime';
import { IncidentBadge } from './IncidentList';
import styles from './uptime.module.css';

type Health = 'ok' | 'degraded' | 'down' | 'unknown';
interface ProjectStatus {
  health: Health;
  targets: { counts: { total: number; up: number; down: number; pending: number; paused: number } };
  services: { name: string; env: string; health: Health }[];
  incidents: {
    id: string;
    number: number;
    env: string;
    kind: string;
    status: 'open' | 'acknowledged' | 'resolved';
    title: string;
    openedAt: string;
  }[];
}

const REFRESH_MS = 10_000;
const SHOWN = 5;
const LABEL: Record<Health, string> = {
  ok: 'All good',
  degraded: 'Degraded',
  down: 'Something is down',
  unknown: 'No data yet',
};

export function StatusBanner({ projectId }: { projectId: string }) {
  const [tick, setTick] = useState(0);
  const { data } = useQuery<ProjectStatus>(`/projects/${encodeURIComponent(projectId)}/status`, {}, tick);
  useEffect(() => {
    const id = setInterval(() => {
      if (document.visibilityState === 'visible') setTick((n) => n + 1);
    }, REFRESH_MS);
    return () => clearInterval(id);
  }, []);
  if (!data) return null;
  const { counts } = data.targets;
  const troubled = data.services.filter((s) => s.health === 'down' || s.health === 'degraded');
  const now = Date.now();
  return (
    <section aria-label="Project health" className={`${styles.banner} ${styles[`banner-${data.health}`]}`}>
      <p className={styles.bannerLine} data-health={data.health}>
        <strong>{LABEL[data.health]}</strong>
        {' · '}
        {counts.down} of {counts.total - counts.paused} targets down
        {troubled.length ? ` · services: ${troubled.map((s) => `${s.name} (${s.env})`).join(', ')}` : ''}
        {' · '}
        {data.incidents.length} active incident{data.incidents.length === 1 ? '' : 's'}
      </p>
      {data.incidents.length ? (
        <ul className={styles.bannerList}>
          {data.incidents.slice(0, SHOWN).map((i) => (
            <li key={i.id}>
              <IncidentBadge status={i.status} />{' '}
              <Link href={`/projects/${projectId}/uptime/incidents/${i.number}`}>
                #{i.number} {i.title}
              </Link>{' '}
              <span className="muted">
                {i.env} · {fmtSince(i.openedAt, now)}
              </span>
            </li>
          ))}
          {data.incidents.length > SHOWN ? (
            <li className="muted">and {data.incidents.length - SHOWN} more in Incidents</li>
          ) : null}
        </ul>
      ) : null}
    </section>
  );
}
