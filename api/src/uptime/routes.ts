/**
 * Uptime target routes (docs/uptime.md, docs/api.md): list, create, read, change, delete, apply, the
 * heartbeat push URL, results and latency series. Viewers read; developers and up change.
 */
import type { Config } from '@peep/pkg';
import { ProjectParams, type Static } from '@peep/pkg/schemas';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { currentAuth } from '../core/auth.js';
import { baseUrl, errorResponses, noStore } from '../core/http.js';
import type { Deps } from '../core/types.js';
import type { ProjectService } from '../projects/service.js';
import { createApply } from './apply.js';
import { heartbeatPath, registerHeartbeatRoutes } from './heartbeat.js';
import {
  ApplyRequest,
  ApplyResponse,
  CreateTargetRequest,
  CreateTargetResponse,
  HeartbeatUrlResponse,
  ListTargetsQuery,
  ResultList,
  ResultsQuery,
  SeriesQuery,
  TargetDetail,
  TargetList,
  TargetParams,
  TargetSeries,
  UpdateTargetRequest,
  UpdateTargetResponse,
} from './schemas.js';
import { createTargetService, type TargetService } from './service.js';

const P = '/api/v1/projects/:projectId/targets';
const tags = ['uptime'];
/** An apply of 10,000 targets with long specs fits; other routes keep PEEP_BODY_LIMIT. */
export const APPLY_BODY_LIMIT = 16 * 1024 * 1024;

/** The uptime domain: its services and routes, wired from the app's dependencies. */
export async function registerUptime(app: FastifyInstance, deps: Deps & { projects: ProjectService }) {
  const targets = createTargetService(deps);
  const apply = createApply({ db: deps.db, clock: deps.clock, targets });
  registerTargetRoutes(app, { config: deps.config, projects: deps.projects, targets, apply });
  await registerHeartbeatRoutes(app, { config: deps.config, targets });
  return { targets };
}

type ProjectReq = FastifyRequest<{ Params: Static<typeof ProjectParams> }>;
type TargetReq = FastifyRequest<{ Params: Static<typeof TargetParams> }>;

