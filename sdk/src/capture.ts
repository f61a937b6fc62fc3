/**
 * What every framework adapter shares: the per-request context (request id, trace id) kept in an
 * AsyncLocalStorage so the logger finds it, and the recording of one finished `node:http` exchange
 * as a request event. Adapters differ only in how they name the route template.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Aggregator } from './aggregate.js';

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
  /** Run requests inside their context (AsyncLocalStorage), for the logger and currentRequest(). */
  context: boolean;
  enqueue(event: object): void;
  /**
   * Aggregating mode: counts the request in its window and says whether to send it raw too (as a
   * sampled event); undefined sends every request as an event. `at` is performance.now() at the end.
   */
  aggregate?: (...a: [...Parameters<Aggregator['record']>, at: number]) => boolean;
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

/** What is known of a finished exchange: counted in an aggregate and/or queued as an event. */
export function finished(
  sink: EventSink,
  ctx: RequestContext,
  route: string,
  method: string,
  status: number,
  durationMs: number,
  bytesIn: number | undefined,
  bytesOut: number | undefined,
  at: number,
  aborted: boolean,
): void {
  let sampled = false;
  if (sink.aggregate) {
    if (!sink.aggregate(route, method, status, durationMs, bytesIn ?? 0, bytesOut ?? 0, at)) return;
    sampled = true;
  }
  const event: Record<string, unknown> = {
    time: Date.now(),
    service: sink.service,
    route,
    method,
    status,
    durationMs,
    bytesIn,
    bytesOut,
    requestId: ctx.requestId,
    traceId: ctx.traceId,
    instance: sink.instance,
  };
  if (sampled) event.sampled = true;
  // the client went away before the response was complete
  if (aborted) event.attributes = { aborted: true };
  sink.enqueue(event);
}

const TRACK = Symbol('peep.track');

interface Tracking {
  sink: EventSink;
  req: IncomingMessage;
  ctx: RequestContext;
  routeOf: () => string | undefined;
  start: number;
  written: number;
  write: ServerResponse['write'];
  end: ServerResponse['end'];
}
type Tracked = ServerResponse & { [TRACK]: Tracking };

// Shared functions rather than closures per request: recording must cost next to nothing.
function countedWrite(this: Tracked, chunk: unknown, encoding: unknown) {
  const t = this[TRACK];
  t.written += chunkBytes(chunk, encoding);
  // biome-ignore lint/complexity/noArguments: forwards whatever overload the caller used, without copying
  return (t.write as (...a: unknown[]) => boolean).apply(this, arguments as unknown as unknown[]);
}
function countedEnd(this: Tracked, chunk: unknown, encoding: unknown) {
  const t = this[TRACK];
  if (chunk !== undefined && typeof chunk !== 'function') t.written += chunkBytes(chunk, encoding);
  // biome-ignore lint/complexity/noArguments: forwards whatever overload the caller used, without copying
  return (t.end as (...a: unknown[]) => ServerResponse).apply(this, arguments as unknown as unknown[]);
}
function onClose(this: Tracked) {
  const t = this[TRACK];
  try {
    const at = performance.now();
    let route: string | undefined;
    try {
      route = t.routeOf();
    } catch {
      route = undefined;
    }
    const status = this.statusCode;
    finished(
      t.sink,
      t.ctx,
      route ? route.slice(0, 300) : t.sink.fallbackRoute(t.req.url),
      (t.req.method ?? 'GET').slice(0, 16),
      status >= 100 && status <= 599 ? status : 500,
      at - t.start,
      headerInt(t.req.headers['content-length']),
      headerInt(this.getHeader('content-length')) ?? t.written,
      at,
      !this.writableFinished,
    );
  } catch (e) {
    t.sink.report(e as Error);
  }
}

/**
 * Starts recording one exchange: sets X-Request-Id on the response, counts the body bytes written,
 * and on `close` records it with the route `routeOf()` names then (routers decide late).
 */
export function track(
  sink: EventSink,
  req: IncomingMessage,
  res: ServerResponse,
  ctx: RequestContext,
  routeOf: () => string | undefined,
): void {
  const r = res as Tracked;
  r[TRACK] = {
    sink,
    req,
    ctx,
    routeOf,
    start: performance.now(),
    written: 0,
    write: res.write,
    end: res.end,
  };
  try {
    if (!res.headersSent) res.setHeader('x-request-id', ctx.requestId);
  } catch {
    // a header set by a proxying handler before us; keep going
  }
  res.write = countedWrite as ServerResponse['write'];
  res.end = countedEnd as ServerResponse['end'];
  res.on('close', onClose);
}
