/**
 * The uptime scheduler of one worker: leases (leases.ts) decide which shards it checks, the wheel
 * (wheel.ts) runs each held target at its slots, runCheck probes it, state.ts turns results into
 * status and incident transitions, and the writer (writer.ts) stores results, rollups and state.
 *
 * - Loads every target of the held shards when shards are gained or lost; only the named targets when
 *   `uptime.targets` arrives on the bus (the API publishes it after every change); and every
 *   `reloadMs` compares a cheap fingerprint of the held targets (count, ids and updated_at, last beat)
 *   and loads everything only when it changed without a message (a bus outage). A full load of 10,000
 *   targets takes a few hundred ms on PGlite, in the thread that starts the checks.
 * - Heartbeats: at each slot (one per interval, at the target's phase) the target is ok if a beat
 *   arrived within interval + grace, else a failed result of class `missed`. A sweep every second
 *   records the miss as soon as the deadline (last beat, or creation, + interval + grace) passes, so
 *   a daily job that did not run is reported then, not up to a day later at its next slot (that slot
 *   then counts nothing more). An `uptime.beat` for a held target is evaluated at once, so a
 *   recovered job is up within a second.
 * - State (status, streaks, degraded, certificate warning) lives in memory while the shard is held,
 *   loaded from the targets row and the open incidents when it is gained; only this worker writes it.
 */
import { setMaxListeners } from 'node:events';
import os from 'node:os';
import type { Bus, Db, Logger, Unsubscribe } from '@peep/pkg';
import { type Check, validateCheck } from '@peep/pkg/probe-spec';
import { initialRuleState } from '../anomaly/rules.js';
import type { IncidentStore } from '../incidents/store.js';
import { createLookupCache, runCheck } from '../probes/check.js';
import { createLagWindow } from './lag-window.js';
import { createLeases, type Leases } from './leases.js';
import {
  initialState,
  step,
  type TargetState,
  type Thresholds,
  type Transition,
  type TransitionKind,
  type UptimeResult,
} from './state.js';
import { createWheel, type WheelItem } from './wheel.js';
import { createResultWriter, type ResultRecord } from './writer.js';

export const TARGETS_CHANGED = 'uptime.targets';
export const HEARTBEAT = 'uptime.beat';
export const RESULTS = 'uptime.results';

export interface SchedulerOptions {
  db: Db;
  bus: Bus;
  log: Logger;
  workerId?: string;
  /** Checks running at once; default 256. */
  concurrency?: number;
  /** Lease renewal period; default 1,000 ms. */
  tickMs?: number;
  leaseTtlMs?: number;
  /** How often the held targets are checked for changes that came without a message; default 30 s. */
  reloadMs?: number;
  /** Opens and resolves incidents on transitions; without it, transitions are only logged. */
  incidents?: IncidentStore;
  /** Epoch ms. */
  now?: () => number;
  /** Extra trusted CAs for HTTPS checks (tests). */
  ca?: string;
  writer?: { flushMs?: number; maxBatch?: number; coarseMs?: number };
}

interface Held extends WheelItem {
  projectId: string;
  environmentId: string;
  name: string;
  kind: 'http' | 'tcp' | 'heartbeat';
  check: Check | null;
  graceMs: number;
  createdAt: number;
  lastBeatAt: number | null;
  /** Heartbeats: the deadline whose miss the sweep recorded, and when it did. */
  missedDeadline: number | null;
  sweptAt: number | null;
  thresholds: Thresholds;
  state: TargetState;
  /**
   * Incidents a maintenance window kept from opening, by kind: retried at each later result while
   * the problem lasts, so one that outlasts the window opens when the window ends.
   */
  suppressed?: Map<TransitionKind, Transition>;
}

interface TargetRow {
  id: string;
  project_id: string;
  environment_id: string;
  name: string;
  kind: 'http' | 'tcp' | 'heartbeat';
  spec: unknown;
  interval_s: number;
  grace_s: number;
  fail_after: number;
  recover_after: number;
  degraded_ms: number | null;
  shard: number;
  status: 'pending' | 'up' | 'down';
  status_since: Date;
  fail_streak: number;
  ok_streak: number;
  last_beat_at: Date | null;
  created_at: Date;
  enabled: boolean;
}

