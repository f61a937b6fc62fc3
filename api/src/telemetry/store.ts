/**
 * Writes committed telemetry in two steps. `prepare` runs before the transaction: it numbers the
 * rows, renders them in COPY text format and aggregates the minute, hour and day rollups in memory
 * (one row per key and tier however many events). `apply` runs inside it: COPY for raw rows (several
 * times faster than INSERT ... SELECT FROM unnest on both engines) and one upsert per tier into the
 * writer's own rollup shard, so parallel writers never wait on each other's row locks.
 */
import type { Queryable } from '@peep/pkg';
import { copyCell } from '@peep/pkg/copy-text';
import { bucketIndex, Sketch } from '@peep/pkg/sketch';
import type { AggregateRow, EventRow, LogRow, MetricRow } from './types.js';

export interface Owned<T> {
  projectId: string;
  environmentId: string;
  rows: T[];
}

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
export const TIERS = [
  { table: 'rollups_1m', ms: MINUTE },
  { table: 'rollups_1h', ms: HOUR },
  { table: 'rollups_1d', ms: DAY },
] as const;

interface Agg {
  projectId: string;
  environmentId: string;
  service: string;
  route: string;
  method: string;
  statusClass: number;
  bucket: number;
  count: number;
  errors: number;
  sum: number;
  min: number;
  max: number;
  bytesIn: number;
  bytesOut: number;
  sketch: Sketch;
}

/** Rows one transaction may number from its block (PEEP_INGEST_BATCH_MAX is at most 10^6). */
export const BLOCK = 2 ** 20;
/**
 * The first id of a block of BLOCK ids for this transaction: one sequence call, no lock, so
 * transactions of several writers (and replicas) run in parallel. Ids grow with the time a
 * transaction started; rows of a transaction that commits later than a newer one appear "behind" it.
 */
async function reserveBlock(q: Queryable): Promise<number> {
  const { rows } = await q.query<{ n: number }>("SELECT nextval('telemetry_block_seq')::float8 AS n");
  return Number(rows[0]?.n) * BLOCK;
}

/** JSON for jsonb, which refuses the escaped NUL character. */
const json = (a: unknown) => (a === null ? null : JSON.stringify(a).replaceAll('\\u0000', '\\ufffd'));

const cell = copyCell;

/** toISOString, with the part up to the minute cached: rows of a batch share few minutes. */
let isoMinute = -1;
let isoPrefix = '';
function iso(ms: number): string {
  const minute = Math.floor(ms / 60_000);
  if (minute !== isoMinute) {
    isoMinute = minute;
    isoPrefix = new Date(minute * 60_000).toISOString().slice(0, 17);
  }
  const rest = ms - minute * 60_000; // milliseconds into the minute
  const sec = Math.floor(rest / 1000);
  const frac = rest - sec * 1000;
  return `${isoPrefix}${sec < 10 ? '0' : ''}${sec}.${frac < 10 ? '00' : frac < 100 ? '0' : ''}${frac}Z`;
}

/** Rows in COPY text format, numbered from `first`; the ids per group, in order. */
function copyText<T>(
  groups: Owned<T>[],
  first: number,
  line: (r: T) => string,
): { text: string; ids: number[][] } {
  const ids: number[][] = [];
  const lines: string[] = [];
  let id = first;
  for (const g of groups) {
    const gi: number[] = [];
    const owner = `${g.projectId}\t${g.environmentId}\t`;
    for (const r of g.rows) {
      gi.push(id);
      lines.push(`${id}\t${owner}${line(r)}\n`);
      id++;
    }
    ids.push(gi);
  }
  return { text: lines.join(''), ids };
}

const eventLine = (r: EventRow) =>
  `${iso(r.time)}\t${cell(r.service)}\t${cell(r.route)}\t${r.method}\t${r.status}\t${r.durationMs}\t${cell(r.bytesIn)}\t${cell(r.bytesOut)}\t${cell(r.requestId)}\t${cell(r.traceId)}\t${cell(r.instance)}\t${cell(json(r.attributes))}`;
