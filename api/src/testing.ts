/**
 * Real servers for tests and benchmarks: the API on a random loopback port over a fresh database,
 * PGlite always and PostgreSQL when PEEP_TEST_DATABASE_URL is set (CI sets it). Nothing is mocked.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  type Config,
  createLogger,
  createMemoryBus,
  type Db,
  loadConfig,
  migrate,
  openDb,
  readMigrations,
} from '@peep/pkg';
import type { User } from '@peep/pkg/schemas';
import { type Api, buildApi } from './app.js';
import { systemClock } from './core/types.js';

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
  drop(): Promise<void>;
}

/** A fresh, migrated database on the given engine. */
export async function openTestDb(engine: Engine): Promise<TestDb> {
  if (engine === 'pglite') {
    const dir = await pgliteDir();
    const db = await openDb({ dataDir: dir });
    await migrate(db);
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
  await migrate(db);
  return {
    db,
    engine,
    async drop() {
      await db.close();
      const a = await openDb({ databaseUrl: adminUrl, poolSize: 1 });
      await a.exec(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await a.close();
    },
  };
}

export interface TestServer {
  url: string;
  engine: Engine;
  db: Db;
  config: Config;
  api: Api;
  close(): Promise<void>;
}

export async function startTestServer(
  opts: { engine?: Engine; config?: Partial<Config> } = {},
): Promise<TestServer> {
  const engine = opts.engine ?? 'pglite';
  const t = await openTestDb(engine);
  const config = loadConfig(
    {},
    {
      port: 0,
      host: '127.0.0.1',
      dashboard: false,
      builder: false,
      logLevel: (process.env.PEEP_TEST_LOG as Config['logLevel']) ?? 'silent',
      authRateLimit: 1000,
      devicePollInterval: 1,
      ...opts.config,
    },
  );
  const log = createLogger({ level: config.logLevel });
  const bus = createMemoryBus();
  const api = await buildApi({ config, db: t.db, bus, log, clock: systemClock });
  await api.app.listen({ port: config.port, host: config.host });
  const addr = api.app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    engine,
    db: t.db,
    config,
    api,
    async close() {
      await api.app.close();
      await api.drain(10_000);
      await bus.close();
      await t.drop();
    },
  };
}

export interface SignedIn {
  email: string;
  password: string;
  user: User;
  /** Value for a `Cookie:` request header. */
  cookie: string;
  /** Value for the `x-csrf-token` header on writes. */
  csrfToken: string;
}

function cookieHeader(res: Response): string {
  return res.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .join('; ');
}

async function setup(server: TestServer, body: Record<string, string>): Promise<SignedIn> {
  const res = await fetch(`${server.url}/api/v1/setup`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (res.status !== 201) throw new Error(`setup failed: ${res.status} ${await res.text()}`);
  const json = (await res.json()) as { user: User; csrfToken: string };
  return {
    email: json.user.email,
    password: body.password ?? '',
    user: json.user,
    cookie: cookieHeader(res),
    csrfToken: json.csrfToken,
  };
}

/** Creates the owner through the real setup endpoint, with a one-time token like the one `peep up` prints. */
export async function createOwner(
  server: TestServer,
  opts: { email?: string; password?: string; name?: string } = {},
): Promise<SignedIn> {
  const t = await server.api.auth.issueOwnerSetupToken();
  if (!t) throw new Error('the owner already exists');
  return setup(server, {
    token: t.token,
    email: opts.email ?? 'owner@example.com',
    name: opts.name ?? 'Olive Owner',
    password: opts.password ?? 'correct horse battery staple',
  });
}

/** Invites and signs up another user (as the instance owner would). */
export async function createUser(
  server: TestServer,
  admin: SignedIn,
  email: string,
  password = 'another long password',
): Promise<SignedIn> {
  const res = await fetch(`${server.url}/api/v1/invites`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', cookie: admin.cookie, 'x-csrf-token': admin.csrfToken },
    body: JSON.stringify({ email }),
  });
  if (res.status !== 201) throw new Error(`invite failed: ${res.status} ${await res.text()}`);
  const { inviteUrl } = (await res.json()) as { inviteUrl: string };
  const token = new URL(inviteUrl).searchParams.get('token') ?? '';
  return setup(server, { token, name: email.split('@')[0] ?? email, password });
}

/** fetch with a signed-in user's cookie and CSRF header, JSON in and out. */
export async function call(
  server: TestServer,
  who: SignedIn | { token: string } | null,
  method: string,
  route: string,
  body?: unknown,
  // biome-ignore lint/suspicious/noExplicitAny: tests read whatever JSON the route answers
): Promise<{ status: number; body: any; headers: Headers }> {
  const headers: Record<string, string> = {};
  if (who && 'token' in who) headers.authorization = `Bearer ${who.token}`;
  else if (who) {
    headers.cookie = who.cookie;
    headers['x-csrf-token'] = who.csrfToken;
  }
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${server.url}${route}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    // not JSON
  }
  return { status: res.status, body: parsed, headers: res.headers };
}
