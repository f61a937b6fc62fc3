/**
 * Check lag (start minus due time) over the last minute, for the scheduler's stats() and /metrics:
 * one sketch per second in a ring of 60, merged when read, so recording costs one sketch insert and
 * old seconds fall out by themselves. Percentiles carry the sketch's 1 % relative accuracy.
 */
import { Sketch } from '@peep/pkg/sketch';

export interface LagSummary {
  /** Checks started in the window. */
  count: number;
  p50Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
}

export interface LagWindow {
  add(lagMs: number): void;
  summary(): LagSummary;
}

const round1 = (v: number | null) => (v === null ? null : Math.round(v * 10) / 10);

export function createLagWindow(o: { now: () => number; seconds?: number }): LagWindow {
  const n = o.seconds ?? 60;
  const slots = Array.from({ length: n }, () => ({ second: -1, sketch: new Sketch(), max: 0 }));
  const slotOf = (second: number) => {
    const s = slots[second % n] as (typeof slots)[number];
    if (s.second !== second) {
      s.second = second;
      s.sketch = new Sketch();
      s.max = 0;
    }
    return s;
  };
  return {
    add(lagMs) {
      const lag = Math.max(0, lagMs);
      const s = slotOf(Math.floor(o.now() / 1000));
      s.sketch.add(lag);
      if (lag > s.max) s.max = lag;
    },
    summary() {
      const second = Math.floor(o.now() / 1000);
      const all = new Sketch();
      let max: number | null = null;
      for (const s of slots)
        if (s.second > second - n && s.second <= second && s.sketch.count > 0) {
          all.merge(s.sketch);
          max = Math.max(max ?? 0, s.max);
        }
      return {
        count: all.count,
        p50Ms: round1(all.quantile(0.5)),
        p99Ms: round1(all.quantile(0.99)),
        maxMs: round1(max),
      };
    },
  };
}
