/**
 * A project's health on one page (`peep status`, the dashboard's overview): its targets by status
 * with the ones that are not up named, each service's traffic, error rate and p95 over the last 15
 * minutes (from the minute rollups, as the Runtime tab reads them), and the active incidents. Health
 * of a line: `down` when an incident about it is open, `degraded` for a warning-kind incident,
 * `ok` otherwise, `unknown` when nothing is known yet.
 */
import type { Db } from '@peep/pkg';
import { Sketch } from '@peep/pkg/sketch';

const WINDOW_MS = 15 * 60_000;
/** Incident kinds that mean "broken" (the others mean "worse than usual"). */
const DOWN_KINDS = new Set(['down', 'heartbeat_missed', 'error_rate']);

export type Health = 'ok' | 'degraded' | 'down' | 'unknown';

export interface TargetHealth {
  id: string;
  name: string;
  env: string;
  kind: string;
  status: 'up' | 'down' | 'pending' | 'paused';
  statusSince: string;
  lastDurationMs: number | null;
  lastError: string | null;
  health: Health;
}

export interface ServiceHealth {
  name: string;
  env: string;
  requests: number;
  rps: number;
  errorRate: number | null;
  p95: number | null;
  health: Health;
}

export interface ActiveIncident {
  id: string;
  number: number;
  env: string;
  subjectType: string;
  subjectId: string;
  subjectName: string;
  kind: string;
  status: string;
  title: string;
  openedAt: string;
}

export interface ProjectStatus {
  health: Health;
  targets: {
    counts: { total: number; up: number; down: number; pending: number; paused: number };
    /** Every target that is not up (down first), at most 100. */
    attention: TargetHealth[];
  };
  services: ServiceHealth[];
  incidents: ActiveIncident[];
  window: { from: string; to: string };
}

const worst = (a: Health, b: Health): Health => {
  const order: Health[] = ['unknown', 'ok', 'degraded', 'down'];
  return order.indexOf(a) >= order.indexOf(b) ? a : b;
};

