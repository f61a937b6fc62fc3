/**
 * Incident, maintenance window and service rule routes (docs/incidents.md, docs/api.md). Viewers
 * read; developers and up acknowledge, comment, resolve, plan maintenance and change service rules.
 */
import type { Config } from '@peep/pkg';
import { ProjectParams, type Static } from '@peep/pkg/schemas';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { currentAuth } from '../core/auth.js';
import { baseUrl, errorResponses } from '../core/http.js';
import type { Deps } from '../core/types.js';
import type { ProjectService } from '../projects/service.js';
import {
  AckRequest,
  CommentRequest,
  CreateMaintenanceRequest,
  IncidentDetail,
  IncidentList,
  IncidentParams,
  IncidentResponse,
  ListIncidentsQuery,
  MaintenanceList,
  MaintenanceParams,
  MaintenanceQuery,
  MaintenanceResponse,
  PutServiceRuleRequest,
  ResolveRequest,
  ServiceRuleParams,
  ServiceRuleQuery,
  ServiceRuleResponse,
} from './schemas.js';
import { createIncidentService, type IncidentService } from './service.js';

const P = '/api/v1/projects/:projectId';
const I = `${P}/incidents/:ref`;
const tags = ['incidents'];

/** The incidents domain, wired from the app's dependencies. */
export function registerIncidents(
  app: FastifyInstance,
  deps: Deps & { projects: ProjectService },
): IncidentService {
  const incidents = createIncidentService(deps);
  registerIncidentRoutes(app, { config: deps.config, projects: deps.projects, incidents });
  return incidents;
}

type ProjectReq = FastifyRequest<{ Params: { projectId: string } }>;
type IncidentReq = FastifyRequest<{ Params: Static<typeof IncidentParams> }>;

