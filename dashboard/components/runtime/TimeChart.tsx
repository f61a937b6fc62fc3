'use client';
/**
 * One time-series chart drawn by uPlot on a canvas, so 10,000 points per series stay smooth. The API's
 * columnar arrays go in as they are; a null is a gap (an empty step has no percentile). The legend shows
 * the value under the cursor, and the whole range's figure when the cursor is away. Charts sharing a
 * `syncKey` move their cursors together. The time of the last data-to-pixels render, and the slowest
 * at the current number of points, are kept on the element (`data-render-ms`, `data-render-max-ms`)
 * for the browser tests.
 */
import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import styles from './runtime.module.css';

export interface ChartSeries {
  label: string;
  values: (number | null)[];
  /** A CSS custom property (`--chart-p95`) resolved on the chart's element, so dark mode follows. */
  color: string;
  /** The range's figure shown in the legend while the cursor is not on the chart. */
  total: string;
}

const clock = new Intl.DateTimeFormat(undefined, {
  month: 'short',
  day: 'numeric',
  hour: '2-digit',
  minute: '2-digit',
});

export function TimeChart({
  title,
  t,
  series,
  format,
  syncKey,
  height = 180,
  dots = false,
}: {
  title: string;
  t: number[];
  series: ChartSeries[];
  format: (v: number) => string;
  syncKey: string;
  height?: number;
  /** Mark each value with a dot (sparse series, where isolated values would not show as lines). */
  dots?: boolean;
}) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const started = useRef(0);
  // Read by uPlot's callbacks, which are created once per chart.
  const latest = useRef({ series, format });
  latest.current = { series, format };

  const shape = series.map((s) => `${s.label}:${s.color}`).join('|');

  // biome-ignore lint/correctness/useExhaustiveDependencies: the chart is rebuilt only when its series change shape; data goes through setData below
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const css = getComputedStyle(el);
    const v = (name: string) => css.getPropertyValue(name).trim() || '#888';
    const axis = {
      stroke: v('--fg-muted'),
      grid: { stroke: v('--border'), width: 1 },
      ticks: { stroke: v('--border'), width: 1 },
    };
    const opts: uPlot.Options = {
      width: Math.max(el.clientWidth, 200),
      height,
      cursor: { sync: { key: syncKey }, drag: { x: false, y: false } },
      scales: { x: { time: true } },
      series: [
        {
          label: 'Time',
          value: (_u, ts, _si, idx) => (idx == null ? 'whole range' : clock.format(new Date(ts * 1000))),
        },
        ...latest.current.series.map((s, i) => ({
          label: s.label,
          stroke: v(s.color),
          width: 1.5,
          spanGaps: false,
          points: { show: dots, size: 5 },
          value: (_u: uPlot, y: number | null, _si: number, idx: number | null) =>
            idx == null
              ? (latest.current.series[i]?.total ?? '—')
              : y == null
                ? 'no data'
                : latest.current.format(y),
        })),
      ],
      axes: [
        { ...axis },
        { ...axis, size: 64, values: (_u, ticks) => ticks.map((x) => latest.current.format(x)) },
      ],
      hooks: {
        draw: [
          (u) => {
            if (!started.current) return;
            const ms = performance.now() - started.current;
            started.current = 0;
            const el = u.root.parentElement;
            if (!el) return;
            const points = String(u.data[0].length);
            // The slowest render at this many points: the first one (cold) counts, later ones can't hide it.
            const max = el.dataset.points === points ? Number(el.dataset.renderMaxMs ?? 0) : 0;
            el.dataset.renderMs = ms.toFixed(1);
            el.dataset.renderMaxMs = Math.max(ms, max).toFixed(1);
            el.dataset.points = points;
          },
        ],
      },
    };
    started.current = performance.now();
    const u = new uPlot(opts, data(t, latest.current.series), el);
    plot.current = u;
    const resize = new ResizeObserver(() => {
      const w = Math.max(el.clientWidth, 200);
      if (w !== u.width) u.setSize({ width: w, height });
    });
    resize.observe(el);
    return () => {
      resize.disconnect();
      u.destroy();
      plot.current = null;
    };
  }, [shape, height, syncKey, dots]);

  useEffect(() => {
    const u = plot.current;
    if (!u) return;
    started.current = performance.now();
    u.setData(data(t, series));
    u.setLegend({});
  }, [t, series]);

  return (
    <figure className={styles.chart} aria-label={title}>
      <figcaption className={styles.chartTitle}>{title}</figcaption>
      <div ref={box} className={styles.chartBox} data-chart={title} />
    </figure>
  );
}

function data(t: number[], series: ChartSeries[]): uPlot.AlignedData {
  return [t, ...series.map((s) => s.values)] as uPlot.AlignedData;
}
