/**
 * Telemetry queries (docs/telemetry.md): percentiles, throughput and error rate come from the
 * rollups, never from raw events. A window is covered by the fewest rollup rows: whole UTC days from
 * `rollups_1d`, whole hours from `rollups_1h`, the minutes at the edges from `rollups_1m`; edges older
 * than the minute (or hour) rollups kept widen to the hour (or day). Service-wide questions read the
 * per-service total rows, so their cost does not grow with the number of routes, nor with traffic.
 */
import { AppError, type Config, type Db } from '@peep/pkg';
import { Sketch } from '@peep/pkg/sketch';
import type { RouteStats, Series, Summary } from '@peep/pkg/telemetry';
import type { Clock } from '../core/types.js';
import { type Attributes, LEVELS, type Level, type LogEntry, levelName, type StreamEvent } from './types.js';

const MIN = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
const MAX_POINTS = 10_000;
const MAX_RANGE = 400 * DAY;

export interface Filters {
  environmentId?: string;
  service?: string;
  route?: string;
  method?: string;
  statusClass?: number;
}

export interface Range {
  from: number;
  to: number;
}

type Tier = '1m' | '1h' | '1d';
interface Segment {
  tier: Tier;
  from: number;
  to: number;
}

interface RollupRow {
  b: number;
  service: string;
  route: string;
  method: string;
  count: number;
  errors: number;
  sum_ms: number;
  min_ms: number;
  max_ms: number;
  bytes_in: number;
  bytes_out: number;
  sketch: number[];
}

/** Count, errors, sums and a merged sketch: one window's worth of rollups. */
class Acc {
  count = 0;
  errors = 0;
  sum = 0;
  min = Number.POSITIVE_INFINITY;
  max = Number.NEGATIVE_INFINITY;
  bytesIn = 0;
  bytesOut = 0;
  sketch = new Sketch();
  add(r: RollupRow) {
    this.count += Number(r.count);
    this.errors += Number(r.errors);
    this.sum += r.sum_ms;
    if (r.min_ms < this.min) this.min = r.min_ms;
    if (r.max_ms > this.max) this.max = r.max_ms;
    this.bytesIn += Number(r.bytes_in);
    this.bytesOut += Number(r.bytes_out);
    this.sketch.mergeArray(r.sketch);
  }
  q(p: number): number | null {
    const v = this.sketch.quantile(p);
    // Every sketch answer lies within 1% of a value at that rank, hence within [min, max].
    return v === null ? null : round(Math.min(this.max, Math.max(this.min, v)));
  }
}

const round = (v: number) => Math.round(v * 1000) / 1000;
const rate = (n: number, d: number) => (d === 0 ? null : round(n / d));

const floorTo = (t: number, u: number) => Math.floor(t / u) * u;
const ceilTo = (t: number, u: number) => Math.ceil(t / u) * u;

/** Relative times: `15m` means 15 minutes before now. */
export function parseTime(v: string, now: number, name: string): number {
  const rel = /^(\d{1,6})(s|m|h|d|w)$/.exec(v);
  if (rel) {
    const n = Number(rel[1]);
    const unit = { s: 1000, m: MIN, h: HOUR, d: DAY, w: 7 * DAY }[rel[2] as 's'];
    return now - n * unit;
  }
  if (v === 'now') return now;
  const t = Date.parse(v);
  if (!Number.isFinite(t) || !/^\d{4}-\d{2}-\d{2}/.test(v))
    throw new AppError(
      'invalid_range',
      `${name} must be an RFC 3339 time or a duration such as 15m, 6h, 7d.`,
    );
  return t;
}

export function parseRange(q: { from?: string; to?: string }, now: number, names = ['from', 'to']): Range {
  const to = q.to ? parseTime(q.to, now, names[1] as string) : now;
  const from = q.from ? parseTime(q.from, now, names[0] as string) : to - HOUR;
  if (from >= to) throw new AppError('invalid_range', `${names[0]} must be before ${names[1]}.`);
  if (to - from > MAX_RANGE) throw new AppError('invalid_range', 'A range spans at most 400 days.');
  if (from > now + MIN) throw new AppError('invalid_range', `${names[0]} lies in the future.`);
  return { from, to };
}

