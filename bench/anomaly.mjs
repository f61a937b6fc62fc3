#!/usr/bin/env node
// Precision, recall, detection delay and cost of peep's anomaly detector (builder/src/anomaly) on
// synthetic labelled per-minute series, generated from a fixed seed so every run sees the same data:
// log-normal latency noise at several scales (5, 40, 300 ms; sigma 0.1 to 0.35), injected spikes
// (large: 3-10x, moderate: 1.5-3x; 3-30 min), short blips (1-2 min, not incidents), level shifts,
// noisy-but-normal periods (noise 2-3x wider for 1-4 h), autocorrelated noise, 1% single-minute
// outliers, slow drifts (1.5-3x over 3 days), four weeks
// of daily seasonality with a nightly batch job (02:00-03:00 at 2x) and incidents in weeks 3-4, and
// error rates with binomial noise, a daily traffic cycle (nights under minCount) and error bursts.
//
// An injected incident is detected when the detector opens during it or within --tolerance minutes
// after its end; an open outside every incident is a false positive; further opens inside one
// incident are counted as flaps. Precision = detected / (detected + false positives). Delay is the
// minutes of data from the incident's start to the open (the incident's first minute counts as 1).
// Opens during the seasonal scenario's first two weeks (before the hour-of-week baseline is ready)
// are reported separately ("learn FP"), not in the totals. Cost is wall time per evaluate() call,
// state copy included; "state" is the largest JSON state seen at the end of a series.
//
//   node bench/anomaly.mjs                       # low, medium, high; tables
//   node bench/anomaly.mjs --sensitivity medium  # one setting (or a number: robust z threshold)
//   node bench/anomaly.mjs --seed 7 --scale 0.5  # another seed, half the series
//   node bench/anomaly.mjs --json                # one JSON object
//
// Needs the TypeScript build (`npm run build:ts`).
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { createDetector } = await import(pathToFileURL(path.join(root, 'builder/dist/anomaly/index.js')).href);

const { values: opts } = parseArgs({
  options: {
    sensitivity: { type: 'string' },
    seed: { type: 'string', default: '42' },
    scale: { type: 'string', default: '1' },
    tolerance: { type: 'string', default: '5' },
    json: { type: 'boolean', default: false },
  },
});
const SEED = Number(opts.seed);
const SCALE = Number(opts.scale);
const TOL = Number(opts.tolerance) * 60_000;
const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const T0 = Date.UTC(2026, 0, 5); // a Monday 00:00 UTC

function rng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const normal = () => {
    const u = next() || 1e-12;
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * next());
  };
  const uniform = (lo, hi) => lo + (hi - lo) * next();
  const pick = (xs) => xs[Math.floor(next() * xs.length)];
  const int = (lo, hi) => Math.floor(uniform(lo, hi + 1));
  return { next, normal, uniform, pick, int };
}

const BASES = [5, 40, 300];
const SIGMAS = [0.1, 0.2, 0.35];

/** Non-overlapping incident starts, at least `gap` apart, after `warm`. */
function placeIncidents(r, minutes, n, warm, gap, maxDur) {
  const out = [];
  for (let tries = 0; out.length < n && tries < 1000; tries++) {
    const s = r.int(warm, minutes - maxDur - 60);
    if (out.every((o) => Math.abs(o - s) > gap)) out.push(s);
  }
  return out.sort((a, b) => a - b);
}

function latencySeries(r, days, shape, rho = 0) {
  const minutes = days * 1440;
  const base = r.pick(BASES);
  const sigma = r.pick(SIGMAS);
  const mult = new Float64Array(minutes).fill(1);
  const sig = new Float64Array(minutes).fill(sigma);
  const incidents = [];
  shape({ r, minutes, mult, sig, incidents, base, sigma });
  const points = new Array(minutes);
  const keep = Math.sqrt(1 - rho * rho);
  let e = r.normal();
  for (let i = 0; i < minutes; i++) {
    e = rho * e + keep * r.normal();
    points[i] = { t: T0 + i * MIN, value: base * mult[i] * Math.exp(sig[i] * e) };
  }
  return {
    points,
    sigma,
    incidents: incidents.map(([s, e]) => ({ start: T0 + s * MIN, end: T0 + e * MIN })),
  };
}

