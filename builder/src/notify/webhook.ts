/**
 * Generic webhooks: a versioned JSON body (docs/webhooks.md describes it for receivers) signed with
 * HMAC-SHA256 over `<timestamp>.<body>`, Stripe-style, so a receiver can check both origin and age.
 *
 * - The body is built once per delivery; each attempt signs it again with that attempt's timestamp,
 *   so a retry 20 minutes later still passes a receiver's 5 minute tolerance.
 * - During a secret rotation the channel's `previousSecret` adds a second `v1=` signature; receivers
 *   accept a request when any signature matches any secret they hold.
 * - verifyWebhookSignature is what a receiver runs (and what the tests run on the receiving side);
 *   the Node snippet in docs/webhooks.md is the same logic without peep, and a test runs that
 *   snippet too.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { toIso, toMs } from './format.js';
import type { IncidentKind, IncidentMessage, MessageType } from './types.js';

export const WEBHOOK_VERSION = 1;
export const SIGNATURE_SCHEME = 'v1';
export const DEFAULT_TOLERANCE_SEC = 300;

/** The JSON body of version 1, as receivers see it (times are ISO 8601 UTC). */
export interface WebhookBodyV1 {
  version: 1;
  /** Same as the X-Peep-Delivery header: one delivery of one message to one channel. */
  deliveryId: string;
  type: MessageType;
  incident: {
    id: string;
    title: string;
    kind: IncidentKind;
    severity: 'critical' | 'warning' | 'info' | null;
    status: 'open' | 'resolved';
    subject: { type: 'target' | 'service'; id: string; name: string };
    project: { id: string; slug: string; name: string };
    environment: string;
    openedAt: string;
    resolvedAt: string | null;
    /** Seconds from openedAt to resolvedAt (resolved) or to sentAt (still open). */
    durationSec: number;
    acknowledgedBy: string | null;
    numbers: Record<string, string | number>;
    reason: string;
  };
  /** The incident in peep's dashboard. */
  url: string;
  sentAt: string;
}

export function webhookBody(msg: IncidentMessage, deliveryId: string): WebhookBodyV1 {
  const inc = msg.incident;
  const resolved = msg.type === 'resolved' || inc.resolvedAt !== undefined;
  const end = inc.resolvedAt !== undefined ? toMs(inc.resolvedAt) : toMs(msg.sentAt);
  return {
    version: WEBHOOK_VERSION,
    deliveryId,
    type: msg.type,
    incident: {
      id: inc.id,
      title: inc.title,
      kind: inc.kind,
      severity: inc.severity ?? null,
      status: resolved ? 'resolved' : 'open',
      subject: { type: inc.subject.type, id: inc.subject.id, name: inc.subject.name },
      project: { id: inc.project.id, slug: inc.project.slug, name: inc.project.name },
      environment: inc.environment,
      openedAt: toIso(inc.openedAt),
      resolvedAt: inc.resolvedAt !== undefined ? toIso(inc.resolvedAt) : resolved ? toIso(msg.sentAt) : null,
      durationSec: Math.max(0, Math.round((end - toMs(inc.openedAt)) / 1000)),
      acknowledgedBy: inc.acknowledgedBy ?? null,
      numbers: { ...inc.numbers },
      reason: inc.reason,
    },
    url: msg.url,
    sentAt: toIso(msg.sentAt),
  };
}

function hmacHex(secret: string, timestamp: string, body: string | Uint8Array): string {
  return createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex');
}

/** `v1=<hex>` for each secret, comma-separated (the X-Peep-Signature header). */
export function signWebhook(
  secrets: readonly string[],
  timestampSec: number,
  body: string | Uint8Array,
): string {
  const ts = String(timestampSec);
  return secrets.map((s) => `${SIGNATURE_SCHEME}=${hmacHex(s, ts, body)}`).join(',');
}

export interface RenderedWebhook {
  body: string;
  headers: Record<string, string>;
}

export interface WebhookSigning {
  secret: string;
  previousSecret?: string;
  deliveryId: string;
  /** Unix seconds of this attempt. */
  timestampSec: number;
}

/** Headers of one attempt; `body` must be the exact bytes sent. */
export function webhookHeaders(type: MessageType, body: string, s: WebhookSigning): Record<string, string> {
  const secrets = s.previousSecret ? [s.secret, s.previousSecret] : [s.secret];
  return {
    'Content-Type': 'application/json; charset=utf-8',
    'User-Agent': 'peep-webhook/1',
    'X-Peep-Event': type,
    'X-Peep-Delivery': s.deliveryId,
    'X-Peep-Timestamp': String(s.timestampSec),
    'X-Peep-Signature': signWebhook(secrets, s.timestampSec, body),
  };
}

export function renderWebhook(msg: IncidentMessage, s: WebhookSigning): RenderedWebhook {
  const body = JSON.stringify(webhookBody(msg, s.deliveryId));
  return { body, headers: webhookHeaders(msg.type, body, s) };
}

export type VerifyResult =
  | { ok: true }
  | {
      ok: false;
      /** missing: no timestamp or signature; stale: outside the tolerance; mismatch: no signature matches. */
      reason: 'missing' | 'malformed' | 'stale' | 'mismatch';
    };

export interface VerifyOptions {
  /** How far the timestamp may be from now, either way; default 300 s. */
  toleranceSec?: number;
  /** Clock in milliseconds; default Date.now. */
  now?: () => number;
}

/**
 * Checks a received webhook: `body` must be the raw bytes received (not re-serialized JSON),
 * `timestamp` the X-Peep-Timestamp header, `signatureHeader` the X-Peep-Signature header. `secret`
 * may list several secrets (a receiver rotating its own). Signatures are compared in constant time.
 */
export function verifyWebhookSignature(
  secret: string | readonly string[],
  timestamp: string | undefined,
  body: string | Uint8Array,
  signatureHeader: string | undefined,
  opts: VerifyOptions = {},
): VerifyResult {
  if (!timestamp || !signatureHeader) return { ok: false, reason: 'missing' };
  if (!/^\d{1,12}$/.test(timestamp)) return { ok: false, reason: 'malformed' };
  const nowSec = (opts.now ?? Date.now)() / 1000;
  if (Math.abs(nowSec - Number(timestamp)) > (opts.toleranceSec ?? DEFAULT_TOLERANCE_SEC))
    return { ok: false, reason: 'stale' };
  const given: Buffer[] = [];
  for (const part of signatureHeader.split(',')) {
    const [scheme, hex] = part.trim().split('=', 2);
    if (scheme === SIGNATURE_SCHEME && hex && /^[0-9a-f]{64}$/i.test(hex))
      given.push(Buffer.from(hex, 'hex'));
  }
  if (given.length === 0) return { ok: false, reason: 'malformed' };
  const secrets = typeof secret === 'string' ? [secret] : secret;
  for (const s of secrets) {
    const expected = Buffer.from(hmacHex(s, timestamp, body), 'hex');
    for (const g of given) if (timingSafeEqual(expected, g)) return { ok: true };
  }
  return { ok: false, reason: 'mismatch' };
}
