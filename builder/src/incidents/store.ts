/**
 * Incidents: one per (project, environment, subject, kind) while it lasts. Used by the scheduler
 * (down, heartbeat missed, degraded, certificate), the anomaly evaluator and the API (acknowledge,
 * comment, resolve). Every change writes a timeline event and, in the same transaction, enqueues a
 * delivery per enabled channel of the project (builder/src/notifier sends them), so a crash between
 * "opened" and "told Slack" cannot happen.
 *
 * No duplicates: the partial unique index `incidents_one_open_idx` lets one unresolved incident exist
 * per subject and kind; opening inserts with ON CONFLICT DO NOTHING and reads back the open one, so
 * concurrent openers (two replicas, a retried job) agree on one incident and never error.
 * Maintenance windows covering the subject (or the whole project) suppress opening, and so notifying.
 *
 * Numbers (#1, #2...) have no gaps: an opener locks the project's counter row before it looks for an
 * open incident a second time, so of concurrent openers only the first takes a number.
 *
 * `open`/`resolve`/`act` run their own transaction; `openIn`/`resolveIn` run inside a caller's
 * transaction (the anomaly evaluator stores its detector state in the same one) and return how many
 * deliveries they enqueued, so the caller wakes the notifier after its commit.
 */
import type { Queryable } from '@peep/pkg';
import { notifierRepo } from '../notifier/repo.js';
import type { IncidentKind, IncidentMessage, MessageType } from '../notify/types.js';

export type SubjectType = 'target' | 'service';
export type IncidentStatus = 'open' | 'acknowledged' | 'resolved';

export interface Incident {
  id: string;
  number: number;
  projectId: string;
  environmentId: string;
  env: string;
  subjectType: SubjectType;
  subjectId: string;
  subjectName: string;
  kind: IncidentKind;
  status: IncidentStatus;
  title: string;
  reason: string;
  numbers: Record<string, string | number>;
  openedAt: string;
  acknowledgedAt: string | null;
  acknowledgedBy: string | null;
  resolvedAt: string | null;
  resolvedBy: string | null;
}

export interface Actor {
  /** A user's id, or null for peep itself. */
  id: string | null;
  /** As shown in the timeline: the user's email, or "peep". */
  name: string;
}
export const PEEP: Actor = { id: null, name: 'peep' };

export interface OpenInput {
  projectId: string;
  environmentId: string;
  subjectType: SubjectType;
  subjectId: string;
  subjectName: string;
  kind: IncidentKind;
  title: string;
  reason: string;
  numbers: Record<string, string | number>;
  at: Date;
}

export interface StoreOptions {
  /** The dashboard's base URL for links in messages (PEEP_PUBLIC_URL); default relative links. */
  publicUrl?: string;
  /** Called after a commit that enqueued deliveries (publish NOTIFY_WAKE on the bus). */
  wake?(): void;
}

/** Where the dashboard shows an incident; messages link there. */
export function incidentPath(projectId: string, number: number): string {
  return `/projects/${projectId}/uptime/incidents/${number}`;
}

const COLS = `i.id, i.number, i.project_id, i.environment_id, e.slug AS env, i.subject_type, i.subject_id,
  i.subject_name, i.kind, i.status, i.title, i.reason, i.numbers, i.opened_at, i.acknowledged_at,
  coalesce(ack.email, CASE WHEN i.acknowledged_at IS NOT NULL THEN (SELECT ev.actor_name FROM incident_events ev
    WHERE ev.incident_id = i.id AND ev.type = 'acknowledged' ORDER BY ev.id DESC LIMIT 1) END) AS acknowledged_by,
  i.resolved_at, coalesce(res.email, CASE WHEN i.resolved_at IS NOT NULL THEN coalesce((SELECT ev.actor_name
    FROM incident_events ev WHERE ev.incident_id = i.id AND ev.type = 'resolved' ORDER BY ev.id DESC LIMIT 1),
    'peep') END) AS resolved_by`;
