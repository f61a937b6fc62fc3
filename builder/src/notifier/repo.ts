/**
 * All SQL of the notifier: claiming due deliveries from the outbox, recording attempts, finishing,
 * the `notified` timeline event, and the reminder scan. Claims are leases: `claimed_by` names the
 * worker and `claimed_until` says when another may take the row over (a dead worker's claim
 * expires). Every write after the claim checks `claimed_by`, so a worker whose claim was taken over
 * cannot overwrite the new owner's work.
 */
import type { Queryable } from '@peep/pkg';
import type { DeliveryAttempt, IncidentMessage, MessageType } from '../notify/types.js';
import { CHANNEL_COLS, type ChannelRow } from './sealed.js';

export interface DeliveryRow {
  id: string;
  channel_id: string;
  project_id: string;
  incident_id: string | null;
  type: MessageType;
  message: IncidentMessage;
  status: 'pending' | 'sending' | 'ok' | 'failed';
  attempts: DeliveryAttempt[];
  error: string | null;
  claimed_by: string | null;
  claimed_until: Date | null;
  next_attempt_at: Date;
  created_at: Date;
  finished_at: Date | null;
}

const COLS =
  'id, channel_id, project_id, incident_id, type, message, status, attempts, error, claimed_by, claimed_until, next_attempt_at, created_at, finished_at';

/** Bus subject that wakes the notifier at once (published after deliveries are enqueued). */
export const NOTIFY_WAKE = 'notify.wake';

