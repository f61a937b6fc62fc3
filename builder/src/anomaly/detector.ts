/**
 * The anomaly detector for one per-minute series (a probe's latency, a service's p95 latency or error
 * rate): a pure function `evaluate(state, point, config) → { state, verdict }` that the worker calls
 * when a minute is complete and whose state it stores as JSON between calls. No clock, no I/O, no
 * randomness: the same points give the same verdicts, before or after a JSON round-trip.
 *
 * How a point is judged:
 * - Values are transformed: latency to ln(1 + ms) (latency noise is multiplicative, so this makes a
 *   log-normal spread symmetric and "3× slower" the same size at 5 ms and at 500 ms); error rate stays
 *   a rate. Only upward deviations count.
 * - Trailing baseline: median and scaled MAD of the last `window` accepted points. The spread has a
 *   floor (0.05 in log units ≈ 5 %, or 0.5 percentage points; for error rate also the binomial
 *   standard deviation at this minute's request count), so a flat series (MAD = 0) does not turn a
 *   tiny change into a huge score.
 * - Seasonal baseline (seasonal.ts): once this hour-of-week has `seasonMinWeeks` weeks of history.
 *   Two things change then. (1) The trailing window is judged with the weekly pattern taken out
 *   ('trailing-seasonal'): each window value minus its own slot's seasonal expectation, the median of
 *   those residuals added to this slot's expectation, their MAD as the spread; so the hour after a
 *   nightly job is not judged against a window half full of the job. (Only when every slot in the
 *   window has an expectation; else the plain trailing window.) (2) The slot's own expectation is a
 *   baseline too ('seasonal'; near an hour boundary the neighbouring slot as well). A point is
 *   anomalous only if it is anomalous against every baseline available; the verdict reports the most
 *   lenient (lowest score). So the nightly job learned over two weeks no longer alarms, while the
 *   same rise at another hour still does.
 * - Anomalous against a baseline = robust z above the threshold AND above both absolute floors
 *   (`minDelta`, `minRatio`).
 * - Hysteresis: `openAfter` consecutive anomalous points open, `closeAfter` consecutive normal points
 *   close. Points of a pending or open anomaly are held out of the trailing window; if a pending run
 *   ends before opening, its points were noise and join the window. When an anomaly has been open for
 *   `adaptAfterMinutes` it is a level shift: its held points become the window and it closes, with a
 *   reason saying so. The seasonal slots learn every point (their lower median keeps a single
 *   incident week out).
 * - Gaps: points carry their time. A gap longer than `breakAfterMinutes` restarts the consecutive
 *   counts (a pending run's points join the window); a gap longer than `resetAfterMinutes` drops the
 *   trailing window (learning again; the seasonal baseline, if ready, still judges meanwhile) and
 *   closes an open anomaly; a gap longer than `seasonWeeks` weeks also drops the seasonal slots. Points
 *   not after the previous one, invalid values and error-rate minutes under `minCount` requests are
 *   'skipped' and change nothing.
 *
 * State size bound: at most 4 × window (window and held values, each with its slot) + 120 (the
 * current hour) + 168 × (seasonWeeks + 1) numbers plus a few scalars; at the defaults (window 120,
 * 4 weeks) 1,440 numbers, under 10 KB of JSON (stored values are rounded to 3 decimals in log units,
 * 5 for rates; about 8.7 KB measured after four weeks). Cost: under 10 µs per point
 * (bench/anomaly.mjs).
 */
import type { ResolvedConfig } from './config.js';
import { medianMad } from './robust.js';
import {
  emptySeason,
  HOUR_MS,
  hourOfWeek,
  learnHour,
  type Season,
  seasonalExpectations,
  slotExpectation,
} from './seasonal.js';

export interface Point {
  /** Epoch ms of the minute (its start); strictly increasing from call to call. */
  t: number;
  /** Latency in ms, or error rate in 0..1. */
  value: number;
  /** Requests in the minute (error_rate; optional for latency). */
  count?: number;
}

