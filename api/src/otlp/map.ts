/**
 * OTLP requests to peep rows (docs/telemetry.md, "OpenTelemetry (OTLP/HTTP)"). Pure functions: a
 * decoded request (decode.ts; protobuf and JSON read alike through the accessors below) and the
 * check context in, rows plus the count and reasons of rejected items out.
 *
 * - Spans of kind SERVER become request events; other spans are accepted and not stored.
 * - Log records become runtime logs.
 * - Sum, gauge, histogram and exponential histogram data points become metric points (an
 *   exponential histogram with only positive buckets is stored as the equivalent explicit
 *   histogram; with negative buckets, count/sum/min/max only). Summary points are rejected.
 *
 * A malformed envelope (resourceSpans not a list, ...) is a bad request as a whole (invalid_payload);
 * a malformed or invalid item is rejected alone and counted in partial_success.
 */
import { AppError } from '@peep/pkg';
import {
  type Attributes,
  type CheckContext,
  type Checked,
  checkEvent,
  checkLog,
  type EventRow,
  type LogRow,
  MAX_ATTRIBUTES,
  MAX_ATTRIBUTES_JSON,
  MAX_FUTURE_MS,
  MAX_MESSAGE,
  type MetricRow,
} from '../telemetry/types.js';
import type { Msg } from './decode.js';

export interface Mapped<T> {
  rows: T[];
  /** Items refused (counted in partial_success). */
  rejected: number;
  /** Items accepted but not stored: non-SERVER spans, data points flagged "no recorded value". */
  ignored: number;
  /** Up to MAX_MESSAGES reasons for rejections, for partial_success.error_message. */
  messages: string[];
}

const MAX_MESSAGES = 5;
/** Longest string attribute value kept whole; longer ones are cut (attributes total 8 KB). */
const MAX_ATTRIBUTE_VALUE = 2048;
const MAX_ROUTE = 300;
const MAX_METRIC_NAME = 255;
const MAX_UNIT = 63;
const MAX_BUCKETS = 1000;
/** OpenTelemetry's default when a resource has no service.name. */
export const UNKNOWN_SERVICE = 'unknown_service';

/** Thrown by the accessors on a value of the wrong type (only OTLP/JSON can have those). */
class ShapeError extends Error {}
const bad = (message: string): never => {
  throw new ShapeError(message);
};

// --- accessors: protobufjs messages and OTLP/JSON objects alike ---

const isObj = (v: unknown): v is Msg => typeof v === 'object' && v !== null && !Array.isArray(v);
const EMPTY: Msg = Object.freeze({}) as Msg;
const NONE: readonly unknown[] = Object.freeze([]);

function list(m: Msg, k: string): readonly unknown[] {
  const v = m[k];
  if (v === undefined || v === null) return NONE;
  return Array.isArray(v) ? v : bad(`${k} must be a list`);
}
function msgs(m: Msg, k: string): Msg[] {
  const l = list(m, k);
  for (const x of l) if (!isObj(x)) bad(`every element of ${k} must be an object`);
  return l as Msg[];
}
function obj(m: Msg, k: string): Msg {
  const v = m[k];
  if (v === undefined || v === null) return EMPTY;
  return isObj(v) ? v : bad(`${k} must be an object`);
}
/** Set, in the sense of a proto3 oneof or `optional` field: an own property that is not null. */
const has = (m: Msg, k: string) => Object.hasOwn(m, k) && m[k] !== null && m[k] !== undefined;

function str(m: Msg, k: string): string {
  const v = m[k];
  if (v === undefined || v === null) return '';
  return typeof v === 'string' ? v : bad(`${k} must be a string`);
}

/** int32/uint32/enum: a number, or (JSON) its decimal string. */
function int(m: Msg, k: string): number {
  const v = m[k];
  if (v === undefined || v === null) return 0;
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (typeof v === 'string' && /^-?\d+$/.test(v)) return Number(v);
  return bad(`${k} must be an integer`);
}

/** 64-bit integer as a number (exact up to 2^53; nanosecond times lose < 1 µs): Long, number or string. */
function int64(v: unknown, k: string): number {
  if (v === undefined || v === null) return 0;
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (typeof v === 'string' && /^-?\d+$/.test(v)) return Number(v);
  if (typeof v === 'object' && typeof (v as { toNumber?: unknown }).toNumber === 'function')
    return (v as { toNumber(): number }).toNumber();
  return bad(`${k} must be a 64-bit integer`);
}

