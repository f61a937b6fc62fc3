import { AppError, type Db, isMigrated, latestVersion } from '@peep/pkg';
import type { FastifyInstance } from 'fastify';
import { renderError } from './errors.js';

export function registerHealth(app: FastifyInstance, deps: { db: Db }) {
  // Read from disk once: /ready is probed every few seconds.
  const expected = latestVersion();
  app.get('/health', { schema: { hide: true } }, async () => ({ status: 'ok' }));
  app.get('/ready', { schema: { hide: true } }, async (req, reply) => {
    const ok = await isMigrated(deps.db, expected);
    if (!ok)
      return renderError(
        req,
        reply,
        new AppError('service_unavailable', 'The database is unreachable or not migrated.'),
      );
    return { status: 'ready', database: deps.db.engine };
  });
}