export interface SchedulerStats {
  workerId: string;
  /** Shards held. */
  shards: number;
  /** Enabled targets of the held shards. */
  targets: number;
  /** Checks (and heartbeat evaluations) since start. */
  checks: number;
  failures: number;
  /** Since start, by outcome: `ok` or the error class (`timeout`, `refused`, ..., `missed`). */
  outcomes: Record<string, number>;
  skipped: number;
  /** Checks in flight. */
  running: number;
  /** Due checks waiting for a free slot (concurrency). */
  waiting: number;
  /** Start minus due time over the last minute. */
  lagP50Ms: number | null;
  lagP99Ms: number | null;
  lagMaxMs: number | null;
  /** Checks started in the last minute. */
  checksLastMinute: number;
  /** Results stored since start. */
  written: number;
  pendingWrites: number;
  failedBatches: number;
}

export interface Scheduler {
  start(): Promise<void>;
  /**
   * Stops checking, writes what is pending and gives the leases back so another worker takes over at
   * once. `releaseLeases: false` leaves them to expire, as a crashed worker would (tests of handover).
   */
  stop(opts?: { releaseLeases?: boolean }): Promise<void>;
  /** Reloads the held targets now. */
  reload(): Promise<void>;
  /** Writes pending results now. */
  flush(): Promise<void>;
  stats(): SchedulerStats;
  readonly workerId: string;
}

