'use client';
/** The range's figures at a glance: requests, throughput, error rate and p50/p95/p99 latency. */
import { fmtCount, fmtMs, fmtPct, fmtRps, type Summary } from '@/lib/telemetry';
import styles from './runtime.module.css';

export function SummaryTiles({ summary }: { summary: Summary | null }) {
  const tiles: [string, string, string?][] = [
    ['Requests', fmtCount(summary?.count)],
    ['Throughput', fmtRps(summary?.rps)],
    [
      'Error rate',
      fmtPct(summary?.errorRate),
      summary?.errors ? `${fmtCount(summary.errors)} errors` : undefined,
    ],
    ['p50', fmtMs(summary?.p50)],
    ['p95', fmtMs(summary?.p95)],
    ['p99', fmtMs(summary?.p99)],
  ];
  return (
    <dl className={styles.tiles} aria-label="Summary for the range" aria-busy={summary === null}>
      {tiles.map(([label, value, note]) => (
        <div key={label} className={styles.tile} data-tile={label}>
          <dt>{label}</dt>
          <dd>
            <span className={styles.tileValue}>{summary ? value : '…'}</span>
            {note ? <span className={styles.tileNote}>{note}</span> : null}
          </dd>
        </div>
      ))}
    </dl>
  );
}
