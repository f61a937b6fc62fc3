/**
 * Client-side aggregates (`POST /api/v1/ingest/aggregates`) over real HTTP: the same requests sent as
 * events to one project and as aggregates plus sampled events to another give the same summary and
 * top routes (counts, errors, bytes, percentiles), sampled events are kept raw without counting twice,
 * and every malformed aggregate is refused with its item code.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Sketch } from '@peep/pkg/sketch';
import {
  call,
  createOwner,
  createProjectWithKey,
  ingest,
  type ProjectWithKey,
  type SignedIn,
  startTestServer,
  type TestServer,
  testEngines,
} from '../testing.js';

interface Req {
  time: number;
  route: string;
  method: string;
  status: number;
  durationMs: number;
  bytesOut: number;
}

/** Aggregates of `reqs` per 10 s window, route, method and status class, as a client would send them. */
function aggregatesOf(reqs: Req[]) {
  const by = new Map<string, { item: Record<string, unknown>; sketch: Sketch }>();
  for (const r of reqs) {
    const window = r.time - (r.time % 10_000);
    const sc = Math.floor(r.status / 100);
    const k = `${window} ${r.route} ${r.method} ${sc}`;
    let a = by.get(k);
    if (!a) {
      a = {
        item: {
          time: window,
          service: 'api',
          route: r.route,
          method: r.method,
          statusClass: sc,
          count: 0,
          sumMs: 0,
          minMs: Number.POSITIVE_INFINITY,
          maxMs: 0,
          bytesOut: 0,
        },
        sketch: new Sketch(),
      };
      by.set(k, a);
    }
    const it = a.item as { count: number; sumMs: number; minMs: number; maxMs: number; bytesOut: number };
    it.count++;
    it.sumMs += r.durationMs;
    it.minMs = Math.min(it.minMs, r.durationMs);
    it.maxMs = Math.max(it.maxMs, r.durationMs);
    it.bytesOut += r.bytesOut;
    a.sketch.add(r.durationMs);
  }
  return [...by.values()].map((a) => ({ ...a.item, sketch: a.sketch.toArray() }));
}