export function createStatusService(deps: { db: Db; now?: () => number }) {
  const { db } = deps;
  const now = deps.now ?? Date.now;

  async function incidents(projectId: string, environmentId?: string): Promise<ActiveIncident[]> {
    const { rows } = await db.query<{
      id: string;
      number: number;
      env: string;
      subject_type: string;
      subject_id: string;
      subject_name: string;
      kind: string;
      status: string;
      title: string;
      opened_at: Date;
    }>(
      `SELECT i.id, i.number, e.slug AS env, i.subject_type, i.subject_id, i.subject_name, i.kind,
              i.status, i.title, i.opened_at
         FROM incidents i JOIN environments e ON e.id = i.environment_id
        WHERE i.project_id = $1 AND i.status <> 'resolved' AND ($2::uuid IS NULL OR i.environment_id = $2)
        ORDER BY i.opened_at DESC LIMIT 200`,
      [projectId, environmentId ?? null],
    );
    return rows.map((r) => ({
      id: r.id,
      number: r.number,
      env: r.env,
      subjectType: r.subject_type,
      subjectId: r.subject_id,
      subjectName: r.subject_name,
      kind: r.kind,
      status: r.status,
      title: r.title,
      openedAt: new Date(r.opened_at).toISOString(),
    }));
  }

  async function targets(projectId: string, environmentId?: string) {
    const envCond = '($2::uuid IS NULL OR t.environment_id = $2)';
    const [counts, attention] = await Promise.all([
      db.query<{ total: number; up: number; down: number; pending: number; paused: number }>(
        `SELECT count(*)::int AS total,
                count(*) FILTER (WHERE enabled AND status = 'up')::int AS up,
                count(*) FILTER (WHERE enabled AND status = 'down')::int AS down,
                count(*) FILTER (WHERE enabled AND status = 'pending')::int AS pending,
                count(*) FILTER (WHERE NOT enabled)::int AS paused
           FROM targets t WHERE t.project_id = $1 AND ${envCond}`,
        [projectId, environmentId ?? null],
      ),
      db.query<{
        id: string;
        name: string;
        env: string;
        kind: string;
        status: 'up' | 'down' | 'pending';
        enabled: boolean;
        status_since: Date;
        last_duration_ms: number | null;
        last_error_class: string | null;
        last_message: string | null;
      }>(
        `SELECT t.id, t.name, e.slug AS env, t.kind, t.status, t.enabled, t.status_since,
                t.last_duration_ms, t.last_error_class, t.last_message
           FROM targets t JOIN environments e ON e.id = t.environment_id
          WHERE t.project_id = $1 AND ${envCond} AND (t.status <> 'up' OR NOT t.enabled)
          ORDER BY (t.enabled AND t.status = 'down') DESC, t.enabled DESC, t.name LIMIT 100`,
        [projectId, environmentId ?? null],
      ),
    ]);
    const c = counts.rows[0] ?? { total: 0, up: 0, down: 0, pending: 0, paused: 0 };
    return {
      counts: c,
      attention: attention.rows.map(
        (r): TargetHealth => ({
          id: r.id,
          name: r.name,
          env: r.env,
          kind: r.kind,
          status: r.enabled ? r.status : 'paused',
          statusSince: new Date(r.status_since).toISOString(),
          lastDurationMs: r.last_duration_ms,
          lastError: r.last_error_class
            ? `${r.last_error_class}${r.last_message ? `: ${r.last_message}` : ''}`
            : null,
          health: !r.enabled ? 'unknown' : r.status === 'down' ? 'down' : 'unknown',
        }),
      ),
    };
  }

  async function services(projectId: string, from: number, to: number, environmentId?: string) {
    const { rows } = await db.query<{
      service: string;
      env: string;
      count: string;
      errors: string;
      sketch: number[];
    }>(
      `SELECT r.service, e.slug AS env, r.count, r.errors, r.sketch
         FROM rollups_1m r JOIN environments e ON e.id = r.environment_id
        WHERE r.project_id = $1 AND r.route = '' AND r.method = '' AND r.status_class = 0
          AND r.bucket >= $2 AND r.bucket < $3 AND ($4::uuid IS NULL OR r.environment_id = $4)`,
      [projectId, new Date(from), new Date(to), environmentId ?? null],
    );
    const by = new Map<
      string,
      { name: string; env: string; count: number; errors: number; sketch: Sketch }
    >();
    for (const r of rows) {
      const k = `${r.service}\u0000${r.env}`;
      let s = by.get(k);
      if (!s) {
        s = { name: r.service, env: r.env, count: 0, errors: 0, sketch: new Sketch() };
        by.set(k, s);
      }
      s.count += Number(r.count);
      s.errors += Number(r.errors);
      s.sketch.mergeArray(r.sketch);
    }
    const secs = (to - from) / 1000;
    return [...by.values()]
      .sort((a, b) => a.name.localeCompare(b.name) || a.env.localeCompare(b.env))
      .map((s) => {
        const p95 = s.sketch.quantile(0.95);
        return {
          name: s.name,
          env: s.env,
          requests: s.count,
          rps: Math.round((s.count / secs) * 1000) / 1000,
          errorRate: s.count ? Math.round((s.errors / s.count) * 10000) / 10000 : null,
          p95: p95 === null ? null : Math.round(p95 * 1000) / 1000,
          health: (s.count ? 'ok' : 'unknown') as Health,
        };
      });
  }

  return {
    async project(projectId: string, environmentId?: string): Promise<ProjectStatus> {
      const to = now();
      const from = to - WINDOW_MS;
      const [t, s, i] = await Promise.all([
        targets(projectId, environmentId),
        services(projectId, from, to, environmentId),
        incidents(projectId, environmentId),
      ]);
      // An active incident decides the health of its subject.
      const byTarget = new Map<string, Health>();
      const byService = new Map<string, Health>();
      for (const inc of i) {
        const h: Health = DOWN_KINDS.has(inc.kind) ? 'down' : 'degraded';
        const m = inc.subjectType === 'target' ? byTarget : byService;
        const k = inc.subjectType === 'target' ? inc.subjectId : `${inc.subjectName}\u0000${inc.env}`;
        m.set(k, worst(m.get(k) ?? 'unknown', h));
      }
      for (const x of t.attention) x.health = worst(x.health, byTarget.get(x.id) ?? 'unknown');
      for (const x of s) x.health = worst(x.health, byService.get(`${x.name}\u0000${x.env}`) ?? 'unknown');
      let health: Health = t.counts.up > 0 || s.length > 0 ? 'ok' : 'unknown';
      if (t.counts.down > 0) health = 'down';
      for (const inc of i) health = worst(health, DOWN_KINDS.has(inc.kind) ? 'down' : 'degraded');
      return {
        health,
        targets: t,
        services: s,
        incidents: i,
        window: { from: new Date(from).toISOString(), to: new Date(to).toISOString() },
      };
    },
  };
}
export type StatusService = ReturnType<typeof createStatusService>;
