'use client';
/**
 * One incident at `/projects/<id>/uptime/incidents/<number>` (the link in every Slack and webhook
 * message): what happened and the figures behind it, Acknowledge / Resolve / Comment for developers,
 * the timeline (opened, notified, acknowledged, comments, reminders, resolved) and the notifications
 * sent for it. Refreshes every 10 s while open.
 */
import Link from 'next/link';
import { useParams } from 'next/navigation';
import { type FormEvent, useCallback, useEffect, useState } from 'react';
import { ErrorAlert } from '@/components/ErrorAlert';
import { Loading } from '@/components/Loaded';
import { PageHeader } from '@/components/PageHeader';
import { ApiError, api } from '@/lib/api';
import { formatDate } from '@/lib/format';
import { useAction, useResource } from '@/lib/hooks';
import { atLeast, type ProjectDetail } from '@/lib/types';
import { fmtSince, type Incident, type IncidentDetail } from '@/lib/uptime';
import { IncidentBadge } from './IncidentList';
import styles from './uptime.module.css';

const REFRESH_MS = 10_000;

export function IncidentView() {
  const { projectId, number } = useParams<{ projectId: string; number: string }>();
  const base = `/projects/${encodeURIComponent(projectId)}`;
  const path = `${base}/incidents/${encodeURIComponent(number)}`;
  const project = useResource(useCallback(() => api<ProjectDetail>(base), [base]));
  const { data, error, reload } = useResource(useCallback(() => api<IncidentDetail>(path), [path]));
  const action = useAction<'ack' | 'resolve' | 'comment'>();
  const [comment, setComment] = useState('');

  const active = data ? data.incident.status !== 'resolved' : false;
  useEffect(() => {
    if (!active) return;
    const id = setInterval(() => {
      if (document.visibilityState === 'visible') void reload();
    }, REFRESH_MS);
    return () => clearInterval(id);
  }, [active, reload]);

  useEffect(() => {
    if (data) document.title = `#${data.incident.number} ${data.incident.title} · peep`;
  }, [data]);

  if (error instanceof ApiError && error.status === 404) {
    return (
      <div className="stack">
        <PageHeader title="Incident not found" />
        <p>There is no incident #{number} in this project.</p>
        <p>
          <Link href={`/projects/${projectId}?view=incidents#uptime`}>All incidents</Link>
        </p>
      </div>
    );
  }
  if (!data) return error ? <ErrorAlert error={error} /> : <Loading />;
  const { incident: i, events, deliveries } = data;
  const canAct = project.data ? atLeast(project.data.project.role, 'developer') : false;

  async function act(kind: 'ack' | 'resolve') {
    await action.run(
      async () => {
        await api<{ incident: Incident }>(`${path}/${kind}`, { method: 'POST', body: {} });
        await reload();
      },
      { busy: kind },
    );
  }

  async function addComment(e: FormEvent) {
    e.preventDefault();
    const body = comment.trim();
    if (!body) return;
    await action.run(
      async () => {
        await api(`${path}/comments`, { method: 'POST', body: { body } });
        setComment('');
        await reload();
      },
      { busy: 'comment' },
    );
  }

  const numbers = Object.entries(i.numbers);
  return (
    <div className={styles.page}>
      <nav aria-label="Breadcrumb" className="muted">
        <Link href="/projects">Projects</Link> /{' '}
        <Link href={`/projects/${projectId}#uptime`}>{project.data?.project.name ?? 'Project'}</Link> /{' '}
        <Link href={`/projects/${projectId}?view=incidents#uptime`}>Incidents</Link> /{' '}
        <span aria-current="page">#{i.number}</span>
      </nav>
      <PageHeader
        title={`#${i.number} ${i.title}`}
        description={
          <>
            <IncidentBadge status={i.status} /> <span className="mono">{i.kind}</span> ·{' '}
            {i.subjectType === 'target' ? (
              <Link href={`/projects/${projectId}/uptime/targets/${i.subjectId}`}>{i.subjectName}</Link>
            ) : (
              <span>service {i.subjectName}</span>
            )}{' '}
            · {i.env} · opened {formatDate(i.openedAt)} (
            {i.resolvedAt
              ? `lasted ${fmtSince(i.openedAt, new Date(i.resolvedAt).getTime())}`
              : `${fmtSince(i.openedAt)} ago`}
            )
          </>
        }
      />
      <p>{i.reason}</p>
      {numbers.length ? (
        <dl className={styles.numbers} aria-label="Figures">
          {numbers.map(([k, v]) => (
            <div key={k} style={{ display: 'contents' }}>
              <dt>{k}</dt>
              <dd>{String(v)}</dd>
            </div>
          ))}
        </dl>
      ) : null}
      <p className="muted">
        {i.acknowledgedAt
          ? `Acknowledged by ${i.acknowledgedBy ?? '?'} ${formatDate(i.acknowledgedAt)}. `
          : ''}
        {i.resolvedAt ? `Resolved by ${i.resolvedBy ?? '?'} ${formatDate(i.resolvedAt)}.` : ''}
      </p>
      {canAct ? (
        <div className={styles.buttons}>
          {i.status === 'open' ? (
            <button
              type="button"
              className="btn btn-primary"
              disabled={action.busy}
              onClick={() => act('ack')}
            >
              {action.pending === 'ack' ? 'Acknowledging…' : 'Acknowledge'}
            </button>
          ) : null}
          {i.status !== 'resolved' ? (
            <button type="button" className="btn" disabled={action.busy} onClick={() => act('resolve')}>
              {action.pending === 'resolve' ? 'Resolving…' : 'Resolve'}
            </button>
          ) : null}
        </div>
      ) : null}
      <ErrorAlert error={action.error} />
      <section aria-labelledby="timeline-title" className={styles.section}>
        <h2 id="timeline-title" className={styles.h2}>
          Timeline
        </h2>
        <ol className={styles.timeline} aria-label="Timeline">
          {events.map((e) => (
            <li key={e.id} data-type={e.type}>
              <div className={styles.eventHead}>
                {formatDate(e.at)} · <strong>{e.type}</strong> · {e.actor}
              </div>
              {e.body ? <div className={styles.eventBody}>{e.body}</div> : null}
            </li>
          ))}
        </ol>
        {canAct ? (
          <form onSubmit={addComment} className={styles.addForm} aria-label="Add a comment">
            <div className="field">
              <label htmlFor="incident-comment">Comment</label>
              <textarea
                id="incident-comment"
                className="input"
                rows={3}
                maxLength={4000}
                value={comment}
                onChange={(e) => setComment(e.target.value)}
              />
            </div>
            <div>
              <button type="submit" className="btn btn-sm" disabled={action.busy || !comment.trim()}>
                {action.pending === 'comment' ? 'Adding…' : 'Add comment'}
              </button>
            </div>
          </form>
        ) : null}
      </section>
      <section aria-labelledby="notifications-title" className={styles.section}>
        <h2 id="notifications-title" className={styles.h2}>
          Notifications
        </h2>
        {deliveries.length === 0 ? (
          <p className="empty">No channel was notified (none enabled, or suppressed).</p>
        ) : (
          <div className="table-wrap">
            <table className="table" aria-label="Notifications">
              <thead>
                <tr>
                  <th scope="col">When</th>
                  <th scope="col">Channel</th>
                  <th scope="col">Type</th>
                  <th scope="col">Status</th>
                  <th scope="col">Attempts</th>
                  <th scope="col">Error</th>
                </tr>
              </thead>
              <tbody>
                {deliveries.map((d) => (
                  <tr key={d.id}>
                    <td className="nowrap">{formatDate(d.createdAt)}</td>
                    <td>{d.channelName}</td>
                    <td>{d.type}</td>
                    <td>{d.status}</td>
                    <td>{d.attempts}</td>
                    <td>{d.error ?? ''}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </div>
  );
}
