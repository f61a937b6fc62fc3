import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import type { Db, Queryable } from './db.js';
import {
  formatMasterKey,
  generateMasterKey,
  MASTER_KEY_FILE,
  PREVIOUS_KEY_FILE,
  parseMasterKey,
  writeRotatedKeyFiles,
} from './master-key.js';
import {
  countByMasterKey,
  keyringFromConfig,
  openForProject,
  rewrapProjectKeys,
  rotateMasterKeyFile,
  sealForProject,
} from './project-keys.js';
import { SealError } from './seal.js';
import { openTestDb, testEngines } from './testing.js';

const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'peep-rot-'));
after(() => fs.rmSync(tmpRoot, { recursive: true, force: true }));
let dirs = 0;
const freshDir = () => {
  const d = path.join(tmpRoot, `d${++dirs}`);
  fs.mkdirSync(d, { mode: 0o700 });
  return d;
};
const quiet = { warn: () => {} };
const mode = (file: string) => fs.statSync(file).mode & 0o777;
const fileKeyId = (dir: string, name = MASTER_KEY_FILE) =>
  fs
    .readFileSync(path.join(dir, name), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => parseMasterKey(l, name).id);

/** The holder `peep up` makes for a data directory (embedded: master.key). */
const embedded = (dataDir: string) =>
  keyringFromConfig({ masterKey: '', masterKeyPrevious: [], databaseUrl: '', dataDir }, quiet);

async function newProject(db: Db, slug: string): Promise<string> {
  const { rows } = await db.query<{ id: string }>(
    'INSERT INTO projects (slug, name) VALUES ($1, $1) RETURNING id',
    [slug],
  );
  return (rows[0] as { id: string }).id;
}

type Sealed = { project: string; purpose: string; plain: string; sealed: string };

/** Seals three values in each of `n` projects with `keys`. */
async function sealSome(db: Db, keys: Parameters<typeof sealForProject>[1], n: number): Promise<Sealed[]> {
  const out: Sealed[] = [];
  for (let i = 0; i < n; i++) {
    const project = await newProject(db, `p${i}-${Math.random().toString(36).slice(2, 8)}`);
    for (const [purpose, plain] of [
      ['var:e:DB_URL', `postgres://u:pw${i}@db/x`],
      ['var:e:MULTI', `line 1\r\nline 2 \n\ttab ${i}`],
      [`channel:${i}:url`, `https://hooks.example.com/${i}`],
    ] as const) {
      out.push({ project, purpose, plain, sealed: await sealForProject(db, keys, project, plain, purpose) });
    }
  }
  return out;
}

async function allOpen(db: Db, keys: Parameters<typeof openForProject>[1], values: Sealed[]) {
  for (const v of values)
    assert.equal(await openForProject(db, keys, v.project, v.sealed, v.purpose), v.plain, v.purpose);
}

