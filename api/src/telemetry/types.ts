/**
 * The normalized telemetry rows every ingest path (native, OTLP, the nginx agent through native)
 * produces, and the item checks of docs/telemetry.md. The checks are written by hand rather than
 * with a schema validator: they run once per item at tens of thousands of items per second, and
 * each rejection needs its own code and message.
 */

import { bucketIndex, MAX_VALUE, MIN_VALUE } from '@peep/pkg/sketch';
import { type Attributes, LEVELS, type Level, type LogEntry, type StreamEvent } from '@peep/pkg/telemetry';

export { type Attributes, LEVELS, type Level, type LogEntry, type StreamEvent };
/** Stored as 1 (trace) .. 6 (fatal). */
export const levelNumber = (l: Level): number => LEVELS.indexOf(l) + 1;
export const levelName = (n: number): Level => LEVELS[Math.min(6, Math.max(1, n)) - 1] as Level;

export interface EventRow {
  /** epoch ms */
  time: number;
  service: string;
  route: string;
  method: string;
  status: number;
  durationMs: number;
  bytesIn: number | null;
  bytesOut: number | null;
  requestId: string | null;
  traceId: string | null;
  instance: string | null;
  attributes: Attributes | null;
  /**
   * Kept raw and streamed, but already counted in an aggregate sent by the same client (an SDK in
   * aggregating mode samples raw events): left out of the rollups so nothing counts twice.
   */
  sampled?: boolean;
}

/**
 * One client-side aggregate (`POST /api/v1/ingest/aggregates`): the requests of one route, method
 * and status class in a window that lies within one minute, with their latency sketch. Merged into
 * the rollups exactly like events of that minute.
 */
export interface AggregateRow {
  /** Start of the window, epoch ms: all its requests count in the minute holding this time. */
  time: number;
  service: string;
  route: string;
  method: string;
  /** 1..5 for 1xx..5xx. */
  statusClass: number;
  count: number;
  /** Derived: `count` for 5xx, else 0 (as for events). */
  errors: number;
  sumMs: number;
  minMs: number;
  maxMs: number;
  bytesIn: number;
  bytesOut: number;
  /** Dense DDSketch `[firstIndex, count, ...]` (see docs/telemetry.md); its counts add up to `count`. */
  sketch: number[];
}

export interface LogRow {
  time: number;
  service: string;
  /** 1..6, see LEVELS */
  level: number;
  message: string;
  requestId: string | null;
  traceId: string | null;
  spanId: string | null;
  instance: string | null;
  attributes: Attributes | null;
}

export interface MetricRow {
  time: number;
  startTime: number | null;
  service: string;
  name: string;
  kind: 'sum' | 'gauge' | 'histogram';
  unit: string | null;
  monotonic: boolean | null;
  temporality: 'cumulative' | 'delta' | null;
  value: number | null;
  count: number | null;
  sum: number | null;
  min: number | null;
  max: number | null;
  bounds: number[] | null;
  bucketCounts: number[] | null;
  attributes: Attributes | null;
}

export type ItemCode =
  | 'not_an_object'
  | 'missing_field'
  | 'invalid_type'
  | 'out_of_range'
  | 'too_long'
  | 'unknown_field'
  | 'invalid_time';

export type Checked<T> = { ok: true; row: T } | { ok: false; code: ItemCode; message: string };

/** What the checks need to know about the batch: the time of arrival and the oldest time kept. */
export interface CheckContext {
  now: number;
  /** Items older than this (epoch ms) would be deleted at once: rejected. */
  oldest: number;
}

export const MAX_FUTURE_MS = 10 * 60_000;
export const MAX_ATTRIBUTES = 64;
export const MAX_ATTRIBUTES_JSON = 8 * 1024;
export const MAX_MESSAGE = 32 * 1024;

class ItemError extends Error {
  constructor(
    readonly code: ItemCode,
    message: string,
  ) {
    super(message);
  }
}
const fail = (code: ItemCode, message: string): never => {
  throw new ItemError(code, message);
};

