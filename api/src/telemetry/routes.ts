/**
 * Telemetry query routes (docs/telemetry.md "Queries"). Query strings are read by hand rather than
 * by a schema: an unknown parameter answers `unknown_filter` listing the ones the route knows, and
 * logs accept any number of `attr.KEY=VALUE` filters.
 */
import { AppError } from '@peep/pkg';
import { ProjectParams, type Static } from '@peep/pkg/schemas';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { currentAuth } from '../core/auth.js';
import type { ProjectService } from '../projects/service.js';
import type { Filters, LogFilters, TelemetryService } from './service.js';
import { parseRange } from './service.js';
import { LEVELS, type Level } from './types.js';

export const FILTERS = ['env', 'service', 'route', 'method', 'statusClass'] as const;
const RANGE = ['from', 'to'] as const;

export interface ReadQuery {
  values: Record<string, string>;
  attributes: Record<string, string>;
}

/** The query string as single values; anything not in `allowed` (or `attr.*` when allowed) is refused. */
export function readQuery(raw: unknown, allowed: readonly string[], attrs = false): ReadQuery {
  const values: Record<string, string> = {};
  const attributes: Record<string, string> = {};
  for (const [k, v] of Object.entries((raw ?? {}) as Record<string, unknown>)) {
    const isAttr = attrs && k.startsWith('attr.') && k.length > 5 && k.length <= 205;
    if (!isAttr && !allowed.includes(k))
      throw new AppError('unknown_filter', `Unknown query parameter "${k}".`, {
        allowed: attrs ? [...allowed, 'attr.KEY'] : allowed,
      });
    if (typeof v !== 'string')
      throw new AppError('validation_failed', `Query parameter "${k}" is given more than once.`);
    if (v.length > 1000) throw new AppError('validation_failed', `Query parameter "${k}" is too long.`);
    if (isAttr) attributes[k.slice(5)] = v;
    else values[k] = v;
  }
  return { values, attributes };
}

export function intParam(v: string | undefined, name: string, min: number, max: number, def: number): number {
  if (v === undefined || v === '') return def;
  if (!/^\d{1,12}$/.test(v) || Number(v) < min || Number(v) > max)
    throw new AppError('validation_failed', `${name} must be a whole number from ${min} to ${max}.`);
  return Number(v);
}

export async function readFilters(
  telemetry: TelemetryService,
  projectId: string,
  v: Record<string, string>,
): Promise<Filters> {
  const f: Filters = {};
  const env = await telemetry.environmentId(projectId, v.env || undefined);
  if (env) f.environmentId = env;
  if (v.service) f.service = v.service;
  if (v.route) f.route = v.route;
  if (v.method) f.method = v.method.toUpperCase();
  if (v.statusClass) f.statusClass = intParam(v.statusClass, 'statusClass', 1, 5, 0);
  return f;
}

export function readLevel(v: string | undefined): Level | undefined {
  if (!v) return undefined;
  const l = v.toLowerCase();
  if (!(LEVELS as readonly string[]).includes(l))
    throw new AppError('validation_failed', `level must be one of ${LEVELS.join(', ')}.`);
  return l as Level;
}

export async function readLogFilters(
  telemetry: TelemetryService,
  projectId: string,
  q: ReadQuery,
): Promise<LogFilters> {
  const v = q.values;
  const f: LogFilters = {};
  const env = await telemetry.environmentId(projectId, v.env || undefined);
  if (env) f.environmentId = env;
  if (v.service) f.service = v.service;
  const level = readLevel(v.level);
  if (level) f.level = level;
  if (v.q) f.q = v.q;
  if (v.requestId) f.requestId = v.requestId;
  if (v.traceId) f.traceId = v.traceId;
  if (Object.keys(q.attributes).length) f.attributes = q.attributes;
  return f;
}

type Req = FastifyRequest<{ Params: Static<typeof ProjectParams> }>;

