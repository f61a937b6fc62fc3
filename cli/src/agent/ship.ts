/**
 * Sends one batch of request events to `POST /api/v1/ingest/events` until peep answers for it:
 * gzip above 8 KiB, an Idempotency-Key per batch, and retries with exponential backoff and full
 * jitter on network errors and 5xx (Retry-After honoured on 429 and 503). Answers that no retry can
 * change end the retries: a 400 drops the batch (reported), a 413 asks the caller to split it, and a
 * refused key (401, 403) or a wrong server (404) stops the agent with the CLI's exit codes.
 */
import { promisify } from 'node:util';
import { gzip as gzipCb } from 'node:zlib';
import { USER_AGENT } from '../client.js';
import { CliError, exitCodeForStatus } from '../errors.js';

const gzip = promisify(gzipCb);

export type ShipResult =
  | { kind: 'accepted'; accepted: number; rejectedCount: number; rejected: Rejection[]; duplicate: boolean }
  | { kind: 'dropped'; code: string; message: string }
  | { kind: 'too_large' };

export interface Rejection {
  index: number;
  code: string;
  message: string;
}

export interface ShipperOptions {
  server: string;
  key: string;
  note: (msg: string) => void;
  /** Aborting it ends a send between attempts or mid-request (AbortError). */
  signal: AbortSignal;
  baseDelayMs?: number;
  maxDelayMs?: number;
  random?: () => number;
}

export interface Shipper {
  send(events: unknown[], idempotencyKey: string): Promise<ShipResult>;
  /** Attempts that failed and were retried, since start. */
  retries(): number;
}

/** Seconds (`Retry-After: 2`) or an HTTP date, in ms; undefined when absent or unreadable. */
export function retryAfterMs(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const t = Date.parse(value);
  return Number.isNaN(t) ? undefined : Math.max(0, t - now);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

interface ErrorBody {
  error?: { code?: string; message?: string; details?: { rejectedCount?: number } };
  accepted?: number;
  rejected?: Rejection[];
  rejectedCount?: number;
  duplicate?: boolean;
}

export function createShipper(opts: ShipperOptions): Shipper {
  const url = `${opts.server}/api/v1/ingest/events`;
  const base = opts.baseDelayMs ?? 500;
  const cap = opts.maxDelayMs ?? 30_000;
  const random = opts.random ?? Math.random;
  let retries = 0;

  return {
    retries: () => retries,
    async send(events, idempotencyKey) {
      const json = Buffer.from(JSON.stringify(events));
      const zipped = json.length > 8192;
      const body = zipped ? await gzip(json) : json;
      const headers: Record<string, string> = {
        authorization: `Bearer ${opts.key}`,
        'content-type': 'application/json',
        'idempotency-key': idempotencyKey,
        'user-agent': `${USER_AGENT} agent-nginx`,
      };
      if (zipped) headers['content-encoding'] = 'gzip';

      for (let attempt = 0; ; attempt++) {
        let wait: number;
        let why: string;
        try {
          const res = await fetch(url, {
            method: 'POST',
            headers,
            body,
            signal: AbortSignal.any([opts.signal, AbortSignal.timeout(30_000)]),
          });
          const text = await res.text();
          let parsed: ErrorBody = {};
          try {
            parsed = text ? (JSON.parse(text) as ErrorBody) : {};
          } catch {
            // not JSON: judged by the status alone
          }
          if (res.ok)
            return {
              kind: 'accepted',
              accepted: parsed.accepted ?? 0,
              rejectedCount: parsed.rejectedCount ?? 0,
              rejected: parsed.rejected ?? [],
              duplicate: parsed.duplicate === true,
            };
          const code = parsed.error?.code ?? `http_${res.status}`;
          const message = parsed.error?.message ?? `${res.status} ${res.statusText}`;
          if (res.status === 413) return { kind: 'too_large' };
          if (res.status === 401 || res.status === 403 || res.status === 404)
            throw new CliError(
              exitCodeForStatus(res.status),
              code,
              `${url} answered ${res.status}: ${message}`,
              {
                status: res.status,
                hint:
                  res.status === 404
                    ? 'is --server a peep server with telemetry ingest?'
                    : 'check the ingest key (--key or PEEP_INGEST_KEY); create one with `peep ingest-keys create`',
              },
            );
          if (res.status === 429 || res.status >= 500) {
            const after = retryAfterMs(res.headers.get('retry-after'));
            wait =
              after !== undefined
                ? after + random() * Math.min(1000, after * 0.2)
                : random() * Math.min(cap, base * 2 ** attempt);
            why = `${res.status} ${code}`;
          } else {
            return { kind: 'dropped', code, message };
          }
        } catch (e) {
          if (e instanceof CliError) throw e;
          if (opts.signal.aborted) throw e;
          wait = random() * Math.min(cap, base * 2 ** attempt);
          const err = e as Error & { cause?: { code?: string } };
          why = err.cause?.code ?? err.name ?? 'network error';
        }
        retries++;
        if (attempt === 0 || attempt % 10 === 0)
          opts.note(`send failed (${why}); retrying in ${Math.round(wait)} ms (attempt ${attempt + 1})`);
        await sleep(wait, opts.signal);
      }
    },
  };
}
