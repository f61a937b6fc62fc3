/**
 * Configuration is read from the environment once, at start-up, through this one schema. A bad value
 * throws ConfigError naming the variable; nothing else in peep reads process.env.
 */

import path from 'node:path';
import { masterKeyFormatProblem } from './master-key.js';
import { DEFAULT_WEBHOOK_DENY, parseNetPolicy } from './net-policy.js';

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
    this.name = 'ConfigError';
  }
}

type Parser<T> = (raw: string, name: string) => T;

const int =
  (min: number, max: number): Parser<number> =>
  (raw, name) => {
    if (!/^-?\d+$/.test(raw.trim())) throw new ConfigError(name, `must be a whole number, got "${raw}"`);
    const n = Number(raw);
    if (n < min || n > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${n}`);
    return n;
  };
const bool: Parser<boolean> = (raw, name) => {
  const v = raw.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off', ''].includes(v)) return false;
  throw new ConfigError(name, `must be true or false, got "${raw}"`);
};
const str: Parser<string> = (raw) => raw;
const oneOf =
  <T extends string>(...values: T[]): Parser<T> =>
  (raw, name) => {
    if (!values.includes(raw as T))
      throw new ConfigError(name, `must be one of ${values.join(', ')}, got "${raw}"`);
    return raw as T;
  };
const url =
  (...protocols: string[]): Parser<string> =>
  (raw, name) => {
    let u: URL;
    try {
      u = new URL(raw);
    } catch {
      throw new ConfigError(name, `must be a URL, got "${redactUrl(raw)}"`);
    }
    if (!protocols.includes(u.protocol)) {
      throw new ConfigError(name, `must use ${protocols.join(' or ')}, got "${u.protocol}"`);
    }
    return raw.replace(/\/+$/, '');
  };
const list: Parser<string[]> = (raw) =>
  raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

/** Master keys are secrets: a bad one is described, never quoted. */
const netDeny: Parser<string> = (raw, name) => {
  try {
    parseNetPolicy(raw);
  } catch (e) {
    throw new ConfigError(name, (e as Error).message);
  }
  return raw.trim();
};
const masterKeys: Parser<string[]> = (raw, name) => {
  const keys = list(raw, name);
  keys.forEach((k, i) => {
    const problem = masterKeyFormatProblem(k);
    if (problem) throw new ConfigError(name, keys.length > 1 ? `entry ${i + 1}: ${problem}` : problem);
  });
  return keys;
};
const masterKey: Parser<string> = (raw, name) => {
  const problem = masterKeyFormatProblem(raw);
  if (problem) throw new ConfigError(name, problem);
  return raw.trim();
};

function redactUrl(raw: string): string {
  return raw.replace(/\/\/([^:@/]+):([^@/]+)@/, '//$1:***@');
}

interface Field<T> {
  env: string;
  parse: Parser<T>;
  default: T | (() => T);
  doc: string;
}
const field = <T>(env: string, parse: Parser<T>, def: T | (() => T), doc: string): Field<T> => ({
  env,
  parse,
  default: def,
  doc,
});

/** The schema: one entry per variable, also rendered into the README's configuration table. */
export const CONFIG_SCHEMA = {
  port: field(
    'PEEP_PORT',
    int(0, 65535),
    7070,
    'Port of the single HTTP listener (API, dashboard, metrics).',
  ),
  host: field('PEEP_HOST', str, '127.0.0.1', 'Address to listen on. `0.0.0.0` in containers.'),
  dataDir: field(
    'PEEP_DATA_DIR',
    str,
    './.peep',
    'Embedded mode: where PGlite keeps its files, the lock file and generated keys.',
  ),
  databaseUrl: field(
    'DATABASE_URL',
    url('postgres:', 'postgresql:'),
    '',
    'Use this PostgreSQL server instead of the embedded PGlite database.',
  ),
  publicUrl: field(
    'PEEP_PUBLIC_URL',
    url('http:', 'https:'),
    '',
    'External base URL (OAuth issuer, links). Default: derived from the request Host.',
  ),
  logLevel: field(
    'PEEP_LOG_LEVEL',
    oneOf('fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'),
    'info',
    'pino log level.',
  ),
  logPretty: field(
    'PEEP_LOG_PRETTY',
    bool,
    false,
    'Developer flag: one readable line per log record instead of JSON.',
  ),
  bodyLimit: field(
    'PEEP_BODY_LIMIT',
    int(1024, 64 * 1024 * 1024),
    1024 * 1024,
    'Largest accepted request body, in bytes.',
  ),
  corsOrigins: field(
    'PEEP_CORS_ORIGINS',
    list,
    [] as string[],
    'Comma-separated origins allowed by CORS. Empty: CORS closed.',
  ),
  metricsToken: field(
    'PEEP_METRICS_TOKEN',
    str,
    '',
    'If set, `/metrics` requires `Authorization: Bearer <this>`.',
  ),
  masterKey: field(
    'PEEP_MASTER_KEY',
    masterKey,
    '',
    'Master key of encryption at rest (`peepmk1.…`), a secret. Required when scaled out; embedded: `master.key`.',
  ),
  masterKeyPrevious: field(
    'PEEP_MASTER_KEY_PREVIOUS',
    masterKeys,
    [] as string[],
    'Comma-separated earlier master keys, still read while `peep admin rotate-master-key` runs.',
  ),
  webhookDeny: field(
    'PEEP_WEBHOOK_DENY',
    netDeny,
    DEFAULT_WEBHOOK_DENY,
    'Networks notification webhooks may not reach (names loopback, link-local, private, unspecified, multicast, broadcast, or CIDRs; `none`). Checked on save and on every delivery.',
  ),
  trustProxy: field(
    'PEEP_TRUST_PROXY',
    bool,
    false,
    'Trust X-Forwarded-* from a proxy in front (nginx, Ingress).',
  ),
  sessionTtlHours: field('PEEP_SESSION_TTL_HOURS', int(1, 24 * 90), 24 * 7, 'Dashboard session lifetime.'),
  setupTtlMinutes: field(
    'PEEP_SETUP_TTL_MINUTES',
    int(1, 24 * 60),
    60,
    'Lifetime of the one-time owner-setup and invitation links.',
  ),
  deviceCodeTtlSeconds: field('PEEP_DEVICE_CODE_TTL', int(60, 3600), 600, 'Lifetime of a device-login code.'),
  devicePollInterval: field(
    'PEEP_DEVICE_POLL_INTERVAL',
    int(1, 60),
    5,
    "Minimum seconds between a CLI's token polls (RFC 8628 `interval`).",
  ),
  authRateLimit: field(
    'PEEP_AUTH_RATE_LIMIT',
    int(1, 10000),
    10,
    'Sign-in, setup and device-code entry attempts per minute per client address.',
  ),
  api: field(
    'PEEP_API',
    bool,
    true,
    'Serve the HTTP API from this process. The dashboard-only Deployment sets false.',
  ),
  dashboard: field(
    'PEEP_DASHBOARD',
    bool,
    true,
    'Serve the dashboard from this process (`peep up`). API replicas set false.',
  ),
  builder: field('PEEP_BUILDER', bool, true, 'Run the background workers in this process (`peep up`).'),
  natsUrl: field(
    'PEEP_NATS_URL',
    url('nats:', 'tls:'),
    '',
    'NATS server carrying the bus between replicas (live streams, cache invalidation). Empty: in-process bus.',
  ),
  ingestBodyLimit: field(
    'PEEP_INGEST_BODY_LIMIT',
    int(1024, 256 * 1024 * 1024),
    8 * 1024 * 1024,
    'Largest accepted ingest body (native and OTLP), in bytes as sent; gzip bodies may expand to 4 times this.',
  ),
  ingestQueueMax: field(
    'PEEP_INGEST_QUEUE_MAX',
    int(1000, 10_000_000),
    200_000,
    'Items (events, logs, metric points) waiting for commit before ingest answers 503 with Retry-After.',
  ),
  ingestBatchMax: field(
    'PEEP_INGEST_BATCH_MAX',
    int(100, 1_000_000),
    20_000,
    'Most items the ingest writer commits in one transaction.',
  ),
  rollupMinuteHours: field(
    'PEEP_ROLLUP_MINUTE_HOURS',
    int(1, 24 * 90),
    48,
    'Minute rollups are kept this long; older windows are answered from hourly rollups.',
  ),
  rollupHourDays: field(
    'PEEP_ROLLUP_HOUR_DAYS',
    int(1, 3650),
    90,
    'Hourly rollups are kept this long; older windows are answered from daily rollups (kept 400 days).',
  ),
  streamHeartbeatSeconds: field(
    'PEEP_STREAM_HEARTBEAT',
    int(1, 300),
    15,
    'Seconds between heartbeat comments on live streams (Server-Sent Events).',
  ),
  streamBufferBytes: field(
    'PEEP_STREAM_BUFFER_BYTES',
    int(16 * 1024, 256 * 1024 * 1024),
    1024 * 1024,
    'Unsent bytes a live-stream connection may hold before the consumer is told it is too slow and disconnected.',
  ),
} as const;

type Schema = typeof CONFIG_SCHEMA;
export type Config = { [K in keyof Schema]: Schema[K] extends Field<infer T> ? T : never };

/** Parses every variable of the schema from `env`; throws ConfigError naming the first bad one. */
export function loadConfig(env: Record<string, string | undefined>, overrides: Partial<Config> = {}): Config {
  const out: Record<string, unknown> = {};
  for (const [key, f] of Object.entries(CONFIG_SCHEMA) as [keyof Schema, Field<unknown>][]) {
    if (key in overrides) {
      out[key] = overrides[key];
      continue;
    }
    const raw = env[f.env];
    out[key] =
      raw === undefined || raw === ''
        ? typeof f.default === 'function'
          ? (f.default as () => unknown)()
          : f.default
        : f.parse(raw, f.env);
  }
  out.dataDir = path.resolve(out.dataDir as string);
  return out as Config;
}