export interface DetectorState {
  v: 1;
  /** Time of the last accepted point. */
  lastT: number | null;
  /** Trailing window of transformed values, oldest first (≤ window). */
  ring: number[];
  /** The hour-of-week slot of each ring value (to take the seasonal pattern out of the window). */
  ringSlots: number[];
  /** Transformed values of the pending or open anomaly, oldest first (≤ window), and their slots. */
  held: number[];
  heldSlots: number[];
  /** Consecutive anomalous points (pending or open). */
  above: number;
  /** Consecutive normal points while open. */
  below: number;
  open: boolean;
  openedAt: number | null;
  /** Hour (index since the epoch) being collected for the seasonal slots, and its values (≤ 120). */
  hour: number | null;
  hourValues: number[];
  season: Season;
}

export type Status = 'learning' | 'normal' | 'anomalous' | 'skipped';

export interface Verdict {
  /** This point alone: 'skipped' when it was ignored (too few requests, out of order, invalid). */
  status: Status;
  /** The hysteresis state after this point: an anomaly is open. */
  open: boolean;
  changed: 'opened' | 'closed' | null;
  /** Robust z of the point against the baseline reported (log units for latency); null if none. */
  score: number | null;
  /** The expectation in the metric's units (ms or rate); null while learning without a baseline. */
  expected: number | null;
  observed: number;
  threshold: number;
  /** Which baseline `expected` and `score` come from. */
  baseline: 'trailing' | 'trailing-seasonal' | 'seasonal' | null;
  /** Short human text, e.g. "p95 812 ms vs usual 120 ms (±15 ms)". */
  reason: string;
}

export interface Evaluation {
  state: DetectorState;
  verdict: Verdict;
}

const LOG_FLOOR = 0.05;
const RATE_FLOOR = 0.005;
const MAX_HOUR_VALUES = 120;

export function initialState(): DetectorState {
  return {
    v: 1,
    lastT: null,
    ring: [],
    ringSlots: [],
    held: [],
    heldSlots: [],
    above: 0,
    below: 0,
    open: false,
    openedAt: null,
    hour: null,
    hourValues: [],
    season: emptySeason(),
  };
}

const round3 = (x: number): number => Math.round(x * 1e3) / 1e3;
const round5 = (x: number): number => Math.round(x * 1e5) / 1e5;

