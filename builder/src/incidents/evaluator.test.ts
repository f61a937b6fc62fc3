/**
 * The anomaly evaluator on a real database (PGlite, and PostgreSQL when PEEP_TEST_DATABASE_URL is
 * set): three hours of ordinary minutes in rollups_1m (two shards) and target_rollups_1m learned
 * through evaluateOnce with an injected clock, then a latency spike opening `latency_anomaly` on the
 * third slow minute and resolving on the fifth normal one, error-rate rules (20 % opens, 1 % and
 * low-traffic minutes do not), service_rules' p95 rule, one incident per subject and kind with
 * deliveries enqueued, each minute evaluated once (a second pass and a concurrent one change
 * nothing), and the time of a pass over many series.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createLogger, type Db } from '@peep/pkg';
import { Sketch } from '@peep/pkg/sketch';
import { openTestDb, type TestDb, testEngines } from '@peep/pkg/testing';
import { createEvaluator } from './evaluator.js';
import { createIncidentStore } from './store.js';

const log = createLogger({ level: 'silent' });
const MIN = 60_000;
const T0 = Date.UTC(2026, 2, 2, 8, 0); // minute 0 of the test series
const SETTLE = 10_000;

/** mulberry32 + Box-Muller: a seeded standard normal. */
function normals(seed: number): () => number {
  let a = seed >>> 0;
  const u = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(u() || 1e-12)) * Math.cos(2 * Math.PI * u());
}

/** A sketch of `n` durations, log-normal around `base` ms. */
function sketchOf(n: number, base: number, z: () => number): Sketch {
  const s = new Sketch();
  for (let i = 0; i < n; i++) s.add(base * Math.exp(0.25 * z()));
  return s;
}
const lit = (s: Sketch) => `{${s.toArray().join(',')}}`;

interface SvcMinute {
  minute: number;
  count: number;
  errors: number;
  base: number;
}

async function insertService(db: Db, ids: Ids, service: string, minutes: SvcMinute[], seed: number) {
  const z = normals(seed);
  const rows: [string, string, string, number, Date, number, number, string][] = [];
  for (const m of minutes) {
    // Two ingest shards, half the requests each; the evaluator adds them up.
    const half = Math.floor(m.count / 2);
    const parts = [
      { shard: 0, count: half, errors: Math.floor(m.errors / 2) },
      { shard: 1, count: m.count - half, errors: m.errors - Math.floor(m.errors / 2) },
    ];
    for (const p of parts)
      rows.push([
        '',
        '',
        '0',
        p.shard,
        new Date(T0 + m.minute * MIN),
        p.count,
        p.errors,
        lit(sketchOf(p.count, m.base, z)),
      ]);
    // A route row (not a service total) far slower: must be ignored.
    rows.push(['/slow', 'GET', '2', 0, new Date(T0 + m.minute * MIN), 3, 0, lit(sketchOf(3, 5000, z))]);
  }
  await db.query(
    `INSERT INTO rollups_1m (project_id, environment_id, service, route, method, status_class, shard, bucket,
       count, errors, sum_ms, min_ms, max_ms, bytes_in, bytes_out, sketch)
     SELECT $1, $2, $3, r, m, sc::smallint, sh, b, c, e, 0, 0, 0, 0, 0, s::bigint[]
       FROM unnest($4::text[], $5::text[], $6::text[], $7::int[], $8::timestamptz[], $9::bigint[], $10::bigint[],
         $11::text[]) AS x(r, m, sc, sh, b, c, e, s)`,
    [
      ids.projectId,
      ids.envId,
      service,
      rows.map((r) => r[0]),
      rows.map((r) => r[1]),
      rows.map((r) => r[2]),
      rows.map((r) => r[3]),
      rows.map((r) => r[4]),
      rows.map((r) => r[5]),
      rows.map((r) => r[6]),
      rows.map((r) => r[7]),
    ],
  );
}

async function insertTarget(
  db: Db,
  targetId: string,
  minutes: { minute: number; base: number }[],
  seed: number,
) {
  const z = normals(seed);
  await db.query(
    `INSERT INTO target_rollups_1m (target_id, bucket, count, failures, sum_ms, min_ms, max_ms, sketch)
     SELECT $1, b, 12, 0, 0, 0, 0, s::bigint[] FROM unnest($2::timestamptz[], $3::text[]) AS x(b, s)`,
    [
      targetId,
      minutes.map((m) => new Date(T0 + m.minute * MIN)),
      minutes.map((m) => lit(sketchOf(12, m.base, z))),
    ],
  );
}

