/**
 * The anomaly evaluator: turns closed minutes of rollups into incidents. Per pass it finds the minutes
 * that closed (minute end + `settleMs` of slack for late writes) since each project's cursor, and for
 * each series with data in such a minute feeds one point to its detectors (builder/src/anomaly):
 * - targets with `anomaly` on and enabled: the minute's p95 check duration (from the DDSketch in
 *   target_rollups_1m) → `latency_anomaly`;
 * - services (per project, environment, service): the service-total rows of rollups_1m summed over
 *   shards → p95 → `latency_anomaly`, error rate → `error_rate_anomaly`, and the plain rules of
 *   `service_rules` (defaults without a row: error rate above 5 % with at least 20 requests) →
 *   `error_rate` and `degraded` (p95 above `p95_above_ms`).
 * A detector or rule saying `opened` opens an incident through the incident store, `closed` resolves
 * it. Minutes without data feed nothing (no zeros); the detector's own gap handling applies.
 *
 * Bookkeeping: detector_state holds one row per series and metric ('latency', 'error_rate', and
 * 'rules' for the plain rules' states) and one cursor row per project (subject_type 'service',
 * subject_id '', metric 'cursor', the nil environment) with the first minute not yet evaluated. A
 * project seen for the first time starts at the last closed minute; a cursor further back than
 * `maxBackfillMinutes` (60) is moved up, so a builder down for a day does not replay a day.
 *
 * A pass is one transaction holding `pg_try_advisory_xact_lock(EVALUATOR_LOCK)`: with several builder
 * replicas one evaluates and the others skip, and since the states, the cursors and the incidents
 * commit together a minute is evaluated exactly once (a failed pass rolls back and is retried whole).
 *
 * States are kept in memory between passes, and written back in turns. A learned state is about
 * 8 KB of JSON (bench/uptime-checks.mjs --learned); reading and writing 5,000 of them every minute
 * cost seconds of CPU on the thread PGlite shares with the checks. So each pass writes a fresh token
 * into the cursors it moves, and the next pass trusts its own copy of a project's states only when the
 * cursor still holds that token (no other replica ran a pass since; after a take-over or a restart,
 * every state of the project is read once, in chunks). A pass writes a state when an incident changed,
 * when its anomaly is or was open (an open incident's detector never depends on the memory copy), for
 * the plain rules' states (services only, few), and otherwise in its checkpoint turn: one minute in
 * `checkpointEvery` (10) by a hash of the series. A replica that dies loses at most the last nine
 * minutes of each series' points: its trailing window (of 120) misses them, and an anomaly pending
 * then (one or two anomalous minutes) opens that many minutes later. `flush()` on a clean stop writes
 * every unsaved state. A failed pass drops the copy (the next pass reads the database).
 */
import { randomUUID } from 'node:crypto';
import type { Db, Logger, Queryable } from '@peep/pkg';
import { Sketch } from '@peep/pkg/sketch';
import {
  createDetector,
  type Detector,
  type DetectorState,
  evaluateDegraded,
  evaluateErrorRate,
  type RuleState,
  type Sensitivity,
} from '../anomaly/index.js';
import type { IncidentKind } from '../notify/types.js';
import type { IncidentStore, SubjectType } from './store.js';

/** pg_try_advisory_xact_lock key of an evaluation pass (any constant, fixed for all peep versions). */
export const EVALUATOR_LOCK = 0x70656570_04;
const MINUTE = 60_000;
const NIL_ENV = '00000000-0000-0000-0000-000000000000';

/** Plain rules for a service when it has no service_rules row. */
export const DEFAULT_SERVICE_RULES: ServiceRules = {
  p95AboveMs: null,
  errorRateAbove: 0.05,
  minRequests: 20,
  anomaly: true,
  sensitivity: 'medium',
};

export interface ServiceRules {
  p95AboveMs: number | null;
  errorRateAbove: number | null;
  minRequests: number;
  anomaly: boolean;
  sensitivity: 'low' | 'medium' | 'high';
}

export interface EvaluatorOptions {
  db: Db;
  log: Logger;
  incidents: IncidentStore;
  now?: () => Date;
  /** Slack after a minute ends before it is evaluated (late rollup writes); default 10 s. */
  settleMs?: number;
  /** How far back a cursor may lag before minutes are skipped; default 60. */
  maxBackfillMinutes?: number;
  /** Called after a pass committed that opened or resolved incidents (wake the notifier). */
  onChange?: () => void;
  /** A normal series' state is written one minute in this many (default 10; 1 writes every pass). */
  checkpointEvery?: number;
}