for (const engine of testEngines()) {
  describe(`master key rotation (${engine})`, () => {
    test('embedded: rotate writes both keys 0600, re-wraps every row, and old values open in this process and after a restart', async () => {
      const t = await openTestDb(engine);
      const dir = freshDir();
      try {
        const holder = embedded(dir);
        const values = await sealSome(t.db, holder, 4);
        const oldId = (await holder()).current.id;

        const r = await rotateMasterKeyFile(t.db, holder);
        assert.equal(r.previousKeyId, oldId);
        assert.notEqual(r.masterKeyId, oldId);
        assert.equal(r.rewrapped, 4);
        assert.equal(r.remainingUnderPrevious, 0);
        assert.deepEqual(r.failed, []);
        assert.deepEqual(r.keptPrevious, []);
        assert.deepEqual(Object.fromEntries(await countByMasterKey(t.db)), { [r.masterKeyId]: 4 });
        // The holder switched in place: the same object now answers the new key.
        assert.equal((await holder()).current.id, r.masterKeyId);
        assert.deepEqual(fileKeyId(dir), [r.masterKeyId]);
        assert.equal(mode(path.join(dir, MASTER_KEY_FILE)), 0o600);
        // No row uses the old key any more: it is gone from the data directory.
        assert.equal(fs.existsSync(path.join(dir, PREVIOUS_KEY_FILE)), false);
        assert.deepEqual(
          fs.readdirSync(dir).filter((f) => f.startsWith('.')),
          [],
          'no temporary file left',
        );

        await allOpen(t.db, holder, values);
        // A restart: keys read from disk only.
        const restarted = embedded(dir);
        assert.equal((await restarted()).current.id, r.masterKeyId);
        assert.deepEqual((await restarted()).previous, []);
        await allOpen(t.db, restarted, values);
        // New values seal under the new key and open after a restart too.
        const more = await sealSome(t.db, holder, 1);
        await allOpen(t.db, embedded(dir), [...values, ...more]);
      } finally {
        await t.drop();
      }
    });

    test('embedded: a crash after the key files are written and before any re-wrap loses nothing', async () => {
      const t = await openTestDb(engine);
      const dir = freshDir();
      try {
        const holder = embedded(dir);
        const values = await sealSome(t.db, holder, 3);
        const old = (await holder()).current;
        // What rotateMasterKeyFile does first, then the process "dies".
        const next = generateMasterKey();
        await writeRotatedKeyFiles(dir, next, [old]);
        assert.equal(mode(path.join(dir, PREVIOUS_KEY_FILE)), 0o600);
        assert.equal(mode(path.join(dir, MASTER_KEY_FILE)), 0o600);

        const restarted = embedded(dir);
        const ring = await restarted();
        assert.equal(ring.current.id, next.id);
        assert.deepEqual(
          ring.previous.map((k) => k.id),
          [old.id],
          'master.key.previous is loaded as a previous key',
        );
        await allOpen(t.db, restarted, values);
        // Rotating again finishes the job: the rows leave the first key, which then leaves the disk.
        const r = await rotateMasterKeyFile(t.db, restarted);
        assert.equal(r.previousKeyId, next.id);
        assert.equal(r.rewrapped, 3);
        assert.equal(r.remainingUnderPrevious, 0);
        assert.equal(fs.existsSync(path.join(dir, PREVIOUS_KEY_FILE)), false);
        await allOpen(t.db, embedded(dir), values);
      } finally {
        await t.drop();
      }
    });

    test('embedded: a retired key still used by a row stays in master.key.previous and is reported', async () => {
      const t = await openTestDb(engine);
      const dir = freshDir();
      try {
        const holder = embedded(dir);
        const values = await sealSome(t.db, holder, 2);
        const old = (await holder()).current;
        // A row under a key this process does not have: left alone, reported, and its key id counted.
        const stranger = generateMasterKey();
        const lost = await newProject(t.db, 'lost');
        const { newDataKey } = await import('./seal.js');
        await t.db.query('INSERT INTO project_keys (project_id, wrapped) VALUES ($1, $2)', [
          lost,
          newDataKey({ current: stranger, previous: [] }, lost).wrapped,
        ]);
        const r = await rotateMasterKeyFile(t.db, holder);
        assert.equal(r.rewrapped, 2);
        assert.deepEqual(
          r.failed.map((f) => [f.projectId, f.code]),
          [[lost, 'unknown_master_key']],
        );
        assert.equal(r.remainingUnderPrevious, 1);
        assert.deepEqual(r.keptPrevious, [], `${old.id} wraps nothing any more`);
        await allOpen(t.db, embedded(dir), values);
      } finally {
        await t.drop();
      }
    });

    test('embedded: concurrent rotations converge on one new key, and values still open', async () => {
      const t = await openTestDb(engine);
      const dir = freshDir();
      try {
        const holder = embedded(dir);
        const values = await sealSome(t.db, holder, 3);
        const results = await Promise.all([1, 2, 3, 4].map(() => rotateMasterKeyFile(t.db, holder)));
        assert.equal(new Set(results.map((r) => r.masterKeyId)).size, 1);
        const [first] = results;
        assert.deepEqual(fileKeyId(dir), [first?.masterKeyId]);
        assert.deepEqual(Object.fromEntries(await countByMasterKey(t.db)), { [first?.masterKeyId ?? '']: 3 });
        // Values sealed while a rotation runs open too.
        const [again, during] = await Promise.all([
          rotateMasterKeyFile(t.db, holder),
          sealSome(t.db, holder, 2),
        ]);
        assert.notEqual(again.masterKeyId, first?.masterKeyId);
        const restarted = embedded(dir);
        await allOpen(t.db, restarted, [...values, ...during]);
        await rotateMasterKeyFile(t.db, restarted);
        const counts = await countByMasterKey(t.db);
        assert.equal(counts.size, 1, JSON.stringify(Object.fromEntries(counts)));
        assert.equal(fs.existsSync(path.join(dir, PREVIOUS_KEY_FILE)), false);
      } finally {
        await t.drop();
      }
    });

    test('embedded: a data key first stored under the old key while a rotation runs is moved before anything is sealed with it', async () => {
      const t = await openTestDb(engine);
      const dir = freshDir();
      try {
        const holder = embedded(dir);
        const values = await sealSome(t.db, holder, 1);
        const old = (await holder()).current;
        const late = await newProject(t.db, 'late');
        // The new project's key is created under the old keyring, and its INSERT waits until the
        // rotation (its re-wrap and the pruning of master.key.previous) is over.
        let release = () => {};
        const gate = new Promise<void>((r) => {
          release = r;
        });
        let inserting = () => {};
        const reached = new Promise<void>((r) => {
          inserting = r;
        });
        const slow: Queryable = {
          query: async <T>(sql: string, params?: unknown[]) => {
            if (sql.startsWith('INSERT INTO project_keys')) {
              inserting();
              await gate;
            }
            return t.db.query<T>(sql, params);
          },
          exec: (sql) => t.db.exec(sql),
          copyIn: (sql, data) => t.db.copyIn(sql, data),
        };
        const sealing = sealForProject(slow, holder, late, 'late value', 'var:e:LATE');
        await reached;
        const r = await rotateMasterKeyFile(t.db, holder);
        assert.equal(r.remainingUnderPrevious, 0);
        assert.equal(fs.existsSync(path.join(dir, PREVIOUS_KEY_FILE)), false, `${old.id} looked unused`);
        release();
        const sealed = await sealing;
        // The row is under the new key already, so a restart (old key gone from disk) reads it.
        assert.deepEqual(Object.fromEntries(await countByMasterKey(t.db)), { [r.masterKeyId]: 2 });
        const restarted = embedded(dir);
        assert.equal(await openForProject(t.db, restarted, late, sealed, 'var:e:LATE'), 'late value');
        await allOpen(t.db, restarted, values);
      } finally {
        await t.drop();
      }
    });

    test('a wrong master key is unknown_master_key naming the key, a tampered wrapped key is refused, never garbage', async () => {
      const t = await openTestDb(engine);
      const dir = freshDir();
      try {
        const holder = embedded(dir);
        const values = await sealSome(t.db, holder, 2);
        const r = await rotateMasterKeyFile(t.db, holder);
        const v = values[0] as Sealed;
        // Another master key and no previous one (e.g. master.key restored from the wrong backup).
        const wrong = generateMasterKey();
        const other = keyringFromConfig(
          {
            masterKey: formatMasterKey(wrong),
            masterKeyPrevious: [],
            databaseUrl: 'postgres://x/y',
            dataDir: dir,
          },
          quiet,
        );
        await assert.rejects(openForProject(t.db, other, v.project, v.sealed, v.purpose), (e: unknown) => {
          assert.ok(e instanceof SealError);
          assert.equal(e.code, 'unknown_master_key');
          assert.match(e.message, new RegExp(`master key ${r.masterKeyId}, which is not loaded`));
          assert.ok(!e.message.includes(v.plain));
          return true;
        });
        // The old key alone (rolled back to a pre-rotation master.key): also refused by id.
        // A wrapped key with one flipped byte: GCM refuses it.
        const { rows } = await t.db.query<{ wrapped: string }>(
          'SELECT wrapped FROM project_keys WHERE project_id = $1',
          [v.project],
        );
        const wrapped = (rows[0] as { wrapped: string }).wrapped;
        const cut = wrapped.lastIndexOf('.') + 5;
        const flipped = `${wrapped.slice(0, cut)}${wrapped[cut] === 'A' ? 'B' : 'A'}${wrapped.slice(cut + 1)}`;
        await t.db.query('UPDATE project_keys SET wrapped = $2 WHERE project_id = $1', [v.project, flipped]);
        const fresh = embedded(dir);
        await assert.rejects(
          openForProject(t.db, fresh, v.project, v.sealed, v.purpose),
          (e: unknown) => e instanceof SealError && e.code === 'tampered_or_wrong_key',
        );
        // The rotation reports the row instead of re-wrapping or dropping it.
        const again = await rotateMasterKeyFile(t.db, fresh);
        assert.deepEqual(
          again.failed.map((f) => [f.projectId, f.code]),
          [[v.project, 'tampered_or_wrong_key']],
        );
        // The other project still reads.
        const w = values[3] as Sealed;
        assert.notEqual(w.project, v.project);
        assert.equal(await openForProject(t.db, embedded(dir), w.project, w.sealed, w.purpose), w.plain);
      } finally {
        await t.drop();
      }
    });

    test('scaled out: new key in PEEP_MASTER_KEY, old in PEEP_MASTER_KEY_PREVIOUS, re-wrap, then the old key can go', async () => {
      const t = await openTestDb(engine);
      try {
        const a = generateMasterKey();
        const b = generateMasterKey();
        const cfg = (current: string, previous: string[]) =>
          keyringFromConfig(
            {
              masterKey: current,
              masterKeyPrevious: previous,
              databaseUrl: 'postgres://db/peep',
              dataDir: '/nonexistent',
            },
            quiet,
          );
        const before = cfg(formatMasterKey(a), []);
        const values = await sealSome(t.db, before, 3);
        // Rolling restart: every replica has b as current and a as previous; rows are still under a.
        const during = cfg(formatMasterKey(b), [formatMasterKey(a)]);
        await allOpen(t.db, during, values);
        const more = await sealSome(t.db, during, 1);
        assert.deepEqual(Object.fromEntries(await countByMasterKey(t.db)), { [a.id]: 3, [b.id]: 1 });
        const r = await rewrapProjectKeys(t.db, during);
        assert.deepEqual(r, { total: 4, rewrapped: 3, failed: [] });
        assert.deepEqual(Object.fromEntries(await countByMasterKey(t.db)), { [b.id]: 4 });
        // PEEP_MASTER_KEY_PREVIOUS removed.
        await allOpen(t.db, cfg(formatMasterKey(b), []), [...values, ...more]);
        // Forgetting the new key (only the old one): a clear error, not garbage.
        await assert.rejects(
          allOpen(t.db, cfg(formatMasterKey(a), []), values),
          (e: unknown) => e instanceof SealError && e.code === 'unknown_master_key',
        );
      } finally {
        await t.drop();
      }
    });
  });
}

