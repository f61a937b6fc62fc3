'use client';
/**
 * The Runtime tab's filters: time range (presets or a custom from/to), environment, service, route and
 * chart resolution. Every change is applied at once, except a custom range, which waits for Apply.
 */
import { type FormEvent, useEffect, useState } from 'react';
import { RANGE_LABELS, RANGES, type Range, type RouteRow, type RuntimeFilters, STEPS } from '@/lib/telemetry';
import type { Environment } from '@/lib/types';
import styles from './runtime.module.css';
import { ServiceField } from './ServiceField';

const SEP = '\u0000';
const STEP_LABELS: Record<number, string> = {
  60: '1 minute',
  300: '5 minutes',
  900: '15 minutes',
  3600: '1 hour',
  86400: '1 day',
};

/** "2026-05-01T14:30" in local time, as a datetime-local input wants it. */
function toLocalInput(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

export function FilterBar({
  filters,
  envs,
  services,
  routes,
  busy,
  onChange,
  onRefresh,
}: {
  filters: RuntimeFilters;
  envs: Environment[];
  services: string[];
  routes: RouteRow[];
  busy: boolean;
  onChange: (f: RuntimeFilters) => void;
  onRefresh: () => void;
}) {
  const [custom, setCustom] = useState({ from: '', to: '' });
  const [editing, setEditing] = useState(false);

  useEffect(() => {
    if (filters.range === 'custom')
      setCustom({ from: toLocalInput(filters.from), to: toLocalInput(filters.to) });
  }, [filters.range, filters.from, filters.to]);

  function pickRange(r: Range) {
    if (r === 'custom') {
      const now = Date.now();
      setCustom({
        from: toLocalInput(filters.from || new Date(now - 3_600_000).toISOString()),
        to: toLocalInput(filters.to || new Date(now).toISOString()),
      });
      setEditing(true);
      return;
    }
    setEditing(false);
    onChange({ ...filters, range: r, from: '', to: '' });
  }

  function applyCustom(e: FormEvent) {
    e.preventDefault();
    const from = new Date(custom.from);
    const to = new Date(custom.to);
    if (Number.isNaN(from.getTime()) || Number.isNaN(to.getTime())) return;
    setEditing(false);
    onChange({ ...filters, range: 'custom', from: from.toISOString(), to: to.toISOString() });
  }

  const routeValue = filters.route ? [filters.service, filters.method, filters.route].join(SEP) : '';
  const routeOptions = [...routes].sort((a, b) =>
    `${a.service} ${a.route} ${a.method}`.localeCompare(`${b.service} ${b.route} ${b.method}`),
  );
  const hasSelected = routeOptions.some((r) => [r.service, r.method, r.route].join(SEP) === routeValue);
  const showCustom = editing || filters.range === 'custom';

  return (
    <form className={styles.filterBar} onSubmit={applyCustom} aria-label="Runtime filters">
      <div className="field">
        <label htmlFor="rt-range">Time range</label>
        <select
          id="rt-range"
          className="select"
          value={editing ? 'custom' : filters.range}
          onChange={(e) => pickRange(e.target.value as Range)}
        >
          {RANGES.map((r) => (
            <option key={r} value={r}>
              {RANGE_LABELS[r]}
            </option>
          ))}
        </select>
      </div>
      {showCustom ? (
        <>
          <div className="field">
            <label htmlFor="rt-from">From</label>
            <input
              id="rt-from"
              type="datetime-local"
              className="input"
              required
              value={custom.from}
              onChange={(e) => {
                setCustom({ ...custom, from: e.target.value });
                setEditing(true);
              }}
            />
          </div>
          <div className="field">
            <label htmlFor="rt-to">To</label>
            <input
              id="rt-to"
              type="datetime-local"
              className="input"
              required
              value={custom.to}
              onChange={(e) => {
                setCustom({ ...custom, to: e.target.value });
                setEditing(true);
              }}
            />
          </div>
          <button type="submit" className="btn" style={{ minHeight: 34 }}>
            Apply range
          </button>
        </>
      ) : null}
      <div className="field">
        <label htmlFor="rt-env">Environment</label>
        <select
          id="rt-env"
          className="select"
          value={filters.env}
          onChange={(e) => onChange({ ...filters, env: e.target.value })}
        >
          <option value="">All environments</option>
          {envs.map((e) => (
            <option key={e.id} value={e.slug}>
              {e.name} ({e.slug})
            </option>
          ))}
        </select>
      </div>
      <ServiceField
        id="rt-service"
        label="Service"
        value={filters.service}
        services={services}
        onChange={(service) => onChange({ ...filters, service, route: '', method: '' })}
      />
      <div className="field">
        <label htmlFor="rt-route">Route</label>
        <select
          id="rt-route"
          className="select"
          value={routeValue}
          onChange={(e) => {
            const [service = '', method = '', route = ''] = e.target.value.split(SEP);
            onChange(
              e.target.value ? { ...filters, service, method, route } : { ...filters, route: '', method: '' },
            );
          }}
        >
          <option value="">All routes</option>
          {routeValue && !hasSelected ? (
            <option value={routeValue}>
              {filters.method} {filters.route}
            </option>
          ) : null}
          {routeOptions.map((r) => {
            const v = [r.service, r.method, r.route].join(SEP);
            return (
              <option key={v} value={v}>
                {r.method} {r.route}
                {filters.service ? '' : ` (${r.service})`}
              </option>
            );
          })}
        </select>
      </div>
      <div className="field">
        <label htmlFor="rt-step">Resolution</label>
        <select
          id="rt-step"
          className="select"
          value={filters.step}
          onChange={(e) => onChange({ ...filters, step: Number(e.target.value) })}
        >
          <option value={0}>Auto</option>
          {STEPS.map((s) => (
            <option key={s} value={s}>
              {STEP_LABELS[s]}
            </option>
          ))}
        </select>
      </div>
      <button type="button" className="btn" onClick={onRefresh} disabled={busy} style={{ minHeight: 34 }}>
        {busy ? 'Loading…' : 'Refresh'}
      </button>
    </form>
  );
}
