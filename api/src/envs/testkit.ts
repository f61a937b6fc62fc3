/**
 * What the environment variable suites share: a real API (testing.ts's, or one whose log output is
 * captured), an owner, an admin, a developer and a viewer in a project with dev, staging and prod,
 * and small helpers for the variable routes.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { createLogger, createMemoryBus, loadConfig } from '@peep/pkg';
import { createKeyring, generateMasterKey } from '@peep/pkg/master-key';
import { buildApi } from '../app.js';
import { systemClock } from '../core/types.js';
import {
  call,
  createOwner,
  createUser,
  type Engine,
  openTestDb,
  type SignedIn,
  startTestServer,
  type TestServer,
} from '../testing.js';

export type Who = 'owner' | 'admin' | 'developer' | 'viewer';
// biome-ignore lint/suspicious/noExplicitAny: tests read whatever JSON the route answers
export type Answer = { status: number; body: any; headers: Headers };

export interface EnvKit {
  s: TestServer;
  /** Log lines of the server (only with `captureLogs`). */
  logs: string[];
  users: Record<Who, SignedIn>;
  projectId: string;
  env: Record<'dev' | 'staging' | 'prod', string>;
  base: (projectId?: string) => string;
  req(who: Who, method: string, route: string, body?: unknown): Promise<Answer>;
  /** PUT vars on the environment's current version; asserts 200 unless `expect` says otherwise. */
  put(
    env: string,
    body: { set?: unknown[]; unset?: unknown[]; message?: string; baseVersion?: number },
    who?: Who,
    expect?: number,
    // biome-ignore lint/suspicious/noExplicitAny: tests read whatever JSON the route answers
  ): Promise<any>;
  version(env: string): Promise<number>;
  close(): Promise<void>;
}

async function captured(engine: Engine): Promise<TestServer & { logs: string[] }> {
  const t = await openTestDb(engine);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'peep-envs-'));
  const config = loadConfig(
    {},
    {
      port: 0,
      host: '127.0.0.1',
      dashboard: false,
      builder: false,
      logLevel: 'trace',
      authRateLimit: 1000,
      dataDir,
    },
  );
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      logs.push(String(chunk));
      done();
    },
  });
  const bus = createMemoryBus();
  const api = await buildApi({
    config,
    db: t.db,
    bus,
    log: createLogger({ level: 'trace' }, sink),
    clock: systemClock,
    keys: createKeyring(generateMasterKey()),
  });
  await api.app.listen({ port: 0, host: '127.0.0.1' });
  const addr = api.app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    engine,
    db: t.db,
    config,
    api,
    logs,
    async close() {
      await api.app.close();
      await api.drain(10_000);
      await bus.close();
      await t.drop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A server, four users with each role, and a project with dev, staging and prod. */
export async function startEnvKit(engine: Engine, opts: { captureLogs?: boolean } = {}): Promise<EnvKit> {
  const s = opts.captureLogs ? await captured(engine) : await startTestServer({ engine });
  const logs = 'logs' in s ? (s.logs as string[]) : [];
  const owner = await createOwner(s);
  const users: Record<Who, SignedIn> = {
    owner,
    admin: await createUser(s, owner, 'admin@example.com'),
    developer: await createUser(s, owner, 'developer@example.com'),
    viewer: await createUser(s, owner, 'viewer@example.com'),
  };
  const p = await call(s, owner, 'POST', '/api/v1/projects', {
    name: 'Shop',
    environments: ['dev', 'staging', 'prod'],
  });
  assert.equal(p.status, 201, JSON.stringify(p.body));
  const projectId: string = p.body.project.id;
  const env = Object.fromEntries(
    (p.body.environments as { id: string; slug: string }[]).map((e) => [e.slug, e.id]),
  ) as EnvKit['env'];
  for (const who of ['admin', 'developer', 'viewer'] as const) {
    const r = await call(s, owner, 'POST', `/api/v1/projects/${projectId}/members`, {
      email: users[who].email,
      role: who,
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
  }
  const base = (pid = projectId) => `/api/v1/projects/${pid}`;
  const req: EnvKit['req'] = (who, method, route, body) => call(s, users[who], method, route, body);
  const version = async (e: string) => {
    const r = await req('owner', 'GET', `${base()}/envs/${e}/vars`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body.version as number;
  };
  return {
    s,
    logs,
    users,
    projectId,
    env,
    base,
    req,
    version,
    async put(e, body, who = 'owner', expect = 200) {
      const r = await req(who, 'PUT', `${base()}/envs/${e}/vars`, {
        message: 'test',
        ...body,
        baseVersion: body.baseVersion ?? (await version(e)),
      });
      assert.equal(r.status, expect, JSON.stringify(r.body));
      return r.body;
    },
    close: () => s.close(),
  };
}