function fmtMs(ms: number): string {
  return ms < 10 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`;
}

function fmtPct(rate: number): string {
  const p = rate * 100;
  return p < 1 ? `${p.toFixed(2)}%` : `${p.toFixed(1)}%`;
}

function fmtHours(minutes: number): string {
  return minutes % 60 === 0 ? `${minutes / 60} h` : `${minutes} min`;
}

interface Judgement {
  kind: 'trailing' | 'trailing-seasonal' | 'seasonal';
  score: number;
  /** In the metric's units. */
  expected: number;
  /** Spread in the metric's units above the expectation. */
  plus: number;
  anomalous: boolean;
}

function judge(
  c: ResolvedConfig,
  kind: Judgement['kind'],
  center: number,
  mad: number,
  y: number,
  value: number,
  count: number | undefined,
): Judgement {
  if (c.metric === 'latency') {
    const spread = Math.max(mad, LOG_FLOOR);
    const score = (y - center) / spread;
    const expected = Math.expm1(center);
    const anomalous =
      score > c.threshold && value - expected >= c.minDelta && value >= expected * (1 + c.minRatio);
    return { kind, score, expected, plus: Math.expm1(center + spread) - expected, anomalous };
  }
  const n = count ?? 0;
  const p = n > 0 ? Math.min(0.5, Math.max(center, 1 / n)) : 0;
  const binomial = n > 0 ? Math.sqrt((p * (1 - p)) / n) : 0;
  const spread = Math.max(mad, RATE_FLOOR, binomial);
  const score = (y - center) / spread;
  const anomalous = score > c.threshold && value - center >= c.minDelta && value >= center * (1 + c.minRatio);
  return { kind, score, expected: center, plus: spread, anomalous };
}

function describe(c: ResolvedConfig, j: Judgement, value: number, count: number | undefined): string {
  const when = j.kind === 'trailing' ? '' : ' at this hour of the week';
  if (c.metric === 'latency') {
    return `${c.label} ${fmtMs(value)} vs usual ${fmtMs(j.expected)}${when} (±${fmtMs(j.plus)})`;
  }
  const of = count === undefined ? '' : ` of ${count} requests`;
  return `${c.label} ${fmtPct(value)}${of} vs usual ${fmtPct(j.expected)}${when} (±${fmtPct(j.plus)})`;
}

function pushBounded(a: number[], values: readonly number[], max: number): number[] {
  const out = a.concat(values);
  return out.length > max ? out.slice(out.length - max) : out;
}

/** Appends to the trailing window (and its slots), keeping the last `max`. */
function toRing(s: DetectorState, values: readonly number[], slots: readonly number[], max: number): void {
  s.ring = pushBounded(s.ring, values, max);
  s.ringSlots = pushBounded(s.ringSlots, slots, max);
}

/** The held points join the trailing window (noise after all, or an accepted level shift). */
function releaseHeld(s: DetectorState, max: number): void {
  toRing(s, s.held, s.heldSlots, max);
  dropHeld(s);
}

function dropHeld(s: DetectorState): void {
  s.held = [];
  s.heldSlots = [];
  s.above = 0;
}

/**
 * Median and MAD of the window with the hour-of-week pattern taken out: each value minus its slot's
 * seasonal expectation, the median added back to this slot's expectation. Null unless this slot and
 * every slot in the window have a seasonal expectation.
 */
function deseasonalized(
  s: DetectorState,
  slot: number,
  minWeeks: number,
): { median: number; mad: number } | null {
  const here = slotExpectation(s.season, slot, minWeeks);
  if (here === null) return null;
  const cache = new Map<number, number | null>([[slot, here]]);
  const residuals = new Array<number>(s.ring.length);
  for (let i = 0; i < s.ring.length; i++) {
    const k = s.ringSlots[i] as number;
    let e = cache.get(k);
    if (e === undefined) {
      e = slotExpectation(s.season, k, minWeeks);
      cache.set(k, e);
    }
    if (e === null) return null;
    residuals[i] = (s.ring[i] as number) - e;
  }
  const { median, mad } = medianMad(residuals);
  return { median: here + median, mad };
}

/**
 * The next state and the verdict for one point. `state` is not modified (undefined = a new series);
 * `config` comes from `resolveConfig`.
 */
export function evaluate(state: DetectorState | undefined, point: Point, c: ResolvedConfig): Evaluation {
  const prev = state ?? initialState();
  const { t, value, count } = point;
  const skip = (reason: string): Evaluation => ({
    state: prev,
    verdict: {
      status: 'skipped',
      open: prev.open,
      changed: null,
      score: null,
      expected: null,
      observed: value,
      threshold: c.threshold,
      baseline: null,
      reason,
    },
  });
  if (
    !Number.isFinite(t) ||
    !Number.isFinite(value) ||
    value < 0 ||
    (c.metric === 'error_rate' && value > 1)
  ) {
    return skip('invalid point');
  }
  if (prev.lastT !== null && t <= prev.lastT) return skip('not after the previous point');
  if (c.metric === 'error_rate' && (count ?? 0) < c.minCount) {
    return skip(`only ${count ?? 0} requests (fewer than ${c.minCount})`);
  }

  const s: DetectorState = { ...prev };
  let changed: Verdict['changed'] = null;
  let note = '';

  // Gaps.
  const gapMin = prev.lastT === null ? 0 : (t - prev.lastT) / 60_000;
  if (gapMin > c.resetAfterMinutes) {
    if (s.open) {
      changed = 'closed';
      note = `no data for ${Math.round(gapMin / 60)} h, baseline reset; `;
    }
    s.ring = [];
    s.ringSlots = [];
    dropHeld(s);
    s.below = 0;
    s.open = false;
    s.openedAt = null;
    if (gapMin > c.seasonWeeks * 7 * 1440) {
      s.season = emptySeason();
      s.hour = null;
      s.hourValues = [];
    }
  } else if (gapMin > c.breakAfterMinutes) {
    if (!s.open && s.above > 0) releaseHeld(s, c.window);
    s.below = 0;
  }

  // Seasonal learning: fold the previous hour into its slot when a new hour starts.
  const round = c.metric === 'latency' ? round3 : round5;
  const y = round(c.metric === 'latency' ? Math.log1p(value) : value);
  const hour = Math.floor(t / HOUR_MS);
  const slot = hourOfWeek(hour);
  if (s.hour !== hour) {
    if (s.hour !== null && c.seasonal)
      s.season = learnHour(s.season, s.hour, s.hourValues, c.seasonWeeks, round);
    s.hour = hour;
    s.hourValues = [];
  }
  if (s.hourValues.length < MAX_HOUR_VALUES) s.hourValues = [...s.hourValues, y];
  s.lastT = t;

  // Baselines.
  const judgements: Judgement[] = [];
  if (s.ring.length >= c.minSamples) {
    const adjusted = c.seasonal ? deseasonalized(s, slot, c.seasonMinWeeks) : null;
    const { median, mad } = adjusted ?? medianMad(s.ring);
    judgements.push(judge(c, adjusted ? 'trailing-seasonal' : 'trailing', median, mad, y, value, count));
  }
  if (c.seasonal) {
    for (const e of seasonalExpectations(s.season, t, c.seasonMinWeeks)) {
      judgements.push(judge(c, 'seasonal', e.expected, e.spread, y, value, count));
    }
  }
  if (judgements.length === 0) {
    toRing(s, [y], [slot], c.window);
    return {
      state: s,
      verdict: {
        status: 'learning',
        open: false,
        changed,
        score: null,
        expected: null,
        observed: value,
        threshold: c.threshold,
        baseline: null,
        reason: `${note}learning (${s.ring.length}/${c.minSamples} points)`,
      },
    };
  }
  let best = judgements[0] as Judgement;
  for (const j of judgements) if (j.score < best.score) best = j;
  const anomalous = judgements.every((j) => j.anomalous);
  let reason = describe(c, best, value, count);

  // Hysteresis and what joins the trailing window.
  if (anomalous) {
    s.below = 0;
    s.above += 1;
    s.held = pushBounded(s.held, [y], c.window);
    s.heldSlots = pushBounded(s.heldSlots, [slot], c.window);
    if (!s.open && s.above >= c.openAfter) {
      s.open = true;
      s.openedAt = t;
      changed = 'opened';
    } else if (s.open && s.openedAt !== null && (t - s.openedAt) / 60_000 >= c.adaptAfterMinutes) {
      const minutes = Math.round((t - s.openedAt) / 60_000);
      releaseHeld(s, c.window);
      s.open = false;
      s.openedAt = null;
      changed = 'closed';
      reason = `accepted as the new normal after ${fmtHours(minutes)}: ${reason}`;
    }
  } else {
    if (s.open) {
      s.below += 1;
      if (s.below >= c.closeAfter) {
        s.open = false;
        s.openedAt = null;
        dropHeld(s);
        s.below = 0;
        changed = 'closed';
        reason = `back to usual: ${reason}`;
      }
    } else if (s.above > 0) {
      // A pending run that did not open was noise: its points join the window.
      releaseHeld(s, c.window);
    }
    toRing(s, [y], [slot], c.window);
  }

  return {
    state: s,
    verdict: {
      status: anomalous ? 'anomalous' : 'normal',
      open: s.open,
      changed,
      score: best.score,
      expected: best.expected,
      observed: value,
      threshold: c.threshold,
      baseline: best.kind,
      reason: note + reason,
    },
  };
}
