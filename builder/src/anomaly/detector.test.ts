/**
 * The anomaly detector on generated per-minute series (seeded, so every run sees the same data):
 * learning, hysteresis, noise that must stay quiet, flat series, low-count error minutes, gaps,
 * level-shift acceptance, the hour-of-week baseline, JSON round-trips and the state size bound.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  createDetector,
  type DetectorConfig,
  type DetectorState,
  type Point,
  type Verdict,
} from './index.js';

const MIN = 60_000;
const T0 = Date.UTC(2026, 0, 5); // a Monday, 00:00 UTC

/** mulberry32: a seeded uniform in [0, 1). */
function uniforms(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Box-Muller over mulberry32: a seeded standard normal. */
function normals(seed: number): () => number {
  const u = uniforms(seed);
  return () => Math.sqrt(-2 * Math.log(u() || 1e-12)) * Math.cos(2 * Math.PI * u());
}

/** Log-normal latency around `base` ms, one point a minute from T0; `shape(i)` multiplies minute i. */
function latency(
  n: number,
  base: number,
  sigma: number,
  seed: number,
  shape: (i: number) => number = () => 1,
) {
  const z = normals(seed);
  return Array.from(
    { length: n },
    (_, i): Point => ({
      t: T0 + i * MIN,
      value: base * shape(i) * Math.exp(sigma * z()),
    }),
  );
}

function run(config: DetectorConfig, points: Point[], state?: DetectorState) {
  const det = createDetector(config);
  let s = state;
  const verdicts: Verdict[] = [];
  for (const p of points) {
    const e = det.evaluate(s, p);
    s = e.state;
    verdicts.push(e.verdict);
  }
  return { verdicts, state: s as DetectorState };
}

const opened = (vs: Verdict[]) => vs.flatMap((v, i) => (v.changed === 'opened' ? [i] : []));
const closed = (vs: Verdict[]) => vs.flatMap((v, i) => (v.changed === 'closed' ? [i] : []));

test('learning: no verdict before minSamples points, then verdicts with an expectation', () => {
  const { verdicts } = run({ metric: 'latency', minSamples: 30 }, latency(40, 100, 0.1, 1));
  for (const v of verdicts.slice(0, 30)) {
    assert.equal(v.status, 'learning');
    assert.equal(v.score, null);
    assert.equal(v.open, false);
  }
  assert.match(verdicts[0]?.reason ?? '', /learning \(1\/30 points\)/);
  const v = verdicts[30] as Verdict;
  assert.equal(v.status, 'normal');
  assert.equal(v.baseline, 'trailing');
  assert.ok(v.expected !== null && v.expected > 85 && v.expected < 115, `expected ${v.expected}`);
  // A huge value during learning is learned, not flagged.
  const spiky = latency(30, 100, 0.1, 2, (i) => (i >= 10 && i < 20 ? 20 : 1));
  assert.ok(run({ metric: 'latency' }, spiky).verdicts.every((x) => x.status === 'learning' && !x.open));
});

test('a spike opens on the openAfter-th anomalous point and closes after closeAfter normal ones', () => {
  const points = latency(200, 100, 0.1, 3, (i) => (i >= 150 && i < 160 ? 8 : 1));
  const { verdicts } = run({ metric: 'latency', openAfter: 3, closeAfter: 5 }, points);
  assert.deepEqual(opened(verdicts), [152]);
  assert.deepEqual(closed(verdicts), [164]);
  assert.equal(verdicts[150]?.status, 'anomalous');
  assert.equal(verdicts[150]?.open, false);
  assert.equal(verdicts[151]?.open, false);
  assert.equal(verdicts[152]?.open, true);
  for (let i = 160; i < 164; i++) {
    assert.equal(verdicts[i]?.status, 'normal');
    assert.equal(verdicts[i]?.open, true, `still open at ${i}`);
  }
  assert.equal(verdicts[164]?.open, false);
  const at = verdicts[152] as Verdict;
  assert.ok(at.score !== null && at.score > at.threshold);
  assert.match(at.reason, /^latency \d+ ms vs usual \d+ ms \(±\d+(\.\d)? ms\)$/);
  assert.match(verdicts[164]?.reason ?? '', /^back to usual: /);
  // Other hysteresis settings move the transitions accordingly.
  const other = run({ metric: 'latency', openAfter: 5, closeAfter: 2 }, points).verdicts;
  assert.deepEqual(opened(other), [154]);
  assert.deepEqual(closed(other), [161]);
});

test('a spike shorter than openAfter never opens, and its points join the window as noise', () => {
  const points = latency(120, 100, 0.1, 4, (i) => (i >= 100 && i < 102 ? 10 : 1));
  const { verdicts, state } = run({ metric: 'latency', window: 60 }, points);
  assert.equal(verdicts[100]?.status, 'anomalous');
  assert.equal(verdicts[101]?.status, 'anomalous');
  assert.deepEqual(opened(verdicts), []);
  assert.equal(state.held.length, 0);
  assert.equal(state.ring.length, 60);
  assert.equal(
    state.ring.filter((y) => y > Math.log1p(500)).length,
    2,
    'the two spike points are in the window',
  );
});

test('heavy-tailed noise without an incident opens nothing (two weeks of log-normal with outliers)', () => {
  for (const [sigma, seed] of [
    [0.3, 5],
    [0.5, 6],
  ] as const) {
    // Log-normal noise, one minute in 200 an outlier 4–20× (a GC pause, a retry), and with sigma 0.3
    // a noisy-but-normal day (the noise twice as wide for 3 hours).
    const z = normals(seed + 100);
    const u = uniforms(seed + 200);
    const noisy = (i: number) =>
      sigma === 0.3 && i >= 3 * 1440 && i < 3 * 1440 + 180 ? Math.exp(sigma * z()) : 1;
    const points = latency(14 * 1440, 80, sigma, seed, (i) => (u() < 0.005 ? 4 + 16 * u() : noisy(i)));
    const { verdicts } = run({ metric: 'latency' }, points);
    assert.deepEqual(opened(verdicts), [], `sigma ${sigma}`);
    // Single points above the threshold happen (so the test could fail), but never three in a row.
    assert.ok(
      verdicts.some((v) => v.status === 'anomalous'),
      `sigma ${sigma} has single anomalous points`,
    );
  }
});

test('a flat series (MAD = 0) does not turn tiny changes into anomalies, but a real jump still counts', () => {
  const flat: Point[] = Array.from({ length: 100 }, (_, i) => ({ t: T0 + i * MIN, value: 100 }));
  const tail = [101, 103, 105, 120, 125, 125, 125, 125, 125].map((value, i) => ({
    t: T0 + (100 + i) * MIN,
    value,
  }));
  const { verdicts, state } = run({ metric: 'latency' }, [...flat, ...tail]);
  const after = verdicts.slice(100);
  for (const v of after) {
    assert.equal(v.status, 'normal', v.reason);
    assert.ok(v.score !== null && Number.isFinite(v.score) && v.score < 6, `score ${v.score}`);
  }
  // 25 % above a flat 100 ms is over 4 robust units (floor 0.05 in log space) but under the 30 % floor.
  assert.ok((after[4]?.score ?? 0) > 4);
  const jump = [400, 410, 420].map((value, i) => ({ t: T0 + (200 + i) * MIN, value }));
  const j = run({ metric: 'latency' }, jump, state).verdicts;
  assert.deepEqual(
    j.map((v) => v.status),
    ['anomalous', 'anomalous', 'anomalous'],
  );
  assert.equal(j[2]?.changed, 'opened');
  assert.ok(j.every((v) => v.score !== null && Number.isFinite(v.score)));
  // A 5 ms service going to 9 ms is 80 % slower but under the 10 ms absolute floor.
  const fast: Point[] = Array.from({ length: 60 }, (_, i) => ({ t: T0 + i * MIN, value: i < 50 ? 5 : 9 }));
  assert.ok(run({ metric: 'latency' }, fast).verdicts.every((v) => v.status !== 'anomalous'));
});

test('error rate: minutes with too few requests are skipped, busy minutes with errors open', () => {
  const z = normals(7);
  const points: Point[] = [];
  for (let i = 0; i < 200; i++) {
    const count = 400 + Math.round(20 * z());
    const errors = Math.max(0, Math.round(4 + 2 * z()));
    points.push({ t: T0 + i * MIN, value: errors / count, count });
  }
  // Low-traffic minutes where every request failed: skipped, not anomalous.
  for (let i = 200; i < 210; i++) points.push({ t: T0 + i * MIN, value: i % 2 ? 1 : 0.5, count: 3 });
  // A real burst: 30 % of 400 requests.
  for (let i = 210; i < 215; i++) points.push({ t: T0 + i * MIN, value: 0.3, count: 400 });
  const { verdicts } = run({ metric: 'error_rate', minCount: 20 }, points);
  for (const v of verdicts.slice(200, 210)) {
    assert.equal(v.status, 'skipped');
    assert.match(v.reason, /only 3 requests \(fewer than 20\)/);
    assert.equal(v.open, false);
  }
  assert.deepEqual(opened(verdicts), [212]);
  assert.match(verdicts[212]?.reason ?? '', /^error rate 30\.0% of 400 requests vs usual \d\.\d+% /);
  // 1 % → 2.5 %: 2.5× but only +1.5 percentage points, under the 2 pp floor.
  const small = points
    .slice(0, 200)
    .concat(Array.from({ length: 10 }, (_, i) => ({ t: T0 + (200 + i) * MIN, value: 0.025, count: 400 })));
  assert.deepEqual(opened(run({ metric: 'error_rate' }, small).verdicts), []);
});

test('state survives a JSON round-trip at every point with identical verdicts', () => {
  const points = latency(3000, 60, 0.2, 8, (i) => (i % 700 >= 650 && i % 700 < 670 ? 6 : 1));
  const config: DetectorConfig = { metric: 'latency', sensitivity: 'high', window: 60 };
  const straight = run(config, points).verdicts;
  const det = createDetector(config);
  let json: string | undefined;
  const viaJson: Verdict[] = [];
  for (const p of points) {
    const e = det.evaluate(json === undefined ? undefined : (JSON.parse(json) as DetectorState), p);
    json = JSON.stringify(e.state);
    viaJson.push(e.verdict);
  }
  assert.deepEqual(viaJson, straight);
  assert.ok(opened(straight).length >= 3, 'the series has anomalies to compare');
});

test('evaluate does not modify the state it is given; late or duplicate points are skipped', () => {
  const det = createDetector({ metric: 'latency' });
  const { state } = run({ metric: 'latency' }, latency(50, 100, 0.1, 9));
  const before = JSON.stringify(state);
  det.evaluate(state, { t: T0 + 50 * MIN, value: 900 });
  assert.equal(JSON.stringify(state), before);
  const dup = det.evaluate(state, { t: T0 + 49 * MIN, value: 900 });
  assert.equal(dup.verdict.status, 'skipped');
  assert.equal(dup.state, state);
  assert.equal(det.evaluate(state, { t: T0 + 51 * MIN, value: Number.NaN }).verdict.status, 'skipped');
  assert.equal(det.evaluate(state, { t: T0 + 51 * MIN, value: -1 }).verdict.status, 'skipped');
});

test('a long incident stays open against the old baseline, then is accepted as the new normal', () => {
  const shiftAt = 300;
  const points = latency(shiftAt + 400, 100, 0.1, 10, (i) => (i >= shiftAt ? 3 : 1));
  const { verdicts, state } = run({ metric: 'latency', adaptAfterMinutes: 240 }, points);
  const openAt = shiftAt + 2;
  assert.deepEqual(opened(verdicts), [openAt]);
  for (let i = openAt; i < openAt + 240; i++) {
    const v = verdicts[i] as Verdict;
    assert.equal(v.open, true, `open at ${i}`);
    assert.ok(v.expected !== null && v.expected < 120, `baseline still the old level at ${i}: ${v.expected}`);
  }
  assert.deepEqual(closed(verdicts), [openAt + 240]);
  assert.match(verdicts[openAt + 240]?.reason ?? '', /^accepted as the new normal after 4 h: latency /);
  for (const v of verdicts.slice(openAt + 241)) assert.equal(v.open, false);
  const last = verdicts.at(-1) as Verdict;
  assert.ok(last.expected !== null && last.expected > 250, `new normal ${last.expected}`);
  assert.equal(state.held.length, 0);
});

test('gaps: a short gap breaks the consecutive count, a day-long gap restarts learning and closes', () => {
  const base = latency(100, 100, 0.1, 11);
  const at = (minute: number, value: number): Point => ({ t: T0 + minute * MIN, value });
  // Two anomalous points, 10 minutes without data, two more: never three in a row.
  const broken = run({ metric: 'latency' }, [
    ...base,
    at(100, 900),
    at(101, 900),
    at(112, 900),
    at(113, 900),
  ]);
  assert.deepEqual(opened(broken.verdicts), []);
  assert.equal(broken.verdicts[103]?.status, 'anomalous');
  // With a one-minute gap (under breakAfterMinutes 5) the run continues.
  const kept = run({ metric: 'latency' }, [...base, at(100, 900), at(101, 900), at(103, 900)]);
  assert.deepEqual(opened(kept.verdicts), [102]);
  // An open anomaly, then 25 hours without data: closed, and learning again.
  const after = run(
    { metric: 'latency' },
    [at(103 + 25 * 60, 900), at(104 + 25 * 60, 100)],
    kept.state,
  ).verdicts;
  assert.equal(after[0]?.changed, 'closed');
  assert.equal(after[0]?.status, 'learning');
  assert.match(after[0]?.reason ?? '', /^no data for 25 h, baseline reset; learning \(1\/30 points\)/);
  assert.equal(after[1]?.open, false);
});

test('hour-of-week baseline: a nightly 2× job is learned, the same rise at another hour is flagged', () => {
  // Four weeks; every night 02:00–03:00 latency doubles. In week four, one 2× hour at 14:00 on Thursday.
  // And on Tuesday of week 4, 3× from 03:20 to 03:50, right after the job (the trailing window then
  // holds an hour of the job: judged with the weekly pattern taken out, it still sees this).
  const odd = 3 * 7 * 24 + 3 * 24 + 14; // hour index of week 4, Thursday 14:00
  const after = (3 * 7 + 1) * 1440 + 3 * 60 + 20; // minute index of week 4, Tuesday 03:20
  const hourOf = (i: number) => Math.floor(i / 60);
  const shape = (i: number) => {
    const h = hourOf(i);
    if (i >= after && i < after + 30) return 3;
    return h % 24 === 2 || h === odd ? 2 : 1;
  };
  const points = latency(28 * 1440, 120, 0.1, 12, shape);
  const on = run({ metric: 'latency' }, points).verdicts;
  const week = (w: number) => opened(on).filter((i) => i >= w * 7 * 1440 && i < (w + 1) * 7 * 1440);
  // Before the baseline has two weeks of a slot, the job is flagged (so the test can tell the difference).
  assert.ok(week(0).length >= 5, `week 1 flags the job most nights: ${week(0).length}`);
  assert.ok(
    week(0).every((i) => hourOf(i) % 24 === 2),
    'only at the job hour',
  );
  // Weeks 3 and 4: the job is usual; only the odd hour opens, within three minutes.
  const late = opened(on).filter((i) => i >= 14 * 1440);
  assert.deepEqual(late, [after + 2, odd * 60 + 2]);
  const v = on[odd * 60 + 2] as Verdict;
  assert.match(v.reason, /at this hour of the week/);
  assert.equal(on[after + 2]?.baseline, 'trailing-seasonal');
  const job = on[(3 * 7 * 24 + 2) * 60 + 30] as Verdict; // week 4, Monday 02:30
  assert.equal(job.status, 'normal');
  assert.ok(job.expected !== null && job.expected > 200, `expects the job: ${job.expected}`);
  // Without the seasonal baseline the job keeps being flagged in week 4.
  const off = run({ metric: 'latency', seasonal: false }, points).verdicts;
  assert.ok(opened(off).filter((i) => i >= 21 * 1440 && hourOf(i) % 24 === 2).length >= 5);
});

test('the state stays within its documented bound after 100,000 points', () => {
  const points = latency(100_000, 200, 0.3, 13, (i) => (i % 5000 >= 4000 && i % 5000 < 4300 ? 4 : 1));
  const { state, verdicts } = run({ metric: 'latency' }, points);
  assert.ok(opened(verdicts).length > 5);
  assert.ok(state.ring.length <= 120 && state.ringSlots.length === state.ring.length);
  assert.ok(state.held.length <= 120 && state.heldSlots.length === state.held.length);
  assert.ok(state.hourValues.length <= 120);
  assert.equal(state.season.length, 168);
  const slots = state.season.filter((s) => s !== null);
  assert.equal(slots.length, 168);
  assert.ok(slots.every((s) => s.m.length <= 4));
  const bytes = JSON.stringify(state).length;
  assert.ok(bytes < 10_000, `state JSON ${bytes} bytes`);
});

test('configuration: named sensitivities, numbers, and RangeErrors naming the bad field', () => {
  assert.equal(createDetector({ metric: 'latency' }).config.threshold, 4.5);
  assert.equal(createDetector({ metric: 'latency', sensitivity: 'low' }).config.threshold, 6);
  assert.equal(createDetector({ metric: 'latency', sensitivity: 'high' }).config.threshold, 3.5);
  assert.equal(createDetector({ metric: 'error_rate', sensitivity: 2.5 }).config.threshold, 2.5);
  assert.equal(createDetector({ metric: 'error_rate' }).config.minDelta, 0.02);
  assert.throws(() => createDetector({ metric: 'latency', window: 5 }), /window must be an integer from 10/);
  assert.throws(() => createDetector({ metric: 'latency', window: 60, minSamples: 90 }), /minSamples/);
  assert.throws(() => createDetector({ metric: 'latency', sensitivity: -1 }), RangeError);
  assert.throws(() => createDetector({ metric: 'latency', openAfter: 0 }), /openAfter/);
  assert.throws(() => createDetector({ metric: 'cpu' as 'latency' }), /metric must be/);
});
