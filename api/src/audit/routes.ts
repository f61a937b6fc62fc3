import { Readable } from 'node:stream';
import { AuditPage, AuditQuery, ProjectParams, type Static } from '@peep/pkg/schemas';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { currentAuth, requireInstanceAdmin } from '../core/auth.js';
import { clientMeta, errorResponses } from '../core/http.js';
import type { ProjectService } from '../projects/service.js';
import { UUID_RE } from './repo.js';
import type { AuditService } from './service.js';

const tags = ['audit'];

export function registerAuditRoutes(
  app: FastifyInstance,
  deps: { projects: ProjectService; audit: AuditService },
) {
  const { projects, audit } = deps;

  app.get<{ Params: Static<typeof ProjectParams>; Querystring: Static<typeof AuditQuery> }>(
    '/api/v1/projects/:projectId/audit',
    {
      config: { auth: 'user' },
      schema: {
        tags,
        params: ProjectParams,
        querystring: AuditQuery,
        response: { 200: AuditPage, ...errorResponses },
      },
    },
    async (req, reply) => {
      const p = await projects.access(currentAuth(req).user.id, req.params.projectId, 'admin');
      const input = { ...req.query, projectId: p.id };
      if (req.query.format === 'ndjson') return ndjson(reply, audit.all(input));
      return audit.list(input);
    },
  );

  app.get<{ Querystring: Static<typeof AuditQuery> }>(
    '/api/v1/audit',
    {
      config: { auth: 'user', scope: 'admin' },
      schema: { tags, querystring: AuditQuery, response: { 200: AuditPage, ...errorResponses } },
    },
    async (req, reply) => {
      requireInstanceAdmin(req);
      if (req.query.format === 'ndjson') return ndjson(reply, audit.all(req.query));
      return audit.list(req.query);
    },
  );

  // Every route that declares an audit action is recorded when it answers, success or failure.
  // onSend, not onResponse: the entry is written before the caller sees the answer.
  app.addHook('onSend', async (req, reply, payload) => {
    const action = req.routeOptions.config?.audit;
    if (!action) return payload;
    const a = req.audit ?? {};
    const params = (req.params ?? {}) as Record<string, string | undefined>;
    await audit.record({
      actorId: req.auth?.user.id ?? null,
      actorEmail: req.auth?.user.email ?? a.actorEmail ?? null,
      action,
      targetType: a.targetType ?? null,
      targetId: a.targetId ?? null,
      projectId: a.projectId ?? (isUuid(params.projectId) ? params.projectId : null),
      environmentId: a.environmentId ?? (isUuid(params.environmentId) ? params.environmentId : null),
      requestId: String(req.id),
      outcome: reply.statusCode < 400 ? 'success' : 'failure',
      status: reply.statusCode,
      details: a.details ?? null,
      ...clientMeta(req),
    });
    return payload;
  });
}

/**
 * Streams entries as NDJSON (one JSON object per line). The first page is read before answering, so
 * a bad filter is still a JSON error.
 */
async function ndjson(reply: FastifyReply, entries: AsyncGenerator<unknown>) {
  const first = await entries.next();
  async function* lines() {
    if (first.done) return;
    yield `${JSON.stringify(first.value)}\n`;
    for await (const e of entries) yield `${JSON.stringify(e)}\n`;
  }
  reply.type('application/x-ndjson; charset=utf-8').header('cache-control', 'no-store');
  return reply.send(Readable.from(lines()));
}

const isUuid = (v: string | undefined): v is string => !!v && UUID_RE.test(v);