export function registerTelemetryRoutes(
  app: FastifyInstance,
  deps: { projects: ProjectService; telemetry: TelemetryService },
) {
  const { projects, telemetry } = deps;
  const opts = (summary: string) => ({
    config: { auth: 'user' as const },
    schema: { tags: ['telemetry'], summary, params: ProjectParams },
  });
  const project = (req: Req) => projects.access(currentAuth(req).user.id, req.params.projectId, 'viewer');
  const base = '/api/v1/projects/:projectId/telemetry';
  const now = () => Date.now();

  app.get<{ Params: Static<typeof ProjectParams> }>(
    `${base}/series`,
    opts('Latency percentiles, throughput and error rate over time'),
    async (req) => {
      const p = await project(req);
      const { values } = readQuery(req.query, [...RANGE, ...FILTERS, 'step']);
      const range = parseRange(values, now());
      const step = values.step ? intParam(values.step, 'step', 1, 400 * 86400, 60) : undefined;
      return telemetry.series(p.id, await readFilters(telemetry, p.id, values), range, step);
    },
  );

  app.get<{ Params: Static<typeof ProjectParams> }>(
    `${base}/summary`,
    opts('Totals and percentiles of a window'),
    async (req) => {
      const p = await project(req);
      const { values } = readQuery(req.query, [...RANGE, ...FILTERS]);
      return telemetry.summary(p.id, await readFilters(telemetry, p.id, values), parseRange(values, now()));
    },
  );

  app.get<{ Params: Static<typeof ProjectParams> }>(
    `${base}/routes`,
    opts('Top routes by traffic, p95 or errors'),
    async (req) => {
      const p = await project(req);
      const { values } = readQuery(req.query, [...RANGE, ...FILTERS, 'sort', 'limit']);
      const sort = values.sort ?? 'traffic';
      if (sort !== 'traffic' && sort !== 'p95' && sort !== 'errors')
        throw new AppError('validation_failed', 'sort must be traffic, p95 or errors.');
      const limit = intParam(values.limit, 'limit', 1, 200, 20);
      const routes = await telemetry.routes(
        p.id,
        await readFilters(telemetry, p.id, values),
        parseRange(values, now()),
        sort,
        limit,
      );
      return { routes };
    },
  );

  app.get<{ Params: Static<typeof ProjectParams> }>(
    `${base}/compare`,
    opts('Compare two windows (before / after)'),
    async (req) => {
      const p = await project(req);
      const { values } = readQuery(req.query, ['beforeFrom', 'beforeTo', 'afterFrom', 'afterTo', ...FILTERS]);
      for (const k of ['beforeFrom', 'beforeTo', 'afterFrom', 'afterTo'])
        if (!values[k]) throw new AppError('invalid_range', `${k} is required.`);
      const t = now();
      const before = parseRange({ from: values.beforeFrom, to: values.beforeTo }, t, [
        'beforeFrom',
        'beforeTo',
      ]);
      const after = parseRange({ from: values.afterFrom, to: values.afterTo }, t, ['afterFrom', 'afterTo']);
      return telemetry.compare(p.id, await readFilters(telemetry, p.id, values), before, after);
    },
  );

  app.get<{ Params: Static<typeof ProjectParams> }>(
    `${base}/services`,
    opts('Services seen, with their environments'),
    async (req) => {
      const p = await project(req);
      readQuery(req.query, []);
      return telemetry.services(p.id);
    },
  );

  app.get<{ Params: Static<typeof ProjectParams> }>(
    `${base}/events`,
    opts('Recent raw request events, newest first'),
    async (req) => {
      const p = await project(req);
      const { values } = readQuery(req.query, [...FILTERS, 'requestId', 'limit']);
      const f = await readFilters(telemetry, p.id, values);
      const limit = intParam(values.limit, 'limit', 1, 1000, 100);
      return {
        events: await telemetry.events(
          p.id,
          { ...f, ...(values.requestId ? { requestId: values.requestId } : {}) },
          limit,
        ),
      };
    },
  );

  app.get<{ Params: Static<typeof ProjectParams> }>(
    `${base}/metric-points`,
    opts('OTLP metric data points by name'),
    async (req) => {
      const p = await project(req);
      const { values } = readQuery(req.query, [...RANGE, 'name', 'env', 'service', 'limit']);
      if (!values.name) throw new AppError('validation_failed', 'name is required.');
      const environmentId = await telemetry.environmentId(p.id, values.env || undefined);
      return telemetry.metricPoints(
        p.id,
        {
          name: values.name,
          ...(environmentId ? { environmentId } : {}),
          ...(values.service ? { service: values.service } : {}),
        },
        parseRange(values, now()),
        intParam(values.limit, 'limit', 1, 10_000, 1000),
      );
    },
  );

  app.get<{ Params: Static<typeof ProjectParams> }>(
    '/api/v1/projects/:projectId/logs',
    opts('Search runtime logs, newest first'),
    async (req) => {
      const p = await project(req);
      const q = readQuery(
        req.query,
        [...RANGE, 'env', 'service', 'level', 'q', 'requestId', 'traceId', 'cursor', 'limit'],
        true,
      );
      const f = await readLogFilters(telemetry, p.id, q);
      const range = parseRange({ from: q.values.from ?? '7d', to: q.values.to }, now());
      const limit = intParam(q.values.limit, 'limit', 1, 500, 100);
      return telemetry.logs(p.id, f, range, q.values.cursor, limit);
    },
  );
}
