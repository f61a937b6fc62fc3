/**
 * The check schedule with real timers: checks spread over the interval, slots exactly one interval
 * apart (no drift), bounded concurrency with measured lag, skipped slots for shards not held, and a
 * restart that resumes at each target's next slot instead of a burst.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createWheel, nextSlot, phaseOf, type WheelItem } from './wheel.js';

const items = (n: number, intervalMs: number): WheelItem[] =>
  Array.from({ length: n }, (_, i) => ({ id: `target-${i}`, shard: i % 4, intervalMs }));

test('slots: phase + k·interval, the first one strictly after the given time', () => {
  assert.equal(nextSlot(1000, 100, 30), 1030);
  assert.equal(nextSlot(1030, 100, 30), 1130);
  assert.equal(nextSlot(1029, 100, 30), 1030);
  const p = phaseOf('abc', 10_000);
  assert.ok(p >= 0 && p < 10_000);
  assert.equal(phaseOf('abc', 10_000), p);
});

test('checks spread over the interval, run once per slot without drift, with small lag', async () => {
  const runs = new Map<string, number[]>();
  const starts: number[] = [];
  const w = createWheel<WheelItem>({
    concurrency: 50,
    holds: () => true,
    async run(item, dueAt) {
      starts.push(Date.now());
      const r = runs.get(item.id) ?? [];
      r.push(dueAt);
      runs.set(item.id, r);
      await sleep(5);
    },
  });
  w.set(items(400, 500));
  w.start();
  await sleep(1_600);
  await w.stop();
  assert.equal(runs.size, 400, 'every target ran');
  for (const [id, dues] of runs) {
    assert.ok(dues.length >= 2 && dues.length <= 4, `${id}: ${dues.length} runs`);
    for (let i = 1; i < dues.length; i++) assert.equal((dues[i] as number) - (dues[i - 1] as number), 500);
    assert.equal((dues[0] as number) % 500, phaseOf(id, 500) % 500);
  }
  // spread: no 50 ms slice of the first interval holds more than a quarter of the checks
  const first = Math.min(...starts);
  const slices = new Array(10).fill(0);
  for (const t of starts) if (t - first < 500) slices[Math.floor((t - first) / 50)]++;
  assert.ok(Math.max(...slices) < 100, `per 50 ms: ${slices}`);
  const lags = w.stats().lags.sort((a, b) => a - b);
  const p99 = lags[Math.floor(lags.length * 0.99)] as number;
  assert.ok(p99 < 100, `p99 lag ${p99} ms`);
});

test('concurrency is bounded; waiting checks start late (lag measured); a busy target skips its slot', async () => {
  let running = 0;
  let most = 0;
  const w = createWheel<WheelItem>({
    concurrency: 3,
    holds: () => true,
    async run(item) {
      running++;
      most = Math.max(most, running);
      await sleep(item.id === 'slow' ? 250 : 60);
      running--;
    },
  });
  w.set([...items(12, 200), { id: 'slow', shard: 0, intervalMs: 100 }]);
  w.start();
  await sleep(700);
  await w.stop();
  const s = w.stats();
  assert.equal(most, 3);
  assert.ok(s.started > 12);
  assert.ok(
    Math.max(...s.lags) >= 20,
    `a check that waited for a slot shows its lag: ${Math.max(...s.lags)}`,
  );
  assert.ok(s.skipped >= 2, 'the slow target skipped the slots that came while it ran');
});

test('targets of shards not held are skipped; a restart resumes at the next slots without a burst', async () => {
  const ran = new Set<string>();
  const make = (record: (id: string) => void) =>
    createWheel<WheelItem>({
      concurrency: 100,
      holds: (shard) => shard !== 3,
      async run(item) {
        record(item.id);
      },
    });
  const w = make((id) => ran.add(id));
  const all = items(200, 1_000);
  w.set(all);
  w.start();
  await sleep(1_100);
  await w.stop();
  assert.equal(ran.size, 150, 'the 50 targets of shard 3 never ran');
  assert.ok(w.stats().skipped >= 50);

  // restart: in the first 100 ms only about a tenth of the targets are due, not all of them
  const t0 = Date.now();
  const early: string[] = [];
  const again = make((id) => {
    if (Date.now() - t0 < 100) early.push(id);
  });
  again.set(all);
  again.start();
  await sleep(150);
  await again.stop();
  assert.ok(early.length < 40, `${early.length} checks in the first 100 ms after a restart`);
});
