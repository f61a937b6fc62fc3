/**
 * Delivers one message to one channel: a POST per attempt over node:http(s) on a socket of its own,
 * with retries, and a log of every attempt for the dashboard.
 *
 * - One timer per attempt (10 s by default) covers connect, TLS, the request and the answer's
 *   headers; a 2xx is a success as soon as its status line arrives. HTTPS certificates are always
 *   verified (`ca` adds trusted CAs to Node's roots); `lookup` can refuse private addresses.
 * - Retried: network errors (refused, reset, DNS, TLS, timeout), 5xx and 429, with exponential
 *   backoff and full jitter (a random wait in [0, min(maxDelayMs, baseDelayMs * 2^(n-1))]), or the
 *   answer's Retry-After (seconds or an HTTP date) capped at retryAfterCapMs.
 * - Not retried: other 4xx (404 and 410 mean the URL is gone: the log says so) and 3xx: redirects
 *   are never followed, so a message never goes to a host other than the channel's.
 * - The body is the same bytes on every attempt, and so is the delivery id (X-Peep-Delivery for
 *   webhooks); webhooks are signed again per attempt with the attempt's timestamp.
 * - Errors in the log are built from error codes and statuses, never from messages that could
 *   quote the URL; the receiver's answer (first 120 characters, shown for 4xx/5xx) has the URL's
 *   path and query, their parts and the signing secrets cut out.
 * - `signal` aborts the attempt in flight or the wait before the next; deliver then resolves with
 *   result `aborted`. A failed delivery never rejects, so the caller always has a log to store;
 *   only programming errors do (RangeError: bad options, a delivery id unfit for a header, an
 *   unparseable time in the message).
 */

import { randomUUID } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import tls from 'node:tls';
import { guardedLookup, literalHost, type NetPolicy } from '@peep/pkg/net-policy';
import { renderSlack } from './slack.js';
import type { Channel, DeliveryAttempt, DeliveryLog, ErrorClass, IncidentMessage } from './types.js';
import { webhookBody, webhookHeaders } from './webhook.js';

export const DELIVERY_DEFAULTS = {
  maxAttempts: 5,
  baseDelayMs: 2000,
  maxDelayMs: 5 * 60_000,
  retryAfterCapMs: 60_000,
  timeoutMs: 10_000,
} as const;

export interface DeliverOptions {
  /** Reuse the stored id when a delivery is resumed after a restart; default a new UUID. */
  deliveryId?: string;
  /** Attempts in all, the first included; default 5. */
  maxAttempts?: number;
  /** Backoff before the second attempt (its upper bound: the wait is jittered); default 2 s. */
  baseDelayMs?: number;
  /** Upper bound of any backoff wait; default 5 min. */
  maxDelayMs?: number;
  /** A longer Retry-After is cut to this; default 60 s. */
  retryAfterCapMs?: number;
  /** Per attempt; default 10 s. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /**
   * Called (and awaited) after each attempt, before the wait for the next, so the caller can store
   * it. A throw here does not stop the delivery: the returned log has every attempt anyway.
   */
  onAttempt?: (attempt: DeliveryAttempt, deliveryId: string) => void | Promise<void>;
  /** Wall clock in ms for `at` and webhook timestamps; default Date.now. */
  now?: () => number;
  /** In [0, 1); default Math.random. */
  random?: () => number;
  /** DNS look-up for the channel's host (e.g. one that refuses private addresses). */
  lookup?: LookupFunction;
  /**
   * Networks the channel may not reach (PEEP_WEBHOOK_DENY, pkg/src/net-policy.ts): a literal address
   * in one is rejected before connecting, and names are resolved through guardedLookup (unless
   * `lookup` is given). Refusals are `blocked` and not retried.
   */
  netPolicy?: NetPolicy;
  /** CAs (PEM) trusted besides Node's roots, for receivers behind a private CA. Always verified. */
  ca?: string | Buffer | (string | Buffer)[];
}