const logLine = (r: LogRow) =>
  `${iso(r.time)}\t${cell(r.service)}\t${r.level}\t${cell(r.message)}\t${cell(r.requestId)}\t${cell(r.traceId)}\t${cell(r.spanId)}\t${cell(r.instance)}\t${cell(json(r.attributes))}`;

export interface Prepared {
  events: string | null;
  logs: string | null;
  metrics: Owned<MetricRow>[];
  /** Column arrays of each tier's upsert. */
  rollups: { table: string; cols: unknown[][] }[];
  eventIds: number[][];
  logIds: number[][];
}

/** Outside the transaction: ids (one sequence call per table), COPY text, rollup rows. */
export async function prepare(
  q: Queryable,
  ev: Owned<EventRow>[],
  lg: Owned<LogRow>[],
  mt: Owned<MetricRow>[],
  ag: Owned<AggregateRow>[] = [],
): Promise<Prepared> {
  const has = (gs: Owned<unknown>[]) => gs.some((g) => g.rows.length > 0);
  const e = has(ev) ? copyText(ev, await reserveBlock(q), eventLine) : { text: null, ids: ev.map(() => []) };
  const l = has(lg) ? copyText(lg, await reserveBlock(q), logLine) : { text: null, ids: lg.map(() => []) };
  return {
    events: e.text,
    logs: l.text,
    metrics: mt.filter((g) => g.rows.length > 0),
    rollups: has(ev) || has(ag) ? rollupRows(ev, ag) : [],
    eventIds: e.ids,
    logIds: l.ids,
  };
}

/** Inside the transaction. `shard` is the writer's rollup shard. */
export async function apply(q: Queryable, p: Prepared, shard: number): Promise<void> {
  if (p.events !== null)
    await q.copyIn(
      `COPY request_events (id, project_id, environment_id, time, service, route, method, status, duration_ms,
         bytes_in, bytes_out, request_id, trace_id, instance, attributes)`,
      p.events,
    );
  if (p.logs !== null)
    await q.copyIn(
      `COPY runtime_logs (id, project_id, environment_id, time, service, level, message, request_id, trace_id,
         span_id, instance, attributes)`,
      p.logs,
    );
  if (p.metrics.length > 0) await insertMetrics(q, p.metrics);
  for (const r of p.rollups) await upsertTier(q, r.table, r.cols, shard);
}

const arr = (a: number[] | null) => (a === null ? null : `{${a.join(',')}}`);

async function insertMetrics(q: Queryable, groups: Owned<MetricRow>[]): Promise<void> {
  const total = groups.reduce((n, g) => n + g.rows.length, 0);
  if (total === 0) return;
  const cols: unknown[][] = Array.from({ length: 18 }, () => new Array(total));
  let i = 0;
  for (const g of groups) {
    for (const r of g.rows) {
      const vals = [
        g.projectId,
        g.environmentId,
        r.time,
        r.startTime,
        r.service,
        r.name,
        r.kind,
        r.unit,
        r.monotonic,
        r.temporality,
        r.value,
        r.count,
        r.sum,
        r.min,
        r.max,
        arr(r.bounds),
        arr(r.bucketCounts),
        json(r.attributes),
      ];
      for (let c = 0; c < 18; c++) (cols[c] as unknown[])[i] = vals[c];
      i++;
    }
  }
  await q.query(
    // Ids from one block of the telemetry sequence, like the COPYed tables (metric_points.id has no default).
    `INSERT INTO metric_points (id, project_id, environment_id, time, start_time, service, name, kind, unit,
       monotonic, temporality, value, count, sum, min, max, bounds, bucket_counts, attributes)
     SELECT (SELECT nextval('telemetry_block_seq')) * ${BLOCK} + ord - 1,
       p, e, to_timestamp(t / 1000.0), CASE WHEN st IS NULL THEN NULL ELSE to_timestamp(st / 1000.0) END,
       s, n, k, u, mo, te, v, c, su, mi, ma, b::float8[], bc::int8[], a::jsonb
     FROM unnest($1::uuid[], $2::uuid[], $3::float8[], $4::float8[], $5::text[], $6::text[], $7::text[],
       $8::text[], $9::bool[], $10::text[], $11::float8[], $12::int8[], $13::float8[], $14::float8[],
       $15::float8[], $16::text[], $17::text[], $18::text[]) WITH ORDINALITY
       AS x(p, e, t, st, s, n, k, u, mo, te, v, c, su, mi, ma, b, bc, a, ord)`,
    cols,
  );
}

