/**
 * Stores check results in batches: every `flushMs` (or `maxBatch` results, whichever first) one
 * transaction COPYs the raw results into check_results, merges them into the minute rollups (count,
 * failures, sum/min/max and the DDSketch of durations, as request telemetry does: one upsert per
 * (target, minute) per batch, merged in memory first), and writes each target's latest state.
 * The hour and day rollups are merged in memory across batches: an accumulator is upserted once it
 * is `coarseMs` old (default a minute; oldest first, at most COARSE_PER_BATCH per tier and batch, so
 * the writes spread over the batches instead of stalling the process once a minute) and on close. At a 5 s
 * interval a target has one result per batch, so writing all three tiers per batch spent two thirds
 * of the rollup writes for nothing (measured with bench/uptime-checks.mjs). A crash loses at most
 * that minute of the hour and day tiers; the minute tier and the raw results are complete.
 *
 * State is written only for targets whose shard this worker still leases (checked in the same
 * statement against scheduler_leases), so a worker that lost a shard mid-flight never overwrites the
 * state its new owner keeps. Heartbeat evaluations count in rollups and state but store a raw row only
 * when a beat was missed (each beat already stored its own row when it arrived).
 */
import type { Db, Logger, Queryable } from '@peep/pkg';
import { copyCell } from '@peep/pkg/copy-text';
import { Sketch } from '@peep/pkg/sketch';
import type { TargetState, UptimeResult } from './state.js';

export interface ResultRecord {
  targetId: string;
  projectId: string;
  result: UptimeResult;
  /** Store a raw check_results row (false for a heartbeat that arrived: its push stored one). */
  raw: boolean;
  state: TargetState;
}

export interface WriterOptions {
  db: Db;
  log: Logger;
  workerId: string;
  flushMs?: number;
  maxBatch?: number;
  /** How long hour and day rollups are merged in memory before they are written; default 60,000 ms. */
  coarseMs?: number;
  /** Epoch ms, for `coarseMs`. */
  now?: () => number;
  /** After each committed batch: the records it held. */
  onFlushed?(records: ResultRecord[]): void;
}

export interface ResultWriter {
  add(r: ResultRecord): void;
  /** Writes what is pending now. */
  flush(): Promise<void>;
  /** Flushes and stops the timer. */
  close(): Promise<void>;
  stats(): { written: number; batches: number; pending: number; failedBatches: number };
}

interface Tier {
  table: string;
  ms: number;
}
const MINUTE: Tier = { table: 'target_rollups_1m', ms: 60_000 };
/** Hour or day rollup rows written per batch at most: 4 batches a second make 1,600 a second. */
const COARSE_PER_BATCH = 200;
/**
 * Between the statements of a batch the writer lets timers run: PGlite executes in this thread, and
 * a batch's statements chained without a break would hold back the checks due meanwhile.
 */
const breath = () => new Promise<void>((r) => setImmediate(r));
const COARSE: Tier[] = [
  { table: 'target_rollups_1h', ms: 3_600_000 },
  { table: 'target_rollups_1d', ms: 86_400_000 },
];

interface Acc {
  target: string;
  bucket: number;
  count: number;
  failures: number;
  sum: number;
  min: number;
  max: number;
  sketch: Sketch;
  /** When the accumulator was created (epoch ms). */
  since: number;
}

const round3 = (v: number | undefined) => (v === undefined ? null : Math.round(v * 1000) / 1000);

function rawRows(records: ResultRecord[], workerId: string): string {
  let out = '';
  for (const { targetId, projectId, result: r, raw } of records) {
    if (!raw) continue;
    out += `${[
      targetId,
      projectId,
      new Date(r.startedAt).toISOString(),
      r.ok ? 't' : 'f',
      round3(r.durationMs),
      round3(r.phases.dnsMs),
      round3(r.phases.connectMs),
      round3(r.phases.tlsMs),
      round3(r.phases.firstByteMs),
      r.statusCode ?? null,
      r.errorClass ?? null,
      r.message ? r.message.slice(0, 500) : null,
      r.certDaysLeft ?? null,
      workerId,
    ]
      .map(copyCell)
      .join('\t')}\n`;
  }
  return out;
}