const FROM = `incidents i JOIN environments e ON e.id = i.environment_id
  LEFT JOIN users ack ON ack.id = i.acknowledged_by LEFT JOIN users res ON res.id = i.resolved_by`;

interface Row {
  id: string;
  number: number;
  project_id: string;
  environment_id: string;
  env: string;
  subject_type: SubjectType;
  subject_id: string;
  subject_name: string;
  kind: IncidentKind;
  status: IncidentStatus;
  title: string;
  reason: string;
  numbers: Record<string, string | number>;
  opened_at: Date;
  acknowledged_at: Date | null;
  acknowledged_by: string | null;
  resolved_at: Date | null;
  resolved_by: string | null;
}
const iso = (d: Date | null) => (d ? new Date(d).toISOString() : null);
export function toIncident(r: Row): Incident {
  return {
    id: r.id,
    number: r.number,
    projectId: r.project_id,
    environmentId: r.environment_id,
    env: r.env,
    subjectType: r.subject_type,
    subjectId: r.subject_id,
    subjectName: r.subject_name,
    kind: r.kind,
    status: r.status,
    title: r.title,
    reason: r.reason,
    numbers: r.numbers ?? {},
    openedAt: new Date(r.opened_at).toISOString(),
    acknowledgedAt: iso(r.acknowledged_at),
    acknowledgedBy: r.acknowledged_by,
    resolvedAt: iso(r.resolved_at),
    resolvedBy: r.resolved_by,
  };
}

async function byId(q: Queryable, id: string): Promise<Incident | null> {
  const { rows } = await q.query<Row>(`SELECT ${COLS} FROM ${FROM} WHERE i.id = $1`, [id]);
  return rows[0] ? toIncident(rows[0]) : null;
}

async function event(
  q: Queryable,
  incidentId: string,
  type: string,
  actor: Actor,
  at: Date,
  body = '',
  data: Record<string, unknown> = {},
): Promise<void> {
  await q.query(
    `INSERT INTO incident_events (incident_id, at, type, actor_id, actor_name, body, data)
     VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)`,
    [incidentId, at, type, actor.id, actor.name, body, JSON.stringify(data)],
  );
}

/** Whether an active maintenance window covers the subject at `at`. */
export async function inMaintenance(
  q: Queryable,
  o: { projectId: string; subjectType: SubjectType; subjectId: string; subjectName: string; at: Date },
): Promise<boolean> {
  const { rows } = await q.query(
    `SELECT 1 FROM maintenance_windows
      WHERE project_id = $1 AND starts_at <= $2 AND ends_at > $2
        AND ((cardinality(target_ids) = 0 AND cardinality(services) = 0)
          OR ($3 = 'target' AND $4::text = ANY(target_ids::text[]))
          OR ($3 = 'service' AND $5 = ANY(services)))
      LIMIT 1`,
    [o.projectId, o.at, o.subjectType, o.subjectId, o.subjectName],
  );
  return rows.length > 0;
}

export interface IncidentEvent {
  id: number;
  at: string;
  type: 'opened' | 'notified' | 'acknowledged' | 'comment' | 'resolved' | 'reminder' | 'suppressed';
  /** The user's email, or "peep". */
  actor: string;
  actorId: string | null;
  body: string;
  data: Record<string, unknown>;
}

/** An outbox row of the incident, as its page shows it (never the channel's URL). */
export interface IncidentDelivery {
  id: string;
  channelId: string;
  channelName: string;
  type: MessageType;
  status: 'pending' | 'sending' | 'ok' | 'failed';
  attempts: number;
  error: string | null;
  createdAt: string;
  finishedAt: string | null;
}