test('master.key.previous others may read is refused like master.key', async () => {
  const dir = freshDir();
  const holder = embedded(dir);
  const old = (await holder()).current;
  await writeRotatedKeyFiles(dir, generateMasterKey(), [old]);
  fs.chmodSync(path.join(dir, PREVIOUS_KEY_FILE), 0o644);
  await assert.rejects(embedded(dir)(), /master\.key\.previous has mode 0644.*chmod 600/);
  fs.chmodSync(path.join(dir, PREVIOUS_KEY_FILE), 0o600);
  assert.deepEqual(
    (await embedded(dir)()).previous.map((k) => k.id),
    [old.id],
  );
});

test('a damaged line in master.key.previous is refused naming the file and the line, never echoing it', async () => {
  const dir = freshDir();
  const holder = embedded(dir);
  const old = (await holder()).current;
  await writeRotatedKeyFiles(dir, generateMasterKey(), [old, generateMasterKey()]);
  const file = path.join(dir, PREVIOUS_KEY_FILE);
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  const damaged = `${(lines[1] as string).slice(0, -3)}xyz`;
  fs.writeFileSync(file, `${lines[0]}\n${damaged}\n`);
  await assert.rejects(embedded(dir)(), (e: unknown) => {
    assert.match(String((e as Error).message), /master\.key\.previous \(line 2\): not a peep master key/);
    assert.ok(!(e as Error).message.includes(damaged.split('.')[2] as string));
    return true;
  });
});

