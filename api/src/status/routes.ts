/** `GET /api/v1/projects/:projectId/status`: the project's health in one answer (docs/uptime.md "Status"). */
import { ProjectParams, type Static } from '@peep/pkg/schemas';
import type { FastifyInstance } from 'fastify';
import { currentAuth } from '../core/auth.js';
import { errorResponses } from '../core/http.js';
import type { ProjectService } from '../projects/service.js';
import { readQuery } from '../telemetry/routes.js';
import type { TelemetryService } from '../telemetry/service.js';
import type { StatusService } from './service.js';

export function registerStatusRoutes(
  app: FastifyInstance,
  deps: { projects: ProjectService; telemetry: TelemetryService; status: StatusService },
) {
  app.get<{ Params: Static<typeof ProjectParams> }>(
    '/api/v1/projects/:projectId/status',
    {
      config: { auth: 'user' },
      schema: {
        tags: ['uptime'],
        summary: "Health of the project's targets, services and incidents",
        params: ProjectParams,
        response: { ...errorResponses },
      },
    },
    async (req) => {
      const p = await deps.projects.access(currentAuth(req).user.id, req.params.projectId, 'viewer');
      const { values } = readQuery(req.query, ['env']);
      const environmentId = await deps.telemetry.environmentId(p.id, values.env || undefined);
      return deps.status.project(p.id, environmentId);
    },
  );
}