interface Ids {
  projectId: string;
  envId: string;
}

async function seed(db: Db, slug = 'shop'): Promise<Ids> {
  const p = await db.query<{ id: string }>(
    `INSERT INTO projects (slug, name) VALUES ($1, 'Shop') RETURNING id`,
    [slug],
  );
  const projectId = (p.rows[0] as { id: string }).id;
  const e = await db.query<{ id: string }>(
    `INSERT INTO environments (project_id, slug, name, position) VALUES ($1, 'prod', 'Production', 0) RETURNING id`,
    [projectId],
  );
  return { projectId, envId: (e.rows[0] as { id: string }).id };
}

async function addTarget(db: Db, ids: Ids, name: string, anomaly = true): Promise<string> {
  const r = await db.query<{ id: string }>(
    `INSERT INTO targets (project_id, environment_id, name, kind, spec, interval_s, anomaly)
     VALUES ($1, $2, $3, 'http', '{}', 5, $4) RETURNING id`,
    [ids.projectId, ids.envId, name, anomaly],
  );
  return (r.rows[0] as { id: string }).id;
}

interface Row {
  id: string;
  subject_type: string;
  subject_id: string;
  subject_name: string;
  kind: string;
  status: string;
  title: string;
  reason: string;
  numbers: Record<string, string | number>;
  opened_at: Date;
  resolved_at: Date | null;
}
const incidents = async (db: Db) =>
  (await db.query<Row>('SELECT * FROM incidents ORDER BY opened_at, kind, subject_name')).rows;
const states = async (db: Db) =>
  (
    await db.query<{ k: string; state: unknown }>(
      `SELECT subject_type || '/' || subject_id || '/' || metric AS k, state FROM detector_state ORDER BY 1`,
    )
  ).rows;

