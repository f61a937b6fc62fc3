import {
  CreateEnvironmentRequest,
  CreateProjectRequest,
  CreateServiceRequest,
  Environment,
  EnvironmentList,
  EnvironmentParams,
  ProjectDetail,
  ProjectList,
  ProjectParams,
  Service,
  ServiceList,
  ServiceParams,
  type Static,
  UpdateEnvironmentRequest,
  UpdateProjectRequest,
} from '@peep/pkg/schemas';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { currentAuth } from '../core/auth.js';
import { errorResponses } from '../core/http.js';
import type { ProjectService } from './service.js';

const P = '/api/v1/projects';
const tags = ['projects'];
const noContent = { 204: { type: 'null' }, ...errorResponses };

export function registerProjectRoutes(app: FastifyInstance, deps: { projects: ProjectService }) {
  const { projects } = deps;
  const access = (
    req: { auth: unknown; params: { projectId: string } } & Parameters<typeof currentAuth>[0],
    min: Parameters<ProjectService['access']>[2],
  ) => projects.access(currentAuth(req).user.id, req.params.projectId, min);

  app.get(
    P,
    { config: { auth: 'user' }, schema: { tags, response: { 200: ProjectList, ...errorResponses } } },
    async (req) => ({
      projects: await projects.list(currentAuth(req).user.id),
    }),
  );

  app.post<{ Body: Static<typeof CreateProjectRequest> }>(
    P,
    {
      config: { auth: 'user', audit: 'project.create' },
      schema: { tags, body: CreateProjectRequest, response: { 201: ProjectDetail, ...errorResponses } },
    },
    async (req, reply) => {
      const out = await projects.create(currentAuth(req).user.id, req.body);
      req.audit = { targetType: 'project', targetId: out.project.id, projectId: out.project.id };
      return reply.code(201).send(out);
    },
  );

  app.get<{ Params: Static<typeof ProjectParams> }>(
    `${P}/:projectId`,
    {
      config: { auth: 'user' },
      schema: { tags, params: ProjectParams, response: { 200: ProjectDetail, ...errorResponses } },
    },
    async (req) => projects.get(currentAuth(req).user.id, req.params.projectId),
  );

  app.patch<{ Params: Static<typeof ProjectParams>; Body: Static<typeof UpdateProjectRequest> }>(
    `${P}/:projectId`,
    {
      config: { auth: 'user', audit: 'project.update' },
      schema: {
        tags,
        params: ProjectParams,
        body: UpdateProjectRequest,
        response: { 200: ProjectDetail, ...errorResponses },
      },
    },
    async (req) => projects.rename(await access(req, 'admin'), req.body.name),
  );

  app.delete<{ Params: Static<typeof ProjectParams> }>(
    `${P}/:projectId`,
    {
      config: { auth: 'user', audit: 'project.delete' },
      schema: { tags, params: ProjectParams, response: noContent },
    },
    async (req, reply) => {
      await projects.remove(await access(req, 'owner'));
      return reply.code(204).send();
    },
  );

  // ---- environments
  app.get<{ Params: Static<typeof ProjectParams> }>(
    `${P}/:projectId/environments`,
    {
      config: { auth: 'user' },
      schema: { tags, params: ProjectParams, response: { 200: EnvironmentList, ...errorResponses } },
    },
    async (req) => ({ environments: await projects.environments.list(await access(req, 'viewer')) }),
  );
  app.post<{ Params: Static<typeof ProjectParams>; Body: Static<typeof CreateEnvironmentRequest> }>(
    `${P}/:projectId/environments`,
    {
      config: { auth: 'user', audit: 'environment.create' },
      schema: {
        tags,
        params: ProjectParams,
        body: CreateEnvironmentRequest,
        response: { 201: Type.Object({ environment: Environment }), ...errorResponses },
      },
    },
    async (req, reply) => {
      const environment = await projects.environments.create(await access(req, 'admin'), req.body);
      req.audit = { targetType: 'environment', targetId: environment.id, environmentId: environment.id };
      return reply.code(201).send({ environment });
    },
  );
  app.patch<{ Params: Static<typeof EnvironmentParams>; Body: Static<typeof UpdateEnvironmentRequest> }>(
    `${P}/:projectId/environments/:environmentId`,
    {
      config: { auth: 'user', audit: 'environment.update' },
      schema: {
        tags,
        params: EnvironmentParams,
        body: UpdateEnvironmentRequest,
        response: { 200: Type.Object({ environment: Environment }), ...errorResponses },
      },
    },
    async (req) => ({
      environment: await projects.environments.update(
        await access(req, 'admin'),
        req.params.environmentId,
        req.body,
      ),
    }),
  );
  app.delete<{ Params: Static<typeof EnvironmentParams> }>(
    `${P}/:projectId/environments/:environmentId`,
    {
      config: { auth: 'user', audit: 'environment.delete' },
      schema: { tags, params: EnvironmentParams, response: noContent },
    },
    async (req, reply) => {
      await projects.environments.remove(await access(req, 'admin'), req.params.environmentId);
      return reply.code(204).send();
    },
  );

  // ---- services
  app.get<{ Params: Static<typeof ProjectParams> }>(
    `${P}/:projectId/services`,
    {
      config: { auth: 'user' },
      schema: { tags, params: ProjectParams, response: { 200: ServiceList, ...errorResponses } },
    },
    async (req) => ({ services: await projects.services.list(await access(req, 'viewer')) }),
  );
  app.post<{ Params: Static<typeof ProjectParams>; Body: Static<typeof CreateServiceRequest> }>(
    `${P}/:projectId/services`,
    {
      config: { auth: 'user', audit: 'service.create' },
      schema: {
        tags,
        params: ProjectParams,
        body: CreateServiceRequest,
        response: { 201: Type.Object({ service: Service }), ...errorResponses },
      },
    },
    async (req, reply) => {
      const service = await projects.services.create(await access(req, 'developer'), req.body);
      req.audit = { targetType: 'service', targetId: service.id };
      return reply.code(201).send({ service });
    },
  );
  app.delete<{ Params: Static<typeof ServiceParams> }>(
    `${P}/:projectId/services/:serviceId`,
    {
      config: { auth: 'user', audit: 'service.delete' },
      schema: { tags, params: ServiceParams, response: noContent },
    },
    async (req, reply) => {
      await projects.services.remove(await access(req, 'admin'), req.params.serviceId);
      return reply.code(204).send();
    },
  );
}
