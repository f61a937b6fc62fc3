/**
 * The background workers: the janitor, telemetry retention, the uptime scheduler (builder/src/uptime),
 * the notification outbox worker with its reminders (builder/src/notifier; needs the master keys), and
 * the anomaly evaluator turning closed rollup minutes into incidents (builder/src/incidents/evaluator.ts).
 * Later issues add the build and deploy pipeline. Each job runs in a supervised loop: a failure is logged and retried with exponential
 * backoff (1 s doubling to 5 min), so one bad run never stops the worker.
 */
import type { Bus, Clock, Db, Logger } from '@peep/pkg';
import type { MasterKeys } from '@peep/pkg/project-keys';
import { createEvaluator, type Evaluator } from './incidents/evaluator.js';
import { createIncidentStore } from './incidents/store.js';
import { janitorRepo } from './janitor.js';
import { enqueueReminders } from './notifier/reminders.js';
import { NOTIFY_WAKE } from './notifier/repo.js';
import { createNotifier, type DeliveryTuning, type Notifier } from './notifier/worker.js';
import { purgeTelemetry, purgeUptime, type RetentionLimits } from './retention.js';
import { createScheduler, type Scheduler, type SchedulerOptions } from './uptime/scheduler.js';

export interface BuilderDeps {
  db: Db;
  bus: Bus;
  log: Logger;
  clock: Clock;
  /** How often the janitor runs. */
  janitorEveryMs?: number;
  /** Rollup retention (PEEP_ROLLUP_MINUTE_HOURS, PEEP_ROLLUP_HOUR_DAYS); default 48 h and 90 d. */
  retention?: RetentionLimits;
  /** How often telemetry retention runs. */
  retentionEveryMs?: number;
  /**
   * The master keys (a keyring, or pkg's keyringFromConfig loader) that open channel URLs and
   * secrets. Without them the notifier and reminders do not run (logged once at start).
   */
  keys?: MasterKeys;
  /** The notifier's deliver() options (attempts, backoff, timeout); default deliver's defaults. */
  delivery?: DeliveryTuning;
  /** Dashboard base URL for reminder messages built without an earlier message (PEEP_PUBLIC_URL). */
  publicUrl?: string;
  /** How often due reminders are enqueued; default 30 s. */
  remindersEveryMs?: number;
  /**
   * The anomaly evaluator (builder/src/incidents/evaluator.ts): how often it looks for closed minutes
   * (default 10 s), and the slack after a minute ends before it is evaluated (default 10 s).
   * `false` turns it off.
   */
  anomaly?: false | { everyMs?: number; settleMs?: number };
  /**
   * The uptime scheduler (builder/src/uptime): checks the targets of the shards this worker leases.
   * `false` or `enabled: false` turns it off (tests of other jobs); options tune it.
   */
  uptime?:
    | false
    | (Pick<
        SchedulerOptions,
        'workerId' | 'concurrency' | 'tickMs' | 'leaseTtlMs' | 'reloadMs' | 'ca' | 'writer'
      > & { enabled?: boolean });
}

export interface Job {
  name: string;
  everyMs: number;
  run(): Promise<void>;
}

export interface Builder {
  start(): void;
  stop(): Promise<void>;
  /** Runs every job once now (used by tests and `peep builder --once`). */
  runOnce(): Promise<void>;
  status(): { name: string; lastRunAt: string | null; lastError: string | null; failures: number }[];
  /** The uptime scheduler, when it runs. */
  scheduler: Scheduler | null;
}

