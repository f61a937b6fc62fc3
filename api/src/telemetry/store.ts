/**
 * Writes committed telemetry: raw rows (one multi-row INSERT ... SELECT FROM unnest per table) and
 * the minute, hour and day rollups, aggregated in memory first so a commit upserts one row per key
 * and tier however many events it holds. Rows are upserted in key order, so two writers (two
 * replicas) updating the same rollups wait for each other instead of deadlocking.
 */
import type { Queryable } from '@peep/pkg';
import { Sketch } from '@peep/pkg/sketch';
import type { EventRow, LogRow, MetricRow } from './types.js';

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

/** Reserves `n` ids of a table's identity sequence, so rows can be published with their ids. */
async function reserveIds(q: Queryable, table: string, n: number): Promise<number[]> {
  if (n === 0) return [];
  const { rows } = await q.query<{ id: number }>(
    `SELECT nextval(pg_get_serial_sequence('${table}', 'id'))::float8 AS id FROM generate_series(1, $1)`,
    [n],
  );
  return rows.map((r) => Number(r.id));
}

const json = (a: unknown) => (a === null ? null : JSON.stringify(a));

export async function insertEvents(q: Queryable, groups: Owned<EventRow>[]): Promise<number[][]> {
  const total = groups.reduce((n, g) => n + g.rows.length, 0);
  const ids = await reserveIds(q, 'request_events', total);
  if (total === 0) return groups.map(() => []);
  const cols: unknown[][] = Array.from({ length: 15 }, () => new Array(total));
  const out: number[][] = [];
  let i = 0;
  for (const g of groups) {
    const gi: number[] = [];
    for (const r of g.rows) {
      const id = ids[i] as number;
      gi.push(id);
      const c = cols;
      (c[0] as unknown[])[i] = id;
      (c[1] as unknown[])[i] = g.projectId;
      (c[2] as unknown[])[i] = g.environmentId;
      (c[3] as unknown[])[i] = r.time;
      (c[4] as unknown[])[i] = r.service;
      (c[5] as unknown[])[i] = r.route;
      (c[6] as unknown[])[i] = r.method;
      (c[7] as unknown[])[i] = r.status;
      (c[8] as unknown[])[i] = r.durationMs;
      (c[9] as unknown[])[i] = r.bytesIn;
      (c[10] as unknown[])[i] = r.bytesOut;
      (c[11] as unknown[])[i] = r.requestId;
      (c[12] as unknown[])[i] = r.traceId;
      (c[13] as unknown[])[i] = r.instance;
      (c[14] as unknown[])[i] = json(r.attributes);
      i++;
    }
    out.push(gi);
  }
  await q.query(
    `INSERT INTO request_events (id, project_id, environment_id, time, service, route, method, status,
       duration_ms, bytes_in, bytes_out, request_id, trace_id, instance, attributes)
     SELECT id, p, e, to_timestamp(t / 1000.0), s, r, m, st, d, bi, bo, rq, tr, ins, a::jsonb
     FROM unnest($1::int8[], $2::uuid[], $3::uuid[], $4::float8[], $5::text[], $6::text[], $7::text[],
       $8::int2[], $9::float8[], $10::int8[], $11::int8[], $12::text[], $13::text[], $14::text[], $15::text[])
       AS x(id, p, e, t, s, r, m, st, d, bi, bo, rq, tr, ins, a)`,
    cols,
  );
  await upsertRollups(q, groups);
  return out;
}

export async function insertLogs(q: Queryable, groups: Owned<LogRow>[]): Promise<number[][]> {
  const total = groups.reduce((n, g) => n + g.rows.length, 0);
  const ids = await reserveIds(q, 'runtime_logs', total);
  if (total === 0) return groups.map(() => []);
  const cols: unknown[][] = Array.from({ length: 12 }, () => new Array(total));
  const out: number[][] = [];
  let i = 0;
  for (const g of groups) {
    const gi: number[] = [];
    for (const r of g.rows) {
      const id = ids[i] as number;
      gi.push(id);
      const vals = [
        id,
        g.projectId,
        g.environmentId,
        r.time,
        r.service,
        r.level,
        r.message,
        r.requestId,
        r.traceId,
        r.spanId,
        r.instance,
        json(r.attributes),
      ];
      for (let c = 0; c < 12; c++) (cols[c] as unknown[])[i] = vals[c];
      i++;
    }
    out.push(gi);
  }
  await q.query(
    `INSERT INTO runtime_logs (id, project_id, environment_id, time, service, level, message, request_id,
       trace_id, span_id, instance, attributes)
     SELECT id, p, e, to_timestamp(t / 1000.0), s, l, m, rq, tr, sp, ins, a::jsonb
     FROM unnest($1::int8[], $2::uuid[], $3::uuid[], $4::float8[], $5::text[], $6::int2[], $7::text[],
       $8::text[], $9::text[], $10::text[], $11::text[], $12::text[])
       AS x(id, p, e, t, s, l, m, rq, tr, sp, ins, a)`,
    cols,
  );
  return out;
}

