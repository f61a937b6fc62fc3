/** Recording and reading the audit trail. Never receives request bodies, so it cannot store secrets. */
import { AppError, type Db, type Logger } from '@peep/pkg';
import type { AuditRecord } from './repo.js';
import { auditRepo } from './repo.js';

export interface AuditQueryInput {
  projectId?: string;
  actor?: string;
  action?: string;
  outcome?: 'success' | 'failure';
  since?: string;
  until?: string;
  limit?: number;
  cursor?: string;
}

export function createAuditService(deps: { db: Db; log: Logger }) {
  return {
    async record(r: AuditRecord): Promise<void> {
      try {
        await auditRepo.insert(deps.db, r);
      } catch (err) {
        deps.log.error({ err, action: r.action }, 'audit record failed');
      }
    },
    async list(input: AuditQueryInput) {
      let beforeId: number | undefined;
      if (input.cursor) {
        const decoded = Buffer.from(input.cursor, 'base64url').toString('utf8');
        if (!/^\d{1,18}$/.test(decoded)) throw new AppError('invalid_cursor');
        beforeId = Number(decoded);
      }
      if (input.since && input.until && input.since >= input.until) {
        throw new AppError('validation_failed', '`since` must be before `until`.');
      }
      const limit = input.limit ?? 50;
      const page = await auditRepo.list(deps.db, { ...input, beforeId, limit });
      return {
        entries: page.entries,
        nextCursor:
          page.more && page.lastId !== null ? Buffer.from(String(page.lastId)).toString('base64url') : null,
      };
    },
  };
}
export type AuditService = ReturnType<typeof createAuditService>;