export interface PassResult {
  /** false when another replica held the lock (nothing done). */
  ran: boolean;
  /** Minutes evaluated (across projects), series fed, points fed, incidents opened and resolved. */
  minutes: number;
  series: number;
  points: number;
  opened: number;
  resolved: number;
  ms: number;
}

interface SeriesKey {
  projectId: string;
  environmentId: string;
  subjectType: SubjectType;
  subjectId: string;
  subjectName: string;
}

interface MinutePoint {
  t: number;
  count: number;
  errors: number;
  p95: number | null;
}

interface ServiceSeries extends SeriesKey {
  kind: 'service';
  points: MinutePoint[];
}
interface TargetSeries extends SeriesKey {
  kind: 'target';
  sensitivity: Sensitivity;
  points: MinutePoint[];
}

interface RulesState {
  errorRate?: RuleState;
  p95?: RuleState;
}

const ms = (v: number) => `${v >= 100 ? Math.round(v) : Number(v.toPrecision(2))} ms`;
const pct = (v: number) => `${(v * 100).toFixed(1)}%`;
const stateKey = (
  k: { projectId: string; environmentId: string; subjectType: string; subjectId: string },
  m: string,
) => `${k.projectId}|${k.environmentId}|${k.subjectType}|${k.subjectId}|${m}`;

function p95Of(sketches: (ArrayLike<number> | null)[]): number | null {
  const s = new Sketch();
  for (const a of sketches) if (a) s.mergeArray(a);
  return s.quantile(0.95);
}