export const notifierRepo = {
  /**
   * Claims up to `limit` due deliveries: pending ones, and ones being sent whose claim expired.
   * SKIP LOCKED lets several workers claim side by side on PostgreSQL without waiting on each other.
   * Due means due by the worker's clock or the database's, whichever is later: the store enqueues
   * with the database's `now()`, which may run ahead of this host's clock (and has microseconds).
   */
  async claim(q: Queryable, worker: string, now: Date, until: Date, limit: number): Promise<DeliveryRow[]> {
    const { rows } = await q.query<DeliveryRow>(
      `UPDATE deliveries d SET status = 'sending', claimed_by = $1, claimed_until = $3
       WHERE d.id IN (
         SELECT id FROM deliveries
         WHERE status IN ('pending', 'sending') AND next_attempt_at <= GREATEST($2, statement_timestamp())
           AND (status = 'pending' OR claimed_until IS NULL OR claimed_until < GREATEST($2, statement_timestamp()))
         ORDER BY next_attempt_at
         LIMIT $4
         FOR UPDATE SKIP LOCKED)
       RETURNING ${COLS.split(', ')
         .map((c) => `d.${c}`)
         .join(', ')}`,
      [worker, now.toISOString(), until, limit],
    );
    return rows;
  },

  /** Appends one attempt and extends the claim; false when the claim was lost. */
  async addAttempt(
    q: Queryable,
    id: string,
    worker: string,
    attempt: DeliveryAttempt,
    until: Date,
  ): Promise<boolean> {
    const r = await q.query(
      `UPDATE deliveries SET attempts = attempts || $3::jsonb, claimed_until = $4
       WHERE id = $1 AND claimed_by = $2 AND status = 'sending'`,
      [id, worker, JSON.stringify([attempt]), until],
    );
    return r.rowCount === 1;
  },

  /** Marks a claimed delivery ok or failed; false when the claim was lost. */
  async finish(
    q: Queryable,
    id: string,
    worker: string,
    ok: boolean,
    error: string | null,
    now: Date,
  ): Promise<boolean> {
    const r = await q.query(
      `UPDATE deliveries SET status = $3, error = $4, finished_at = $5, claimed_by = NULL, claimed_until = NULL
       WHERE id = $1 AND claimed_by = $2 AND status = 'sending'`,
      [id, worker, ok ? 'ok' : 'failed', error, now],
    );
    return r.rowCount === 1;
  },

  /** Gives a claimed delivery back (shutting down, or a passing failure): due again at `at`. */
  async release(q: Queryable, id: string, worker: string, at: Date): Promise<void> {
    await q.query(
      `UPDATE deliveries SET status = 'pending', claimed_by = NULL, claimed_until = NULL, next_attempt_at = $3
       WHERE id = $1 AND claimed_by = $2 AND status = 'sending'`,
      [id, worker, at],
    );
  },

  async channel(q: Queryable, id: string): Promise<ChannelRow | null> {
    const { rows } = await q.query<ChannelRow>(`SELECT ${CHANNEL_COLS} FROM channels WHERE id = $1`, [id]);
    return rows[0] ?? null;
  },

  /** The incident timeline's record of a delivery (ok or not). */
  async notified(
    q: Queryable,
    e: {
      incidentId: string;
      at: Date;
      body: string;
      data: Record<string, unknown>;
      ok: boolean;
    },
  ): Promise<void> {
    await q.query(
      `INSERT INTO incident_events (incident_id, at, type, actor_name, body, data)
       VALUES ($1, $2, 'notified', 'peep', $3, $4::jsonb)`,
      [e.incidentId, e.at, e.body, JSON.stringify(e.data)],
    );
    if (e.ok)
      await q.query(
        'UPDATE incidents SET last_notified_at = GREATEST(COALESCE(last_notified_at, $2), $2) WHERE id = $1',
        [e.incidentId, e.at],
      );
  },

  /**
   * Open incidents and enabled channels with a reminder interval whose last opened-or-reminder
   * delivery (or, without one, the incident's opening) is at least that interval old.
   */
  async dueReminders(
    q: Queryable,
    now: Date,
    limit: number,
  ): Promise<{ incident_id: string; channel_id: string; project_id: string }[]> {
    const { rows } = await q.query<{ incident_id: string; channel_id: string; project_id: string }>(
      `SELECT i.id AS incident_id, c.id AS channel_id, i.project_id
       FROM incidents i
       JOIN channels c ON c.project_id = i.project_id AND c.enabled AND c.reminder_minutes IS NOT NULL
       WHERE i.status = 'open'
         -- No reminders while a maintenance window covers the subject (incidents/store.ts inMaintenance).
         AND NOT EXISTS (
           SELECT 1 FROM maintenance_windows m
            WHERE m.project_id = i.project_id AND m.starts_at <= $1 AND m.ends_at > $1
              AND ((cardinality(m.target_ids) = 0 AND cardinality(m.services) = 0)
                OR (i.subject_type = 'target' AND i.subject_id = ANY(m.target_ids::text[]))
                OR (i.subject_type = 'service' AND i.subject_name = ANY(m.services))))
         AND COALESCE(
               (SELECT max(d.created_at) FROM deliveries d
                WHERE d.incident_id = i.id AND d.channel_id = c.id AND d.type IN ('opened', 'reminder')),
               i.opened_at)
             <= $1::timestamptz - make_interval(mins => c.reminder_minutes)
       ORDER BY i.opened_at
       LIMIT $2`,
      [now, limit],
    );
    return rows;
  },

  /** The newest message enqueued for each incident (reminders repeat it). */
  async lastMessages(q: Queryable, incidentIds: string[]): Promise<Map<string, IncidentMessage>> {
    if (incidentIds.length === 0) return new Map();
    const { rows } = await q.query<{ incident_id: string; message: IncidentMessage }>(
      `SELECT DISTINCT ON (incident_id) incident_id, message FROM deliveries
       WHERE incident_id = ANY($1::uuid[]) AND type IN ('opened', 'reminder')
       ORDER BY incident_id, created_at DESC`,
      [incidentIds],
    );
    return new Map(rows.map((r) => [r.incident_id, r.message]));
  },

  /** What a reminder needs when no earlier message exists to repeat. */
  async incidentsForMessage(
    q: Queryable,
    ids: string[],
  ): Promise<
    {
      id: string;
      number: number;
      project_id: string;
      project_slug: string;
      project_name: string;
      environment: string;
      subject_type: 'target' | 'service';
      subject_id: string;
      subject_name: string;
      kind: IncidentMessage['incident']['kind'];
      title: string;
      reason: string;
      numbers: Record<string, string | number>;
      opened_at: Date;
    }[]
  > {
    if (ids.length === 0) return [];
    const { rows } = await q.query<{
      id: string;
      number: number;
      project_id: string;
      project_slug: string;
      project_name: string;
      environment: string;
      subject_type: 'target' | 'service';
      subject_id: string;
      subject_name: string;
      kind: IncidentMessage['incident']['kind'];
      title: string;
      reason: string;
      numbers: Record<string, string | number>;
      opened_at: Date;
    }>(
      `SELECT i.id, i.number, i.project_id, p.slug AS project_slug, p.name AS project_name,
              e.slug AS environment, i.subject_type, i.subject_id, i.subject_name, i.kind, i.title,
              i.reason, i.numbers, i.opened_at
       FROM incidents i JOIN projects p ON p.id = i.project_id JOIN environments e ON e.id = i.environment_id
       WHERE i.id = ANY($1::uuid[])`,
      [ids],
    );
    return rows;
  },

  async enqueue(
    q: Queryable,
    d: {
      channelId: string;
      projectId: string;
      incidentId: string | null;
      type: MessageType;
      message: IncidentMessage;
      at: Date;
    },
  ): Promise<string> {
    const { rows } = await q.query<{ id: string }>(
      `INSERT INTO deliveries (channel_id, project_id, incident_id, type, message, next_attempt_at, created_at)
       VALUES ($1, $2, $3, $4, $5::jsonb, $6, $6) RETURNING id`,
      [d.channelId, d.projectId, d.incidentId, d.type, JSON.stringify(d.message), d.at],
    );
    return (rows[0] as { id: string }).id;
  },
};
