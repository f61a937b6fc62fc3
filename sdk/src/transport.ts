/**
 * The shipper: three bounded queues (request events, logs, request aggregates), each sent in batches
 * to `POST {endpoint}/api/v1/ingest/{events|logs|aggregates}` when a batch is full or every `flushIntervalMs`.
 *
 * A batch carries one Idempotency-Key for all its attempts, so a retry after a lost answer counts
 * once. Network errors, 408, 429 and 5xx are retried with exponential backoff and full jitter; a
 * Retry-After on 429/503 is honoured (capped by retryMaxMs). 413 splits the batch in two. Anything
 * else (bad key, every item invalid) drops the batch. A full queue drops new items. Every drop is
 * counted in stats() and reported to onError; nothing here throws into the app.
 */
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import type { ResolvedOptions } from './options.js';

const gzip = promisify(zlib.gzip);

export type Kind = 'events' | 'logs' | 'aggregates';

export interface KindStats {
  /** Items waiting in the queue now. */
  queued: number;
  /** Items in a batch being sent now. */
  inFlight: number;
  /** Items peep accepted. */
  sent: number;
  /** Items lost: queue full, peep unreachable after every attempt, batch refused (e.g. bad key). */
  dropped: number;
  /** Items peep received and refused as invalid (its answer names them). */
  rejected: number;
}

export interface Stats {
  /** False when no ingest key is configured: nothing is queued or sent. */
  enabled: boolean;
  events: KindStats;
  logs: KindStats;
  /** Per-window route summaries of the aggregating mode (each counts many requests). */
  aggregates: KindStats;
  /** Ingest requests answered 2xx. */
  batchesSent: number;
  /** Batches given up (all their items counted in `dropped`). */
  batchesFailed: number;
  /** Attempts after the first one. */
  retries: number;
  /** Errors swallowed (also passed to onError). */
  errors: number;
  lastError: string | undefined;
}

export interface Shipper {
  enqueue(kind: Kind, item: object): void;
  /** Sends everything queued; resolves true when all of it was answered within timeoutMs. */
  flush(timeoutMs?: number): Promise<boolean>;
  /** Stops accepting items, sends what is queued (giving up at the deadline), stops the timer. */
  close(timeoutMs?: number): Promise<void>;
  stats(): Stats;
  /** Counts an error swallowed elsewhere in the SDK and passes it to onError. */
  report(err: Error): void;
}

interface Lane {
  kind: Kind;
  url: string;
  queue: object[];
  inFlight: number;
  sending: Promise<void> | undefined;
  /** The backoff timer now pending, so a flush can keep the process alive for it. */
  timer: NodeJS.Timeout | undefined;
  wake: (() => void) | undefined;
  s: Omit<KindStats, 'queued' | 'inFlight'>;
}

/** Retry-After as milliseconds: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(v: string | null, now = Date.now()): number | undefined {
  if (!v) return undefined;
  const t = v.trim();
  if (/^\d+$/.test(t)) return Number(t) * 1000;
  const at = Date.parse(t);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Delay before attempt `attempt + 1`: full jitter over min(max, base * 2^(attempt-1)). */
export function backoffMs(attempt: number, baseMs: number, maxMs: number, random = Math.random): number {
  return Math.floor(random() * Math.min(maxMs, baseMs * 2 ** (attempt - 1)));
}

function errorText(status: number, body: string): string {
  try {
    const e = (JSON.parse(body) as { error?: { code?: string; message?: string } }).error;
    if (e?.code) return `${status} ${e.code}: ${e.message ?? ''}`.trim();
  } catch {
    // not JSON
  }
  return `${status} ${body.slice(0, 200)}`.trim();
}

