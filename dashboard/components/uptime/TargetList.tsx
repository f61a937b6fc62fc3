'use client';
/**
 * The uptime targets of a project as one scrolling list that stays fast at 10,000 targets: pages of
 * 200 come from the server by keyset cursor as the user scrolls near the end of what is loaded, and
 * only the rows in view (plus a few either side) are in the DOM, each at a fixed height, positioned
 * over a spacer as tall as every loaded row. Status chips (with the server's counts), kind,
 * environment, tag (typed, or clicked on a row) and a debounced name search live in the query string. The first page refreshes on its
 * own while the list is scrolled near the top, so statuses move without a reload.
 */
import Link from 'next/link';
import { type UIEvent, useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from 'react';
import { ConfirmButton } from '@/components/ConfirmButton';
import { ErrorAlert } from '@/components/ErrorAlert';
import { api } from '@/lib/api';
import { useAction } from '@/lib/hooks';
import type { Environment } from '@/lib/types';
import {
  fmtDuration,
  fmtSince,
  NO_TARGET_FILTERS,
  STATUS_LABEL,
  TARGET_KINDS,
  TARGET_STATUSES,
  type Target,
  type TargetCounts,
  type TargetFilters,
  type TargetList as TargetPage,
  targetFiltersFromSearch,
  targetWhat,
  writeTargetFilters,
} from '@/lib/uptime';
import styles from './uptime.module.css';

/** Row height in px: fixed, so a row's position is its index times this. Matches `.row` in the CSS. */
export const ROW_HEIGHT = 44;
/** The sticky header's height; the table grows with its rows up to its CSS max-height, then scrolls. */
const HEAD_HEIGHT = 34;
const OVERSCAN = 8;
const PAGE_SIZE = 200;
/** Fetch the next page when fewer than this many loaded rows remain below the view. */
const PREFETCH_ROWS = 60;
const REFRESH_MS = 10_000;
const SEARCH_DEBOUNCE_MS = 250;
/** api/src/uptime/schemas.ts TAG_PATTERN: a tag filter the API would refuse is not sent. */
const TAG_RE = /^[a-z0-9][a-z0-9_.:-]{0,39}$/;

interface ListState {
  rows: Target[];
  cursor: string | null;
  counts: TargetCounts | null;
  /** Which filters these rows belong to, so a late page of an old filter is dropped. */
  key: string;
}

export function TargetList({
  projectId,
  envs,
  canEdit,
  reloadKey,
}: {
  projectId: string;
  envs: Environment[];
  canEdit: boolean;
  reloadKey: number;
}) {
  const [filters, setFilters] = useState<TargetFilters>(() =>
    typeof window === 'undefined' ? NO_TARGET_FILTERS : targetFiltersFromSearch(window.location.search),
  );
  const [search, setSearch] = useState(filters.q);
  const [tagText, setTagText] = useState(filters.tag);
  const [list, setList] = useState<ListState>({ rows: [], cursor: null, counts: null, key: '' });
  const [loaded, setLoaded] = useState(false);
  const [loadError, setLoadError] = useState<unknown>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [viewHeight, setViewHeight] = useState(560);
  const [tick, setTick] = useState(0);
  const loadingMore = useRef(false);
  const box = useRef<HTMLTableElement>(null);
  const action = useAction();
  const base = `/projects/${encodeURIComponent(projectId)}`;
  const key = JSON.stringify(filters);

  const update = useCallback((next: TargetFilters) => {
    setFilters(next);
    writeTargetFilters(next);
  }, []);

  // The search box filters once typing pauses.
  useEffect(() => {
    if (search === filters.q) return;
    const id = setTimeout(() => update({ ...filters, q: search.trim() }), SEARCH_DEBOUNCE_MS);
    return () => clearTimeout(id);
  }, [search, filters, update]);
  useEffect(() => {
    const tag = tagText.trim().toLowerCase();
    if (tag === filters.tag || (tag && !TAG_RE.test(tag))) return;
    const id = setTimeout(() => update({ ...filters, tag }), SEARCH_DEBOUNCE_MS);
    return () => clearTimeout(id);
  }, [tagText, filters, update]);

  const pickTag = useCallback(
    (tag: string) => {
      const next = filters.tag === tag ? '' : tag;
      setTagText(next);
      update({ ...filters, tag: next });
    },
    [filters, update],
  );

  const query = useCallback(
    (cursor?: string) => ({
      status: filters.status || undefined,
      kind: filters.kind || undefined,
      env: filters.env || undefined,
      tag: filters.tag || undefined,
      q: filters.q || undefined,
      limit: PAGE_SIZE,
      cursor,
    }),
    [filters],
  );

  // First page whenever the filters change (the list jumps to the top), on reload, and on refresh.
  // biome-ignore lint/correctness/useExhaustiveDependencies: `key` stands for the filters; tick and reloadKey reload
  useEffect(() => {
    const ctl = new AbortController();
    api<TargetPage>(`${base}/targets`, { query: query(), signal: ctl.signal }).then(
      (page) => {
        setList((prev) => {
          // A refresh while more pages are loaded keeps them: replace only the first page's rows.
          if (prev.key === key && prev.rows.length > page.targets.length && tick > 0) {
            // A target deleted elsewhere pulls a later row into the first page: never list it twice.
            const ids = new Set(page.targets.map((t) => t.id));
            const rest = prev.rows.slice(page.targets.length).filter((t) => !ids.has(t.id));
            return { ...prev, rows: [...page.targets, ...rest], counts: page.counts };
          }
          return { rows: page.targets, cursor: page.nextCursor, counts: page.counts, key };
        });
        setLoaded(true);
        setLoadError(null);
      },
      (e: unknown) => {
        if (!ctl.signal.aborted) setLoadError(e);
      },
    );
    return () => ctl.abort();
  }, [key, base, reloadKey, tick]);

  // A new filter starts at the top.
  // biome-ignore lint/correctness/useExhaustiveDependencies: only when the filters change
  useEffect(() => {
    box.current?.scrollTo({ top: 0 });
    setScrollTop(0);
  }, [key]);

  // Refresh the first page while the list shows it.
  useEffect(() => {
    const id = setInterval(() => {
      if (
        document.visibilityState === 'visible' &&
        (box.current?.scrollTop ?? 0) < (PAGE_SIZE * ROW_HEIGHT) / 2
      )
        setTick((n) => n + 1);
    }, REFRESH_MS);
    return () => clearInterval(id);
  }, []);

  const loadMore = useCallback(async () => {
    if (loadingMore.current || !list.cursor || list.key !== key) return;
    loadingMore.current = true;
    try {
      const page = await api<TargetPage>(`${base}/targets`, { query: query(list.cursor) });
      setList((prev) =>
        prev.key === key && prev.cursor === list.cursor
          ? { ...prev, rows: [...prev.rows, ...page.targets], cursor: page.nextCursor, counts: page.counts }
          : prev,
      );
    } catch (e) {
      setLoadError(e);
    } finally {
      loadingMore.current = false;
    }
  }, [list.cursor, list.key, key, base, query]);

  useLayoutEffect(() => {
    const el = box.current;
    if (!el) return;
    const measure = () => setViewHeight(el.clientHeight || 560);
    measure();
    const ro = new ResizeObserver(measure);
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  // Near the end of what is loaded (or the loaded rows do not fill the view): the next page.
  useEffect(() => {
    const below = list.rows.length - Math.ceil((scrollTop + viewHeight) / ROW_HEIGHT);
    if (list.cursor && below < PREFETCH_ROWS) void loadMore();
  }, [scrollTop, viewHeight, list.rows.length, list.cursor, loadMore]);

  function onScroll(e: UIEvent<HTMLTableElement>) {
    setScrollTop(e.currentTarget.scrollTop);
  }

  async function setEnabled(t: Target, enabled: boolean) {
    await action.run(
      async () => {
        const { target } = await api<{ target: Target }>(`${base}/targets/${t.id}`, {
          method: 'PATCH',
          body: { enabled },
        });
        setList((prev) => ({ ...prev, rows: prev.rows.map((r) => (r.id === t.id ? target : r)) }));
        setTick((n) => n + 1);
      },
      { busy: false },
    );
  }

  async function remove(t: Target) {
    await action.run(
      async () => {
        await api(`${base}/targets/${t.id}`, { method: 'DELETE' });
        setList((prev) => ({ ...prev, rows: prev.rows.filter((r) => r.id !== t.id) }));
        setTick((n) => n + 1);
      },
      { busy: false },
    );
  }

  const rows = list.rows;
  const knownTags = useMemo(() => tagsOf(list.rows), [list.rows]);
  const first = Math.max(0, Math.floor(scrollTop / ROW_HEIGHT) - OVERSCAN);
  const last = Math.min(rows.length, Math.ceil((scrollTop + viewHeight) / ROW_HEIGHT) + OVERSCAN);
  const counts = list.counts;
  const now = Date.now();
  const total = rows.length + (list.cursor ? 1 : 0);

  return (
    <div className={styles.targets}>
      <div className={styles.filters}>
        <fieldset className={styles.chips} aria-label="Status">
          <legend className="visually-hidden">Status</legend>
          {(['', ...TARGET_STATUSES] as const).map((s) => (
            <button
              key={s || 'all'}
              type="button"
              className={`${styles.chip} ${s === 'down' && counts?.down ? styles.chipAlert : ''}`}
              aria-pressed={filters.status === s}
              data-status={s || 'all'}
              onClick={() => update({ ...filters, status: s })}
            >
              {s ? STATUS_LABEL[s] : 'All'}{' '}
              <span className={styles.count}>
                {counts ? (s ? counts[s] : counts.total).toLocaleString('en-US') : '…'}
              </span>
            </button>
          ))}
        </fieldset>
        <label className={styles.filterField}>
          <span className="visually-hidden">Kind</span>
          <select
            className="select"
            value={filters.kind}
            onChange={(e) => update({ ...filters, kind: e.target.value as TargetFilters['kind'] })}
          >
            <option value="">All kinds</option>
            {TARGET_KINDS.map((k) => (
              <option key={k} value={k}>
                {k.toUpperCase()}
              </option>
            ))}
          </select>
        </label>
        {envs.length > 1 ? (
          <label className={styles.filterField}>
            <span className="visually-hidden">Environment</span>
            <select
              className="select"
              value={filters.env}
              onChange={(e) => update({ ...filters, env: e.target.value })}
            >
              <option value="">All environments</option>
              {envs.map((e) => (
                <option key={e.id} value={e.slug}>
                  {e.name}
                </option>
              ))}
            </select>
          </label>
        ) : null}
        <label className={styles.filterField}>
          <span className="visually-hidden">Filter by tag</span>
          <input
            className="input"
            type="text"
            placeholder="Tag"
            value={tagText}
            maxLength={40}
            size={10}
            list="target-tag-suggestions"
            aria-invalid={tagText.trim() !== '' && !TAG_RE.test(tagText.trim().toLowerCase())}
            onChange={(e) => setTagText(e.target.value)}
          />
          <datalist id="target-tag-suggestions">
            {knownTags.map((tag) => (
              <option key={tag} value={tag} />
            ))}
          </datalist>
        </label>
        <label className={styles.filterField}>
          <span className="visually-hidden">Search targets by name</span>
          <input
            className="input"
            type="search"
            placeholder="Search by name"
            value={search}
            maxLength={100}
            onChange={(e) => setSearch(e.target.value)}
          />
        </label>
      </div>
      <ErrorAlert error={loadError} title="Could not load the targets." />
      <ErrorAlert error={action.error} />
      <table
        ref={box}
        className={styles.grid}
        aria-label="Uptime targets"
        aria-rowcount={counts ? (filters.status ? counts[filters.status] : counts.total) + 1 : undefined}
        onScroll={onScroll}
        style={{ height: HEAD_HEIGHT + Math.max(total, 2) * ROW_HEIGHT + 2 }}
        data-testid="target-list"
        data-loaded={rows.length}
      >
        <thead className={styles.head}>
          <tr className={styles.headRow} aria-rowindex={1}>
            {['Status', 'Name', 'Kind', 'Env', 'Checks', 'Latency', 'Since'].map((c) => (
              <th
                key={c}
                scope="col"
                className={`${styles.cell} ${c === 'Latency' || c === 'Since' ? styles.num : ''}`}
              >
                {c}
              </th>
            ))}
            <th scope="col">
              <span className="visually-hidden">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody className={styles.spacer} style={{ height: total * ROW_HEIGHT }}>
          {rows.slice(first, last).map((t, i) => (
            <TargetRow
              key={t.id}
              t={t}
              index={first + i}
              href={`${base}/uptime/targets/${t.id}`}
              now={now}
              canEdit={canEdit}
              activeTag={filters.tag}
              onTag={pickTag}
              onEnabled={setEnabled}
              onDelete={remove}
            />
          ))}
          {list.cursor && last >= rows.length ? (
            <tr className={`${styles.row} ${styles.more}`} style={{ top: rows.length * ROW_HEIGHT }}>
              <td className="muted">Loading more…</td>
            </tr>
          ) : null}
        </tbody>
      </table>
      {loaded && rows.length === 0 ? (
        <p className="empty">
          {key === JSON.stringify(NO_TARGET_FILTERS)
            ? 'No targets yet. Add one below, or apply a file with `peep targets apply`.'
            : 'No target matches these filters.'}
        </p>
      ) : null}
      {!loaded && !loadError ? (
        <p className="muted" role="status">
          Loading…
        </p>
      ) : null}
      <p className="hint" aria-live="polite">
        {counts
          ? `${rows.length.toLocaleString('en-US')} of ${(filters.status ? counts[filters.status] : counts.total).toLocaleString('en-US')} shown`
          : ''}
      </p>
    </div>
  );
}

function TargetRow({
  t,
  index,
  href,
  now,
  canEdit,
  activeTag,
  onTag,
  onEnabled,
  onDelete,
}: {
  t: Target;
  index: number;
  href: string;
  now: number;
  canEdit: boolean;
  activeTag: string;
  onTag: (tag: string) => void;
  onEnabled: (t: Target, enabled: boolean) => Promise<void>;
  onDelete: (t: Target) => Promise<void>;
}) {
  const latency =
    t.kind === 'heartbeat'
      ? t.lastBeatAt
        ? `beat ${fmtSince(t.lastBeatAt, now)} ago`
        : '—'
      : fmtDuration(t.lastDurationMs);
  return (
    <tr
      aria-rowindex={index + 2}
      className={styles.row}
      style={{ top: index * ROW_HEIGHT }}
      data-target={t.name}
      data-status={t.status}
    >
      <td className={styles.cell}>
        <span className={`${styles.dot} ${styles[`dot-${t.status}`]}`} aria-hidden="true" />
        <span className={styles.statusText}>{STATUS_LABEL[t.status]}</span>
      </td>
      <td className={`${styles.cell} ${styles.name}`}>
        <Link href={href}>{t.name}</Link>
      </td>
      <td className={styles.cell}>
        <span className="badge">{t.kind}</span>
      </td>
      <td className={`${styles.cell} mono`}>{t.env}</td>
      <td className={`${styles.cell} ${styles.what} mono`} title={targetWhat(t)}>
        <span className={styles.whatText}>{targetWhat(t)}</span>
        {t.tags.map((tag) => (
          <button
            key={tag}
            type="button"
            className={styles.tag}
            aria-pressed={tag === activeTag}
            title={tag === activeTag ? 'Show every tag' : `Only targets tagged ${tag}`}
            onClick={() => onTag(tag)}
          >
            {tag}
          </button>
        ))}
      </td>
      <td className={`${styles.cell} ${styles.num}`} title={t.lastMessage ?? undefined}>
        {t.lastOk === false && t.lastErrorClass ? (
          <span className={styles.err}>{t.lastStatusCode ?? t.lastErrorClass}</span>
        ) : (
          latency
        )}
      </td>
      <td className={`${styles.cell} ${styles.num}`} title={t.statusSince}>
        {fmtSince(t.statusSince, now)}
      </td>
      <td className={`${styles.cell} ${styles.actions}`}>
        {canEdit ? (
          <>
            <button type="button" className="btn btn-sm" onClick={() => onEnabled(t, !t.enabled)}>
              {t.enabled ? 'Pause' : 'Resume'}
            </button>
            <ConfirmButton label="Delete" onConfirm={() => onDelete(t)} />
          </>
        ) : null}
      </td>
    </tr>
  );
}

/** The tags seen on loaded rows (at most 100), for the tag filter's suggestions. */
function tagsOf(rows: Target[]): string[] {
  const seen = new Set<string>();
  for (const r of rows) {
    for (const tag of r.tags) seen.add(tag);
    if (seen.size >= 100) break;
  }
  return [...seen].sort();
}
