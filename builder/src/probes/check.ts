/**
 * The check executor of uptime probes: `validateCheck` for specs coming from users, `runCheck` for
 * the scheduler. `runCheck` never throws: every failure (DNS, refused, TLS, timeout, status,
 * assertion, abort, even a spec that skipped validation) resolves to a CheckResult with `ok: false`,
 * an `errorClass` and a short message. Heartbeat targets are evaluated from push times elsewhere.
 *
 *   spec.ts      the spec types, defaults and validateCheck with its error codes
 *   http.ts      HTTP(S) checks: phases, redirects, bounded body, keyword / JSON assertions, certs
 *   tcp.ts       TCP connect checks
 *   jsonpath.ts  the JSON path subset and its ops
 *   dns.ts       the look-up cache every check shares (10 s TTL)
 *   result.ts    CheckResult and the error classes
 */
import type { LookupFunction } from 'node:net';
import type { Check } from '@peep/pkg/probe-spec';
import { createLookupCache } from './dns.js';
import { DEFAULT_MAX_BODY_BYTES, runHttp } from './http.js';
import type { CheckResult } from './result.js';
import { runTcp } from './tcp.js';

export type {
  Check,
  CheckError,
  HttpCheck,
  HttpMethod,
  JsonOp,
  JsonPathAssertion,
  KeywordAssertion,
  TcpCheck,
  Validation,
} from '@peep/pkg/probe-spec';
export {
  DEFAULT_ACCEPT_STATUS,
  DEFAULT_CERT_WARN_DAYS,
  HTTP_METHODS,
  JSON_OPS,
  MAX_REDIRECTS,
  MAX_TIMEOUT_MS,
  MIN_TIMEOUT_MS,
  validateCheck,
} from '@peep/pkg/probe-spec';
export type { LookupCache, LookupCacheOptions } from './dns.js';
export { createLookupCache } from './dns.js';
export { DEFAULT_MAX_BODY_BYTES, USER_AGENT } from './http.js';
export type { CheckResult, ErrorClass, Phases } from './result.js';

export interface RunOptions {
  /** Aborting ends the check at once with errorClass 'other', message 'aborted'. */
  signal?: AbortSignal;
  /** Epoch ms for `startedAt` and certificate days left; durations use the monotonic clock. */
  now?: () => number;
  /** Name resolution; defaults to a process-wide createLookupCache(). */
  lookup?: LookupFunction;
  /** Extra trusted CA certificates (PEM) for HTTPS, added to Node's bundle. Keep the value stable (a TLS context is cached per value). */
  ca?: string | Buffer | (string | Buffer)[];
  /** Body bytes read at most (for assertions; the rest is not read). Default 1 MiB. */
  maxBodyBytes?: number;
}

const shared = createLookupCache();

/** Runs one check; always resolves. Treat `check` as immutable (compiled parts are cached per object). */
export function runCheck(check: Check, opts: RunOptions = {}): Promise<CheckResult> {
  const now = opts.now ?? Date.now;
  const lookup = opts.lookup ?? shared.lookup;
  if (check.kind === 'tcp') return runTcp(check, { now, lookup, signal: opts.signal });
  return runHttp(check, {
    now,
    lookup,
    signal: opts.signal,
    ca: opts.ca,
    maxBodyBytes: opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
  });
}
