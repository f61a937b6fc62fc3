/** All SQL for the append-only audit log. */
import type { Queryable } from '@peep/pkg';
import type { AuditEntry } from '@peep/pkg/schemas';
import { isoRequired } from '../core/types.js';

export interface AuditRecord {
  actorId: string | null;
  actorEmail: string | null;
  action: string;
  targetType?: string | null;
  targetId?: string | null;
  projectId?: string | null;
  environmentId?: string | null;
  ip: string | null;
  userAgent: string | null;
  requestId: string | null;
  outcome: 'success' | 'failure';
  status: number | null;
  /** What the action touched (keys, versions, settings); never secret values. */
  details?: Record<string, unknown> | null;
}

export interface AuditFilter {
  projectId?: string;
  actor?: string;
  /** Exact, or a prefix when it ends with `*` or `.`. */
  action?: string;
  environmentId?: string;
  /** Entries whose details.keys holds this key. */
  key?: string;
  outcome?: 'success' | 'failure';
  since?: string;
  until?: string;
  beforeId?: number;
  limit: number;
}

interface Row {
  id: number | string;
  at: Date;
  actor_id: string | null;
  actor_email: string | null;
  action: string;
  target_type: string | null;
  target_id: string | null;
  project_id: string | null;
  environment_id: string | null;
  ip: string | null;
  user_agent: string | null;
  request_id: string | null;
  outcome: 'success' | 'failure';
  status: number | null;
  details: Record<string, unknown> | null;
  environment: string | null;
}

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const auditRepo = {
  async insert(q: Queryable, r: AuditRecord): Promise<void> {
    await q.query(
      `INSERT INTO audit_log (actor_id, actor_email, action, target_type, target_id, project_id, environment_id,
                              ip, user_agent, request_id, outcome, status, details)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13::jsonb)`,
      [
        r.actorId,
        r.actorEmail,
        r.action,
        r.targetType ?? null,
        r.targetId ?? null,
        r.projectId ?? null,
        r.environmentId ?? null,
        r.ip,
        r.userAgent?.slice(0, 512) ?? null,
        r.requestId,
        r.outcome,
        r.status,
        r.details ? JSON.stringify(r.details) : null,
      ],
    );
  },
  async list(
    q: Queryable,
    f: AuditFilter,
  ): Promise<{ entries: AuditEntry[]; lastId: number | null; more: boolean }> {
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (sql: string, v: unknown) => {
      params.push(v);
      where.push(sql.replace('?', `$${params.length}`));
    };
    if (f.projectId) add('a.project_id = ?', f.projectId);
    if (f.actor) {
      if (UUID_RE.test(f.actor)) add('a.actor_id = ?', f.actor);
      else add('lower(a.actor_email) = lower(?)', f.actor);
    }
    if (f.action) {
      if (f.action.endsWith('*'))
        add('a.action LIKE ?', `${f.action.slice(0, -1).replace(/[%_\\]/g, '\\$&')}%`);
      else if (f.action.endsWith('.')) add('a.action LIKE ?', `${f.action.replace(/[%_\\]/g, '\\$&')}%`);
      else add('a.action = ?', f.action);
    }
    if (f.environmentId) add('a.environment_id = ?', f.environmentId);
    if (f.key) add("a.details -> 'keys' @> jsonb_build_array(?::text)", f.key);
    if (f.outcome) add('a.outcome = ?', f.outcome);
    if (f.since) add('a.at >= ?', f.since);
    if (f.until) add('a.at < ?', f.until);
    if (f.beforeId !== undefined) add('a.id < ?', f.beforeId);
    params.push(f.limit + 1);
    const { rows } = await q.query<Row>(
      `SELECT a.id, a.at, a.actor_id, a.actor_email, a.action, a.target_type, a.target_id, a.project_id,
              a.environment_id, a.ip, a.user_agent, a.request_id, a.outcome, a.status, a.details,
              e.slug AS environment
         FROM audit_log a LEFT JOIN environments e ON e.id = a.environment_id
         ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
        ORDER BY a.id DESC LIMIT $${params.length}`,
      params,
    );
    const more = rows.length > f.limit;
    const page = rows.slice(0, f.limit);
    return {
      more,
      lastId: page.length ? Number(page[page.length - 1]?.id) : null,
      entries: page.map((r) => ({
        id: String(r.id),
        at: isoRequired(r.at),
        actorId: r.actor_id,
        actorEmail: r.actor_email,
        action: r.action,
        targetType: r.target_type,
        targetId: r.target_id,
        projectId: r.project_id,
        environmentId: r.environment_id,
        ip: r.ip,
        userAgent: r.user_agent,
        requestId: r.request_id,
        outcome: r.outcome,
        status: r.status,
        environment: r.environment,
        details: r.details,
      })),
    };
  },
};