export function createEvaluator(o: EvaluatorOptions) {
  const now = o.now ?? (() => new Date());
  const settleMs = o.settleMs ?? 10_000;
  const maxBackfill = (o.maxBackfillMinutes ?? 60) * MINUTE;
  const checkpointEvery = Math.max(1, Math.floor(o.checkpointEvery ?? 10));
  /** Per project, every detector_state row of it (stateKey → state) as of the last committed pass. */
  const memory = new Map<string, Map<string, unknown>>();
  /** stateKeys whose newest state is not in the database yet. */
  const unsaved = new Set<string>();
  /**
   * Anomalies a maintenance window kept from opening whose detector is still open, by series and
   * kind: opened at each pass once the window is over (a restart forgets them: the detector closes
   * and reopens on its own when the problem lasts).
   */
  const suppressed = new Map<
    string,
    {
      s: SeriesKey;
      kind: IncidentKind;
      msg: { title: string; reason: string; numbers: Record<string, string | number> };
    }
  >();
  /** The token the last committed pass wrote into the cursors. */
  let lastToken: string | null = null;
  const detectors = new Map<string, Detector>();
  function detector(metric: 'latency' | 'error_rate', sensitivity: Sensitivity, label: string): Detector {
    const k = `${metric}|${sensitivity}|${label}`;
    let d = detectors.get(k);
    if (!d) {
      d = createDetector({ metric, sensitivity, label });
      detectors.set(k, d);
    }
    return d;
  }

  async function evaluateOnce(): Promise<PassResult> {
    const started = performance.now();
    const result: PassResult = {
      ran: false,
      minutes: 0,
      series: 0,
      points: 0,
      opened: 0,
      resolved: 0,
      ms: 0,
    };
    const closedEnd = Math.floor((now().getTime() - settleMs) / MINUTE) * MINUTE;
    let commit: (() => void) | undefined;
    try {
      await o.db.transaction(async (tx) => {
        const lock = await tx.query<{ locked: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS locked', [
          EVALUATOR_LOCK,
        ]);
        if (!lock.rows[0]?.locked) return;
        result.ran = true;
        // Each project's first unevaluated minute.
        const { rows: cursors } = await tx.query<{ id: string; next: string | null; pass: string | null }>(
          `SELECT p.id, c.state->>'next' AS next, c.state->>'pass' AS pass FROM projects p
           LEFT JOIN detector_state c ON c.project_id = p.id AND c.environment_id = $1
             AND c.subject_type = 'service' AND c.subject_id = '' AND c.metric = 'cursor'`,
          [NIL_ENV],
        );
        const work = new Map<string, number>();
        const cold: string[] = [];
        for (const c of cursors) {
          const from = Math.max(
            c.next === null ? closedEnd - MINUTE : Number(c.next),
            closedEnd - maxBackfill,
          );
          if (from < closedEnd) {
            work.set(c.id, from);
            result.minutes += (closedEnd - from) / MINUTE;
            if (lastToken === null || c.pass !== lastToken || !memory.has(c.id)) cold.push(c.id);
          }
        }
        if (work.size === 0) return;
        const projectIds = [...work.keys()];
        const since = projectIds.map((id) => new Date(work.get(id) as number));
        const end = new Date(closedEnd);

        const series = new Map<string, ServiceSeries | TargetSeries>();
        const { rows: svc } = await tx.query<{
          project_id: string;
          environment_id: string;
          service: string;
          bucket: Date;
          count: number;
          errors: number;
          sketch: number[];
        }>(
          `SELECT r.project_id, r.environment_id, r.service, r.bucket, r.count, r.errors, r.sketch
           FROM rollups_1m r JOIN unnest($1::uuid[], $2::timestamptz[]) AS w(project_id, since)
             ON r.project_id = w.project_id
          WHERE r.route = '' AND r.method = '' AND r.status_class = 0
            AND r.bucket >= w.since AND r.bucket < $3
          ORDER BY r.bucket`,
          [projectIds, since, end],
        );
        // Shards of one minute are adjacent after ORDER BY bucket only per series: collect, then merge.
        const shards = new Map<string, { count: number; errors: number; sketches: number[][] }>();
        for (const r of svc) {
          const key = stateKey(
            {
              projectId: r.project_id,
              environmentId: r.environment_id,
              subjectType: 'service',
              subjectId: r.service,
            },
            '',
          );
          let s = series.get(key);
          if (!s) {
            s = {
              kind: 'service',
              projectId: r.project_id,
              environmentId: r.environment_id,
              subjectType: 'service',
              subjectId: r.service,
              subjectName: r.service,
              points: [],
            };
            series.set(key, s);
          }
          const t = new Date(r.bucket).getTime();
          const mk = `${key}@${t}`;
          let m = shards.get(mk);
          if (!m) {
            m = { count: 0, errors: 0, sketches: [] };
            shards.set(mk, m);
            s.points.push({ t, count: 0, errors: 0, p95: null });
          }
          m.count += Number(r.count);
          m.errors += Number(r.errors);
          m.sketches.push(r.sketch);
        }
        for (const [key, s] of series)
          for (const p of s.points) {
            const m = shards.get(`${key}@${p.t}`);
            if (!m) continue;
            p.count = m.count;
            p.errors = m.errors;
            p.p95 = p95Of(m.sketches);
          }

        const { rows: tgt } = await tx.query<{
          project_id: string;
          environment_id: string;
          id: string;
          name: string;
          sensitivity: 'low' | 'medium' | 'high';
          bucket: Date;
          count: number;
          failures: number;
          sketch: number[];
        }>(
          `SELECT t.project_id, t.environment_id, t.id, t.name, t.sensitivity, r.bucket, r.count, r.failures, r.sketch
           FROM targets t JOIN unnest($1::uuid[], $2::timestamptz[]) AS w(project_id, since)
             ON t.project_id = w.project_id
           JOIN target_rollups_1m r ON r.target_id = t.id AND r.bucket >= w.since AND r.bucket < $3
          WHERE t.anomaly AND t.enabled
          ORDER BY r.bucket`,
          [projectIds, since, end],
        );
        for (const r of tgt) {
          // Every check failed: the timeouts are "down" (the scheduler's incident), not "slow".
          if (Number(r.count) <= Number(r.failures)) continue;
          const key = stateKey(
            {
              projectId: r.project_id,
              environmentId: r.environment_id,
              subjectType: 'target',
              subjectId: r.id,
            },
            '',
          );
          let s = series.get(key);
          if (!s) {
            s = {
              kind: 'target',
              projectId: r.project_id,
              environmentId: r.environment_id,
              subjectType: 'target',
              subjectId: r.id,
              subjectName: r.name,
              sensitivity: r.sensitivity,
              points: [],
            };
            series.set(key, s);
          }
          s.points.push({
            t: new Date(r.bucket).getTime(),
            count: Number(r.count),
            errors: Number(r.failures),
            p95: p95Of([r.sketch]),
          });
        }

        // This pass's view: the memory copy of warm projects, every row of cold ones. Nothing in
        // `memory` changes until the pass commits.
        const loaded = new Map<string, Map<string, unknown>>();
        for (const id of cold) loaded.set(id, await loadProjectStates(tx, id));
        const view = (projectId: string) => loaded.get(projectId) ?? memory.get(projectId);
        const dropped = await sweep(tx, projectIds, now(), result);
        const rules = await loadRules(tx, projectIds);
        const states = {
          get: (k: string) => (dropped.has(k) ? undefined : view(k.slice(0, k.indexOf('|')))?.get(k)),
        };
        const minuteNo = closedEnd / MINUTE;
        const changed: { k: SeriesKey; metric: string; state: unknown; save: boolean }[] = [];
        const hot = (st: unknown) => (st as Partial<DetectorState> | undefined)?.open === true;
        const put = (k: SeriesKey, metric: string, state: unknown, force = false) => {
          const key = stateKey(k, metric);
          const save =
            force ||
            metric === 'rules' ||
            hot(state) ||
            hot(states.get(key)) ||
            hash(key) % checkpointEvery === minuteNo % checkpointEvery;
          changed.push({ k, metric, state, save });
        };

        for (const s of series.values()) {
          result.series++;
          if (result.series % CHUNK === 0) await yieldToLoop();
          s.points.sort((a, b) => a.t - b.t);
          const incidentsBefore = result.opened + result.resolved;
          const moved = () => result.opened + result.resolved !== incidentsBefore;
          if (s.kind === 'target') {
            const det = detector('latency', s.sensitivity, 'p95');
            let st = states.get(stateKey(s, 'latency')) as DetectorState | undefined;
            for (const p of s.points) {
              if (p.p95 === null) continue;
              result.points++;
              const e = det.evaluate(st, { t: p.t, value: p.p95, count: p.count });
              st = e.state;
              if (e.verdict.changed) await latencyChange(tx, s, p, e.verdict, result);
            }
            if (st) put(s, 'latency', st, moved());
            continue;
          }
          const r = rules.get(stateKey(s, '')) ?? DEFAULT_SERVICE_RULES;
          let lat = states.get(stateKey(s, 'latency')) as DetectorState | undefined;
          let err = states.get(stateKey(s, 'error_rate')) as DetectorState | undefined;
          const ruleState = { ...((states.get(stateKey(s, 'rules')) as RulesState | undefined) ?? {}) };
          const latDet = detector('latency', r.sensitivity, 'p95');
          const errDet = detector('error_rate', r.sensitivity, 'error rate');
          for (const p of s.points) {
            if (p.count <= 0) continue;
            result.points++;
            const rate = p.errors / p.count;
            if (r.anomaly) {
              if (p.p95 !== null) {
                const e = latDet.evaluate(lat, { t: p.t, value: p.p95, count: p.count });
                lat = e.state;
                if (e.verdict.changed) await latencyChange(tx, s, p, e.verdict, result);
              }
              const e = errDet.evaluate(err, { t: p.t, value: rate, count: p.count });
              err = e.state;
              if (e.verdict.changed) {
                const v = e.verdict;
                await change(tx, s, 'error_rate_anomaly', v.changed, p, result, {
                  title: `${s.subjectName} has more errors than usual`,
                  reason: v.reason,
                  numbers: {
                    'error rate now': pct(rate),
                    'usual error rate': v.expected === null ? 'unknown' : pct(v.expected),
                    requests: p.count,
                  },
                });
              }
            }
            if (r.errorRateAbove !== null) {
              const e = evaluateErrorRate(
                ruleState.errorRate,
                { t: p.t, errors: p.errors, count: p.count },
                { threshold: r.errorRateAbove, minCount: r.minRequests },
              );
              ruleState.errorRate = e.state;
              if (e.verdict.changed)
                await change(tx, s, 'error_rate', e.verdict.changed, p, result, {
                  title: `${s.subjectName} error rate is above ${pct(r.errorRateAbove)}`,
                  reason: e.verdict.reason,
                  numbers: {
                    'error rate now': pct(rate),
                    threshold: pct(r.errorRateAbove),
                    requests: p.count,
                  },
                });
            }
            if (r.p95AboveMs !== null) {
              const gated = p.count < r.minRequests ? null : p.p95;
              const e = evaluateDegraded(
                ruleState.p95,
                { t: p.t, latencyMs: gated },
                { thresholdMs: r.p95AboveMs },
              );
              ruleState.p95 = e.state;
              if (e.verdict.changed)
                await change(tx, s, 'degraded', e.verdict.changed, p, result, {
                  title: `${s.subjectName} p95 is above ${r.p95AboveMs} ms`,
                  reason: e.verdict.reason.replace(/^latency/, 'p95'),
                  numbers: {
                    'p95 now': p.p95 === null ? 'unknown' : ms(p.p95),
                    threshold: `${r.p95AboveMs} ms`,
                    requests: p.count,
                  },
                });
            }
          }
          if (lat) put(s, 'latency', lat, moved());
          if (err) put(s, 'error_rate', err, moved());
          if (ruleState.errorRate || ruleState.p95) put(s, 'rules', ruleState);
        }

        // Problems that began in a maintenance window and outlast it.
        // Only while the detector or rule that opened it is still open (it may have been dropped, or
        // its rule turned off, since).
        const newest = new Map(changed.map((c) => [stateKey(c.k, c.metric), c.state]));
        const stateOf = (k: string) => (newest.has(k) ? newest.get(k) : states.get(k));
        for (const [key, h] of suppressed) {
          if (!work.has(h.s.projectId)) continue;
          const open =
            h.kind === 'latency_anomaly' || h.kind === 'error_rate_anomaly'
              ? (
                  stateOf(stateKey(h.s, h.kind === 'latency_anomaly' ? 'latency' : 'error_rate')) as
                    | Partial<DetectorState>
                    | undefined
                )?.open === true
              : ((stateOf(stateKey(h.s, 'rules')) as RulesState | undefined)?.[
                  h.kind === 'error_rate' ? 'errorRate' : 'p95'
                ]?.open ??
                  false) &&
                (() => {
                  const r = rules.get(stateKey(h.s, '')) ?? DEFAULT_SERVICE_RULES;
                  return h.kind === 'error_rate' ? r.errorRateAbove !== null : r.p95AboveMs !== null;
                })();
          if (!open) {
            suppressed.delete(key);
            continue;
          }
          const r = await o.incidents.open(inPass(tx), {
            ...h.s,
            kind: h.kind,
            at: new Date(closedEnd),
            ...h.msg,
            reason: `${h.msg.reason} It began in a maintenance window and outlasted it.`,
          });
          if (r.suppressed) continue;
          suppressed.delete(key);
          if (r.created) result.opened++;
        }

        // Also due: states left unsaved by earlier passes whose turn this is.
        const turn = changed.filter((c) => c.save);
        const inTurn = new Set(turn.map((c) => stateKey(c.k, c.metric)));
        const late: { k: SeriesKey; metric: string; state: unknown }[] = [];
        for (const key of unsaved) {
          if (inTurn.has(key) || hash(key) % checkpointEvery !== minuteNo % checkpointEvery) continue;
          const st = states.get(key);
          if (st !== undefined)
            late.push({ k: keyOf(key), metric: key.slice(key.lastIndexOf('|') + 1), state: st });
        }
        await saveStates(tx, [...turn, ...late], now());
        const token = randomUUID();
        await tx.query(
          `INSERT INTO detector_state (project_id, environment_id, subject_type, subject_id, metric, state, updated_at)
         SELECT id, $2, 'service', '', 'cursor', jsonb_build_object('next', $3::bigint, 'pass', $5::text), $4
           FROM unnest($1::uuid[]) AS id
         ON CONFLICT (project_id, environment_id, subject_type, subject_id, metric)
         DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at`,
          [projectIds, NIL_ENV, closedEnd, now(), token],
        );
        commit = () => {
          // Projects outside this pass keep their copy only if their cursor still holds the old token:
          // since every pass rewrites the cursors of the projects it moves, a project skipped now (no
          // closed minute) is still warm; the others were re-read above.
          for (const [id, m] of loaded) {
            memory.set(id, m);
            for (const key of [...unsaved]) if (key.startsWith(`${id}|`)) unsaved.delete(key);
          }
          for (const key of dropped) {
            memory.get(key.slice(0, key.indexOf('|')))?.delete(key);
            unsaved.delete(key);
          }
          for (const c of changed) {
            const key = stateKey(c.k, c.metric);
            let m = memory.get(c.k.projectId);
            if (!m) {
              m = new Map();
              memory.set(c.k.projectId, m);
            }
            m.set(key, c.state);
            if (c.save) unsaved.delete(key);
            else unsaved.add(key);
          }
          for (const l of late) unsaved.delete(stateKey(l.k, l.metric));
          // Every project with a closed minute moved together, so all carry the new token; a project
          // without one (none, in practice: all cursors end at the same minute) turns cold.
          lastToken = token;
        };
      });
    } catch (err) {
      // The copy may be ahead of the rolled-back database: read it again next time.
      memory.clear();
      unsaved.clear();
      lastToken = null;
      throw err;
    }
    commit?.();
    result.ms = performance.now() - started;
    if (result.opened + result.resolved > 0) o.onChange?.();
    if (result.ran && result.minutes > 0)
      o.log.debug({ job: 'anomaly-evaluator', ...result }, 'anomaly pass');
    return result;
  }

  /**
   * Resolves the open anomaly incidents of subjects no longer watched (a target paused, deleted or with
   * `anomaly` off; a service whose rule row turns anomalies off) and drops their detector state, so
   * turning detection on again starts from a fresh baseline rather than a stale "open".
   */
  async function sweep(
    tx: Queryable,
    projectIds: string[],
    at: Date,
    result: PassResult,
  ): Promise<Set<string>> {
    const dropped = new Set<string>();
    const { rows } = await tx.query<{
      project_id: string;
      environment_id: string;
      subject_type: SubjectType;
      subject_id: string;
      kind: 'latency_anomaly' | 'error_rate_anomaly';
      why: string;
    }>(
      `SELECT i.project_id, i.environment_id, i.subject_type, i.subject_id, i.kind,
              CASE WHEN i.subject_type = 'service' THEN 'anomaly detection turned off for the service'
                   WHEN t.id IS NULL THEN 'target deleted'
                   WHEN NOT t.enabled THEN 'target paused'
                   ELSE 'anomaly detection turned off for the target' END AS why
         FROM incidents i
         LEFT JOIN targets t ON i.subject_type = 'target' AND t.id::text = i.subject_id
         LEFT JOIN service_rules r ON i.subject_type = 'service' AND r.project_id = i.project_id
           AND r.environment_id = i.environment_id AND r.service = i.subject_id
        WHERE i.project_id = ANY($1::uuid[]) AND i.status <> 'resolved'
          AND i.kind IN ('latency_anomaly', 'error_rate_anomaly')
          AND ((i.subject_type = 'target' AND (t.id IS NULL OR NOT t.anomaly OR NOT t.enabled))
            OR (i.subject_type = 'service' AND r.anomaly = false))`,
      [projectIds],
    );
    for (const r of rows) {
      const done = await o.incidents.resolve(inPass(tx), {
        projectId: r.project_id,
        environmentId: r.environment_id,
        subjectType: r.subject_type,
        subjectId: r.subject_id,
        kind: r.kind,
        at,
        reason: `Resolved: ${r.why}.`,
      });
      result.resolved += done.length;
      const metric = r.kind === 'latency_anomaly' ? 'latency' : 'error_rate';
      await tx.query(
        `DELETE FROM detector_state WHERE project_id = $1 AND environment_id = $2 AND subject_type = $3
           AND subject_id = $4 AND metric = $5`,
        [r.project_id, r.environment_id, r.subject_type, r.subject_id, metric],
      );
      dropped.add(
        stateKey(
          {
            projectId: r.project_id,
            environmentId: r.environment_id,
            subjectType: r.subject_type,
            subjectId: r.subject_id,
          },
          metric,
        ),
      );
    }
    // Deleted targets leave no state behind.
    const { rows: gone } = await tx.query<StateRow>(
      `DELETE FROM detector_state d WHERE d.project_id = ANY($1::uuid[]) AND d.subject_type = 'target'
         AND NOT EXISTS (SELECT 1 FROM targets t WHERE t.id::text = d.subject_id)
       RETURNING d.project_id, d.environment_id, d.subject_type, d.subject_id, d.metric`,
      [projectIds],
    );
    for (const g of gone) dropped.add(rowKey(g));
    // ... including those only in memory (never written yet).
    const { rows: live } = await tx.query<{ id: string }>(
      'SELECT id::text AS id FROM targets WHERE project_id = ANY($1::uuid[])',
      [projectIds],
    );
    const alive = new Set(live.map((t) => t.id));
    for (const id of projectIds)
      for (const key of memory.get(id)?.keys() ?? []) {
        const k = keyOf(key);
        if (k.subjectType === 'target' && !alive.has(k.subjectId)) dropped.add(key);
      }
    return dropped;
  }

  /**
   * Writes every state changed since its last write (a clean stop), if this replica's copy is still
   * the newest: the cursors hold the token of its last pass. Returns how many were written.
   */
  async function flush(): Promise<number> {
    if (unsaved.size === 0 || lastToken === null) return 0;
    const token = lastToken;
    let written = 0;
    await o.db.transaction(async (tx) => {
      const lock = await tx.query<{ locked: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS locked', [
        EVALUATOR_LOCK,
      ]);
      if (!lock.rows[0]?.locked) return;
      const { rows } = await tx.query<{ project_id: string }>(
        `SELECT project_id FROM detector_state WHERE environment_id = $1 AND subject_type = 'service'
           AND subject_id = '' AND metric = 'cursor' AND state->>'pass' = $2`,
        [NIL_ENV, token],
      );
      const mine = new Set(rows.map((r) => r.project_id));
      const out: { k: SeriesKey; metric: string; state: unknown }[] = [];
      for (const key of unsaved) {
        const k = keyOf(key);
        const st = memory.get(k.projectId)?.get(key);
        if (mine.has(k.projectId) && st !== undefined)
          out.push({ k, metric: key.slice(key.lastIndexOf('|') + 1), state: st });
      }
      await saveStates(tx, out, now());
      written = out.length;
    });
    unsaved.clear();
    return written;
  }

  /** The store, running inside the pass's transaction. */
  const inPass = (tx: Queryable) => ({
    transaction: <R>(fn: (q: Queryable) => Promise<R>) => fn(tx),
  });

  async function change(
    tx: Queryable,
    s: SeriesKey,
    kind: IncidentKind,
    changed: 'opened' | 'closed' | null,
    p: MinutePoint,
    result: PassResult,
    msg: { title: string; reason: string; numbers: Record<string, string | number> },
  ): Promise<void> {
    const at = new Date(p.t + MINUTE);
    const numbers = { ...msg.numbers, window: new Date(p.t).toISOString() };
    const held = `${stateKey(s, '')}${kind}`;
    if (changed === 'opened') {
      const r = await o.incidents.open(inPass(tx), { ...s, kind, at, ...msg, numbers });
      if (r.suppressed) suppressed.set(held, { s, kind, msg: { ...msg, numbers } });
      if (r.created) {
        result.opened++;
        o.log.info(
          { job: 'anomaly-evaluator', incident: r.incident?.number, kind, subject: s.subjectName },
          msg.title,
        );
      }
    } else if (changed === 'closed') {
      suppressed.delete(held);
      const done = await o.incidents.resolve(inPass(tx), {
        projectId: s.projectId,
        environmentId: s.environmentId,
        subjectType: s.subjectType,
        subjectId: s.subjectId,
        kind,
        at,
        reason: msg.reason,
        numbers,
      });
      result.resolved += done.length;
    }
  }

  function latencyChange(
    tx: Queryable,
    s: SeriesKey,
    p: MinutePoint,
    v: { changed: 'opened' | 'closed' | null; reason: string; expected: number | null; observed: number },
    result: PassResult,
  ): Promise<void> {
    return change(tx, s, 'latency_anomaly', v.changed, p, result, {
      title: `${s.subjectName} is slower than usual`,
      reason: v.reason,
      numbers: {
        'p95 now': ms(v.observed),
        'usual p95': v.expected === null ? 'unknown' : ms(v.expected),
        ...(s.subjectType === 'service' ? { requests: p.count } : { checks: p.count }),
      },
    });
  }

  return { evaluateOnce, flush };
}
export type Evaluator = ReturnType<typeof createEvaluator>;