function newAgg(
  g: Owned<unknown>,
  service: string,
  route: string,
  method: string,
  sc: number,
  bucket: number,
): Agg {
  return {
    projectId: g.projectId,
    environmentId: g.environmentId,
    service,
    route,
    method,
    statusClass: sc,
    bucket,
    count: 0,
    errors: 0,
    sum: 0,
    min: Number.POSITIVE_INFINITY,
    max: Number.NEGATIVE_INFINITY,
    bytesIn: 0,
    bytesOut: 0,
    sketch: new Sketch(),
  };
}

function addTo(a: Agg, r: EventRow, index: number) {
  a.count++;
  if (r.status >= 500) a.errors++;
  a.sum += r.durationMs;
  if (r.durationMs < a.min) a.min = r.durationMs;
  if (r.durationMs > a.max) a.max = r.durationMs;
  a.bytesIn += r.bytesIn ?? 0;
  a.bytesOut += r.bytesOut ?? 0;
  a.sketch.addIndex(index);
}

/** Adds a client's aggregate (already one route key and minute) to an Agg. */
function addAggregate(a: Agg, r: AggregateRow) {
  a.count += r.count;
  a.errors += r.errors;
  a.sum += r.sumMs;
  if (r.minMs < a.min) a.min = r.minMs;
  if (r.maxMs > a.max) a.max = r.maxMs;
  a.bytesIn += r.bytesIn;
  a.bytesOut += r.bytesOut;
  a.sketch.mergeArray(r.sketch);
}

/** Minute aggregates per route key and per service total, from events and clients' aggregates. */
function aggregate(groups: Owned<EventRow>[], aggregates: Owned<AggregateRow>[]): Map<string, Agg> {
  const minute = new Map<string, Agg>();
  /** The minute aggregate of a key; the service total is the key with no route, method or class. */
  const slot = (
    g: Owned<unknown>,
    gk: string,
    service: string,
    route: string,
    method: string,
    sc: number,
    bucket: number,
  ): Agg => {
    const k = `${gk}${service}\u0000${route}\u0000${method}\u0000${sc}\u0000${bucket}`;
    let a = minute.get(k);
    if (!a) {
      a = newAgg(g, service, route, method, sc, bucket);
      minute.set(k, a);
    }
    return a;
  };
  for (const g of aggregates) {
    const gk = `${g.projectId}\u0000${g.environmentId}\u0000`;
    for (const r of g.rows) {
      const bucket = r.time - (r.time % MINUTE);
      addAggregate(slot(g, gk, r.service, r.route, r.method, r.statusClass, bucket), r);
      addAggregate(slot(g, gk, r.service, '', '', 0, bucket), r);
    }
  }
  for (const g of groups) {
    const gk = `${g.projectId}\u0000${g.environmentId}\u0000`;
    for (const r of g.rows) {
      if (r.sampled) continue; // counted in an aggregate
      const bucket = r.time - (r.time % MINUTE);
      const index = bucketIndex(r.durationMs);
      addTo(slot(g, gk, r.service, r.route, r.method, Math.floor(r.status / 100), bucket), r, index);
      addTo(slot(g, gk, r.service, '', '', 0, bucket), r, index);
    }
  }
  return minute;
}

