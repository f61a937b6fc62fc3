/**
 * All SQL for uptime targets, their heartbeats, check results and rollups. Lists are keyset-paged on
 * (name, id) over `targets_project_idx` / `targets_project_status_idx`; bulk writes (apply) go through
 * one statement each with `jsonb_to_recordset`, so 10,000 targets cost three statements, not 10,000.
 */
import type { Queryable } from '@peep/pkg';
import { iso, isoRequired } from '../core/types.js';
import type { CheckResult, Target, TargetCounts, TargetKind, TargetStatus } from './schemas.js';

/** The columns a user sets (create, update, apply). */
export interface TargetValues {
  environmentId: string;
  name: string;
  kind: TargetKind;
  spec: Record<string, unknown>;
  intervalS: number;
  graceS: number;
  failAfter: number;
  recoverAfter: number;
  degradedMs: number | null;
  anomaly: boolean;
  sensitivity: 'low' | 'medium' | 'high';
  enabled: boolean;
  tags: string[];
}

/** A target as the API shows it, plus what the service needs to compare and to publish. */
export interface StoredTarget {
  target: Target;
  environmentId: string;
  shard: number;
}

export interface ListFilters {
  environmentId?: string;
  status?: TargetStatus;
  kind?: TargetKind;
  tag?: string;
  /** Name contains, case-insensitive; LIKE wildcards in it are taken literally. */
  q?: string;
}

interface Row {
  id: string;
  project_id: string;
  environment_id: string;
  env: string;
  name: string;
  kind: TargetKind;
  spec: unknown;
  interval_s: number;
  grace_s: number;
  fail_after: number;
  recover_after: number;
  degraded_ms: number | null;
  anomaly: boolean;
  sensitivity: 'low' | 'medium' | 'high';
  enabled: boolean;
  tags: string[];
  shard: number;
  status: 'pending' | 'up' | 'down';
  status_since: Date;
  last_check_at: Date | null;
  last_ok: boolean | null;
  last_duration_ms: number | null;
  last_status_code: number | null;
  last_error_class: string | null;
  last_message: string | null;
  cert_days_left: number | null;
  last_beat_at: Date | null;
  heartbeat_prefix: string | null;
  created_at: Date;
  updated_at: Date;
}

const COLS = `t.id, t.project_id, t.environment_id, e.slug AS env, t.name, t.kind, t.spec, t.interval_s,
  t.grace_s, t.fail_after, t.recover_after, t.degraded_ms, t.anomaly, t.sensitivity, t.enabled, t.tags,
  t.shard, t.status, t.status_since, t.last_check_at, t.last_ok, t.last_duration_ms, t.last_status_code,
  t.last_error_class, t.last_message, t.cert_days_left, t.last_beat_at, t.heartbeat_prefix, t.created_at,
  t.updated_at`;
const FROM = 'targets t JOIN environments e ON e.id = t.environment_id';

const num = (v: number | string | null) => (v === null ? null : Number(v));

function toStored(r: Row): StoredTarget {
  return {
    environmentId: r.environment_id,
    shard: Number(r.shard),
    target: {
      id: r.id,
      projectId: r.project_id,
      env: r.env,
      name: r.name,
      kind: r.kind,
      spec: r.spec,
      intervalS: r.interval_s,
      graceS: r.grace_s,
      failAfter: r.fail_after,
      recoverAfter: r.recover_after,
      degradedMs: r.degraded_ms,
      anomaly: r.anomaly,
      sensitivity: r.sensitivity,
      enabled: r.enabled,
      tags: r.tags,
      status: r.enabled ? r.status : 'paused',
      statusSince: isoRequired(r.status_since),
      lastCheckAt: iso(r.last_check_at),
      lastOk: r.last_ok,
      lastDurationMs: num(r.last_duration_ms),
      lastStatusCode: r.last_status_code,
      lastErrorClass: r.last_error_class,
      lastMessage: r.last_message,
      certDaysLeft: num(r.cert_days_left),
      lastBeatAt: iso(r.last_beat_at),
      heartbeatPrefix: r.heartbeat_prefix,
      createdAt: isoRequired(r.created_at),
      updatedAt: isoRequired(r.updated_at),
    },
  };
}

/** `%` and `_` match themselves; `\` is the escape character. */
export const likeEscape = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);

