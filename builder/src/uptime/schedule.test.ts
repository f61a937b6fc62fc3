/**
 * When the scheduler checks, seen from a real HTTP target server on loopback (PGlite, and
 * PostgreSQL when PEEP_TEST_DATABASE_URL is set): checks spread over the interval at each target's
 * phase from the first second (no burst at start), a restart resumes on the same phases without
 * checking anything twice, a target added through `uptime.targets` is picked up within a second and
 * a paused one is dropped as fast, a heartbeat is missed as soon as its deadline passes (not at its
 * next slot, up to an interval later) and up again on a beat.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLogger, createMemoryBus, type Db } from '@peep/pkg';
import { openTestDb, testEngines } from '@peep/pkg/testing';
import { startServer, type TestServer } from '../probes/testing.js';
import { createScheduler, HEARTBEAT, RESULTS, TARGETS_CHANGED } from './scheduler.js';
import { phaseOf } from './wheel.js';

const log = createLogger({ level: 'silent' });
const INTERVAL = 5_000;

async function seed(db: Db, origin: string, n: number) {
  const p = await db.query<{ id: string }>(
    `INSERT INTO projects (slug, name) VALUES ('shop', 'Shop') RETURNING id`,
  );
  const projectId = (p.rows[0] as { id: string }).id;
  const e = await db.query<{ id: string }>(
    `INSERT INTO environments (project_id, slug, name, position) VALUES ($1, 'prod', 'Production', 0) RETURNING id`,
    [projectId],
  );
  const envId = (e.rows[0] as { id: string }).id;
  const add = async (name: string) => {
    const r = await db.query<{ id: string }>(
      `INSERT INTO targets (project_id, environment_id, name, kind, spec, interval_s)
       VALUES ($1, $2, $3, 'http', $4::jsonb, 5) RETURNING id`,
      [
        projectId,
        envId,
        name,
        JSON.stringify({ kind: 'http', url: `${origin}/${name}`, method: 'GET', timeoutMs: 2000 }),
      ],
    );
    return (r.rows[0] as { id: string }).id;
  };
  const ids = new Map<string, string>();
  for (let i = 0; i < n; i++) ids.set(`t${i}`, await add(`t${i}`));
  return { ids, add };
}

/** Distance (ms) from `t` forward of the slot phase + k·interval just before it. */
const sinceSlot = (t: number, id: string) => {
  const d = (t - phaseOf(id, INTERVAL)) % INTERVAL;
  return d < 0 ? d + INTERVAL : d;
};

