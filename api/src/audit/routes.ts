import { AuditPage, AuditQuery, ProjectParams, type Static } from '@peep/pkg/schemas';
import type { FastifyInstance } from 'fastify';
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
    async (req) => {
      const p = await projects.access(currentAuth(req).user.id, req.params.projectId, 'admin');
      return audit.list({ ...req.query, projectId: p.id });
    },
  );

  app.get<{ Querystring: Static<typeof AuditQuery> }>(
    '/api/v1/audit',
    {
      config: { auth: 'user', scope: 'admin' },
      schema: { tags, querystring: AuditQuery, response: { 200: AuditPage, ...errorResponses } },
    },
    async (req) => {
      requireInstanceAdmin(req);
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
      ...clientMeta(req),
    });
    return payload;
  });
}

const isUuid = (v: string | undefined): v is string => !!v && UUID_RE.test(v);