export function createBuilder(deps: BuilderDeps): Builder {
  const { db, log, clock } = deps;
  const jobs: Job[] = [
    {
      name: 'janitor',
      everyMs: deps.janitorEveryMs ?? 10 * 60_000,
      async run() {
        const n = await janitorRepo.purge(db, clock.now());
        if (n.sessions + n.setupTokens + n.deviceCodes > 0)
          log.info({ job: 'janitor', ...n }, 'purged expired credentials');
      },
    },
    {
      name: 'telemetry-retention',
      everyMs: deps.retentionEveryMs ?? 10 * 60_000,
      async run() {
        const n = await purgeTelemetry(db, clock.now(), deps.retention ?? { minuteHours: 48, hourDays: 90 });
        if (Object.values(n).some((v) => v > 0))
          log.info({ job: 'telemetry-retention', ...n }, 'purged old telemetry');
      },
    },
    {
      name: 'uptime-retention',
      everyMs: deps.retentionEveryMs ?? 10 * 60_000,
      async run() {
        const n = await purgeUptime(db, clock.now(), deps.retention ?? { minuteHours: 48, hourDays: 90 });
        if (Object.values(n).some((v) => v > 0))
          log.info({ job: 'uptime-retention', ...n }, 'purged old check results');
      },
    },
  ];
  const incidents = createIncidentStore({
    ...(deps.publicUrl ? { publicUrl: deps.publicUrl } : {}),
    wake: () => deps.bus.publish(NOTIFY_WAKE, { reason: 'incident' }),
  });
  let evaluator: Evaluator | null = null;
  if (deps.anomaly !== false) {
    const ev = createEvaluator({
      db,
      log: log.child({ component: 'anomaly-evaluator' }),
      incidents,
      now: () => clock.now(),
      ...(deps.anomaly?.settleMs !== undefined ? { settleMs: deps.anomaly.settleMs } : {}),
      onChange: () => deps.bus.publish(NOTIFY_WAKE, { reason: 'incident' }),
    });
    evaluator = ev;
    jobs.push({
      name: 'anomaly-evaluator',
      everyMs: deps.anomaly?.everyMs ?? 10_000,
      async run() {
        await ev.evaluateOnce();
      },
    });
  }
  const scheduler: Scheduler | null =
    deps.uptime === false || deps.uptime?.enabled === false
      ? null
      : createScheduler({ db, bus: deps.bus, log, incidents, ...(deps.uptime ?? {}) });
  const keys = deps.keys;
  const notifier: Notifier | null = keys
    ? createNotifier({
        db,
        bus: deps.bus,
        log: log.child({ component: 'notifier' }),
        clock,
        keys,
        ...(deps.delivery ? { delivery: deps.delivery } : {}),
      })
    : null;
  if (notifier)
    jobs.push({
      name: 'notify-reminders',
      everyMs: deps.remindersEveryMs ?? 30_000,
      async run() {
        const n = await enqueueReminders({
          db,
          bus: deps.bus,
          clock,
          ...(deps.publicUrl ? { baseUrl: deps.publicUrl } : {}),
        });
        if (n > 0) log.info({ job: 'notify-reminders', enqueued: n }, 'reminders enqueued');
      },
    });
  const state = new Map(
    jobs.map((j) => [
      j.name,
      { lastRunAt: null as string | null, lastError: null as string | null, failures: 0 },
    ]),
  );
  const timers = new Set<NodeJS.Timeout>();
  let running: Promise<void>[] = [];
  let stopped = true;

  async function runJob(job: Job): Promise<boolean> {
    const s = state.get(job.name);
    if (!s) return false;
    try {
      await job.run();
      s.lastRunAt = clock.now().toISOString();
      s.lastError = null;
      s.failures = 0;
      return true;
    } catch (err) {
      s.failures++;
      s.lastError = err instanceof Error ? err.message : String(err);
      log.error({ err, job: job.name, failures: s.failures }, 'job failed; retrying with backoff');
      return false;
    }
  }

  function schedule(job: Job, delay: number) {
    if (stopped) return;
    const t = setTimeout(() => {
      timers.delete(t);
      const p = runJob(job).then((ok) => {
        running = running.filter((r) => r !== p);
        const failures = state.get(job.name)?.failures ?? 0;
        schedule(job, ok ? job.everyMs : Math.min(1000 * 2 ** (failures - 1), 300_000));
      });
      running.push(p);
    }, delay);
    t.unref();
    timers.add(t);
  }

  return {
    start() {
      if (!stopped) return;
      stopped = false;
      for (const j of jobs) schedule(j, 1000);
      notifier?.start();
      scheduler?.start().catch((err) => log.error({ err }, 'uptime scheduler failed to start'));
      if (!notifier) log.warn('no master keys given to the builder: notifications are not sent');
      log.info({ jobs: jobs.map((j) => j.name), notifier: notifier?.workerId ?? null }, 'builder started');
    },
    async stop() {
      stopped = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      await Promise.all([...running, notifier?.stop(), scheduler?.stop()]);
      // Detector states kept in memory between checkpoints (builder/src/incidents/evaluator.ts).
      await evaluator
        ?.flush()
        .catch((err) => log.warn({ err }, 'could not write the anomaly detector states'));
    },
    async runOnce() {
      for (const j of jobs) await runJob(j);
      await notifier?.drain();
    },
    scheduler,
    status: () =>
      jobs.map((j) => ({
        name: j.name,
        ...(state.get(j.name) ?? { lastRunAt: null, lastError: null, failures: 0 }),
      })),
  };
}

// For the API (channel routes: sealing, test sends; incidents) and the CLI.
export * from './incidents/store.js';
export * from './notifier/index.js';
export * from './notify/index.js';
