/**
 * The notifier: drains the delivery outbox (`deliveries`), which the incident store fills in the
 * same transaction as the incident change, so a message is never lost between the two.
 *
 * - Wakes every `pollMs` (1 s) and at once on the bus subject `notify.wake`; claims due rows (see
 *   repo.ts) up to `concurrency` in flight, so one slow receiver does not hold up the others.
 * - Opens the channel's sealed URL and secret with the project's data key and calls deliver() with
 *   its retries and backoff; each attempt is appended to the row as it finishes (and extends the
 *   claim past the wait before the next one). The delivery id is the row id, so a receiver sees the
 *   same X-Peep-Delivery on every attempt, across restarts too.
 * - A worker that dies mid-delivery leaves a claim that expires after `claimMs`; another worker then
 *   resumes the row with the attempts it has left. A worker that stops cleanly lets attempts in
 *   flight finish (2 s at most), then aborts the rest and gives their rows back at once. Delivery is
 *   at least once: an answer lost to a crash or an abort means the message is sent again, with the
 *   same delivery id (docs/webhooks.md tells receivers to drop duplicates by it).
 * - When it finishes, the row says ok or failed with the error, and an incident's timeline gets a
 *   `notified` event (actor `peep`) saying which channel, whether it worked and after how many attempts.
 */

import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Bus, Clock, Db, Logger } from '@peep/pkg';
import type { MasterKeys } from '@peep/pkg/project-keys';
import { DELIVERY_DEFAULTS, type DeliverOptions, deliver } from '../notify/deliver.js';
import type { DeliveryAttempt, MessageType } from '../notify/types.js';
import { type DeliveryRow, NOTIFY_WAKE, notifierRepo } from './repo.js';
import { openChannel } from './sealed.js';

export type DeliveryTuning = Pick<
  DeliverOptions,
  | 'maxAttempts'
  | 'baseDelayMs'
  | 'maxDelayMs'
  | 'retryAfterCapMs'
  | 'timeoutMs'
  | 'lookup'
  | 'ca'
  | 'random'
  | 'netPolicy'
>;

export interface NotifierOptions {
  db: Db;
  bus: Bus;
  log: Logger;
  clock: Clock;
  keys: MasterKeys;
  /** Names this worker in `claimed_by`; default host, pid and a random suffix. */
  workerId?: string;
  /** Deliveries in flight at most; default 8. */
  concurrency?: number;
  /** Default 1000 ms. */
  pollMs?: number;
  /** How long a claim holds without news from its worker; default 60 s (more than one attempt's timeout). */
  claimMs?: number;
  /** deliver() options (attempts, backoff, timeout, DNS look-up, CAs). */
  delivery?: DeliveryTuning;
  /** Called when a delivery finishes (tests and benchmarks). */
  onFinished?: (row: DeliveryRow, ok: boolean) => void;
}

export interface Notifier {
  readonly workerId: string;
  start(): void;
  /**
   * Stops claiming, lets deliveries in flight finish for up to `graceMs` (default 2 s), then aborts
   * the rest (an attempt in progress or a wait before a retry) and gives their rows back.
   */
  stop(graceMs?: number): Promise<void>;
  /** Claims what is due now and waits until those deliveries (and any they make room for) finish. */
  drain(): Promise<number>;
  /** Claims what is due now without waiting (what the timer and `notify.wake` do). */
  wake(): void;
  inFlight(): number;
}

const TYPE_WORD: Record<MessageType, string> = {
  opened: 'Incident',
  reminder: 'Reminder',
  resolved: 'Resolution',
  acknowledged: 'Acknowledgement',
  test: 'Test',
};

