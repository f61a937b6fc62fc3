/**
 * Telemetry retention on a real database: rows older than the project's raw retention go, newer
 * ones stay; rollups expire per resolution; deleted projects leave nothing behind.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createLogger, createMemoryBus, systemClock } from '@peep/pkg';
import { openTestDb, testEngines } from '@peep/pkg/testing';
import { createBuilder } from './index.js';

const DAY = 86_400_000;

for (const engine of testEngines()) {
  describe(`telemetry retention (${engine})`, () => {
    test('raw rows past each project retention, old rollups and deleted projects are purged; the rest stays', async () => {
      const t = await openTestDb(engine);
      const db = t.db;
      try {
        const now = Date.now();
        const { rows } = await db.query<{ id: string }>(
          `INSERT INTO projects (slug, name, raw_retention_days) VALUES ('short', 'Short', 2), ('long', 'Long', 30), ('gone', 'Gone', 7)
           RETURNING id`,
        );
        const [short, long, gone] = rows.map((r) => r.id) as [string, string, string];
        const env = '00000000-0000-4000-8000-000000000001';
        let id = 1;
        const event = async (project: string, ageDays: number) =>
          db.query(
            `INSERT INTO request_events (id, project_id, environment_id, time, service, route, method, status, duration_ms)
             VALUES ($1, $2, $3, $4, 'web', '/', 'GET', 200, 1)`,
            [id++, project, env, new Date(now - ageDays * DAY)],
          );
        const log = async (project: string, ageDays: number) =>
          db.query(
            `INSERT INTO runtime_logs (id, project_id, environment_id, time, service, level, message)
             VALUES ($1, $2, $3, $4, 'web', 3, 'hello')`,
            [id++, project, env, new Date(now - ageDays * DAY)],
          );
        const rollup = async (table: string, project: string, ageMs: number) =>
          db.query(
            `INSERT INTO ${table} (project_id, environment_id, service, route, method, status_class, bucket, count,
               errors, sum_ms, min_ms, max_ms, bytes_in, bytes_out, sketch)
             VALUES ($1, $2, 'web', '', '', 0, $3, 1, 0, 1, 1, 1, 0, 0, '{0,1}')`,
            [project, env, new Date(now - ageMs)],
          );
        for (const [p, age] of [
          [short, 1],
          [short, 3],
          [long, 3],
          [long, 31],
          [gone, 1],
        ] as const) {
          await event(p, age);
          await log(p, age);
        }
        await rollup('rollups_1m', short, 10 * 3_600_000);
        await rollup('rollups_1m', short, 50 * 3_600_000);
        await rollup('rollups_1h', short, 10 * DAY);
        await rollup('rollups_1h', short, 100 * DAY);
        await rollup('rollups_1d', short, 100 * DAY);
        await rollup('rollups_1d', gone, DAY);
        await db.query(
          `INSERT INTO ingest_idempotency (project_id, key, result, created_at) VALUES ($1, 'old', '{}', $2), ($1, 'new', '{}', now())`,
          [short, new Date(now - 2 * DAY)],
        );
        await db.query('DELETE FROM projects WHERE id = $1', [gone]);

        const builder = createBuilder({
          db,
          bus: createMemoryBus(),
          log: createLogger({ level: 'silent' }),
          clock: systemClock,
          retention: { minuteHours: 48, hourDays: 90 },
        });
        await builder.runOnce();
        assert.ok(
          builder.status().every((j) => j.lastError === null),
          JSON.stringify(builder.status()),
        );

        const ages = async (table: string) =>
          (
            await db.query<{ p: string; age: number }>(
              `SELECT project_id AS p, round(extract(epoch FROM (now() - time)) / 86400)::int AS age FROM ${table} ORDER BY 1, 2`,
            )
          ).rows.map((r) => [r.p === short ? 'short' : r.p === long ? 'long' : 'gone', r.age]);
        const expected = [
          ['long', 3],
          ['short', 1],
        ].sort();
        assert.deepEqual((await ages('request_events')).sort(), expected);
        assert.deepEqual((await ages('runtime_logs')).sort(), expected);
        const count = async (table: string) =>
          (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`)).rows[0]?.n;
        assert.equal(await count('rollups_1m'), 1);
        assert.equal(await count('rollups_1h'), 1);
        assert.equal(await count('rollups_1d'), 1);
        assert.deepEqual(
          (await db.query<{ key: string }>('SELECT key FROM ingest_idempotency')).rows.map((r) => r.key),
          ['new'],
        );
      } finally {
        await t.drop();
      }
    });
  });
}

for (const engine of testEngines()) {
  describe(`uptime retention (${engine})`, () => {
    test('check results past the project retention, old target rollups and deleted targets are purged; the rest stays', async () => {
      const t = await openTestDb(engine);
      const db = t.db;
      try {
        const now = Date.now();
        const p = await db.query<{ id: string }>(
          `INSERT INTO projects (slug, name, raw_retention_days) VALUES ('shop', 'Shop', 7) RETURNING id`,
        );
        const projectId = (p.rows[0] as { id: string }).id;
        const e = await db.query<{ id: string }>(
          `INSERT INTO environments (project_id, slug, name, position) VALUES ($1, 'prod', 'Production', 0) RETURNING id`,
          [projectId],
        );
        const envId = (e.rows[0] as { id: string }).id;
        const target = async (name: string) =>
          (
            await db.query<{ id: string }>(
              `INSERT INTO targets (project_id, environment_id, name, kind, spec, interval_s)
               VALUES ($1, $2, $3, 'heartbeat', '{}', 60) RETURNING id`,
              [projectId, envId, name],
            )
          ).rows[0]?.id as string;
        const kept = await target('kept');
        const deleted = await target('deleted');
        const result = (id: string, ageMs: number) =>
          db.query(
            `INSERT INTO check_results (target_id, project_id, time, ok, duration_ms) VALUES ($1, $2, $3, true, 1)`,
            [id, projectId, new Date(now - ageMs)],
          );
        const rollup = (table: string, id: string, ageMs: number) =>
          db.query(
            `INSERT INTO ${table} (target_id, bucket, count, failures, sum_ms, min_ms, max_ms, sketch)
             VALUES ($1, $2, 1, 0, 1, 1, 1, '{0,1}')`,
            [id, new Date(now - ageMs)],
          );
        for (const id of [kept, deleted]) {
          await result(id, 3_600_000);
          await result(id, 6 * DAY);
          await result(id, 8 * DAY);
          await rollup('target_rollups_1m', id, 3_600_000);
          await rollup('target_rollups_1m', id, 50 * 3_600_000);
          await rollup('target_rollups_1h', id, 10 * DAY);
          await rollup('target_rollups_1h', id, 100 * DAY);
          await rollup('target_rollups_1d', id, DAY);
          await rollup('target_rollups_1d', id, 401 * DAY);
        }
        await db.query('DELETE FROM targets WHERE id = $1', [deleted]);

        const builder = createBuilder({
          db,
          bus: createMemoryBus(),
          log: createLogger({ level: 'silent' }),
          clock: systemClock,
          retention: { minuteHours: 48, hourDays: 90 },
          uptime: false,
        });
        await builder.runOnce();
        assert.ok(
          builder.status().every((j) => j.lastError === null),
          JSON.stringify(builder.status()),
        );
        const ages = async (table: string, col: string) =>
          (
            await db.query<{ t: string; age: number }>(
              `SELECT target_id AS t, round(extract(epoch FROM (now() - ${col})) / 3600)::int AS age FROM ${table} ORDER BY 2`,
            )
          ).rows.map((r) => [r.t === kept ? 'kept' : 'deleted', r.age]);
        assert.deepEqual(await ages('check_results', 'time'), [
          ['kept', 1],
          ['kept', 144],
        ]);
        assert.deepEqual(await ages('target_rollups_1m', 'bucket'), [['kept', 1]]);
        assert.deepEqual(await ages('target_rollups_1h', 'bucket'), [['kept', 240]]);
        assert.deepEqual(await ages('target_rollups_1d', 'bucket'), [['kept', 24]]);
      } finally {
        await t.drop();
      }
    });
  });
}
