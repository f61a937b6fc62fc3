/**
 * Plain rules beside the statistical detector, with the same shape: a pure
 * `evaluateX(state, input, config) → { state, verdict }`, JSON state of four scalars, and hysteresis
 * (`openAfter` consecutive bad inputs open, `closeAfter` consecutive good ones close; a skipped input
 * changes nothing). Rules:
 * - down: a check failed (the probe scheduler has its own failures-before-down count; this is the
 *   same rule for callers that want it here);
 * - degraded: latency above `thresholdMs`;
 * - error rate above `threshold` (0..1), minutes under `minCount` requests skipped;
 * - certificate expiring: fewer than `warnDays` days left (opens at once by default, closes when
 *   renewed); an input without a certificate (the check failed before TLS) is skipped.
 */

export interface RuleState {
  open: boolean;
  /** Consecutive bad inputs (pending or open). */
  bad: number;
  /** Consecutive good inputs while open. */
  good: number;
  openedAt: number | null;
}

export interface RuleVerdict {
  status: 'normal' | 'anomalous' | 'skipped';
  open: boolean;
  changed: 'opened' | 'closed' | null;
  observed: number | null;
  threshold: number;
  reason: string;
}

export interface RuleEvaluation {
  state: RuleState;
  verdict: RuleVerdict;
}

export interface Hysteresis {
  openAfter?: number;
  closeAfter?: number;
}

export function initialRuleState(): RuleState {
  return { open: false, bad: 0, good: 0, openedAt: null };
}

function counts(h: Hysteresis, defOpen: number, defClose: number): { openAfter: number; closeAfter: number } {
  const openAfter = h.openAfter ?? defOpen;
  const closeAfter = h.closeAfter ?? defClose;
  for (const [k, v] of [
    ['openAfter', openAfter],
    ['closeAfter', closeAfter],
  ] as const) {
    if (!Number.isInteger(v) || v < 1 || v > 1000) {
      throw new RangeError(`rule config: ${k} must be an integer from 1 to 1000 (got ${v})`);
    }
  }
  return { openAfter, closeAfter };
}

/** The hysteresis step shared by every rule: `bad` null means skipped. */
export function stepRule(
  state: RuleState | undefined,
  t: number,
  bad: boolean | null,
  h: { openAfter: number; closeAfter: number },
): { state: RuleState; changed: RuleVerdict['changed'] } {
  const s = { ...(state ?? initialRuleState()) };
  if (bad === null) return { state: s, changed: null };
  if (bad) {
    s.good = 0;
    s.bad += 1;
    if (!s.open && s.bad >= h.openAfter) {
      s.open = true;
      s.openedAt = t;
      return { state: s, changed: 'opened' };
    }
    return { state: s, changed: null };
  }
  s.bad = 0;
  if (s.open) {
    s.good += 1;
    if (s.good >= h.closeAfter) {
      s.open = false;
      s.good = 0;
      s.openedAt = null;
      return { state: s, changed: 'closed' };
    }
  }
  return { state: s, changed: null };
}

function verdict(
  stepped: { state: RuleState; changed: RuleVerdict['changed'] },
  bad: boolean | null,
  observed: number | null,
  threshold: number,
  reason: string,
): RuleEvaluation {
  return {
    state: stepped.state,
    verdict: {
      status: bad === null ? 'skipped' : bad ? 'anomalous' : 'normal',
      open: stepped.state.open,
      changed: stepped.changed,
      observed,
      threshold,
      reason,
    },
  };
}

function positive(name: string, v: number, max: number): number {
  if (!Number.isFinite(v) || v < 0 || v > max) {
    throw new RangeError(`rule config: ${name} must be a number from 0 to ${max} (got ${v})`);
  }
  return v;
}

/** Down after `openAfter` (3) consecutive failures, up after `closeAfter` (1) success. */
export function evaluateDown(
  state: RuleState | undefined,
  input: { t: number; ok: boolean; error?: string },
  config: Hysteresis = {},
): RuleEvaluation {
  const h = counts(config, 3, 1);
  const bad = !input.ok;
  const stepped = stepRule(state, input.t, bad, h);
  const reason = bad
    ? `check failed${input.error ? `: ${input.error}` : ''} (${stepped.state.bad} in a row)`
    : 'check succeeded';
  return verdict(stepped, bad, null, h.openAfter, reason);
}

/** Degraded while latency is above `thresholdMs` for `openAfter` (3) points; `closeAfter` 3. */
export function evaluateDegraded(
  state: RuleState | undefined,
  input: { t: number; latencyMs: number | null },
  config: Hysteresis & { thresholdMs: number },
): RuleEvaluation {
  const h = counts(config, 3, 3);
  const threshold = positive('thresholdMs', config.thresholdMs, 3.6e6);
  const v = input.latencyMs;
  const bad = v === null || !Number.isFinite(v) ? null : v > threshold;
  const reason =
    bad === null
      ? 'no latency'
      : `latency ${Math.round(v as number)} ms ${bad ? 'above' : 'within'} ${threshold} ms`;
  return verdict(stepRule(state, input.t, bad, h), bad, v, threshold, reason);
}

/** Error rate above `threshold` (0..1) with at least `minCount` (20) requests; 3 to open, 3 to close. */
export function evaluateErrorRate(
  state: RuleState | undefined,
  input: { t: number; errors: number; count: number },
  config: Hysteresis & { threshold: number; minCount?: number },
): RuleEvaluation {
  const h = counts(config, 3, 3);
  const threshold = positive('threshold', config.threshold, 1);
  const minCount = positive('minCount', config.minCount ?? 20, 1e9);
  const rate = input.count > 0 ? input.errors / input.count : 0;
  const bad = input.count < minCount || input.count === 0 ? null : rate > threshold;
  const pct = (r: number) => `${(r * 100).toFixed(1)}%`;
  const reason =
    bad === null
      ? `only ${input.count} requests (fewer than ${minCount})`
      : `error rate ${pct(rate)} of ${input.count} requests ${bad ? 'above' : 'within'} ${pct(threshold)}`;
  return verdict(stepRule(state, input.t, bad, h), bad, rate, threshold, reason);
}

/** Certificate expiring: fewer than `warnDays` (14) days left; opens and closes at once by default. */
export function evaluateCertificate(
  state: RuleState | undefined,
  input: { t: number; daysLeft: number | null },
  config: Hysteresis & { warnDays?: number } = {},
): RuleEvaluation {
  const h = counts(config, 1, 1);
  const warnDays = positive('warnDays', config.warnDays ?? 14, 3650);
  const d = input.daysLeft;
  const bad = d === null || !Number.isFinite(d) ? null : d < warnDays;
  const reason =
    bad === null
      ? 'no certificate seen'
      : d !== null && d < 0
        ? `certificate expired ${Math.ceil(-d)} days ago`
        : `certificate expires in ${Math.floor(d as number)} days${bad ? ` (warning below ${warnDays})` : ''}`;
  return verdict(stepRule(state, input.t, bad, h), bad, d, warnDays, reason);
}