function spikes(lo, hi, dLo, dHi, label) {
  return ({ r, minutes, mult, incidents }) => {
    for (const s of placeIncidents(r, minutes, 6, 180, 180, dHi)) {
      const d = r.int(dLo, dHi);
      const f = r.uniform(lo, hi);
      for (let i = s; i < s + d; i++) mult[i] = f;
      if (label) incidents.push([s, s + d]);
    }
  };
}

const scenarios = [
  {
    name: 'spikes 3-10x, 3-30 min',
    series: 12,
    make: (r) => latencySeries(r, 3, spikes(3, 10, 3, 30, true)),
  },
  {
    name: 'spikes 1.5-3x, 3-30 min',
    series: 12,
    make: (r) => latencySeries(r, 3, spikes(1.5, 3, 3, 30, true)),
  },
  {
    name: 'blips 3-10x, 1-2 min (no incident)',
    series: 12,
    make: (r) => latencySeries(r, 3, spikes(3, 10, 1, 2, false)),
  },
  {
    name: 'level shift 1.5-4x (permanent)',
    series: 12,
    make: (r) =>
      latencySeries(r, 2, ({ r, minutes, mult, incidents }) => {
        const s = r.int(360, minutes - 720);
        const f = r.uniform(1.5, 4);
        for (let i = s; i < minutes; i++) mult[i] = f;
        incidents.push([s, minutes]);
      }),
  },
  {
    name: 'noisy periods 2-3x sigma (no incident)',
    series: 12,
    make: (r) =>
      latencySeries(r, 3, ({ r, minutes, sig, sigma }) => {
        for (const s of placeIncidents(r, minutes, 4, 180, 300, 240)) {
          const d = r.int(60, 240);
          const k = r.uniform(2, 3);
          for (let i = s; i < s + d; i++) sig[i] = sigma * k;
        }
      }),
  },
  {
    name: 'correlated noise, AR(1) rho 0.8 (no incident)',
    series: 12,
    make: (r) => latencySeries(r, 3, () => {}, 0.8),
  },
  {
    name: 'outliers: 1% of minutes 3-20x (no incident)',
    series: 12,
    make: (r) =>
      latencySeries(r, 3, ({ r, minutes, mult }) => {
        for (let i = 0; i < minutes; i++) if (r.next() < 0.01) mult[i] = r.uniform(3, 20);
      }),
  },
  {
    name: 'slow drift 1.5-3x over 3 days (no incident)',
    series: 12,
    make: (r) =>
      latencySeries(r, 3, ({ r, minutes, mult }) => {
        const f = r.uniform(1.5, 3);
        for (let i = 0; i < minutes; i++) mult[i] = f ** (i / minutes);
      }),
  },
  {
    name: 'ramp to 3-5x over 10-30 min, 1 h',
    series: 12,
    make: (r) =>
      latencySeries(r, 3, ({ r, minutes, mult, incidents }) => {
        for (const s of placeIncidents(r, minutes, 5, 180, 300, 100)) {
          const ramp = r.int(10, 30);
          const f = r.uniform(3, 5);
          for (let i = 0; i < ramp + 60; i++) mult[s + i] = 1 + (f - 1) * Math.min(1, (i + 1) / ramp);
          incidents.push([s, s + ramp + 60]);
        }
      }),
  },
  {
    name: 'daily season + 02:00 batch 2x, 3x incidents (weeks 3-4)',
    series: 6,
    scoreFrom: T0 + 14 * DAY,
    make: (r) =>
      latencySeries(r, 28, ({ r, minutes, mult, incidents }) => {
        for (let i = 0; i < minutes; i++) {
          const hourOfDay = (i % 1440) / 60;
          const weekend = Math.floor(i / 1440) % 7 >= 5;
          const diurnal = 1 + (weekend ? 0.1 : 0.3) * Math.sin(((hourOfDay - 8) / 24) * 2 * Math.PI);
          mult[i] = diurnal * (hourOfDay >= 2 && hourOfDay < 3 ? 2 : 1);
        }
        for (const s of placeIncidents(r, minutes - 14 * 1440, 8, 0, 600, 60)) {
          const start = s + 14 * 1440;
          const hod = (start % 1440) / 60;
          if (hod >= 1 && hod < 4) continue; // keep injected incidents away from the batch hour
          const d = r.int(10, 60);
          for (let i = start; i < start + d; i++) mult[i] *= 3;
          incidents.push([start, start + d]);
        }
      }),
  },
  {
    name: 'error rate, bursts to >=5x and +5-30 pp',
    series: 12,
    metric: 'error_rate',
    make: (r) => errorSeries(r, 3, true),
  },
  {
    name: 'error rate, low traffic, no incident',
    series: 12,
    metric: 'error_rate',
    make: (r) => errorSeries(r, 3, false),
  },
];