async function loadRules(tx: Queryable, projectIds: string[]): Promise<Map<string, ServiceRules>> {
  const { rows } = await tx.query<{
    project_id: string;
    environment_id: string;
    service: string;
    p95_above_ms: number | null;
    error_rate_above: number | null;
    min_requests: number;
    anomaly: boolean;
    sensitivity: 'low' | 'medium' | 'high';
  }>('SELECT * FROM service_rules WHERE project_id = ANY($1::uuid[])', [projectIds]);
  const out = new Map<string, ServiceRules>();
  for (const r of rows)
    out.set(
      stateKey(
        {
          projectId: r.project_id,
          environmentId: r.environment_id,
          subjectType: 'service',
          subjectId: r.service,
        },
        '',
      ),
      {
        p95AboveMs: r.p95_above_ms,
        errorRateAbove: r.error_rate_above,
        minRequests: r.min_requests,
        anomaly: r.anomaly,
        sensitivity: r.sensitivity,
      },
    );
  return out;
}

/**
 * Lets timers run. On PGlite the database shares the thread that starts uptime checks: a pass over
 * thousands of series is cut into chunks so checks due meanwhile start on time.
 */
const yieldToLoop = () => new Promise<void>((r) => setImmediate(r));
const CHUNK = 250;

interface StateRow {
  project_id: string;
  environment_id: string;
  subject_type: string;
  subject_id: string;
  metric: string;
}
const rowKey = (r: StateRow) =>
  stateKey(
    {
      projectId: r.project_id,
      environmentId: r.environment_id,
      subjectType: r.subject_type,
      subjectId: r.subject_id,
    },
    r.metric,
  );

