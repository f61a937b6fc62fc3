/**
 * The ingest pipeline: every ingest request hands its checked rows here and waits; a writer commits
 * the waiting batches of many requests in one transaction (group commit) and only then answers them,
 * so an acknowledgement means the rows are durable. The queue is bounded in items: when it is full,
 * submit() refuses at once with `ingest_overloaded` (503 + Retry-After) instead of growing memory.
 * After each commit the new rows go on the bus for live streams, with their ids.
 *
 * Idempotency keys are inserted in the same transaction as their batch; a key already present means
 * the batch was committed before, and the retry gets the first answer back without storing anything.
 */
import { AppError, type Bus, type Db, type Logger, type Queryable } from '@peep/pkg';
import { apply, type Owned, prepare } from './store.js';
import {
  type AggregateRow,
  type EventRow,
  type LogEntry,
  type LogRow,
  type MetricRow,
  type StreamEvent,
  toLogEntry,
  toStreamEvent,
} from './types.js';

export interface IngestBatch {
  projectId: string;
  environmentId: string;
  events?: EventRow[];
  logs?: LogRow[];
  metrics?: MetricRow[];
  aggregates?: AggregateRow[];
  idempotencyKey?: string;
  /** The answer to remember with the idempotency key. */
  result?: unknown;
}

export interface SubmitResult {
  /** True when the idempotency key was seen before: nothing was stored this time. */
  duplicate: boolean;
  /** The first attempt's `result` for duplicates; this batch's own otherwise. */
  result: unknown;
}

export interface IngestStats {
  queuedItems: number;
  committedItems: number;
  commits: number;
  refused: number;
}

export interface IngestPipeline {
  submit(batch: IngestBatch): Promise<SubmitResult>;
  stats(): IngestStats;
  /** Stops accepting and resolves once everything queued is committed (SIGTERM). */
  close(): Promise<void>;
}

/** Bus subjects: `telemetry.events.<projectId>` carries StreamEventsMessage, logs likewise. */
export const eventsSubject = (projectId: string) => `telemetry.events.${projectId}`;
export const logsSubject = (projectId: string) => `telemetry.logs.${projectId}`;
export interface StreamEventsMessage {
  items: StreamEvent[];
}
export interface StreamLogsMessage {
  items: LogEntry[];
}

class IdempotencyRace extends Error {}

/**
 * Bus messages hold at most PUBLISH_ITEMS items and about PUBLISH_BYTES of JSON: a NATS server
 * refuses messages over 1 MiB by default, and one log line may be 32 KB with 8 KB of attributes.
 */
const PUBLISH_ITEMS = 500;
const PUBLISH_BYTES = 512 * 1024;

function* slices<T extends StreamEvent | LogEntry>(items: T[]): Generator<T[]> {
  let start = 0;
  let bytes = 0;
  for (let i = 0; i < items.length; i++) {
    const it = items[i] as T;
    const size =
      300 +
      it.service.length +
      ('message' in it ? it.message.length * 2 : 0) +
      ('route' in it ? it.route.length : 0) +
      (it.attributes ? JSON.stringify(it.attributes).length : 0);
    if (i > start && (i - start >= PUBLISH_ITEMS || bytes + size > PUBLISH_BYTES)) {
      yield items.slice(start, i);
      start = i;
      bytes = 0;
    }
    bytes += size;
  }
  if (start < items.length) yield items.slice(start);
}

interface Pending {
  batch: IngestBatch;
  items: number;
  resolve: (r: SubmitResult) => void;
  reject: (e: unknown) => void;
}

export interface PipelineOptions {
  db: Db;
  bus: Bus;
  log: Logger;
  /** Most items waiting for commit (PEEP_INGEST_QUEUE_MAX). */
  queueMax: number;
  /** Most items per transaction (PEEP_INGEST_BATCH_MAX). */
  batchMax: number;
  /** Transactions in flight at once: 1 for PGlite (one connection), 4 for PostgreSQL. */
  writers?: number;
  onCommit?: (items: number, seconds: number) => void;
}

const itemsOf = (b: IngestBatch) =>
  (b.events?.length ?? 0) + (b.logs?.length ?? 0) + (b.metrics?.length ?? 0) + (b.aggregates?.length ?? 0);