/** Adds `records` into `accs`, one accumulator per (target, bucket of `tier`). */
function accumulate(accs: Map<string, Acc>, tier: Tier, records: ResultRecord[], since: number): void {
  for (const { targetId, result: r } of records) {
    const bucket = Math.floor(r.startedAt / tier.ms) * tier.ms;
    const key = `${targetId}|${bucket}`;
    let a = accs.get(key);
    if (!a) {
      a = {
        target: targetId,
        bucket,
        count: 0,
        failures: 0,
        sum: 0,
        min: Number.POSITIVE_INFINITY,
        max: Number.NEGATIVE_INFINITY,
        sketch: new Sketch(),
        since,
      };
      accs.set(key, a);
    }
    a.count++;
    if (!r.ok) a.failures++;
    a.sum += r.durationMs;
    if (r.durationMs < a.min) a.min = r.durationMs;
    if (r.durationMs > a.max) a.max = r.durationMs;
    a.sketch.add(r.durationMs);
  }
}

async function upsertRollups(q: Queryable, tier: Tier, accs: Map<string, Acc>): Promise<void> {
  if (accs.size === 0) return;
  const rows = [...accs.values()];
  await q.query(
    `INSERT INTO ${tier.table} AS r (target_id, bucket, count, failures, sum_ms, min_ms, max_ms, sketch)
       SELECT t, to_timestamp(b / 1000.0), c, f, su, mi, ma, sk::int8[]
       FROM unnest($1::uuid[], $2::float8[], $3::int8[], $4::int8[], $5::float8[], $6::float8[], $7::float8[],
         $8::text[]) AS x(t, b, c, f, su, mi, ma, sk)
       ON CONFLICT (target_id, bucket) DO UPDATE SET
         count = r.count + excluded.count,
         failures = r.failures + excluded.failures,
         sum_ms = r.sum_ms + excluded.sum_ms,
         min_ms = least(r.min_ms, excluded.min_ms),
         max_ms = greatest(r.max_ms, excluded.max_ms),
         sketch = peep_sketch_merge(r.sketch, excluded.sketch)`,
    [
      rows.map((a) => a.target),
      rows.map((a) => a.bucket),
      rows.map((a) => a.count),
      rows.map((a) => a.failures),
      rows.map((a) => a.sum),
      rows.map((a) => a.min),
      rows.map((a) => a.max),
      rows.map((a) => `{${a.sketch.toArray().join(',')}}`),
    ],
  );
}

async function writeState(q: Queryable, records: ResultRecord[], workerId: string): Promise<void> {
  // The latest record per target carries its state after the whole batch.
  const last = new Map<string, ResultRecord>();
  for (const r of records) last.set(r.targetId, r);
  const rows = [...last.values()];
  const col = <T>(f: (r: ResultRecord) => T) => rows.map(f);
  await q.query(
    `UPDATE targets t SET status = x.status, status_since = to_timestamp(x.since / 1000.0),
       fail_streak = x.fails, ok_streak = x.oks, last_check_at = to_timestamp(x.at / 1000.0),
       last_ok = x.ok, last_duration_ms = x.dur, last_status_code = x.code, last_error_class = x.err,
       last_message = x.msg, cert_days_left = coalesce(x.cert, t.cert_days_left)
     FROM unnest($1::uuid[], $2::text[], $3::float8[], $4::int4[], $5::int4[], $6::float8[], $7::bool[],
       $8::float8[], $9::int4[], $10::text[], $11::text[], $12::float8[])
       AS x(id, status, since, fails, oks, at, ok, dur, code, err, msg, cert)
     WHERE t.id = x.id
       AND t.shard IN (SELECT l.shard FROM scheduler_leases l WHERE l.owner = $13 AND l.until > now())`,
    [
      col((r) => r.targetId),
      col((r) => r.state.status),
      col((r) => r.state.statusSince),
      col((r) => r.state.failStreak),
      col((r) => r.state.okStreak),
      col((r) => r.result.startedAt + r.result.durationMs),
      col((r) => r.result.ok),
      col((r) => round3(r.result.durationMs)),
      col((r) => r.result.statusCode ?? null),
      col((r) => r.result.errorClass ?? null),
      col((r) => (r.result.message ? r.result.message.slice(0, 500) : null)),
      col((r) => r.result.certDaysLeft ?? null),
      workerId,
    ],
  );
}