function binomial(r, n, p) {
  if (n * p < 30) {
    // Poisson approximation by inversion (small mean).
    const l = Math.exp(-n * p);
    let k = 0;
    let prod = r.next();
    while (prod > l) {
      k++;
      prod *= r.next();
    }
    return Math.min(k, n);
  }
  return Math.max(0, Math.min(n, Math.round(n * p + Math.sqrt(n * p * (1 - p)) * r.normal())));
}

function errorSeries(r, days, withIncidents) {
  const minutes = days * 1440;
  const traffic = withIncidents ? r.pick([60, 300, 2000]) : r.pick([15, 30, 60]);
  const baseRate = r.pick([0.001, 0.01, 0.03]);
  const rate = new Float64Array(minutes).fill(baseRate);
  const incidents = [];
  if (withIncidents) {
    for (const s of placeIncidents(r, minutes, 6, 180, 180, 30)) {
      const d = r.int(3, 30);
      const p = Math.min(0.9, Math.max(5 * baseRate, baseRate + r.uniform(0.05, 0.3)));
      for (let i = s; i < s + d; i++) rate[i] = p;
      incidents.push({ start: T0 + s * MIN, end: T0 + (s + d) * MIN });
    }
  }
  const points = new Array(minutes);
  for (let i = 0; i < minutes; i++) {
    const hourOfDay = (i % 1440) / 60;
    const n = Math.max(
      0,
      Math.round(
        traffic * (1 + 0.8 * Math.sin(((hourOfDay - 8) / 24) * 2 * Math.PI)) * Math.exp(0.2 * r.normal()),
      ),
    );
    const errors = binomial(r, n, rate[i]);
    points[i] = { t: T0 + i * MIN, value: n > 0 ? errors / n : 0, count: n };
  }
  return { points, incidents, sigma: `${traffic}/min` };
}

function quantile(xs, q) {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
}

function runScenario(sc, sensitivity, seed) {
  const r = rng(seed);
  const n = Math.max(1, Math.round(sc.series * SCALE));
  const res = {
    scenario: sc.name,
    series: n,
    points: 0,
    days: 0,
    incidents: 0,
    detected: 0,
    falsePositives: 0,
    learnFalsePositives: 0,
    flaps: 0,
    delays: [],
    ns: 0,
    maxStateBytes: 0,
    byNoise: {},
  };
  for (let k = 0; k < n; k++) {
    const { points, incidents, sigma } = sc.make(r);
    const det = createDetector({ metric: sc.metric ?? 'latency', sensitivity });
    const opens = [];
    let state;
    const t0 = process.hrtime.bigint();
    for (const p of points) {
      const e = det.evaluate(state, p);
      state = e.state;
      if (e.verdict.changed === 'opened') opens.push(p.t);
    }
    res.ns += Number(process.hrtime.bigint() - t0);
    res.points += points.length;
    const from = sc.scoreFrom ?? T0;
    res.days += (points.length * MIN - (from - T0)) / DAY;
    res.maxStateBytes = Math.max(res.maxStateBytes, JSON.stringify(state).length);
    res.incidents += incidents.length;
    const hits = incidents.map(() => []);
    for (const t of opens) {
      const i = incidents.findIndex((inc) => t >= inc.start && t < inc.end + TOL);
      if (i >= 0) hits[i].push(t);
      else if (t < from) res.learnFalsePositives++;
      else res.falsePositives++;
    }
    res.byNoise[sigma] ??= { incidents: 0, detected: 0 };
    const noise = res.byNoise[sigma];
    noise.incidents += incidents.length;
    incidents.forEach((inc, i) => {
      const h = hits[i];
      if (h.length === 0) return;
      noise.detected++;
      res.detected++;
      res.flaps += h.length - 1;
      res.delays.push((h[0] - inc.start) / MIN + 1);
    });
  }
  return summarize(res);
}