function str(o: Record<string, unknown>, k: string, max: number, required: true): string;
function str(o: Record<string, unknown>, k: string, max: number, required: false): string | null;
function str(o: Record<string, unknown>, k: string, max: number, required: boolean): string | null {
  const v = o[k];
  if (v === undefined || v === null) return required ? fail('missing_field', `${k} is required`) : null;
  if (typeof v !== 'string') return fail('invalid_type', `${k} must be a string`);
  if (v.length === 0) return required ? fail('missing_field', `${k} must not be empty`) : null;
  if (v.length > max) return fail('too_long', `${k} is longer than ${max} characters`);
  return v;
}

function num(o: Record<string, unknown>, k: string, min: number, max: number, int: boolean): number | null {
  const v = o[k];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'number' || !Number.isFinite(v)) return fail('invalid_type', `${k} must be a number`);
  if (int && !Number.isInteger(v)) return fail('invalid_type', `${k} must be a whole number`);
  if (v < min || v > max) return fail('out_of_range', `${k} must be between ${min} and ${max}`);
  return v;
}

export function checkTime(v: unknown, ctx: CheckContext): number {
  if (v === undefined || v === null) return ctx.now;
  let t: number;
  if (typeof v === 'number') t = v;
  else if (typeof v === 'string') t = Date.parse(v);
  else return fail('invalid_type', 'time must be an RFC 3339 string or epoch milliseconds');
  if (!Number.isFinite(t)) return fail('invalid_time', 'time is not a valid RFC 3339 timestamp');
  if (t > ctx.now + MAX_FUTURE_MS) return fail('invalid_time', 'time is more than 10 minutes in the future');
  if (t < ctx.oldest) return fail('invalid_time', "time is older than the project's raw retention");
  return Math.floor(t);
}

export function checkAttributes(v: unknown): Attributes | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'object' || Array.isArray(v)) return fail('invalid_type', 'attributes must be an object');
  const keys = Object.keys(v);
  if (keys.length === 0) return null;
  if (keys.length > MAX_ATTRIBUTES)
    return fail('out_of_range', `attributes has more than ${MAX_ATTRIBUTES} keys`);
  for (const k of keys) {
    const a = (v as Record<string, unknown>)[k];
    const t = typeof a;
    if (t !== 'string' && t !== 'boolean' && !(t === 'number' && Number.isFinite(a)))
      return fail('invalid_type', `attributes.${k} must be a string, number or boolean`);
    if (k.length > 200) return fail('too_long', 'an attribute name is longer than 200 characters');
  }
  if (JSON.stringify(v).length > MAX_ATTRIBUTES_JSON)
    return fail('too_long', `attributes are larger than ${MAX_ATTRIBUTES_JSON} bytes as JSON`);
  return v as Attributes;
}

const EVENT_FIELDS = new Set([
  'time',
  'service',
  'route',
  'method',
  'status',
  'durationMs',
  'bytesIn',
  'bytesOut',
  'requestId',
  'traceId',
  'instance',
  'attributes',
  'sampled',
]);
const AGGREGATE_FIELDS = new Set([
  'time',
  'service',
  'route',
  'method',
  'statusClass',
  'count',
  'sumMs',
  'minMs',
  'maxMs',
  'bytesIn',
  'bytesOut',
  'sketch',
]);
const LOG_FIELDS = new Set([
  'time',
  'service',
  'level',
  'message',
  'requestId',
  'traceId',
  'spanId',
  'instance',
  'attributes',
]);
const METHOD = /^[A-Z][A-Z0-9_-]{0,15}$/;

function checkFields(o: Record<string, unknown>, allowed: Set<string>) {
  for (const k in o) if (!allowed.has(k)) fail('unknown_field', `unknown field "${k}"`);
}