export function createShipper(o: ResolvedOptions, userAgent: string): Shipper {
  const enabled = o.ingestKey !== undefined;
  let closed = false;
  /** Set by close(): retries that would end after it give the batch up. */
  let deadline: number | undefined;
  /** Flushes in progress; while > 0 backoff timers keep the process alive. */
  let flushing = 0;
  const g = {
    batchesSent: 0,
    batchesFailed: 0,
    retries: 0,
    errors: 0,
    lastError: undefined as string | undefined,
  };

  const lane = (kind: Kind): Lane => ({
    kind,
    url: `${o.endpoint}/api/v1/ingest/${kind}`,
    queue: [],
    inFlight: 0,
    sending: undefined,
    timer: undefined,
    wake: undefined,
    s: { sent: 0, dropped: 0, rejected: 0 },
  });
  const lanes: Record<Kind, Lane> = {
    events: lane('events'),
    logs: lane('logs'),
    aggregates: lane('aggregates'),
  };

  function report(err: Error): void {
    g.errors++;
    g.lastError = err.message;
    try {
      o.onError?.(err);
    } catch {
      // the app's error handler failed; nothing more to do
    }
  }

  function sleep(l: Lane, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        l.timer = undefined;
        l.wake = undefined;
        resolve();
      };
      l.timer = setTimeout(done, ms);
      if (flushing === 0) l.timer.unref();
      l.wake = () => {
        if (l.timer) clearTimeout(l.timer);
        done();
      };
    });
  }

  async function post(l: Lane, body: Buffer, gzipped: boolean, key: string): Promise<Response> {
    const headers: Record<string, string> = {
      authorization: `Bearer ${o.ingestKey}`,
      'content-type': 'application/json',
      'idempotency-key': key,
      'user-agent': userAgent,
    };
    if (gzipped) headers['content-encoding'] = 'gzip';
    return fetch(l.url, {
      method: 'POST',
      headers,
      body,
      signal: AbortSignal.timeout(o.requestTimeoutMs),
    });
  }

  function giveUp(l: Lane, n: number, why: string): void {
    l.s.dropped += n;
    g.batchesFailed++;
    report(new Error(`peep sdk: dropped ${n} ${l.kind}: ${why}`));
  }

  async function sendBatch(l: Lane, batch: object[]): Promise<void> {
    const key = randomUUID();
    let body = Buffer.from(JSON.stringify(batch));
    let gzipped = false;
    if (body.length > o.gzipThresholdBytes) {
      body = await gzip(body, { level: 1 });
      gzipped = true;
    }
    for (let attempt = 1; ; attempt++) {
      let retryAfter: number | undefined;
      let why: string;
      try {
        const res = await post(l, body, gzipped, key);
        const text = await res.text();
        if (res.ok) {
          g.batchesSent++;
          let accepted = batch.length;
          let rejected = 0;
          try {
            const a = JSON.parse(text) as {
              accepted?: number;
              rejectedCount?: number;
              rejected?: { index: number; code: string; message: string }[];
            };
            if (typeof a.accepted === 'number') accepted = a.accepted;
            if (typeof a.rejectedCount === 'number') rejected = a.rejectedCount;
            const first = a.rejected?.[0];
            if (rejected > 0)
              report(
                new Error(
                  `peep sdk: peep rejected ${rejected} of ${batch.length} ${l.kind}` +
                    (first ? ` (item ${first.index}: ${first.code} ${first.message})` : ''),
                ),
              );
          } catch {
            // a 2xx without the documented body: count the batch as accepted
          }
          l.s.sent += accepted;
          l.s.rejected += rejected;
          return;
        }
        why = errorText(res.status, text);
        if (res.status === 413 && batch.length > 1) {
          const half = Math.ceil(batch.length / 2);
          await sendBatch(l, batch.slice(0, half));
          await sendBatch(l, batch.slice(half));
          return;
        }
        if (res.status === 400) {
          // every item refused as invalid: sending them again cannot help
          l.s.rejected += batch.length;
          g.batchesFailed++;
          report(new Error(`peep sdk: peep rejected ${batch.length} ${l.kind}: ${why}`));
          return;
        }
        if (res.status !== 408 && res.status !== 429 && res.status < 500) {
          giveUp(l, batch.length, why);
          return;
        }
        if (res.status === 429 || res.status === 503)
          retryAfter = parseRetryAfter(res.headers.get('retry-after'));
      } catch (e) {
        const err = e as Error & { cause?: { code?: string; message?: string } };
        why = err.cause?.code ?? err.cause?.message ?? err.message;
      }
      if (attempt >= o.maxAttempts) {
        giveUp(l, batch.length, `${why} (after ${attempt} attempts)`);
        return;
      }
      const delay =
        retryAfter !== undefined
          ? Math.min(retryAfter, o.retryMaxMs)
          : backoffMs(attempt, o.retryBaseMs, o.retryMaxMs);
      if (deadline !== undefined && Date.now() + delay > deadline) {
        giveUp(l, batch.length, `${why} (no time left to retry before shutdown)`);
        return;
      }
      g.retries++;
      await sleep(l, delay);
    }
  }

  /** Sends full batches, and with `all` the partial one too; one sender per lane. */
  function kick(l: Lane, all: boolean): Promise<void> {
    if (l.sending) return l.sending;
    const run = async () => {
      while (l.queue.length >= o.batchSize || (all && l.queue.length > 0)) {
        const batch = l.queue.splice(0, o.batchSize);
        l.inFlight = batch.length;
        try {
          await sendBatch(l, batch);
        } catch (e) {
          // gzip or JSON.stringify failed (a cyclic attribute slipped through): lose this batch only
          giveUp(l, batch.length, (e as Error).message);
        } finally {
          l.inFlight = 0;
        }
      }
    };
    l.sending = run().finally(() => {
      l.sending = undefined;
    });
    return l.sending;
  }

  const timer = setInterval(() => {
    for (const l of Object.values(lanes)) if (!l.sending && l.queue.length > 0) void kick(l, true);
  }, o.flushIntervalMs);
  timer.unref();

  async function drainAll(): Promise<void> {
    for (;;) {
      const busy = Object.values(lanes).filter((l) => l.sending || l.queue.length > 0);
      if (busy.length === 0) return;
      await Promise.all(
        busy.map(async (l) => {
          l.timer?.ref();
          if (l.sending) await l.sending;
          if (l.queue.length > 0) await kick(l, true);
        }),
      );
    }
  }

  async function flush(timeoutMs = 10_000): Promise<boolean> {
    if (!enabled) return true;
    flushing++;
    let t: NodeJS.Timeout | undefined;
    try {
      const timedOut = new Promise<boolean>((r) => {
        t = setTimeout(() => r(false), timeoutMs);
      });
      return await Promise.race([drainAll().then(() => true), timedOut]);
    } catch (e) {
      report(e as Error);
      return false;
    } finally {
      clearTimeout(t);
      flushing--;
    }
  }

  return {
    enqueue(kind, item) {
      if (!enabled) return;
      const l = lanes[kind];
      if (closed || l.queue.length >= o.maxQueue) {
        l.s.dropped++;
        return;
      }
      l.queue.push(item);
      if (l.queue.length >= o.batchSize && !l.sending) void kick(l, false);
    },
    flush,
    async close(timeoutMs = 5_000) {
      if (closed) return;
      closed = true;
      deadline = Date.now() + timeoutMs;
      // a retry now sleeping past the deadline gives up at once
      for (const l of Object.values(lanes)) if (l.timer) l.wake?.();
      await flush(timeoutMs);
      clearInterval(timer);
      for (const l of Object.values(lanes)) {
        if (l.queue.length > 0) giveUp(l, l.queue.splice(0).length, 'not sent before shutdown');
      }
    },
    report,
    stats() {
      const k = (l: Lane): KindStats => ({ queued: l.queue.length, inFlight: l.inFlight, ...l.s });
      return {
        enabled,
        events: k(lanes.events),
        logs: k(lanes.logs),
        aggregates: k(lanes.aggregates),
        ...g,
      };
    },
  };
}