for (const engine of testEngines()) {
  describe(`client-side aggregates (${engine})`, () => {
    let s: TestServer;
    let owner: SignedIn;
    let asEvents: ProjectWithKey;
    let asAggregates: ProjectWithKey;
    const reqs: Req[] = [];

    before(async () => {
      s = await startTestServer({ engine });
      owner = await createOwner(s);
      asEvents = await createProjectWithKey(s, owner, { name: 'As events' });
      asAggregates = await createProjectWithKey(s, owner, { name: 'As aggregates' });
      const start = Date.now() - 3 * 60_000;
      for (let i = 0; i < 3000; i++)
        reqs.push({
          time: start + i * 50,
          route: i % 3 === 0 ? '/slow/:id' : '/fast',
          method: i % 7 === 0 ? 'POST' : 'GET',
          status: i % 23 === 0 ? 503 : i % 11 === 0 ? 404 : 200,
          durationMs: (i % 3 === 0 ? 200 : 5) * (1 + ((i * 7919) % 1000) / 250),
          bytesOut: 100 + (i % 50),
        });
    });
    after(() => s?.close());

    test('aggregates plus sampled events answer the same summary and routes as the events themselves', async () => {
      const events = reqs.map((r, i) => ({ ...r, service: 'api', requestId: `r-${i}` }));
      const e = await ingest(s, asEvents.key, 'events', events);
      assert.equal(e.status, 200);
      const aggs = aggregatesOf(reqs);
      const a = await ingest(s, asAggregates.key, 'aggregates', aggs);
      assert.equal(a.status, 200, JSON.stringify(a.body));
      assert.equal(a.body.accepted, aggs.length);
      // A sample of the same requests, raw: stored and searchable, but not counted again.
      const sample = events.filter((_, i) => i % 100 === 0).map((ev) => ({ ...ev, sampled: true }));
      const sm = await ingest(s, asAggregates.key, 'events', sample);
      assert.equal(sm.body.accepted, sample.length);

      const get = (p: ProjectWithKey, path: string) =>
        call(s, owner, 'GET', `/api/v1/projects/${p.projectId}/telemetry/${path}`);
      const one = (await get(asEvents, 'summary?from=1h')).body;
      const two = (await get(asAggregates, 'summary?from=1h')).body;
      assert.equal(one.count, 3000);
      assert.equal(two.count, 3000);
      for (const k of ['errors', 'errorRate', 'bytesOut', 'p50', 'p90', 'p95', 'p99', 'min', 'max'])
        assert.equal(two[k], one[k], k);
      assert.ok(Math.abs(two.avg - one.avg) < 1e-6);
      const routes = async (p: ProjectWithKey) =>
        ((await get(p, 'routes?from=1h&sort=traffic')).body.routes as Record<string, unknown>[])
          .map((r) => `${r.route} ${r.method} ${r.count} ${r.errors} ${r.p95}`)
          .sort();
      assert.deepEqual(await routes(asAggregates), await routes(asEvents));

      const raw = await get(asAggregates, 'events?limit=100');
      assert.equal(raw.body.events.length, sample.length);
      const found = await get(asAggregates, 'events?requestId=r-100');
      assert.equal(found.body.events[0]?.route, '/fast');
    });

    test('malformed aggregates are refused item by item with their codes; good ones in the batch count', async () => {
      const sk = new Sketch();
      sk.add(10);
      sk.add(20);
      const good = {
        time: Date.now() - 60_000,
        service: 'api',
        route: '/x',
        method: 'GET',
        statusClass: 2,
        count: 2,
        sumMs: 30,
        minMs: 10,
        maxMs: 20,
        sketch: sk.toArray(),
      };
      const bad: [unknown, string][] = [
        [{ ...good, time: undefined }, 'missing_field'],
        [{ ...good, statusClass: 6 }, 'out_of_range'],
        [{ ...good, count: 0 }, 'out_of_range'],
        [{ ...good, count: 1.5 }, 'invalid_type'],
        [{ ...good, count: 3 }, 'out_of_range'], // sketch counts add up to 2
        [{ ...good, sketch: [5000, 2] }, 'out_of_range'],
        [{ ...good, sketch: [-400, 2] }, 'out_of_range'],
        // another bucket mapping: the counts do not sit where minMs and maxMs fall
        [{ ...good, sketch: [(good.sketch[0] as number) + 10, ...good.sketch.slice(1)] }, 'out_of_range'],
        [{ ...good, sketch: [10, -1, 3] }, 'invalid_type'],
        [{ ...good, sketch: 'abc' }, 'invalid_type'],
        [{ ...good, sketch: [10] }, 'out_of_range'],
        [{ ...good, minMs: 30, maxMs: 20 }, 'out_of_range'],
        [{ ...good, sumMs: 100 }, 'out_of_range'],
        [{ ...good, errors: 1 }, 'unknown_field'],
        [{ ...good, time: Date.now() + 3_600_000 }, 'invalid_time'],
        [{ ...good, method: 'G E T' }, 'invalid_type'],
        [[good], 'not_an_object'],
      ];
      const r = await ingest(s, asEvents.key, 'aggregates', [good, ...bad.map(([b]) => b)]);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.accepted, 1);
      assert.equal(r.body.rejectedCount, bad.length);
      bad.forEach(([item, code], i) => {
        assert.equal(r.body.rejected[i]?.index, i + 1);
        assert.equal(r.body.rejected[i]?.code, code, JSON.stringify(item));
      });
      const all = await ingest(
        s,
        asEvents.key,
        'aggregates',
        bad.map(([b]) => b),
      );
      assert.equal(all.status, 400);
      assert.equal(all.body.error.code, 'validation_failed');
      const sampledWrong = await ingest(s, asEvents.key, 'events', [
        { service: 'api', route: '/', method: 'GET', status: 200, durationMs: 1, sampled: 'yes' },
      ]);
      assert.equal(sampledWrong.status, 400);
      assert.equal(sampledWrong.body.error.details.rejected[0].code, 'invalid_type');
    });
  });
}