for (const engine of testEngines()) {
  test(`embedded with PEEP_MASTER_KEY set (${engine}): the rotation generates nothing and re-wraps rows of the old master.key under the variable's key`, async () => {
    const t = await openTestDb(engine);
    const dir = freshDir();
    try {
      const fileHolder = embedded(dir);
      const values = await sealSome(t.db, fileHolder, 2);
      const fileKey = (await fileHolder()).current;
      const envKey = generateMasterKey();
      const holder = keyringFromConfig(
        { masterKey: formatMasterKey(envKey), masterKeyPrevious: [], databaseUrl: '', dataDir: dir },
        quiet,
      );
      const r = await rotateMasterKeyFile(t.db, holder);
      assert.equal(r.previousKeyId, null);
      assert.equal(r.masterKeyId, envKey.id);
      assert.equal(r.rewrapped, 2);
      assert.equal(r.remainingUnderPrevious, 0);
      assert.deepEqual(fileKeyId(dir), [fileKey.id], 'master.key is not the server’s to replace');
      assert.equal(fs.existsSync(path.join(dir, PREVIOUS_KEY_FILE)), false);
      await allOpen(
        t.db,
        keyringFromConfig(
          {
            masterKey: formatMasterKey(envKey),
            masterKeyPrevious: [],
            databaseUrl: 'postgres://x/y',
            dataDir: dir,
          },
          quiet,
        ),
        values,
      );
    } finally {
      await t.drop();
    }
  });
}
