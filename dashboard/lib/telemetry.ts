/**
 * The Runtime tab's view of the telemetry API (docs/telemetry.md is the contract): response shapes,
 * the filter state kept in the page's query string so a view can be shared, and number formatting.
 */
import type { Level, RouteStats } from '@peep/pkg/telemetry';

export type { Level, LogEntry, LogPage, RouteStats, Series, StreamEvent, Summary } from '@peep/pkg/telemetry';
/** A row of the top-routes table. */
export type RouteRow = RouteStats;
/** The log levels in order (a value here, so the page does not bundle server code). */
export const LEVELS: readonly Level[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];

export interface TelemetryService {
  name: string;
  environments: string[];
  lastSeen: string | null;
}

// ---- filters in the URL

export const RANGES = ['15m', '1h', '6h', '24h', '7d', 'custom'] as const;
export type Range = (typeof RANGES)[number];
export const RANGE_LABELS: Record<Range, string> = {
  '15m': 'Last 15 minutes',
  '1h': 'Last hour',
  '6h': 'Last 6 hours',
  '24h': 'Last 24 hours',
  '7d': 'Last 7 days',
  custom: 'Custom',
};

/** Chart resolutions offered besides "auto" (the API's ~300 points), in seconds. */
export const STEPS = [60, 300, 900, 3600, 86_400] as const;

export interface RuntimeFilters {
  range: Range;
  /** RFC 3339, only for the custom range. */
  from: string;
  to: string;
  /** Seconds; 0 is "auto". */
  step: number;
  env: string;
  service: string;
  route: string;
  method: string;
}

export const NO_FILTERS: RuntimeFilters = {
  range: '1h',
  from: '',
  to: '',
  step: 0,
  env: '',
  service: '',
  route: '',
  method: '',
};

/** Filters read from a query string (`?range=6h&env=prod&route=/users/:id`); unknown values fall back. */
export function filtersFromSearch(search: string): RuntimeFilters {
  const q = new URLSearchParams(search);
  const range = q.get('range') as Range | null;
  const step = Number(q.get('step'));
  const f: RuntimeFilters = {
    range: range && RANGES.includes(range) ? range : NO_FILTERS.range,
    from: validTime(q.get('from')),
    to: validTime(q.get('to')),
    step: Number.isInteger(step) && step > 0 && step % 60 === 0 ? step : 0,
    env: q.get('env') ?? '',
    service: q.get('service') ?? '',
    route: q.get('route') ?? '',
    method: q.get('method') ?? '',
  };
  if (f.range === 'custom' && !(f.from && f.to)) f.range = NO_FILTERS.range;
  if (f.range !== 'custom') {
    f.from = '';
    f.to = '';
  }
  return f;
}

function validTime(v: string | null): string {
  return v && !Number.isNaN(Date.parse(v)) ? new Date(v).toISOString() : '';
}

/** The query string for `filters`, with defaults left out so links stay short. */
export function filtersToSearch(f: RuntimeFilters, keep?: URLSearchParams): string {
  const q = new URLSearchParams(keep);
  const set = (k: string, v: string | number, dflt: string | number) => {
    if (v === dflt || v === '') q.delete(k);
    else q.set(k, String(v));
  };
  set('range', f.range, NO_FILTERS.range);
  set('from', f.range === 'custom' ? f.from : '', '');
  set('to', f.range === 'custom' ? f.to : '', '');
  set('step', f.step, 0);
  set('env', f.env, '');
  set('service', f.service, '');
  set('route', f.route, '');
  set('method', f.method, '');
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** `from`/`to` for the API: relative ranges as "that long ago" (so `to` is now), custom as instants. */
export function rangeQuery(f: RuntimeFilters): { from: string; to?: string } {
  return f.range === 'custom' ? { from: f.from, to: f.to } : { from: f.range };
}

/** Environment, service, route and method for the API (empty ones are left out by `api()`). */
export function scopeQuery(f: RuntimeFilters, withRoute = true) {
  return {
    env: f.env,
    service: f.service,
    route: withRoute ? f.route : '',
    method: withRoute ? f.method : '',
  };
}

// ---- numbers

const int = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const dec = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 });

/** "12 ms", "1.25 s"; a dash for no value (an empty window). */
export function fmtMs(v: number | null | undefined): string {
  if (v === null || v === undefined || Number.isNaN(v)) return '—';
  if (v >= 1000) return `${dec.format(v / 1000)} s`;
  if (v >= 10) return `${int.format(v)} ms`;
  return `${dec.format(v)} ms`;
}

/** Error rate as a fraction (0.05) shown as "5%". */
export function fmtPct(v: number | null | undefined): string {
  if (v === null || v === undefined || Number.isNaN(v)) return '—';
  const p = v * 100;
  return `${p === 0 || p >= 10 ? int.format(p) : dec.format(p)}%`;
}

export function fmtRps(v: number | null | undefined): string {
  if (v === null || v === undefined || Number.isNaN(v)) return '—';
  return `${v >= 100 ? int.format(v) : dec.format(v)}/s`;
}

export function fmtCount(v: number | null | undefined): string {
  return v === null || v === undefined ? '—' : int.format(v);
}

/** "HH:MM:SS.mmm" in local time, for stream and log rows. */
export function fmtClock(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

/** The CSS class suffix for a status code: 2xx ok, 3xx redirect, 4xx client, 5xx server. */
export function statusTone(status: number): 'ok' | 'redirect' | 'client' | 'server' {
  if (status >= 500) return 'server';
  if (status >= 400) return 'client';
  if (status >= 300) return 'redirect';
  return 'ok';
}