/** A WHERE clause and its parameters, condition by condition; `?` in a condition is its parameter. */
class Where {
  readonly params: unknown[] = [];
  private readonly parts: string[] = [];
  /** A condition with no parameter of its own, or with `$n` placeholders from param(). */
  raw(sql: string): this {
    this.parts.push(sql);
    return this;
  }
  add(sql: string, v: unknown): this {
    return this.raw(sql.replaceAll('?', this.param(v)));
  }
  /** Adds a parameter and returns its placeholder. */
  param(v: unknown): string {
    this.params.push(v);
    return `$${this.params.length}`;
  }
  get sql(): string {
    return this.parts.join(' AND ');
  }
}

export function createTelemetryService(deps: { db: Db; clock: Clock; config: Config }) {
  const { db, config } = deps;
  const floors = () => {
    const now = deps.clock.now().getTime();
    return { now, minute: now - config.rollupMinuteHours * HOUR, hour: now - config.rollupHourDays * DAY };
  };

  /** Segments of the three rollup tables that together cover [from, to) exactly once. */
  function cover(range: Range): Segment[] {
    const f = floors();
    // Whole minutes: edges round to the nearest minute, so adjacent windows never share one; a window
    // reaching the present keeps the minute in progress.
    let a = Math.round(range.from / MIN) * MIN;
    let b = range.to >= f.now - 1000 ? ceilTo(range.to, MIN) : Math.round(range.to / MIN) * MIN;
    if (b <= a) b = a + MIN;
    if (a < f.hour) a = floorTo(a, DAY);
    else if (a < f.minute) a = floorTo(a, HOUR);
    if (b < f.hour) b = ceilTo(b, DAY);
    else if (b < f.minute) b = ceilTo(b, HOUR);
    const out: Segment[] = [];
    const push = (tier: Tier, from: number, to: number) => {
      if (from < to) out.push({ tier, from, to });
    };
    const minutes = (x: number, y: number) => push('1m', x, y);
    const hours = (x: number, y: number) => {
      const h0 = ceilTo(x, HOUR);
      const h1 = floorTo(y, HOUR);
      if (h1 > h0) {
        minutes(x, h0);
        push('1h', h0, h1);
        minutes(h1, y);
      } else minutes(x, y);
    };
    const d0 = ceilTo(a, DAY);
    const d1 = floorTo(b, DAY);
    if (d1 > d0) {
      hours(a, d0);
      push('1d', d0, d1);
      hours(d1, b);
    } else hours(a, b);
    return out;
  }

  async function rows(
    projectId: string,
    filters: Filters,
    segs: Segment[],
    perRoute: boolean,
  ): Promise<RollupRow[]> {
    const totals =
      !perRoute &&
      filters.route === undefined &&
      filters.method === undefined &&
      filters.statusClass === undefined;
    const w = new Where()
      .add('project_id = ?', projectId)
      .raw(totals ? "route = '' AND method = '' AND status_class = 0" : "route <> ''");
    if (filters.environmentId) w.add('environment_id = ?', filters.environmentId);
    if (filters.service) w.add('service = ?', filters.service);
    if (filters.route) w.add('route = ?', filters.route);
    if (filters.method) w.add('method = ?', filters.method);
    if (filters.statusClass !== undefined) w.add('status_class = ?', filters.statusClass);
    const n = w.params.length;
    const out: RollupRow[] = [];
    const results = await Promise.all(
      segs.map((s) =>
        db.query<RollupRow>(
          `SELECT extract(epoch FROM bucket)::float8 * 1000 AS b, service, route, method, count, errors, sum_ms,
             min_ms, max_ms, bytes_in, bytes_out, sketch
           FROM rollups_${s.tier} WHERE ${w.sql} AND bucket >= $${n + 1} AND bucket < $${n + 2}`,
          [...w.params, new Date(s.from), new Date(s.to)],
        ),
      ),
    );
    for (const r of results) for (const row of r.rows) out.push(row);
    return out;
  }

  function summarize(acc: Acc, range: Range): Summary {
    const secs = (range.to - range.from) / 1000;
    return {
      from: new Date(range.from).toISOString(),
      to: new Date(range.to).toISOString(),
      count: acc.count,
      rps: round(acc.count / secs),
      errors: acc.errors,
      errorRate: rate(acc.errors, acc.count),
      p50: acc.q(0.5),
      p90: acc.q(0.9),
      p95: acc.q(0.95),
      p99: acc.q(0.99),
      avg: acc.count ? round(acc.sum / acc.count) : null,
      min: acc.count ? round(acc.min) : null,
      max: acc.count ? round(acc.max) : null,
      bytesIn: acc.bytesIn,
      bytesOut: acc.bytesOut,
    };
  }

  async function summary(projectId: string, filters: Filters, range: Range): Promise<Summary> {
    const acc = new Acc();
    for (const r of await rows(projectId, filters, cover(range), false)) acc.add(r);
    return summarize(acc, range);
  }

  async function routes(
    projectId: string,
    filters: Filters,
    range: Range,
    sort: 'traffic' | 'p95' | 'errors',
    limit: number,
  ): Promise<RouteStats[]> {
    const by = new Map<string, { service: string; route: string; method: string; acc: Acc }>();
    for (const r of await rows(projectId, filters, cover(range), true)) {
      const k = `${r.service}\u0000${r.route}\u0000${r.method}`;
      let g = by.get(k);
      if (!g) {
        g = { service: r.service, route: r.route, method: r.method, acc: new Acc() };
        by.set(k, g);
      }
      g.acc.add(r);
    }
    const secs = (range.to - range.from) / 1000;
    const list: RouteStats[] = [...by.values()].map(({ service, route, method, acc }) => ({
      service,
      route,
      method,
      count: acc.count,
      rps: round(acc.count / secs),
      errors: acc.errors,
      errorRate: rate(acc.errors, acc.count),
      p50: acc.q(0.5),
      p95: acc.q(0.95),
      p99: acc.q(0.99),
    }));
    const key = (x: RouteStats) => (sort === 'p95' ? (x.p95 ?? 0) : sort === 'errors' ? x.errors : x.count);
    list.sort((x, y) => key(y) - key(x) || y.count - x.count);
    return list.slice(0, limit);
  }

  /** The step a series uses: the one asked for, checked, or about 300 points on a round step. */
  function seriesPlan(range: Range, step: number | undefined): { step: number; tier: Tier } {
    const f = floors();
    const span = range.to - range.from;
    const tierFor = (s: number): Tier => (s % DAY === 0 ? '1d' : s % HOUR === 0 ? '1h' : '1m');
    const available = (t: Tier) =>
      t === '1m' ? range.from >= f.minute : t === '1h' ? range.from >= f.hour : true;
    if (step !== undefined) {
      const ms = step * 1000;
      if (ms % MIN !== 0)
        throw new AppError(
          'step_too_fine',
          'step must be a whole number of minutes (in seconds: 60, 300, ...).',
        );
      if (span / ms > MAX_POINTS)
        throw new AppError(
          'invalid_range',
          `This range at step ${step} s is more than ${MAX_POINTS} points; use a larger step.`,
        );
      const tier = tierFor(ms);
      if (!available(tier))
        throw new AppError(
          'step_too_fine',
          `Minute rollups are kept ${config.rollupMinuteHours} h and hourly ${config.rollupHourDays} d; use a step of ${tier === '1m' ? 3600 : 86400} s or more for this range.`,
        );
      return { step: ms, tier };
    }
    const nice = [
      MIN,
      5 * MIN,
      10 * MIN,
      15 * MIN,
      30 * MIN,
      HOUR,
      3 * HOUR,
      6 * HOUR,
      12 * HOUR,
      DAY,
      7 * DAY,
    ];
    for (const s of nice) {
      const tier = tierFor(s);
      if (span / s <= 300 && available(tier)) return { step: s, tier };
    }
    return { step: 7 * DAY, tier: '1d' };
  }

  async function series(
    projectId: string,
    filters: Filters,
    range: Range,
    stepSeconds?: number,
  ): Promise<Series> {
    const { step, tier } = seriesPlan(range, stepSeconds);
    const start = floorTo(range.from, step);
    const n = Math.ceil((range.to - start) / step);
    const accs = Array.from({ length: n }, () => new Acc());
    for (const r of await rows(projectId, filters, [{ tier, from: start, to: start + n * step }], false)) {
      const i = Math.floor((r.b - start) / step);
      accs[i]?.add(r);
    }
    const secs = step / 1000;
    return {
      from: new Date(start).toISOString(),
      to: new Date(start + n * step).toISOString(),
      step: secs,
      t: accs.map((_, i) => (start + i * step) / 1000),
      count: accs.map((a) => a.count),
      rps: accs.map((a) => round(a.count / secs)),
      errors: accs.map((a) => a.errors),
      errorRate: accs.map((a) => rate(a.errors, a.count)),
      p50: accs.map((a) => a.q(0.5)),
      p90: accs.map((a) => a.q(0.9)),
      p95: accs.map((a) => a.q(0.95)),
      p99: accs.map((a) => a.q(0.99)),
      avg: accs.map((a) => (a.count ? round(a.sum / a.count) : null)),
      max: accs.map((a) => (a.count ? round(a.max) : null)),
    };
  }

  async function compare(projectId: string, filters: Filters, before: Range, after: Range) {
    const [b, a, rb, ra] = await Promise.all([
      summary(projectId, filters, before),
      summary(projectId, filters, after),
      routes(projectId, filters, before, 'traffic', 1000),
      routes(projectId, filters, after, 'traffic', 1000),
    ]);
    const key = (r: RouteStats) => `${r.service}\u0000${r.route}\u0000${r.method}`;
    const beforeBy = new Map(rb.map((r) => [key(r), r]));
    const afterBy = new Map(ra.map((r) => [key(r), r]));
    const keys = [...new Set([...afterBy.keys(), ...beforeBy.keys()])].slice(0, 100);
    const pick = (r: RouteStats | undefined) =>
      r ? { count: r.count, p95: r.p95, errorRate: r.errorRate } : { count: 0, p95: null, errorRate: null };
    return {
      before: b,
      after: a,
      routes: keys.map((k) => {
        const r = (afterBy.get(k) ?? beforeBy.get(k)) as RouteStats;
        return {
          service: r.service,
          route: r.route,
          method: r.method,
          before: pick(beforeBy.get(k)),
          after: pick(afterBy.get(k)),
        };
      }),
    };
  }

  async function services(projectId: string) {
    const { rows: rs } = await db.query<{ service: string; slug: string; last: Date }>(
      `SELECT r.service, e.slug, max(r.bucket) AS last
       FROM rollups_1h r JOIN environments e ON e.id = r.environment_id
       WHERE r.project_id = $1 AND r.route = '' GROUP BY r.service, e.slug ORDER BY r.service, e.slug`,
      [projectId],
    );
    const by = new Map<string, { name: string; environments: string[]; lastSeen: string }>();
    for (const r of rs) {
      const last = new Date(r.last).toISOString();
      const s = by.get(r.service);
      if (!s) by.set(r.service, { name: r.service, environments: [r.slug], lastSeen: last });
      else {
        s.environments.push(r.slug);
        if (last > s.lastSeen) s.lastSeen = last;
      }
    }
    return { services: [...by.values()] };
  }

  async function environmentId(projectId: string, slug: string | undefined): Promise<string | undefined> {
    if (slug === undefined) return undefined;
    const { rows: rs } = await db.query<{ id: string }>(
      'SELECT id FROM environments WHERE project_id = $1 AND slug = $2',
      [projectId, slug],
    );
    if (!rs[0]) throw new AppError('environment_not_found', `No environment "${slug}" in this project.`);
    return rs[0].id;
  }

  const EVENT_COLS = `id::text AS id, time, environment_id, service, route, method, status, duration_ms,
    bytes_in, bytes_out, request_id, trace_id, instance, attributes`;
  const LOG_COLS = `id::text AS id, time, environment_id, service, level, message, request_id, trace_id,
    span_id, instance, attributes`;

  function eventWhere(projectId: string, f: Filters & { requestId?: string; afterId?: number }): Where {
    const w = new Where().add('project_id = ?', projectId);
    if (f.environmentId) w.add('environment_id = ?', f.environmentId);
    if (f.service) w.add('service = ?', f.service);
    if (f.route) w.add('route = ?', f.route);
    if (f.method) w.add('method = ?', f.method);
    if (f.statusClass !== undefined) w.add('status / 100 = ?', f.statusClass);
    if (f.requestId) w.add('request_id = ?', f.requestId);
    if (f.afterId !== undefined) w.add('id > ?', f.afterId);
    return w;
  }

  async function events(
    projectId: string,
    f: Filters & { requestId?: string },
    limit: number,
  ): Promise<StreamEvent[]> {
    const w = eventWhere(projectId, f);
    const { rows: rs } = await db.query<EventDbRow>(
      `SELECT ${EVENT_COLS} FROM request_events WHERE ${w.sql} ORDER BY id DESC LIMIT ${w.param(limit)}`,
      w.params,
    );
    return rs.map(toEvent);
  }

  /** Rows after a stream position, oldest first (live-stream resume). */
  async function eventsAfter(
    projectId: string,
    f: Filters,
    afterId: number,
    limit: number,
  ): Promise<StreamEvent[]> {
    const w = eventWhere(projectId, { ...f, afterId });
    const { rows: rs } = await db.query<EventDbRow>(
      `SELECT ${EVENT_COLS} FROM request_events WHERE ${w.sql} ORDER BY id LIMIT ${w.param(limit)}`,
      w.params,
    );
    return rs.map(toEvent);
  }

  /** Filters added to `w`, which already holds the project and range or position conditions. */
  function logWhere(w: Where, f: LogFilters): Where {
    if (f.environmentId) w.add('environment_id = ?', f.environmentId);
    if (f.service) w.add('service = ?', f.service);
    if (f.level) w.add('level >= ?', LEVELS.indexOf(f.level) + 1);
    if (f.q)
      w.add(
        "message ILIKE '%' || ? || '%'",
        f.q.replace(/[\\%_]/g, (c) => `\\${c}`),
      );
    if (f.requestId) w.add('request_id = ?', f.requestId);
    if (f.traceId) w.add('trace_id = ?', f.traceId);
    if (f.attributes && Object.keys(f.attributes).length)
      w.add('attributes @> ?::jsonb', JSON.stringify(f.attributes));
    return w;
  }

  async function logs(
    projectId: string,
    f: LogFilters,
    range: Range,
    cursor: string | undefined,
    limit: number,
  ): Promise<{ logs: LogEntry[]; nextCursor: string | null }> {
    const w = new Where()
      .add('project_id = ?', projectId)
      .add('time >= ?', new Date(range.from))
      .add('time < ?', new Date(range.to));
    logWhere(w, f);
    if (cursor) {
      const m = /^(\d{1,15})\.(\d{1,18})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
      if (!m) throw new AppError('invalid_cursor');
      w.raw(`(time, id) < (${w.param(new Date(Number(m[1])))}, ${w.param(m[2])}::int8)`);
    }
    const { rows: rs } = await db.query<LogDbRow>(
      `SELECT ${LOG_COLS} FROM runtime_logs WHERE ${w.sql}
       ORDER BY time DESC, id DESC LIMIT ${w.param(limit + 1)}`,
      w.params,
    );
    const page = rs.slice(0, limit).map(toLog);
    const last = page[page.length - 1];
    const nextCursor =
      rs.length > limit && last
        ? Buffer.from(`${Date.parse(last.time)}.${last.id}`, 'utf8').toString('base64url')
        : null;
    return { logs: page, nextCursor };
  }

  async function logsAfter(
    projectId: string,
    f: LogFilters,
    afterId: number,
    limit: number,
  ): Promise<LogEntry[]> {
    const w = logWhere(new Where().add('project_id = ?', projectId).add('id > ?', afterId), f);
    const { rows: rs } = await db.query<LogDbRow>(
      `SELECT ${LOG_COLS} FROM runtime_logs WHERE ${w.sql} ORDER BY id LIMIT ${w.param(limit)}`,
      w.params,
    );
    return rs.map(toLog);
  }

  async function metricPoints(
    projectId: string,
    q: { name: string; environmentId?: string; service?: string },
    range: Range,
    limit: number,
  ) {
    const w = new Where()
      .add('project_id = ?', projectId)
      .add('name = ?', q.name)
      .add('time >= ?', new Date(range.from))
      .add('time < ?', new Date(range.to));
    if (q.environmentId) w.add('environment_id = ?', q.environmentId);
    if (q.service) w.add('service = ?', q.service);
    const { rows: rs } = await db.query<Record<string, unknown>>(
      `SELECT time, start_time, environment_id, service, name, kind, unit, monotonic, temporality, value, count,
         sum, min, max, bounds, bucket_counts, attributes
       FROM metric_points WHERE ${w.sql} ORDER BY time DESC LIMIT ${w.param(limit)}`,
      w.params,
    );
    return {
      points: rs.map((r) => ({
        time: new Date(r.time as string).toISOString(),
        startTime: r.start_time ? new Date(r.start_time as string).toISOString() : null,
        environmentId: r.environment_id as string,
        service: r.service as string,
        name: r.name as string,
        kind: r.kind as string,
        unit: (r.unit as string | null) ?? null,
        monotonic: (r.monotonic as boolean | null) ?? null,
        temporality: (r.temporality as string | null) ?? null,
        value: (r.value as number | null) ?? null,
        count: r.count === null ? null : Number(r.count),
        sum: (r.sum as number | null) ?? null,
        min: (r.min as number | null) ?? null,
        max: (r.max as number | null) ?? null,
        bounds: (r.bounds as number[] | null) ?? null,
        bucketCounts: r.bucket_counts ? (r.bucket_counts as unknown[]).map(Number) : null,
        attributes: (r.attributes as Attributes | null) ?? null,
      })),
    };
  }

  return {
    cover,
    summary,
    routes,
    series,
    compare,
    services,
    environmentId,
    events,
    eventsAfter,
    logs,
    logsAfter,
    metricPoints,
  };
}
export type TelemetryService = ReturnType<typeof createTelemetryService>;

