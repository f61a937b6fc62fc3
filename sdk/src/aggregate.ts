/**
 * Aggregating mode: instead of one event per request, the SDK keeps per window (default 5 s) and per
 * route, method and status class a count, sum, min, max, bytes and a DDSketch of the durations, and
 * ships them to `POST /api/v1/ingest/aggregates`, which merges them into the same rollups as events.
 * Percentiles, rates and error rates come out the same; recording a request costs a map lookup and
 * one logarithm instead of building, encoding and sending an event.
 *
 * Raw events are still sent for a sample (`sampled: true`, so peep does not count them twice):
 * errors and slow requests up to `notablePerSecond`, the others up to `perSecond`, by token buckets.
 * Below those rates every request is sent raw, so a quiet app keeps a complete live stream.
 *
 * The sketch is the server's (`pkg/src/sketch.ts`, docs/telemetry.md): relative accuracy 1%,
 * bucket `ceil(ln d / ln γ)` for d in ms clamped to [0.001, 1e9], sent as `[firstIndex, count...]`.
 */

const GAMMA = 1.01 / 0.99;
const LN_GAMMA = Math.log(GAMMA);
const MIN_VALUE = 1e-3;
const MAX_VALUE = 1e9;

export function bucketIndex(ms: number): number {
  const v = ms < MIN_VALUE ? MIN_VALUE : ms > MAX_VALUE ? MAX_VALUE : ms;
  return Math.ceil(Math.log(v) / LN_GAMMA);
}

interface Cell {
  count: number;
  sum: number;
  min: number;
  max: number;
  bytesIn: number;
  bytesOut: number;
  /** Index of counts[0]. */
  offset: number;
  counts: number[];
}

function newCell(): Cell {
  return {
    count: 0,
    sum: 0,
    min: Number.POSITIVE_INFINITY,
    max: 0,
    bytesIn: 0,
    bytesOut: 0,
    offset: 0,
    counts: [],
  };
}

function addTo(c: Cell, durationMs: number, bytesIn: number, bytesOut: number): void {
  c.count++;
  c.sum += durationMs;
  if (durationMs < c.min) c.min = durationMs;
  if (durationMs > c.max) c.max = durationMs;
  c.bytesIn += bytesIn;
  c.bytesOut += bytesOut;
  const i = bucketIndex(durationMs);
  const counts = c.counts;
  if (counts.length === 0) {
    c.offset = i;
    counts.push(1);
  } else if (i < c.offset) {
    const grow = c.offset - i;
    c.counts = new Array<number>(grow).fill(0).concat(counts);
    c.counts[0] = 1;
    c.offset = i;
  } else {
    const at = i - c.offset;
    while (counts.length <= at) counts.push(0);
    counts[at] = (counts[at] as number) + 1;
  }
}

/** Status class 1..5 of a status code. */
const classOf = (status: number) => (status / 100) | 0;

/** route → method → cells by status class (index 1..5). */
type Window = Map<string, Map<string, (Cell | undefined)[]>>;

/** Distinct (route, method, status class) cells per window before the rest go to route "(other)". */
export const MAX_CELLS = 5_000;

export interface AggregatorOptions {
  service: string;
  /** Window length in ms; divides a minute so no window crosses one. */
  intervalMs: number;
  /** Receives each finished window's items (the shipper's `aggregates` queue). */
  emit(item: object): void;
  now?: () => number;
}

export interface Aggregator {
  record(
    route: string,
    method: string,
    status: number,
    durationMs: number,
    bytesIn: number,
    bytesOut: number,
  ): void;
  /** Emits the current window now (flush, shutdown); recording goes on in a new one. */
  drain(): void;
  /** Requests recorded in the current window. */
  pending(): number;
  stop(): void;
}

export function createAggregator(o: AggregatorOptions): Aggregator {
  const now = o.now ?? Date.now;
  let window: Window = new Map();
  let cells = 0;
  let requests = 0;
  let start = now() - (now() % o.intervalMs);
  let timer: NodeJS.Timeout | undefined;

  function emit(w: Window, time: number): void {
    for (const [route, methods] of w)
      for (const [method, byClass] of methods)
        for (let sc = 1; sc <= 5; sc++) {
          const c = byClass[sc];
          if (!c) continue;
          o.emit({
            time,
            service: o.service,
            route,
            method,
            statusClass: sc,
            count: c.count,
            sumMs: c.sum,
            minMs: c.min,
            maxMs: c.max,
            bytesIn: c.bytesIn,
            bytesOut: c.bytesOut,
            sketch: [c.offset, ...c.counts],
          });
        }
  }

  function rotate(): void {
    const w = window;
    const t = start;
    window = new Map();
    cells = 0;
    requests = 0;
    const at = now();
    start = at - (at % o.intervalMs);
    if (w.size > 0) emit(w, t);
  }

  function schedule(): void {
    const at = now();
    timer = setTimeout(
      () => {
        rotate();
        schedule();
      },
      o.intervalMs - (at % o.intervalMs),
    );
    timer.unref();
  }
  schedule();

  function cellFor(route: string, method: string, sc: number): Cell {
    let methods = window.get(route);
    let byClass = methods?.get(method);
    let c = byClass?.[sc];
    if (c !== undefined) return c;
    if (cells >= MAX_CELLS && route !== '(other)') return cellFor('(other)', method, sc);
    if (methods === undefined) {
      methods = new Map();
      window.set(route, methods);
    }
    if (byClass === undefined) {
      byClass = [];
      methods.set(method, byClass);
    }
    c = newCell();
    byClass[sc] = c;
    cells++;
    return c;
  }

  return {
    record(route, method, status, durationMs, bytesIn, bytesOut) {
      addTo(cellFor(route, method, classOf(status)), durationMs, bytesIn, bytesOut);
      requests++;
    },
    pending: () => requests,
    drain: rotate,
    stop() {
      clearTimeout(timer);
    },
  };
}

/**
 * Which requests are also sent raw: a token bucket per kind, refilled continuously. `take()` is
 * called with the time the request ended (performance.now() ms).
 */
export function createSampler(perSecond: number, notablePerSecond: number) {
  const bucket = (rate: number) => ({ rate, tokens: rate, last: 0 });
  const normal = bucket(perSecond);
  const notable = bucket(notablePerSecond);
  const take = (b: { rate: number; tokens: number; last: number }, at: number): boolean => {
    if (b.rate === 0) return false;
    const refill = ((at - b.last) / 1000) * b.rate;
    b.last = at;
    b.tokens = Math.min(b.rate, b.tokens + refill);
    if (b.tokens < 1) return false;
    b.tokens--;
    return true;
  };
  return {
    take(at: number, isNotable: boolean): boolean {
      return take(isNotable ? notable : normal, at);
    },
  };
}
