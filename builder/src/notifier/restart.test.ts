/**
 * A notifier process killed (SIGKILL) in the middle of a delivery: its claim expires and a notifier
 * in another process resumes the row with the same delivery id. PostgreSQL only (two processes need
 * a database server; PGlite is one process's).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { createLogger, createMemoryBus } from '@peep/pkg';
import { createKeyring, formatMasterKey, generateMasterKey, parseMasterKey } from '@peep/pkg/master-key';
import { openTestDb, testEngines } from '@peep/pkg/testing';
import { startReceiver } from '../notify/testing.js';
import type { DeliveryAttempt } from '../notify/types.js';
import { enqueueDelivery, messageFor, seedChannel, seedIncident, seedProject } from './testing.js';
import { createNotifier } from './worker.js';

const here = (f: string) => new URL(f, import.meta.url).href;

/** The child: a notifier on `url` that claims for 2 s and never stops by itself. */
const CHILD = `
import { createLogger, createMemoryBus, openDb } from ${JSON.stringify(here('../../../pkg/dist/index.js'))};
import { createKeyring, parseMasterKey } from ${JSON.stringify(here('../../../pkg/dist/master-key.js'))};
import { createNotifier } from ${JSON.stringify(here('./worker.js'))};
const db = await openDb({ databaseUrl: process.env.DB_URL, poolSize: 2 });
const keys = createKeyring(parseMasterKey(process.env.MK, 'MK'));
createNotifier({ db, bus: createMemoryBus(), log: createLogger({ level: 'silent' }), clock: { now: () => new Date() },
  keys, workerId: 'doomed', claimMs: 2000, delivery: { timeoutMs: 1000 } }).start();
`;

test('a notifier process killed mid-delivery: another process resumes the row after the claim expires', async (t) => {
  if (!testEngines().includes('postgres'))
    return t.skip('PostgreSQL not configured (PEEP_TEST_DATABASE_URL)');
  const db = await openTestDb('postgres');
  const mk = generateMasterKey();
  const keys = createKeyring(parseMasterKey(formatMasterKey(mk), 'test'));
  // The first request is left hanging (the child dies waiting); later ones are answered.
  const hook = await startReceiver((n, _req, res) => {
    if (n > 1) res.writeHead(200).end();
  });
  const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD], {
    env: { ...process.env, DB_URL: db.url, MK: formatMasterKey(mk) },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = new Promise((r) => child.once('exit', r));
  try {
    const p = await seedProject(db.db);
    const ch = await seedChannel(db.db, keys, {
      projectId: p.projectId,
      kind: 'webhook',
      url: hook.url('/k'),
    });
    const inc = await seedIncident(db.db, p);
    const id = await enqueueDelivery(db.db, {
      channelId: ch.id,
      projectId: p.projectId,
      incidentId: inc.id,
      type: 'opened',
      message: messageFor(inc, p, 'opened', new Date()),
    });
    await hook.waitFor(1, 10_000);
    child.kill('SIGKILL');
    await exited;
    const claimed = await db.db.query<{ status: string; claimed_by: string; claimed_until: Date }>(
      'SELECT status, claimed_by, claimed_until FROM deliveries WHERE id = $1',
      [id],
    );
    const c = claimed.rows[0];
    assert.deepEqual([c?.status, c?.claimed_by], ['sending', 'doomed']);
    const until = c?.claimed_until.getTime() ?? 0;

    const n = createNotifier({
      db: db.db,
      bus: createMemoryBus(),
      log: createLogger({ level: 'silent' }),
      clock: { now: () => new Date() },
      keys,
      pollMs: 100,
      workerId: 'survivor',
    });
    n.start();
    try {
      await hook.waitFor(2, 10_000);
      // Not before the dead worker's claim ran out.
      assert.ok(Date.now() >= until - 20, `resumed ${until - Date.now()} ms before the claim expired`);
      for (let i = 0; i < 100; i++) {
        const { rows } = await db.db.query<{ status: string; attempts: DeliveryAttempt[] }>(
          'SELECT status, attempts FROM deliveries WHERE id = $1',
          [id],
        );
        if (rows[0]?.status === 'ok') {
          // The killed attempt left no record; the resumed one is attempt 1, with the same id.
          assert.deepEqual(
            rows[0].attempts.map((a) => [a.n, a.status]),
            [[1, 200]],
          );
          break;
        }
        assert.ok(i < 99, 'the resumed delivery did not finish');
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.equal(hook.hits[0]?.headers['x-peep-delivery'], id);
      assert.equal(hook.hits[1]?.headers['x-peep-delivery'], id);
    } finally {
      await n.stop();
    }
  } finally {
    child.kill('SIGKILL');
    await hook.close();
    await db.drop();
  }
});