/** double: a number, or (JSON) "NaN", "Infinity", "-Infinity" or a numeric string. */
function dbl(v: unknown, k: string): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v.trim() !== '') {
    const n = Number(v);
    if (!Number.isNaN(n) || v === 'NaN') return n;
  }
  return bad(`${k} must be a number`);
}

/**
 * Nanoseconds since the epoch (a double, so only good to ~256 ns) to milliseconds, rounded to the
 * microsecond: 1795386766154000000 must read as 1795386766154, not 1795386766153.9999.
 */
const nanosToMs = (n: number) => Math.round(n / 1e3) / 1e3;

/** Trace and span ids: bytes (protobuf) or hex (JSON); empty means absent. */
function id(m: Msg, k: string, bytes: number): string | null {
  const v = m[k];
  // protobufjs' default for an unset bytes field is an empty array on the prototype.
  if (v === undefined || v === null || (Array.isArray(v) && v.length === 0)) return null;
  if (v instanceof Uint8Array) {
    if (v.length === 0) return null;
    if (v.length !== bytes) bad(`${k} must be ${bytes} bytes`);
    // protobufjs hands out Buffers on Node; anything else gets a Buffer view.
    return (Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.length)).toString('hex');
  }
  if (typeof v !== 'string') return bad(`${k} must be a hex string`);
  if (v === '') return null;
  if (v.length !== bytes * 2 || !/^[0-9a-fA-F]+$/.test(v)) bad(`${k} must be ${bytes * 2} hex digits`);
  return v.toLowerCase();
}

// --- AnyValue and attributes ---

type Plain = string | number | boolean | null | Plain[] | { [k: string]: Plain };

/** Arrays and maps in attribute values and log bodies nest at most this deep (the stack is finite). */
const MAX_DEPTH = 32;

/** An AnyValue as a plain JavaScript value (bytes as base64); unset is null. */
export function anyValue(v: unknown, depth = 0): Plain {
  if (depth > MAX_DEPTH) bad(`attribute values nest deeper than ${MAX_DEPTH} levels`);
  if (!isObj(v))
    return v === undefined || v === null ? null : bad('an attribute value must be an AnyValue object');
  if (has(v, 'stringValue')) return str(v, 'stringValue');
  if (has(v, 'boolValue')) {
    const b = v.boolValue;
    return typeof b === 'boolean' ? b : bad('boolValue must be a boolean');
  }
  if (has(v, 'intValue')) return int64(v.intValue, 'intValue');
  if (has(v, 'doubleValue')) return dbl(v.doubleValue, 'doubleValue');
  if (has(v, 'arrayValue')) return msgs(obj(v, 'arrayValue'), 'values').map((x) => anyValue(x, depth + 1));
  if (has(v, 'kvlistValue')) {
    const out: { [k: string]: Plain } = {};
    for (const kv of msgs(obj(v, 'kvlistValue'), 'values'))
      out[str(kv, 'key')] = anyValue(kv.value, depth + 1);
    return out;
  }
  if (has(v, 'bytesValue')) {
    const b = v.bytesValue;
    if (b instanceof Uint8Array) return Buffer.from(b.buffer, b.byteOffset, b.length).toString('base64');
    return typeof b === 'string' ? b : bad('bytesValue must be base64');
  }
  return null;
}

/** A KeyValue list as a Map of plain values (later keys win, as in the SDKs). */
function attributeMap(m: Msg, k = 'attributes'): Map<string, Plain> {
  const out = new Map<string, Plain>();
  for (const kv of msgs(m, k)) {
    const v = anyValue(kv.value);
    if (v !== null) out.set(str(kv, 'key'), v);
  }
  return out;
}

/** Characters JSON.stringify escapes (or may: surrogates); strings without them are quoted as is. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: JSON escapes exactly these control characters
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;
/** JSON.stringify(v).length without stringifying in the common case. */
function jsonLength(v: string | number | boolean): number {
  if (typeof v !== 'string') return String(v).length;
  return NEEDS_ESCAPE.test(v) ? JSON.stringify(v).length : v.length + 2;
}