for (const engine of testEngines()) {
  describe(`anomaly evaluator (${engine})`, { timeout: 120_000 }, () => {
    let t: TestDb;
    let db: Db;
    let ids: Ids;
    let shop: string;
    let clockMs = 0;
    let evaluator: ReturnType<typeof createEvaluator>;
    const store = createIncidentStore();
    /** Evaluates every minute before `minute` (exclusive); returns the pass result. */
    const evaluateThrough = (minute: number) => {
      clockMs = T0 + minute * MIN + SETTLE;
      return evaluator.evaluateOnce();
    };

    before(async () => {
      t = await openTestDb(engine);
      db = t.db;
      ids = await seed(db);
      // Every state written at every pass, so the assertions below can read them in the database (the
      // memory copy with checkpoints has its own suite at the end).
      evaluator = createEvaluator({
        db,
        log,
        incidents: store,
        now: () => new Date(clockMs),
        settleMs: SETTLE,
        checkpointEvery: 1,
      });
      await db.query(
        `INSERT INTO channels (project_id, name, kind, url_sealed, url_hint) VALUES ($1, 'ops', 'webhook', 'sealed', 'https://…')`,
        [ids.projectId],
      );
      // checkout-api: 200 req/min, p95 ≈ 100 ms, 1-3 errors; minutes 180-189 ≈ 9× slower;
      // minutes 210-219 20 % errors. Has a rule row: p95 above 500 ms is degraded, no error rule.
      const minutes = (fn: (m: number) => Partial<SvcMinute>) =>
        Array.from({ length: 240 }, (_, m) => ({
          minute: m,
          count: 200,
          errors: 1 + (m % 3),
          base: 66,
          ...fn(m),
        }));
      await insertService(
        db,
        ids,
        'checkout-api',
        minutes((m) => ({
          ...(m >= 180 && m < 190 ? { base: 600 } : {}),
          ...(m >= 210 && m < 220 ? { errors: 40 } : {}),
        })),
        1,
      );
      await db.query(
        `INSERT INTO service_rules (project_id, environment_id, service, p95_above_ms, error_rate_above, min_requests)
         VALUES ($1, $2, 'checkout-api', 500, NULL, 20)`,
        [ids.projectId, ids.envId],
      );
      // search: no rule row (defaults: error rate above 5 % with ≥ 20 requests); 20 % errors at 210-219.
      await insertService(
        db,
        ids,
        'search',
        minutes((m) => (m >= 210 && m < 220 ? { errors: 40 } : {})),
        2,
      );
      // tiny: 5 requests a minute, 40 % failing: under min_requests, never an error_rate incident.
      await insertService(
        db,
        ids,
        'tiny',
        minutes(() => ({ count: 5, errors: 2 })),
        3,
      );
      // A target, slow at the same minutes; and one with anomaly off.
      shop = await addTarget(db, ids, 'shop website');
      const quiet = await addTarget(db, ids, 'quiet', false);
      const tmin = Array.from({ length: 240 }, (_, m) => ({
        minute: m,
        base: m >= 180 && m < 190 ? 700 : 80,
      }));
      await insertTarget(db, shop, tmin, 4);
      await insertTarget(db, quiet, tmin, 5);
    });
    after(async () => {
      await t?.drop();
    });

    test('first pass starts at the last closed minute; history is learned through the backfill cap without incidents', async () => {
      const first = await evaluateThrough(1);
      assert.equal(first.ran, true);
      assert.equal(first.minutes, 1);
      // A minute not yet settled is not evaluated: at 01:05 (settle 10 s) minute 0 is still the last.
      clockMs = T0 + 2 * MIN + 5_000;
      assert.equal((await evaluator.evaluateOnce()).minutes, 0);
      // 60-minute jumps: each pass evaluates the 60 minutes since the cursor.
      for (const m of [61, 121, 180]) {
        const r = await evaluateThrough(m);
        assert.equal(r.minutes, m === 180 ? 59 : 60);
      }
      assert.deepEqual(await incidents(db), [], 'three hours of ordinary minutes open nothing');
      const keys = (await states(db)).map((s) => s.k);
      assert.deepEqual(keys, [
        'service//cursor',
        'service/checkout-api/error_rate',
        'service/checkout-api/latency',
        'service/checkout-api/rules',
        'service/search/error_rate',
        'service/search/latency',
        'service/search/rules',
        'service/tiny/error_rate',
        'service/tiny/latency',
        'service/tiny/rules',
        `target/${shop}/latency`,
      ]);
    });

    test('a latency spike opens latency_anomaly on the third slow minute (service and target), degraded by rule', async () => {
      await evaluateThrough(182); // minutes 180, 181: slow, pending
      assert.deepEqual(await incidents(db), []);
      const r = await evaluateThrough(183); // minute 182: third in a row
      assert.equal(r.minutes, 1);
      const open = await incidents(db);
      assert.deepEqual(
        open.map((i) => [i.subject_name, i.kind, i.status]),
        [
          ['checkout-api', 'degraded', 'open'],
          ['checkout-api', 'latency_anomaly', 'open'],
          ['shop website', 'latency_anomaly', 'open'],
        ],
      );
      const svc = open.find((i) => i.kind === 'latency_anomaly' && i.subject_type === 'service') as Row;
      assert.equal(svc.title, 'checkout-api is slower than usual');
      assert.equal(svc.subject_id, 'checkout-api');
      assert.equal(new Date(svc.opened_at).getTime(), T0 + 183 * MIN);
      assert.equal(svc.numbers.window, new Date(T0 + 182 * MIN).toISOString());
      assert.equal(svc.numbers.requests, 200);
      const now = Number.parseInt(String(svc.numbers['p95 now']), 10);
      const usual = Number.parseInt(String(svc.numbers['usual p95']), 10);
      assert.ok(now > 700 && now < 1300, `p95 now ${svc.numbers['p95 now']}`);
      assert.ok(usual > 80 && usual < 130, `usual p95 ${svc.numbers['usual p95']}`);
      assert.match(svc.reason, /^p95 \d+ ms vs usual \d+ ms/);
      const tgt = open.find((i) => i.subject_type === 'target') as Row;
      assert.equal(tgt.title, 'shop website is slower than usual');
      assert.equal(tgt.subject_id, shop);
      assert.equal(tgt.numbers.checks, 12);
      const degraded = open.find((i) => i.kind === 'degraded') as Row;
      assert.equal(degraded.title, 'checkout-api p95 is above 500 ms');
      assert.equal(degraded.numbers.threshold, '500 ms');
      // The webhook channel got one opened delivery per incident, in the same transaction.
      const d = await db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM deliveries WHERE type = 'opened'`,
      );
      assert.equal(d.rows[0]?.n, 3);
    });

    test('the spike continuing keeps one incident each; recovery resolves on the fifth normal minute', async () => {
      await evaluateThrough(190); // rest of the spike
      assert.equal((await incidents(db)).length, 3);
      await evaluateThrough(194); // minutes 190-193: four normal
      assert.ok(
        (await incidents(db)).filter((i) => i.kind === 'latency_anomaly').every((i) => i.status === 'open'),
      );
      await evaluateThrough(195); // minute 194: the fifth
      const all = await incidents(db);
      const anomalies = all.filter((i) => i.kind === 'latency_anomaly');
      assert.equal(anomalies.length, 2);
      for (const i of anomalies) {
        assert.equal(i.status, 'resolved', `${i.subject_name} resolved`);
        assert.equal(new Date(i.resolved_at as Date).getTime(), T0 + 195 * MIN);
      }
      // The degraded rule closes after 3 good minutes (minute 192).
      assert.equal(all.find((i) => i.kind === 'degraded')?.status, 'resolved');
      const d = await db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM deliveries WHERE type = 'resolved'`,
      );
      assert.equal(d.rows[0]?.n, 3);
    });

    test('a minute is never evaluated twice: a second pass, and two concurrent evaluators, change nothing', async () => {
      const before = await states(db);
      const again = await evaluator.evaluateOnce();
      assert.equal(again.minutes, 0);
      assert.deepEqual(await states(db), before);
      // Two evaluators (two replicas) at the same time for the next minute: it is evaluated once.
      clockMs = T0 + 196 * MIN + SETTLE;
      const other = createEvaluator({
        db,
        log,
        incidents: store,
        now: () => new Date(clockMs),
        settleMs: SETTLE,
      });
      const [a, b] = await Promise.all([evaluator.evaluateOnce(), other.evaluateOnce()]);
      assert.equal(a.minutes + b.minutes, 1, JSON.stringify([a, b]));
      const cursor = (await states(db)).find((s) => s.k === 'service//cursor');
      assert.equal((cursor?.state as { next: number }).next, T0 + 196 * MIN);
    });

    test('error rate: 20 % opens error_rate (default rule) and error_rate_anomaly; 1 % and 5-request minutes do not', async () => {
      await evaluateThrough(212); // minutes 210, 211 at 20 %
      assert.equal((await incidents(db)).filter((i) => i.status !== 'resolved').length, 0);
      await evaluateThrough(213); // minute 212: third
      const open = (await incidents(db)).filter((i) => i.status !== 'resolved');
      assert.deepEqual(
        open.map((i) => [i.subject_name, i.kind]),
        [
          ['search', 'error_rate'],
          ['checkout-api', 'error_rate_anomaly'],
          ['search', 'error_rate_anomaly'],
        ],
      );
      const rule = open.find((i) => i.kind === 'error_rate') as Row;
      assert.equal(rule.title, 'search error rate is above 5.0%');
      assert.equal(rule.numbers['error rate now'], '20.0%');
      assert.match(rule.reason, /^error rate 20\.0% of 200 requests above 5\.0%/);
      const anomaly = open.find((i) => i.kind === 'error_rate_anomaly' && i.subject_name === 'search') as Row;
      assert.equal(anomaly.title, 'search has more errors than usual');
      // Through the end: the rule closes after 3 good minutes, the anomaly after 5.
      await evaluateThrough(240);
      const all = await incidents(db);
      assert.ok(all.every((i) => i.status === 'resolved'));
      assert.ok(!all.some((i) => i.subject_name === 'tiny'), 'tiny never opened anything');
      assert.ok(!all.some((i) => i.subject_name === 'quiet'), 'a target with anomaly off is not evaluated');
      assert.equal(all.filter((i) => i.kind === 'error_rate').length, 1);
    });

    test('minutes without data feed nothing; a lagging cursor skips to the backfill cap', async () => {
      const before = await states(db);
      // Two hours later with no rollups: 60 minutes "evaluated" (none with data), no state change.
      const r = await evaluateThrough(360);
      assert.equal(r.minutes, 60);
      assert.equal(r.points, 0);
      const after = await states(db);
      assert.deepEqual(
        after.filter((s) => s.k !== 'service//cursor'),
        before.filter((s) => s.k !== 'service//cursor'),
      );
    });

    test('turning anomaly detection off resolves the open anomaly and drops the state; deleting drops it too', async () => {
      // Two hours without data (a gap breaks runs but keeps the baseline), then a slow spell again.
      await insertTarget(
        db,
        shop,
        Array.from({ length: 10 }, (_, i) => ({ minute: 360 + i, base: i >= 6 ? 700 : 80 })),
        6,
      );
      await evaluateThrough(370);
      const open = (await incidents(db)).filter((i) => i.status !== 'resolved');
      assert.deepEqual(
        open.map((i) => [i.subject_name, i.kind]),
        [['shop website', 'latency_anomaly']],
      );
      await db.query('UPDATE targets SET anomaly = false WHERE id = $1', [shop]);
      const r = await evaluateThrough(371);
      assert.equal(r.resolved, 1);
      assert.ok(
        (await incidents(db)).every((i) => i.status === 'resolved'),
        'the open anomaly is resolved',
      );
      const ev = await db.query<{ body: string }>(
        `SELECT body FROM incident_events WHERE incident_id = $1 AND type = 'resolved'`,
        [open[0]?.id],
      );
      assert.equal(ev.rows[0]?.body, 'Resolved: anomaly detection turned off for the target.');
      assert.ok(!(await states(db)).some((s) => s.k === `target/${shop}/latency`));
      // A deleted target's state goes as well.
      await db.query('UPDATE targets SET anomaly = true WHERE id = $1', [shop]);
      await insertTarget(db, shop, [{ minute: 371, base: 80 }], 7);
      await evaluateThrough(372);
      assert.ok((await states(db)).some((s) => s.k === `target/${shop}/latency`));
      await db.query('DELETE FROM targets WHERE id = $1', [shop]);
      await evaluateThrough(373);
      assert.ok(!(await states(db)).some((s) => s.k.startsWith('target/')));
    });

    test('pass time for many series (printed)', async () => {
      const big = await openTestDb(engine);
      try {
        const p = await seed(big.db, 'big');
        const services = 300;
        const targets = 100;
        for (let i = 0; i < services; i++)
          await insertService(
            big.db,
            p,
            `svc-${i}`,
            [0, 1].map((minute) => ({ minute, count: 100, errors: 1, base: 50 })),
            100 + i,
          );
        for (let i = 0; i < targets; i++)
          await insertTarget(
            big.db,
            await addTarget(big.db, p, `t-${i}`),
            [0, 1].map((minute) => ({ minute, base: 80 })),
            900 + i,
          );
        let now = 0;
        const ev = createEvaluator({
          db: big.db,
          log,
          incidents: store,
          now: () => new Date(now),
          settleMs: SETTLE,
        });
        now = T0 + MIN + SETTLE;
        const first = await ev.evaluateOnce();
        now = T0 + 2 * MIN + SETTLE;
        const second = await ev.evaluateOnce();
        assert.equal(first.series, services + targets);
        assert.equal(second.series, services + targets);
        assert.equal(second.points, services + targets);
        console.log(
          `# evaluator pass (${engine}): ${services + targets} series × 1 minute: first ${first.ms.toFixed(0)} ms (no state), next ${second.ms.toFixed(0)} ms (states loaded and saved)`,
        );
      } finally {
        await big.drop();
      }
    });
  });
}