export function createNotifier(o: NotifierOptions): Notifier {
  const { db, log, clock } = o;
  const workerId = o.workerId ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  const concurrency = o.concurrency ?? 8;
  const pollMs = o.pollMs ?? 1000;
  const timeoutMs = o.delivery?.timeoutMs ?? DELIVERY_DEFAULTS.timeoutMs;
  const claimMs = Math.max(o.claimMs ?? 60_000, timeoutMs + 1000);
  const maxAttempts = o.delivery?.maxAttempts ?? DELIVERY_DEFAULTS.maxAttempts;
  const inflight = new Map<string, Promise<void>>();
  let abort = new AbortController();
  let stopped = true;
  let timer: NodeJS.Timeout | null = null;
  let unsubscribe: (() => void) | null = null;
  let pumping: Promise<void> | null = null;
  let again = false;

  const later = (ms: number) => new Date(clock.now().getTime() + ms);

  async function finishRow(
    row: DeliveryRow,
    ok: boolean,
    error: string | null,
    channelName: string | null,
    attempts: number,
  ) {
    const at = clock.now();
    const done = await db.transaction(async (tx) => {
      if (!(await notifierRepo.finish(tx, row.id, workerId, ok, error, at))) return false;
      if (row.incident_id && channelName !== null) {
        const what = TYPE_WORD[row.type] ?? row.type;
        await notifierRepo.notified(tx, {
          incidentId: row.incident_id,
          at,
          ok,
          body: ok
            ? `${what} sent to ${channelName}`
            : `${what} to ${channelName} failed: ${error ?? 'unknown error'}`,
          data: {
            channel: channelName,
            channelId: row.channel_id,
            deliveryId: row.id,
            type: row.type,
            ok,
            attempts,
            ...(error ? { error } : {}),
          },
        });
      }
      return true;
    });
    if (!done) log.warn({ deliveryId: row.id }, 'delivery claim was taken over; result not recorded');
    else o.onFinished?.(row, ok);
  }

  async function send(row: DeliveryRow): Promise<void> {
    const channel = await notifierRepo.channel(db, row.channel_id);
    if (!channel) return; // deleted: the row went with it
    const prior = Array.isArray(row.attempts) ? row.attempts.length : 0;
    if (!channel.enabled) return finishRow(row, false, 'the channel is disabled', channel.name, prior);
    let target: Awaited<ReturnType<typeof openChannel>>;
    try {
      target = await openChannel(db, o.keys, channel, clock.now());
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if ((err as Error).name === 'SealError') {
        // Will not get better by retrying: the stored value or its key is damaged or missing.
        return finishRow(
          row,
          false,
          `cannot open the channel's sealed URL or secret (${String(code)}); set the channel's URL again`,
          channel.name,
          prior,
        );
      }
      throw err; // master key not loadable and the like: released and retried later
    }
    const result = await deliver(target, row.message, {
      ...o.delivery,
      deliveryId: row.id,
      maxAttempts: Math.max(1, maxAttempts - prior),
      signal: abort.signal,
      onAttempt: async (a: DeliveryAttempt) => {
        const stored: DeliveryAttempt = { ...a, n: prior + a.n };
        const held = await notifierRepo.addAttempt(
          db,
          row.id,
          workerId,
          stored,
          later((a.retryInMs ?? 0) + claimMs),
        );
        if (!held) log.warn({ deliveryId: row.id }, 'delivery claim lost while sending');
      },
    });
    if (result.result === 'aborted') {
      await notifierRepo.release(db, row.id, workerId, clock.now());
      return;
    }
    if (!result.ok)
      log.warn(
        { deliveryId: row.id, channelId: row.channel_id, result: result.result, error: result.error },
        'notification not delivered',
      );
    await finishRow(
      row,
      result.ok,
      result.ok ? null : (result.error ?? result.result),
      channel.name,
      prior + result.attempts.length,
    );
  }

  function run(row: DeliveryRow) {
    const p = send(row)
      .catch(async (err) => {
        log.error({ err, deliveryId: row.id }, 'delivery failed unexpectedly; retrying in 30 s');
        await notifierRepo.release(db, row.id, workerId, later(30_000)).catch(() => {});
      })
      .finally(() => {
        inflight.delete(row.id);
        if (!stopped) wake();
      });
    inflight.set(row.id, p);
  }

  async function pump(): Promise<void> {
    do {
      again = false;
      const room = concurrency - inflight.size;
      if (room <= 0) return;
      const now = clock.now();
      const rows = await notifierRepo.claim(db, workerId, now, later(claimMs), room);
      for (const r of rows) run(r);
      if (rows.length === room) again = true;
    } while (again);
  }

  function wake(): void {
    if (pumping) {
      again = true;
      return;
    }
    pumping = pump()
      .catch((err) => log.error({ err }, 'claiming deliveries failed'))
      .finally(() => {
        pumping = null;
      });
  }

  return {
    workerId,
    start() {
      if (!stopped) return;
      stopped = false;
      abort = new AbortController();
      unsubscribe = o.bus.subscribe(NOTIFY_WAKE, () => wake());
      const tick = () => {
        if (stopped) return;
        wake();
        timer = setTimeout(tick, pollMs);
        timer.unref();
      };
      tick();
    },
    async stop(graceMs = 2000) {
      stopped = true;
      if (timer) clearTimeout(timer);
      unsubscribe?.();
      await pumping;
      const all = Promise.all(inflight.values());
      let grace: NodeJS.Timeout | undefined;
      await Promise.race([all, new Promise((r) => (grace = setTimeout(r, graceMs)))]);
      clearTimeout(grace);
      abort.abort();
      await all;
    },
    async drain() {
      let n = 0;
      const before = new Set(inflight.keys());
      for (;;) {
        await pumping;
        const room = Math.max(0, concurrency - inflight.size);
        const rows = room ? await notifierRepo.claim(db, workerId, clock.now(), later(claimMs), room) : [];
        for (const r of rows) run(r);
        n += rows.length;
        const waiting = [...inflight.entries()].filter(([id]) => !before.has(id)).map(([, p]) => p);
        if (rows.length === 0 && waiting.length === 0) return n;
        await Promise.all(waiting);
      }
    },
    wake,
    inFlight: () => inflight.size,
  };
}