const arr = (a: number[] | null) => (a === null ? null : `{${a.join(',')}}`);

export async function insertMetrics(q: Queryable, groups: Owned<MetricRow>[]): Promise<void> {
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
    `INSERT INTO metric_points (project_id, environment_id, time, start_time, service, name, kind, unit,
       monotonic, temporality, value, count, sum, min, max, bounds, bucket_counts, attributes)
     SELECT p, e, to_timestamp(t / 1000.0), CASE WHEN st IS NULL THEN NULL ELSE to_timestamp(st / 1000.0) END,
       s, n, k, u, mo, te, v, c, su, mi, ma, b::float8[], bc::int8[], a::jsonb
     FROM unnest($1::uuid[], $2::uuid[], $3::float8[], $4::float8[], $5::text[], $6::text[], $7::text[],
       $8::text[], $9::bool[], $10::text[], $11::float8[], $12::int8[], $13::float8[], $14::float8[],
       $15::float8[], $16::text[], $17::text[], $18::text[])
       AS x(p, e, t, st, s, n, k, u, mo, te, v, c, su, mi, ma, b, bc, a)`,
    cols,
  );
}

function aggregate(groups: Owned<EventRow>[]): Map<string, Agg> {
  const minute = new Map<string, Agg>();
  const add = (
    key: string,
    proto: Omit<Agg, 'count' | 'errors' | 'sum' | 'min' | 'max' | 'bytesIn' | 'bytesOut' | 'sketch'>,
    r: EventRow,
  ) => {
    let a = minute.get(key);
    if (!a) {
      a = {
        ...proto,
        count: 0,
        errors: 0,
        sum: 0,
        min: Number.POSITIVE_INFINITY,
        max: Number.NEGATIVE_INFINITY,
        bytesIn: 0,
        bytesOut: 0,
        sketch: new Sketch(),
      };
      minute.set(key, a);
    }
    a.count++;
    if (r.status >= 500) a.errors++;
    a.sum += r.durationMs;
    if (r.durationMs < a.min) a.min = r.durationMs;
    if (r.durationMs > a.max) a.max = r.durationMs;
    a.bytesIn += r.bytesIn ?? 0;
    a.bytesOut += r.bytesOut ?? 0;
    a.sketch.add(r.durationMs);
  };
  for (const g of groups) {
    for (const r of g.rows) {
      const bucket = r.time - (r.time % MINUTE);
      const sc = Math.floor(r.status / 100);
      const base = `${g.projectId}\u0000${g.environmentId}\u0000${r.service}\u0000`;
      add(
        `${base}${r.route}\u0000${r.method}\u0000${sc}\u0000${bucket}`,
        {
          projectId: g.projectId,
          environmentId: g.environmentId,
          service: r.service,
          route: r.route,
          method: r.method,
          statusClass: sc,
          bucket,
        },
        r,
      );
      add(
        `${base}\u0000\u00000\u0000${bucket}`,
        {
          projectId: g.projectId,
          environmentId: g.environmentId,
          service: r.service,
          route: '',
          method: '',
          statusClass: 0,
          bucket,
        },
        r,
      );
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

async function upsertRollups(q: Queryable, groups: Owned<EventRow>[]): Promise<void> {
  const minute = aggregate(groups);
  for (const tier of TIERS) {
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
    await q.query(
      `INSERT INTO ${tier.table} AS r (project_id, environment_id, service, route, method, status_class, bucket,
         count, errors, sum_ms, min_ms, max_ms, bytes_in, bytes_out, sketch)
       SELECT p, e, s, ro, m, sc, to_timestamp(b / 1000.0), c, er, su, mi, ma, bi, bo, sk::int8[]
       FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::int2[], $7::float8[],
         $8::int8[], $9::int8[], $10::float8[], $11::float8[], $12::float8[], $13::int8[], $14::int8[], $15::text[])
         AS x(p, e, s, ro, m, sc, b, c, er, su, mi, ma, bi, bo, sk)
       ON CONFLICT (project_id, service, route, method, status_class, environment_id, bucket) DO UPDATE SET
         count = r.count + excluded.count,
         errors = r.errors + excluded.errors,
         sum_ms = r.sum_ms + excluded.sum_ms,
         min_ms = least(r.min_ms, excluded.min_ms),
         max_ms = greatest(r.max_ms, excluded.max_ms),
         bytes_in = r.bytes_in + excluded.bytes_in,
         bytes_out = r.bytes_out + excluded.bytes_out,
         sketch = peep_sketch_merge(r.sketch, excluded.sketch)`,
      cols,
    );
  }
}
