/**
 * A target's state machine, one result at a time (pure; the scheduler keeps one per held target):
 * - status: `pending` until the first result; `down` after `failAfter` failures in a row; `up` after
 *   the first success from pending, or `recoverAfter` successes in a row from down.
 * - degraded (when `degradedMs` is set): successful checks slower than it, `failAfter` in a row, open
 *   a `degraded` incident; `recoverAfter` fast ones close it. A failed check counts for neither. The
 *   hysteresis is the anomaly rules' own (builder/src/anomaly/rules.ts stepRule).
 * - certificate: a successful HTTPS check whose certificate expires within the spec's warning days
 *   opens `cert_expiring`; one with a renewed certificate closes it.
 * What changed is returned as incident transitions; the caller opens or resolves the incidents.
 */

import { initialRuleState, type RuleState, stepRule } from '../anomaly/rules.js';
import type { CheckResult } from '../probes/check.js';
import type { ErrorClass } from '../probes/result.js';

/** A probe's result, or a heartbeat's evaluation (error class `missed` when no beat came in time). */
export type UptimeResult = Omit<CheckResult, 'errorClass'> & { errorClass?: ErrorClass | 'missed' };

export type Status = 'pending' | 'up' | 'down';
export type TransitionKind = 'down' | 'heartbeat_missed' | 'degraded' | 'cert_expiring';

export interface Thresholds {
  kind: 'http' | 'tcp' | 'heartbeat';
  failAfter: number;
  recoverAfter: number;
  degradedMs: number | null;
}

export interface TargetState {
  status: Status;
  /** Epoch ms. */
  statusSince: number;
  failStreak: number;
  okStreak: number;
  /** Slow checks in a row, fast ones while open; `open` while the degraded incident is. */
  degraded: RuleState;
  certWarning: boolean;
}

export interface Transition {
  kind: TransitionKind;
  /** true: open an incident; false: resolve it. */
  open: boolean;
  at: number;
  reason: string;
  numbers: Record<string, string | number>;
}

export function initialState(o: Partial<TargetState> = {}): TargetState {
  return {
    status: 'pending',
    statusSince: 0,
    failStreak: 0,
    okStreak: 0,
    degraded: initialRuleState(),
    certWarning: false,
    ...o,
  };
}

const ms = (v: number) => `${v >= 100 ? Math.round(v) : Math.round(v * 10) / 10} ms`;

/** What went wrong, for people: `refused: connect ECONNREFUSED 127.0.0.1:1`, `status 500`. */
export function describeFailure(r: UptimeResult): string {
  const what = r.errorClass ?? 'failed';
  return r.message ? `${what}: ${r.message}` : r.statusCode ? `${what}: HTTP ${r.statusCode}` : what;
}

/** Advances `s` (mutated) by one result and returns the incident transitions it causes. */
export function step(t: Thresholds, s: TargetState, r: UptimeResult): Transition[] {
  const out: Transition[] = [];
  const at = r.startedAt + r.durationMs;
  const downKind: TransitionKind = t.kind === 'heartbeat' ? 'heartbeat_missed' : 'down';
  if (r.ok) {
    s.okStreak++;
    s.failStreak = 0;
    if (s.status === 'pending' || (s.status === 'down' && s.okStreak >= t.recoverAfter)) {
      const wasDown = s.status === 'down';
      const downFor = at - s.statusSince;
      s.status = 'up';
      s.statusSince = at;
      if (wasDown)
        out.push({
          kind: downKind,
          open: false,
          at,
          reason: `Recovered: ${s.okStreak} successful check${s.okStreak === 1 ? '' : 's'} in a row.`,
          numbers: { 'down for': `${Math.round(downFor / 1000)} s`, latency: ms(r.durationMs) },
        });
    }
  } else {
    s.failStreak++;
    s.okStreak = 0;
    if (s.status !== 'down' && s.failStreak >= t.failAfter) {
      s.status = 'down';
      s.statusSince = at;
      out.push({
        kind: downKind,
        open: true,
        at,
        reason:
          t.kind === 'heartbeat'
            ? 'No heartbeat arrived within its period and grace.'
            : `${describeFailure(r)} (${s.failStreak} failed check${s.failStreak === 1 ? '' : 's'} in a row).`,
        numbers: {
          'failed checks in a row': s.failStreak,
          ...(r.statusCode ? { 'status code': r.statusCode } : {}),
          ...(r.errorClass ? { error: r.errorClass } : {}),
          ...(t.kind !== 'heartbeat' ? { 'check took': ms(r.durationMs) } : {}),
        },
      });
    }
  }

  if (t.degradedMs !== null && t.kind !== 'heartbeat') {
    const slow = r.ok ? r.durationMs > t.degradedMs : null; // a failed check is skipped
    const { state, changed } = stepRule(s.degraded, at, slow, {
      openAfter: t.failAfter,
      closeAfter: t.recoverAfter,
    });
    s.degraded = state;
    if (changed)
      out.push({
        kind: 'degraded',
        open: changed === 'opened',
        at,
        reason:
          changed === 'opened'
            ? `Checks took longer than ${ms(t.degradedMs)} (${state.bad} in a row).`
            : `Back under ${ms(t.degradedMs)}.`,
        numbers: { latency: ms(r.durationMs), threshold: ms(t.degradedMs) },
      });
  }

  if (r.ok && r.certDaysLeft !== undefined) {
    const warn = r.certWarning === true;
    if (warn !== s.certWarning) {
      s.certWarning = warn;
      out.push({
        kind: 'cert_expiring',
        open: warn,
        at,
        reason: warn
          ? `The TLS certificate expires in ${r.certDaysLeft} day${r.certDaysLeft === 1 ? '' : 's'}${r.certExpiresAt ? ` (${r.certExpiresAt})` : ''}.`
          : 'The certificate was renewed.',
        numbers: { 'days left': r.certDaysLeft },
      });
    }
  }
  return out;
}
