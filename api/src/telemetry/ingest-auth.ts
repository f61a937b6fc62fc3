/**
 * Ingest-key authentication for every ingest route (native, OTLP): `Authorization: Bearer peep_ik_…`
 * decides the project and environment of the batch. Resolved keys are cached for a few seconds (the
 * API's revocable cache) so a busy SDK does not cost a lookup per batch; revoking a key publishes
 * `auth.revoked` and every replica listening on the bus drops it before its next batch.
 */
import { AppError, type Bus, type Clock, type Db, sha256 } from '@peep/pkg';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { createRevocableCache } from '../core/auth-cache.js';

export interface IngestKeyContext {
  keyId: string;
  projectId: string;
  environmentId: string;
  /** The project's raw retention: older items are rejected. */
  retentionDays: number;
}

declare module 'fastify' {
  interface FastifyRequest {
    ingest: IngestKeyContext | null;
  }
}

const TTL_MS = 10_000;
const TOUCH_EVERY_MS = 60_000;
const MAX_ENTRIES = 10_000;

/**
 * `cache` is on where every revocation is seen, like the API's credential cache (app.ts): one
 * process, or replicas sharing a NATS bus.
 */
export function createIngestAuth(deps: { db: Db; bus: Bus; clock: Clock; cache: boolean }) {
  const cache = createRevocableCache<{ ctx: IngestKeyContext; cachedAt: number }>({
    enabled: deps.cache,
    ttlMs: TTL_MS,
    max: MAX_ENTRIES,
    bus: deps.bus,
    revokes: (d, v) => d.ingestKeyId === v.ctx.keyId,
  });
  const touched = new Map<string, number>();

  /** The key's row; a database that does not answer is 503, never 500. */
  async function lookup(hash: string) {
    try {
      return await deps.db.query<{
        id: string;
        project_id: string;
        environment_id: string;
        revoked_at: Date | null;
        raw_retention_days: number;
      }>(
        `SELECT k.id, k.project_id, k.environment_id, k.revoked_at, p.raw_retention_days
         FROM ingest_keys k JOIN projects p ON p.id = k.project_id WHERE k.key_hash = $1`,
        [hash],
      );
    } catch {
      throw new AppError('service_unavailable', 'The database is not answering; retry shortly.');
    }
  }

  async function resolve(header: string | undefined): Promise<IngestKeyContext> {
    const m = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    const secret = m?.[1];
    if (!secret?.startsWith('peep_ik_')) throw new AppError('ingest_key_invalid');
    const hash = sha256(secret);
    const now = deps.clock.now().getTime();
    const hit = cache.get(hash, now);
    if (hit) return hit.ctx;
    const { rows } = await lookup(hash);
    const r = rows[0];
    if (!r) throw new AppError('ingest_key_invalid', 'Unknown ingest key.');
    if (r.revoked_at) throw new AppError('ingest_key_revoked');
    const ctx: IngestKeyContext = {
      keyId: r.id,
      projectId: r.project_id,
      environmentId: r.environment_id,
      retentionDays: r.raw_retention_days,
    };
    cache.set(hash, { ctx, cachedAt: now });
    if (now - (touched.get(r.id) ?? 0) > TOUCH_EVERY_MS) {
      touched.set(r.id, now);
      await deps.db
        .query('UPDATE ingest_keys SET last_used_at = $2 WHERE id = $1', [r.id, new Date(now)])
        .catch(() => {}); // best effort: a missed "last used" must not refuse the batch
    }
    return ctx;
  }

  return { resolve };
}
export type IngestAuth = ReturnType<typeof createIngestAuth>;

/**
 * An encapsulated scope for ingest routes: bodies arrive as raw buffers (routes decode JSON, NDJSON,
 * protobuf, gzip themselves) up to `bodyLimit`, and the ingest key is checked before the body is read.
 */
export async function registerIngestScope(
  app: FastifyInstance,
  deps: { auth: IngestAuth; bodyLimit: number },
  routes: (scope: FastifyInstance) => void,
) {
  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: deps.bodyLimit }, (_req, body, done) =>
      done(null, body),
    );
    scope.addHook('onRequest', async (req: FastifyRequest) => {
      req.ingest = await deps.auth.resolve(req.headers.authorization);
    });
    routes(scope);
  });
}

export function ingestContext(req: FastifyRequest): IngestKeyContext {
  if (!req.ingest) throw new AppError('ingest_key_invalid');
  return req.ingest;
}