/** Attributes as peep stores them: scalars (lists and maps as JSON text), at most 64 keys and 8 KB. */
export function capAttributes(attrs: Map<string, Plain>, skip: ReadonlySet<string>): Attributes | null {
  const out: Attributes = {};
  let n = 0;
  let size = 2; // {}
  for (const [k, v] of attrs) {
    if (n >= MAX_ATTRIBUTES) break;
    if (skip.has(k) || k.length === 0 || k.length > 200) continue;
    let s: string | number | boolean;
    if (typeof v === 'number') s = Number.isFinite(v) ? v : String(v);
    else if (typeof v === 'string' || typeof v === 'boolean') s = v;
    else s = JSON.stringify(v);
    if (typeof s === 'string' && s.length > MAX_ATTRIBUTE_VALUE)
      s = `${s.slice(0, MAX_ATTRIBUTE_VALUE - 1)}…`;
    const add = jsonLength(k) + 1 + jsonLength(s) + (n > 0 ? 1 : 0);
    if (size + add > MAX_ATTRIBUTES_JSON) continue;
    out[k] = s;
    size += add;
    n++;
  }
  return n > 0 ? out : null;
}

const text = (v: Plain | undefined): string | null =>
  v === undefined || v === null
    ? null
    : typeof v === 'string'
      ? v
      : Array.isArray(v)
        ? text(v[0])
        : String(v);
const whole = (v: Plain | undefined): number | null => {
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0 ? n : null;
};

// --- the three signals ---

interface Resource {
  service: string;
  instance: string | null;
}
function resourceOf(container: Msg): Resource {
  const attrs = attributeMap(obj(container, 'resource'));
  return {
    service: text(attrs.get('service.name')) || UNKNOWN_SERVICE,
    instance: text(attrs.get('service.instance.id')) ?? text(attrs.get('host.name')),
  };
}

function collector<T>(): Mapped<T> & { reject(what: string, message: string): void } {
  const m: Mapped<T> = { rows: [], rejected: 0, ignored: 0, messages: [] };
  return Object.assign(m, {
    reject(what: string, message: string) {
      m.rejected++;
      if (m.messages.length < MAX_MESSAGES) m.messages.push(`${what}: ${message}`);
    },
  });
}

/** Runs a whole-request step; shape errors there make the request undecodable (400). */
function envelope<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof ShapeError)
      throw new AppError('invalid_payload', `Not a valid OTLP request: ${e.message}`);
    throw e;
  }
}

/** Calls `f` for every item of a resource → scope → item request, with the item's resource. */
function eachItem(req: Msg, [r, sc, it]: [string, string, string], f: (item: Msg, res: Resource) => void) {
  for (const rx of envelope(() => msgs(req, r))) {
    const res = envelope(() => resourceOf(rx));
    for (const sx of envelope(() => msgs(rx, sc)))
      for (const item of envelope(() => msgs(sx, it))) f(item, res);
  }
}

/**
 * Maps one item: `f` returns a checked row (kept or rejected with its reason) or nothing (skipped);
 * a shape error rejects the item alone.
 */
function attempt<T>(
  out: ReturnType<typeof collector<T>>,
  what: string,
  f: () => Checked<T> | undefined,
): void {
  try {
    const c = f();
    if (!c) return;
    if (c.ok) out.rows.push(c.row);
    else out.reject(what, c.message);
  } catch (e) {
    if (!(e instanceof ShapeError)) throw e;
    out.reject(what, e.message);
  }
}

const SPAN_KIND_SERVER = 2;
const STATUS_CODE_ERROR = 2;
const REQUEST_ID_ATTRIBUTE = 'http.request.header.x-request-id';
/** Span attributes that become event fields rather than attributes. */
const EVENT_FIELD_ATTRIBUTES = new Set([
  'http.route',
  'http.request.method',
  'http.request.method_original',
  'http.method',
  'http.response.status_code',
  'http.status_code',
  REQUEST_ID_ATTRIBUTE,
  'http.request.body.size',
  'http.request_content_length',
  'http.response.body.size',
  'http.response_content_length',
]);

