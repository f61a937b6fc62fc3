/**
 * The API as a Fastify instance: core plugins (request ids, logs, errors, validation, security
 * headers, rate limits, auth, metrics, OpenAPI) and each domain's register(). It does not listen:
 * `peep up` and the tests attach it to an HTTP server.
 */
import { randomUUID } from 'node:crypto';
import cookie from '@fastify/cookie';
import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import { keyringFromConfig } from '@peep/pkg/project-keys';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyServerFactory,
  LogController,
} from 'fastify';
import { registerAdmin } from './admin/routes.js';
import { registerAuditRoutes } from './audit/routes.js';
import { createAuditService } from './audit/service.js';
import { registerAuthRoutes } from './auth/routes.js';
import { createAuthService } from './auth/service.js';
import { registerChannels } from './channels/routes.js';
import { registerAuth } from './core/auth.js';
import { createAuthCache } from './core/auth-cache.js';
import { registerErrorHandling } from './core/errors.js';
import { registerHealth } from './core/health.js';
import { createMetrics, registerMetrics } from './core/metrics.js';
import type { Deps } from './core/types.js';
import { registerUptimeMetrics } from './core/uptime-metrics.js';
import { registerValidation } from './core/validation.js';
import { registerDeviceRoutes } from './device/routes.js';
import { createDeviceService } from './device/service.js';
import { registerEnvPolicy } from './envs/proposal-routes.js';
import { registerEnvs } from './envs/routes.js';
import { registerIncidents } from './incidents/routes.js';
import { registerIngestKeyRoutes } from './ingest-keys/routes.js';
import { createIngestKeyService } from './ingest-keys/service.js';
import { registerMemberRoutes } from './members/routes.js';
import { createMemberService } from './members/service.js';
import { registerOtlpRoutes } from './otlp/routes.js';
import { registerProjectRoutes } from './projects/routes.js';
import { createProjectService } from './projects/service.js';
import { registerStatusRoutes } from './status/routes.js';
import { createStatusService } from './status/service.js';
import { createIngestAuth, type IngestAuth } from './telemetry/ingest-auth.js';
import { registerIngestRoutes } from './telemetry/ingest-routes.js';
import { createIngestPipeline, type IngestPipeline } from './telemetry/pipeline.js';
import { registerTelemetryRoutes } from './telemetry/routes.js';
import { createTelemetryService } from './telemetry/service.js';
import { createStreams, registerStreamRoutes } from './telemetry/stream.js';
import { registerTokenRoutes } from './tokens/routes.js';
import { createTokenService } from './tokens/service.js';
import { registerUptime } from './uptime/routes.js';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export interface RouteInfo {
  method: string;
  url: string;
  auth?: string;
  audit?: string;
}

export interface Api {
  app: FastifyInstance;
  /** Every route with its auth mode and audit action (checked by a test). */
  routes: RouteInfo[];
  /**
   * Resolves when no handler is running (or after `timeoutMs`). `app.close()` waits for open
   * connections, but a handler whose client hung up keeps running; call this before closing the database.
   */
  drain(timeoutMs: number): Promise<void>;
  auth: ReturnType<typeof createAuthService>;
  device: ReturnType<typeof createDeviceService>;
  /** Telemetry ingest: commits batches; closed (flushed) when the app closes. */
  pipeline: IngestPipeline;
  ingestAuth: IngestAuth;
}

