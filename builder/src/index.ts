/**
 * The background workers. For now: the janitor and telemetry retention. Later issues add the build and deploy pipeline and the
 * schedulers. Each job runs in a supervised loop: a failure is logged and retried with exponential
 * backoff (1 s doubling to 5 min), so one bad run never stops the worker.
 */
import type { Bus, Clock, Db, Logger } from '@peep/pkg';
import { janitorRepo } from './janitor.js';
import { purgeTelemetry, type RetentionLimits } from './retention.js';

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
  ];
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
      log.info({ jobs: jobs.map((j) => j.name) }, 'builder started');
    },
    async stop() {
      stopped = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      await Promise.all(running);
    },
    async runOnce() {
      for (const j of jobs) await runJob(j);
    },
    status: () =>
      jobs.map((j) => ({
        name: j.name,
        ...(state.get(j.name) ?? { lastRunAt: null, lastError: null, failures: 0 }),
      })),
  };
}