function coarsen(minute: Map<string, Agg>, ms: number): Agg[] {
  if (ms === MINUTE) return [...minute.values()];
  const out = new Map<string, Agg>();
  for (const a of minute.values()) {
    const bucket = a.bucket - (a.bucket % ms);
    const key = `${a.projectId}\u0000${a.environmentId}\u0000${a.service}\u0000${a.route}\u0000${a.method}\u0000${a.statusClass}\u0000${bucket}`;
    const o = out.get(key);
    if (!o) {
      const s = new Sketch();
      s.merge(a.sketch);
      out.set(key, { ...a, bucket, sketch: s });
    } else {
      o.count += a.count;
      o.errors += a.errors;
      o.sum += a.sum;
      o.min = Math.min(o.min, a.min);
      o.max = Math.max(o.max, a.max);
      o.bytesIn += a.bytesIn;
      o.bytesOut += a.bytesOut;
      o.sketch.merge(a.sketch);
    }
  }
  return [...out.values()];
}

const keyOrder = (a: Agg, b: Agg) =>
  a.projectId < b.projectId
    ? -1
    : a.projectId > b.projectId
      ? 1
      : a.service < b.service
        ? -1
        : a.service > b.service
          ? 1
          : a.route < b.route
            ? -1
            : a.route > b.route
              ? 1
              : a.method < b.method
                ? -1
                : a.method > b.method
                  ? 1
                  : a.statusClass - b.statusClass ||
                    (a.environmentId < b.environmentId
                      ? -1
                      : a.environmentId > b.environmentId
                        ? 1
                        : a.bucket - b.bucket);

function rollupRows(
  groups: Owned<EventRow>[],
  aggregates: Owned<AggregateRow>[],
): { table: string; cols: unknown[][] }[] {
  const minute = aggregate(groups, aggregates);
  return TIERS.map((tier) => {
    const aggs = coarsen(minute, tier.ms).sort(keyOrder);
    const n = aggs.length;
    const cols: unknown[][] = Array.from({ length: 15 }, () => new Array(n));
    aggs.forEach((a, i) => {
      const vals = [
        a.projectId,
        a.environmentId,
        a.service,
        a.route,
        a.method,
        a.statusClass,
        a.bucket,
        a.count,
        a.errors,
        a.sum,
        a.min,
        a.max,
        a.bytesIn,
        a.bytesOut,
        `{${a.sketch.toArray().join(',')}}`,
      ];
      for (let c = 0; c < 15; c++) (cols[c] as unknown[])[i] = vals[c];
    });
    return { table: tier.table, cols };
  });
}

async function upsertTier(q: Queryable, table: string, cols: unknown[][], shard: number): Promise<void> {
  await q.query(
    `INSERT INTO ${table} AS r (project_id, environment_id, service, route, method, status_class, bucket,
       count, errors, sum_ms, min_ms, max_ms, bytes_in, bytes_out, sketch, shard)
     SELECT p, e, s, ro, m, sc, to_timestamp(b / 1000.0), c, er, su, mi, ma, bi, bo, sk::int8[], $16
     FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::int2[], $7::float8[],
       $8::int8[], $9::int8[], $10::float8[], $11::float8[], $12::float8[], $13::int8[], $14::int8[], $15::text[])
       AS x(p, e, s, ro, m, sc, b, c, er, su, mi, ma, bi, bo, sk)
     ON CONFLICT (project_id, service, route, method, status_class, environment_id, bucket, shard) DO UPDATE SET
       count = r.count + excluded.count,
       errors = r.errors + excluded.errors,
       sum_ms = r.sum_ms + excluded.sum_ms,
       min_ms = least(r.min_ms, excluded.min_ms),
       max_ms = greatest(r.max_ms, excluded.max_ms),
       bytes_in = r.bytes_in + excluded.bytes_in,
       bytes_out = r.bytes_out + excluded.bytes_out,
       sketch = peep_sketch_merge(r.sketch, excluded.sketch)`,
    [...cols, shard],
  );
}
