import {
  CreateIngestKeyRequest,
  CreateIngestKeyResponse,
  IngestKeyList,
  IngestKeyParams,
  ProjectParams,
  type Static,
} from '@peep/pkg/schemas';
import type { FastifyInstance } from 'fastify';
import { currentAuth } from '../core/auth.js';
import { errorResponses, noStore } from '../core/http.js';
import type { ProjectService } from '../projects/service.js';
import type { createIngestKeyService } from './service.js';

const P = '/api/v1/projects/:projectId/ingest-keys';
const tags = ['ingest-keys'];

export function registerIngestKeyRoutes(
  app: FastifyInstance,
  deps: { projects: ProjectService; ingestKeys: ReturnType<typeof createIngestKeyService> },
) {
  const { projects, ingestKeys } = deps;
  app.get<{ Params: Static<typeof ProjectParams> }>(
    P,
    {
      config: { auth: 'user' },
      schema: { tags, params: ProjectParams, response: { 200: IngestKeyList, ...errorResponses } },
    },
    async (req) => ({
      ingestKeys: await ingestKeys.list(
        await projects.access(currentAuth(req).user.id, req.params.projectId, 'admin'),
      ),
    }),
  );
  app.post<{ Params: Static<typeof ProjectParams>; Body: Static<typeof CreateIngestKeyRequest> }>(
    P,
    {
      config: { auth: 'user', audit: 'ingest_key.create' },
      schema: {
        tags,
        params: ProjectParams,
        body: CreateIngestKeyRequest,
        response: { 201: CreateIngestKeyResponse, ...errorResponses },
      },
    },
    async (req, reply) => {
      const me = currentAuth(req).user.id;
      const out = await ingestKeys.create(
        await projects.access(me, req.params.projectId, 'admin'),
        me,
        req.body,
      );
      req.audit = {
        targetType: 'ingest_key',
        targetId: out.ingestKey.id,
        environmentId: out.ingestKey.environmentId,
      };
      noStore(reply);
      return reply.code(201).send(out);
    },
  );
  app.delete<{ Params: Static<typeof IngestKeyParams> }>(
    `${P}/:keyId`,
    {
      config: { auth: 'user', audit: 'ingest_key.revoke' },
      schema: { tags, params: IngestKeyParams, response: { 204: { type: 'null' }, ...errorResponses } },
    },
    async (req, reply) => {
      req.audit = { targetType: 'ingest_key', targetId: req.params.keyId };
      const k = await ingestKeys.revoke(
        await projects.access(currentAuth(req).user.id, req.params.projectId, 'admin'),
        req.params.keyId,
      );
      req.audit.environmentId = k.environmentId;
      return reply.code(204).send();
    },
  );
}
