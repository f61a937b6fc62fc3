/**
 * Anomaly detection for per-minute series (issue 4, section 3): the statistical detector
 * (detector.ts: trailing median/MAD plus an hour-of-week baseline, with hysteresis) and the plain
 * rules (rules.ts: down, degraded, error rate above, certificate expiring). Pure functions over
 * JSON-serializable state; the worker stores the state and turns `changed` into incident events.
 */
import { type DetectorConfig, type ResolvedConfig, resolveConfig } from './config.js';
import { type DetectorState, type Evaluation, evaluate, initialState, type Point } from './detector.js';

export type { DetectorConfig, Metric, ResolvedConfig, Sensitivity } from './config.js';
export { resolveConfig, SENSITIVITY } from './config.js';
export type { DetectorState, Evaluation, Point, Status, Verdict } from './detector.js';
export { evaluate, initialState } from './detector.js';
export type { Hysteresis, RuleEvaluation, RuleState, RuleVerdict } from './rules.js';
export {
  evaluateCertificate,
  evaluateDegraded,
  evaluateDown,
  evaluateErrorRate,
  initialRuleState,
  stepRule,
} from './rules.js';

export interface Detector {
  config: ResolvedConfig;
  initialState(): DetectorState;
  evaluate(state: DetectorState | undefined, point: Point): Evaluation;
}

/** `resolveConfig` once (throws RangeError on bad settings) and `evaluate` bound to it. */
export function createDetector(config: DetectorConfig): Detector {
  const resolved = resolveConfig(config);
  return {
    config: resolved,
    initialState,
    evaluate: (state, point) => evaluate(state, point, resolved),
  };
}