interface Outcome {
  status?: number;
  errorClass?: ErrorClass;
  error?: string;
  retryable: boolean;
  retryAfterMs?: number;
}

const SNIPPET_BYTES = 1024;
const SNIPPET_CHARS = 120;

/** Cuts every secret-bearing part of the channel (and the signing secrets) out of a string. */
function redactor(url: URL | undefined, secrets: string[]): (s: string) => string {
  const parts = new Set<string>(secrets.filter((s) => s.length > 0));
  if (url) {
    parts.add(url.href);
    parts.add(`${url.pathname}${url.search}`);
    if (url.pathname.length > 1) parts.add(url.pathname);
    if (url.search) parts.add(url.search);
    if (url.username) parts.add(url.username);
    if (url.password) parts.add(url.password);
    for (const seg of url.pathname.split('/')) {
      if (seg.length < 6) continue;
      parts.add(seg);
      try {
        parts.add(decodeURIComponent(seg));
      } catch {}
    }
    for (const [k, v] of url.searchParams) {
      if (v.length >= 4) parts.add(v);
      if (k.length >= 6) parts.add(k);
    }
  }
  const list = [...parts].sort((a, b) => b.length - a.length);
  return (s) => list.reduce((acc, p) => acc.split(p).join('…'), s);
}

function snippet(raw: string, redact: (s: string) => string): string {
  const text = redact(raw)
    .replace(/<[^>]*>/g, ' ')
    // biome-ignore lint/suspicious/noControlCharactersInRegex: answers are shown on one line
    .replace(/[\u0000-\u001f\u007f\s]+/g, ' ')
    .trim();
  return text.length > SNIPPET_CHARS ? `${text.slice(0, SNIPPET_CHARS)}…` : text;
}

function parseRetryAfter(h: string | undefined, nowMs: number): number | undefined {
  if (!h) return undefined;
  if (/^\s*\d+\s*$/.test(h)) return Number(h) * 1000;
  const t = Date.parse(h);
  return Number.isFinite(t) ? Math.max(0, t - nowMs) : undefined;
}

function networkOutcome(err: NodeJS.ErrnoException, host: string, hostname: string): Outcome {
  const code = typeof err.code === 'string' ? err.code : '';
  const tag = code ? ` (${code})` : '';
  const out = (errorClass: ErrorClass, what: string): Outcome => ({
    errorClass,
    error: `${errorClass}: ${what}${tag}`,
    retryable: true,
  });
  if (code === 'EBLOCKED')
    return {
      errorClass: 'blocked',
      error: `blocked: ${hostname} resolves to an address in a network PEEP_WEBHOOK_DENY refuses`,
      retryable: false,
    };
  if (code === 'ECONNREFUSED') return out('refused', `connection refused by ${host}`);
  if (/^(ENOTFOUND|EAI_)/.test(code)) return out('dns', `cannot resolve ${hostname}`);
  if (code === 'ECONNRESET' || code === 'EPIPE' || code === 'ECONNABORTED')
    return out('reset', `connection to ${host} closed before an answer`);
  if (code === 'ETIMEDOUT') return out('timeout', `connecting to ${host} timed out`);
  if (/CERT|TLS|SSL|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET/.test(code))
    return out('tls', `TLS with ${host} failed`);
  if (code.startsWith('HPE_')) return out('network', `invalid HTTP answer from ${host}`);
  return out('network', `network error with ${host}`);
}

function statusOutcome(status: number, body: string, retryAfter: number | undefined): Outcome {
  const said = body ? ` ${body}` : '';
  const http = (retryable: boolean, advice = ''): Outcome => ({
    status,
    errorClass: 'http',
    error: `http: HTTP ${status}${said}${advice}`,
    retryable,
    ...(retryable && retryAfter !== undefined ? { retryAfterMs: retryAfter } : {}),
  });
  if (status >= 300 && status < 400)
    return {
      status,
      errorClass: 'redirect',
      error: `redirect: HTTP ${status}; redirects are not followed, set the channel to the final URL`,
      retryable: false,
    };
  if (status === 429 || status >= 500) return http(true);
  if (status === 404 || status === 410)
    return http(
      false,
      '; the channel URL is gone (webhook removed or URL wrong): fix or replace the channel',
    );
  if (status === 401 || status === 403)
    return http(false, '; the receiver refused it: check the URL or the signing secret');
  if (status >= 400) return http(false, '; the receiver refused the message');
  return http(true);
}

