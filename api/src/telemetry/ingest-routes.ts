/**
 * Native ingest: `POST /api/v1/ingest/events`, `/logs` and `/aggregates` (docs/telemetry.md). Items
 * are checked one by one; the accepted ones are committed through the pipeline before the answer.
 */
import { AppError, type Clock } from '@peep/pkg';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { decodedBody, mediaType, parseItems } from './body.js';
import { type IngestAuth, ingestContext, registerIngestScope } from './ingest-auth.js';
import type { IngestPipeline } from './pipeline.js';
import { type CheckContext, type Checked, checkAggregate, checkEvent, checkLog } from './types.js';

export const MAX_ITEMS = 50_000;
const MAX_LISTED = 100;
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,200}$/;

export interface IngestAnswer {
  accepted: number;
  rejected: { index: number; code: string; message: string }[];
  rejectedCount: number;
  duplicate?: boolean;
}

export function idempotencyKey(req: FastifyRequest): string | undefined {
  const h = req.headers['idempotency-key'];
  if (h === undefined) return undefined;
  const v = Array.isArray(h) ? h[0] : h;
  if (!v || !IDEMPOTENCY_KEY.test(v))
    throw new AppError('validation_failed', 'Idempotency-Key must be 1-200 printable ASCII characters.');
  return v;
}

export function checkContext(clock: Clock, retentionDays: number): CheckContext {
  const now = clock.now().getTime();
  return { now, oldest: now - retentionDays * 86_400_000 };
}

export function registerIngestRoutes(
  app: FastifyInstance,
  deps: { auth: IngestAuth; pipeline: IngestPipeline; clock: Clock; bodyLimit: number },
) {
  const handle =
    <T>(kind: 'events' | 'logs' | 'aggregates', check: (raw: unknown, ctx: CheckContext) => Checked<T>) =>
    async (req: FastifyRequest, reply: FastifyReply) => {
      const key = ingestContext(req);
      const idem = idempotencyKey(req);
      const items = parseItems(await decodedBody(req, deps.bodyLimit), mediaType(req));
      if (items.length > MAX_ITEMS)
        throw new AppError(
          'payload_too_large',
          `At most ${MAX_ITEMS} items per request; send several batches.`,
        );
      const ctx = checkContext(deps.clock, key.retentionDays);
      const rows: T[] = [];
      const answer: IngestAnswer = { accepted: 0, rejected: [], rejectedCount: 0 };
      items.forEach((raw, index) => {
        const c = check(raw, ctx);
        if (c.ok) rows.push(c.row);
        else {
          answer.rejectedCount++;
          if (answer.rejected.length < MAX_LISTED)
            answer.rejected.push({ index, code: c.code, message: c.message });
        }
      });
      answer.accepted = rows.length;
      if (rows.length === 0 && answer.rejectedCount > 0) {
        throw new AppError(
          'validation_failed',
          `All ${answer.rejectedCount} items were rejected; the first: item ${answer.rejected[0]?.index}: ${answer.rejected[0]?.message}`,
          answer,
        );
      }
      const r = await deps.pipeline.submit({
        projectId: key.projectId,
        environmentId: key.environmentId,
        [kind]: rows,
        idempotencyKey: idem,
        result: answer,
      });
      if (r.duplicate) return reply.send({ ...(r.result as IngestAnswer), duplicate: true });
      return reply.send(answer);
    };

  return registerIngestScope(app, { auth: deps.auth, bodyLimit: deps.bodyLimit }, (scope) => {
    const schema = { tags: ['ingest'], security: [{ ingestKey: [] }] };
    scope.post(
      '/api/v1/ingest/events',
      {
        config: { auth: 'ingest' },
        schema: { ...schema, summary: 'Ingest request events (docs/telemetry.md)' },
      },
      handle('events', checkEvent),
    );
    scope.post(
      '/api/v1/ingest/logs',
      {
        config: { auth: 'ingest' },
        schema: { ...schema, summary: 'Ingest runtime logs (docs/telemetry.md)' },
      },
      handle('logs', checkLog),
    );
    scope.post(
      '/api/v1/ingest/aggregates',
      {
        config: { auth: 'ingest' },
        schema: { ...schema, summary: 'Ingest client-side request aggregates (docs/telemetry.md)' },
      },
      handle('aggregates', checkAggregate),
    );
  });
}
