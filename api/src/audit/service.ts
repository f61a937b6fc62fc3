/**
 * Recording and reading the audit trail. Never receives request bodies, so it cannot store secrets:
 * `details` is what a route chose to record (variable keys, services, versions), never values.
 */
import { AppError, type Db, type Logger } from '@peep/pkg';
import type { AuditEntry } from '@peep/pkg/schemas';
import type { AuditFilter, AuditRecord } from './repo.js';
import { auditRepo, UUID_RE } from './repo.js';

export interface AuditQueryInput {
  projectId?: string;
  actor?: string;
  action?: string;
  /** Environment slug (with projectId) or id. */
  environment?: string;
  key?: string;
  outcome?: 'success' | 'failure';
  since?: string;
  until?: string;
  limit?: number;
  cursor?: string;
}

/** Rows read per query while exporting. */
const EXPORT_PAGE = 1000;

export function createAuditService(deps: { db: Db; log: Logger }) {
  const { db } = deps;

  async function filter(input: AuditQueryInput): Promise<Omit<AuditFilter, 'limit'>> {
    let beforeId: number | undefined;
    if (input.cursor) {
      const decoded = Buffer.from(input.cursor, 'base64url').toString('utf8');
      if (!/^\d{1,18}$/.test(decoded)) throw new AppError('invalid_cursor');
      beforeId = Number(decoded);
    }
    if (input.since && input.until && input.since >= input.until) {
      throw new AppError('validation_failed', '`since` must be before `until`.');
    }
    let environmentId: string | undefined;
    if (input.environment) {
      if (UUID_RE.test(input.environment)) environmentId = input.environment.toLowerCase();
      else if (input.projectId) {
        const { rows } = await db.query<{ id: string }>(
          'SELECT id FROM environments WHERE project_id = $1 AND slug = $2',
          [input.projectId, input.environment],
        );
        if (!rows[0])
          throw new AppError(
            'environment_not_found',
            `The project has no environment "${input.environment}".`,
          );
        environmentId = rows[0].id;
      } else throw new AppError('validation_failed', '`environment` must be an environment id here.');
    }
    const { cursor: _c, environment: _e, limit: _l, ...rest } = input;
    return { ...rest, environmentId, beforeId };
  }

  return {
    async record(r: AuditRecord): Promise<void> {
      try {
        await auditRepo.insert(db, r);
      } catch (err) {
        deps.log.error({ err, action: r.action }, 'audit record failed');
      }
    },
    async list(input: AuditQueryInput) {
      const limit = input.limit ?? 50;
      const page = await auditRepo.list(db, { ...(await filter(input)), limit });
      return {
        entries: page.entries,
        nextCursor:
          page.more && page.lastId !== null ? Buffer.from(String(page.lastId)).toString('base64url') : null,
      };
    },
    /** Every matching entry, newest first, read a page at a time (NDJSON export). */
    async *all(input: AuditQueryInput): AsyncGenerator<AuditEntry> {
      const f = await filter(input);
      for (;;) {
        const page = await auditRepo.list(db, { ...f, limit: EXPORT_PAGE });
        yield* page.entries;
        if (!page.more || page.lastId === null) return;
        f.beforeId = page.lastId;
      }
    },
  };
}
export type AuditService = ReturnType<typeof createAuditService>;
