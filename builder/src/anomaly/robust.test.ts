/**
 * Median, scaled MAD and lower median by quickselect, checked against sorting on random arrays of
 * odd and even lengths, with ties, and across growing inputs (the scratch buffer is reused).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lowerMedian, MAD_SCALE, medianMad } from './robust.js';

function sortedMedian(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n % 2 ? (s[(n - 1) / 2] as number) : ((s[n / 2 - 1] as number) + (s[n / 2] as number)) / 2;
}

test('median and MAD match the sorted definitions on random inputs, and leave the input alone', () => {
  let seed = 1;
  const rand = () => {
    seed = (seed * 16807) % 2147483647;
    return seed / 2147483647;
  };
  for (const n of [1, 2, 3, 4, 5, 10, 11, 120, 121, 240, 600, 7]) {
    for (let k = 0; k < 20; k++) {
      const xs = Array.from({ length: n }, () => (k % 3 === 0 ? Math.round(rand() * 5) : rand() * 1000));
      const copy = [...xs];
      const { median, mad } = medianMad(xs);
      const m = sortedMedian(xs);
      assert.equal(median, m);
      assert.ok(Math.abs(mad - MAD_SCALE * sortedMedian(xs.map((x) => Math.abs(x - m)))) < 1e-9);
      assert.deepEqual(xs, copy);
      const lower = [...xs].sort((a, b) => a - b)[(n - 1) >> 1];
      assert.equal(lowerMedian(xs), lower);
    }
  }
});

test('edge cases: empty input is NaN, a constant input has MAD 0, two weeks give the smaller', () => {
  assert.ok(Number.isNaN(medianMad([]).median));
  assert.ok(Number.isNaN(lowerMedian([])));
  assert.deepEqual(medianMad([3, 3, 3, 3]), { median: 3, mad: 0 });
  assert.equal(lowerMedian([5.2, 4.1]), 4.1);
  assert.equal(lowerMedian([4.1, 9, 5.2]), 5.2);
});
