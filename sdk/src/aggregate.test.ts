/**
 * The aggregating mode's parts on their own: the sketch buckets are the server's to the bit, windows
 * are aligned and emitted whole, the number of cells is capped, and the sampler keeps its rates.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Sketch, bucketIndex as serverIndex } from '@peep/pkg/sketch';
import { bucketIndex, createAggregator, createSampler, MAX_CELLS } from './aggregate.js';

test('sketch buckets are the ones peep computes, from 1 µs to 11 days', () => {
  for (let v = 1e-4; v < 2e9; v *= 1.0007) assert.equal(bucketIndex(v), serverIndex(v), String(v));
  for (const v of [0, 0.001, 1, 10, 100, 1e9, 5e9]) assert.equal(bucketIndex(v), serverIndex(v));
});

test('windows are aligned to the interval, emitted whole, and their sketches merge like the server sketch', () => {
  let now = 1_700_000_003_000; // 3 s into a 5 s window
  const out: Record<string, unknown>[] = [];
  const agg = createAggregator({
    service: 's',
    intervalMs: 5_000,
    emit: (i) => out.push(i as never),
    now: () => now,
  });
  const expected = new Sketch();
  for (let i = 1; i <= 1000; i++) {
    const d = (i * 7.31) % 250;
    agg.record('/a', 'GET', i % 10 === 0 ? 503 : 200, d, 10, 20);
    if (i % 10 !== 0) expected.add(d);
  }
  assert.equal(agg.pending(), 1000);
  now += 4_000;
  agg.drain();
  agg.stop();
  assert.equal(agg.pending(), 0);
  assert.equal(out.length, 2);
  interface Item {
    time: number;
    count: number;
    sumMs: number;
    minMs: number;
    maxMs: number;
    bytesIn: number;
    bytesOut: number;
    sketch: number[];
  }
  const ok = out.find((o) => o.statusClass === 2) as unknown as Item;
  const err = out.find((o) => o.statusClass === 5) as unknown as Item;
  assert.equal(ok.time, 1_700_000_000_000);
  assert.equal(ok.count, 900);
  assert.equal(err.count, 100);
  assert.equal(ok.bytesIn, 9_000);
  assert.equal(ok.bytesOut, 18_000);
  assert.deepEqual(ok.sketch, expected.toArray());
  assert.ok(ok.minMs <= ok.maxMs && ok.sumMs >= ok.minMs * 900 && ok.sumMs <= ok.maxMs * 900);
});

test('past MAX_CELLS distinct routes the rest are counted as "(other)"', () => {
  const out: Record<string, unknown>[] = [];
  const agg = createAggregator({ service: 's', intervalMs: 60_000, emit: (i) => out.push(i as never) });
  for (let i = 0; i < MAX_CELLS + 500; i++) agg.record(`/r${i}`, 'GET', 200, 1, 0, 0);
  agg.drain();
  agg.stop();
  assert.equal(out.length, MAX_CELLS + 1);
  assert.equal(out.find((o) => o.route === '(other)')?.count, 500);
});

test('the sampler keeps each rate, and errors have their own budget', () => {
  const s = createSampler(10, 100);
  let ordinary = 0;
  let notable = 0;
  // 10 simulated seconds, 1,000 ordinary and 1,000 notable requests per second
  for (let ms = 0; ms < 10_000; ms += 0.5) {
    if (s.take(ms, false)) ordinary++;
    if (s.take(ms + 0.25, true)) notable++;
  }
  assert.ok(ordinary >= 100 && ordinary <= 111, String(ordinary));
  assert.ok(notable >= 1000 && notable <= 1101, String(notable));
  assert.equal(createSampler(0, 0).take(5, true), false);
});
