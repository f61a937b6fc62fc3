/**
 * A DDSketch (Masson, Rim and Lee, "DDSketch: A Fast and Fully-Mergeable Quantile Sketch with
 * Relative-Error Guarantees", PVLDB 12(12), 2019) over latencies in milliseconds, with relative
 * accuracy 1%: every quantile it answers is within 1% of a value of the data at that rank.
 *
 * Buckets are logarithmic: bucket i holds values in (gamma^(i-1), gamma^i] and answers with
 * 2 gamma^i / (gamma + 1). Values are clamped to [MIN_VALUE, MAX_VALUE] ms, which bounds a sketch to
 * about 1,400 buckets, so no bucket ever needs collapsing. The dense array form `[firstIndex,
 * count, count, ...]` is what the rollup tables store (`bigint[]`) and what `peep_sketch_merge` in
 * SQL merges; two sketches merge by adding counts bucket by bucket, so a window's percentile comes
 * from merging its rollups, never from raw events.
 */
export const RELATIVE_ACCURACY = 0.01;
export const GAMMA = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY);
const LN_GAMMA = Math.log(GAMMA);
/** 1 microsecond. */
export const MIN_VALUE = 1e-3;
/** About 11.6 days. */
export const MAX_VALUE = 1e9;

export function bucketIndex(ms: number): number {
  const v = Math.min(MAX_VALUE, Math.max(MIN_VALUE, ms));
  return Math.ceil(Math.log(v) / LN_GAMMA);
}

export function bucketValue(index: number): number {
  return (2 * GAMMA ** index) / (GAMMA + 1);
}

export class Sketch {
  /** Index of counts[0]. */
  private offset = 0;
  private counts: number[] = [];
  count = 0;

  add(ms: number, n = 1): void {
    if (!(ms >= 0)) return; // NaN and negatives are not latencies
    this.addIndex(bucketIndex(ms), n);
  }

  /** Adds `n` to bucket `index` (from bucketIndex), when several sketches take the same value. */
  addIndex(index: number, n = 1): void {
    if (this.counts.length === 0) {
      this.offset = index;
      this.counts.push(n);
    } else if (index < this.offset) {
      const grow = this.offset - index;
      this.counts = new Array<number>(grow).fill(0).concat(this.counts);
      this.offset = index;
      this.counts[0] = n;
    } else {
      const at = index - this.offset;
      while (this.counts.length <= at) this.counts.push(0);
      this.counts[at] = (this.counts[at] ?? 0) + n;
    }
    this.count += n;
  }

  /** Adds a sketch in its stored form `[firstIndex, count...]`. */
  mergeArray(a: ArrayLike<number>): void {
    if (a.length < 2) return;
    const first = Number(a[0]);
    const n = a.length - 1;
    if (this.counts.length === 0) {
      this.offset = first;
      this.counts = new Array<number>(n);
      for (let i = 0; i < n; i++) {
        const c = Number(a[i + 1]);
        this.counts[i] = c;
        this.count += c;
      }
      return;
    }
    if (first < this.offset) {
      this.counts = new Array<number>(this.offset - first).fill(0).concat(this.counts);
      this.offset = first;
    }
    const base = first - this.offset;
    while (this.counts.length < base + n) this.counts.push(0);
    for (let i = 0; i < n; i++) {
      const c = Number(a[i + 1]);
      if (c === 0) continue;
      this.counts[base + i] = (this.counts[base + i] ?? 0) + c;
      this.count += c;
    }
  }

  merge(other: Sketch): void {
    if (other.counts.length === 0) return;
    const last = other.offset + other.counts.length - 1;
    // Grow once to cover the other's range, then add bucket by bucket.
    if (this.counts.length === 0) {
      this.offset = other.offset;
      this.counts = other.counts.slice();
      this.count = other.count;
      return;
    }
    if (other.offset < this.offset) {
      this.counts = new Array<number>(this.offset - other.offset).fill(0).concat(this.counts);
      this.offset = other.offset;
    }
    while (this.offset + this.counts.length - 1 < last) this.counts.push(0);
    const base = other.offset - this.offset;
    for (let i = 0; i < other.counts.length; i++)
      this.counts[base + i] = (this.counts[base + i] ?? 0) + (other.counts[i] ?? 0);
    this.count += other.count;
  }

  /**
   * The q-quantile (0 <= q <= 1) by nearest rank, as PostgreSQL's percentile_disc: the value of
   * the k-th smallest item, k = ceil(q n) (at least 1); null for an empty sketch.
   */
  quantile(q: number): number | null {
    if (this.count === 0) return null;
    const rank = Math.max(1, Math.ceil(Math.max(0, Math.min(1, q)) * this.count));
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i] ?? 0;
      if (seen >= rank) return bucketValue(this.offset + i);
    }
    return bucketValue(this.offset + this.counts.length - 1);
  }

  /** Stored form, leading and trailing empty buckets trimmed; `[]` when empty. */
  toArray(): number[] {
    let lo = 0;
    let hi = this.counts.length - 1;
    while (lo <= hi && this.counts[lo] === 0) lo++;
    while (hi >= lo && this.counts[hi] === 0) hi--;
    if (lo > hi) return [];
    return [this.offset + lo, ...this.counts.slice(lo, hi + 1)];
  }

  static fromArray(a: ArrayLike<number>): Sketch {
    const s = new Sketch();
    s.mergeArray(a);
    return s;
  }
}
