/**
 * SQL of the maintenance window and service rule routes. Incidents themselves are read and changed
 * through the incident store (builder/src/incidents/store.ts), which the scheduler and the anomaly
 * evaluator share, so there is one place where an incident's rules live.
 */
import type { Queryable } from '@peep/pkg';

export interface WindowRow {
  id: string;
  project_id: string;
  title: string;
  starts_at: Date;
  ends_at: Date;
  target_ids: string[];
  services: string[];
  created_by: string | null;
  created_at: Date;
}

export interface RuleRow {
  p95_above_ms: number | null;
  error_rate_above: number | null;
  min_requests: number;
  anomaly: boolean;
  sensitivity: 'low' | 'medium' | 'high';
}

const WINDOW_COLS = `w.id, w.project_id, w.title, w.starts_at, w.ends_at, w.target_ids::text[] AS target_ids,
  w.services, u.email AS created_by, w.created_at`;

export const incidentsRepo = {
  async environmentId(q: Queryable, projectId: string, slug: string): Promise<string | null> {
    const { rows } = await q.query<{ id: string }>(
      'SELECT id FROM environments WHERE project_id = $1 AND slug = $2',
      [projectId, slug],
    );
    return rows[0]?.id ?? null;
  },

  async windows(
    q: Queryable,
    projectId: string,
    now: Date,
    state: 'upcoming' | 'active' | 'ended' | 'all' | undefined,
  ): Promise<WindowRow[]> {
    const cond =
      state === 'upcoming'
        ? 'w.starts_at > $2'
        : state === 'active'
          ? 'w.starts_at <= $2 AND w.ends_at > $2'
          : state === 'ended'
            ? 'w.ends_at <= $2'
            : state === 'all'
              ? '$2::timestamptz IS NOT NULL'
              : 'w.ends_at > $2';
    const { rows } = await q.query<WindowRow>(
      `SELECT ${WINDOW_COLS} FROM maintenance_windows w LEFT JOIN users u ON u.id = w.created_by
       WHERE w.project_id = $1 AND ${cond} ORDER BY w.starts_at DESC, w.id LIMIT 500`,
      [projectId, now],
    );
    return rows;
  },

  /** Which of `ids` are not targets of the project. */
  async foreignTargets(q: Queryable, projectId: string, ids: string[]): Promise<string[]> {
    if (ids.length === 0) return [];
    const { rows } = await q.query<{ id: string }>(
      `SELECT x.id::text AS id FROM unnest($2::uuid[]) AS x(id)
       WHERE NOT EXISTS (SELECT 1 FROM targets t WHERE t.id = x.id AND t.project_id = $1)`,
      [projectId, ids],
    );
    return rows.map((r) => r.id);
  },

  async createWindow(
    q: Queryable,
    w: {
      projectId: string;
      title: string;
      startsAt: Date;
      endsAt: Date;
      targetIds: string[];
      services: string[];
      createdBy: string;
    },
  ): Promise<WindowRow> {
    const { rows } = await q.query<{ id: string }>(
      `INSERT INTO maintenance_windows (project_id, title, starts_at, ends_at, target_ids, services, created_by)
       VALUES ($1, $2, $3, $4, $5::uuid[], $6::text[], $7) RETURNING id`,
      [w.projectId, w.title, w.startsAt, w.endsAt, w.targetIds, w.services, w.createdBy],
    );
    const id = rows[0]?.id as string;
    const got = await q.query<WindowRow>(
      `SELECT ${WINDOW_COLS} FROM maintenance_windows w LEFT JOIN users u ON u.id = w.created_by WHERE w.id = $1`,
      [id],
    );
    return got.rows[0] as WindowRow;
  },

  async deleteWindow(q: Queryable, projectId: string, id: string): Promise<WindowRow | null> {
    const { rows } = await q.query<WindowRow>(
      `DELETE FROM maintenance_windows w WHERE w.project_id = $1 AND w.id = $2
       RETURNING w.id, w.project_id, w.title, w.starts_at, w.ends_at, w.target_ids::text[] AS target_ids,
         w.services, NULL::text AS created_by, w.created_at`,
      [projectId, id],
    );
    return rows[0] ?? null;
  },

  async rule(
    q: Queryable,
    projectId: string,
    environmentId: string,
    service: string,
  ): Promise<RuleRow | null> {
    const { rows } = await q.query<RuleRow>(
      `SELECT p95_above_ms, error_rate_above, min_requests, anomaly, sensitivity FROM service_rules
       WHERE project_id = $1 AND environment_id = $2 AND service = $3`,
      [projectId, environmentId, service],
    );
    return rows[0] ?? null;
  },

  async putRule(
    q: Queryable,
    projectId: string,
    environmentId: string,
    service: string,
    r: RuleRow,
  ): Promise<void> {
    await q.query(
      `INSERT INTO service_rules (project_id, environment_id, service, p95_above_ms, error_rate_above,
         min_requests, anomaly, sensitivity)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       ON CONFLICT (project_id, environment_id, service) DO UPDATE SET p95_above_ms = excluded.p95_above_ms,
         error_rate_above = excluded.error_rate_above, min_requests = excluded.min_requests,
         anomaly = excluded.anomaly, sensitivity = excluded.sensitivity`,
      [
        projectId,
        environmentId,
        service,
        r.p95_above_ms,
        r.error_rate_above,
        r.min_requests,
        r.anomaly,
        r.sensitivity,
      ],
    );
  },
};