export function createResultWriter(o: WriterOptions): ResultWriter {
  const flushMs = o.flushMs ?? 250;
  const maxBatch = o.maxBatch ?? 1_000;
  const coarseMs = o.coarseMs ?? 60_000;
  const now = o.now ?? Date.now;
  let pending: ResultRecord[] = [];
  // Hour and day accumulators not written yet, oldest first (a Map iterates in insertion order).
  const coarse = COARSE.map(() => new Map<string, Acc>());

  /** Removes and returns the accumulators at least `coarseMs` old (all when `final`), a limited number. */
  function takeCoarse(accs: Map<string, Acc>, final: boolean): Map<string, Acc> {
    const out = new Map<string, Acc>();
    const before = now() - coarseMs;
    for (const [k, a] of accs) {
      if (!final && (a.since > before || out.size >= COARSE_PER_BATCH)) break;
      out.set(k, a);
      accs.delete(k);
    }
    return out;
  }
  let timer: NodeJS.Timeout | undefined;
  let chain: Promise<void> = Promise.resolve();
  const s = { written: 0, batches: 0, failedBatches: 0 };

  async function write(batch: ResultRecord[], final: boolean): Promise<void> {
    try {
      const raw = rawRows(batch, o.workerId);
      const t = now();
      const minute = new Map<string, Acc>();
      accumulate(minute, MINUTE, batch, t);
      // Taken now: a failed write drops them like its batch, never retried into a backlog.
      const due = COARSE.map((tier, i) => {
        const accs = coarse[i] as Map<string, Acc>;
        accumulate(accs, tier, batch, t);
        return takeCoarse(accs, final);
      });
      await o.db.transaction(async (tx) => {
        if (raw)
          await tx.copyIn(
            `COPY check_results (target_id, project_id, time, ok, duration_ms, dns_ms, connect_ms, tls_ms,
               first_byte_ms, status_code, error_class, message, cert_days_left, worker)`,
            raw,
          );
        await breath();
        await upsertRollups(tx, MINUTE, minute);
        for (const [i, tier] of COARSE.entries()) {
          await breath();
          await upsertRollups(tx, tier, due[i] as Map<string, Acc>);
        }
        await breath();
        if (batch.length > 0) await writeState(tx, batch, o.workerId);
      });
      s.written += batch.length;
      s.batches++;
      o.onFlushed?.(batch);
    } catch (err) {
      // Results are measurements: a batch that cannot be stored is logged and dropped, never retried
      // into a growing backlog; the next checks carry on.
      s.failedBatches++;
      o.log.error({ err, results: batch.length }, 'storing check results failed');
    }
  }

  /** `final`: the hour and day accumulators are written too (close). */
  function flush(final = false): Promise<void> {
    if (timer) {
      clearTimeout(timer);
      timer = undefined;
    }
    if (pending.length > 0 || final) {
      const batch = pending;
      pending = [];
      chain = chain.then(() => write(batch, final));
    }
    return chain;
  }

  return {
    add(r) {
      pending.push(r);
      if (pending.length >= maxBatch) void flush();
      else if (!timer) {
        timer = setTimeout(() => void flush(), flushMs);
        timer.unref();
      }
    },
    flush: () => flush(),
    async close() {
      await flush(true);
    },
    stats: () => ({ ...s, pending: pending.length }),
  };
}