export function registerTargetRoutes(
  app: FastifyInstance,
  deps: {
    config: Config;
    projects: ProjectService;
    targets: TargetService;
    apply: ReturnType<typeof createApply>;
  },
) {
  const { config, projects, targets, apply } = deps;
  const reader = (req: ProjectReq | TargetReq) =>
    projects.access(currentAuth(req).user.id, req.params.projectId, 'viewer');
  const developer = (req: ProjectReq | TargetReq) =>
    projects.access(currentAuth(req).user.id, req.params.projectId, 'developer');
  const pushUrl = (req: FastifyRequest, token: string) => `${baseUrl(req, config)}${heartbeatPath(token)}`;

  app.get<{ Params: Static<typeof ProjectParams>; Querystring: Static<typeof ListTargetsQuery> }>(
    P,
    {
      config: { auth: 'user' },
      schema: {
        tags,
        summary: 'Targets in (name, id) order, keyset-paged, with counts by status',
        params: ProjectParams,
        querystring: ListTargetsQuery,
        response: { 200: TargetList, ...errorResponses },
      },
    },
    async (req) => targets.list(await reader(req), req.query),
  );

  app.post<{ Params: Static<typeof ProjectParams>; Body: Static<typeof CreateTargetRequest> }>(
    P,
    {
      config: { auth: 'user', audit: 'target.create' },
      schema: {
        tags,
        summary: 'Create a target (a heartbeat answers its push URL, once)',
        params: ProjectParams,
        body: CreateTargetRequest,
        response: { 201: CreateTargetResponse, ...errorResponses },
      },
    },
    async (req, reply) => {
      const me = currentAuth(req).user.id;
      const out = await targets.create(await developer(req), me, req.body);
      req.audit = { targetType: 'target', targetId: out.target.id };
      noStore(reply);
      return reply
        .code(201)
        .send(
          out.token ? { target: out.target, heartbeatUrl: pushUrl(req, out.token) } : { target: out.target },
        );
    },
  );

  app.post<{ Params: Static<typeof ProjectParams>; Body: Static<typeof ApplyRequest> }>(
    `${P}/apply`,
    {
      bodyLimit: Math.max(APPLY_BODY_LIMIT, config.bodyLimit),
      config: { auth: 'user', audit: 'target.apply' },
      schema: {
        tags,
        summary: "Make the project's targets match a list (create, update, and with prune delete)",
        params: ProjectParams,
        body: ApplyRequest,
        response: { 200: ApplyResponse, ...errorResponses },
      },
    },
    async (req, reply) => {
      const me = currentAuth(req).user.id;
      const { result, tokens } = await apply(await developer(req), me, req.body);
      const urls = Object.entries(tokens);
      if (urls.length) {
        noStore(reply);
        result.heartbeatUrls = Object.fromEntries(urls.map(([name, t]) => [name, pushUrl(req, t)]));
      }
      return result;
    },
  );

  app.get<{ Params: Static<typeof TargetParams> }>(
    `${P}/:targetId`,
    {
      config: { auth: 'user' },
      schema: {
        tags,
        summary: 'A target and its uptime over 24 h, 7 d, 30 d and 90 d',
        params: TargetParams,
        response: { 200: TargetDetail, ...errorResponses },
      },
    },
    async (req) => targets.get(await reader(req), req.params.targetId),
  );

  app.patch<{ Params: Static<typeof TargetParams>; Body: Static<typeof UpdateTargetRequest> }>(
    `${P}/:targetId`,
    {
      config: { auth: 'user', audit: 'target.update' },
      schema: {
        tags,
        summary: 'Change a target (enabled: false pauses it)',
        params: TargetParams,
        body: UpdateTargetRequest,
        response: { 200: UpdateTargetResponse, ...errorResponses },
      },
    },
    async (req, reply) => {
      req.audit = { targetType: 'target', targetId: req.params.targetId };
      const out = await targets.update(await developer(req), req.params.targetId, req.body);
      if (!out.token) return { target: out.target };
      noStore(reply);
      return { target: out.target, heartbeatUrl: pushUrl(req, out.token) };
    },
  );

  app.delete<{ Params: Static<typeof TargetParams> }>(
    `${P}/:targetId`,
    {
      config: { auth: 'user', audit: 'target.delete' },
      schema: {
        tags,
        summary: 'Delete a target',
        params: TargetParams,
        response: { 204: { type: 'null' }, ...errorResponses },
      },
    },
    async (req, reply) => {
      req.audit = { targetType: 'target', targetId: req.params.targetId };
      const gone = await targets.remove(await developer(req), req.params.targetId);
      req.audit.environmentId = gone.environmentId;
      return reply.code(204).send();
    },
  );

  app.post<{ Params: Static<typeof TargetParams> }>(
    `${P}/:targetId/heartbeat-url`,
    {
      config: { auth: 'user', audit: 'target.rotate_heartbeat' },
      schema: {
        tags,
        summary: 'A new push URL for a heartbeat target (the old one stops working)',
        params: TargetParams,
        response: { 200: HeartbeatUrlResponse, ...errorResponses },
      },
    },
    async (req, reply) => {
      req.audit = { targetType: 'target', targetId: req.params.targetId };
      const out = await targets.rotateHeartbeat(await developer(req), req.params.targetId);
      noStore(reply);
      return { target: out.target, heartbeatUrl: pushUrl(req, out.token) };
    },
  );

  app.get<{ Params: Static<typeof TargetParams>; Querystring: Static<typeof ResultsQuery> }>(
    `${P}/:targetId/results`,
    {
      config: { auth: 'user' },
      schema: {
        tags,
        summary: 'Check results, newest first',
        params: TargetParams,
        querystring: ResultsQuery,
        response: { 200: ResultList, ...errorResponses },
      },
    },
    async (req) =>
      targets.results(await reader(req), req.params.targetId, req.query.limit ?? 100, req.query.before),
  );

  app.get<{ Params: Static<typeof TargetParams>; Querystring: Static<typeof SeriesQuery> }>(
    `${P}/:targetId/series`,
    {
      config: { auth: 'user' },
      schema: {
        tags,
        summary: 'Latency percentiles and failures per minute, hour or day',
        params: TargetParams,
        querystring: SeriesQuery,
        response: { 200: TargetSeries, ...errorResponses },
      },
    },
    async (req) => targets.series(await reader(req), req.params.targetId, req.query.range ?? '24h'),
  );
}