function summarize(res) {
  const { delays, ns, ...rest } = res;
  return {
    ...rest,
    recall: res.incidents ? res.detected / res.incidents : null,
    precision: res.detected + res.falsePositives ? res.detected / (res.detected + res.falsePositives) : null,
    fpPerSeriesDay: res.falsePositives / res.days,
    delayP50: quantile(delays, 0.5),
    delayP90: quantile(delays, 0.9),
    usPerPoint: ns / 1000 / res.points,
    _delays: delays,
  };
}

const sensitivities = opts.sensitivity
  ? [Number.isNaN(Number(opts.sensitivity)) ? opts.sensitivity : Number(opts.sensitivity)]
  : ['low', 'medium', 'high'];

const out = { seed: SEED, scale: SCALE, toleranceMin: TOL / MIN, node: process.version, runs: [] };
for (const s of sensitivities) {
  const rows = scenarios.map((sc, i) => runScenario(sc, s, SEED * 1000 + i));
  const total = summarize({
    scenario: 'total',
    series: rows.reduce((a, x) => a + x.series, 0),
    points: rows.reduce((a, x) => a + x.points, 0),
    days: rows.reduce((a, x) => a + x.days, 0),
    incidents: rows.reduce((a, x) => a + x.incidents, 0),
    detected: rows.reduce((a, x) => a + x.detected, 0),
    falsePositives: rows.reduce((a, x) => a + x.falsePositives, 0),
    learnFalsePositives: rows.reduce((a, x) => a + x.learnFalsePositives, 0),
    flaps: rows.reduce((a, x) => a + x.flaps, 0),
    delays: rows.flatMap((x) => x._delays),
    ns: rows.reduce((a, x) => a + x.usPerPoint * 1000 * x.points, 0),
    maxStateBytes: Math.max(...rows.map((x) => x.maxStateBytes)),
  });
  for (const x of [...rows, total]) delete x._delays;
  out.runs.push({ sensitivity: s, scenarios: rows, total });
}

if (opts.json) {
  console.log(JSON.stringify(out));
} else {
  const f = (v, d = 2) => (v === null ? '-' : typeof v === 'number' ? v.toFixed(d) : String(v));
  for (const run of out.runs) {
    console.log(`\nsensitivity ${run.sensitivity} (seed ${SEED}, tolerance ${TOL / MIN} min)`);
    const head = [
      'scenario'.padEnd(56),
      'series',
      'incid',
      'found',
      'recall',
      'FP',
      'FP/day',
      'prec',
      'flaps',
      'delay p50/p90',
      'learnFP',
      'us/pt',
      'state B',
      'found by noise (sigma or traffic)',
    ];
    console.log(head.join('  '));
    for (const x of [...run.scenarios, run.total]) {
      console.log(
        [
          x.scenario.padEnd(56),
          String(x.series).padStart(6),
          String(x.incidents).padStart(5),
          String(x.detected).padStart(5),
          f(x.recall).padStart(6),
          String(x.falsePositives).padStart(2),
          f(x.fpPerSeriesDay, 3).padStart(6),
          f(x.precision).padStart(4),
          String(x.flaps).padStart(5),
          `${f(x.delayP50, 0)}/${f(x.delayP90, 0)} min`.padStart(13),
          String(x.learnFalsePositives).padStart(7),
          f(x.usPerPoint, 1).padStart(5),
          String(x.maxStateBytes).padStart(7),
          Object.entries(x.byNoise ?? {})
            .filter(([, v]) => v.incidents > 0)
            .sort(([a], [b]) => Number.parseFloat(a) - Number.parseFloat(b))
            .map(([k, v]) => `${k}: ${v.detected}/${v.incidents}`)
            .join(', '),
        ].join('  '),
      );
    }
  }
}