export function createIngestPipeline(opts: PipelineOptions): IngestPipeline {
  const { db, bus, log } = opts;
  const writers = opts.writers ?? (db.engine === 'pglite' ? 1 : 4);
  // Rollup shards of this process's writers; another replica most likely picks other ones.
  const shardBase = Math.floor(Math.random() * 64) * writers;
  const freeShards = Array.from({ length: writers }, (_, i) => (shardBase + i) % 32_000);
  const queue: Pending[] = [];
  let queuedItems = 0;
  let active = 0;
  let closing = false;
  let idle: (() => void) | null = null;
  const stats = { committedItems: 0, commits: 0, refused: 0 };

  function pump() {
    while (active < writers && queue.length > 0) {
      const group: Pending[] = [];
      let n = 0;
      while (queue.length > 0) {
        const next = queue[0] as Pending;
        if (group.length > 0 && n + next.items > opts.batchMax) break;
        queue.shift();
        group.push(next);
        n += next.items;
      }
      active++;
      const shard = freeShards.pop() as number;
      void commitGroup(group, shard).finally(() => {
        freeShards.push(shard);
        active--;
        queuedItems -= n;
        if (queue.length > 0) pump();
        else if (active === 0) idle?.();
      });
    }
  }

  async function commitGroup(group: Pending[], shard: number): Promise<void> {
    const started = performance.now();
    try {
      const { results, publish } = await write(group, shard);
      publish();
      const items = group.reduce((s, p) => s + p.items, 0);
      stats.commits++;
      stats.committedItems += items;
      opts.onCommit?.(items, (performance.now() - started) / 1000);
      group.forEach((p, i) => {
        p.resolve(results[i] as SubmitResult);
      });
    } catch (err) {
      if (group.length > 1) {
        // One batch must not fail its neighbours: commit each on its own.
        for (const p of group) await commitGroup([p], shard);
        return;
      }
      log.error({ err }, 'ingest commit failed');
      for (const p of group)
        p.reject(
          new AppError('service_unavailable', 'The database did not accept the batch; retry shortly.'),
        );
    }
  }

  const keyOf = (b: IngestBatch) => `${b.projectId}\u0000${b.idempotencyKey}`;

  /** Results of batches whose idempotency key is already stored (committed earlier). */
  async function seenBefore(q: Queryable, batches: IngestBatch[]): Promise<Map<string, unknown>> {
    if (batches.length === 0) return new Map();
    const prior = await q.query<{ project_id: string; key: string; result: unknown }>(
      `SELECT project_id, key, result FROM ingest_idempotency
       WHERE (project_id, key) IN (SELECT * FROM unnest($1::uuid[], $2::text[]))`,
      [batches.map((b) => b.projectId), batches.map((b) => b.idempotencyKey)],
    );
    return new Map(prior.rows.map((r) => [`${r.project_id}\u0000${r.key}`, r.result]));
  }

  /**
   * Prepares outside the transaction, applies inside. A key stored by another writer between the
   * check and the insert (a retry racing its original) aborts and redoes the group once.
   */
  async function write(
    group: Pending[],
    shard: number,
    attempt = 0,
  ): Promise<{ results: SubmitResult[]; publish: () => void }> {
    const results: (SubmitResult | null)[] = group.map(() => null);
    const firstOf = new Map<string, number>();
    const keyed: IngestBatch[] = [];
    group.forEach((p, i) => {
      if (!p.batch.idempotencyKey) return;
      const k = keyOf(p.batch);
      const first = firstOf.get(k);
      if (first !== undefined) results[i] = { duplicate: true, result: group[first]?.batch.result };
      else {
        firstOf.set(k, i);
        keyed.push(p.batch);
      }
    });
    const prior = await seenBefore(db, keyed);
    group.forEach((p, i) => {
      if (results[i] === null && p.batch.idempotencyKey && prior.has(keyOf(p.batch)))
        results[i] = { duplicate: true, result: prior.get(keyOf(p.batch)) };
    });
    const live = group.filter((_, i) => results[i] === null).map((p) => p.batch);
    const fresh = live.filter((b) => b.idempotencyKey);
    const owned = <T>(rows: (b: IngestBatch) => T[] | undefined): Owned<T>[] =>
      live
        .filter((b) => (rows(b)?.length ?? 0) > 0)
        .map((b) => ({ projectId: b.projectId, environmentId: b.environmentId, rows: rows(b) as T[] }));
    const ev = owned<EventRow>((b) => b.events);
    const lg = owned<LogRow>((b) => b.logs);
    const mt = owned<MetricRow>((b) => b.metrics);
    const ag = owned<AggregateRow>((b) => b.aggregates);
    const prepared = await prepare(db, ev, lg, mt, ag);
    const raced = await db
      .transaction(async (tx) => {
        if (fresh.length > 0) {
          const ins = await tx.query(
            `INSERT INTO ingest_idempotency (project_id, key, result)
             SELECT * FROM unnest($1::uuid[], $2::text[], $3::jsonb[]) ON CONFLICT DO NOTHING RETURNING key`,
            [
              fresh.map((b) => b.projectId),
              fresh.map((b) => b.idempotencyKey),
              fresh.map((b) => JSON.stringify(b.result ?? null)),
            ],
          );
          if (ins.rowCount !== fresh.length) throw new IdempotencyRace();
        }
        await apply(tx, prepared, shard);
        return false;
      })
      .catch((e) => {
        if (e instanceof IdempotencyRace && attempt === 0) return true;
        throw e;
      });
    if (raced) return write(group, shard, 1);
    return {
      results: group.map((p, i) => results[i] ?? { duplicate: false, result: p.batch.result }),
      // Called once the transaction has committed, before anyone is answered.
      publish: () => publish(ev, prepared.eventIds, lg, prepared.logIds),
    };
  }

  function publish(ev: Owned<EventRow>[], eventIds: number[][], lg: Owned<LogRow>[], logIds: number[][]) {
    const byProject = new Map<string, { events: StreamEvent[]; logs: LogEntry[] }>();
    const slot = (p: string) => {
      let s = byProject.get(p);
      if (!s) {
        s = { events: [], logs: [] };
        byProject.set(p, s);
      }
      return s;
    };
    ev.forEach((g, gi) => {
      if (bus.hasSubscribers?.(eventsSubject(g.projectId)) === false) return;
      const ids = eventIds[gi] ?? [];
      const s = slot(g.projectId);
      g.rows.forEach((r, i) => {
        s.events.push(toStreamEvent(ids[i] ?? 0, g.environmentId, r));
      });
    });
    lg.forEach((g, gi) => {
      if (bus.hasSubscribers?.(logsSubject(g.projectId)) === false) return;
      const ids = logIds[gi] ?? [];
      const s = slot(g.projectId);
      g.rows.forEach((r, i) => {
        s.logs.push(toLogEntry(ids[i] ?? 0, g.environmentId, r));
      });
    });
    // Only a bus between processes limits message size; in process, one message per kind is enough.
    const cut = <T extends StreamEvent | LogEntry>(items: T[]) => (bus.distributed ? slices(items) : [items]);
    for (const [projectId, s] of byProject) {
      for (const items of cut(s.events))
        if (items.length) bus.publish<StreamEventsMessage>(eventsSubject(projectId), { items });
      for (const items of cut(s.logs))
        if (items.length) bus.publish<StreamLogsMessage>(logsSubject(projectId), { items });
    }
  }

  return {
    submit(batch) {
      if (closing)
        return Promise.reject(new AppError('service_unavailable', 'peep is shutting down; retry.'));
      const items = itemsOf(batch);
      if (queuedItems > 0 && queuedItems + items > opts.queueMax) {
        stats.refused++;
        return Promise.reject(new AppError('ingest_overloaded'));
      }
      queuedItems += items;
      return new Promise<SubmitResult>((resolve, reject) => {
        queue.push({
          batch,
          items,
          resolve,
          reject,
        });
        pump();
      });
    },
    stats: () => ({ queuedItems, ...stats }),
    close() {
      closing = true;
      if (queue.length === 0 && active === 0) return Promise.resolve();
      return new Promise<void>((resolve) => {
        idle = resolve;
      });
    },
  };
}
