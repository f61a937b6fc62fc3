/**
 * The framework adapters, typed structurally so the SDK needs neither Express, Fastify nor Next.js
 * installed (nor their types): `node:http` request listeners, Express/Connect middleware, a Fastify
 * plugin, and Next.js route handlers (Web `Request` → `Response`). Each names the route template the
 * way its router knows it, and falls back to the normalized URL path.
 */
import { AsyncResource } from 'node:async_hooks';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { als, type EventSink, finished, newContext, type RequestContext, track } from './capture.js';

export type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

export interface HttpOptions {
  /** Names the route template of a request (e.g. from your own router); default: the normalized path. */
  route?: (req: IncomingMessage) => string | undefined;
}

const unnamed = () => undefined;

/** Wraps a `node:http` request listener. */
export function wrapListener(
  sink: EventSink,
  listener: RequestListener,
  opts: HttpOptions = {},
): RequestListener {
  const routeOf = opts.route;
  return (req, res) => {
    let ctx: RequestContext | undefined;
    try {
      ctx = newContext({ requestId: req.headers['x-request-id'], traceparent: req.headers.traceparent });
      track(sink, req, res, ctx, routeOf ? () => routeOf(req) : unnamed);
    } catch (e) {
      sink.report(e as Error);
    }
    if (ctx && sink.context) als.run(ctx, listener, req, res);
    else listener(req, res);
  };
}

interface ExpressRequest extends IncomingMessage {
  route?: { path?: unknown };
  baseUrl?: string;
}

export type ExpressMiddleware = (
  req: IncomingMessage,
  res: ServerResponse,
  next: (err?: unknown) => void,
) => void;

/** An Express route template: the mount path (`req.baseUrl`) + `req.route.path` when that is a string. */
export function expressRoute(baseUrl: string | undefined, route: unknown): string | undefined {
  const p = (route as { path?: unknown } | undefined)?.path;
  if (typeof p !== 'string') return undefined;
  const base = baseUrl ?? '';
  const joined = `${base}${p === '/' && base ? '' : p}`;
  return joined || '/';
}

/**
 * Remembers the template of the route Express matches, with the mount path in effect at that moment:
 * by the time the response ends (after an error handler, say) Express has restored `req.baseUrl`.
 */
function watchExpressRoute(req: ExpressRequest): () => string | undefined {
  let value = req.route;
  let matched: string | undefined;
  Object.defineProperty(req, 'route', {
    configurable: true,
    enumerable: true,
    get: () => value,
    set: (v: unknown) => {
      value = v as ExpressRequest['route'];
      matched = expressRoute(req.baseUrl, v) ?? matched;
    },
  });
  return () => matched ?? expressRoute(req.baseUrl, value);
}

/** Express (4 and 5) or Connect middleware; register it first: `app.use(peep.express())`. */
export function expressMiddleware(sink: EventSink): ExpressMiddleware {
  return (req, res, next) => {
    let ctx: RequestContext | undefined;
    try {
      ctx = newContext({ requestId: req.headers['x-request-id'], traceparent: req.headers.traceparent });
      track(sink, req, res, ctx, watchExpressRoute(req as ExpressRequest));
    } catch (e) {
      sink.report(e as Error);
    }
    if (!ctx || !sink.context) return next();
    // Body parsers call next() from stream events, which run outside the request's context; binding
    // `next` to it keeps the logger's request id in every later middleware and handler.
    als.run(ctx, () => {
      const scope = new AsyncResource('peep.request');
      scope.runInAsyncScope(next);
    });
  };
}

interface FastifyRequestLike {
  raw: IncomingMessage;
  headers: IncomingMessage['headers'];
  routeOptions?: { url?: string };
}
interface FastifyReplyLike {
  raw: ServerResponse;
}
// biome-ignore lint/suspicious/noExplicitAny: structural stand-in for FastifyInstance's overloaded addHook
type AnyHook = (...args: any[]) => any;
export interface FastifyLike {
  addHook(name: string, hook: AnyHook): unknown;
}
export type FastifyPlugin = ((instance: FastifyLike, opts: unknown, done: (err?: Error) => void) => void) & {
  [key: symbol]: unknown;
};

const SCOPE = Symbol('peep.scope');

