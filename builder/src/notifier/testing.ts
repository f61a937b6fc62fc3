/**
 * For notifier tests and bench/notify-latency.mjs: rows written straight into a migrated database
 * (a project with an environment, a channel sealed like the API seals it, an incident, an outbox
 * row), so the worker can be exercised without the API or the incident store.
 */
import { randomUUID } from 'node:crypto';
import type { Queryable } from '@peep/pkg';
import type { MasterKeys } from '@peep/pkg/project-keys';
import { maskUrl } from '../notify/mask.js';
import type { IncidentKind, IncidentMessage, MessageType } from '../notify/types.js';
import { newWebhookSecret, sealSecrets, sealUrl, type WebhookSecrets } from './sealed.js';

export async function seedProject(
  db: Queryable,
  slug = `p-${randomUUID().slice(0, 8)}`,
): Promise<{ projectId: string; environmentId: string; slug: string }> {
  const { rows } = await db.query<{ id: string }>(
    'INSERT INTO projects (slug, name) VALUES ($1, $2) RETURNING id',
    [slug, `Project ${slug}`],
  );
  const projectId = (rows[0] as { id: string }).id;
  const env = await db.query<{ id: string }>(
    `INSERT INTO environments (project_id, slug, name, position) VALUES ($1, 'prod', 'Production', 0) RETURNING id`,
    [projectId],
  );
  return { projectId, environmentId: (env.rows[0] as { id: string }).id, slug };
}

export async function seedChannel(
  db: Queryable,
  keys: MasterKeys,
  c: {
    projectId: string;
    name?: string;
    kind: 'slack' | 'webhook';
    url: string;
    secret?: string | WebhookSecrets;
    enabled?: boolean;
    reminderMinutes?: number | null;
  },
): Promise<{ id: string; secret: string | null }> {
  const id = randomUUID();
  const secrets: WebhookSecrets | null =
    c.kind === 'webhook'
      ? typeof c.secret === 'object'
        ? c.secret
        : { secret: c.secret ?? newWebhookSecret() }
      : null;
  await db.query(
    `INSERT INTO channels (id, project_id, name, kind, url_sealed, url_hint, secret_sealed, enabled, reminder_minutes)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
    [
      id,
      c.projectId,
      c.name ?? `${c.kind}-${id.slice(0, 6)}`,
      c.kind,
      await sealUrl(db, keys, c.projectId, id, c.url),
      maskUrl(c.url),
      secrets ? await sealSecrets(db, keys, c.projectId, id, secrets) : null,
      c.enabled ?? true,
      c.reminderMinutes ?? null,
    ],
  );
  return { id, secret: secrets?.secret ?? null };
}

export async function seedIncident(
  db: Queryable,
  i: {
    projectId: string;
    environmentId: string;
    kind?: IncidentKind;
    status?: 'open' | 'acknowledged' | 'resolved';
    openedAt?: Date;
    title?: string;
  },
): Promise<{ id: string; number: number }> {
  const { rows } = await db.query<{ id: string; number: number }>(
    `INSERT INTO incidents (project_id, number, environment_id, subject_type, subject_id, subject_name, kind,
       status, title, reason, numbers, opened_at)
     VALUES ($1, COALESCE((SELECT max(number) FROM incidents WHERE project_id = $1), 0) + 1, $2, 'target',
       $3, 'checkout-api', $4, $5, $6, 'Three checks in a row failed with HTTP 503.', $7::jsonb, $8)
     RETURNING id, number`,
    [
      i.projectId,
      i.environmentId,
      randomUUID(),
      i.kind ?? 'down',
      i.status ?? 'open',
      i.title ?? 'checkout-api is down',
      JSON.stringify({ 'Failed checks': 3, 'Last status': 503 }),
      i.openedAt ?? new Date(),
    ],
  );
  return rows[0] as { id: string; number: number };
}

/** The message the incident store would fix for an incident. */
export function messageFor(
  inc: { id: string; number: number },
  p: { projectId: string; slug: string },
  type: MessageType,
  openedAt: Date,
  sentAt = new Date(),
): IncidentMessage {
  return {
    type,
    incident: {
      id: inc.id,
      title: 'checkout-api is down',
      kind: 'down',
      severity: 'critical',
      subject: { type: 'target', id: 't1', name: 'checkout-api' },
      project: { id: p.projectId, slug: p.slug, name: `Project ${p.slug}` },
      environment: 'prod',
      openedAt: openedAt.toISOString(),
      ...(type === 'resolved' ? { resolvedAt: sentAt.toISOString() } : {}),
      numbers: { 'Failed checks': 3, 'Last status': 503 },
      reason: type === 'resolved' ? 'Checks pass again.' : 'Three checks in a row failed with HTTP 503.',
    },
    url: `http://peep.test/projects/${p.slug}/incidents/${inc.number}`,
    sentAt: sentAt.toISOString(),
  };
}

/** An outbox row as the incident store writes it (pending, due now unless `at` says otherwise). */
export async function enqueueDelivery(
  db: Queryable,
  d: {
    channelId: string;
    projectId: string;
    incidentId: string | null;
    type: MessageType;
    message: IncidentMessage;
    at?: Date;
  },
): Promise<string> {
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO deliveries (channel_id, project_id, incident_id, type, message, next_attempt_at, created_at)
     VALUES ($1, $2, $3, $4, $5::jsonb, COALESCE($6, now()), COALESCE($6, now())) RETURNING id`,
    [d.channelId, d.projectId, d.incidentId, d.type, JSON.stringify(d.message), d.at ?? null],
  );
  return (rows[0] as { id: string }).id;
}