for (const engine of testEngines()) {
  describe(`uptime schedule (${engine})`, { timeout: 60_000 }, () => {
    let server: TestServer;
    const hits: { name: string; at: number }[] = [];

    before(async () => {
      server = await startServer((req, res) => {
        hits.push({ name: (req.url ?? '').slice(1), at: Date.now() });
        res.end('ok');
      });
    });
    after(() => server.close());

    test('checks spread by phase from the start; a restart resumes on the same phases, nothing checked twice', async () => {
      const t = await openTestDb(engine);
      hits.length = 0;
      try {
        const { ids } = await seed(t.db, server.origin, 50);
        const opts = { db: t.db, bus: createMemoryBus(), log, tickMs: 200, writer: { flushMs: 50 } };
        const first = createScheduler({ ...opts, workerId: 'first' });
        const startedAt = Date.now();
        await first.start();
        await sleep(INTERVAL + 500);
        await first.stop();
        const restartedAt = Date.now();
        const second = createScheduler({ ...opts, workerId: 'second' });
        await second.start();
        const resumedAt = Date.now();
        await sleep(INTERVAL + 500);
        await second.stop();

        // Every check started within 250 ms after its slot (phase + k·interval).
        for (const h of hits) {
          const id = ids.get(h.name) as string;
          assert.ok(sinceSlot(h.at, id) < 250, `${h.name} checked ${sinceSlot(h.at, id)} ms after its slot`);
        }
        // No burst: 50 targets every 5 s make 10 a second; no second holds more than 20, the first included.
        const perSecond = new Map<number, number>();
        for (const h of hits) {
          const s = Math.floor((h.at - startedAt) / 1000);
          perSecond.set(s, (perSecond.get(s) ?? 0) + 1);
        }
        assert.ok(Math.max(...perSecond.values()) <= 20, `checks per second: ${[...perSecond.entries()]}`);
        assert.ok((perSecond.get(0) ?? 0) <= 20);
        // Each target: checked in the first interval, never twice within an interval (not at the
        // restart either), and again after the restart unless its slot fell in the restart gap.
        const gap = resumedAt - restartedAt;
        let skipped = 0;
        for (const [name] of ids) {
          const at = hits.filter((h) => h.name === name).map((h) => h.at);
          assert.ok(at.length >= 2 && at.length <= 3, `${name}: ${at.length} checks`);
          for (let i = 1; i < at.length; i++)
            assert.ok(
              (at[i] as number) - (at[i - 1] as number) > INTERVAL - 300,
              `${name} checked twice: ${at}`,
            );
          if (!at.some((x) => x >= restartedAt)) skipped++;
        }
        // Only slots inside the restart gap (and the few ms around it) may be lost.
        assert.ok(
          skipped <= Math.ceil((50 * (gap + 300)) / INTERVAL),
          `${skipped} targets lost a slot (gap ${gap} ms)`,
        );
        const stored = await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM check_results');
        assert.equal(stored.rows[0]?.n, hits.length);
      } finally {
        await t.drop();
      }
    });

    test('a target added through uptime.targets is held within a second and checked at its phase; a paused one is dropped', async () => {
      const t = await openTestDb(engine);
      hits.length = 0;
      try {
        const { add } = await seed(t.db, server.origin, 1);
        const bus = createMemoryBus();
        // A long safety-net reload, so only the bus message can explain a fast pick-up.
        const s = createScheduler({
          db: t.db,
          bus,
          log,
          tickMs: 200,
          reloadMs: 600_000,
          writer: { flushMs: 50 },
        });
        const live: Record<string, unknown>[] = [];
        bus.subscribe<Record<string, unknown>>(RESULTS, (m) => live.push(m.data));
        await s.start();
        try {
          assert.equal(s.stats().targets, 1);
          const id = await add('fresh');
          const published = Date.now();
          bus.publish(TARGETS_CHANGED, { projectId: 'p', targetId: id });
          while (s.stats().targets < 2) {
            assert.ok(Date.now() - published < 1_000, 'not picked up within a second');
            await sleep(20);
          }
          while (!hits.some((h) => h.name === 'fresh')) {
            assert.ok(Date.now() - published < INTERVAL + 500, 'not checked within one interval');
            await sleep(50);
          }
          const firstHit = hits.find((h) => h.name === 'fresh') as { at: number };
          assert.ok(sinceSlot(firstHit.at, id) < 250);
          // The dashboard's live update, once the result is stored.
          while (!live.some((r) => r.targetId === id)) {
            assert.ok(Date.now() - firstHit.at < 2_000, 'no uptime.results message');
            await sleep(20);
          }
          const msg = live.find((r) => r.targetId === id) as Record<string, unknown>;
          assert.deepEqual(Object.keys(msg).sort(), [
            'at',
            'durationMs',
            'ok',
            'projectId',
            'status',
            'targetId',
          ]);
          assert.equal(msg.ok, true);
          assert.equal(msg.status, 'up');
          assert.equal(typeof msg.durationMs, 'number');
          assert.ok(Math.abs(Date.parse(msg.at as string) - firstHit.at) < 250);

          await t.db.query('UPDATE targets SET enabled = false WHERE id = $1', [id]);
          const paused = Date.now();
          bus.publish(TARGETS_CHANGED, { projectId: 'p', targetId: id });
          while (s.stats().targets > 1) {
            assert.ok(Date.now() - paused < 1_000, 'pause not seen within a second');
            await sleep(20);
          }
          const before = hits.filter((h) => h.name === 'fresh').length;
          await sleep(INTERVAL + 300);
          assert.equal(hits.filter((h) => h.name === 'fresh').length, before, 'a paused target was checked');
          assert.ok(
            hits.some((h) => h.name === 't0' && h.at > paused),
            'the other target kept being checked',
          );
        } finally {
          await s.stop();
        }
      } finally {
        await t.drop();
      }
    });

    test('without a message, the periodic check finds added and paused targets', async () => {
      const t = await openTestDb(engine);
      try {
        const { add } = await seed(t.db, server.origin, 2);
        const s = createScheduler({ db: t.db, bus: createMemoryBus(), log, tickMs: 200, reloadMs: 300 });
        await s.start();
        try {
          assert.equal(s.stats().targets, 2);
          const id = await add('quiet');
          const added = Date.now();
          while (s.stats().targets < 3) {
            assert.ok(Date.now() - added < 2_000, 'an added target not found by the safety net');
            await sleep(20);
          }
          await t.db.query('UPDATE targets SET enabled = false, updated_at = now() WHERE id = $1', [id]);
          const paused = Date.now();
          while (s.stats().targets > 2) {
            assert.ok(Date.now() - paused < 2_000, 'a paused target not dropped by the safety net');
            await sleep(20);
          }
        } finally {
          await s.stop();
        }
      } finally {
        await t.drop();
      }
    });

    test('a heartbeat is down within a second or two of its deadline, once, and up again as soon as it beats', async () => {
      const t = await openTestDb(engine);
      try {
        await seed(t.db, server.origin, 0);
        const p = await t.db.query<{ pid: string; eid: string }>(
          `SELECT p.id AS pid, e.id AS eid FROM projects p JOIN environments e ON e.project_id = p.id`,
        );
        const { pid, eid } = p.rows[0] as { pid: string; eid: string };
        // Every 60 s with 5 s of grace, created 63 s ago: its deadline is 2 s from now. Its next slot
        // (phase + k·60 s) is anywhere in the coming minute.
        const r = await t.db.query<{ id: string }>(
          `INSERT INTO targets (project_id, environment_id, name, kind, spec, interval_s, grace_s, created_at)
           VALUES ($1, $2, 'nightly', 'heartbeat', '{}', 60, 5, now() - interval '63 seconds') RETURNING id`,
          [pid, eid],
        );
        const id = (r.rows[0] as { id: string }).id;
        const bus = createMemoryBus();
        const s = createScheduler({ db: t.db, bus, log, tickMs: 200, writer: { flushMs: 50 } });
        const deadline = Date.now() + 2_000;
        await s.start();
        try {
          const status = async () =>
            (
              await t.db.query<{ status: string; last_error_class: string | null }>(
                'SELECT status, last_error_class FROM targets WHERE id = $1',
                [id],
              )
            ).rows[0];
          while ((await status())?.status !== 'down') {
            assert.ok(Date.now() - deadline < 2_500, 'not down within 2.5 s of the deadline');
            await sleep(50);
          }
          assert.ok(Date.now() >= deadline - 100, 'down before the deadline');
          assert.equal((await status())?.last_error_class, 'missed');
          await sleep(1_500);
          const misses = await t.db.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM check_results WHERE target_id = $1 AND error_class = 'missed'`,
            [id],
          );
          assert.equal(misses.rows[0]?.n, 1, 'one miss per deadline');

          await t.db.query('UPDATE targets SET last_beat_at = now() WHERE id = $1', [id]);
          const beat = Date.now();
          bus.publish(HEARTBEAT, { targetId: id, shard: 0 });
          while ((await status())?.status !== 'up') {
            assert.ok(Date.now() - beat < 1_000, 'not up within a second of the beat');
            await sleep(20);
          }
        } finally {
          await s.stop();
        }
      } finally {
        await t.drop();
      }
    });
  });
}