export async function buildApi(
  deps: Deps,
  opts: { serverFactory?: FastifyServerFactory } = {},
): Promise<Api> {
  const { config, db, log, clock } = deps;
  const app: FastifyInstance = Fastify({
    loggerInstance: log as unknown as FastifyBaseLogger,
    // Request start/end lines carry the request id; probes and scrapes are not logged.
    logController: new LogController({
      requestIdLogLabel: 'requestId',
      disableRequestLogging: (req) => req.url === '/health' || req.url === '/ready' || req.url === '/metrics',
    }),
    requestIdHeader: false,
    genReqId: (req) => {
      const h = req.headers['x-request-id'];
      return typeof h === 'string' && REQUEST_ID.test(h) ? h : randomUUID();
    },
    bodyLimit: config.bodyLimit,
    trustProxy: config.trustProxy,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 },
    ...(opts.serverFactory ? { serverFactory: opts.serverFactory } : {}),
  });

  const routes: RouteInfo[] = [];
  app.addHook('onRoute', (r) => {
    for (const method of [r.method].flat())
      routes.push({ method, url: r.url, auth: r.config?.auth, audit: r.config?.audit });
  });
  let running = 0;
  let idle: (() => void) | null = null;
  const handled = new WeakSet<object>();
  app.addHook('onRequest', async (req, reply) => {
    reply.header('x-request-id', req.id);
    running++;
    handled.add(req);
  });
  // Every request that passed onRequest is answered exactly once through onSend (success or error),
  // even when its client is gone.
  app.addHook('onSend', async (req, _reply, payload) => {
    if (handled.delete(req)) {
      running--;
      if (running === 0) idle?.();
    }
    return payload;
  });
  const started = new WeakSet<object>();
  app.addHook('preHandler', async (req) => {
    started.add(req);
  });
  // A client that hangs up before its handler starts leaves nothing running.
  app.addHook('onRequestAbort', async (req) => {
    if (!started.has(req) && handled.delete(req)) {
      running--;
      if (running === 0) idle?.();
    }
  });
  const drain = (timeoutMs: number) =>
    new Promise<void>((resolve) => {
      if (running === 0) return resolve();
      const t = setTimeout(resolve, timeoutMs);
      idle = () => {
        clearTimeout(t);
        resolve();
      };
    });
  // JSON only: Fastify's default text/plain parser would accept bodies no route documents.
  app.removeContentTypeParser('text/plain');

  registerValidation(app);
  registerErrorHandling(app);
  await app.register(helmet, {
    global: true,
    contentSecurityPolicy: { directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
  });
  await app.register(cookie);
  await app.register(rateLimit, {
    global: false,
    errorResponseBuilder: (_req, ctx) => {
      const e = new Error(`Too many attempts; retry in ${Math.ceil(ctx.ttl / 1000)} s.`) as Error & {
        statusCode: number;
      };
      e.statusCode = 429;
      return e;
    },
  });
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'peep API', version: '1', description: 'Control plane API. Errors: docs/errors.md.' },
      components: {
        securitySchemes: {
          bearer: {
            type: 'http',
            scheme: 'bearer',
            description: 'Personal (peep_pat_) or CLI (peep_cli_) token',
          },
          session: { type: 'apiKey', in: 'cookie', name: 'peep_session' },
          ingestKey: {
            type: 'http',
            scheme: 'bearer',
            description: 'Ingest key (peep_ik_), telemetry ingest only',
          },
        },
      },
      security: [{ bearer: [] }, { session: [] }],
    },
  });
  registerCors(app, config.corsOrigins);

  const metrics = createMetrics();
  registerMetrics(app, metrics, config.metricsToken);
  registerUptimeMetrics(metrics.registry, db);
  // Exact only where every revocation is seen (see auth-cache.ts): one process on the embedded
  // database, or replicas sharing a NATS bus.
  const cacheCredentials = db.engine === 'pglite' || deps.bus.distributed;
  const authCache = createAuthCache({
    enabled: cacheCredentials,
    ttlMs: 30_000,
    max: 10_000,
    bus: deps.bus,
  });
  registerAuth(app, { db, clock, cache: authCache });
  registerHealth(app, { db });

  const audit = createAuditService({ db, log });
  const auth = createAuthService({ db, config, clock, bus: deps.bus });
  const tokens = createTokenService({ db, clock, bus: deps.bus });
  const device = createDeviceService({ db, config, tokens });
  const projects = createProjectService({ db, bus: deps.bus });
  const members = createMemberService({ db });
  const ingestKeys = createIngestKeyService({ db, clock, bus: deps.bus });

  registerAuditRoutes(app, { projects, audit });
  registerAuthRoutes(app, { ...deps, auth, audit });
  registerTokenRoutes(app, { tokens });
  registerDeviceRoutes(app, { ...deps, device, audit });
  registerProjectRoutes(app, { projects });
  registerMemberRoutes(app, { projects, members });
  registerIngestKeyRoutes(app, { projects, ingestKeys });
  await registerUptime(app, { ...deps, projects });
  // One holder of the master keys for every domain, so an embedded rotation switches them all.
  const keys = deps.keys ?? keyringFromConfig(config, log);
  registerChannels(app, { ...deps, projects, keys });
  registerIncidents(app, { ...deps, projects });
  registerEnvs(app, { ...deps, projects, audit, keys });
  registerEnvPolicy(app, { ...deps, projects, keys });
  registerAdmin(app, { ...deps, keys });

  const ingestAuth = createIngestAuth({ db, bus: deps.bus, clock, cache: cacheCredentials });
  const pipeline = createIngestPipeline({
    db,
    bus: deps.bus,
    log,
    queueMax: config.ingestQueueMax,
    batchMax: config.ingestBatchMax,
    onCommit: (items, seconds) => {
      metrics.ingestCommits.observe(seconds);
      metrics.ingestItems.inc(items);
    },
  });
  metrics.probes.ingestQueue = () => pipeline.stats().queuedItems;
  await registerIngestRoutes(app, { auth: ingestAuth, pipeline, clock, bodyLimit: config.ingestBodyLimit });
  await registerOtlpRoutes(app, { auth: ingestAuth, pipeline, clock, bodyLimit: config.ingestBodyLimit });
  const telemetry = createTelemetryService({ db, clock, config });
  registerTelemetryRoutes(app, { projects, telemetry });
  registerStatusRoutes(app, { projects, telemetry, status: createStatusService({ db }) });
  const streams = createStreams({ db, bus: deps.bus, config, telemetry });
  registerStreamRoutes(app, { projects, streams, telemetry });
  metrics.probes.streamConnections = () => streams.open();
  // Live streams end first so close() is not held open by them; then queued batches are committed.
  app.addHook('preClose', async () => streams.closeAll());
  app.addHook('onClose', async () => pipeline.close());

  app.get('/api/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  await app.ready();
  return { app, routes, drain, auth, device, pipeline, ingestAuth };
}

/** CORS is closed unless PEEP_CORS_ORIGINS lists origins. */
function registerCors(app: FastifyInstance, origins: string[]) {
  if (origins.length === 0) return;
  const allowed = new Set(origins);
  app.addHook('onRequest', async (req, reply) => {
    const origin = req.headers.origin;
    if (!origin || !allowed.has(origin)) return;
    reply
      .header('access-control-allow-origin', origin)
      .header('vary', 'Origin')
      .header('access-control-allow-credentials', 'true');
    if (req.method === 'OPTIONS') {
      reply
        .header('access-control-allow-methods', 'GET, POST, PATCH, DELETE')
        .header('access-control-allow-headers', 'content-type, authorization, x-csrf-token, x-request-id')
        .header('access-control-max-age', '600')
        .code(204)
        .send();
    }
  });
  app.options('*', { schema: { hide: true } }, async (_req, reply) => reply.code(204).send());
}
