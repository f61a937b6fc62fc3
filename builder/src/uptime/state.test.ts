/**
 * The status machine one result at a time: pending → up on the first success, down only after
 * failAfter failures in a row, up again only after recoverAfter successes in a row, degraded latency
 * with the same thresholds, certificate warnings opened and closed, heartbeats speaking of
 * `heartbeat_missed`.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { initialState, step, type Thresholds, type UptimeResult } from './state.js';

const http: Thresholds = { kind: 'http', failAfter: 3, recoverAfter: 2, degradedMs: null };
let clock = 1_000_000;
const tick = () => {
  clock += 5_000;
  return clock;
};
const ok = (durationMs = 10, extra: Partial<UptimeResult> = {}): UptimeResult => ({
  ok: true,
  startedAt: tick(),
  durationMs,
  phases: { totalMs: durationMs },
  statusCode: 200,
  ...extra,
});
const fail = (extra: Partial<UptimeResult> = {}): UptimeResult => ({
  ok: false,
  startedAt: tick(),
  durationMs: 3,
  phases: { totalMs: 3 },
  errorClass: 'status',
  statusCode: 503,
  ...extra,
});

test('pending → up on the first success; down after failAfter failures in a row; up after recoverAfter successes', () => {
  const s = initialState();
  assert.deepEqual(step(http, s, ok()), []);
  assert.equal(s.status, 'up');
  const upSince = s.statusSince;
  // two failures, a success, two failures: never three in a row
  for (const r of [fail(), fail(), ok(), fail(), fail()]) assert.deepEqual(step(http, s, r), []);
  assert.equal(s.status, 'up');
  assert.equal(s.statusSince, upSince);
  assert.equal(s.failStreak, 2);
  const third = fail();
  const [down, ...rest] = step(http, s, third);
  assert.equal(rest.length, 0);
  assert.equal(down?.kind, 'down');
  assert.equal(down?.open, true);
  assert.equal(s.status, 'down');
  assert.equal(s.statusSince, third.startedAt + third.durationMs);
  assert.match(down?.reason ?? '', /status: HTTP 503 \(3 failed checks in a row\)/);
  assert.equal(down?.numbers['failed checks in a row'], 3);
  assert.equal(down?.numbers['status code'], 503);
  // further failures open nothing new
  assert.deepEqual(step(http, s, fail()), []);
  // one success is not enough (recoverAfter 2), a failure resets the count
  assert.deepEqual(step(http, s, ok()), []);
  assert.deepEqual(step(http, s, fail()), []);
  assert.deepEqual(step(http, s, ok()), []);
  assert.equal(s.status, 'down');
  const [up] = step(http, s, ok());
  assert.equal(up?.kind, 'down');
  assert.equal(up?.open, false);
  assert.equal(s.status, 'up');
});

test('a target that never succeeded goes from pending straight to down', () => {
  const s = initialState();
  const t = { ...http, failAfter: 1 };
  const [tr] = step(
    t,
    s,
    fail({ errorClass: 'refused', statusCode: undefined, message: 'connect ECONNREFUSED' }),
  );
  assert.equal(s.status, 'down');
  assert.match(tr?.reason ?? '', /^refused: connect ECONNREFUSED/);
});

test('degraded: failAfter slow successes open it, recoverAfter fast ones close it; failures count for neither', () => {
  const t: Thresholds = { kind: 'http', failAfter: 2, recoverAfter: 2, degradedMs: 100 };
  const s = initialState();
  assert.deepEqual(step(t, s, ok(150)), []);
  assert.deepEqual(step(t, s, fail()), []);
  const [open] = step(t, s, ok(180));
  assert.equal(open?.kind, 'degraded');
  assert.equal(open?.open, true);
  assert.equal(s.degraded.open, true);
  assert.deepEqual(step(t, s, ok(50)), []);
  assert.deepEqual(step(t, s, ok(150)), []);
  assert.deepEqual(step(t, s, ok(50)), []);
  const [close] = step(t, s, ok(40));
  assert.equal(close?.kind, 'degraded');
  assert.equal(close?.open, false);
  assert.equal(s.degraded.open, false);
});

test('certificate warning opens while the check stays up and closes once renewed', () => {
  const s = initialState({ status: 'up' });
  const [open] = step(http, s, ok(10, { certDaysLeft: 5, certWarning: true }));
  assert.equal(open?.kind, 'cert_expiring');
  assert.equal(open?.open, true);
  assert.equal(open?.numbers['days left'], 5);
  assert.deepEqual(step(http, s, ok(10, { certDaysLeft: 4, certWarning: true })), []);
  // a failed check (no certificate seen) changes nothing
  assert.deepEqual(step({ ...http, failAfter: 5 }, s, fail({ errorClass: 'tls' })), []);
  const [close] = step(http, s, ok(10, { certDaysLeft: 89, certWarning: false }));
  assert.equal(close?.kind, 'cert_expiring');
  assert.equal(close?.open, false);
});

test('heartbeats open and resolve heartbeat_missed', () => {
  const t: Thresholds = { kind: 'heartbeat', failAfter: 1, recoverAfter: 1, degradedMs: null };
  const s = initialState();
  const [missed] = step(
    t,
    s,
    fail({ errorClass: 'missed', statusCode: undefined, message: 'no beat for 65 s' }),
  );
  assert.equal(missed?.kind, 'heartbeat_missed');
  assert.equal(missed?.numbers.error, 'missed');
  const [back] = step(t, s, ok(0));
  assert.equal(back?.kind, 'heartbeat_missed');
  assert.equal(back?.open, false);
});
