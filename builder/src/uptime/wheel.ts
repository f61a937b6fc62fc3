/**
 * When each target is checked. A target with interval I is due at `phase + k·I` (wall clock), its
 * phase a hash of its id, so checks spread evenly over the interval, never drift (the next slot
 * follows from the last one, not from when the check finished), and a restart resumes at once at
 * each target's next slot without a burst. At most `concurrency` checks run at a time; a due check
 * waits for a free slot (its lag, start minus due time, is measured). A check still running when its
 * next slot comes skips that slot rather than piling up; so does a target whose shard this worker no
 * longer holds.
 */

export interface WheelItem {
  id: string;
  shard: number;
  intervalMs: number;
}

export interface WheelOptions<T extends WheelItem> {
  /** Epoch ms. */
  now?: () => number;
  concurrency: number;
  holds(shard: number): boolean;
  run(item: T, dueAt: number): Promise<void>;
  onError?(err: unknown, item: T): void;
  /** Each check's start, with its lag (start minus due time, ms). */
  onStart?(item: T, lagMs: number): void;
}

export interface WheelStats {
  started: number;
  /** Slots skipped: the previous check still running, or the worker fell a whole interval behind. */
  skipped: number;
  running: number;
  waiting: number;
  /** Start minus due time of recent checks, ms (at most the last 10,000). */
  lags: number[];
}

export interface Wheel<T extends WheelItem> {
  /** Replaces the checked set; targets kept keep their slots, new ones start at their next slot. */
  set(items: T[]): void;
  start(): void;
  stop(): Promise<void>;
  stats(): WheelStats;
}

/** FNV-1a of the id: a stable phase in [0, interval). */
export function phaseOf(id: string, intervalMs: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    h ^= id.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % intervalMs;
}

/** The first slot `phase + k·interval` strictly after `t`. */
export function nextSlot(t: number, intervalMs: number, phase: number): number {
  return phase + (Math.floor((t - phase) / intervalMs) + 1) * intervalMs;
}

interface Entry<T> {
  item: T;
  due: number;
  running: boolean;
  removed: boolean;
}

/** A binary min-heap of entries by due time. */
function heap<T>() {
  const a: Entry<T>[] = [];
  const up = (i: number) => {
    while (i > 0) {
      const p = (i - 1) >> 1;
      if ((a[p] as Entry<T>).due <= (a[i] as Entry<T>).due) break;
      [a[p], a[i]] = [a[i] as Entry<T>, a[p] as Entry<T>];
      i = p;
    }
  };
  const down = (i: number) => {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < a.length && (a[l] as Entry<T>).due < (a[m] as Entry<T>).due) m = l;
      if (r < a.length && (a[r] as Entry<T>).due < (a[m] as Entry<T>).due) m = r;
      if (m === i) return;
      [a[m], a[i]] = [a[i] as Entry<T>, a[m] as Entry<T>];
      i = m;
    }
  };
  return {
    push(e: Entry<T>) {
      a.push(e);
      up(a.length - 1);
    },
    peek: (): Entry<T> | undefined => a[0],
    pop(): Entry<T> | undefined {
      const top = a[0];
      const last = a.pop();
      if (a.length > 0 && last) {
        a[0] = last;
        down(0);
      }
      return top;
    },
    clear() {
      a.length = 0;
    },
  };
}

const MAX_LAGS = 10_000;

export function createWheel<T extends WheelItem>(o: WheelOptions<T>): Wheel<T> {
  const now = o.now ?? Date.now;
  const due = heap<T>();
  const entries = new Map<string, Entry<T>>();
  const waiting: { e: Entry<T>; slot: number }[] = [];
  const s = { started: 0, skipped: 0, running: 0 };
  const lags: number[] = [];
  let timer: NodeJS.Timeout | undefined;
  let on = false;
  let idle: (() => void) | undefined;

  function schedule(e: Entry<T>, after: number) {
    const phase = phaseOf(e.item.id, e.item.intervalMs);
    e.due = nextSlot(after, e.item.intervalMs, phase);
    due.push(e);
  }

  function launch(e: Entry<T>, slot: number) {
    const lag = now() - slot;
    if (lags.length >= MAX_LAGS) lags.splice(0, MAX_LAGS / 2);
    lags.push(lag);
    o.onStart?.(e.item, lag);
    e.running = true;
    s.running++;
    s.started++;
    o.run(e.item, slot)
      .catch((err) => o.onError?.(err, e.item))
      .finally(() => {
        e.running = false;
        s.running--;
        while (on && waiting.length > 0) {
          const next = waiting.shift() as { e: Entry<T>; slot: number };
          if (!next.e.removed) {
            launch(next.e, next.slot);
            break;
          }
          next.e.running = false;
        }
        if (s.running === 0) idle?.();
      });
  }

  function fire() {
    timer = undefined;
    if (!on) return;
    const t = now();
    for (let e = due.peek(); e && e.due <= t; e = due.peek()) {
      due.pop();
      if (e.removed) continue;
      const slot = e.due;
      // the next slot follows this one; a worker a whole interval behind skips to the next one ahead
      const after = slot + e.item.intervalMs <= t ? t : slot;
      if (e.running || !o.holds(e.item.shard)) s.skipped++;
      else if (s.running < o.concurrency) launch(e, slot);
      else {
        e.running = true; // waiting counts as busy: its next slot is skipped if it still waits
        waiting.push({ e, slot });
      }
      if (after !== slot) s.skipped++;
      schedule(e, after);
    }
    arm();
  }

  function arm() {
    if (!on || timer) return;
    const next = due.peek();
    if (!next) return;
    timer = setTimeout(fire, Math.max(0, Math.min(1_000, next.due - now())));
  }

  return {
    set(items) {
      const keep = new Set<string>();
      for (const item of items) {
        keep.add(item.id);
        const e = entries.get(item.id);
        if (e && e.item.intervalMs === item.intervalMs) {
          e.item = item;
          continue;
        }
        if (e) e.removed = true;
        const fresh: Entry<T> = { item, due: 0, running: false, removed: false };
        entries.set(item.id, fresh);
        schedule(fresh, now());
      }
      for (const [id, e] of entries)
        if (!keep.has(id)) {
          e.removed = true;
          entries.delete(id);
        }
      if (timer) {
        clearTimeout(timer);
        timer = undefined;
      }
      arm();
    },
    start() {
      on = true;
      arm();
    },
    async stop() {
      on = false;
      if (timer) clearTimeout(timer);
      timer = undefined;
      waiting.length = 0;
      due.clear();
      entries.clear();
      if (s.running > 0) await new Promise<void>((r) => (idle = r));
    },
    stats: () => ({ ...s, waiting: waiting.length, lags: lags.slice() }),
  };
}
