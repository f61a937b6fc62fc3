/**
 * Telemetry retention: raw request events, runtime logs and metric points older than their
 * project's `raw_retention_days`, minute and hourly rollups past PEEP_ROLLUP_MINUTE_HOURS and
 * PEEP_ROLLUP_HOUR_DAYS, daily rollups past 400 days, idempotency keys past a day, and the telemetry
 * of deleted projects. Uptime retention (purgeUptime): check results older than their project's
 * `raw_retention_days`, target rollups on the same schedule as request rollups, and the results and
 * rollups of deleted targets (check_results has no foreign key, for insert speed). Deletes go in
 * chunks so no statement holds locks for long or builds a huge transaction.
 */
import type { Queryable } from '@peep/pkg';

const CHUNK = 50_000;
const DAY = 86_400_000;

export interface RetentionLimits {
  minuteHours: number;
  hourDays: number;
}

export interface Purged {
  events: number;
  logs: number;
  metricPoints: number;
  rollups: number;
  idempotencyKeys: number;
}

async function chunked(q: Queryable, table: string, where: string, params: unknown[]): Promise<number> {
  let total = 0;
  for (;;) {
    const r = await q.query(
      `DELETE FROM ${table} WHERE ctid IN (SELECT ctid FROM ${table} WHERE ${where} LIMIT ${CHUNK})`,
      params,
    );
    total += r.rowCount;
    if (r.rowCount < CHUNK) return total;
  }
}

export async function purgeTelemetry(q: Queryable, now: Date, limits: RetentionLimits): Promise<Purged> {
  const out: Purged = { events: 0, logs: 0, metricPoints: 0, rollups: 0, idempotencyKeys: 0 };
  const { rows: projects } = await q.query<{ id: string; days: number }>(
    'SELECT id, raw_retention_days AS days FROM projects',
  );
  for (const p of projects) {
    const cutoff = new Date(now.getTime() - p.days * DAY);
    out.events += await chunked(q, 'request_events', 'time < $1 AND project_id = $2', [cutoff, p.id]);
    out.logs += await chunked(q, 'runtime_logs', 'time < $1 AND project_id = $2', [cutoff, p.id]);
    out.metricPoints += await chunked(q, 'metric_points', 'time < $1 AND project_id = $2', [cutoff, p.id]);
  }
  // Deleted projects: found through the small daily rollup table, removed through project indexes.
  const { rows: gone } = await q.query<{ project_id: string }>(
    `SELECT DISTINCT r.project_id FROM rollups_1d r
     WHERE NOT EXISTS (SELECT 1 FROM projects p WHERE p.id = r.project_id)`,
  );
  for (const g of gone) {
    out.events += await chunked(q, 'request_events', 'project_id = $1', [g.project_id]);
    out.logs += await chunked(q, 'runtime_logs', 'project_id = $1', [g.project_id]);
    out.metricPoints += await chunked(q, 'metric_points', 'project_id = $1', [g.project_id]);
    for (const t of ['rollups_1m', 'rollups_1h', 'rollups_1d'])
      out.rollups += await chunked(q, t, 'project_id = $1', [g.project_id]);
  }
  const t = now.getTime();
  out.rollups += await chunked(q, 'rollups_1m', 'bucket < $1', [
    new Date(t - limits.minuteHours * 3_600_000),
  ]);
  out.rollups += await chunked(q, 'rollups_1h', 'bucket < $1', [new Date(t - limits.hourDays * DAY)]);
  out.rollups += await chunked(q, 'rollups_1d', 'bucket < $1', [new Date(t - 400 * DAY)]);
  out.idempotencyKeys = await chunked(q, 'ingest_idempotency', 'created_at < $1', [new Date(t - DAY)]);
  return out;
}

export interface PurgedUptime {
  results: number;
  rollups: number;
  deletedTargets: number;
}

/**
 * Uptime results and rollups. Deleted targets are found among those with a daily rollup in the last
 * week (a target checked until it was deleted has one; older leftovers age out like any other row).
 */
export async function purgeUptime(q: Queryable, now: Date, limits: RetentionLimits): Promise<PurgedUptime> {
  const out: PurgedUptime = { results: 0, rollups: 0, deletedTargets: 0 };
  const t = now.getTime();
  const { rows: projects } = await q.query<{ id: string; days: number }>(
    'SELECT id, raw_retention_days AS days FROM projects',
  );
  for (const p of projects)
    out.results += await chunked(q, 'check_results', 'time < $1 AND project_id = $2', [
      new Date(t - p.days * DAY),
      p.id,
    ]);
  const { rows: gone } = await q.query<{ target_id: string }>(
    `SELECT DISTINCT r.target_id FROM target_rollups_1d r
     WHERE r.bucket >= $1 AND NOT EXISTS (SELECT 1 FROM targets x WHERE x.id = r.target_id)`,
    [new Date(t - 8 * DAY)],
  );
  for (const g of gone) {
    out.deletedTargets++;
    out.results += await chunked(q, 'check_results', 'target_id = $1', [g.target_id]);
    for (const table of ['target_rollups_1m', 'target_rollups_1h', 'target_rollups_1d'])
      out.rollups += await chunked(q, table, 'target_id = $1', [g.target_id]);
  }
  out.rollups += await chunked(q, 'target_rollups_1m', 'bucket < $1', [
    new Date(t - limits.minuteHours * 3_600_000),
  ]);
  out.rollups += await chunked(q, 'target_rollups_1h', 'bucket < $1', [new Date(t - limits.hourDays * DAY)]);
  out.rollups += await chunked(q, 'target_rollups_1d', 'bucket < $1', [new Date(t - 400 * DAY)]);
  return out;
}