/** The series of a stateKey (its subject name is not part of the key: the id stands in). */
function keyOf(key: string): SeriesKey {
  const [projectId = '', environmentId = '', subjectType = '', subjectId = ''] = key.split('|');
  return {
    projectId,
    environmentId,
    subjectType: subjectType as SubjectType,
    subjectId,
    subjectName: subjectId,
  };
}

/** FNV-1a of a string: a series' checkpoint turn. */
function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** Every detector state of a project (not the cursor), read in pages so checks due meanwhile run. */
async function loadProjectStates(tx: Queryable, projectId: string): Promise<Map<string, unknown>> {
  const out = new Map<string, unknown>();
  const after = { environment_id: null as string | null, subject_type: '', subject_id: '', metric: '' };
  for (;;) {
    const { rows }: { rows: (StateRow & { state: unknown })[] } = await tx.query<
      StateRow & { state: unknown }
    >(
      `SELECT project_id, environment_id, subject_type, subject_id, metric, state FROM detector_state
        WHERE project_id = $1 AND metric <> 'cursor'
          AND ($2::uuid IS NULL OR (environment_id, subject_type, subject_id, metric) > ($2, $3, $4, $5))
        ORDER BY environment_id, subject_type, subject_id, metric
        LIMIT ${CHUNK}`,
      [
        projectId,
        after?.environment_id ?? null,
        after?.subject_type ?? '',
        after?.subject_id ?? '',
        after?.metric ?? '',
      ],
    );
    for (const r of rows) out.set(rowKey(r), r.state);
    if (rows.length < CHUNK) return out;
    const last = rows[rows.length - 1] as StateRow;
    Object.assign(after, {
      environment_id: last.environment_id,
      subject_type: last.subject_type,
      subject_id: last.subject_id,
      metric: last.metric,
    });
    await yieldToLoop();
  }
}

async function saveStates(
  tx: Queryable,
  all: { k: SeriesKey; metric: string; state: unknown }[],
  at: Date,
): Promise<void> {
  for (let i = 0; i < all.length; i += CHUNK) {
    if (i > 0) await yieldToLoop();
    await saveChunk(tx, all.slice(i, i + CHUNK), at);
  }
}

async function saveChunk(
  tx: Queryable,
  rows: { k: SeriesKey; metric: string; state: unknown }[],
  at: Date,
): Promise<void> {
  if (rows.length === 0) return;
  await tx.query(
    `INSERT INTO detector_state (project_id, environment_id, subject_type, subject_id, metric, state, updated_at)
     SELECT p, e, st, si, m, s::jsonb, $7
       FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[]) AS k(p, e, st, si, m, s)
     ON CONFLICT (project_id, environment_id, subject_type, subject_id, metric)
     DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at`,
    [
      rows.map((r) => r.k.projectId),
      rows.map((r) => r.k.environmentId),
      rows.map((r) => r.k.subjectType),
      rows.map((r) => r.k.subjectId),
      rows.map((r) => r.metric),
      rows.map((r) => JSON.stringify(r.state)),
      at,
    ],
  );
}
