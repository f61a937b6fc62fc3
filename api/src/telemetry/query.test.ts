/**
 * Telemetry queries over real ingested data: percentiles from merged sketches within 1% of the exact
 * (nearest-rank) value, windows covered by day, hour and minute rollups exactly once, filters, top
 * routes, comparison, log search with cursor pagination, and the 4xx answers for bad queries and for
 * other projects.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Sketch } from '@peep/pkg/sketch';
import {
  call,
  createOwner,
  createProjectWithKey,
  createUser,
  ingest,
  type ProjectWithKey,
  type SignedIn,
  startTestServer,
  type TestServer,
  testEngines,
} from '../testing.js';

/** A deterministic pseudo-random generator, so a failure reproduces. */
function rng(seed: number) {
  let x = seed;
  return () => {
    x = (x * 1_103_515_245 + 12_345) % 2 ** 31;
    return x / 2 ** 31;
  };
}

const exact = (sorted: number[], q: number) =>
  sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1] as number;

test('sketch: every quantile of a heavy-tailed sample is within 1% of the exact nearest-rank value', () => {
  const r = rng(7);
  const values = Array.from({ length: 50_000 }, () => Math.exp(1 + r() * 6) * (r() < 0.01 ? 20 : 1));
  const a = new Sketch();
  const b = new Sketch();
  for (const [i, v] of values.entries()) (i % 2 ? a : b).add(v);
  // Merging the stored forms is the same as one sketch of everything.
  const merged = Sketch.fromArray(a.toArray());
  merged.mergeArray(b.toArray());
  const sorted = [...values].sort((x, y) => x - y);
  for (const q of [0, 0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999, 1]) {
    const got = merged.quantile(q) as number;
    const want = exact(sorted, q);
    assert.ok(Math.abs(got - want) / want <= 0.01, `q=${q}: ${got} vs ${want}`);
  }
  assert.equal(merged.count, values.length);
  assert.equal(new Sketch().quantile(0.5), null);
  // A handful of values: p50 is the middle one, p95 and p99 the largest.
  const few = new Sketch();
  for (const v of [10, 16, 22]) few.add(v);
  assert.ok(Math.abs((few.quantile(0.5) as number) - 16) / 16 < 0.01);
  assert.ok(Math.abs((few.quantile(0.95) as number) - 22) / 22 < 0.01);
});

