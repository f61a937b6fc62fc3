/**
 * `createPeep()`: one client per app, holding the options, the shipper and the logger, and handing
 * out the framework adapters. It also flushes on the way out: on `beforeExit` when items are queued,
 * and on SIGTERM/SIGINT, after which the signal's default action (exit) is restored and re-raised
 * unless the app has handlers of its own (then the app decides when to exit; call `shutdown()`).
 */
import { createAggregator, createSampler } from './aggregate.js';
import { currentRequest, type EventSink, normalizePath, type RequestContext } from './capture.js';
import {
  type ExpressMiddleware,
  expressMiddleware,
  type FastifyPlugin,
  fastifyPlugin,
  type HttpOptions,
  type NextOptions,
  type RequestListener,
  wrapListener,
  wrapRouteHandler,
} from './frameworks.js';
import { createLogger, type Logger } from './logger.js';
import { type PeepOptions, resolveOptions } from './options.js';
import { createShipper, type Stats } from './transport.js';

export const SDK_VERSION = '0.1.0';

/** Distinct URL-derived route names kept before the rest are reported as `(other)`. */
const MAX_FALLBACK_ROUTES = 1000;

export interface Peep {
  /** Wraps a `node:http` request listener: `http.createServer(peep.http(listener))`. */
  http(listener: RequestListener, opts?: HttpOptions): RequestListener;
  /** Express/Connect middleware; register it before your routes: `app.use(peep.express())`. */
  express(): ExpressMiddleware;
  /** Fastify plugin: `await app.register(peep.fastify)`. */
  readonly fastify: FastifyPlugin;
  /** Wraps a Next.js route handler: `export const GET = peep.withPeep(handler, { route })`. */
  withPeep<A extends unknown[]>(
    handler: (req: Request, ...rest: A) => Response | Promise<Response>,
    opts?: NextOptions,
  ): (req: Request, ...rest: A) => Promise<Response>;
  /** Structured logs, correlated with the request being handled. */
  readonly logger: Logger;
  /** The request being handled (request id, trace id), if any. */
  currentRequest(): RequestContext | undefined;
  /** Sends what is queued; true when everything was answered within timeoutMs (default 10 s). */
  flush(timeoutMs?: number): Promise<boolean>;
  /** Sends what is queued and stops; items not sent by timeoutMs (default 5 s) are dropped. */
  shutdown(timeoutMs?: number): Promise<void>;
  stats(): PeepStats;
}

export interface PeepStats extends Stats {
  /** Requests counted in the aggregation window not yet handed to the shipper. */
  pendingRequests: number;
}

const hooked = new Set<Peep>();
let defaultPeep: Peep | undefined;

function onBeforeExit(): void {
  for (const p of hooked) {
    const s = p.stats();
    if (s.events.queued + s.logs.queued + s.aggregates.queued + s.pendingRequests > 0) void p.flush(5_000);
  }
}

function onSignal(signal: NodeJS.Signals): void {
  const all = [...hooked];
  void Promise.allSettled(all.map((p) => p.shutdown(5_000))).then(() => {
    process.removeListener('SIGTERM', onSignal);
    process.removeListener('SIGINT', onSignal);
    // Nobody else listens: do what the signal would have done without us.
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  });
}

function hook(p: Peep): void {
  if (hooked.size === 0) {
    process.on('beforeExit', onBeforeExit);
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  }
  hooked.add(p);
}

function unhook(p: Peep): void {
  if (!hooked.delete(p) || hooked.size > 0) return;
  process.removeListener('beforeExit', onBeforeExit);
  process.removeListener('SIGTERM', onSignal);
  process.removeListener('SIGINT', onSignal);
}

/**
 * Makes a client. Options come from code, else from PEEP_INGEST_KEY, PEEP_ENDPOINT and PEEP_SERVICE;
 * a malformed option throws a TypeError here; without an ingest key the client records nothing and
 * sends nothing, but request ids and the logger context still work.
 */
