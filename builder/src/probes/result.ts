/**
 * What a check reports, and how socket errors map to the few error classes incidents and the
 * dashboard speak of. Messages are short and never hold a request header's value (those may be
 * credentials): they come from the spec's own assertion texts, status codes and Node's socket error
 * messages, which name hosts and addresses only.
 */

export type ErrorClass =
  | 'timeout'
  | 'refused'
  | 'dns'
  | 'tls'
  | 'assertion'
  | 'status'
  | 'reset'
  | 'protocol'
  | 'other';

/**
 * Durations in milliseconds (monotonic clock), summed over redirect hops. A phase that did not happen
 * is absent: dnsMs for an IP literal, tlsMs for plain HTTP, firstByteMs when no response came.
 * firstByteMs runs from the connection being ready (after TLS) to the response headers.
 */
export interface Phases {
  dnsMs?: number;
  connectMs?: number;
  tlsMs?: number;
  firstByteMs?: number;
  totalMs: number;
}

export interface CheckResult {
  ok: boolean;
  /** Epoch ms, from the injected clock. */
  startedAt: number;
  durationMs: number;
  phases: Phases;
  /** The final response's status (the 3xx itself when redirects are not followed). */
  statusCode?: number;
  errorClass?: ErrorClass;
  message?: string;
  /** Whole days until the earliest-expiring certificate seen (negative once expired). */
  certDaysLeft?: number;
  certExpiresAt?: string;
  /** certDaysLeft < certExpiryWarnDays; the check stays ok. */
  certWarning?: boolean;
  /** Redirect hops followed. */
  redirects?: number;
  /** Body bytes read (at most the read limit). */
  bytes?: number;
}

const DNS = new Set([
  'ENOTFOUND',
  'EAI_AGAIN',
  'EAI_FAIL',
  'EAI_NODATA',
  'EAI_NONAME',
  'ENODATA',
  'ESERVFAIL',
]);
const RESET = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'ERR_STREAM_PREMATURE_CLOSE']);
// OpenSSL verification codes Node passes on as error codes.
const TLS =
  /^(ERR_SSL_|ERR_TLS_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|HOSTNAME_MISMATCH|INVALID_CA|INVALID_PURPOSE|EPROTO$)/;

/** `handshaking`: the error came on a TLS socket after TCP connected and before TLS completed. */
export function classify(
  err: NodeJS.ErrnoException,
  handshaking: boolean,
): { errorClass: ErrorClass; message: string } {
  const code = err.code ?? '';
  let errorClass: ErrorClass;
  if (DNS.has(code)) errorClass = 'dns';
  else if (code === 'ECONNREFUSED') errorClass = 'refused';
  else if (code === 'ETIMEDOUT') errorClass = 'timeout';
  else if (handshaking || TLS.test(code)) errorClass = 'tls';
  else if (RESET.has(code)) errorClass = 'reset';
  else if (code.startsWith('HPE_') || code === 'ERR_INVALID_HTTP_RESPONSE') errorClass = 'protocol';
  else errorClass = 'other';
  // OpenSSL errors carry a readable `reason` ("wrong version number") beside a message full of internals.
  const reason = (err as { reason?: unknown }).reason;
  let message = (typeof reason === 'string' && reason) || err.message.trim() || code || 'error';
  if (code && !message.includes(code)) message += ` (${code})`;
  if (handshaking && errorClass === 'tls' && RESET.has(code)) message = `TLS handshake failed: ${message}`;
  return { errorClass, message: message.length > 200 ? `${message.slice(0, 197)}...` : message };
}

/** Rounds a duration to microseconds, which is all a millisecond figure needs. */
export const ms = (d: number) => Math.round(d * 1000) / 1000;