export interface ListFilter {
  /** 'active' = open or acknowledged; default every status. */
  status?: IncidentStatus | 'active' | 'all';
  kind?: IncidentKind;
  /** A target's id or a subject's name (a service, or a target's name). */
  subject?: string;
  environmentId?: string;
  /** Incidents numbered below this (the previous page's last number). */
  before?: number;
  /** Default 50. */
  limit?: number;
}

type Tx = { transaction<R>(fn: (tx: Queryable) => Promise<R>): Promise<R> };

export interface ResolveInput {
  projectId: string;
  subjectType: SubjectType;
  subjectId: string;
  /**
   * Only incidents of this environment. Services need it: their subject id is the service's name,
   * the same in every environment, and `api` recovering in staging must not resolve prod's incident.
   */
  environmentId?: string;
  kind?: IncidentKind;
  at: Date;
  reason: string;
  numbers?: Record<string, string | number>;
  actor?: Actor;
}

export interface OpenResult {
  incident: Incident | null;
  created: boolean;
  suppressed: boolean;
}

const openSql = `SELECT id FROM incidents WHERE project_id = $1 AND environment_id = $2 AND subject_type = $3
  AND subject_id = $4 AND kind = $5 AND status <> 'resolved'`;

export function createIncidentStore(opts: StoreOptions = {}) {
  const base = (opts.publicUrl ?? '').replace(/\/+$/, '');

  /** Enqueues `type` for every enabled channel of the incident's project; returns how many. */
  async function notify(q: Queryable, inc: Incident, type: MessageType, at: Date): Promise<number> {
    const { rows: channels } = await q.query<{ id: string }>(
      `SELECT id FROM channels WHERE project_id = $1 AND enabled
         AND ($2 <> 'resolved' OR notify_resolved) ORDER BY name`,
      [inc.projectId, type],
    );
    if (channels.length === 0) return 0;
    const { rows } = await q.query<{ slug: string; name: string }>(
      'SELECT slug, name FROM projects WHERE id = $1',
      [inc.projectId],
    );
    const p = rows[0] ?? { slug: '', name: '' };
    const message: IncidentMessage = {
      type,
      incident: {
        id: inc.id,
        title: inc.title,
        kind: inc.kind,
        subject: { type: inc.subjectType, id: inc.subjectId, name: inc.subjectName },
        project: { id: inc.projectId, slug: p.slug, name: p.name },
        environment: inc.env,
        openedAt: inc.openedAt,
        ...(inc.resolvedAt ? { resolvedAt: inc.resolvedAt } : {}),
        ...(inc.acknowledgedBy ? { acknowledgedBy: inc.acknowledgedBy } : {}),
        numbers: inc.numbers,
        reason: inc.reason,
      },
      url: `${base}${incidentPath(inc.projectId, inc.number)}`,
      sentAt: at.toISOString(),
    };
    for (const c of channels)
      await notifierRepo.enqueue(q, {
        channelId: c.id,
        projectId: inc.projectId,
        incidentId: inc.id,
        type,
        message,
        at,
      });
    await q.query('UPDATE incidents SET last_notified_at = $2 WHERE id = $1', [inc.id, at]);
    return channels.length;
  }

  async function inTx<T>(db: Tx, fn: (tx: Queryable, enqueued: { n: number }) => Promise<T>): Promise<T> {
    const enqueued = { n: 0 };
    const out = await db.transaction((tx) => fn(tx, enqueued));
    if (enqueued.n > 0) opts.wake?.();
    return out;
  }

  async function openIn(tx: Queryable, o: OpenInput): Promise<OpenResult & { enqueued: number }> {
    const key = [o.projectId, o.environmentId, o.subjectType, o.subjectId, o.kind];
    const existing = await tx.query<{ id: string }>(openSql, key);
    if (existing.rows[0])
      return {
        incident: await byId(tx, existing.rows[0].id),
        created: false,
        suppressed: false,
        enqueued: 0,
      };
    if (await inMaintenance(tx, o)) return { incident: null, created: false, suppressed: true, enqueued: 0 };
    // Lock the project's counter row (creating it), then look again: a concurrent opener that got
    // the lock first has committed its incident by now, and we return that one without a number.
    await tx.query(
      `INSERT INTO incident_counters (project_id, last) VALUES ($1, 0)
       ON CONFLICT (project_id) DO UPDATE SET last = incident_counters.last`,
      [o.projectId],
    );
    const again = await tx.query<{ id: string }>(openSql, key);
    if (again.rows[0])
      return { incident: await byId(tx, again.rows[0].id), created: false, suppressed: false, enqueued: 0 };
    const n = await tx.query<{ last: number }>(
      'UPDATE incident_counters SET last = last + 1 WHERE project_id = $1 RETURNING last',
      [o.projectId],
    );
    const inserted = await tx.query<{ id: string }>(
      `INSERT INTO incidents (project_id, number, environment_id, subject_type, subject_id, subject_name,
         kind, title, reason, numbers, opened_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb, $11)
       ON CONFLICT (project_id, environment_id, subject_type, subject_id, kind) WHERE status <> 'resolved'
       DO NOTHING RETURNING id`,
      [
        o.projectId,
        n.rows[0]?.last,
        o.environmentId,
        o.subjectType,
        o.subjectId,
        o.subjectName,
        o.kind,
        o.title,
        o.reason,
        JSON.stringify(o.numbers),
        o.at,
      ],
    );
    const id = inserted.rows[0]?.id;
    if (!id) {
      // Only a writer that bypasses the counter lock can get here; its incident is the one.
      const other = await tx.query<{ id: string }>(openSql, key);
      const found = other.rows[0] ? await byId(tx, other.rows[0].id) : null;
      return { incident: found, created: false, suppressed: false, enqueued: 0 };
    }
    await event(tx, id, 'opened', PEEP, o.at, o.reason, { numbers: o.numbers });
    const inc = (await byId(tx, id)) as Incident;
    const enqueued = await notify(tx, inc, 'opened', o.at);
    return { incident: inc, created: true, suppressed: false, enqueued };
  }

  async function resolveIn(
    tx: Queryable,
    o: ResolveInput,
  ): Promise<{ incidents: Incident[]; enqueued: number }> {
    const actor = o.actor ?? PEEP;
    const { rows } = await tx.query<{ id: string }>(
      `UPDATE incidents SET status = 'resolved', resolved_at = $5, resolved_by = $6,
         numbers = numbers || $7::jsonb
       WHERE project_id = $1 AND subject_type = $2 AND subject_id = $3 AND ($4::text IS NULL OR kind = $4)
         AND ($8::uuid IS NULL OR environment_id = $8) AND status <> 'resolved' RETURNING id`,
      [
        o.projectId,
        o.subjectType,
        o.subjectId,
        o.kind ?? null,
        o.at,
        actor.id,
        JSON.stringify(o.numbers ?? {}),
        o.environmentId ?? null,
      ],
    );
    const out: Incident[] = [];
    let enqueued = 0;
    for (const r of rows) {
      await event(tx, r.id, 'resolved', actor, o.at, o.reason, o.numbers ? { numbers: o.numbers } : {});
      const inc = (await byId(tx, r.id)) as Incident;
      enqueued += await notify(tx, { ...inc, reason: o.reason }, 'resolved', o.at);
      out.push(inc);
    }
    return { incidents: out, enqueued };
  }

  type Action = 'acknowledge' | 'comment' | 'resolve';
  type ActResult = { incident: Incident; changed: boolean } | null | 'resolved';

  function act(
    db: Tx,
    o: { projectId: string; incidentId: string; action: Action; actor: Actor; body?: string; at: Date },
  ): Promise<ActResult> {
    return inTx(db, async (tx, enq) => {
      const { rows } = await tx.query<{ status: IncidentStatus }>(
        'SELECT status FROM incidents WHERE id = $1 AND project_id = $2 FOR UPDATE',
        [o.incidentId, o.projectId],
      );
      const status = rows[0]?.status;
      if (!status) return null;
      const body = (o.body ?? '').trim();
      if (o.action === 'comment') {
        await event(tx, o.incidentId, 'comment', o.actor, o.at, body);
        return { incident: (await byId(tx, o.incidentId)) as Incident, changed: true };
      }
      if (status === 'resolved') return 'resolved';
      if (o.action === 'acknowledge') {
        if (status === 'acknowledged') {
          if (body) await event(tx, o.incidentId, 'comment', o.actor, o.at, body);
          return { incident: (await byId(tx, o.incidentId)) as Incident, changed: false };
        }
        await tx.query(
          `UPDATE incidents SET status = 'acknowledged', acknowledged_at = $2, acknowledged_by = $3 WHERE id = $1`,
          [o.incidentId, o.at, o.actor.id],
        );
        await event(tx, o.incidentId, 'acknowledged', o.actor, o.at, body);
        const inc = (await byId(tx, o.incidentId)) as Incident;
        enq.n += await notify(tx, inc, 'acknowledged', o.at);
        return { incident: inc, changed: true };
      }
      await tx.query(
        `UPDATE incidents SET status = 'resolved', resolved_at = $2, resolved_by = $3 WHERE id = $1`,
        [o.incidentId, o.at, o.actor.id],
      );
      await event(tx, o.incidentId, 'resolved', o.actor, o.at, body);
      const inc = (await byId(tx, o.incidentId)) as Incident;
      enq.n += await notify(
        tx,
        { ...inc, reason: body ? `Resolved by ${o.actor.name}: ${body}` : `Resolved by ${o.actor.name}.` },
        'resolved',
        o.at,
      );
      return { incident: inc, changed: true };
    });
  }

  type PersonInput = { projectId: string; incidentId: string; actor: Actor; at: Date; body?: string };

  return {
    /**
     * Opens an incident, or returns the one already open for the subject and kind. Suppressed (nothing
     * written) while a maintenance window covers the subject.
     */
    open(db: Tx, o: OpenInput): Promise<OpenResult> {
      return inTx(db, async (tx, enq) => {
        const { enqueued, ...out } = await openIn(tx, o);
        enq.n += enqueued;
        return out;
      });
    },
    /** Resolves the unresolved incidents of a subject (of one kind, or all kinds); returns them. */
    resolve(db: Tx, o: ResolveInput): Promise<Incident[]> {
      return inTx(db, async (tx, enq) => {
        const { incidents, enqueued } = await resolveIn(tx, o);
        enq.n += enqueued;
        return incidents;
      });
    },
    openIn,
    resolveIn,
    /** Publishes the notifier wake-up (after a caller of openIn/resolveIn committed deliveries). */
    wake(): void {
      opts.wake?.();
    },
    /** A person acknowledges (stops reminders), comments or resolves; null when not found. */
    act,
    acknowledge: (db: Tx, o: PersonInput) => act(db, { ...o, action: 'acknowledge' }),
    comment: (db: Tx, o: PersonInput & { body: string }) => act(db, { ...o, action: 'comment' }),
    resolveByUser: (db: Tx, o: PersonInput) => act(db, { ...o, action: 'resolve' }),
    byId,
    list: listIncidents,
    get: getIncident,
  };
}
export type IncidentStore = ReturnType<typeof createIncidentStore>;