interface PostOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  lookup?: LookupFunction;
  ca?: string | Buffer | (string | Buffer)[];
  redact: (s: string) => string;
  now: () => number;
}

function post(url: URL, body: Buffer, headers: Record<string, string>, o: PostOptions): Promise<Outcome> {
  return new Promise((resolve) => {
    let done = false;
    const mod = url.protocol === 'https:' ? https : http;
    const req = mod.request(url, {
      method: 'POST',
      headers: { ...headers, 'Content-Length': String(body.length), Connection: 'close' },
      agent: false,
      ...(o.lookup ? { lookup: o.lookup } : {}),
      ...(o.ca && url.protocol === 'https:' ? { ca: o.ca } : {}),
    });
    const finish = (out: Outcome) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
      req.destroy();
      resolve(out);
    };
    let onTimeout = () =>
      finish({
        errorClass: 'timeout',
        error: `timeout: no answer within ${o.timeoutMs} ms`,
        retryable: true,
      });
    const timer = setTimeout(() => onTimeout(), o.timeoutMs);
    const onAbort = () => finish({ errorClass: 'aborted', error: 'aborted', retryable: false });
    o.signal?.addEventListener('abort', onAbort, { once: true });
    req.on('error', (err) => finish(networkOutcome(err, url.host, url.hostname)));
    req.on('response', (res) => {
      const status = res.statusCode ?? 0;
      if (status >= 200 && status < 300) return finish({ status, retryable: false });
      // Keep the start of the answer for the log (Slack says why in it: no_service, invalid_token…).
      const chunks: Buffer[] = [];
      let size = 0;
      const end = () => {
        const text = Buffer.concat(chunks).subarray(0, SNIPPET_BYTES).toString('utf8');
        const retryAfter = parseRetryAfter(res.headers['retry-after'], o.now());
        finish(statusOutcome(status, snippet(text, o.redact), retryAfter));
      };
      onTimeout = end;
      res.on('data', (c: Buffer) => {
        chunks.push(c);
        size += c.length;
        if (size >= SNIPPET_BYTES) end();
      });
      res.on('end', end);
      res.on('error', end);
    });
    if (o.signal?.aborted) return onAbort();
    req.end(body);
  });
}

function positive(name: string, v: number, min: number): number {
  if (!Number.isFinite(v) || v < min) throw new RangeError(`${name} must be a number >= ${min}`);
  return v;
}