for (const engine of testEngines()) {
  describe(`telemetry queries (${engine})`, () => {
    let s: TestServer;
    let owner: SignedIn;
    let p: ProjectWithKey;
    let prodKey: string;
    const now = Date.now();
    const durations: number[] = [];
    const base = () => `/api/v1/projects/${p.projectId}`;
    const get = (path: string, who: SignedIn = owner) => call(s, who, 'GET', `${base()}${path}`);

    before(async () => {
      s = await startTestServer({ engine });
      owner = await createOwner(s);
      p = await createProjectWithKey(s, owner, { name: 'Queries' });
      const prodEnv = p.environments.find((e) => e.slug === 'prod');
      const k = await call(s, owner, 'POST', `${base()}/ingest-keys`, {
        name: 'prod',
        environmentId: prodEnv?.id,
      });
      prodKey = k.body.secret;
      const r = rng(42);
      const routes = ['/', '/items/:id', '/cart', '/checkout'];
      const events: Record<string, unknown>[] = [];
      // 6,000 requests over the last 3 days (so windows span day, hour and minute rollups).
      for (let i = 0; i < 6000; i++) {
        const route = routes[i % 4] as string;
        const d = Math.round(Math.exp(1 + r() * 5) * (route === '/checkout' ? 3 : 1) * 1000) / 1000;
        durations.push(d);
        events.push({
          time: now - Math.floor(r() * 3 * 86_400_000),
          service: i % 3 ? 'web' : 'api',
          route,
          method: route === '/checkout' ? 'POST' : 'GET',
          status: route === '/cart' && i % 10 === 0 ? 503 : i % 50 === 0 ? 404 : 200,
          durationMs: d,
          bytesOut: 100,
          requestId: `q-${i}`,
        });
      }
      for (let i = 0; i < events.length; i += 2000) {
        const res = await ingest(s, p.key, 'events', events.slice(i, i + 2000));
        assert.equal(res.status, 200);
      }
      const prod = await ingest(s, prodKey, 'events', [
        { service: 'web', route: '/', method: 'GET', status: 200, durationMs: 5, requestId: 'prod-1' },
      ]);
      assert.equal(prod.status, 200);
    });
    after(() => s?.close());

    test('summary over 3 days: counts exact, percentiles within 1% of exact, errors are 5xx', async () => {
      const r = await get('/telemetry/summary?from=4d&env=dev');
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.count, 6000);
      assert.equal(r.body.errors, 300); // /cart requests with i = 10 (mod 20)
      assert.equal(r.body.errorRate, 0.05);
      assert.equal(r.body.bytesOut, 600_000);
      const sorted = [...durations].sort((a, b) => a - b);
      for (const [k, q] of [
        ['p50', 0.5],
        ['p90', 0.9],
        ['p95', 0.95],
        ['p99', 0.99],
      ] as const) {
        const want = exact(sorted, q);
        assert.ok(Math.abs(r.body[k] - want) / want <= 0.01, `${k} ${r.body[k]} vs exact ${want}`);
      }
      assert.equal(r.body.max, Math.max(...durations));
      // Without an environment filter, prod's one request is included too.
      assert.equal((await get('/telemetry/summary?from=4d')).body.count, 6001);
      assert.equal((await get('/telemetry/summary?from=4d&env=prod')).body.count, 1);
    });

    test('any window is covered exactly once: series steps and split windows add up to the whole', async () => {
      const from = new Date(now - 3 * 86_400_000 - 3_600_000).toISOString();
      const to = new Date(now + 60_000).toISOString();
      const whole = (await get(`/telemetry/summary?env=dev&from=${from}&to=${to}`)).body.count;
      assert.equal(whole, 6000);
      // Two adjacent windows split at an odd instant never share a minute.
      const mid = new Date(now - 37 * 3_600_000 - 17 * 60_000 - 13_000).toISOString();
      const a = (await get(`/telemetry/summary?env=dev&from=${from}&to=${mid}`)).body.count;
      const b = (await get(`/telemetry/summary?env=dev&from=${mid}&to=${to}`)).body.count;
      assert.equal(a + b, 6000);
      // Series at minute, hour and day steps.
      // Minute steps only where minute rollups are kept (48 h): the last 6 hours.
      const recent = new Date(Math.floor((now - 6 * 3_600_000) / 300_000) * 300_000).toISOString();
      const six = (await get(`/telemetry/summary?env=dev&from=${recent}&to=${to}`)).body.count;
      const m = await get(`/telemetry/series?env=dev&from=${recent}&to=${to}&step=300`);
      assert.equal(
        m.body.count.reduce((x: number, y: number) => x + y, 0),
        six,
      );
      for (const step of [3600, 86400]) {
        const sr = await get(`/telemetry/series?env=dev&from=${from}&to=${to}&step=${step}`);
        assert.equal(sr.status, 200, JSON.stringify(sr.body));
        assert.equal(sr.body.step, step);
        const sum = sr.body.count.reduce((x: number, y: number) => x + y, 0);
        assert.equal(sum, 6000, `step ${step}`);
        assert.equal(sr.body.t.length, sr.body.p95.length);
        const empty = sr.body.count.findIndex((c: number) => c === 0);
        if (empty >= 0) assert.equal(sr.body.p95[empty], null);
      }
      // A default series picks a step giving at most ~300 points.
      const auto = await get('/telemetry/series?from=3d');
      assert.ok(auto.body.t.length <= 300 && auto.body.t.length > 10, String(auto.body.t.length));
    });

    test('filters: route, method, status class, service', async () => {
      const cart = await get('/telemetry/summary?from=4d&env=dev&route=/cart');
      assert.equal(cart.body.count, 1500);
      assert.equal(cart.body.errorRate, 0.2);
      assert.equal((await get('/telemetry/summary?from=4d&env=dev&statusClass=5')).body.count, 300);
      assert.equal((await get('/telemetry/summary?from=4d&env=dev&method=post')).body.count, 1500);
      assert.equal((await get('/telemetry/summary?from=4d&env=dev&service=api')).body.count, 2000);
      const svc = await get('/telemetry/services');
      assert.deepEqual(
        svc.body.services.map((x: { name: string; environments: string[] }) => [x.name, x.environments]),
        [
          ['api', ['dev']],
          ['web', ['dev', 'prod']],
        ],
      );
    });

    test('top routes by traffic, p95 and errors; compare two windows', async () => {
      const byP95 = await get('/telemetry/routes?from=4d&env=dev&sort=p95&service=web');
      assert.equal(byP95.status, 200);
      assert.equal(byP95.body.routes[0].route, '/checkout');
      const byErr = await get('/telemetry/routes?from=4d&env=dev&sort=errors&limit=1');
      assert.equal(byErr.body.routes.length, 1);
      assert.equal(byErr.body.routes[0].route, '/cart');
      const traffic = await get('/telemetry/routes?from=4d&env=dev');
      const total = traffic.body.routes.reduce((n: number, x: { count: number }) => n + x.count, 0);
      assert.equal(total, 6000);
      const cmp = await get(
        `/telemetry/compare?env=dev&beforeFrom=4d&beforeTo=36h&afterFrom=36h&afterTo=now`,
      );
      assert.equal(cmp.status, 200, JSON.stringify(cmp.body));
      assert.equal(cmp.body.before.count + cmp.body.after.count, 6000);
      assert.ok(cmp.body.routes.length >= 4);
      assert.ok('p95' in cmp.body.routes[0].before && 'errorRate' in cmp.body.routes[0].after);
    });

    test('recent events and the request-id lookup', async () => {
      const ev = await get('/telemetry/events?limit=5');
      assert.equal(ev.body.events.length, 5);
      const one = await get('/telemetry/events?requestId=q-17');
      assert.equal(one.body.events.length, 1);
      assert.equal(one.body.events[0].route, '/items/:id');
    });

    test('bad queries answer 4xx with documented codes', async () => {
      const cases: [string, number, string][] = [
        ['/telemetry/summary?from=1h&colour=red', 400, 'unknown_filter'],
        ['/telemetry/summary?from=nonsense', 400, 'invalid_range'],
        ['/telemetry/summary?from=1h&to=2h', 400, 'invalid_range'],
        ['/telemetry/summary?from=900d', 400, 'invalid_range'],
        ['/telemetry/summary?statusClass=9', 400, 'validation_failed'],
        ['/telemetry/summary?env=nowhere', 404, 'environment_not_found'],
        ['/telemetry/series?from=1h&step=90', 400, 'step_too_fine'],
        ['/telemetry/series?from=10d&step=60', 400, 'invalid_range'],
        ['/telemetry/series?from=5d&step=60', 400, 'step_too_fine'],
        ['/telemetry/routes?sort=fastest', 400, 'validation_failed'],
        ['/telemetry/compare?beforeFrom=2h', 400, 'invalid_range'],
        ['/logs?cursor=zzz', 400, 'invalid_cursor'],
        ['/logs?level=loud', 400, 'validation_failed'],
        ['/telemetry/summary?from=1h&from=2h', 400, 'validation_failed'],
      ];
      for (const [path, status, code] of cases) {
        const r = await get(path);
        assert.equal(r.status, status, `${path}: ${JSON.stringify(r.body)}`);
        assert.equal(r.body.error.code, code, path);
      }
      const unknown = await get('/telemetry/summary?colour=red');
      assert.ok(unknown.body.error.details.allowed.includes('service'));
    });

    test("another project's telemetry is 404; viewers may read; no credentials is 401", async () => {
      const other = await createUser(s, owner, `stranger-${engine}@example.com`);
      const r = await get('/telemetry/summary', other);
      assert.equal(r.status, 404);
      assert.equal(r.body.error.code, 'project_not_found');
      const add = await call(s, owner, 'POST', `${base()}/members`, { email: other.email, role: 'viewer' });
      assert.equal(add.status, 201, JSON.stringify(add.body));
      assert.equal((await get('/telemetry/summary?from=4d&env=dev', other)).body.count, 6000);
      assert.equal((await call(s, null, 'GET', `${base()}/logs`)).status, 401);
      const stream = await fetch(`${s.url}${base()}/stream/events`);
      assert.equal(stream.status, 401);
    });

    test('log search: text, level, service, request id, attributes; cursor pages newest first without repeats', async () => {
      const logs = Array.from({ length: 250 }, (_, i) => ({
        time: now - i * 1000,
        service: i % 2 ? 'web' : 'worker',
        level: i % 25 === 0 ? 'error' : i % 5 === 0 ? 'warn' : 'info',
        message: i % 10 === 0 ? `payment 50% failed for order ${i}` : `served item ${i}`,
        requestId: `q-${i}`,
        attributes: { region: i % 3 ? 'eu' : 'us', attempt: i % 4 },
      }));
      assert.equal((await ingest(s, p.key, 'logs', logs)).status, 200);
      const pct = await get(`/logs?q=${encodeURIComponent('50%')}`);
      assert.equal(pct.body.logs.length, 25);
      const underscore = await get('/logs?q=_');
      assert.equal(underscore.body.logs.length, 0); // LIKE wildcards are literal
      assert.equal((await get('/logs?level=error')).body.logs.length, 10);
      assert.equal((await get('/logs?level=warn&service=worker')).body.logs.length, 25);
      const byReq = await get('/logs?requestId=q-40');
      assert.equal(byReq.body.logs[0].message, 'payment 50% failed for order 40');
      assert.equal((await get('/logs?attr.region=us&level=error')).body.logs.length, 4);
      const seen = new Set<string>();
      let cursor: string | null = null;
      let last = Number.POSITIVE_INFINITY;
      do {
        const page: { body: { logs: { id: string; time: string }[]; nextCursor: string | null } } = await get(
          `/logs?limit=40${cursor ? `&cursor=${cursor}` : ''}`,
        );
        for (const l of page.body.logs) {
          assert.ok(!seen.has(l.id));
          seen.add(l.id);
          assert.ok(Date.parse(l.time) <= last);
          last = Date.parse(l.time);
        }
        cursor = page.body.nextCursor;
      } while (cursor);
      assert.equal(seen.size, 250);
    });
  });
}