/** WHERE conditions and their parameters for the list filters (status optional: counts skip it). */
function where(projectId: string, f: ListFilters, withStatus: boolean): { sql: string; params: unknown[] } {
  const params: unknown[] = [projectId];
  const parts = ['t.project_id = $1'];
  const p = (v: unknown) => {
    params.push(v);
    return `$${params.length}`;
  };
  if (f.environmentId) parts.push(`t.environment_id = ${p(f.environmentId)}`);
  if (f.kind) parts.push(`t.kind = ${p(f.kind)}`);
  if (f.tag) parts.push(`t.tags @> ARRAY[${p(f.tag)}]::text[]`);
  if (f.q) parts.push(`t.name ILIKE ${p(`%${likeEscape(f.q)}%`)} ESCAPE '\\'`);
  if (withStatus && f.status === 'paused') parts.push('NOT t.enabled');
  else if (withStatus && f.status) parts.push(`t.enabled AND t.status = ${p(f.status)}`);
  return { sql: parts.join(' AND '), params };
}

/** The parameters of a jsonb_to_recordset() with TargetValues (and the heartbeat secret). */
const RECORD = `environment_id uuid, name text, kind text, spec jsonb, interval_s integer, grace_s integer,
  fail_after integer, recover_after integer, degraded_ms integer, anomaly boolean, sensitivity text,
  enabled boolean, tags text[], heartbeat_hash text, heartbeat_prefix text, id uuid`;
function record(v: TargetValues, extra: { id?: string; hash?: string | null; prefix?: string | null } = {}) {
  return {
    id: extra.id ?? null,
    environment_id: v.environmentId,
    name: v.name,
    kind: v.kind,
    spec: v.spec,
    interval_s: v.intervalS,
    grace_s: v.graceS,
    fail_after: v.failAfter,
    recover_after: v.recoverAfter,
    degraded_ms: v.degradedMs,
    anomaly: v.anomaly,
    sensitivity: v.sensitivity,
    enabled: v.enabled,
    tags: v.tags,
    heartbeat_hash: extra.hash ?? null,
    heartbeat_prefix: extra.prefix ?? null,
  };
}

export interface NewTarget {
  values: TargetValues;
  heartbeatHash: string | null;
  heartbeatPrefix: string | null;
}

export interface ChangedTarget {
  id: string;
  values: TargetValues;
  /** undefined: keep; null: clear (no longer a heartbeat); string: set. */
  heartbeatHash?: string | null;
  heartbeatPrefix?: string | null;
  /** True when the target goes from paused to enabled: its state starts again from pending. */
  resumed: boolean;
  /** True when it is paused now: `statusSince` says since when. */
  paused: boolean;
}

interface RollupRow {
  b: number;
  count: string | number;
  failures: string | number;
  sum_ms: number;
  min_ms: number;
  max_ms: number;
  sketch: (string | number)[];
}
export interface Rollup {
  bucket: number;
  count: number;
  failures: number;
  sumMs: number;
  minMs: number;
  maxMs: number;
  sketch: number[];
}
export type Tier = '1m' | '1h' | '1d';

