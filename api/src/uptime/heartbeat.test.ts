/**
 * Heartbeat pushes and what the target page reads, on both engines: unknown tokens, GET and POST with
 * any body, last beat and an ok result stored, `uptime.beat` published, paused targets refused,
 * rotation, the per-address rate limit; results newest first; uptime percentages and latency series
 * from rollup rows (percentiles from the merged sketches).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type BusMessage, createMemoryBus } from '@peep/pkg';
import { Sketch } from '@peep/pkg/sketch';
import {
  call,
  createOwner,
  createProjectWithKey,
  type SignedIn,
  startTestServer,
  type TestServer,
  testEngines,
} from '../testing.js';

const MIN = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

for (const engine of testEngines()) {
  describe(`heartbeats, results and series (${engine})`, () => {
    let s: TestServer;
    let owner: SignedIn;
    let pid = '';
    const beats: BusMessage<{ targetId: string; shard: number }>[] = [];
    const bus = createMemoryBus();
    bus.subscribe<{ targetId: string; shard: number }>('uptime.beat', (m) => beats.push(m));
    const base = () => `/api/v1/projects/${pid}/targets`;
    const push = (url: string, init: RequestInit = {}) => fetch(`${s.url}${new URL(url).pathname}`, init);

    before(async () => {
      s = await startTestServer({ engine, bus });
      owner = await createOwner(s);
      pid = (await createProjectWithKey(s, owner, { name: 'Beats' })).projectId;
    });
    after(() => s?.close());

    test('unknown tokens are 404 heartbeat_not_found', async () => {
      for (const token of [
        'peep_hb_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
        'nonsense',
        'peep_ik_abc',
      ]) {
        const r = await fetch(`${s.url}/api/v1/heartbeat/${token}`, { method: 'POST' });
        assert.equal(r.status, 404);
        assert.equal(((await r.json()) as { error: { code: string } }).error.code, 'heartbeat_not_found');
      }
    });

    test('a push (GET or POST, any body) sets the last beat, stores an ok result and publishes uptime.beat', async () => {
      const c = await call(s, owner, 'POST', base(), {
        name: 'cron',
        env: 'prod',
        kind: 'heartbeat',
        intervalS: 300,
      });
      assert.equal(c.status, 201);
      const id = c.body.target.id;
      const url = c.body.heartbeatUrl as string;
      beats.length = 0;
      const t0 = Date.now();
      const a = await push(url);
      assert.equal(a.status, 200);
      assert.deepEqual(await a.json(), { ok: true, targetId: id });
      const b = await push(url, {
        method: 'POST',
        body: 'done in 3s',
        headers: { 'content-type': 'text/plain' },
      });
      assert.equal(b.status, 200);
      const j = await push(url, {
        method: 'POST',
        body: '{not json',
        headers: { 'content-type': 'application/json' },
      });
      assert.equal(j.status, 200);
      const form = await push(url, {
        method: 'POST',
        body: 'x=1',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      assert.equal(form.status, 200);
      const t = (await call(s, owner, 'GET', `${base()}/${id}`)).body.target;
      assert.ok(Date.parse(t.lastBeatAt) >= t0 - 1000 && Date.parse(t.lastBeatAt) <= Date.now() + 1000);
      const results = (await call(s, owner, 'GET', `${base()}/${id}/results`)).body.results;
      assert.equal(results.length, 4);
      assert.ok(results.every((r: { ok: boolean; durationMs: number }) => r.ok && r.durationMs === 0));
      const { rows } = await s.db.query<{ shard: number }>('SELECT shard FROM targets WHERE id = $1', [id]);
      await new Promise((r) => setImmediate(r));
      assert.equal(beats.length, 4);
      assert.deepEqual(beats[0]?.data, { targetId: id, shard: rows[0]?.shard });
    });

    test('a paused target refuses beats (409 target_paused) and records nothing', async () => {
      const c = await call(s, owner, 'POST', base(), {
        name: 'paused job',
        env: 'prod',
        kind: 'heartbeat',
        intervalS: 300,
        enabled: false,
      });
      const r = await push(c.body.heartbeatUrl);
      assert.equal(r.status, 409);
      assert.equal(((await r.json()) as { error: { code: string } }).error.code, 'target_paused');
      const t = await call(s, owner, 'GET', `${base()}/${c.body.target.id}`);
      assert.equal(t.body.target.lastBeatAt, null);
      assert.deepEqual(
        (await call(s, owner, 'GET', `${base()}/${c.body.target.id}/results`)).body.results,
        [],
      );
    });

    test('rotating the push URL retires the old one; HTTP targets have none', async () => {
      const c = await call(s, owner, 'POST', base(), {
        name: 'rotate',
        env: 'prod',
        kind: 'heartbeat',
        intervalS: 60,
      });
      const old = c.body.heartbeatUrl as string;
      const r = await call(s, owner, 'POST', `${base()}/${c.body.target.id}/heartbeat-url`);
      assert.equal(r.status, 200);
      assert.notEqual(r.body.heartbeatUrl, old);
      assert.equal(
        r.body.target.heartbeatPrefix,
        (r.body.heartbeatUrl as string).split('/').at(-1)?.slice(0, 12),
      );
      assert.equal((await push(old)).status, 404);
      assert.equal((await push(r.body.heartbeatUrl)).status, 200);
      const h = await call(s, owner, 'POST', base(), {
        name: 'site',
        env: 'prod',
        kind: 'http',
        intervalS: 60,
        spec: { url: 'http://127.0.0.1:9/', method: 'GET', timeoutMs: 1000 },
      });
      const bad = await call(s, owner, 'POST', `${base()}/${h.body.target.id}/heartbeat-url`);
      assert.equal(bad.status, 400);
      assert.equal(bad.body.error.code, 'validation_failed');
    });

    test('results: newest first, limit and before', async () => {
      const c = await call(s, owner, 'POST', base(), {
        name: 'results',
        env: 'prod',
        kind: 'http',
        intervalS: 60,
        spec: { url: 'http://127.0.0.1:9/', method: 'GET', timeoutMs: 1000 },
      });
      const id = c.body.target.id;
      const now = Date.now();
      for (let i = 0; i < 5; i++)
        await s.db.query(
          `INSERT INTO check_results (target_id, project_id, time, ok, duration_ms, dns_ms, status_code, error_class, message)
           VALUES ($1, $2, $3, $4, $5, 1.5, $6, $7, $8)`,
          [
            id,
            pid,
            new Date(now - i * MIN),
            i !== 2,
            10 + i,
            i === 2 ? 503 : 200,
            i === 2 ? 'status' : null,
            i === 2 ? 'got 503' : null,
          ],
        );
      const all = (await call(s, owner, 'GET', `${base()}/${id}/results`)).body.results;
      assert.deepEqual(
        all.map((r: { durationMs: number }) => r.durationMs),
        [10, 11, 12, 13, 14],
      );
      assert.deepEqual(all[2], {
        ...all[2],
        ok: false,
        statusCode: 503,
        errorClass: 'status',
        message: 'got 503',
        dnsMs: 1.5,
      });
      const page = (
        await call(
          s,
          owner,
          'GET',
          `${base()}/${id}/results?limit=2&before=${encodeURIComponent(all[1].time)}`,
        )
      ).body.results;
      assert.deepEqual(
        page.map((r: { durationMs: number }) => r.durationMs),
        [12, 13],
      );
      const bad = await call(s, owner, 'GET', `${base()}/${id}/results?before=yesterday`);
      assert.equal(bad.body.error.code, 'validation_failed');
    });

    test('uptime % per window and latency series from the rollups (sketch percentiles within 1%)', async () => {
      const c = await call(s, owner, 'POST', base(), {
        name: 'series',
        env: 'prod',
        kind: 'http',
        intervalS: 60,
        spec: { url: 'http://127.0.0.1:9/', method: 'GET', timeoutMs: 1000 },
      });
      const id = c.body.target.id;
      const now = Date.now();
      const insert = async (tier: string, bucket: number, durations: number[], failures: number) => {
        const sk = new Sketch();
        for (const d of durations) sk.add(d);
        await s.db.query(
          `INSERT INTO target_rollups_${tier} (target_id, bucket, count, failures, sum_ms, min_ms, max_ms, sketch)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
          [
            id,
            new Date(bucket),
            durations.length,
            failures,
            durations.reduce((a, b) => a + b, 0),
            Math.min(...durations),
            Math.max(...durations),
            sk.toArray(),
          ],
        );
      };
      const floor = (t: number, u: number) => Math.floor(t / u) * u;
      const ramp = (n: number, scale: number) => Array.from({ length: n }, (_, i) => scale * (i + 1));
      // Minute rollups: two minutes in the last hour, one 20 hours ago (in 24 h, not in 1 h).
      await insert('1m', floor(now, MIN) - 5 * MIN, ramp(100, 1), 10);
      await insert('1m', floor(now, MIN) - 2 * MIN, ramp(50, 4), 0);
      await insert('1m', floor(now, MIN) - 20 * HOUR, ramp(50, 1), 50);
      // Hour rollups: 3 days ago (in 7 d), 20 days ago (in 30 d only), 40 days ago (in neither).
      await insert('1h', floor(now, HOUR) - 72 * HOUR, ramp(200, 1), 0);
      await insert('1h', floor(now, HOUR) - 20 * 24 * HOUR, ramp(200, 1), 100);
      await insert('1h', floor(now, HOUR) - 40 * 24 * HOUR, ramp(200, 1), 200);
      // Day rollups: 60 days ago (in 90 d).
      await insert('1d', floor(now, DAY) - 60 * DAY, ramp(400, 1), 100);

      const d = await call(s, owner, 'GET', `${base()}/${id}`);
      assert.equal(d.status, 200);
      assert.deepEqual(d.body.uptime, {
        '24h': (140 / 200) * 100, // 200 checks, 60 failed
        '7d': 100, // 200 checks in the hour rollups of the last 7 days
        '30d': 75, // 400 checks, 100 failed
        '90d': 75, // 400 checks, 100 failed
      });

      const h = await call(s, owner, 'GET', `${base()}/${id}/series?range=1h`);
      assert.equal(h.status, 200);
      assert.equal(h.body.step, 60);
      assert.equal(h.body.points.length, 2);
      const [p1, p2] = h.body.points;
      assert.equal(p1.t, new Date(floor(now, MIN) - 5 * MIN).toISOString());
      assert.equal(p1.count, 100);
      assert.equal(p1.failures, 10);
      assert.ok(Math.abs(p1.p50 - 50) / 50 <= 0.01, `p50 ${p1.p50}`);
      assert.ok(Math.abs(p1.p95 - 95) / 95 <= 0.01, `p95 ${p1.p95}`);
      assert.ok(Math.abs(p1.p99 - 99) / 99 <= 0.01, `p99 ${p1.p99}`);
      assert.equal(p1.avg, 50.5);
      assert.equal(p1.min, 1);
      assert.equal(p1.max, 100);
      assert.ok(Math.abs(p2.p50 - 100) / 100 <= 0.01, `p50 ${p2.p50}`);
      assert.equal((await call(s, owner, 'GET', `${base()}/${id}/series?range=24h`)).body.points.length, 3);
      const w = await call(s, owner, 'GET', `${base()}/${id}/series?range=7d`);
      assert.equal(w.body.step, 3600);
      assert.equal(w.body.points.length, 1);
      assert.equal((await call(s, owner, 'GET', `${base()}/${id}/series?range=30d`)).body.points.length, 2);
      const q = await call(s, owner, 'GET', `${base()}/${id}/series?range=90d`);
      assert.equal(q.body.step, 86400);
      assert.equal(q.body.points.length, 1);
      assert.equal(
        (await call(s, owner, 'GET', `${base()}/${id}/series?range=2y`)).body.error.code,
        'validation_failed',
      );
    });
  });
}

describe('heartbeat rate limit', () => {
  let s: TestServer;
  after(() => s?.close());
  test('pushes from one address beyond 60 x PEEP_AUTH_RATE_LIMIT a minute get 429', async () => {
    s = await startTestServer({ config: { authRateLimit: 1 } });
    const owner = await createOwner(s);
    const pid = (await createProjectWithKey(s, owner, { name: 'Limit' })).projectId;
    const c = await call(s, owner, 'POST', `/api/v1/projects/${pid}/targets`, {
      name: 'limited',
      env: 'prod',
      kind: 'heartbeat',
      intervalS: 60,
    });
    const url = `${s.url}${new URL(c.body.heartbeatUrl).pathname}`;
    const codes: number[] = [];
    for (let i = 0; i < 61; i++) codes.push((await fetch(url)).status);
    assert.deepEqual(codes.slice(0, 60), Array(60).fill(200));
    assert.equal(codes[60], 429);
  });
});