export async function deliver(
  channel: Channel,
  msg: IncidentMessage,
  opts: DeliverOptions = {},
): Promise<DeliveryLog> {
  const maxAttempts = Math.floor(
    positive('maxAttempts', opts.maxAttempts ?? DELIVERY_DEFAULTS.maxAttempts, 1),
  );
  const base = positive('baseDelayMs', opts.baseDelayMs ?? DELIVERY_DEFAULTS.baseDelayMs, 0);
  const maxDelay = positive('maxDelayMs', opts.maxDelayMs ?? DELIVERY_DEFAULTS.maxDelayMs, 0);
  const retryAfterCap = positive(
    'retryAfterCapMs',
    opts.retryAfterCapMs ?? DELIVERY_DEFAULTS.retryAfterCapMs,
    0,
  );
  const timeoutMs = positive('timeoutMs', opts.timeoutMs ?? DELIVERY_DEFAULTS.timeoutMs, 1);
  const now = opts.now ?? Date.now;
  const random = opts.random ?? Math.random;
  const deliveryId = opts.deliveryId ?? randomUUID();
  if (!/^[\x21-\x7e]{1,200}$/.test(deliveryId))
    throw new RangeError('deliveryId must be 1-200 printable ASCII characters without spaces');
  const ca = opts.ca && [...tls.rootCertificates, ...(Array.isArray(opts.ca) ? opts.ca : [opts.ca])];
  const log: DeliveryLog = {
    deliveryId,
    channelKind: channel.kind,
    ok: false,
    result: 'exhausted',
    attempts: [],
  };
  const secrets = channel.kind === 'webhook' ? [channel.secret, channel.previousSecret ?? ''] : [];

  let url: URL | undefined;
  try {
    url = new URL(channel.url);
  } catch {}
  const redact = redactor(url, secrets);

  const record = async (a: DeliveryAttempt) => {
    log.attempts.push(a);
    try {
      await opts.onAttempt?.(a, deliveryId);
    } catch {}
  };
  const close = (result: DeliveryLog['result'], error?: string): DeliveryLog => {
    log.result = result;
    log.ok = result === 'delivered';
    if (error) log.error = error;
    return log;
  };

  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    const error = 'invalid_url: the channel URL is not an http(s) URL';
    await record({
      n: 1,
      at: new Date(now()).toISOString(),
      durationMs: 0,
      errorClass: 'invalid_url',
      error,
    });
    return close('rejected', error);
  }

  const literal = literalHost(url.hostname);
  if (opts.netPolicy && literal && opts.netPolicy.denies(literal)) {
    const error = 'blocked: the channel URL is an address in a network PEEP_WEBHOOK_DENY refuses';
    await record({ n: 1, at: new Date(now()).toISOString(), durationMs: 0, errorClass: 'blocked', error });
    return close('rejected', error);
  }
  const lookup = opts.lookup ?? (opts.netPolicy ? guardedLookup(opts.netPolicy) : undefined);

  const payload =
    channel.kind === 'slack'
      ? JSON.stringify(renderSlack(msg))
      : JSON.stringify(webhookBody(msg, deliveryId));
  const body = Buffer.from(payload);

  for (let n = 1; ; n++) {
    if (opts.signal?.aborted) return close('aborted', 'aborted');
    const at = now();
    const t0 = performance.now();
    const headers =
      channel.kind === 'slack'
        ? { 'Content-Type': 'application/json; charset=utf-8', 'User-Agent': 'peep-notify/1' }
        : webhookHeaders(msg.type, payload, {
            secret: channel.secret,
            ...(channel.previousSecret ? { previousSecret: channel.previousSecret } : {}),
            deliveryId,
            timestampSec: Math.floor(at / 1000),
          });
    const out = await post(url, body, headers, {
      timeoutMs,
      redact,
      now,
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(lookup ? { lookup } : {}),
      ...(ca ? { ca } : {}),
    });
    const attempt: DeliveryAttempt = {
      n,
      at: new Date(at).toISOString(),
      durationMs: Math.round((performance.now() - t0) * 10) / 10,
      ...(out.status !== undefined ? { status: out.status } : {}),
      ...(out.errorClass ? { errorClass: out.errorClass } : {}),
      ...(out.error ? { error: out.error } : {}),
    };
    const ok = out.status !== undefined && out.status >= 200 && out.status < 300;
    let result: DeliveryLog['result'] | undefined;
    if (ok) result = 'delivered';
    else if (out.errorClass === 'aborted') result = 'aborted';
    else if (!out.retryable) result = 'rejected';
    else if (n >= maxAttempts) result = 'exhausted';
    let wait = 0;
    if (!result) {
      wait =
        out.retryAfterMs !== undefined
          ? Math.min(out.retryAfterMs, retryAfterCap)
          : Math.round(random() * Math.min(maxDelay, base * 2 ** (n - 1)));
      attempt.retryInMs = wait;
    }
    await record(attempt);
    if (result === 'exhausted') return close(result, `gave up after ${n} attempts; last: ${out.error}`);
    if (result) return close(result, out.error);
    try {
      await sleep(wait, undefined, opts.signal ? { signal: opts.signal } : {});
    } catch {
      return close('aborted', 'aborted while waiting to retry');
    }
  }
}
