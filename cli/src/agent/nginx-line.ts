/**
 * One line of nginx's `peep_json` access log (nginx/peep.conf) as one request event of
 * docs/telemetry.md. nginx writes every value as a JSON string (escape=json), and the upstream
 * fields can be lists ("0.002, 0.004" after a retry to the next upstream), so they are kept as
 * strings in the attributes. The route is the path with ids replaced, so that routes aggregate.
 */

export interface RequestEvent {
  time: number;
  service: string;
  route: string;
  method: string;
  status: number;
  durationMs: number;
  bytesIn?: number;
  bytesOut?: number;
  requestId?: string;
  instance?: string;
  attributes?: Record<string, string>;
}

export type Parsed = { ok: true; event: RequestEvent } | { ok: false; reason: string };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const LONG_HEX = /^[0-9a-f]{16,}$/i;
const NUMBER = /^\d+$/;
const ROUTE_MAX = 300;

/**
 * `/users/42/orders/9f1c…?x=1` -> `/users/:id/orders/:id`: the path without query or fragment,
 * numeric, UUID and long hexadecimal segments replaced by `:id`. An absolute-form request target
 * (`http://host/path`) loses its scheme and host.
 */
export function routeTemplate(uri: string): string {
  let p = uri;
  const cut = p.search(/[?#]/);
  if (cut >= 0) p = p.slice(0, cut);
  const abs = /^[a-z][a-z0-9+.-]*:\/\/[^/]*/i.exec(p);
  if (abs) p = p.slice(abs[0].length);
  if (p === '') return '/';
  const route = p
    .split('/')
    .map((s) => (NUMBER.test(s) || UUID.test(s) || LONG_HEX.test(s) ? ':id' : s))
    .join('/');
  return route.length > ROUTE_MAX ? route.slice(0, ROUTE_MAX) : route;
}

/** nginx writes an unset variable as "" with escape=json and as "-" otherwise. */
function present(v: unknown): v is string {
  return typeof v === 'string' && v !== '' && v !== '-';
}

function nonNegativeInt(v: unknown): number | undefined {
  return present(v) && NUMBER.test(v) ? Number(v) : undefined;
}

/** `$msec` ("1712345678.123", milliseconds) when logged, else `$time_iso8601` (seconds). */
function parseTime(line: Record<string, unknown>): number | undefined {
  if (present(line.msec) && /^\d+(\.\d+)?$/.test(line.msec)) return Math.round(Number(line.msec) * 1000);
  if (present(line.time)) {
    const t = Date.parse(line.time);
    if (!Number.isNaN(t)) return t;
  }
  return undefined;
}

export interface LineDefaults {
  /** --service; else the line's host; else "nginx". */
  service?: string;
  /** The machine the agent runs on. */
  instance?: string;
}

export function parseLine(text: string, defaults: LineDefaults = {}): Parsed {
  let line: unknown;
  try {
    line = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'not JSON' };
  }
  if (typeof line !== 'object' || line === null || Array.isArray(line))
    return { ok: false, reason: 'not a JSON object' };
  const l = line as Record<string, unknown>;

  const time = parseTime(l);
  if (time === undefined) return { ok: false, reason: 'no valid msec or time' };
  const status = nonNegativeInt(l.status);
  if (status === undefined || status < 100 || status > 599)
    return { ok: false, reason: 'status missing or not 100-599' };
  const method = present(l.method) ? l.method.toUpperCase() : '';
  if (!/^[A-Z]{1,16}$/.test(method)) return { ok: false, reason: 'method missing or not A-Z' };
  const uri = present(l.uri) ? l.uri : present(l.request_uri) ? l.request_uri : undefined;
  if (uri === undefined) return { ok: false, reason: 'uri missing' };
  if (!present(l.request_time) || !/^\d+(\.\d+)?$/.test(l.request_time))
    return { ok: false, reason: 'request_time missing or not a number' };

  const host = present(l.host) ? l.host : undefined;
  const service = (defaults.service ?? host ?? 'nginx').slice(0, 100);
  const attributes: Record<string, string> = {};
  if (host) attributes.host = host;
  if (present(l.upstream_response_time)) attributes.upstreamTime = l.upstream_response_time;
  if (present(l.upstream_status)) attributes.upstreamStatus = l.upstream_status;
  if (present(l.upstream_addr)) attributes.upstreamAddr = l.upstream_addr;

  const event: RequestEvent = {
    time,
    service,
    route: routeTemplate(uri),
    method,
    status,
    durationMs: Number(l.request_time) * 1000,
  };
  const bytesIn = nonNegativeInt(l.request_length);
  const bytesOut = nonNegativeInt(l.bytes_sent) ?? nonNegativeInt(l.bytes);
  if (bytesIn !== undefined) event.bytesIn = bytesIn;
  if (bytesOut !== undefined) event.bytesOut = bytesOut;
  if (present(l.request_id)) event.requestId = l.request_id.slice(0, 128);
  if (defaults.instance) event.instance = defaults.instance.slice(0, 200);
  if (Object.keys(attributes).length > 0) event.attributes = attributes;
  return { ok: true, event };
}
