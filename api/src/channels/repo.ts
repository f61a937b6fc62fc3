/** All SQL of the channel routes: channels (sealed URL and secret) and their deliveries. */

import type { DeliveryAttempt, IncidentMessage } from '@peep/builder';
import type { Queryable } from '@peep/pkg';
import { iso, isoRequired } from '../core/types.js';
import type { Channel, Delivery } from './schemas.js';

export interface ChannelRecord {
  id: string;
  project_id: string;
  name: string;
  kind: 'slack' | 'webhook';
  url_sealed: string;
  url_hint: string;
  secret_sealed: string | null;
  enabled: boolean;
  notify_resolved: boolean;
  reminder_minutes: number | null;
  created_at: Date;
  updated_at: Date;
  last_id: string | null;
  last_type: string | null;
  last_status: string | null;
  last_at: Date | null;
  last_error: string | null;
}

const SELECT = `SELECT c.id, c.project_id, c.name, c.kind, c.url_sealed, c.url_hint, c.secret_sealed, c.enabled,
    c.notify_resolved, c.reminder_minutes, c.created_at, c.updated_at,
    l.id AS last_id, l.type AS last_type, l.status AS last_status,
    COALESCE(l.finished_at, l.created_at) AS last_at, l.error AS last_error
  FROM channels c
  LEFT JOIN LATERAL (
    SELECT d.id, d.type, d.status, d.finished_at, d.created_at, d.error FROM deliveries d
    WHERE d.channel_id = c.id ORDER BY d.created_at DESC LIMIT 1) l ON true`;

export function toChannel(r: ChannelRecord): Channel {
  return {
    id: r.id,
    projectId: r.project_id,
    name: r.name,
    kind: r.kind,
    urlHint: r.url_hint,
    enabled: r.enabled,
    notifyResolved: r.notify_resolved,
    reminderMinutes: r.reminder_minutes,
    lastDelivery:
      r.last_id && r.last_at
        ? {
            id: r.last_id,
            type: r.last_type ?? '',
            status: r.last_status ?? '',
            at: isoRequired(r.last_at),
            error: r.last_error,
          }
        : null,
    createdAt: isoRequired(r.created_at),
    updatedAt: isoRequired(r.updated_at),
  };
}

interface DeliveryRecord {
  id: string;
  channel_id: string;
  incident_id: string | null;
  type: Delivery['type'];
  status: Delivery['status'];
  attempts: DeliveryAttempt[];
  error: string | null;
  created_at: Date;
  next_attempt_at: Date;
  finished_at: Date | null;
}
const toDelivery = (r: DeliveryRecord): Delivery => ({
  id: r.id,
  channelId: r.channel_id,
  incidentId: r.incident_id,
  type: r.type,
  status: r.status,
  attempts: Array.isArray(r.attempts) ? r.attempts : [],
  error: r.error,
  createdAt: isoRequired(r.created_at),
  nextAttemptAt: isoRequired(r.next_attempt_at),
  finishedAt: iso(r.finished_at),
});

export interface ChannelWrite {
  name: string;
  kind: 'slack' | 'webhook';
  urlSealed: string;
  urlHint: string;
  secretSealed: string | null;
  enabled: boolean;
  notifyResolved: boolean;
  reminderMinutes: number | null;
}

/** Unique violation on (project_id, name). */
export const isNameTaken = (e: unknown) =>
  (e as { code?: string }).code === '23505' &&
  /name/.test(String((e as { constraint?: string }).constraint ?? 'name'));

export const channelsRepo = {
  async list(q: Queryable, projectId: string): Promise<ChannelRecord[]> {
    const { rows } = await q.query<ChannelRecord>(`${SELECT} WHERE c.project_id = $1 ORDER BY c.name, c.id`, [
      projectId,
    ]);
    return rows;
  },
  async get(q: Queryable, projectId: string, id: string): Promise<ChannelRecord | null> {
    const { rows } = await q.query<ChannelRecord>(`${SELECT} WHERE c.project_id = $1 AND c.id = $2`, [
      projectId,
      id,
    ]);
    return rows[0] ?? null;
  },
  async insert(q: Queryable, id: string, projectId: string, userId: string, c: ChannelWrite): Promise<void> {
    await q.query(
      `INSERT INTO channels (id, project_id, name, kind, url_sealed, url_hint, secret_sealed, enabled,
         notify_resolved, reminder_minutes, created_by)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
      [
        id,
        projectId,
        c.name,
        c.kind,
        c.urlSealed,
        c.urlHint,
        c.secretSealed,
        c.enabled,
        c.notifyResolved,
        c.reminderMinutes,
        userId,
      ],
    );
  },
  async update(q: Queryable, projectId: string, id: string, c: ChannelWrite, now: Date): Promise<boolean> {
    const r = await q.query(
      `UPDATE channels SET name = $3, kind = $4, url_sealed = $5, url_hint = $6, secret_sealed = $7, enabled = $8,
         notify_resolved = $9, reminder_minutes = $10, updated_at = $11
       WHERE project_id = $1 AND id = $2`,
      [
        projectId,
        id,
        c.name,
        c.kind,
        c.urlSealed,
        c.urlHint,
        c.secretSealed,
        c.enabled,
        c.notifyResolved,
        c.reminderMinutes,
        now,
      ],
    );
    return r.rowCount === 1;
  },
  async remove(q: Queryable, projectId: string, id: string): Promise<boolean> {
    const r = await q.query('DELETE FROM channels WHERE project_id = $1 AND id = $2', [projectId, id]);
    return r.rowCount === 1;
  },

  /** A test delivery row, claimed by the API while it sends (so the notifier leaves it alone). */
  async insertTest(
    q: Queryable,
    d: { channelId: string; projectId: string; message: IncidentMessage; claimedBy: string; until: Date },
  ): Promise<string> {
    const { rows } = await q.query<{ id: string }>(
      `INSERT INTO deliveries (channel_id, project_id, type, message, status, claimed_by, claimed_until)
       VALUES ($1, $2, 'test', $3::jsonb, 'sending', $4, $5) RETURNING id`,
      [d.channelId, d.projectId, JSON.stringify(d.message), d.claimedBy, d.until],
    );
    return (rows[0] as { id: string }).id;
  },
  async addAttempt(q: Queryable, id: string, a: DeliveryAttempt): Promise<void> {
    await q.query('UPDATE deliveries SET attempts = attempts || $2::jsonb WHERE id = $1', [
      id,
      JSON.stringify([a]),
    ]);
  },
  async finishTest(q: Queryable, id: string, ok: boolean, error: string | null, now: Date): Promise<void> {
    await q.query(
      `UPDATE deliveries SET status = $2, error = $3, finished_at = $4, claimed_by = NULL, claimed_until = NULL
       WHERE id = $1`,
      [id, ok ? 'ok' : 'failed', error, now],
    );
  },

  /** Newest first, keyset-paged on (created_at, id) after the delivery `afterId` (exact to the microsecond). */
  async deliveries(
    q: Queryable,
    channelId: string,
    afterId: string | null,
    limit: number,
  ): Promise<Delivery[]> {
    const { rows } = await q.query<DeliveryRecord>(
      `SELECT id, channel_id, incident_id, type, status, attempts, error, created_at, next_attempt_at, finished_at
       FROM deliveries
       WHERE channel_id = $1
         AND ($2::uuid IS NULL OR (created_at, id) < (SELECT created_at, id FROM deliveries WHERE id = $2::uuid))
       ORDER BY created_at DESC, id DESC
       LIMIT $3`,
      [channelId, afterId, limit],
    );
    return rows.map(toDelivery);
  },
};
