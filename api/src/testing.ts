/**
 * Real servers for tests and benchmarks: the API on a random loopback port over a fresh database,
 * PGlite always and PostgreSQL when PEEP_TEST_DATABASE_URL is set (CI sets it). Nothing is mocked.
 */
import { type Bus, type Config, createLogger, createMemoryBus, type Db, loadConfig, openDb } from '@peep/pkg';
import type { User } from '@peep/pkg/schemas';
import { type Engine, openTestDb } from '@peep/pkg/testing';
import { type Api, buildApi } from './app.js';
import { systemClock } from './core/types.js';

export type { Engine, TestDb } from '@peep/pkg/testing';
export { openTestDb, testEngines } from '@peep/pkg/testing';

export interface TestServer {
  url: string;
  engine: Engine;
  db: Db;
  config: Config;
  api: Api;
  close(): Promise<void>;
}

export async function startTestServer(
  opts: {
    engine?: Engine;
    config?: Partial<Config>;
    /** The bus (default: a new in-process one); closed with the server. */
    bus?: Bus;
    /**
     * Another API replica on this server's PostgreSQL database, with its own connection pool. Close
     * the replica first: the first server drops the database.
     */
    replicaOf?: TestServer;
  } = {},
): Promise<TestServer> {
  const engine = opts.replicaOf?.engine ?? opts.engine ?? 'pglite';
  const t = opts.replicaOf ? await replicaDb(opts.replicaOf) : await openTestDb(engine);
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
  const bus = opts.bus ?? createMemoryBus();
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

async function replicaDb(of: TestServer): Promise<{ db: Db; drop(): Promise<void> }> {
  const url = process.env.PEEP_TEST_DATABASE_URL;
  if (of.engine !== 'postgres' || !url) throw new Error('replicas need PostgreSQL (PEEP_TEST_DATABASE_URL)');
  const { rows } = await of.db.query<{ name: string }>('SELECT current_database() AS name');
  const u = new URL(url);
  u.pathname = `/${rows[0]?.name}`;
  const db = await openDb({ databaseUrl: u.toString(), poolSize: 10 });
  return { db, drop: () => db.close() };
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

export interface ProjectWithKey {
  projectId: string;
  /** Environment slug to id, in project order. */
  environments: { id: string; slug: string }[];
  /** An ingest key (peep_ik_...) for `environment` (default: the first one). */
  key: string;
  keyId: string;
}

/** Creates a project through the API and an ingest key for one of its environments. */
export async function createProjectWithKey(
  server: TestServer,
  who: SignedIn,
  opts: { name?: string; environment?: string } = {},
): Promise<ProjectWithKey> {
  const p = await call(server, who, 'POST', '/api/v1/projects', { name: opts.name ?? `Shop ${Date.now()}` });
  if (p.status !== 201) throw new Error(`project creation failed: ${p.status} ${JSON.stringify(p.body)}`);
  const environments = (p.body.environments as { id: string; slug: string }[]).map((e) => ({
    id: e.id,
    slug: e.slug,
  }));
  const env = opts.environment ? environments.find((e) => e.slug === opts.environment) : environments[0];
  if (!env) throw new Error(`no environment ${opts.environment}`);
  const k = await call(server, who, 'POST', `/api/v1/projects/${p.body.project.id}/ingest-keys`, {
    name: 'test key',
    environmentId: env.id,
  });
  if (k.status !== 201) throw new Error(`ingest key creation failed: ${k.status} ${JSON.stringify(k.body)}`);
  return { projectId: p.body.project.id, environments, key: k.body.secret, keyId: k.body.ingestKey.id };
}

/** POSTs telemetry with an ingest key (JSON array unless `contentType` says otherwise). */
export async function ingest(
  server: TestServer | { url: string },
  key: string,
  kind: 'events' | 'logs' | 'aggregates',
  items: unknown,
  headers: Record<string, string> = {},
  // biome-ignore lint/suspicious/noExplicitAny: tests read whatever JSON the route answers
): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(`${server.url}/api/v1/ingest/${kind}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers },
    body: typeof items === 'string' || items instanceof Uint8Array ? items : JSON.stringify(items),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    // not JSON
  }
  return { status: res.status, body, headers: res.headers };
}
