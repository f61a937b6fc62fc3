/**
 * Databases for tests and benchmarks: PGlite always, PostgreSQL when PEEP_TEST_DATABASE_URL is set
 * (CI sets it). Each call gets a fresh database; nothing is shared between suites.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { type Db, openDb } from './db.js';
import { migrate, readMigrations } from './migrate.js';

export type Engine = 'pglite' | 'postgres';

/** The engines the suite runs on. Under CI=true a missing PostgreSQL is an error, not a skip. */
export function testEngines(): Engine[] {
  const url = process.env.PEEP_TEST_DATABASE_URL;
  if (!url) {
    if (process.env.CI === 'true')
      throw new Error('CI=true but PEEP_TEST_DATABASE_URL is not set: the PostgreSQL suites cannot run');
    if (!warned) {
      warned = true;
      console.log('# PEEP_TEST_DATABASE_URL not set: PostgreSQL suites skipped (PGlite suites run)');
    }
    return ['pglite'];
  }
  return ['pglite', 'postgres'];
}
let warned = false;

function templateDir(): string {
  const sum = readMigrations()
    .map((m) => m.checksum.slice(0, 8))
    .join('');
  return path.join(os.tmpdir(), `peep-pglite-template-${Buffer.from(sum).toString('base64url').slice(-24)}`);
}

/** A migrated PGlite data directory made once per machine and copied per server (initdb costs ~3 s). */
async function pgliteDir(): Promise<string> {
  const tpl = templateDir();
  if (!fs.existsSync(path.join(tpl, 'ready'))) {
    const build = `${tpl}.build-${process.pid}-${randomBytes(4).toString('hex')}`;
    const db = await openDb({ dataDir: build });
    await migrate(db);
    await db.close();
    fs.writeFileSync(path.join(build, 'ready'), '');
    try {
      fs.renameSync(build, tpl);
    } catch {
      fs.rmSync(build, { recursive: true, force: true }); // another process won the race
    }
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'peep-test-db-'));
  fs.cpSync(tpl, dir, { recursive: true });
  return dir;
}

export interface TestDb {
  db: Db;
  engine: Engine;
  /** PostgreSQL: the database's URL, for a server process started by the test. */
  url?: string;
  drop(): Promise<void>;
}

/**
 * A fresh database on the given engine, migrated unless `migrate: false` (PostgreSQL: a new database
 * created through PEEP_TEST_DATABASE_URL, dropped by `drop()`).
 */
export async function openTestDb(engine: Engine, opts: { migrate?: boolean } = {}): Promise<TestDb> {
  const migrated = opts.migrate ?? true;
  if (engine === 'pglite') {
    const dir = migrated ? await pgliteDir() : fs.mkdtempSync(path.join(os.tmpdir(), 'peep-test-db-'));
    const db = await openDb({ dataDir: dir });
    if (migrated) await migrate(db);
    return {
      db,
      engine,
      async drop() {
        await db.close();
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  const adminUrl = process.env.PEEP_TEST_DATABASE_URL;
  if (!adminUrl) throw new Error('PEEP_TEST_DATABASE_URL is not set');
  const name = `peep_t_${randomBytes(6).toString('hex')}`;
  const admin = await openDb({ databaseUrl: adminUrl, poolSize: 1 });
  await admin.exec(`CREATE DATABASE ${name}`);
  await admin.close();
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  const db = await openDb({ databaseUrl: u.toString(), poolSize: 10 });
  if (migrated) await migrate(db);
  return {
    db,
    engine,
    url: u.toString(),
    async drop() {
      await db.close();
      const a = await openDb({ databaseUrl: adminUrl, poolSize: 1 });
      try {
        // FORCE cannot end an autovacuum worker (it runs as the superuser) after a heavy load;
        // those finish or yield within moments, so try again briefly.
        for (let attempt = 0; ; attempt++) {
          try {
            await a.exec(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
            break;
          } catch (e) {
            if (attempt >= 20) throw e;
            await new Promise((r) => setTimeout(r, 250));
          }
        }
      } finally {
        await a.close();
      }
    },
  };
}

/** A TCP port free on loopback right now, for a server a test starts. */
export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}
