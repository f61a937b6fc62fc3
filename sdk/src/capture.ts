/**
 * What every framework adapter shares: the per-request context (request id, trace id) kept in an
 * AsyncLocalStorage so the logger finds it, and the recording of one finished `node:http` exchange
 * as a request event. Adapters differ only in how they name the route template.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface RequestContext {
  /** From the incoming X-Request-Id when it is usable, else generated; sent back in the response. */
  readonly requestId: string;
  /** From a W3C `traceparent` header, when present and valid. */
  readonly traceId: string | undefined;
  /** The caller's span id from `traceparent` (the parent of this request). */
  readonly parentSpanId: string | undefined;
}

export const als = new AsyncLocalStorage<RequestContext>();

/** The context of the request being handled, if any. */
export function currentRequest(): RequestContext | undefined {
  return als.getStore();
}

const REQUEST_ID = /^[\x21-\x7e]{1,128}$/;

/** An incoming request id worth keeping (1-128 printable ASCII characters, no spaces). */
export function usableRequestId(v: string | string[] | null | undefined): string | undefined {
  const s = Array.isArray(v) ? v[0] : v;
  return s && REQUEST_ID.test(s) ? s : undefined;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})/;

/** trace id and parent span id of a W3C traceparent header; undefined for a malformed or zero id. */
export function parseTraceparent(
  v: string | string[] | null | undefined,
): { traceId: string; parentSpanId: string } | undefined {
  const s = Array.isArray(v) ? v[0] : v;
  if (!s) return undefined;
  const m = TRACEPARENT.exec(s.trim().toLowerCase());
  if (!m || m[1] === 'ff' || !m[2] || !m[3] || /^0+$/.test(m[2]) || /^0+$/.test(m[3])) return undefined;
  return { traceId: m[2], parentSpanId: m[3] };
}

export function newContext(headers: {
  requestId: string | string[] | null | undefined;
  traceparent: string | string[] | null | undefined;
}): RequestContext {
  const tp = parseTraceparent(headers.traceparent);
  return {
    requestId: usableRequestId(headers.requestId) ?? randomUUID(),
    traceId: tp?.traceId,
    parentSpanId: tp?.parentSpanId,
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const HEXID = /^(?=.*\d)[0-9a-f]{16,}$/i;
const NUMBER = /^\d+$/;

/**
 * A route-like name for a URL when no router names it: the path without query, with numeric, UUID
 * and long hexadecimal segments replaced by `:id` (`/users/42/orders/9f…` → `/users/:id/orders/:id`).
 */
export function normalizePath(url: string | undefined): string {
  let p = url ?? '/';
  const q = p.search(/[?#]/);
  if (q >= 0) p = p.slice(0, q);
  if (!p.startsWith('/')) {
    // absolute-form request target (a proxy request): keep only the path
    const slash = p.indexOf('/', p.indexOf('//') + 2);
    p = p.includes('//') && slash > 0 ? p.slice(slash) : `/${p}`;
  }
  const parts = p.split('/');
  for (let i = 1; i < parts.length; i++) {
    const s = parts[i] ?? '';
    if (NUMBER.test(s) || UUID.test(s) || HEXID.test(s)) parts[i] = ':id';
  }
  let out = parts.join('/');
  if (out.length > 1 && out.endsWith('/')) out = out.slice(0, -1);
  return out.slice(0, 300) || '/';
}

export interface EventSink {
  service: string;
  instance: string;
  enqueue(event: object): void;
  report(err: Error): void;
  /** Bounds the number of distinct fallback (URL-derived) route names. */
  fallbackRoute(url: string | undefined): string;
}

function headerInt(v: number | string | string[] | undefined | null): number | undefined {
  const s = Array.isArray(v) ? v[0] : v;
  if (s === undefined || s === null || s === '') return undefined;
  const n = typeof s === 'number' ? s : Number(s);
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

/** Bytes of a chunk passed to write()/end(), without copying it. */
function chunkBytes(chunk: unknown, encoding: unknown): number {
  if (typeof chunk === 'string')
    return Buffer.byteLength(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
  if (chunk instanceof Uint8Array) return chunk.byteLength;
  return 0;
}

/**
 * Starts recording one exchange: sets X-Request-Id on the response, counts the body bytes written,
 * and on `close` queues the event with the route `routeOf()` names then (routers decide late).
 */
export function track(
  sink: EventSink,
  req: IncomingMessage,
  res: ServerResponse,
  ctx: RequestContext,
  routeOf: () => string | undefined,
): void {
  const start = process.hrtime.bigint();
  try {
    if (!res.headersSent) res.setHeader('x-request-id', ctx.requestId);
  } catch {
    // a header set by a proxying handler before us; keep going
  }
  let written = 0;
  const write = res.write;
  const end = res.end;
  // biome-ignore lint/suspicious/noExplicitAny: forwards whatever overload the caller used
  res.write = function (this: ServerResponse, chunk: any, ...rest: any[]) {
    written += chunkBytes(chunk, rest[0]);
    return (write as (...a: unknown[]) => boolean).apply(this, [chunk, ...rest]);
  } as typeof res.write;
  // biome-ignore lint/suspicious/noExplicitAny: forwards whatever overload the caller used
  res.end = function (this: ServerResponse, chunk?: any, ...rest: any[]) {
    if (chunk !== undefined && typeof chunk !== 'function') written += chunkBytes(chunk, rest[0]);
    return (end as (...a: unknown[]) => ServerResponse).apply(this, [chunk, ...rest]);
  } as typeof res.end;
  res.once('close', () => {
    try {
      const durationMs = Number(process.hrtime.bigint() - start) / 1e6;
      let route: string | undefined;
      try {
        route = routeOf();
      } catch {
        route = undefined;
      }
      const event: Record<string, unknown> = {
        time: Date.now(),
        service: sink.service,
        route: route ? route.slice(0, 300) : sink.fallbackRoute(req.url),
        method: (req.method ?? 'GET').toUpperCase().slice(0, 16),
        status: res.statusCode >= 100 && res.statusCode <= 599 ? res.statusCode : 500,
        durationMs,
        bytesIn: headerInt(req.headers['content-length']),
        bytesOut: headerInt(res.getHeader('content-length')) ?? written,
        requestId: ctx.requestId,
        traceId: ctx.traceId,
        instance: sink.instance,
      };
      // the client went away before the response was complete
      if (!res.writableFinished) event.attributes = { aborted: true };
      sink.enqueue(event);
    } catch (e) {
      sink.report(e as Error);
    }
  });
}