export function createScheduler(o: SchedulerOptions): Scheduler {
  const now = o.now ?? Date.now;
  const workerId = o.workerId ?? `${os.hostname()}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const log = o.log.child({ component: 'uptime', workerId });
  const lookup = createLookupCache();
  const leases: Leases = createLeases({
    db: o.db,
    workerId,
    host: os.hostname(),
    pid: process.pid,
    // Several workers share targets only on PostgreSQL, where renewals are quick: a short lease hands a
    // dead worker's targets over within about 4 s (one 5 s interval). PGlite (one process) keeps the
    // long default, which a busy embedded database cannot make it miss.
    ...(o.leaseTtlMs ? { ttlMs: o.leaseTtlMs } : o.db.engine === 'postgres' ? { ttlMs: 3_000 } : {}),
  });
  const held = new Map<string, Held>();
  const counts = { checks: 0, failures: 0 };
  const outcomes: Record<string, number> = {};
  const lagWindow = createLagWindow({ now: Date.now });
  let stopped = true;
  let tickTimer: NodeJS.Timeout | undefined;
  let reloadTimer: NodeJS.Timeout | undefined;
  let sweepTimer: NodeJS.Timeout | undefined;
  // Aborted by stop(): checks in flight end at once instead of holding shutdown up to their timeouts.
  // One signal for every check in flight (stop aborts them all): many listeners by design.
  const newInFlight = () => {
    const c = new AbortController();
    setMaxListeners(0, c.signal);
    return c;
  };
  let inFlight = newInFlight();
  let reloadSoon: NodeJS.Timeout | undefined;
  let reloading: Promise<void> | null = null;
  const changedIds = new Set<string>();
  let changedAll = false;
  const unsubscribe: Unsubscribe[] = [];

  const writer = createResultWriter({
    db: o.db,
    log,
    workerId,
    ...o.writer,
    onFlushed(records) {
      // One live update per target per batch, for the dashboard.
      const last = new Map<string, ResultRecord>();
      for (const r of records) last.set(r.targetId, r);
      for (const r of last.values())
        o.bus.publish(RESULTS, {
          projectId: r.projectId,
          targetId: r.targetId,
          ok: r.result.ok,
          durationMs: r.result.durationMs,
          status: r.state.status,
          at: new Date(r.result.startedAt).toISOString(),
        });
    },
  });

  const wheel = createWheel<Held>({
    now,
    concurrency: o.concurrency ?? 256,
    holds: (shard) => leases.holds(shard),
    run: (t, due) => (t.kind === 'heartbeat' ? beatCheck(t, due) : probe(t)),
    onError: (err, t) => log.error({ err, targetId: t.id }, 'check failed to run'),
    onStart: (_t, lag) => lagWindow.add(lag),
  });

  async function transitions(t: Held, list: Transition[]) {
    for (const tr of list) {
      log.info({ targetId: t.id, target: t.name, kind: tr.kind, open: tr.open }, 'target transition');
      if (!o.incidents) continue;
      if (!tr.open) t.suppressed?.delete(tr.kind);
      try {
        if (tr.open) {
          const r = await o.incidents.open(o.db, {
            projectId: t.projectId,
            environmentId: t.environmentId,
            subjectType: 'target',
            subjectId: t.id,
            subjectName: t.name,
            kind: tr.kind,
            title: title(t.name, tr.kind),
            reason: tr.reason,
            numbers: tr.numbers,
            at: new Date(tr.at),
          });
          if (r.suppressed) (t.suppressed ??= new Map()).set(tr.kind, tr);
          else t.suppressed?.delete(tr.kind);
        } else
          await o.incidents.resolve(o.db, {
            projectId: t.projectId,
            subjectType: 'target',
            subjectId: t.id,
            kind: tr.kind,
            at: new Date(tr.at),
            reason: tr.reason,
            numbers: tr.numbers,
          });
      } catch (err) {
        log.error({ err, targetId: t.id, kind: tr.kind }, 'incident transition failed');
      }
    }
  }

  /** Opens again the suppressed incidents whose problem lasts (the open is refused again inside a window). */
  function stillSuppressed(t: Held, list: Transition[], r: UptimeResult): Transition[] {
    const out: Transition[] = [];
    for (const [kind, tr] of t.suppressed ?? []) {
      if (list.some((l) => l.kind === kind)) continue;
      const lasts =
        kind === 'degraded'
          ? t.state.degraded.open
          : kind === 'cert_expiring'
            ? t.state.certWarning
            : t.state.status === 'down';
      if (!lasts) {
        t.suppressed?.delete(kind);
        continue;
      }
      const at = r.startedAt + r.durationMs;
      out.push({ ...tr, at, reason: `${tr.reason} It began in a maintenance window and outlasted it.` });
    }
    return out;
  }

  function record(t: Held, result: UptimeResult, raw: boolean) {
    counts.checks++;
    if (!result.ok) counts.failures++;
    const outcome = result.ok ? 'ok' : (result.errorClass ?? 'other');
    outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
    const list = step(t.thresholds, t.state, result);
    if (t.suppressed?.size) list.push(...stillSuppressed(t, list, result));
    writer.add({ targetId: t.id, projectId: t.projectId, result, raw, state: { ...t.state } });
    if (list.length > 0) {
      // State first (so the dashboard shows "down" with the incident), then the incidents.
      void writer.flush().then(() => transitions(t, list));
    }
  }

  async function probe(t: Held): Promise<void> {
    if (!t.check) return;
    const { signal } = inFlight;
    const result = await runCheck(t.check, {
      now,
      lookup: lookup.lookup,
      signal,
      ...(o.ca ? { ca: o.ca } : {}),
    });
    if (signal.aborted) return; // stopping: not a measurement
    // Handed over or removed meanwhile: the result is not ours to store.
    const cur = held.get(t.id);
    if (!cur || !leases.holds(cur.shard)) return;
    record(cur, result, true);
  }

  /** A heartbeat's slot: ok when a beat came within interval + grace. */
  async function beatCheck(t: Held, due: number, fromSweep = false): Promise<void> {
    const at = Math.max(due, now());
    const since = t.lastBeatAt ?? t.createdAt;
    const late = at - since > t.intervalMs + t.graceMs;
    if (t.lastBeatAt === null && !late) return; // a new heartbeat target stays pending until its first period ends
    // A slot right after the sweep recorded this miss: it is counted already.
    if (late && !fromSweep && t.sweptAt !== null && t.sweptAt > due - t.intervalMs) return;
    const result: UptimeResult = late
      ? {
          ok: false,
          startedAt: at,
          durationMs: 0,
          phases: { totalMs: 0 },
          errorClass: 'missed',
          message: `no beat for ${Math.round((at - since) / 1000)} s (period ${t.intervalMs / 1000} s + grace ${t.graceMs / 1000} s)`,
        }
      : { ok: true, startedAt: at, durationMs: 0, phases: { totalMs: 0 } };
    record(t, result, late);
  }

  /** Records a heartbeat's miss as soon as its deadline passes (once per deadline). */
  function sweep() {
    const at = now();
    for (const t of held.values()) {
      if (t.kind !== 'heartbeat' || t.state.status === 'down' || !leases.holds(t.shard)) continue;
      const deadline = (t.lastBeatAt ?? t.createdAt) + t.intervalMs + t.graceMs;
      if (at <= deadline || t.missedDeadline === deadline) continue;
      t.missedDeadline = deadline;
      t.sweptAt = at;
      void beatCheck(t, at, true).catch((err) =>
        log.error({ err, targetId: t.id }, 'heartbeat evaluation failed'),
      );
    }
  }

  async function onBeat(targetId: string) {
    const t = held.get(targetId);
    if (!t || !leases.holds(t.shard)) return;
    const { rows } = await o.db.query<{ last_beat_at: Date | null }>(
      'SELECT last_beat_at FROM targets WHERE id = $1',
      [targetId],
    );
    const beat = rows[0]?.last_beat_at;
    if (!beat) return;
    t.lastBeatAt = new Date(beat).getTime();
    // Only a change of status needs an evaluation now; ordinary beats are counted at the next slot.
    if (t.state.status !== 'up') await beatCheck(t, now());
  }

  function fromRow(r: TargetRow, prev: Held | undefined): Held | null {
    let check: Check | null = null;
    if (r.kind !== 'heartbeat') {
      const v = validateCheck(r.spec);
      if (!v.ok) {
        log.warn({ targetId: r.id, errors: v.errors }, 'stored spec is invalid; target skipped');
        return null;
      }
      check = v.check;
    }
    const thresholds: Thresholds = {
      kind: r.kind,
      failAfter: r.fail_after,
      recoverAfter: r.recover_after,
      degradedMs: r.degraded_ms,
    };
    return {
      id: r.id,
      shard: r.shard,
      intervalMs: r.interval_s * 1000,
      projectId: r.project_id,
      environmentId: r.environment_id,
      name: r.name,
      kind: r.kind,
      check,
      graceMs: r.grace_s * 1000,
      createdAt: new Date(r.created_at).getTime(),
      lastBeatAt: r.last_beat_at ? new Date(r.last_beat_at).getTime() : null,
      missedDeadline: prev?.missedDeadline ?? null,
      sweptAt: prev?.sweptAt ?? null,
      thresholds,
      // A target kept across loads keeps its in-memory state (the row may not have caught up with it
      // yet), unless the API reset the row to pending (resume).
      state:
        prev && !(r.status === 'pending' && prev.state.status !== 'pending')
          ? prev.state
          : initialState({
              status: r.status,
              statusSince: new Date(r.status_since).getTime(),
              failStreak: r.fail_streak,
              okStreak: r.ok_streak,
            }),
    };
  }

  const COLUMNS = `id, project_id, environment_id, name, kind, spec, interval_s, grace_s, fail_after,
    recover_after, degraded_ms, shard, status, status_since, fail_streak, ok_streak, last_beat_at, created_at,
    enabled`;

  /** Targets newly held get their degraded and certificate state from their open incidents. */
  async function withOpenIncidents(rows: TargetRow[]): Promise<Map<string, Set<string>>> {
    const fresh = rows.filter((r) => !held.has(r.id)).map((r) => r.id);
    const open = new Map<string, Set<string>>();
    if (fresh.length === 0) return open;
    const inc = await o.db.query<{ subject_id: string; kind: string }>(
      `SELECT subject_id, kind FROM incidents WHERE subject_type = 'target' AND status <> 'resolved'
         AND subject_id = ANY($1::text[])`,
      [fresh],
    );
    for (const i of inc.rows) {
      const s = open.get(i.subject_id) ?? new Set<string>();
      s.add(i.kind);
      open.set(i.subject_id, s);
    }
    return open;
  }

  function toHeld(r: TargetRow, open: Map<string, Set<string>>): Held | null {
    const t = fromRow(r, held.get(r.id));
    if (!t) return null;
    const kinds = open.get(r.id);
    if (kinds) {
      t.state.degraded = { ...initialRuleState(), open: kinds.has('degraded') };
      t.state.certWarning = kinds.has('cert_expiring');
    }
    return t;
  }

  /**
   * What the periodic safety net compares: enabled targets of the held shards, their ids and
   * updated_at (every change through the API sets it), and the latest beat. Cheap next to a reload.
   */
  async function fingerprint(shards: number[]): Promise<string> {
    const { rows } = await o.db.query<{ n: number; h: string | null; beat: Date | null }>(
      `SELECT count(*)::int AS n, sum(hashtext(id::text || updated_at::text)::int8)::text AS h,
         max(last_beat_at) AS beat
       FROM targets WHERE enabled AND shard = ANY($1::int[])`,
      [shards],
    );
    const r = rows[0];
    return `${shards.join(',')}|${r?.n}|${r?.h}|${r?.beat ? new Date(r.beat).getTime() : ''}`;
  }
  let loadedPrint = '';

  /** Every enabled target of the held shards. */
  async function loadAll(): Promise<void> {
    const shards = leases.owned();
    const print = shards.length === 0 ? '' : await fingerprint(shards);
    const { rows } =
      shards.length === 0
        ? { rows: [] as TargetRow[] }
        : await o.db.query<TargetRow>(
            `SELECT ${COLUMNS} FROM targets WHERE enabled AND shard = ANY($1::int[])`,
            [shards],
          );
    const open = await withOpenIncidents(rows);
    const next = new Map<string, Held>();
    for (const r of rows) {
      const t = toHeld(r, open);
      if (t) next.set(t.id, t);
    }
    held.clear();
    for (const [k, v] of next) held.set(k, v);
    wheel.set([...next.values()]);
    loadedPrint = print;
  }

  /** Only the targets named by `uptime.targets` messages: added, changed, paused or deleted. */
  async function loadSome(ids: string[]): Promise<void> {
    const { rows } = await o.db.query<TargetRow>(
      `SELECT ${COLUMNS} FROM targets WHERE id = ANY($1::uuid[])`,
      [ids],
    );
    const mine = rows.filter((r) => r.enabled && leases.holds(r.shard));
    const open = await withOpenIncidents(mine);
    const next: Held[] = [];
    for (const r of mine) {
      const t = toHeld(r, open); // before the old entry goes: it carries the in-memory state over
      if (t) next.push(t);
    }
    for (const id of ids) held.delete(id);
    for (const t of next) held.set(t.id, t);
    wheel.set([...held.values()]);
  }

  // Loads run one at a time: a full one when asked (shards changed, safety net), else the named targets.
  const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
  const wanted = { all: false, ids: new Set<string>() };
  function want(ids: string[] | 'all'): Promise<void> {
    if (ids === 'all' || wanted.ids.size + ids.length > 1_000) wanted.all = true;
    else for (const id of ids) wanted.ids.add(id);
    reloading ??= runLoads();
    return reloading;
  }
  async function runLoads(): Promise<void> {
    await Promise.resolve(); // `reloading` is set before this can finish
    try {
      while (!stopped && (wanted.all || wanted.ids.size > 0)) {
        const all = wanted.all;
        const ids = [...wanted.ids];
        wanted.all = false;
        wanted.ids.clear();
        try {
          await (all ? loadAll() : loadSome(ids));
        } catch (err) {
          log.error({ err }, 'loading targets failed');
        }
      }
    } finally {
      // In the same turn as the last check of `wanted`: a request after it starts a new run.
      reloading = null;
    }
  }
  const reload = () => want('all');

  /** The safety net: a full load when the held targets changed without a message (bus outage). */
  async function verify(): Promise<void> {
    const shards = leases.owned();
    if (shards.length === 0 || reloading) return;
    try {
      if ((await fingerprint(shards)) !== loadedPrint) await reload();
    } catch (err) {
      log.error({ err }, 'checking targets for changes failed');
    }
  }

  async function tick() {
    try {
      const t = await leases.tick();
      if (t.gained.length > 0 || t.lost.length > 0) {
        log.info({ gained: t.gained.length, lost: t.lost.length, held: t.shards.length }, 'shards changed');
        await reload();
      }
    } catch (err) {
      log.error({ err }, 'lease tick failed');
    }
    if (!stopped) {
      tickTimer = setTimeout(tick, o.tickMs ?? 1_000);
      tickTimer.unref();
    }
  }

  return {
    workerId,
    async start() {
      if (!stopped) return;
      stopped = false;
      inFlight = newInFlight();
      unsubscribe.push(
        o.bus.subscribe<{ targetId?: unknown }>(TARGETS_CHANGED, (m) => {
          const id = m.data?.targetId;
          if (typeof id === 'string' && UUID.test(id)) changedIds.add(id);
          else changedAll = true; // no usable id: look at everything
          if (reloadSoon) return;
          // Messages of one apply arrive together: one load for all of them.
          reloadSoon = setTimeout(() => {
            reloadSoon = undefined;
            const ids = [...changedIds];
            changedIds.clear();
            void want(changedAll ? 'all' : ids);
            changedAll = false;
          }, 50);
        }),
        o.bus.subscribe<{ targetId: string }>(HEARTBEAT, (m) => {
          void onBeat(m.data.targetId).catch((err) => log.error({ err }, 'heartbeat evaluation failed'));
        }),
      );
      wheel.start();
      await tick();
      reloadTimer = setInterval(() => void verify(), o.reloadMs ?? 30_000);
      reloadTimer.unref();
      sweepTimer = setInterval(sweep, 1_000);
      sweepTimer.unref();
    },
    async stop(opts = {}) {
      if (stopped) return;
      stopped = true;
      for (const u of unsubscribe.splice(0)) u();
      clearTimeout(tickTimer);
      clearTimeout(reloadSoon);
      clearInterval(reloadTimer);
      clearInterval(sweepTimer);
      await reloading;
      inFlight.abort();
      await wheel.stop();
      await writer.close();
      if (opts.releaseLeases !== false)
        await leases.release().catch((err) => log.warn({ err }, 'releasing leases failed'));
    },
    reload,
    flush: () => writer.flush(),
    stats() {
      const w = wheel.stats();
      const ws = writer.stats();
      const lag = lagWindow.summary();
      return {
        workerId,
        shards: leases.owned().length,
        targets: held.size,
        checks: counts.checks,
        failures: counts.failures,
        outcomes: { ...outcomes },
        skipped: w.skipped,
        running: w.running,
        waiting: w.waiting,
        lagP50Ms: lag.p50Ms,
        lagP99Ms: lag.p99Ms,
        lagMaxMs: lag.maxMs,
        checksLastMinute: lag.count,
        written: ws.written,
        pendingWrites: ws.pending,
        failedBatches: ws.failedBatches,
      };
    },
  };
}

const TITLES: Record<Transition['kind'], string> = {
  down: 'is down',
  heartbeat_missed: 'missed its heartbeat',
  degraded: 'is slow',
  cert_expiring: "'s certificate expires soon",
};
function title(name: string, kind: Transition['kind']): string {
  return kind === 'cert_expiring' ? `${name}${TITLES[kind]}` : `${name} ${TITLES[kind]}`;
}
