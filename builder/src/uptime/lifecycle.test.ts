/**
 * The scheduler's life around its targets: a target changed through the API (an `uptime.targets`
 * message) keeps what the scheduler holds in memory only (here, the count of slow checks towards
 * `degraded`, so the incident opens at the second slow check as it would have without the change);
 * stopping does not wait for checks in flight to time out, and stores nothing for them.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLogger, createMemoryBus } from '@peep/pkg';
import { openTestDb, testEngines } from '@peep/pkg/testing';
import { createIncidentStore } from '../incidents/store.js';
import { startServer } from '../probes/testing.js';
import { createScheduler, TARGETS_CHANGED } from './scheduler.js';

const log = createLogger({ level: 'silent' });

for (const engine of testEngines()) {
  describe(`uptime scheduler lifecycle (${engine})`, { timeout: 60_000 }, () => {
    test('a renamed target keeps its slow-check count: degraded opens at the second slow check', async () => {
      const t = await openTestDb(engine);
      const slow = await startServer((_req, res) => void setTimeout(() => res.end('ok'), 80));
      try {
        const p = await t.db.query<{ id: string }>(
          `INSERT INTO projects (slug, name) VALUES ('shop', 'Shop') RETURNING id`,
        );
        const projectId = (p.rows[0] as { id: string }).id;
        const e = await t.db.query<{ id: string }>(
          `INSERT INTO environments (project_id, slug, name, position) VALUES ($1, 'prod', 'Production', 0) RETURNING id`,
          [projectId],
        );
        const r = await t.db.query<{ id: string }>(
          `INSERT INTO targets (project_id, environment_id, name, kind, spec, interval_s, fail_after, degraded_ms)
           VALUES ($1, $2, 'search', 'http', $3::jsonb, 5, 2, 30) RETURNING id`,
          [
            projectId,
            (e.rows[0] as { id: string }).id,
            JSON.stringify({ kind: 'http', url: `${slow.origin}/`, method: 'GET', timeoutMs: 2000 }),
          ],
        );
        const id = (r.rows[0] as { id: string }).id;
        const bus = createMemoryBus();
        const s = createScheduler({
          db: t.db,
          bus,
          log,
          incidents: createIncidentStore(),
          tickMs: 200,
          writer: { flushMs: 50 },
        });
        await s.start();
        try {
          const checks = async () =>
            (
              await t.db.query<{ n: number }>(
                'SELECT count(*)::int AS n FROM check_results WHERE target_id = $1',
                [id],
              )
            ).rows[0]?.n ?? 0;
          while ((await checks()) < 1) await sleep(50);
          await t.db.query(`UPDATE targets SET name = 'search-api', updated_at = now() WHERE id = $1`, [id]);
          bus.publish(TARGETS_CHANGED, { projectId, targetId: id });
          while ((await checks()) < 2) await sleep(50);
          await s.flush();
          await sleep(300); // the incident is opened right after the flush that stored the state
          const inc = await t.db.query<{ title: string }>(
            `SELECT title FROM incidents WHERE subject_id = $1 AND kind = 'degraded'`,
            [id],
          );
          assert.deepEqual(
            inc.rows.map((x) => x.title),
            ['search-api is slow'],
          );
        } finally {
          await s.stop();
        }
      } finally {
        await slow.close();
        await t.drop();
      }
    });

    test('stop ends checks in flight at once and stores nothing for them', async () => {
      const t = await openTestDb(engine);
      let answered = 0;
      const hanging = await startServer(() => {
        answered++; // never responds
      });
      try {
        const p = await t.db.query<{ id: string }>(
          `INSERT INTO projects (slug, name) VALUES ('shop', 'Shop') RETURNING id`,
        );
        const projectId = (p.rows[0] as { id: string }).id;
        const e = await t.db.query<{ id: string }>(
          `INSERT INTO environments (project_id, slug, name, position) VALUES ($1, 'prod', 'Production', 0) RETURNING id`,
          [projectId],
        );
        await t.db.query(
          `INSERT INTO targets (project_id, environment_id, name, kind, spec, interval_s)
           SELECT $1, $2, 'slow-' || g, 'http', $3::jsonb, 5 FROM generate_series(1, 10) g`,
          [
            projectId,
            (e.rows[0] as { id: string }).id,
            JSON.stringify({ kind: 'http', url: `${hanging.origin}/`, method: 'GET', timeoutMs: 30_000 }),
          ],
        );
        const s = createScheduler({
          db: t.db,
          bus: createMemoryBus(),
          log,
          tickMs: 200,
          writer: { flushMs: 50 },
        });
        await s.start();
        while (answered < 3) await sleep(50); // three requests hang at the server
        assert.ok(s.stats().running >= 3, `running: ${s.stats().running}`);
        const stopping = Date.now();
        await s.stop();
        assert.ok(Date.now() - stopping < 2_000, `stop took ${Date.now() - stopping} ms`);
        const n = await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM check_results');
        assert.equal(n.rows[0]?.n, 0);
      } finally {
        await hanging.close();
        await t.drop();
      }
    });
  });
}