/**
 * A Fastify plugin (`app.register(peep.fastify)`), applied to the whole app like fastify-plugin does.
 * The route template is `request.routeOptions.url`. The request's context is re-entered before
 * validation because body parsing runs outside it (as @fastify/request-context does).
 */
export function fastifyPlugin(sink: EventSink): FastifyPlugin {
  const plugin = ((instance: FastifyLike, _opts: unknown, done: (err?: Error) => void) => {
    instance.addHook(
      'onRequest',
      (request: FastifyRequestLike, reply: FastifyReplyLike, next: () => void) => {
        let ctx: RequestContext | undefined;
        try {
          ctx = newContext({
            requestId: request.headers['x-request-id'],
            traceparent: request.headers.traceparent,
          });
          track(sink, request.raw, reply.raw, ctx, () => request.routeOptions?.url);
        } catch (e) {
          sink.report(e as Error);
        }
        if (!ctx || !sink.context) return next();
        als.run(ctx, () => {
          const scope = new AsyncResource('peep.request');
          (request.raw as IncomingMessage & { [SCOPE]?: AsyncResource })[SCOPE] = scope;
          scope.runInAsyncScope(next);
        });
      },
    );
    instance.addHook('preValidation', (request: FastifyRequestLike, _reply: unknown, next: () => void) => {
      const scope = (request.raw as IncomingMessage & { [SCOPE]?: AsyncResource })[SCOPE];
      if (scope) scope.runInAsyncScope(next);
      else next();
    });
    done();
  }) as FastifyPlugin;
  // what fastify-plugin sets: hooks apply to the whole app, not an encapsulated child
  plugin[Symbol.for('skip-override')] = true;
  plugin[Symbol.for('fastify.display-name')] = '@peep/sdk';
  plugin[Symbol.for('plugin-meta')] = { name: '@peep/sdk', fastify: '4.x || 5.x' };
  return plugin;
}

export interface NextOptions {
  /** The route template, e.g. `/api/users/[id]`; default: the normalized request path. */
  route?: string;
}

function intHeader(h: Headers, name: string): number | undefined {
  const v = h.get(name);
  if (v === null || v === '') return undefined;
  const n = Number(v);
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

/**
 * Wraps a Next.js route handler (App Router, Node.js runtime): `export const GET = withPeep(handler,
 * { route: '/api/users/[id]' })`. The duration ends when the handler returns its Response; an error
 * it throws is recorded as a 500 and rethrown unchanged.
 */
export function wrapRouteHandler<A extends unknown[]>(
  sink: EventSink,
  handler: (req: Request, ...rest: A) => Response | Promise<Response>,
  opts: NextOptions = {},
): (req: Request, ...rest: A) => Promise<Response> {
  return async (req, ...rest) => {
    let ctx: RequestContext | undefined;
    const start = performance.now();
    try {
      ctx = newContext({
        requestId: req.headers.get('x-request-id'),
        traceparent: req.headers.get('traceparent'),
      });
    } catch (e) {
      sink.report(e as Error);
    }
    const record = (status: number, res: Response | undefined) => {
      if (!ctx) return;
      try {
        let path: string | undefined;
        try {
          path = new URL(req.url).pathname;
        } catch {
          path = undefined;
        }
        const at = performance.now();
        finished(
          sink,
          ctx,
          opts.route ? opts.route.slice(0, 300) : sink.fallbackRoute(path),
          req.method.toUpperCase().slice(0, 16),
          status >= 100 && status <= 599 ? status : 500,
          at - start,
          intHeader(req.headers, 'content-length'),
          res ? intHeader(res.headers, 'content-length') : undefined,
          at,
          false,
        );
      } catch (e) {
        sink.report(e as Error);
      }
    };
    let res: Response;
    try {
      res =
        ctx && sink.context ? await als.run(ctx, () => handler(req, ...rest)) : await handler(req, ...rest);
    } catch (e) {
      record(500, undefined);
      throw e;
    }
    record(res.status, res);
    if (!ctx) return res;
    try {
      res.headers.set('x-request-id', ctx.requestId);
      return res;
    } catch {
      // immutable headers (Response.redirect, a fetched response): copy them into a new Response
      try {
        const copy = new Response(res.body, res);
        copy.headers.set('x-request-id', ctx.requestId);
        return copy;
      } catch {
        return res;
      }
    }
  };
}