/** Contract shorthand: open with a store made for this call. */
export function openIncident(db: Tx, o: OpenInput, opts: StoreOptions = {}): Promise<OpenResult> {
  return createIncidentStore(opts).open(db, o);
}

/** Contract shorthand: resolve with a store made for this call. */
export function resolveIncidents(db: Tx, o: ResolveInput, opts: StoreOptions = {}): Promise<Incident[]> {
  return createIncidentStore(opts).resolve(db, o);
}

/** A page of a project's incidents, newest (highest number) first. */
export async function listIncidents(
  q: Queryable,
  projectId: string,
  f: ListFilter = {},
): Promise<{ incidents: Incident[]; nextBefore: number | null }> {
  const where = ['i.project_id = $1'];
  const params: unknown[] = [projectId];
  const add = (sql: string, v: unknown) => {
    params.push(v);
    where.push(sql.replaceAll('$?', `$${params.length}`));
  };
  if (f.status === 'active') where.push(`i.status <> 'resolved'`);
  else if (f.status && f.status !== 'all') add('i.status = $?', f.status);
  if (f.kind) add('i.kind = $?', f.kind);
  if (f.subject) add('(i.subject_id = $? OR i.subject_name = $?)', f.subject);
  if (f.environmentId) add('i.environment_id = $?', f.environmentId);
  if (f.before !== undefined) add('i.number < $?', f.before);
  const limit = f.limit ?? 50;
  params.push(limit + 1);
  const { rows } = await q.query<Row>(
    `SELECT ${COLS} FROM ${FROM} WHERE ${where.join(' AND ')} ORDER BY i.number DESC LIMIT $${params.length}`,
    params,
  );
  const page = rows.slice(0, limit).map(toIncident);
  const last = page[page.length - 1];
  return { incidents: page, nextBefore: rows.length > limit && last ? last.number : null };
}