/** The path of a URL or request target, without query or fragment. */
function pathOf(v: string | null): string | null {
  if (!v) return null;
  let p = v;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(p)) {
    try {
      p = new URL(p).pathname;
    } catch {
      return null;
    }
  }
  p = p.split(/[?#]/, 1)[0] ?? '';
  return p || null;
}

/** One SERVER span as a native event item (checked by checkEvent afterwards). */
function spanEvent(span: Msg, res: Resource): Record<string, unknown> {
  const a = attributeMap(span);
  let method = text(a.get('http.request.method')) ?? text(a.get('http.method'));
  if (method === '_OTHER') method = text(a.get('http.request.method_original')) ?? 'OTHER';
  if (!method) {
    const rpc = text(a.get('rpc.system'));
    if (!rpc) bad('a SERVER span needs http.request.method (or http.method, or rpc.system)');
    method = (rpc as string).toUpperCase().replace(/[^A-Z0-9_-]/g, '_');
  }
  let route =
    text(a.get('http.route')) ??
    pathOf(text(a.get('url.path'))) ??
    pathOf(text(a.get('http.target'))) ??
    pathOf(text(a.get('url.full')) ?? text(a.get('http.url'))) ??
    (str(span, 'name') || null);
  if (route && route.length > MAX_ROUTE) route = route.slice(0, MAX_ROUTE);
  const statusAttr = a.get('http.response.status_code') ?? a.get('http.status_code');
  const status =
    statusAttr !== undefined && statusAttr !== null
      ? typeof statusAttr === 'string' && /^\d+$/.test(statusAttr)
        ? Number(statusAttr)
        : statusAttr
      : int(obj(span, 'status'), 'code') === STATUS_CODE_ERROR
        ? 500
        : 200;
  const start = int64(span.startTimeUnixNano, 'startTimeUnixNano');
  const end = int64(span.endTimeUnixNano, 'endTimeUnixNano');
  if (end === 0) bad('endTimeUnixNano is required');
  return {
    time: Math.floor(nanosToMs(end)),
    service: res.service,
    route,
    method,
    status,
    durationMs: Math.round((end - start) / 1e3) / 1e3,
    bytesIn: whole(a.get('http.request.body.size') ?? a.get('http.request_content_length')),
    bytesOut: whole(a.get('http.response.body.size') ?? a.get('http.response_content_length')),
    requestId: text(a.get(REQUEST_ID_ATTRIBUTE)),
    traceId: id(span, 'traceId', 16),
    instance: res.instance,
    attributes: capAttributes(a, EVENT_FIELD_ATTRIBUTES),
  };
}

/** ExportTraceServiceRequest → request events. */
export function mapTraces(req: Msg, ctx: CheckContext): Mapped<EventRow> {
  const out = collector<EventRow>();
  eachItem(req, ['resourceSpans', 'scopeSpans', 'spans'], (span, res) =>
    attempt(out, `span ${JSON.stringify(typeof span.name === 'string' ? span.name : '')}`, () => {
      if (int(span, 'kind') !== SPAN_KIND_SERVER) out.ignored++;
      else return checkEvent(spanEvent(span, res), ctx);
    }),
  );
  return out;
}

/** severity_number (1-24) to peep's levels; unspecified reads severity_text, else info. */
export function levelOf(severityNumber: number, severityText: string): string {
  if (severityNumber >= 1 && severityNumber <= 24)
    return (['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const)[
      Math.floor((severityNumber - 1) / 4)
    ] as string;
  const t = severityText.toLowerCase();
  if (t.startsWith('trace')) return 'trace';
  if (t.startsWith('debug')) return 'debug';
  if (t.startsWith('warn')) return 'warn';
  if (t.startsWith('err')) return 'error';
  if (t.startsWith('fatal') || t.startsWith('crit') || t.startsWith('emerg') || t.startsWith('alert'))
    return 'fatal';
  return 'info';
}

const LOG_FIELD_ATTRIBUTES = new Set([REQUEST_ID_ATTRIBUTE]);

function logItem(rec: Msg, res: Resource): Record<string, unknown> {
  const a = attributeMap(rec);
  const body = anyValue(rec.body);
  let message =
    typeof body === 'string' ? body : body === null ? str(rec, 'eventName') : JSON.stringify(body);
  if (message.length > MAX_MESSAGE) message = `${message.slice(0, MAX_MESSAGE - 1)}…`;
  const t =
    int64(rec.timeUnixNano, 'timeUnixNano') || int64(rec.observedTimeUnixNano, 'observedTimeUnixNano');
  return {
    time: t === 0 ? undefined : Math.floor(nanosToMs(t)),
    service: res.service,
    level: levelOf(int(rec, 'severityNumber'), str(rec, 'severityText')),
    message,
    requestId: text(a.get(REQUEST_ID_ATTRIBUTE)),
    traceId: id(rec, 'traceId', 16),
    spanId: id(rec, 'spanId', 8),
    instance: res.instance,
    attributes: capAttributes(a, LOG_FIELD_ATTRIBUTES),
  };
}

/** ExportLogsServiceRequest → runtime logs. */
export function mapLogs(req: Msg, ctx: CheckContext): Mapped<LogRow> {
  const out = collector<LogRow>();
  let i = 0;
  eachItem(req, ['resourceLogs', 'scopeLogs', 'logRecords'], (rec, res) =>
    attempt(out, `log record ${i++}`, () => checkLog(logItem(rec, res), ctx)),
  );
  return out;
}

const TEMPORALITY: Record<number, MetricRow['temporality']> = { 1: 'delta', 2: 'cumulative' };
const FLAG_NO_RECORDED_VALUE = 1;

interface MetricBase {
  service: string;
  name: string;
  unit: string | null;
}

function finite(v: number, k: string): number {
  return Number.isFinite(v) ? v : bad(`${k} must be a finite number`);
}
const optionalDbl = (dp: Msg, k: string) => (has(dp, k) ? finite(dbl(dp[k], k), k) : null);
const counts = (dp: Msg, k: string) => list(dp, k).map((c) => int64(c, k));

/** The same window as checkTime: within raw retention and at most 10 minutes ahead. */
function pointTime(nanos: number, ctx: CheckContext): number {
  if (nanos === 0) return ctx.now;
  const t = Math.floor(nanosToMs(nanos));
  if (t > ctx.now + MAX_FUTURE_MS) bad('timeUnixNano is more than 10 minutes in the future');
  if (t < ctx.oldest) bad("timeUnixNano is older than the project's raw retention");
  return t;
}

function point(
  dp: Msg,
  base: MetricBase,
  ctx: CheckContext,
): Omit<MetricRow, 'kind' | 'monotonic' | 'temporality'> {
  const t = int64(dp.timeUnixNano, 'timeUnixNano');
  const start = int64(dp.startTimeUnixNano, 'startTimeUnixNano');
  return {
    time: pointTime(t, ctx),
    startTime: start === 0 ? null : Math.floor(nanosToMs(start)),
    service: base.service,
    name: base.name,
    unit: base.unit,
    value: null,
    count: null,
    sum: null,
    min: null,
    max: null,
    bounds: null,
    bucketCounts: null,
    attributes: capAttributes(attributeMap(dp), new Set()),
  };
}

function numberPoint(dp: Msg): number {
  if (has(dp, 'asDouble')) return finite(dbl(dp.asDouble, 'asDouble'), 'asDouble');
  if (has(dp, 'asInt')) return int64(dp.asInt, 'asInt');
  return bad('a number data point needs asDouble or asInt');
}

function histogramPoint(
  dp: Msg,
): Pick<MetricRow, 'count' | 'sum' | 'min' | 'max' | 'bounds' | 'bucketCounts'> {
  const bounds = list(dp, 'explicitBounds').map((b) => finite(dbl(b, 'explicitBounds'), 'explicitBounds'));
  const bucketCounts = counts(dp, 'bucketCounts');
  if (bucketCounts.length > MAX_BUCKETS) bad(`more than ${MAX_BUCKETS} buckets`);
  if (bucketCounts.length > 0 && bucketCounts.length !== bounds.length + 1)
    bad('bucketCounts must have one more element than explicitBounds');
  for (let i = 1; i < bounds.length; i++)
    if ((bounds[i] as number) <= (bounds[i - 1] as number)) bad('explicitBounds must increase');
  return {
    count: int64(dp.count, 'count'),
    sum: optionalDbl(dp, 'sum'),
    min: optionalDbl(dp, 'min'),
    max: optionalDbl(dp, 'max'),
    bounds: bucketCounts.length > 0 ? bounds : null,
    bucketCounts: bucketCounts.length > 0 ? bucketCounts : null,
  };
}

/**
 * An exponential histogram point. Positive bucket i (index offset+i) holds values in
 * (base^(offset+i), base^(offset+i+1)] with base = 2^(2^-scale): exactly an explicit histogram with
 * bounds base^offset .. base^(offset+n), the zero bucket counted below the first bound. With
 * negative buckets only count, sum, min and max are kept.
 */
export function exponentialPoint(
  dp: Msg,
): Pick<MetricRow, 'count' | 'sum' | 'min' | 'max' | 'bounds' | 'bucketCounts'> {
  const scale = int(dp, 'scale');
  if (scale < -10 || scale > 20) bad('scale must be between -10 and 20');
  const positive = obj(dp, 'positive');
  const pos = counts(positive, 'bucketCounts');
  const neg = counts(obj(dp, 'negative'), 'bucketCounts');
  const offset = int(positive, 'offset');
  const summary = {
    count: int64(dp.count, 'count'),
    sum: optionalDbl(dp, 'sum'),
    min: optionalDbl(dp, 'min'),
    max: optionalDbl(dp, 'max'),
  };
  if (neg.some((c) => c > 0) || pos.length + 2 > MAX_BUCKETS)
    return { ...summary, bounds: null, bucketCounts: null };
  const zero = int64(dp.zeroCount, 'zeroCount');
  if (pos.length === 0)
    return { ...summary, bounds: zero > 0 ? [0] : null, bucketCounts: zero > 0 ? [zero, 0] : null };
  const bounds: number[] = [];
  // 2^(index·2^-scale): exact powers of two where the index is a multiple of 2^scale.
  for (let i = 0; i <= pos.length; i++) bounds.push(2 ** ((offset + i) * 2 ** -scale));
  return { ...summary, bounds, bucketCounts: [zero, ...pos, 0] };
}

function checkBase(metric: Msg, service: string): MetricBase {
  const name = str(metric, 'name');
  if (name === '') bad('name is required');
  if (name.length > MAX_METRIC_NAME) bad(`name is longer than ${MAX_METRIC_NAME} characters`);
  const unit = str(metric, 'unit');
  if (unit.length > MAX_UNIT) bad(`unit is longer than ${MAX_UNIT} characters`);
  return { service: service.slice(0, 100), name, unit: unit || null };
}

const METRIC_KINDS = ['sum', 'gauge', 'histogram', 'exponentialHistogram', 'summary'] as const;

/** One data point of a metric of the given kind as a row. */
function metricRow(
  kind: (typeof METRIC_KINDS)[number],
  data: Msg,
  dp: Msg,
  base: MetricBase,
  ctx: CheckContext,
): MetricRow {
  if (kind === 'summary') return bad('summary metrics are not stored; export a histogram instead');
  const p = point(dp, base, ctx);
  const temporality = TEMPORALITY[int(data, 'aggregationTemporality')] ?? null;
  if (kind === 'sum')
    return { ...p, kind: 'sum', monotonic: data.isMonotonic === true, temporality, value: numberPoint(dp) };
  if (kind === 'gauge')
    return { ...p, kind: 'gauge', monotonic: null, temporality: null, value: numberPoint(dp) };
  const h = kind === 'histogram' ? histogramPoint(dp) : exponentialPoint(dp);
  return { ...p, ...h, kind: 'histogram', monotonic: null, temporality };
}

/** ExportMetricsServiceRequest → metric points. */
export function mapMetrics(req: Msg, ctx: CheckContext): Mapped<MetricRow> {
  const out = collector<MetricRow>();
  eachItem(req, ['resourceMetrics', 'scopeMetrics', 'metrics'], (metric, res) => {
    const kind = METRIC_KINDS.find((k) => has(metric, k));
    if (!kind) return; // no data: an empty envelope
    const what = `metric ${JSON.stringify(typeof metric.name === 'string' ? metric.name : '')}`;
    let data: Msg = EMPTY;
    let points: Msg[] = [];
    let base: MetricBase;
    attempt(out, what, () => {
      data = obj(metric, kind);
      points = msgs(data, 'dataPoints');
      return undefined;
    });
    for (const dp of points)
      attempt(out, what, () => {
        if (int(dp, 'flags') & FLAG_NO_RECORDED_VALUE) {
          out.ignored++;
          return;
        }
        base ??= checkBase(metric, res.service);
        return { ok: true, row: metricRow(kind, data, dp, base, ctx) };
      });
  });
  return out;
}
