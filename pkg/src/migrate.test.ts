/** Migrations on both engines: order, checksums, refusal of edited files, persistence across restarts. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { openDb } from './db.js';
import { isMigrated, latestVersion, MigrationError, migrate, readMigrations } from './migrate.js';
import { openTestDb, testEngines } from './testing.js';

function tmpMigrations(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'peep-mig-'));
  for (const [name, sql] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), sql);
  return dir;
}

for (const engine of testEngines()) {
  describe(`migrations (${engine})`, () => {
    test('apply in order once, record checksums, and refuse an edited applied migration', async () => {
      const dir = tmpMigrations({
        '0001_a.sql': 'CREATE TABLE a (id int PRIMARY KEY);',
        '0002_b.sql':
          'CREATE TABLE b (id int REFERENCES a (id) DEFERRABLE); CREATE INDEX b_id_idx ON b (id);',
      });
      const { db, drop } = await openTestDb(engine, { migrate: false });
      try {
        assert.equal(await isMigrated(db, latestVersion(dir)), false);
        assert.deepEqual(await migrate(db, dir), { applied: ['0001_a.sql', '0002_b.sql'], current: 2 });
        assert.deepEqual(await migrate(db, dir), { applied: [], current: 2 });
        assert.equal(await isMigrated(db, latestVersion(dir)), true);
        const { rows } = await db.query<{ version: number; checksum: string }>(
          'SELECT version, checksum FROM schema_migrations ORDER BY version',
        );
        assert.deepEqual(
          rows.map((r) => r.version),
          [1, 2],
        );
        assert.equal(rows[0]?.checksum, readMigrations(dir)[0]?.checksum);

        fs.writeFileSync(path.join(dir, '0001_a.sql'), 'CREATE TABLE a (id bigint PRIMARY KEY);');
        await assert.rejects(
          migrate(db, dir),
          (e: unknown) =>
            e instanceof MigrationError && /0001_a\.sql was edited after it was applied/.test(e.message),
        );

        fs.writeFileSync(path.join(dir, '0001_a.sql'), 'CREATE TABLE a (id int PRIMARY KEY);');
        fs.writeFileSync(path.join(dir, '0003_c.sql'), 'CREATE TABLE c (id int); SELECT broken syntax here;');
        await assert.rejects(migrate(db, dir));
        const after = await db.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM information_schema.tables WHERE table_name = 'c'`,
        );
        assert.equal(after.rows[0]?.n, 0, 'a failing migration leaves nothing behind');
      } finally {
        await drop();
      }
    });

    test('a database migrated by a newer peep is refused', async () => {
      const dir = tmpMigrations({ '0001_a.sql': 'CREATE TABLE a (id int PRIMARY KEY);' });
      const { db, drop } = await openTestDb(engine, { migrate: false });
      try {
        await migrate(db, dir);
        await db.query(`INSERT INTO schema_migrations (version, name, checksum) VALUES (9, 'future', 'x')`);
        await assert.rejects(migrate(db, dir), /newer peep/);
      } finally {
        await drop();
      }
    });
  });
}

test('bad migration file names are refused', () => {
  const dir = tmpMigrations({ '1_a.sql': 'select 1' });
  assert.throws(() => readMigrations(dir), /must look like 0001_name\.sql/);
});

test('PGlite data survives a restart', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'peep-persist-'));
  const db = await openDb({ dataDir: dir });
  await db.exec('CREATE TABLE t (v text)');
  await db.query('INSERT INTO t VALUES ($1)', ['kept']);
  await db.close();
  const again = await openDb({ dataDir: dir });
  assert.deepEqual((await again.query('SELECT v FROM t')).rows, [{ v: 'kept' }]);
  await again.close();
  fs.rmSync(dir, { recursive: true, force: true });
});
