/**
 * The anomaly detector's settings, their defaults and their validation. A caller passes a partial
 * `DetectorConfig` (from a target or service's settings) to `resolveConfig`, once, and hands the
 * resolved one to every `evaluate` call; bad values throw a `RangeError` naming the field, so an API
 * can turn it into a 4xx before anything is stored.
 *
 * Defaults (chosen with bench/anomaly.mjs, seed 42: at 'medium' no false opens in 36 series-days
 * each of heavy outliers, noise bursts, AR(1)-correlated noise and slow drift; 'high' opened 3 times
 * on the correlated noise, 4.0 once on other seeds; recall of 3–10× spikes 0.93, every miss on the
 * noisiest series, sigma 0.35):
 * - sensitivity 'medium' = 4.5 robust z-units ('low' 6, 'high' 3.5). For latency the score is in log
 *   space (ln(1 + ms)), so one unit is a relative change; for error rate it is in rate units.
 * - minSamples 30 points before any verdict; window 120 trailing points (two hours of minutes).
 * - openAfter 3 consecutive anomalous points open an anomaly; closeAfter 5 consecutive normal ones close.
 * - Absolute floors, both required: latency at least +10 ms AND at least 30 % above the expectation;
 *   error rate at least +2 percentage points AND at least 50 % above the expectation. Error-rate minutes
 *   with fewer than minCount = 20 requests are skipped.
 * - adaptAfterMinutes 240: an anomaly still open after 4 hours is a level shift, accepted as the new
 *   normal (its points become the trailing window and the anomaly closes with that reason).
 * - breakAfterMinutes 5: a longer gap between points breaks "consecutive" (pending counts restart);
 *   resetAfterMinutes 1440: after a day without points the trailing baseline is dropped and relearned.
 * - Seasonal (hour-of-week) baseline on, used for a slot once it has seen 2 weeks (keeps the last 4).
 */

export type Metric = 'latency' | 'error_rate';
export type Sensitivity = 'low' | 'medium' | 'high' | number;

export interface DetectorConfig {
  metric: Metric;
  /** A named level or a threshold in robust z-units (> 0). */
  sensitivity?: Sensitivity;
  /** Points in the trailing window before verdicts start (and after a reset). */
  minSamples?: number;
  /** Trailing window length in points. */
  window?: number;
  /** Consecutive anomalous points that open an anomaly. */
  openAfter?: number;
  /** Consecutive normal points that close an open anomaly. */
  closeAfter?: number;
  /** error_rate: minutes with fewer requests are skipped (neither normal nor anomalous). */
  minCount?: number;
  /** Smallest absolute rise above the expectation that can be anomalous: ms, or a rate (0.02 = 2 pp). */
  minDelta?: number;
  /** Smallest relative rise above the expectation that can be anomalous (0.3 = 30 %). */
  minRatio?: number;
  /** An anomaly open this long is accepted as the new normal and closed. */
  adaptAfterMinutes?: number;
  /** A gap longer than this between points breaks the consecutive counts. */
  breakAfterMinutes?: number;
  /** A gap longer than this drops the trailing baseline (learning again). */
  resetAfterMinutes?: number;
  /** Use the hour-of-week baseline once a slot has `seasonMinWeeks` weeks of history. */
  seasonal?: boolean;
  seasonMinWeeks?: number;
  /** Weekly summaries kept per hour-of-week slot. */
  seasonWeeks?: number;
  /** Name of the series in reasons: 'p95', 'latency', 'error rate'. */
  label?: string;
}

export interface ResolvedConfig extends Required<Omit<DetectorConfig, 'sensitivity'>> {
  /** The threshold in robust z-units. */
  threshold: number;
}

export const SENSITIVITY: Readonly<Record<'low' | 'medium' | 'high', number>> = {
  low: 6,
  medium: 4.5,
  high: 3.5,
};

const DEFAULTS = {
  minSamples: 30,
  window: 120,
  openAfter: 3,
  closeAfter: 5,
  minCount: 20,
  adaptAfterMinutes: 240,
  breakAfterMinutes: 5,
  resetAfterMinutes: 1440,
  seasonal: true,
  seasonMinWeeks: 2,
  seasonWeeks: 4,
} as const;

const METRIC_DEFAULTS: Record<Metric, { minDelta: number; minRatio: number; label: string }> = {
  latency: { minDelta: 10, minRatio: 0.3, label: 'latency' },
  error_rate: { minDelta: 0.02, minRatio: 0.5, label: 'error rate' },
};

function int(name: string, v: number, min: number, max: number): number {
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new RangeError(`anomaly config: ${name} must be an integer from ${min} to ${max} (got ${v})`);
  }
  return v;
}

function num(name: string, v: number, min: number, max: number): number {
  if (!Number.isFinite(v) || v < min || v > max) {
    throw new RangeError(`anomaly config: ${name} must be a number from ${min} to ${max} (got ${v})`);
  }
  return v;
}

export function resolveConfig(c: DetectorConfig): ResolvedConfig {
  if (c.metric !== 'latency' && c.metric !== 'error_rate') {
    throw new RangeError(
      `anomaly config: metric must be 'latency' or 'error_rate' (got ${String(c.metric)})`,
    );
  }
  const m = METRIC_DEFAULTS[c.metric];
  const s = c.sensitivity ?? 'medium';
  let threshold: number;
  if (typeof s === 'number') threshold = num('sensitivity', s, 0.5, 100);
  else if (s === 'low' || s === 'medium' || s === 'high') threshold = SENSITIVITY[s];
  else
    throw new RangeError(
      `anomaly config: sensitivity must be low, medium, high or a number (got ${String(s)})`,
    );
  const window = int('window', c.window ?? DEFAULTS.window, 10, 1440);
  const minSamples = int('minSamples', c.minSamples ?? DEFAULTS.minSamples, 5, window);
  const seasonWeeks = int('seasonWeeks', c.seasonWeeks ?? DEFAULTS.seasonWeeks, 1, 8);
  const breakAfterMinutes = num(
    'breakAfterMinutes',
    c.breakAfterMinutes ?? DEFAULTS.breakAfterMinutes,
    1,
    1440,
  );
  return {
    metric: c.metric,
    threshold,
    minSamples,
    window,
    openAfter: int('openAfter', c.openAfter ?? DEFAULTS.openAfter, 1, 60),
    closeAfter: int('closeAfter', c.closeAfter ?? DEFAULTS.closeAfter, 1, 240),
    minCount: int('minCount', c.minCount ?? DEFAULTS.minCount, 0, 1e9),
    minDelta: num('minDelta', c.minDelta ?? m.minDelta, 0, c.metric === 'latency' ? 3.6e6 : 1),
    minRatio: num('minRatio', c.minRatio ?? m.minRatio, 0, 100),
    adaptAfterMinutes: num('adaptAfterMinutes', c.adaptAfterMinutes ?? DEFAULTS.adaptAfterMinutes, 1, 43200),
    breakAfterMinutes,
    resetAfterMinutes: num(
      'resetAfterMinutes',
      c.resetAfterMinutes ?? DEFAULTS.resetAfterMinutes,
      breakAfterMinutes,
      43200,
    ),
    seasonal: c.seasonal ?? DEFAULTS.seasonal,
    seasonMinWeeks: int('seasonMinWeeks', c.seasonMinWeeks ?? DEFAULTS.seasonMinWeeks, 1, seasonWeeks),
    seasonWeeks,
    label: c.label ?? m.label,
  };
}
