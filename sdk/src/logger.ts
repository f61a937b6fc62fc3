/**
 * The structured logger: `peep.logger.info('paid', { orderId })` queues a log record carrying the
 * request id and trace id of the request being handled (found through AsyncLocalStorage), so a
 * request's logs can be found from its event. Attributes are made to fit the ingest contract (at most
 * 64 keys of strings, numbers and booleans, 8 KB as JSON) instead of being refused by peep.
 */
import { als } from './capture.js';
import { LOG_LEVELS, type LogLevel } from './options.js';

export type Attributes = Record<string, unknown>;

export interface Logger {
  trace(message: string | Error, attrs?: Attributes): void;
  debug(message: string | Error, attrs?: Attributes): void;
  info(message: string | Error, attrs?: Attributes): void;
  warn(message: string | Error, attrs?: Attributes): void;
  error(message: string | Error, attrs?: Attributes): void;
  fatal(message: string | Error, attrs?: Attributes): void;
  /** A logger adding `attrs` to every record (the call's own attributes win). */
  child(attrs: Attributes): Logger;
}

export interface LogSink {
  service: string;
  instance: string;
  minLevel: LogLevel;
  enqueue(record: object): void;
  report(err: Error): void;
}

const MAX_MESSAGE = 32 * 1024;
const MAX_KEYS = 64;
const MAX_VALUE = 1024;
const MAX_ATTR_JSON = 8 * 1024 - 64;

function scalar(v: unknown): string | number | boolean | undefined {
  if (v === null || v === undefined) return undefined;
  if (typeof v === 'string') return v.length > MAX_VALUE ? v.slice(0, MAX_VALUE) : v;
  if (typeof v === 'number') return Number.isFinite(v) ? v : String(v);
  if (typeof v === 'boolean') return v;
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Error) return `${v.name}: ${v.message}`.slice(0, MAX_VALUE);
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? 'Invalid Date' : v.toISOString();
  if (typeof v === 'function' || typeof v === 'symbol') return undefined;
  try {
    return (JSON.stringify(v) ?? '').slice(0, MAX_VALUE);
  } catch {
    return '[unserializable]';
  }
}

/** Attributes within the contract's limits; undefined when none are left. */
export function cleanAttributes(
  attrs: Attributes | undefined,
): Record<string, string | number | boolean> | undefined {
  if (!attrs) return undefined;
  const out: Record<string, string | number | boolean> = {};
  let keys = 0;
  let size = 2;
  for (const [k, v] of Object.entries(attrs)) {
    const s = scalar(v);
    if (s === undefined || k.length === 0) continue;
    const key = k.slice(0, 200);
    const add = key.length + 4 + (typeof s === 'string' ? s.length + 2 : String(s).length);
    if (keys >= MAX_KEYS - 1 || size + add > MAX_ATTR_JSON) {
      out._truncated = true;
      break;
    }
    out[key] = s;
    keys++;
    size += add;
  }
  return keys > 0 || out._truncated ? out : undefined;
}

export function createLogger(sink: LogSink, bound: Attributes = {}): Logger {
  const min = LOG_LEVELS.indexOf(sink.minLevel);
  const log = (level: LogLevel, message: string | Error, attrs?: Attributes) => {
    try {
      if (LOG_LEVELS.indexOf(level) < min) return;
      let text: string;
      let extra: Attributes | undefined = attrs;
      if (message instanceof Error) {
        text = message.message || message.name;
        extra = { 'error.type': message.name, 'error.stack': message.stack, ...attrs };
      } else text = String(message);
      const ctx = als.getStore();
      const merged = Object.keys(bound).length ? { ...bound, ...extra } : extra;
      sink.enqueue({
        time: Date.now(),
        service: sink.service,
        level,
        message: text.length > MAX_MESSAGE ? text.slice(0, MAX_MESSAGE) : text,
        requestId: ctx?.requestId,
        traceId: ctx?.traceId,
        instance: sink.instance,
        attributes: cleanAttributes(merged),
      });
    } catch (e) {
      sink.report(e as Error);
    }
  };
  return {
    trace: (m, a) => log('trace', m, a),
    debug: (m, a) => log('debug', m, a),
    info: (m, a) => log('info', m, a),
    warn: (m, a) => log('warn', m, a),
    error: (m, a) => log('error', m, a),
    fatal: (m, a) => log('fatal', m, a),
    child: (attrs) => createLogger(sink, { ...bound, ...attrs }),
  };
}