interface EventRow {
  id: number | string;
  at: Date;
  type: IncidentEvent['type'];
  actor_name: string;
  actor_id: string | null;
  body: string;
  data: Record<string, unknown> | null;
}
interface DeliveryRow {
  id: string;
  channel_id: string;
  channel_name: string;
  type: MessageType;
  status: IncidentDelivery['status'];
  attempts: number;
  error: string | null;
  created_at: Date;
  finished_at: Date | null;
}

/**
 * One incident of the project by id or by number, with its timeline (oldest first) and deliveries;
 * null when the project has no such incident.
 */
export async function getIncident(
  q: Queryable,
  projectId: string,
  ref: string | number,
): Promise<{ incident: Incident; events: IncidentEvent[]; deliveries: IncidentDelivery[] } | null> {
  const byNumber = typeof ref === 'number' || /^\d{1,9}$/.test(ref);
  const { rows } = await q.query<Row>(
    `SELECT ${COLS} FROM ${FROM} WHERE i.project_id = $1 AND ${byNumber ? 'i.number = $2::int' : 'i.id = $2::uuid'}`,
    [projectId, byNumber ? Number(ref) : ref],
  );
  if (!rows[0]) return null;
  const incident = toIncident(rows[0]);
  const events = await q.query<EventRow>(
    `SELECT id, at, type, actor_name, actor_id, body, data FROM incident_events WHERE incident_id = $1 ORDER BY at, id`,
    [incident.id],
  );
  const deliveries = await q.query<DeliveryRow>(
    `SELECT d.id, d.channel_id, c.name AS channel_name, d.type, d.status, jsonb_array_length(d.attempts) AS attempts,
       d.error, d.created_at, d.finished_at
     FROM deliveries d JOIN channels c ON c.id = d.channel_id
     WHERE d.incident_id = $1 ORDER BY d.created_at, c.name, d.id`,
    [incident.id],
  );
  return {
    incident,
    events: events.rows.map((e) => ({
      id: Number(e.id),
      at: new Date(e.at).toISOString(),
      type: e.type,
      actor: e.actor_name,
      actorId: e.actor_id,
      body: e.body,
      data: e.data ?? {},
    })),
    deliveries: deliveries.rows.map((d) => ({
      id: d.id,
      channelId: d.channel_id,
      channelName: d.channel_name,
      type: d.type,
      status: d.status,
      attempts: Number(d.attempts),
      error: d.error,
      createdAt: new Date(d.created_at).toISOString(),
      finishedAt: iso(d.finished_at),
    })),
  };
}
