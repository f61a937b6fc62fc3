/**
 * The uptime scheduler against real HTTP servers on loopback and a real database (PGlite, and
 * PostgreSQL when PEEP_TEST_DATABASE_URL is set): results with phases, rollups with sketches, the
 * status machine with its thresholds, incidents opened once and resolved with deliveries enqueued,
 * degraded latency, heartbeats missed and recovered by a beat on the bus, and two workers sharing
 * the targets: each slot checked once, a dead worker's targets taken over.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLogger, createMemoryBus, type Db } from '@peep/pkg';
import { openTestDb, type TestDb, testEngines } from '@peep/pkg/testing';
import { createIncidentStore } from '../incidents/store.js';
import { startServer, type TestServer } from '../probes/testing.js';
import { createScheduler, HEARTBEAT } from './scheduler.js';

const log = createLogger({ level: 'silent' });

async function seedProject(db: Db): Promise<{ projectId: string; envId: string }> {
  const p = await db.query<{ id: string }>(
    `INSERT INTO projects (slug, name) VALUES ('shop', 'Shop') RETURNING id`,
  );
  const projectId = (p.rows[0] as { id: string }).id;
  const e = await db.query<{ id: string }>(
    `INSERT INTO environments (project_id, slug, name, position) VALUES ($1, 'prod', 'Production', 0) RETURNING id`,
    [projectId],
  );
  return { projectId, envId: (e.rows[0] as { id: string }).id };
}

async function addTarget(
  db: Db,
  ids: { projectId: string; envId: string },
  t: {
    name: string;
    kind?: string;
    spec?: unknown;
    interval?: number;
    grace?: number;
    failAfter?: number;
    recoverAfter?: number;
    degradedMs?: number;
  },
): Promise<string> {
  const r = await db.query<{ id: string }>(
    `INSERT INTO targets (project_id, environment_id, name, kind, spec, interval_s, grace_s, fail_after,
       recover_after, degraded_ms)
     VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8, $9, $10) RETURNING id`,
    [
      ids.projectId,
      ids.envId,
      t.name,
      t.kind ?? 'http',
      JSON.stringify(t.spec ?? {}),
      t.interval ?? 5,
      t.grace ?? 0,
      t.failAfter ?? 1,
      t.recoverAfter ?? 1,
      t.degradedMs ?? null,
    ],
  );
  return (r.rows[0] as { id: string }).id;
}

const http = (url: string) => ({ kind: 'http', url, method: 'GET', timeoutMs: 2000 });

async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined | null | false>,
  ms = 15_000,
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

for (const engine of testEngines()) {
  describe(`uptime scheduler (${engine})`, { timeout: 120_000 }, () => {
    let t: TestDb;
    let up: TestServer;
    let flaky: TestServer;
    let slow: TestServer;
    let failing = false;

    before(async () => {
      t = await openTestDb(engine);
      up = await startServer((_req, res) => res.end('ok'));
      flaky = await startServer((_req, res) => {
        res.statusCode = failing ? 500 : 200;
        res.end(failing ? 'boom' : 'ok');
      });
      slow = await startServer((_req, res) => void setTimeout(() => res.end('ok'), 120));
    });
    after(async () => {
      await Promise.all([up.close(), flaky.close(), slow.close()]);
      await t.drop();
    });

    test('checks, stores, rolls up; opens and resolves incidents once, with deliveries; heartbeats', async () => {
      const { db } = t;
      const ids = await seedProject(db);
      await db.query(
        `INSERT INTO channels (project_id, name, kind, url_sealed, url_hint)
         VALUES ($1, 'ops', 'webhook', 'sealed-elsewhere', 'http://127.0.0.1/…')`,
        [ids.projectId],
      );
      const okId = await addTarget(db, ids, { name: 'home', spec: http(`${up.origin}/`) });
      const flakyId = await addTarget(db, ids, {
        name: 'checkout',
        spec: http(`${flaky.origin}/pay`),
        failAfter: 2,
        recoverAfter: 1,
      });
      const slowId = await addTarget(db, ids, {
        name: 'search',
        spec: http(`${slow.origin}/`),
        degradedMs: 50,
      });
      const beatId = await addTarget(db, ids, { name: 'nightly', kind: 'heartbeat', interval: 5, grace: 0 });
      await db.query(`UPDATE targets SET created_at = now() - interval '10 seconds' WHERE id = $1`, [beatId]);
      await addTarget(db, ids, { name: 'paused', spec: http(`${up.origin}/`) });
      await db.query(`UPDATE targets SET enabled = false WHERE name = 'paused'`);

      const bus = createMemoryBus();
      const s = createScheduler({
        db,
        bus,
        log,
        incidents: createIncidentStore({ publicUrl: 'https://peep.example' }),
        tickMs: 200,
        writer: { flushMs: 50 },
      });
      const started = Date.now();
      await s.start();
      try {
        const status = async (id: string) =>
          (await db.query<{ status: string }>('SELECT status FROM targets WHERE id = $1', [id])).rows[0]
            ?.status;
        // Within one interval every enabled target has a first result.
        await waitFor(
          'first results',
          async () => (await status(okId)) === 'up' && (await status(slowId)) === 'up',
        );
        assert.ok(Date.now() - started < 7_000);
        const r = await db.query<{
          ok: boolean;
          duration_ms: number;
          connect_ms: number | null;
          first_byte_ms: number | null;
          status_code: number;
        }>(
          'SELECT ok, duration_ms, connect_ms, first_byte_ms, status_code FROM check_results WHERE target_id = $1',
          [okId],
        );
        assert.equal(r.rows[0]?.ok, true);
        assert.equal(r.rows[0]?.status_code, 200);
        assert.ok((r.rows[0]?.connect_ms ?? -1) >= 0 && (r.rows[0]?.first_byte_ms ?? -1) >= 0);
        const roll = await db.query<{ count: string; failures: string; sketch: number[] }>(
          'SELECT count, failures, sketch FROM target_rollups_1m WHERE target_id = $1',
          [slowId],
        );
        assert.ok(Number(roll.rows[0]?.count) >= 1);
        assert.equal(Number(roll.rows[0]?.failures), 0);
        assert.ok((roll.rows[0]?.sketch.length ?? 0) >= 2);
        // The paused target is never checked.
        const paused = await db.query(
          `SELECT 1 FROM check_results c JOIN targets t ON t.id = c.target_id WHERE t.name = 'paused'`,
        );
        assert.equal(paused.rows.length, 0);

        // Slow answers (120 ms > 50 ms) open one `degraded` incident; the heartbeat never beat: missed.
        const incident = (id: string, kind: string) =>
          db
            .query<{ id: string; status: string; number: number; title: string }>(
              'SELECT id, status, number, title FROM incidents WHERE subject_id = $1 AND kind = $2 ORDER BY opened_at',
              [id, kind],
            )
            .then((x) => x.rows);
        await waitFor('degraded incident', async () => (await incident(slowId, 'degraded')).length === 1);
        assert.equal((await incident(slowId, 'degraded'))[0]?.title, 'search is slow');
        await waitFor('heartbeat missed', async () => (await status(beatId)) === 'down');
        const missed = await db.query<{ last_error_class: string; error_class: string }>(
          `SELECT t.last_error_class, c.error_class FROM targets t JOIN check_results c ON c.target_id = t.id
           WHERE t.id = $1`,
          [beatId],
        );
        assert.equal(missed.rows[0]?.last_error_class, 'missed');
        assert.equal(missed.rows[0]?.error_class, 'missed');
        assert.ok((s.stats().outcomes.missed ?? 0) >= 1);
        assert.equal((await incident(beatId, 'heartbeat_missed')).length, 1);

        // checkout fails: down only after two failures in a row, one incident, one delivery per channel.
        failing = true;
        const failedAt = Date.now();
        await waitFor('checkout down', async () => (await status(flakyId)) === 'down', 15_000);
        assert.ok(Date.now() - failedAt >= 4_000, 'down needs two failed checks, an interval apart');
        const [open] = await waitFor('incident', async () => {
          const x = await incident(flakyId, 'down');
          return x.length === 1 && x;
        });
        assert.equal(open?.status, 'open');
        assert.equal(open?.title, 'checkout is down');
        const d = await db.query<{
          type: string;
          message: { url: string; incident: { reason: string; numbers: Record<string, unknown> } };
        }>('SELECT type, message FROM deliveries WHERE incident_id = $1', [open?.id]);
        assert.equal(d.rows.length, 1);
        assert.equal(d.rows[0]?.type, 'opened');
        assert.equal(
          d.rows[0]?.message.url,
          `https://peep.example/projects/${ids.projectId}/uptime/incidents/${open?.number}`,
        );
        assert.match(d.rows[0]?.message.incident.reason ?? '', /HTTP 500|status/);
        assert.equal(d.rows[0]?.message.incident.numbers['failed checks in a row'], 2);
        const events = await db.query<{ type: string; actor_name: string }>(
          'SELECT type, actor_name FROM incident_events WHERE incident_id = $1 ORDER BY id',
          [open?.id],
        );
        assert.deepEqual(
          events.rows.map((e) => [e.type, e.actor_name]),
          [['opened', 'peep']],
        );

        // A beat arrives: the heartbeat is up within a second, its incident resolved.
        await db.query('UPDATE targets SET last_beat_at = now() WHERE id = $1', [beatId]);
        const beatAt = Date.now();
        bus.publish(HEARTBEAT, { targetId: beatId, shard: 0 });
        await waitFor('heartbeat up', async () => (await status(beatId)) === 'up', 3_000);
        assert.ok(Date.now() - beatAt < 1_500);
        assert.equal((await incident(beatId, 'heartbeat_missed'))[0]?.status, 'resolved');

        // checkout recovers: resolved with a `resolved` delivery; the next failure would open a new one.
        failing = false;
        await waitFor('checkout up', async () => (await status(flakyId)) === 'up', 10_000);
        await waitFor('resolved', async () => (await incident(flakyId, 'down'))[0]?.status === 'resolved');
        const types = await db.query<{ type: string }>(
          'SELECT type FROM deliveries WHERE incident_id = $1 ORDER BY created_at',
          [open?.id],
        );
        assert.deepEqual(
          types.rows.map((x) => x.type),
          ['opened', 'resolved'],
        );
        const st = s.stats();
        assert.equal(st.shards, 64);
        assert.equal(st.targets, 4);
        assert.ok(st.checks >= 10 && st.written >= 10, JSON.stringify(st));
        assert.ok((st.lagP99Ms ?? 1e9) < 500, `lag p99 ${st.lagP99Ms}`);
      } finally {
        await s.stop();
      }
    });

    test('a target down in a maintenance window opens its incident when the window ends, not before', async () => {
      const { db } = t;
      const p = await db.query<{ id: string }>(
        `INSERT INTO projects (slug, name) VALUES ('maint', 'Maint') RETURNING id`,
      );
      const projectId = (p.rows[0] as { id: string }).id;
      const e = await db.query<{ id: string }>(
        `INSERT INTO environments (project_id, slug, name, position) VALUES ($1, 'prod', 'Production', 0) RETURNING id`,
        [projectId],
      );
      const ids = { projectId, envId: (e.rows[0] as { id: string }).id };
      const down = await startServer((_req, res) => {
        res.statusCode = 503;
        res.end('planned work');
      });
      const id = await addTarget(db, ids, { name: 'api', spec: http(`${down.origin}/`) });
      // Every check in the first ~6 s falls inside the window (the first one comes within 5 s).
      const endsAt = new Date(Date.now() + 6_000);
      await db.query(
        `INSERT INTO maintenance_windows (project_id, title, starts_at, ends_at) VALUES ($1, 'db upgrade', now() - interval '1 minute', $2)`,
        [projectId, endsAt],
      );
      const s = createScheduler({
        db,
        bus: createMemoryBus(),
        log,
        incidents: createIncidentStore(),
        tickMs: 200,
        writer: { flushMs: 50 },
      });
      await s.start();
      try {
        const incidents = () =>
          db
            .query<{ opened_at: Date; reason: string }>(
              `SELECT opened_at, reason FROM incidents WHERE subject_id = $1 AND kind = 'down'`,
              [id],
            )
            .then((r) => r.rows);
        await waitFor('down in the window', async () => {
          const r = await db.query<{ status: string }>('SELECT status FROM targets WHERE id = $1', [id]);
          return r.rows[0]?.status === 'down';
        });
        assert.ok(Date.now() < endsAt.getTime(), 'the first failed check came inside the window');
        assert.deepEqual(await incidents(), [], 'suppressed while the window lasts');
        const [inc] = await waitFor('incident after the window', async () => {
          const r = await incidents();
          return r.length > 0 && r;
        });
        assert.ok(new Date(inc?.opened_at as Date).getTime() >= endsAt.getTime());
        assert.match(inc?.reason ?? '', /outlasted it/);
      } finally {
        await s.stop({ releaseLeases: true });
        await down.close();
      }
    });

    test('two workers: every slot checked once; a dead worker hands its targets over within one interval', async () => {
      const fresh = await openTestDb(engine);
      const { db } = fresh;
      try {
        const ids = await seedProject(db);
        const targets: string[] = [];
        for (let i = 0; i < 24; i++)
          targets.push(await addTarget(db, ids, { name: `t${i}`, spec: http(`${up.origin}/${i}`) }));
        const opts = {
          db,
          bus: createMemoryBus(),
          log,
          tickMs: 200,
          leaseTtlMs: 1_000,
          writer: { flushMs: 50 },
        };
        const a = createScheduler({ ...opts, workerId: 'a' });
        const b = createScheduler({ ...opts, workerId: 'b' });
        await a.start();
        await b.start();
        // Fair shares settle within a few ticks.
        await waitFor('shares', async () => a.stats().shards === 32 && b.stats().shards === 32, 5_000);
        const from = new Date();
        await sleep(10_500);
        await a.flush();
        await b.flush();
        const counted = await db.query<{ target_id: string; n: number; workers: number; gap: number | null }>(
          `SELECT target_id, count(*)::int AS n, count(DISTINCT worker)::int AS workers,
             extract(epoch FROM min(d)) AS gap
           FROM (SELECT target_id, worker, time - lag(time) OVER (PARTITION BY target_id ORDER BY time) AS d
                 FROM check_results WHERE time >= $1) x GROUP BY target_id`,
          [from],
        );
        assert.equal(counted.rows.length, 24);
        for (const r of counted.rows) {
          assert.ok(r.n === 2 || r.n === 3, `${r.target_id}: ${r.n} checks in 10.5 s at a 5 s interval`);
          assert.equal(r.workers, 1);
          assert.ok(r.gap === null || r.gap > 4.5, `two checks ${r.gap} s apart`);
        }
        // a dies without giving its leases back: b takes every shard once they expire.
        await a.stop({ releaseLeases: false });
        const died = Date.now();
        await waitFor('takeover', async () => b.stats().shards === 64, 5_000);
        const tookOver = Date.now() - died;
        assert.ok(tookOver < 3_000, `took ${tookOver} ms`);
        const after = new Date();
        await sleep(5_500);
        await b.flush();
        const checked = await db.query<{ n: number }>(
          `SELECT count(DISTINCT target_id)::int AS n FROM check_results WHERE time >= $1 AND worker = 'b'`,
          [after],
        );
        assert.equal(checked.rows[0]?.n, 24, 'every target checked by b within one interval of the takeover');
        await b.stop();
      } finally {
        await fresh.drop();
      }
    });
  });
}
