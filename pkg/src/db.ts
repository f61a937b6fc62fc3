/**
 * One database interface over two engines: PGlite (embedded, in-process) and a PostgreSQL server
 * (node-postgres pool). Both speak the same SQL with `$1` parameters; repositories take a `Queryable`
 * so every method can run inside a transaction.
 */
import fs from 'node:fs';
import path from 'node:path';
import { lockDataDir } from './lock.js';

export interface QueryResult<T> {
  rows: T[];
  rowCount: number;
}

export interface Queryable {
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<QueryResult<T>>;
  /** Runs several statements without parameters (migrations). */
  exec(sql: string): Promise<void>;
  /**
   * `COPY table (cols) FROM STDIN` with `data` in PostgreSQL's text format (tab-separated, `\N` for
   * NULL): the fastest way to insert many rows on both engines.
   */
  copyIn(sql: string, data: string): Promise<void>;
}

export interface Db extends Queryable {
  readonly engine: 'pglite' | 'postgres';
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export interface DbOptions {
  /** postgres://... to use a server; empty for PGlite. */
  databaseUrl?: string;
  /** PGlite data directory; undefined keeps PGlite in memory. */
  dataDir?: string;
  /** Pool size for PostgreSQL. */
  poolSize?: number;
}

export async function openDb(opts: DbOptions): Promise<Db> {
  if (opts.databaseUrl) return openPostgres(opts.databaseUrl, opts.poolSize ?? 10);
  return openPglite(opts.dataDir);
}

async function openPglite(dataDir: string | undefined): Promise<Db> {
  const { PGlite } = await import('@electric-sql/pglite');
  if (dataDir) fs.mkdirSync(dataDir, { recursive: true });
  const pg = await PGlite.create(dataDir ? path.join(dataDir, 'pgdata') : undefined);
  let closed = false;
  type PgliteLike = {
    query: (sql: string, params?: unknown[]) => Promise<{ rows: unknown[]; affectedRows?: number }>;
    exec: (sql: string) => Promise<unknown>;
  };
  const wrap = (q: PgliteLike): Queryable => ({
    async copyIn(sql: string, data: string) {
      // PGlite reads COPY input from a Blob passed as /dev/blob.
      await (q.query as (s: string, p: unknown[], o: { blob: Blob }) => Promise<unknown>)(
        `${sql} FROM '/dev/blob'`,
        [],
        { blob: new Blob([data]) },
      );
    },
    async query<T>(sql: string, params?: unknown[]) {
      const r = await q.query(sql, params);
      return { rows: r.rows as T[], rowCount: r.affectedRows ?? r.rows.length };
    },
    async exec(sql: string) {
      await q.exec(sql);
    },
  });
  const base = wrap(pg);
  return {
    engine: 'pglite',
    query: base.query,
    exec: base.exec,
    copyIn: base.copyIn,
    transaction(fn) {
      return pg.transaction((tx) => fn(wrap(tx)));
    },
    async close() {
      if (closed) return;
      closed = true;
      await pg.close();
    },
  };
}

async function openPostgres(url: string, poolSize: number): Promise<Db> {
  const { default: pg } = await import('pg');
  const { from: copyFrom } = await import('pg-copy-streams');
  const { finished } = await import('node:stream/promises');
  const copyIn = async (client: import('pg').PoolClient, sql: string, data: string) => {
    const stream = client.query(copyFrom(`${sql} FROM STDIN`));
    stream.end(data);
    await finished(stream);
  };
  // int8 (counts, sums) as numbers, as PGlite returns them; values beyond 2^53 are not expected here.
  pg.types.setTypeParser(20, (v: string) => Number(v));
  // int8[] (rollup sketches) likewise; one-dimensional, no NULLs.
  pg.types.setTypeParser(1016 as 20, (v: string) =>
    v === '{}' ? [] : v.slice(1, -1).split(',').map(Number),
  );
  const pool = new pg.Pool({ connectionString: url, max: poolSize });
  // A server restart or network error on an idle client must not crash the process.
  pool.on('error', () => {});
  const client = await pool.connect();
  client.release();
  let closed = false;
  return {
    engine: 'postgres',
    async query<T>(sql: string, params?: unknown[]) {
      const r = await pool.query(sql, params as unknown[]);
      return { rows: r.rows as T[], rowCount: r.rowCount ?? r.rows.length };
    },
    async exec(sql) {
      await pool.query(sql);
    },
    async copyIn(sql, data) {
      const c = await pool.connect();
      try {
        await copyIn(c, sql, data);
      } finally {
        c.release();
      }
    },
    async transaction(fn) {
      const c = await pool.connect();
      try {
        await c.query('BEGIN');
        const out = await fn({
          async query<T>(sql: string, params?: unknown[]) {
            const r = await c.query(sql, params as unknown[]);
            return { rows: r.rows as T[], rowCount: r.rowCount ?? r.rows.length };
          },
          async exec(sql: string) {
            await c.query(sql);
          },
          copyIn: (sql: string, data: string) => copyIn(c, sql, data),
        });
        await c.query('COMMIT');
        return out;
      } catch (e) {
        await c.query('ROLLBACK').catch(() => {});
        throw e;
      } finally {
        c.release();
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      await pool.end();
    },
  };
}

/**
 * The database a peep process is configured for: the PostgreSQL server at `databaseUrl`, else PGlite
 * in `dataDir`, locked against a second peep for as long as it is open (`close()` releases the lock).
 */
export async function openConfiguredDb(config: { databaseUrl: string; dataDir: string }): Promise<Db> {
  if (config.databaseUrl) return openDb({ databaseUrl: config.databaseUrl });
  const lock = lockDataDir(config.dataDir);
  let db: Db;
  try {
    db = await openDb({ dataDir: config.dataDir });
  } catch (e) {
    lock.release();
    throw e;
  }
  const close = db.close;
  return Object.assign(db, {
    async close() {
      try {
        await close();
      } finally {
        lock.release();
      }
    },
  });
}
