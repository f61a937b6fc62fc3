'use client';
/**
 * The busiest, slowest or most failing routes of the range (`GET .../telemetry/routes`). Clicking a
 * route filters the charts, the tiles and the live stream to it; clicking it again clears that filter.
 */
import { DataTable } from '@/components/DataTable';
import { ErrorAlert } from '@/components/ErrorAlert';
import { Loaded } from '@/components/Loaded';
import { fmtCount, fmtMs, fmtPct, fmtRps, type RouteRow } from '@/lib/telemetry';
import styles from './runtime.module.css';

export type RouteSort = 'traffic' | 'p95' | 'errors';
const SORTS: { id: RouteSort; label: string }[] = [
  { id: 'traffic', label: 'Traffic' },
  { id: 'p95', label: 'p95' },
  { id: 'errors', label: 'Errors' },
];

interface Selected {
  service: string;
  route: string;
  method: string;
}

export function TopRoutes({
  rows,
  error,
  sort,
  onSort,
  selected,
  onSelect,
}: {
  rows: RouteRow[] | null;
  error: unknown;
  sort: RouteSort;
  onSort: (s: RouteSort) => void;
  selected: Selected | null;
  onSelect: (r: RouteRow | null) => void;
}) {
  const isSelected = (r: RouteRow) =>
    selected !== null &&
    r.service === selected.service &&
    r.route === selected.route &&
    r.method === selected.method;

  return (
    <>
      <div className={styles.sectionHead}>
        <h2 id="top-routes" className={styles.title}>
          Top routes
        </h2>
        {/* biome-ignore lint/a11y/useSemanticElements: a button group, not a form fieldset */}
        <div role="group" aria-label="Sort routes by" className={styles.segmented}>
          {SORTS.map((s) => (
            <button
              key={s.id}
              type="button"
              className="btn btn-sm"
              aria-pressed={sort === s.id}
              onClick={() => onSort(s.id)}
            >
              {s.label}
            </button>
          ))}
        </div>
      </div>
      <ErrorAlert error={error} title="Could not load the routes." />
      <Loaded items={rows} error={error} empty="No requests in this range.">
        {(rows) => (
          <DataTable
            caption="Top routes"
            columns={['Route', 'Service', 'Requests', 'Throughput', 'Error rate', 'p50', 'p95', 'p99']}
          >
            {rows.map((r) => (
              <tr
                key={`${r.service} ${r.method} ${r.route}`}
                className={isSelected(r) ? styles.selectedRow : undefined}
                data-route={r.route}
              >
                <td>
                  <button
                    type="button"
                    className={styles.linkButton}
                    aria-pressed={isSelected(r)}
                    title={isSelected(r) ? 'Show all routes again' : 'Filter the charts to this route'}
                    onClick={() => onSelect(isSelected(r) ? null : r)}
                  >
                    <span className={styles.method}>{r.method}</span> <span className="mono">{r.route}</span>
                  </button>
                </td>
                <td>{r.service}</td>
                <td className={styles.num}>{fmtCount(r.count)}</td>
                <td className={styles.num}>{fmtRps(r.rps)}</td>
                <td className={`${styles.num} ${r.errors > 0 ? styles.bad : ''}`}>{fmtPct(r.errorRate)}</td>
                <td className={styles.num}>{fmtMs(r.p50)}</td>
                <td className={styles.num}>{fmtMs(r.p95)}</td>
                <td className={styles.num}>{fmtMs(r.p99)}</td>
              </tr>
            ))}
          </DataTable>
        )}
      </Loaded>
    </>
  );
}
