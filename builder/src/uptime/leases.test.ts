/**
 * Scheduler leases on a real database: two workers split the shards without overlap, a worker that
 * stops renewing loses its shards to the other once its leases expire (and stops trusting them
 * first), a third worker gets its fair share within a few ticks, and a clean release hands over at once.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { openTestDb, testEngines } from '@peep/pkg/testing';
import { createLeases, SHARDS } from './leases.js';

const TTL = 800;

for (const engine of testEngines()) {
  describe(`scheduler leases (${engine})`, () => {
    test('shards are split fairly and exclusively, and handed over when a worker dies or leaves', async () => {
      const t = await openTestDb(engine);
      try {
        const worker = (id: string) =>
          createLeases({ db: t.db, workerId: id, host: 'test', pid: 1, ttlMs: TTL });
        const a = worker('a');
        const b = worker('b');
        const owners = async () => {
          const { rows } = await t.db.query<{ owner: string; n: number }>(
            'SELECT owner, count(*)::int AS n FROM scheduler_leases WHERE until > now() GROUP BY owner ORDER BY owner',
          );
          return Object.fromEntries(rows.map((r) => [r.owner, r.n]));
        };
        // A alone takes everything; once B is alive, A gives half back and B takes it.
        assert.equal((await a.tick()).shards.length, SHARDS);
        for (let i = 0; i < 3; i++) {
          await b.tick();
          await a.tick();
        }
        const sa = new Set(a.owned());
        const sb = new Set(b.owned());
        assert.equal(sa.size, SHARDS / 2);
        assert.equal(sb.size, SHARDS / 2);
        assert.ok(
          [...sa].every((s) => !sb.has(s)),
          'no shard held by both',
        );
        assert.deepEqual(await owners(), { a: 32, b: 32 });

        // B dies (stops renewing): it stops trusting its leases before they expire; A takes them after.
        await sleep(TTL * 0.85);
        assert.equal(b.owned().length, 0, 'a silent worker stops checking before its leases run out');
        await sleep(TTL * 0.3);
        const after = await a.tick();
        assert.equal(after.shards.length, SHARDS);
        assert.equal(after.gained.length, SHARDS / 2);

        // C joins: within a few ticks each of A and C holds half; then C leaves cleanly and A has all at once.
        const c = worker('c');
        for (let i = 0; i < 3; i++) {
          await c.tick();
          await a.tick();
        }
        assert.deepEqual(await owners(), { a: 32, c: 32 });
        await c.release();
        assert.equal((await a.tick()).shards.length, SHARDS);
      } finally {
        await t.drop();
      }
    });
  });
}