export const targetsRepo = {
  async environments(q: Queryable, projectId: string): Promise<{ id: string; slug: string }[]> {
    const { rows } = await q.query<{ id: string; slug: string }>(
      'SELECT id, slug FROM environments WHERE project_id = $1 ORDER BY position',
      [projectId],
    );
    return rows;
  },

  async get(q: Queryable, projectId: string, id: string): Promise<StoredTarget | null> {
    const { rows } = await q.query<Row>(`SELECT ${COLS} FROM ${FROM} WHERE t.project_id = $1 AND t.id = $2`, [
      projectId,
      id,
    ]);
    return rows[0] ? toStored(rows[0]) : null;
  },

  /** One page in (name, id) order, after the cursor's (name, id). */
  async page(
    q: Queryable,
    projectId: string,
    f: ListFilters,
    after: { name: string; id: string } | null,
    limit: number,
  ): Promise<Target[]> {
    const w = where(projectId, f, true);
    const params = [...w.params];
    let keyset = '';
    if (after) {
      params.push(after.name, after.id);
      keyset = ` AND (t.name, t.id) > ($${params.length - 1}, $${params.length}::uuid)`;
    }
    params.push(limit);
    const { rows } = await q.query<Row>(
      `SELECT ${COLS} FROM ${FROM} WHERE ${w.sql}${keyset} ORDER BY t.name, t.id LIMIT $${params.length}`,
      params,
    );
    return rows.map((r) => toStored(r).target);
  },

  /** How many targets match the filters (all but status), by status, in one aggregate. */
  async counts(q: Queryable, projectId: string, f: ListFilters): Promise<TargetCounts> {
    const w = where(projectId, f, false);
    const { rows } = await q.query<Record<keyof TargetCounts, string | number>>(
      `SELECT count(*) AS total,
         count(*) FILTER (WHERE t.enabled AND t.status = 'up') AS up,
         count(*) FILTER (WHERE t.enabled AND t.status = 'down') AS down,
         count(*) FILTER (WHERE t.enabled AND t.status = 'pending') AS pending,
         count(*) FILTER (WHERE NOT t.enabled) AS paused
       FROM targets t WHERE ${w.sql}`,
      w.params,
    );
    const r = rows[0];
    return {
      total: Number(r?.total ?? 0),
      up: Number(r?.up ?? 0),
      down: Number(r?.down ?? 0),
      pending: Number(r?.pending ?? 0),
      paused: Number(r?.paused ?? 0),
    };
  },

  /** Every target of the project, or of one environment (apply compares against them). */
  async all(q: Queryable, projectId: string, environmentId: string | null): Promise<StoredTarget[]> {
    const { rows } = await q.query<Row>(
      `SELECT ${COLS} FROM ${FROM} WHERE t.project_id = $1 AND ($2::uuid IS NULL OR t.environment_id = $2)
       ORDER BY t.name, t.id`,
      [projectId, environmentId],
    );
    return rows.map(toStored);
  },

  /** Inserts the targets; returns the ids by environment and name, or null when a name is taken. */
  async insertMany(
    q: Queryable,
    projectId: string,
    createdBy: string | null,
    items: NewTarget[],
  ): Promise<{ id: string; environmentId: string; name: string }[] | null> {
    if (items.length === 0) return [];
    const { rows } = await q.query<{ id: string; environment_id: string; name: string }>(
      `INSERT INTO targets (project_id, environment_id, name, kind, spec, interval_s, grace_s, fail_after,
         recover_after, degraded_ms, anomaly, sensitivity, enabled, tags, heartbeat_hash, heartbeat_prefix,
         created_by)
       SELECT $1, x.environment_id, x.name, x.kind, x.spec, x.interval_s, x.grace_s, x.fail_after,
         x.recover_after, x.degraded_ms, x.anomaly, x.sensitivity, x.enabled, x.tags, x.heartbeat_hash,
         x.heartbeat_prefix, $3
       FROM jsonb_to_recordset($2::jsonb) AS x(${RECORD})
       ON CONFLICT (project_id, environment_id, name) DO NOTHING
       RETURNING id, environment_id, name`,
      [
        projectId,
        JSON.stringify(
          items.map((i) => record(i.values, { hash: i.heartbeatHash, prefix: i.heartbeatPrefix })),
        ),
        createdBy,
      ],
    );
    return rows.length === items.length
      ? rows.map((r) => ({ id: r.id, environmentId: r.environment_id, name: r.name }))
      : null;
  },

  /** Writes the new values of these targets; false when a rename collides with another target. */
  async updateMany(q: Queryable, projectId: string, items: ChangedTarget[], now: Date): Promise<boolean> {
    if (items.length === 0) return true;
    const recs = items.map((i) => ({
      ...record(i.values, { id: i.id, hash: i.heartbeatHash, prefix: i.heartbeatPrefix }),
      set_heartbeat: i.heartbeatHash !== undefined,
      resumed: i.resumed,
      paused: i.paused,
    }));
    try {
      await q.query(
        `UPDATE targets t SET environment_id = x.environment_id, name = x.name, kind = x.kind, spec = x.spec,
           interval_s = x.interval_s, grace_s = x.grace_s, fail_after = x.fail_after,
           recover_after = x.recover_after, degraded_ms = x.degraded_ms, anomaly = x.anomaly,
           sensitivity = x.sensitivity, enabled = x.enabled, tags = x.tags,
           heartbeat_hash = CASE WHEN x.set_heartbeat THEN x.heartbeat_hash ELSE t.heartbeat_hash END,
           heartbeat_prefix = CASE WHEN x.set_heartbeat THEN x.heartbeat_prefix ELSE t.heartbeat_prefix END,
           status = CASE WHEN x.resumed THEN 'pending' ELSE t.status END,
           fail_streak = CASE WHEN x.resumed THEN 0 ELSE t.fail_streak END,
           ok_streak = CASE WHEN x.resumed THEN 0 ELSE t.ok_streak END,
           status_since = CASE WHEN x.resumed OR x.paused THEN $3 ELSE t.status_since END,
           updated_at = $3
         FROM jsonb_to_recordset($2::jsonb) AS x(${RECORD}, set_heartbeat boolean, resumed boolean,
           paused boolean)
         WHERE t.project_id = $1 AND t.id = x.id`,
        [projectId, JSON.stringify(recs), now],
      );
    } catch (e) {
      if ((e as { code?: string }).code === '23505') return false;
      throw e;
    }
    return true;
  },

  async deleteMany(q: Queryable, projectId: string, ids: string[]): Promise<StoredTarget[]> {
    if (ids.length === 0) return [];
    const { rows } = await q.query<Row>(
      `WITH d AS (DELETE FROM targets WHERE project_id = $1 AND id = ANY($2::uuid[]) RETURNING *)
       SELECT ${COLS.replaceAll('t.', 'd.')} FROM d JOIN environments e
         ON e.id = d.environment_id`,
      [projectId, ids],
    );
    return rows.map(toStored);
  },

  async setHeartbeat(q: Queryable, projectId: string, id: string, hash: string, prefix: string, now: Date) {
    await q.query(
      `UPDATE targets SET heartbeat_hash = $3, heartbeat_prefix = $4, updated_at = $5
       WHERE project_id = $1 AND id = $2`,
      [projectId, id, hash, prefix, now],
    );
  },

  /** A heartbeat: the target of this token hash, its last beat set to `now`, and an ok result. */
  async beat(
    q: Queryable,
    hash: string,
    now: Date,
  ): Promise<{ id: string; projectId: string; shard: number; enabled: boolean } | null> {
    const { rows } = await q.query<{ id: string; project_id: string; shard: number; enabled: boolean }>(
      `UPDATE targets SET last_beat_at = CASE WHEN enabled THEN $2 ELSE last_beat_at END
       WHERE heartbeat_hash = $1 AND kind = 'heartbeat' RETURNING id, project_id, shard, enabled`,
      [hash, now],
    );
    const r = rows[0];
    if (!r) return null;
    if (r.enabled)
      await q.query(
        `INSERT INTO check_results (target_id, project_id, time, ok, duration_ms, worker)
         VALUES ($1, $2, $3, true, 0, 'heartbeat')`,
        [r.id, r.project_id, now],
      );
    return { id: r.id, projectId: r.project_id, shard: Number(r.shard), enabled: r.enabled };
  },

  async results(q: Queryable, targetId: string, limit: number, before: Date | null): Promise<CheckResult[]> {
    const { rows } = await q.query<{
      id: string | number;
      time: Date;
      ok: boolean;
      duration_ms: number;
      dns_ms: number | null;
      connect_ms: number | null;
      tls_ms: number | null;
      first_byte_ms: number | null;
      status_code: number | null;
      error_class: string | null;
      message: string | null;
      cert_days_left: number | null;
      worker: string | null;
    }>(
      `SELECT id, time, ok, duration_ms, dns_ms, connect_ms, tls_ms, first_byte_ms, status_code, error_class,
         message, cert_days_left, worker
       FROM check_results WHERE target_id = $1 AND ($2::timestamptz IS NULL OR time < $2)
       ORDER BY time DESC, id DESC LIMIT $3`,
      [targetId, before, limit],
    );
    return rows.map((r) => ({
      id: String(r.id),
      time: isoRequired(r.time),
      ok: r.ok,
      durationMs: Number(r.duration_ms),
      dnsMs: num(r.dns_ms),
      connectMs: num(r.connect_ms),
      tlsMs: num(r.tls_ms),
      firstByteMs: num(r.first_byte_ms),
      statusCode: r.status_code,
      errorClass: r.error_class,
      message: r.message,
      certDaysLeft: num(r.cert_days_left),
      worker: r.worker,
    }));
  },

  /** Rollup rows of one target from `from` on, oldest first. */
  async rollups(q: Queryable, tier: Tier, targetId: string, from: Date): Promise<Rollup[]> {
    const { rows } = await q.query<RollupRow>(
      `SELECT extract(epoch FROM bucket)::float8 * 1000 AS b, count, failures, sum_ms, min_ms, max_ms, sketch
       FROM target_rollups_${tier} WHERE target_id = $1 AND bucket >= $2 ORDER BY bucket`,
      [targetId, from],
    );
    return rows.map((r) => ({
      bucket: Number(r.b),
      count: Number(r.count),
      failures: Number(r.failures),
      sumMs: Number(r.sum_ms),
      minMs: Number(r.min_ms),
      maxMs: Number(r.max_ms),
      sketch: r.sketch.map(Number),
    }));
  },

  /** Checks and failures since each start, in one statement (one sub-select per window). */
  async totals(
    q: Queryable,
    targetId: string,
    windows: { tier: Tier; from: Date }[],
  ): Promise<{ count: number; failures: number }[]> {
    const params: unknown[] = [targetId];
    const cols = windows.map((w, i) => {
      params.push(w.from);
      return `(SELECT ARRAY[coalesce(sum(count), 0), coalesce(sum(failures), 0)]::float8[]
         FROM target_rollups_${w.tier} WHERE target_id = $1 AND bucket >= $${params.length}) AS w${i}`;
    });
    const { rows } = await q.query<Record<string, number[]>>(`SELECT ${cols.join(', ')}`, params);
    return windows.map((_, i) => {
      const a = rows[0]?.[`w${i}`] ?? [0, 0];
      return { count: Number(a[0] ?? 0), failures: Number(a[1] ?? 0) };
    });
  },
};