for (const engine of testEngines()) {
  describe(`anomaly evaluator memory copy and take-over (${engine})`, { timeout: 120_000 }, () => {
    let t: TestDb;
    let db: Db;
    let ids: Ids;
    let clockMs = 0;
    const store = createIncidentStore();
    const make = () =>
      createEvaluator({ db, log, incidents: store, now: () => new Date(clockMs), settleMs: SETTLE });
    const through = (ev: ReturnType<typeof createEvaluator>, minute: number) => {
      clockMs = T0 + minute * MIN + SETTLE;
      return ev.evaluateOnce();
    };

    before(async () => {
      t = await openTestDb(engine);
      db = t.db;
      ids = await seed(db, 'memo');
      const minutes = Array.from({ length: 240 }, (_, m) => ({
        minute: m,
        count: 200,
        errors: 1 + (m % 3),
        base: m >= 180 && m < 190 ? 600 : 66,
      }));
      await insertService(db, ids, 'checkout-api', minutes, 11);
      const shop = await addTarget(db, ids, 'shop website');
      await insertTarget(
        db,
        shop,
        minutes.map((m) => ({ minute: m.minute, base: m.base === 600 ? 700 : 80 })),
        12,
      );
    });
    after(async () => {
      await t?.drop();
    });

    test('states live in memory between checkpoints; a replica taking over from the database detects the same spike; flush writes only while it owns the cursors', async () => {
      const a = make();
      for (const m of [1, 61, 121]) await through(a, m);
      // Minute by minute from here: each series is written in its turn (one minute in ten).
      for (let m = 122; m <= 177; m++) await through(a, m);
      const detectorRows = async () =>
        (await states(db)).filter((s) => s.k.endsWith('/latency') || s.k.endsWith('/error_rate'));
      const inDb = await detectorRows();
      assert.deepEqual(
        inDb.map((s) => s.k.replace(/target\/[^/]+/, 'target')),
        ['service/checkout-api/error_rate', 'service/checkout-api/latency', 'target/latency'],
        'every state reached the database in its turn',
      );
      // The database lags the memory copy for normal series: some state rows are older than the pass.
      const lastT = (s: { state: unknown }) => (s.state as { lastT: number }).lastT;
      assert.ok(
        inDb.some((s) => lastT(s) < T0 + 176 * MIN),
        'a normal series is not written every minute',
      );

      // Replica A dies here (no flush). Replica B reads the database and carries on.
      const b = make();
      for (let m = 178; m <= 182; m++) await through(b, m);
      assert.deepEqual(await incidents(db), [], 'nothing opened before the third slow minute');
      await through(b, 183);
      assert.deepEqual(
        (await incidents(db)).map((i) => [i.subject_name, i.kind]),
        [
          ['checkout-api', 'latency_anomaly'],
          ['shop website', 'latency_anomaly'],
        ],
        'opened on the third slow minute, as without a take-over',
      );
      // Open anomalies are written every pass: the database knows.
      for (const s of (await states(db)).filter((s) => s.k.endsWith('/latency')))
        assert.equal((s.state as { open: boolean }).open, true, s.k);
      for (let m = 184; m <= 195; m++) await through(b, m);
      const resolved = (await incidents(db)).filter((i) => i.status === 'resolved');
      assert.equal(resolved.length, 2);
      for (const i of resolved) assert.equal(new Date(i.resolved_at as Date).getTime(), T0 + 195 * MIN);

      // A comes back with a stale copy: its cursor token is not the newest, so it reads the database.
      const r = await through(a, 196);
      assert.equal(r.minutes, 1);
      assert.equal((await incidents(db)).length, 2, 'no duplicate from the stale copy');
      // B's copy is now stale in turn: its flush writes nothing; A's writes what A has not written.
      assert.equal(await b.flush(), 0);
      await a.flush();
      for (const s of await detectorRows())
        assert.equal(lastT(s), T0 + 195 * MIN, `${s.k} written up to the last minute`);
    });
  });
}

