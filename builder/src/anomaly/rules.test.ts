/**
 * The plain rules: each opens after its count of consecutive bad inputs, closes after its count of
 * good ones, skips inputs it cannot judge, and keeps JSON-plain state.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  evaluateCertificate,
  evaluateDegraded,
  evaluateDown,
  evaluateErrorRate,
  type RuleEvaluation,
  type RuleState,
} from './rules.js';

function drive<I>(inputs: I[], f: (s: RuleState | undefined, i: I) => RuleEvaluation) {
  let s: RuleState | undefined;
  return inputs.map((i) => {
    const e = f(s, i);
    s = JSON.parse(JSON.stringify(e.state)) as RuleState;
    return e.verdict;
  });
}

test('down: opens on the third consecutive failure, closes on the first success', () => {
  const oks = [true, false, false, true, false, false, false, false, true, true];
  const v = drive(
    oks.map((ok, t) => ({ t, ok, error: ok ? undefined : 'timeout' })),
    (s, i) => evaluateDown(s, i),
  );
  assert.deepEqual(
    v.map((x) => x.changed),
    [null, null, null, null, null, null, 'opened', null, 'closed', null],
  );
  assert.equal(v[6]?.reason, 'check failed: timeout (3 in a row)');
  assert.deepEqual(
    v.map((x) => x.open),
    [false, false, false, false, false, false, true, true, false, false],
  );
  const two = drive(
    [false, false, true, true].map((ok, t) => ({ t, ok })),
    (s, i) => evaluateDown(s, i, { openAfter: 2, closeAfter: 2 }),
  );
  assert.deepEqual(
    two.map((x) => x.changed),
    [null, 'opened', null, 'closed'],
  );
});

test('degraded: latency above the threshold for three points opens, three below close, a missing latency is skipped', () => {
  const lat = [100, 900, 900, 900, null, 900, 100, 100, 900, 100, 100, 100];
  const v = drive(
    lat.map((latencyMs, t) => ({ t, latencyMs })),
    (s, i) => evaluateDegraded(s, i, { thresholdMs: 500 }),
  );
  assert.deepEqual(
    v.map((x) => x.changed),
    [null, null, null, 'opened', null, null, null, null, null, null, null, 'closed'],
  );
  assert.equal(v[4]?.status, 'skipped');
  assert.equal(v[3]?.reason, 'latency 900 ms above 500 ms');
  assert.throws(
    () => evaluateDegraded(undefined, { t: 0, latencyMs: 1 }, { thresholdMs: -5 }),
    /thresholdMs/,
  );
});

test('error rate: above the threshold with enough requests; low-count minutes are skipped', () => {
  const mins = [
    { errors: 1, count: 100 },
    { errors: 10, count: 10 },
    { errors: 10, count: 10 },
    { errors: 10, count: 10 },
    { errors: 30, count: 100 },
    { errors: 30, count: 100 },
    { errors: 40, count: 100 },
    { errors: 0, count: 100 },
    { errors: 0, count: 100 },
    { errors: 0, count: 100 },
  ];
  const v = drive(
    mins.map((m, t) => ({ t, ...m })),
    (s, i) => evaluateErrorRate(s, i, { threshold: 0.05 }),
  );
  assert.deepEqual(
    v.map((x) => x.status),
    [
      'normal',
      'skipped',
      'skipped',
      'skipped',
      'anomalous',
      'anomalous',
      'anomalous',
      'normal',
      'normal',
      'normal',
    ],
  );
  assert.equal(v[6]?.changed, 'opened');
  assert.equal(v[9]?.changed, 'closed');
  assert.equal(v[1]?.reason, 'only 10 requests (fewer than 20)');
  assert.equal(v[6]?.reason, 'error rate 40.0% of 100 requests above 5.0%');
});

test('certificate: opens below warnDays, closes once renewed, skips inputs without a certificate', () => {
  const days = [40, 20, 13.5, null, 5, -2, 89];
  const v = drive(
    days.map((daysLeft, t) => ({ t, daysLeft })),
    (s, i) => evaluateCertificate(s, i, { warnDays: 14 }),
  );
  assert.deepEqual(
    v.map((x) => x.changed),
    [null, null, 'opened', null, null, null, 'closed'],
  );
  assert.equal(v[3]?.status, 'skipped');
  assert.equal(v[3]?.open, true);
  assert.equal(v[2]?.reason, 'certificate expires in 13 days (warning below 14)');
  assert.equal(v[5]?.reason, 'certificate expired 2 days ago');
  assert.equal(v[6]?.reason, 'certificate expires in 89 days');
});
