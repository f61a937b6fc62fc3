/**
 * Response types of the uptime, incident and channel routes (api/src/uptime/schemas.ts,
 * api/src/incidents/schemas.ts, api/src/channels/schemas.ts; written out here because the dashboard
 * takes types only from @peep/pkg), the list filters kept in the query string, and small formatters.
 */

export type TargetKind = 'http' | 'tcp' | 'heartbeat';
export type TargetStatus = 'pending' | 'up' | 'down' | 'paused';
export const TARGET_KINDS: readonly TargetKind[] = ['http', 'tcp', 'heartbeat'];
export const TARGET_STATUSES: readonly TargetStatus[] = ['up', 'down', 'pending', 'paused'];

export interface Target {
  id: string;
  projectId: string;
  env: string;
  name: string;
  kind: TargetKind;
  spec: unknown;
  intervalS: number;
  graceS: number;
  failAfter: number;
  recoverAfter: number;
  degradedMs: number | null;
  anomaly: boolean;
  sensitivity: 'low' | 'medium' | 'high';
  enabled: boolean;
  tags: string[];
  status: TargetStatus;
  statusSince: string;
  lastCheckAt: string | null;
  lastOk: boolean | null;
  lastDurationMs: number | null;
  lastStatusCode: number | null;
  lastErrorClass: string | null;
  lastMessage: string | null;
  certDaysLeft: number | null;
  lastBeatAt: string | null;
  heartbeatPrefix: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface TargetCounts {
  total: number;
  up: number;
  down: number;
  pending: number;
  paused: number;
}

export interface TargetList {
  targets: Target[];
  nextCursor: string | null;
  counts: TargetCounts;
}

export interface TargetDetail {
  target: Target;
  uptime: Record<'24h' | '7d' | '30d' | '90d', number | null>;
}

export interface CheckResult {
  id: string;
  time: string;
  ok: boolean;
  durationMs: number;
  dnsMs: number | null;
  connectMs: number | null;
  tlsMs: number | null;
  firstByteMs: number | null;
  statusCode: number | null;
  errorClass: string | null;
  message: string | null;
  certDaysLeft: number | null;
  worker: string | null;
}

export interface SeriesPoint {
  t: string;
  count: number;
  failures: number;
  p50: number | null;
  p95: number | null;
  p99: number | null;
  avg: number | null;
  min: number | null;
  max: number | null;
}

export interface TargetSeries {
  step: number;
  points: SeriesPoint[];
}

export type IncidentStatus = 'open' | 'acknowledged' | 'resolved';

export interface Incident {
  id: string;
  number: number;
  projectId: string;
  environmentId: string;
  env: string;
  subjectType: 'target' | 'service';
  subjectId: string;
  subjectName: string;
  kind: string;
  status: IncidentStatus;
  title: string;
  reason: string;
  numbers: Record<string, string | number>;
  openedAt: string;
  acknowledgedAt: string | null;
  acknowledgedBy: string | null;
  resolvedAt: string | null;
  resolvedBy: string | null;
}

export interface IncidentEvent {
  id: number;
  at: string;
  type: 'opened' | 'notified' | 'acknowledged' | 'comment' | 'resolved' | 'reminder' | 'suppressed';
  actor: string;
  actorId: string | null;
  body: string;
  data: Record<string, unknown>;
}

export interface IncidentDelivery {
  id: string;
  channelId: string;
  channelName: string;
  type: string;
  status: 'pending' | 'sending' | 'ok' | 'failed';
  attempts: number;
  error: string | null;
  createdAt: string;
  finishedAt: string | null;
}

export interface IncidentDetail {
  incident: Incident;
  events: IncidentEvent[];
  deliveries: IncidentDelivery[];
}

export type ChannelKind = 'slack' | 'webhook';

export interface Channel {
  id: string;
  projectId: string;
  name: string;
  kind: ChannelKind;
  urlHint: string;
  enabled: boolean;
  notifyResolved: boolean;
  reminderMinutes: number | null;
  lastDelivery: { id: string; type: string; status: string; at: string; error: string | null } | null;
  createdAt: string;
  updatedAt: string;
}

export interface DeliveryAttempt {
  n: number;
  at: string;
  durationMs: number;
  status?: number;
  errorClass?: string;
  error?: string;
  retryInMs?: number;
}

export interface DeliveryLog {
  deliveryId: string;
  channelKind: ChannelKind;
  ok: boolean;
  result: 'delivered' | 'rejected' | 'exhausted' | 'aborted';
  error?: string;
  attempts: DeliveryAttempt[];
}

export interface Delivery {
  id: string;
  channelId: string;
  incidentId: string | null;
  type: string;
  status: 'pending' | 'sending' | 'ok' | 'failed';
  attempts: DeliveryAttempt[];
  error: string | null;
  createdAt: string;
  nextAttemptAt: string;
  finishedAt: string | null;
}

/** The target list's filters, in the query string as `status`, `kind`, `env`, `tag` and `q`. */
export interface TargetFilters {
  status: TargetStatus | '';
  kind: TargetKind | '';
  env: string;
  tag: string;
  q: string;
}
export const NO_TARGET_FILTERS: TargetFilters = { status: '', kind: '', env: '', tag: '', q: '' };
const FILTER_KEYS = ['status', 'kind', 'env', 'tag', 'q'] as const;

export function targetFiltersFromSearch(search: string): TargetFilters {
  const p = new URLSearchParams(search);
  const status = p.get('status') ?? '';
  const kind = p.get('kind') ?? '';
  return {
    status: (TARGET_STATUSES as readonly string[]).includes(status) ? (status as TargetStatus) : '',
    kind: (TARGET_KINDS as readonly string[]).includes(kind) ? (kind as TargetKind) : '',
    env: p.get('env') ?? '',
    tag: (p.get('tag') ?? '').trim().toLowerCase().slice(0, 40),
    q: (p.get('q') ?? '').slice(0, 100),
  };
}

/** Writes the filters into the current URL (other query keys and the hash kept), no navigation. */
export function writeTargetFilters(f: TargetFilters) {
  const p = new URLSearchParams(window.location.search);
  for (const k of FILTER_KEYS) {
    if (f[k]) p.set(k, f[k]);
    else p.delete(k);
  }
  const qs = p.toString();
  const url = `${window.location.pathname}${qs ? `?${qs}` : ''}${window.location.hash}`;
  window.history.replaceState(window.history.state, '', url);
}

/** What a target checks: the URL, host:port, or "heartbeat every 5 min". */
export function targetWhat(t: Pick<Target, 'kind' | 'spec' | 'intervalS' | 'graceS'>): string {
  const spec = (t.spec ?? {}) as { url?: unknown; host?: unknown; port?: unknown; method?: unknown };
  if (t.kind === 'http') {
    const m = typeof spec.method === 'string' && spec.method !== 'GET' ? `${spec.method} ` : '';
    return `${m}${typeof spec.url === 'string' ? spec.url : '?'}`;
  }
  if (t.kind === 'tcp') return `${String(spec.host ?? '?')}:${String(spec.port ?? '?')}`;
  return `heartbeat every ${fmtSeconds(t.intervalS)}${t.graceS ? ` + ${fmtSeconds(t.graceS)} grace` : ''}`;
}

export function fmtSeconds(s: number): string {
  if (s % 86_400 === 0) return `${s / 86_400} d`;
  if (s % 3600 === 0) return `${s / 3600} h`;
  if (s % 60 === 0) return `${s / 60} min`;
  return `${s} s`;
}

export function fmtDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '—';
  if (ms < 10) return `${ms.toFixed(1)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(2)} s`;
}

export function fmtUptime(v: number | null | undefined): string {
  if (v === null || v === undefined) return '—';
  if (v >= 99.995) return '100%';
  return `${v.toFixed(v >= 99 ? 3 : 2)}%`;
}

/** "4 min", "2 h 5 min", "3 d 2 h": how long since (or between) two instants. */
export function fmtSince(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return '—';
  const s = Math.max(0, Math.round((now - new Date(iso).getTime()) / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d} d ${h % 24} h` : `${d} d`;
}

export const STATUS_LABEL: Record<TargetStatus, string> = {
  up: 'Up',
  down: 'Down',
  pending: 'Pending',
  paused: 'Paused',
};
