/**
 * The result writer on a real database: raw rows with their phases, minute rollups per batch and
 * hour/day rollups merged in memory (written once old enough, and on close) with correct counts,
 * failures, min/max and sketch percentiles; state written only for shards this worker leases.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createLogger, type Db } from '@peep/pkg';
import { Sketch } from '@peep/pkg/sketch';
import { openTestDb, testEngines } from '@peep/pkg/testing';
import { initialState, type UptimeResult } from './state.js';
import { createResultWriter, type ResultRecord } from './writer.js';

const log = createLogger({ level: 'silent' });

async function seed(db: Db): Promise<{ projectId: string; a: string; b: string }> {
  const p = await db.query<{ id: string }>(
    `INSERT INTO projects (slug, name) VALUES ('shop', 'Shop') RETURNING id`,
  );
  const projectId = (p.rows[0] as { id: string }).id;
  const e = await db.query<{ id: string }>(
    `INSERT INTO environments (project_id, slug, name, position) VALUES ($1, 'prod', 'Production', 0) RETURNING id`,
    [projectId],
  );
  const t = await db.query<{ id: string }>(
    `INSERT INTO targets (project_id, environment_id, name, kind, spec, interval_s, shard)
     VALUES ($1, $2, 'a', 'http', '{}', 5, 1), ($1, $2, 'b', 'http', '{}', 5, 2) RETURNING id`,
    [projectId, (e.rows[0] as { id: string }).id],
  );
  const [a, b] = t.rows.map((r) => r.id) as [string, string];
  // This worker ("w1") leases shard 1; shard 2 belongs to another worker.
  await db.query(
    `INSERT INTO scheduler_leases (shard, owner, until) VALUES (1, 'w1', now() + interval '1 hour'),
       (2, 'w2', now() + interval '1 hour')`,
  );
  return { projectId, a, b };
}

const MIN = 60_000;

for (const engine of testEngines()) {
  describe(`uptime result writer (${engine})`, () => {
    test('stores raw results with phases, rolls up per minute, hour and day with correct counts and percentiles', async () => {
      const t = await openTestDb(engine);
      try {
        const { projectId, a } = await seed(t.db);
        let clock = Date.UTC(2026, 10, 23, 10, 0, 0);
        const flushed: ResultRecord[][] = [];
        const w = createResultWriter({
          db: t.db,
          log,
          workerId: 'w1',
          flushMs: 1e9,
          coarseMs: 60_000,
          now: () => clock,
          onFlushed: (r) => flushed.push(r),
        });
        // 100 checks over two minutes: durations 1..100 ms, every tenth one failed.
        const expected = new Sketch();
        const start = clock;
        for (let i = 1; i <= 100; i++) {
          const r: UptimeResult = {
            ok: i % 10 !== 0,
            startedAt: start + (i - 1) * 1_200,
            durationMs: i,
            phases: { dnsMs: 0.5, connectMs: 0.25, firstByteMs: i / 2, totalMs: i },
            statusCode: i % 10 === 0 ? 503 : 200,
            ...(i % 10 === 0 ? { errorClass: 'status' as const, message: 'HTTP 503' } : {}),
          };
          expected.add(i);
          w.add({ targetId: a, projectId, result: r, raw: true, state: initialState({ status: 'up' }) });
          if (i % 25 === 0) {
            clock += 30_000;
            await w.flush();
          }
        }
        const raw = await t.db.query<{
          n: number;
          failed: number;
          dns: number;
          first: number;
          worker: string;
        }>(
          `SELECT count(*)::int AS n, count(*) FILTER (WHERE NOT ok)::int AS failed, min(dns_ms)::float8 AS dns,
             max(first_byte_ms)::float8 AS first, min(worker) AS worker
           FROM check_results WHERE target_id = $1`,
          [a],
        );
        assert.deepEqual(raw.rows[0], { n: 100, failed: 10, dns: 0.5, first: 50, worker: 'w1' });
        assert.equal(flushed.flat().length, 100);

        type Row = {
          bucket: number;
          count: number;
          failures: number;
          min: number;
          max: number;
          sum: number;
          sketch: number[];
        };
        const rollups = async (table: string) =>
          (
            await t.db.query<Row>(
              `SELECT extract(epoch FROM bucket)::float8 * 1000 AS bucket, count::int, failures::int, min_ms AS min,
                 max_ms AS max, sum_ms AS sum, sketch FROM ${table} WHERE target_id = $1 ORDER BY bucket`,
              [a],
            )
          ).rows.map((r) => ({ ...r, bucket: Number(r.bucket), sketch: r.sketch.map(Number) }));
        const minutes = await rollups('target_rollups_1m');
        // 1.2 s apart from 10:00:00: 50 in the first minute, 50 in the second
        assert.deepEqual(
          minutes.map((m) => [m.bucket - start, m.count, m.failures, m.min, m.max]),
          [
            [0, 50, 5, 1, 50],
            [MIN, 50, 5, 51, 100],
          ],
        );
        // Hour and day: merged in memory; the accumulator created at the first flush was written once a
        // minute old (third flush: 75 results), the rest on close, merged into the same rows.
        for (const table of ['target_rollups_1h', 'target_rollups_1d'])
          assert.deepEqual(
            (await rollups(table)).map((r) => r.count),
            [75],
          );
        await w.close();
        for (const table of ['target_rollups_1h', 'target_rollups_1d']) {
          const [row, ...more] = await rollups(table);
          assert.equal(more.length, 0, table);
          assert.equal(row?.count, 100);
          assert.equal(row?.failures, 10);
          assert.equal(row?.sum, 5050);
          assert.deepEqual([row?.min, row?.max], [1, 100]);
          const got = Sketch.fromArray(row?.sketch ?? []);
          for (const q of [0.5, 0.95, 0.99])
            assert.equal(got.quantile(q), expected.quantile(q), `${table} p${q * 100}`);
          // within the sketch's 1 % of the exact nearest-rank value
          assert.ok(Math.abs((got.quantile(0.5) as number) - 50) <= 0.5 + 1e-9);
          assert.ok(Math.abs((got.quantile(0.99) as number) - 99) <= 0.99 + 1e-9);
        }
      } finally {
        await t.drop();
      }
    });

    test('state is written for leased shards only; results of a lost shard are still stored', async () => {
      const t = await openTestDb(engine);
      try {
        const { projectId, a, b } = await seed(t.db);
        const w = createResultWriter({ db: t.db, log, workerId: 'w1', flushMs: 1e9 });
        const at = Date.now();
        const down = initialState({ status: 'down', statusSince: at, failStreak: 3 });
        for (const targetId of [a, b])
          w.add({
            targetId,
            projectId,
            raw: true,
            state: down,
            result: {
              ok: false,
              startedAt: at,
              durationMs: 2,
              phases: { totalMs: 2 },
              errorClass: 'refused',
              message: 'connect ECONNREFUSED 127.0.0.1:1',
            },
          });
        await w.close();
        const st = await t.db.query<{
          name: string;
          status: string;
          fail_streak: number;
          last_error_class: string | null;
        }>('SELECT name, status, fail_streak, last_error_class FROM targets ORDER BY name');
        assert.deepEqual(
          st.rows.map((r) => [r.name, r.status, r.fail_streak, r.last_error_class]),
          [
            ['a', 'down', 3, 'refused'],
            ['b', 'pending', 0, null],
          ],
        );
        const n = await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM check_results');
        assert.equal(n.rows[0]?.n, 2);
        // An expired lease counts as lost too.
        await t.db.query(`UPDATE scheduler_leases SET until = now() - interval '1 second' WHERE shard = 1`);
        const w2 = createResultWriter({ db: t.db, log, workerId: 'w1', flushMs: 1e9 });
        w2.add({
          targetId: a,
          projectId,
          raw: true,
          state: initialState({ status: 'up', statusSince: at + 5_000, okStreak: 1 }),
          result: { ok: true, startedAt: at + 5_000, durationMs: 1, phases: { totalMs: 1 }, statusCode: 200 },
        });
        await w2.close();
        const after = await t.db.query<{ status: string }>('SELECT status FROM targets WHERE id = $1', [a]);
        assert.equal(after.rows[0]?.status, 'down');
      } finally {
        await t.drop();
      }
    });
  });
}
