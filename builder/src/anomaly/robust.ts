/**
 * Robust location and spread for the anomaly detector: median and MAD (median absolute deviation,
 * scaled by 1.4826 so it estimates the standard deviation of normal data) by quickselect over a
 * reused scratch buffer, so one evaluation over a 240-point window costs a few microseconds and
 * allocates nothing. The "lower median" (the element at index ⌊(n−1)/2⌋ of the sorted values) is what
 * the seasonal baseline uses over a handful of weekly medians: with two weeks it is the smaller one, so
 * one bad week cannot teach the detector that an incident is normal.
 */

export const MAD_SCALE = 1.4826;

let scratch = new Float64Array(256);

function buffer(n: number): Float64Array {
  if (scratch.length < n) scratch = new Float64Array(Math.max(n, scratch.length * 2));
  return scratch;
}

/** The k-th smallest (0-based) of a[0..n), reordering a's first n elements (Hoare's selection). */
function select(a: Float64Array, n: number, k: number): number {
  let lo = 0;
  let hi = n - 1;
  while (hi > lo) {
    const pivot = a[(lo + hi) >> 1] as number;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while ((a[i] as number) < pivot) i++;
      while ((a[j] as number) > pivot) j--;
      if (i <= j) {
        const t = a[i] as number;
        a[i] = a[j] as number;
        a[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return a[k] as number;
  }
  return a[k] as number;
}

function medianOf(a: Float64Array, n: number): number {
  const hi = select(a, n, n >> 1);
  if (n % 2 === 1) return hi;
  // The largest of the lower half: after select, a[0..n/2) holds the n/2 smallest values.
  let lo = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < n >> 1; i++) if ((a[i] as number) > lo) lo = a[i] as number;
  return (lo + hi) / 2;
}

/** Median and scaled MAD of `values` (not modified). Empty input gives NaN for both. */
export function medianMad(values: readonly number[]): { median: number; mad: number } {
  const n = values.length;
  if (n === 0) return { median: Number.NaN, mad: Number.NaN };
  const a = buffer(n);
  for (let i = 0; i < n; i++) a[i] = values[i] as number;
  const median = medianOf(a, n);
  for (let i = 0; i < n; i++) a[i] = Math.abs((values[i] as number) - median);
  return { median, mad: MAD_SCALE * medianOf(a, n) };
}

/** The element at index ⌊(n−1)/2⌋ of the sorted values: the median for odd n, the lower middle else. */
export function lowerMedian(values: readonly number[]): number {
  const n = values.length;
  if (n === 0) return Number.NaN;
  const a = buffer(n);
  for (let i = 0; i < n; i++) a[i] = values[i] as number;
  return select(a, n, (n - 1) >> 1);
}
