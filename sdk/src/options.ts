/**
 * The SDK's options: given in code, else read from the app's environment (PEEP_INGEST_KEY,
 * PEEP_ENDPOINT, PEEP_SERVICE), checked once when the client is made. A malformed value is a
 * programming error and throws there, at start-up; a missing ingest key only turns shipping off, so an
 * app runs unchanged where peep is not configured (a developer laptop, a test run).
 */
import os from 'node:os';

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';
export const LOG_LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];

export interface PeepOptions {
  /** Base URL of the peep server. Default: PEEP_ENDPOINT, else http://127.0.0.1:7070. */
  endpoint?: string;
  /** An ingest key (`peep_ik_…`) for one project and environment. Default: PEEP_INGEST_KEY. */
  ingestKey?: string;
  /** Logical service name, e.g. `checkout-api`. Default: PEEP_SERVICE, else the package name. */
  service?: string;
  /** Host or pod name sent with every item. Default: os.hostname(). */
  instance?: string;
  /** Items per request (1-10,000). Default 500. */
  batchSize?: number;
  /** Longest an item waits before it is sent, in ms. Default 1,000. */
  flushIntervalMs?: number;
  /** Items kept per kind (events, logs) while peep is slow or unreachable; beyond, new ones are dropped and counted. Default 10,000. */
  maxQueue?: number;
  /** Attempts per batch before it is dropped (first try included). Default 6. */
  maxAttempts?: number;
  /** First retry delay in ms; doubles per attempt, with full jitter. Default 500. */
  retryBaseMs?: number;
  /** Longest retry delay in ms, also the cap on a server's Retry-After. Default 30,000. */
  retryMaxMs?: number;
  /** Timeout of one ingest request in ms. Default 10,000. */
  requestTimeoutMs?: number;
  /** Bodies larger than this many bytes are gzipped. Default 16,384. */
  gzipThresholdBytes?: number;
  /** Least level the logger ships. Default `info`. */
  logLevel?: LogLevel;
  /**
   * Aggregate requests in the process and send per-route summaries with latency sketches (same
   * percentiles, far less work per request) plus a sample of raw events. `false` sends every request
   * as an event. Default true.
   */
  aggregate?: boolean;
  /** Aggregation window in ms, dividing a minute (1,000-60,000). Default 5,000. */
  aggregateIntervalMs?: number;
  /** With `aggregate`: ordinary requests also sent as raw events, at most this many per second. Default 50. */
  sampleRawPerSecond?: number;
  /** With `aggregate`: errors (5xx) and slow requests sent as raw events, at most this many per second. Default 500. */
  sampleNotablePerSecond?: number;
  /** A request at least this slow (ms) counts as slow for sampling. Default 1,000. */
  slowMs?: number;
  /**
   * Run each request inside its context (AsyncLocalStorage), so `peep.logger` and `currentRequest()`
   * know the request id. `false` saves a few microseconds per request in apps that do not log through
   * peep; request ids are still read, generated and sent back. Default true.
   */
  requestContext?: boolean;
  /** Flush on `beforeExit`, SIGTERM and SIGINT (the app's own handlers still run). Default true. */
  processHooks?: boolean;
  /** Called with every error the SDK swallows (network, rejected items, dropped batches). */
  onError?: (err: Error) => void;
  /** Environment to read defaults from. Default process.env. */
  env?: Record<string, string | undefined>;
}

export interface ResolvedOptions {
  endpoint: string;
  ingestKey: string | undefined;
  service: string;
  instance: string;
  batchSize: number;
  flushIntervalMs: number;
  maxQueue: number;
  maxAttempts: number;
  retryBaseMs: number;
  retryMaxMs: number;
  requestTimeoutMs: number;
  gzipThresholdBytes: number;
  logLevel: LogLevel;
  aggregate: boolean;
  aggregateIntervalMs: number;
  sampleRawPerSecond: number;
  sampleNotablePerSecond: number;
  slowMs: number;
  requestContext: boolean;
  processHooks: boolean;
  onError: ((err: Error) => void) | undefined;
}