export interface LogFilters {
  environmentId?: string;
  service?: string;
  level?: Level;
  q?: string;
  requestId?: string;
  traceId?: string;
  attributes?: Record<string, string>;
}

interface EventDbRow {
  id: string;
  time: Date | string;
  environment_id: string;
  service: string;
  route: string;
  method: string;
  status: number;
  duration_ms: number;
  bytes_in: number | null;
  bytes_out: number | null;
  request_id: string | null;
  trace_id: string | null;
  instance: string | null;
  attributes: Attributes | null;
}
interface LogDbRow {
  id: string;
  time: Date | string;
  environment_id: string;
  service: string;
  level: number;
  message: string;
  request_id: string | null;
  trace_id: string | null;
  span_id: string | null;
  instance: string | null;
  attributes: Attributes | null;
}

const toEvent = (r: EventDbRow): StreamEvent => ({
  id: r.id,
  time: new Date(r.time).toISOString(),
  environmentId: r.environment_id,
  service: r.service,
  route: r.route,
  method: r.method,
  status: r.status,
  durationMs: r.duration_ms,
  bytesIn: r.bytes_in === null ? null : Number(r.bytes_in),
  bytesOut: r.bytes_out === null ? null : Number(r.bytes_out),
  requestId: r.request_id,
  traceId: r.trace_id,
  instance: r.instance,
  attributes: r.attributes,
});
const toLog = (r: LogDbRow): LogEntry => ({
  id: r.id,
  time: new Date(r.time).toISOString(),
  environmentId: r.environment_id,
  service: r.service,
  level: levelName(r.level),
  message: r.message,
  requestId: r.request_id,
  traceId: r.trace_id,
  spanId: r.span_id,
  instance: r.instance,
  attributes: r.attributes,
});