function run<T>(f: () => T): Checked<T> {
  try {
    return { ok: true, row: f() };
  } catch (e) {
    if (e instanceof ItemError) return { ok: false, code: e.code, message: e.message };
    throw e;
  }
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

export function checkEvent(raw: unknown, ctx: CheckContext): Checked<EventRow> {
  return run(() => {
    if (!isObject(raw)) return fail('not_an_object', 'each item must be a JSON object');
    checkFields(raw, EVENT_FIELDS);
    const method = str(raw, 'method', 16, true).toUpperCase();
    if (!METHOD.test(method)) fail('invalid_type', 'method must be an HTTP method such as GET');
    const status = num(raw, 'status', 100, 599, true);
    if (status === null) fail('missing_field', 'status is required');
    const durationMs = num(raw, 'durationMs', 0, 1e9, false);
    if (durationMs === null) fail('missing_field', 'durationMs is required');
    const row: EventRow = {
      time: checkTime(raw.time, ctx),
      service: str(raw, 'service', 100, true),
      route: str(raw, 'route', 300, true),
      method,
      status: status as number,
      durationMs: durationMs as number,
      bytesIn: num(raw, 'bytesIn', 0, Number.MAX_SAFE_INTEGER, true),
      bytesOut: num(raw, 'bytesOut', 0, Number.MAX_SAFE_INTEGER, true),
      requestId: str(raw, 'requestId', 128, false),
      traceId: str(raw, 'traceId', 64, false),
      instance: str(raw, 'instance', 200, false),
      attributes: checkAttributes(raw.attributes),
    };
    if (bool(raw, 'sampled')) row.sampled = true;
    return row;
  });
}

function bool(o: Record<string, unknown>, k: string): boolean {
  const v = o[k];
  if (v === undefined || v === null) return false;
  if (typeof v !== 'boolean') return fail('invalid_type', `${k} must be true or false`);
  return v;
}

const FIRST_INDEX = bucketIndex(MIN_VALUE);
const LAST_INDEX = bucketIndex(MAX_VALUE);

/**
 * A dense sketch whose indexes are in range, whose counts are whole, non-negative and add up to
 * `count`, and whose lowest and highest non-empty buckets hold minMs and maxMs (one bucket of slack
 * for a client whose logarithm rounds differently): a client with another bucket mapping is refused
 * instead of skewing every percentile.
 */
function checkSketch(v: unknown, count: number, minMs: number, maxMs: number): number[] {
  if (!Array.isArray(v)) return fail('invalid_type', 'sketch must be an array [firstIndex, count, ...]');
  if (v.length < 2) return fail('out_of_range', 'sketch must hold a first index and at least one count');
  const first = v[0];
  if (typeof first !== 'number' || !Number.isInteger(first))
    return fail('invalid_type', 'sketch[0] (the first bucket index) must be a whole number');
  if (first < FIRST_INDEX || first + v.length - 2 > LAST_INDEX)
    return fail('out_of_range', `sketch buckets must lie between ${FIRST_INDEX} and ${LAST_INDEX}`);
  let total = 0;
  for (let i = 1; i < v.length; i++) {
    const c = v[i];
    if (typeof c !== 'number' || !Number.isSafeInteger(c) || c < 0)
      return fail('invalid_type', `sketch[${i}] must be a whole number >= 0`);
    total += c;
  }
  if (total !== count) return fail('out_of_range', `sketch counts add up to ${total}, not count (${count})`);
  let lo = 1;
  while (v[lo] === 0) lo++;
  let hi = v.length - 1;
  while (v[hi] === 0) hi--;
  const [low, high] = [first + lo - 1, first + hi - 1];
  if (Math.abs(low - bucketIndex(minMs)) > 1 || Math.abs(high - bucketIndex(maxMs)) > 1)
    return fail(
      'out_of_range',
      `sketch buckets ${low}..${high} do not hold minMs and maxMs (buckets ${bucketIndex(minMs)} and ${bucketIndex(maxMs)})`,
    );
  return v as number[];
}

export function checkAggregate(raw: unknown, ctx: CheckContext): Checked<AggregateRow> {
  return run(() => {
    if (!isObject(raw)) return fail('not_an_object', 'each item must be a JSON object');
    checkFields(raw, AGGREGATE_FIELDS);
    if (raw.time === undefined || raw.time === null) fail('missing_field', 'time is required');
    const time = checkTime(raw.time, ctx);
    const method = str(raw, 'method', 16, true).toUpperCase();
    if (!METHOD.test(method)) fail('invalid_type', 'method must be an HTTP method such as GET');
    const need = (k: string, min: number, max: number, int: boolean): number => {
      const n = num(raw, k, min, max, int);
      return n === null ? fail('missing_field', `${k} is required`) : n;
    };
    const statusClass = need('statusClass', 1, 5, true);
    const count = need('count', 1, Number.MAX_SAFE_INTEGER, true);
    const minMs = need('minMs', 0, 1e9, false);
    const maxMs = need('maxMs', minMs, 1e9, false);
    const sumMs = need('sumMs', 0, Number.MAX_VALUE, false);
    const slack = 1e-9 * sumMs + 1e-6; // float rounding of a client's running sum
    if (sumMs < minMs * count - slack || sumMs > maxMs * count + slack)
      fail('out_of_range', 'sumMs must lie between minMs × count and maxMs × count');
    return {
      time,
      service: str(raw, 'service', 100, true),
      route: str(raw, 'route', 300, true),
      method,
      statusClass,
      count,
      errors: statusClass === 5 ? count : 0,
      sumMs,
      minMs,
      maxMs,
      bytesIn: num(raw, 'bytesIn', 0, Number.MAX_SAFE_INTEGER, true) ?? 0,
      bytesOut: num(raw, 'bytesOut', 0, Number.MAX_SAFE_INTEGER, true) ?? 0,
      sketch: checkSketch(raw.sketch, count, minMs, maxMs),
    };
  });
}

export function checkLog(raw: unknown, ctx: CheckContext): Checked<LogRow> {
  return run(() => {
    if (!isObject(raw)) return fail('not_an_object', 'each item must be a JSON object');
    checkFields(raw, LOG_FIELDS);
    const level = str(raw, 'level', 10, true).toLowerCase();
    if (!(LEVELS as readonly string[]).includes(level))
      fail('invalid_type', `level must be one of ${LEVELS.join(', ')}`);
    const message = raw.message;
    if (message === undefined || message === null) fail('missing_field', 'message is required');
    if (typeof message !== 'string') fail('invalid_type', 'message must be a string');
    if ((message as string).length > MAX_MESSAGE)
      fail('too_long', `message is longer than ${MAX_MESSAGE} characters`);
    return {
      time: checkTime(raw.time, ctx),
      service: str(raw, 'service', 100, true),
      level: levelNumber(level as Level),
      message: message as string,
      requestId: str(raw, 'requestId', 128, false),
      traceId: str(raw, 'traceId', 64, false),
      spanId: str(raw, 'spanId', 32, false),
      instance: str(raw, 'instance', 200, false),
      attributes: checkAttributes(raw.attributes),
    };
  });
}

export const toStreamEvent = (id: number | string, environmentId: string, r: EventRow): StreamEvent => ({
  id: String(id),
  time: new Date(r.time).toISOString(),
  environmentId,
  service: r.service,
  route: r.route,
  method: r.method,
  status: r.status,
  durationMs: r.durationMs,
  bytesIn: r.bytesIn,
  bytesOut: r.bytesOut,
  requestId: r.requestId,
  traceId: r.traceId,
  instance: r.instance,
  attributes: r.attributes,
});

export const toLogEntry = (id: number | string, environmentId: string, r: LogRow): LogEntry => ({
  id: String(id),
  time: new Date(r.time).toISOString(),
  environmentId,
  service: r.service,
  level: levelName(r.level),
  message: r.message,
  requestId: r.requestId,
  traceId: r.traceId,
  spanId: r.spanId,
  instance: r.instance,
  attributes: r.attributes,
});
