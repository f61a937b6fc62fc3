import { AppError, type Db, isMigrated } from '@peep/pkg';
import type { FastifyInstance } from 'fastify';
import { renderError } from './errors.js';

export function registerHealth(app: FastifyInstance, deps: { db: Db }) {
  app.get('/health', { schema: { hide: true } }, async () => ({ status: 'ok' }));
  app.get('/ready', { schema: { hide: true } }, async (req, reply) => {
    const ok = await deps.db
      .query('SELECT 1')
      .then(() => isMigrated(deps.db))
      .catch(() => false);
    if (!ok)
      return renderError(
        req,
        reply,
        new AppError('service_unavailable', 'The database is unreachable or not migrated.'),
      );
    return { status: 'ready', database: deps.db.engine };
  });
}
