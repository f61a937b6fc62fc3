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
}

export interface AuditFilter {
  projectId?: string;
  actor?: string;
  action?: string;
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
}

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const auditRepo = {
  async insert(q: Queryable, r: AuditRecord): Promise<void> {
    await q.query(
      `INSERT INTO audit_log (actor_id, actor_email, action, target_type, target_id, project_id, environment_id,
                              ip, user_agent, request_id, outcome, status)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
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
    if (f.projectId) add('project_id = ?', f.projectId);
    if (f.actor) {
      if (UUID_RE.test(f.actor)) add('actor_id = ?', f.actor);
      else add('lower(actor_email) = lower(?)', f.actor);
    }
    if (f.action) {
      if (f.action.endsWith('*'))
        add('action LIKE ?', `${f.action.slice(0, -1).replace(/[%_\\]/g, '\\$&')}%`);
      else add('action = ?', f.action);
    }
    if (f.outcome) add('outcome = ?', f.outcome);
    if (f.since) add('at >= ?', f.since);
    if (f.until) add('at < ?', f.until);
    if (f.beforeId !== undefined) add('id < ?', f.beforeId);
    params.push(f.limit + 1);
    const { rows } = await q.query<Row>(
      `SELECT id, at, actor_id, actor_email, action, target_type, target_id, project_id, environment_id, ip, user_agent,
              request_id, outcome, status
         FROM audit_log ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
        ORDER BY id DESC LIMIT $${params.length}`,
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
      })),
    };
  },
};