function int(name: string, v: number | undefined, def: number, min: number, max: number): number {
  if (v === undefined) return def;
  if (!Number.isInteger(v) || v < min || v > max)
    throw new TypeError(`peep sdk: ${name} must be an integer from ${min} to ${max}, got ${v}`);
  return v;
}

function packageName(env: Record<string, string | undefined>): string | undefined {
  const n = env.npm_package_name?.replace(/^@[^/]+\//, '');
  return n && /^[\w.-]{1,100}$/.test(n) ? n : undefined;
}

/** Fills defaults and checks every option; throws a TypeError naming the bad one. */
export function resolveOptions(o: PeepOptions = {}): ResolvedOptions {
  const env = o.env ?? process.env;
  const endpointRaw = o.endpoint ?? env.PEEP_ENDPOINT ?? 'http://127.0.0.1:7070';
  let url: URL;
  try {
    url = new URL(endpointRaw);
  } catch {
    throw new TypeError(`peep sdk: endpoint must be a URL, got "${endpointRaw}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new TypeError('peep sdk: endpoint must be http(s)');
  const ingestKey = o.ingestKey ?? (env.PEEP_INGEST_KEY || undefined);
  if (ingestKey !== undefined && !/^peep_ik_[\w-]+$/.test(ingestKey))
    throw new TypeError('peep sdk: ingestKey must be an ingest key (peep_ik_…)');
  const service = o.service ?? (env.PEEP_SERVICE || packageName(env) || 'app');
  if (!/^[\w.:-]{1,100}$/.test(service))
    throw new TypeError(
      `peep sdk: service must be 1-100 letters, digits, dots, dashes or underscores, got "${service}"`,
    );
  const logLevel = o.logLevel ?? 'info';
  if (!LOG_LEVELS.includes(logLevel))
    throw new TypeError(`peep sdk: logLevel must be one of ${LOG_LEVELS.join(', ')}`);
  const aggregateIntervalMs = int('aggregateIntervalMs', o.aggregateIntervalMs, 5_000, 1_000, 60_000);
  if (60_000 % aggregateIntervalMs !== 0)
    throw new TypeError(
      `peep sdk: aggregateIntervalMs must divide a minute (60,000 ms), got ${aggregateIntervalMs}`,
    );
  if (o.aggregate !== undefined && typeof o.aggregate !== 'boolean')
    throw new TypeError('peep sdk: aggregate must be true or false');
  const instance = (o.instance ?? os.hostname()).slice(0, 200) || 'unknown';
  return {
    endpoint: url.toString().replace(/\/+$/, ''),
    ingestKey,
    service,
    instance,
    batchSize: int('batchSize', o.batchSize, 500, 1, 10_000),
    flushIntervalMs: int('flushIntervalMs', o.flushIntervalMs, 1_000, 10, 600_000),
    maxQueue: int('maxQueue', o.maxQueue, 10_000, 1, 10_000_000),
    maxAttempts: int('maxAttempts', o.maxAttempts, 6, 1, 100),
    retryBaseMs: int('retryBaseMs', o.retryBaseMs, 500, 1, 600_000),
    retryMaxMs: int('retryMaxMs', o.retryMaxMs, 30_000, 1, 3_600_000),
    requestTimeoutMs: int('requestTimeoutMs', o.requestTimeoutMs, 10_000, 1, 600_000),
    gzipThresholdBytes: int('gzipThresholdBytes', o.gzipThresholdBytes, 16_384, 0, 1 << 30),
    logLevel,
    aggregate: o.aggregate ?? true,
    aggregateIntervalMs,
    sampleRawPerSecond: int('sampleRawPerSecond', o.sampleRawPerSecond, 50, 0, 1_000_000),
    sampleNotablePerSecond: int('sampleNotablePerSecond', o.sampleNotablePerSecond, 500, 0, 1_000_000),
    slowMs: int('slowMs', o.slowMs, 1_000, 0, 3_600_000),
    requestContext: o.requestContext ?? true,
    processHooks: o.processHooks ?? true,
    onError: o.onError,
  };
}