export function createPeep(options: PeepOptions = {}): Peep {
  const o = resolveOptions(options);
  const shipper = createShipper(o, `peep-sdk/${SDK_VERSION} node/${process.versions.node}`);
  const report = shipper.report;
  const seen = new Set<string>();
  /** URL → route name of recent unrouted requests, so a busy URL is normalized once. */
  const byUrl = new Map<string, string>();
  const aggregator =
    o.aggregate && o.ingestKey
      ? createAggregator({
          service: o.service,
          intervalMs: o.aggregateIntervalMs,
          emit: (item) => shipper.enqueue('aggregates', item),
        })
      : undefined;
  const sampler = createSampler(o.sampleRawPerSecond, o.sampleNotablePerSecond);
  const sink: EventSink = {
    service: o.service,
    instance: o.instance,
    context: o.requestContext,
    enqueue: (e) => shipper.enqueue('events', e),
    aggregate: aggregator
      ? (route, method, status, durationMs, bytesIn, bytesOut, at) => {
          aggregator.record(route, method, status, durationMs, bytesIn, bytesOut);
          return sampler.take(at, status >= 500 || durationMs >= o.slowMs);
        }
      : undefined,
    report,
    fallbackRoute(url) {
      const key = url ?? '/';
      const known = byUrl.get(key);
      if (known !== undefined) return known;
      let r = normalizePath(url);
      if (!seen.has(r)) {
        if (seen.size >= MAX_FALLBACK_ROUTES) r = '(other)';
        else seen.add(r);
      }
      if (byUrl.size >= MAX_FALLBACK_ROUTES) byUrl.clear();
      byUrl.set(key, r);
      return r;
    },
  };
  const logger = createLogger({
    service: o.service,
    instance: o.instance,
    minLevel: o.logLevel,
    enqueue: (r) => shipper.enqueue('logs', r),
    report,
  });
  if (!o.ingestKey)
    process.emitWarning('no ingest key (ingestKey option or PEEP_INGEST_KEY): telemetry is not sent', {
      code: 'PEEP_SDK_NO_INGEST_KEY',
    });

  let down: Promise<void> | undefined;
  const peep: Peep = {
    http: (listener, opts) => wrapListener(sink, listener, opts),
    express: () => expressMiddleware(sink),
    fastify: fastifyPlugin(sink),
    withPeep: (handler, opts) => wrapRouteHandler(sink, handler, opts),
    logger,
    currentRequest,
    flush(timeoutMs) {
      aggregator?.drain();
      return shipper.flush(timeoutMs);
    },
    shutdown(timeoutMs) {
      aggregator?.drain();
      aggregator?.stop();
      down ??= shipper.close(timeoutMs).finally(() => unhook(peep));
      return down;
    },
    stats: () => ({ ...shipper.stats(), pendingRequests: aggregator?.pending() ?? 0 }),
  };
  if (o.processHooks && o.ingestKey) hook(peep);
  defaultPeep ??= peep;
  return peep;
}

/** The first client made in this process, or one made now from the environment. */
export function getPeep(): Peep {
  defaultPeep ??= createPeep();
  return defaultPeep;
}

/**
 * Next.js route handlers with the default client (`getPeep()`), for apps configured by environment:
 * `export const GET = withPeep(async (req) => Response.json(...), { route: '/api/items/[id]' })`.
 */
export function withPeep<A extends unknown[]>(
  handler: (req: Request, ...rest: A) => Response | Promise<Response>,
  opts: NextOptions & { peep?: Peep } = {},
): (req: Request, ...rest: A) => Promise<Response> {
  let wrapped: ((req: Request, ...rest: A) => Promise<Response>) | undefined;
  return (req, ...rest) => {
    wrapped ??= (opts.peep ?? getPeep()).withPeep(handler, opts);
    return wrapped(req, ...rest);
  };
}