for (const engine of testEngines()) {
  describe(`anomaly evaluator and maintenance windows (${engine})`, { timeout: 120_000 }, () => {
    let t: TestDb;
    let db: Db;
    let ids: Ids;
    let clockMs = 0;

    before(async () => {
      t = await openTestDb(engine);
      db = t.db;
      ids = await seed(db, 'maint');
      // payments: ordinary for 200 minutes, then ten times slower for good.
      const minutes = Array.from({ length: 240 }, (_, m) => ({
        minute: m,
        count: 200,
        errors: 1,
        base: m >= 200 ? 700 : 66,
      }));
      await insertService(db, ids, 'payments', minutes, 21);
      await db.query(
        `INSERT INTO maintenance_windows (project_id, title, starts_at, ends_at, services)
         VALUES ($1, 'migration', $2, $3, '{payments}')`,
        [ids.projectId, new Date(T0 + 190 * MIN), new Date(T0 + 206 * MIN)],
      );
    });
    after(async () => {
      await t?.drop();
    });

    test('an anomaly that begins in a maintenance window opens when the window ends, if it lasts', async () => {
      const ev = createEvaluator({
        db,
        log,
        incidents: createIncidentStore(),
        now: () => new Date(clockMs),
        settleMs: SETTLE,
      });
      const through = (minute: number) => {
        clockMs = T0 + minute * MIN + SETTLE;
        return ev.evaluateOnce();
      };
      for (const m of [1, 61, 121, 180]) await through(m);
      for (let m = 181; m <= 205; m++) await through(m);
      assert.deepEqual(await incidents(db), [], 'the detector opened at minute 203, inside the window');
      await through(206);
      const open = await incidents(db);
      assert.deepEqual(
        open.map((i) => [i.subject_name, i.kind, i.status]),
        [['payments', 'latency_anomaly', 'open']],
      );
      assert.equal(new Date(open[0]?.opened_at as Date).getTime(), T0 + 206 * MIN);
      assert.match(open[0]?.reason ?? '', /outlasted it/);
      await through(207);
      assert.equal((await incidents(db)).length, 1, 'opened once');
    });
  });
}
