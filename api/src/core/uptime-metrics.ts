/**
 * Uptime on /metrics: one series per target for its health (success of the last check, status,
 * duration, time until the certificate expires, time of the last check), and the active incidents per project and
 * kind. Read from the targets' state columns (kept by whichever worker checks them) at scrape time, so
 * every API replica answers the same numbers; one query per scrape, cached for a few seconds so that
 * several scrapers do not multiply the load. 10,000 targets make about 50,000 series (documented in
 * docs/uptime.md): scrape with a longer interval, or filter with `metric_relabel_configs`, at that size.
 */
import type { Db } from '@peep/pkg';
import { Gauge, type Registry } from 'prom-client';

interface TargetRow {
  project: string;
  env: string;
  name: string;
  kind: string;
  status: string;
  enabled: boolean;
  last_ok: boolean | null;
  last_duration_ms: number | null;
  cert_days_left: number | null;
  last_check_epoch: number | null;
}
interface IncidentRow {
  project: string;
  kind: string;
  n: number;
}
interface Snapshot {
  at: number;
  targets: TargetRow[];
  incidents: IncidentRow[];
}

const LABELS = ['project', 'env', 'target', 'kind'] as const;
const STATUSES = ['up', 'down', 'pending', 'paused'] as const;

export function registerUptimeMetrics(
  registry: Registry,
  db: Db,
  opts: { cacheMs?: number; now?: () => number } = {},
) {
  const cacheMs = opts.cacheMs ?? 5_000;
  const now = opts.now ?? Date.now;
  let last: Snapshot | null = null;
  let loading: Promise<Snapshot> | null = null;

  async function load(): Promise<Snapshot> {
    const [t, i] = await Promise.all([
      db.query<TargetRow>(
        `SELECT p.slug AS project, e.slug AS env, t.name, t.kind, t.status, t.enabled, t.last_ok,
                t.last_duration_ms, t.cert_days_left,
                extract(epoch FROM t.last_check_at)::float8 AS last_check_epoch
           FROM targets t JOIN projects p ON p.id = t.project_id
           JOIN environments e ON e.id = t.environment_id`,
      ),
      db.query<IncidentRow>(
        `SELECT p.slug AS project, i.kind, count(*)::int AS n
           FROM incidents i JOIN projects p ON p.id = i.project_id
          WHERE i.status <> 'resolved' GROUP BY p.slug, i.kind`,
      ),
    ]);
    return { at: now(), targets: t.rows, incidents: i.rows };
  }
  /** One query per cache period, shared by the gauges collected in the same scrape. */
  async function snapshot(): Promise<Snapshot> {
    if (last && now() - last.at < cacheMs) return last;
    loading ??= load().finally(() => {
      loading = null;
    });
    last = await loading;
    return last;
  }
  const labels = (r: TargetRow) => ({ project: r.project, env: r.env, target: r.name, kind: r.kind });

  /** A gauge over the targets, set from `value(row)`; rows where it is null have no series. */
  function targetGauge(name: string, help: string, value: (r: TargetRow) => number | null) {
    new Gauge({
      name,
      help,
      labelNames: LABELS,
      registers: [registry],
      async collect() {
        const s = await snapshot();
        this.reset();
        for (const r of s.targets) {
          const v = value(r);
          if (v !== null && Number.isFinite(v)) this.set(labels(r), v);
        }
      },
    });
  }

  targetGauge(
    'peep_target_success',
    'Whether the last check of an enabled target succeeded (1) or failed (0).',
    (r) => (r.enabled && r.last_ok !== null ? (r.last_ok ? 1 : 0) : null),
  );
  targetGauge(
    'peep_target_check_duration_seconds',
    'How long the last check of an enabled target took.',
    (r) => (r.enabled && r.last_duration_ms !== null ? r.last_duration_ms / 1000 : null),
  );
  // In seconds, Prometheus's base unit (promtool rejects a `_days` name): divide by 86400 for days.
  targetGauge(
    'peep_target_cert_expires_in_seconds',
    'Time until the TLS certificate of an HTTPS target expires (negative once expired).',
    (r) => (r.cert_days_left === null ? null : Math.round(r.cert_days_left * 86400)),
  );
  targetGauge(
    'peep_target_last_check_timestamp_seconds',
    'When the last check of a target finished (Unix time).',
    (r) => r.last_check_epoch,
  );
  new Gauge({
    name: 'peep_target_status',
    help: "A target's status after its fail/recover thresholds: 1 for the current one of up, down, pending, paused.",
    labelNames: [...LABELS, 'status'],
    registers: [registry],
    async collect() {
      const s = await snapshot();
      this.reset();
      for (const r of s.targets) {
        const current = r.enabled ? r.status : 'paused';
        for (const status of STATUSES) this.set({ ...labels(r), status }, status === current ? 1 : 0);
      }
    },
  });
  new Gauge({
    name: 'peep_incidents_active',
    help: 'Open or acknowledged incidents, by project and kind.',
    labelNames: ['project', 'kind'],
    registers: [registry],
    async collect() {
      const s = await snapshot();
      this.reset();
      for (const r of s.incidents) this.set({ project: r.project, kind: r.kind }, r.n);
    },
  });
}