export function registerIncidentRoutes(
  app: FastifyInstance,
  deps: { config: Config; projects: ProjectService; incidents: IncidentService },
) {
  const { config, projects, incidents } = deps;
  const reader = (req: ProjectReq) =>
    projects.access(currentAuth(req).user.id, req.params.projectId, 'viewer');
  const developer = (req: ProjectReq) =>
    projects.access(currentAuth(req).user.id, req.params.projectId, 'developer');
  /** Acting on an incident: audit names it by its id once found. */
  const acting = async (req: IncidentReq) => {
    const project = await developer(req);
    const { incident } = await incidents.get(project, req.params.ref);
    req.audit = { ...req.audit, targetType: 'incident', targetId: incident.id };
    return { project, ref: incident.id, user: currentAuth(req).user, base: baseUrl(req, config) };
  };

  app.get<{ Params: Static<typeof ProjectParams>; Querystring: Static<typeof ListIncidentsQuery> }>(
    `${P}/incidents`,
    {
      config: { auth: 'user' },
      schema: {
        tags,
        summary: 'Incidents, newest first, keyset-paged',
        params: ProjectParams,
        querystring: ListIncidentsQuery,
        response: { 200: IncidentList, ...errorResponses },
      },
    },
    async (req) => incidents.list(await reader(req), req.query),
  );

  app.get<{ Params: Static<typeof IncidentParams> }>(
    I,
    {
      config: { auth: 'user' },
      schema: {
        tags,
        summary: 'One incident by id or number, with its timeline and deliveries',
        params: IncidentParams,
        response: { 200: IncidentDetail, ...errorResponses },
      },
    },
    async (req) => incidents.get(await reader(req), req.params.ref),
  );

  app.post<{ Params: Static<typeof IncidentParams>; Body: Static<typeof AckRequest> }>(
    `${I}/ack`,
    {
      config: { auth: 'user', audit: 'incident.acknowledge' },
      schema: {
        tags,
        summary: 'Acknowledge (stops reminders); a second acknowledgement changes nothing',
        params: IncidentParams,
        body: AckRequest,
        response: { 200: IncidentResponse, ...errorResponses },
      },
    },
    async (req) => {
      const a = await acting(req);
      return { incident: await incidents.acknowledge(a.project, a.user, a.ref, req.body?.comment, a.base) };
    },
  );

  app.post<{ Params: Static<typeof IncidentParams>; Body: Static<typeof CommentRequest> }>(
    `${I}/comments`,
    {
      config: { auth: 'user', audit: 'incident.comment' },
      schema: {
        tags,
        summary: 'Add a comment to the timeline (also on resolved incidents)',
        params: IncidentParams,
        body: CommentRequest,
        response: { 200: IncidentResponse, ...errorResponses },
      },
    },
    async (req) => {
      const a = await acting(req);
      return { incident: await incidents.comment(a.project, a.user, a.ref, req.body.body, a.base) };
    },
  );

  app.post<{ Params: Static<typeof IncidentParams>; Body: Static<typeof ResolveRequest> }>(
    `${I}/resolve`,
    {
      config: { auth: 'user', audit: 'incident.resolve' },
      schema: {
        tags,
        summary: 'Resolve by hand (channels that want resolved messages are told)',
        params: IncidentParams,
        body: ResolveRequest,
        response: { 200: IncidentResponse, ...errorResponses },
      },
    },
    async (req) => {
      const a = await acting(req);
      return { incident: await incidents.resolve(a.project, a.user, a.ref, req.body?.comment, a.base) };
    },
  );

  app.get<{ Params: Static<typeof ProjectParams>; Querystring: Static<typeof MaintenanceQuery> }>(
    `${P}/maintenance`,
    {
      config: { auth: 'user' },
      schema: {
        tags,
        summary: 'Maintenance windows, latest start first (default: upcoming and active)',
        params: ProjectParams,
        querystring: MaintenanceQuery,
        response: { 200: MaintenanceList, ...errorResponses },
      },
    },
    async (req) => ({ windows: await incidents.windows(await reader(req), req.query.state) }),
  );

  app.post<{ Params: Static<typeof ProjectParams>; Body: Static<typeof CreateMaintenanceRequest> }>(
    `${P}/maintenance`,
    {
      config: { auth: 'user', audit: 'maintenance.create' },
      schema: {
        tags,
        summary: 'Plan a maintenance window: no incident opens for what it covers while it lasts',
        params: ProjectParams,
        body: CreateMaintenanceRequest,
        response: { 201: MaintenanceResponse, ...errorResponses },
      },
    },
    async (req, reply) => {
      const project = await developer(req);
      const window = await incidents.createWindow(project, currentAuth(req).user, req.body);
      req.audit = { ...req.audit, targetType: 'maintenance_window', targetId: window.id };
      return reply.code(201).send({ window });
    },
  );

  app.delete<{ Params: Static<typeof MaintenanceParams> }>(
    `${P}/maintenance/:windowId`,
    {
      config: { auth: 'user', audit: 'maintenance.delete' },
      schema: {
        tags,
        summary: 'Delete a maintenance window (ends it at once if active)',
        params: MaintenanceParams,
        response: { 204: { type: 'null' }, ...errorResponses },
      },
    },
    async (req, reply) => {
      req.audit = { ...req.audit, targetType: 'maintenance_window', targetId: req.params.windowId };
      await incidents.deleteWindow(await developer(req), req.params.windowId);
      return reply.code(204).send();
    },
  );

  app.get<{ Params: Static<typeof ServiceRuleParams>; Querystring: Static<typeof ServiceRuleQuery> }>(
    `${P}/service-rules/:service`,
    {
      config: { auth: 'user' },
      schema: {
        tags,
        summary: "A service's incident rules in an environment (the defaults when none are stored)",
        params: ServiceRuleParams,
        querystring: ServiceRuleQuery,
        response: { 200: ServiceRuleResponse, ...errorResponses },
      },
    },
    async (req) => ({ rule: await incidents.rule(await reader(req), req.params.service, req.query.env) }),
  );

  app.put<{
    Params: Static<typeof ServiceRuleParams>;
    Querystring: Static<typeof ServiceRuleQuery>;
    Body: Static<typeof PutServiceRuleRequest>;
  }>(
    `${P}/service-rules/:service`,
    {
      config: { auth: 'user', audit: 'service_rule.update' },
      schema: {
        tags,
        summary: "Change a service's rules (fields left out keep their value; null turns a threshold off)",
        params: ServiceRuleParams,
        querystring: ServiceRuleQuery,
        body: PutServiceRuleRequest,
        response: { 200: ServiceRuleResponse, ...errorResponses },
      },
    },
    async (req) => {
      req.audit = {
        ...req.audit,
        targetType: 'service_rule',
        targetId: `${req.query.env}/${req.params.service}`,
      };
      return {
        rule: await incidents.putRule(await developer(req), req.params.service, req.query.env, req.body),
      };
    },
  );
}
