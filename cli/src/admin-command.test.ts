/**
 * `peep admin rotate-master-key` as a real process: a key for the first step (--new-key), scaled out
 * against PostgreSQL with PEEP_MASTER_KEY / PEEP_MASTER_KEY_PREVIOUS, and embedded both while a peep
 * holds the data directory (the command asks it over HTTP) and when nothing runs (the command
 * rotates the data directory itself). Old values are read back after each rotation and restart.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { buildApi, systemClock } from '@peep/api';
import { call, createOwner, createProjectWithKey, type SignedIn, type TestServer } from '@peep/api/testing';
import { always, startReceiver } from '@peep/builder/notify/testing';
import { createLogger, createMemoryBus, type Db, loadConfig, lockDataDir, migrate, openDb } from '@peep/pkg';
import {
  createKeyring,
  formatMasterKey,
  generateMasterKey,
  MASTER_KEY_FILE,
  PREVIOUS_KEY_FILE,
  parseMasterKey,
} from '@peep/pkg/master-key';
import {
  countByMasterKey,
  keyringFromConfig,
  type MasterKeys,
  openForProject,
  sealForProject,
} from '@peep/pkg/project-keys';
import { freePort, openTestDb } from '@peep/pkg/testing';
import { peep, startPeep, tempHome } from './testkit.js';

const h = tempHome();
after(() => h.cleanup());
const quiet = { warn: () => {} };
const keyIdOnDisk = (dir: string) =>
  parseMasterKey(fs.readFileSync(path.join(dir, MASTER_KEY_FILE), 'utf8'), MASTER_KEY_FILE).id;

async function newProject(db: Db, slug: string): Promise<string> {
  const { rows } = await db.query<{ id: string }>(
    'INSERT INTO projects (slug, name) VALUES ($1, $1) RETURNING id',
    [slug],
  );
  return (rows[0] as { id: string }).id;
}

type Sealed = { project: string; plain: string; sealed: string };
async function sealSome(db: Db, keys: MasterKeys, n: number): Promise<Sealed[]> {
  const out: Sealed[] = [];
  for (let i = 0; i < n; i++) {
    const project = await newProject(db, `p${i}-${Math.random().toString(36).slice(2, 8)}`);
    const plain = `secret ${i}\nsecond line `;
    out.push({ project, plain, sealed: await sealForProject(db, keys, project, plain, 'var:test') });
  }
  return out;
}
async function allOpen(db: Db, keys: MasterKeys, values: Sealed[]) {
  for (const v of values)
    assert.equal(await openForProject(db, keys, v.project, v.sealed, 'var:test'), v.plain);
}

test('--new-key prints a valid master key, alone on stdout (and as JSON with --json)', async () => {
  const r = await peep(['admin', 'rotate-master-key', '--new-key'], h.env);
  assert.equal(r.code, 0, r.stderr);
  const text = r.stdout.trim();
  const mk = parseMasterKey(text, 'stdout');
  assert.match(text, /^peepmk1\.[0-9a-f]{8}\.[A-Za-z0-9_-]{43}$/);
  assert.match(r.stderr, /PEEP_MASTER_KEY_PREVIOUS/);
  assert.ok(!r.stderr.includes(text.split('.')[2] as string), 'the key is printed once, on stdout');
  const j = await peep(['admin', 'rotate-master-key', '--new-key', '--json'], h.env);
  const body = JSON.parse(j.stdout);
  assert.equal(parseMasterKey(body.masterKey, 'json').id, body.masterKeyId);
  assert.notEqual(body.masterKeyId, mk.id);
  const bad = await peep(['admin', 'rotate-master-key', '--new-key', '--check'], h.env);
  assert.equal(bad.code, 2);
});

describe('scaled out (PostgreSQL)', {
  skip: !process.env.PEEP_TEST_DATABASE_URL && 'PEEP_TEST_DATABASE_URL not set',
}, () => {
  test('new key current, old key previous: --check counts, rotate re-wraps and says PEEP_MASTER_KEY_PREVIOUS can go', async () => {
    const t = await openTestDb('postgres');
    try {
      const a = generateMasterKey();
      const b = generateMasterKey();
      const values = await sealSome(t.db, createKeyring(a), 3);
      const env = {
        ...h.env,
        DATABASE_URL: t.url,
        PEEP_MASTER_KEY: formatMasterKey(b),
        PEEP_MASTER_KEY_PREVIOUS: formatMasterKey(a),
      };
      const check = await peep(['admin', 'rotate-master-key', '--check', '--json'], env);
      assert.equal(check.code, 0, check.stderr);
      const s = JSON.parse(check.stdout);
      assert.equal(s.mode, 'database');
      assert.equal(s.masterKeyId, b.id);
      assert.deepEqual(s.dataKeys, [{ masterKeyId: a.id, count: 3, loaded: 'previous' }]);
      assert.equal(s.remainingUnderPrevious, 3);
      assert.deepEqual(
        Object.fromEntries(await countByMasterKey(t.db)),
        { [a.id]: 3 },
        '--check changes nothing',
      );

      const r = await peep(['admin', 'rotate-master-key'], env);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`Re-wrapped 3 data keys under master key ${b.id}`));
      assert.match(r.stdout, /PEEP_MASTER_KEY_PREVIOUS can be removed/);
      assert.ok(!`${r.stdout}${r.stderr}`.includes(formatMasterKey(a).slice(17)));
      assert.deepEqual(Object.fromEntries(await countByMasterKey(t.db)), { [b.id]: 3 });
      // The old key removed from every replica: old values still read.
      await allOpen(t.db, createKeyring(b), values);
      const again = JSON.parse((await peep(['admin', 'rotate-master-key', '--json'], env)).stdout);
      assert.equal(again.rewrapped, 0);
      assert.equal(again.previousRemovable, true);

      // A replica that forgot the new key: the rows are refused by id, not re-wrapped, exit 1.
      const wrong = await peep(['admin', 'rotate-master-key', '--json'], {
        ...env,
        PEEP_MASTER_KEY: formatMasterKey(a),
        PEEP_MASTER_KEY_PREVIOUS: '',
      });
      assert.equal(wrong.code, 1);
      const out = JSON.parse(wrong.stdout);
      assert.deepEqual(
        out.failed.map((f: { code: string }) => f.code),
        ['unknown_master_key', 'unknown_master_key', 'unknown_master_key'],
      );
      assert.equal(JSON.parse(wrong.stderr).error.code, 'rewrap_incomplete');
      assert.deepEqual(Object.fromEntries(await countByMasterKey(t.db)), { [b.id]: 3 });
    } finally {
      await t.drop();
    }
  });
});

describe('embedded', () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'peep-admin-cli-'));
  after(() => fs.rmSync(dataDir, { recursive: true, force: true }));
  const env = { ...h.env, PEEP_DATA_DIR: dataDir };

  /** What `peep up` does with the data directory: lock it, open PGlite there, serve the API on it. */
  async function upOn() {
    const lock = lockDataDir(dataDir);
    const db = await openDb({ dataDir });
    await migrate(db);
    const config = loadConfig(
      {},
      { port: 0, host: '127.0.0.1', dashboard: false, builder: false, logLevel: 'silent', dataDir },
    );
    const bus = createMemoryBus();
    const api = await buildApi({
      config,
      db,
      bus,
      log: createLogger({ level: 'silent' }),
      clock: systemClock,
    });
    await api.app.listen({ port: 0, host: '127.0.0.1' });
    const addr = api.app.server.address();
    const port = typeof addr === 'object' && addr ? addr.port : 0;
    const server = {
      url: `http://127.0.0.1:${port}`,
      engine: 'pglite',
      db,
      config,
      api,
    } as unknown as TestServer;
    return {
      server,
      db,
      async stop() {
        await api.app.close();
        await api.drain(10_000);
        await bus.close();
        await db.close();
        lock.release();
      },
    };
  }

  test('while peep runs the command asks it; when nothing runs it rotates the data directory itself; values read after each', async () => {
    let up = await upOn();
    const owner: SignedIn = await createOwner(up.server);
    const { projectId } = await createProjectWithKey(up.server, owner, { name: 'Shop' });
    const put = await call(up.server, owner, 'PUT', `/api/v1/projects/${projectId}/envs/dev/vars`, {
      baseVersion: 0,
      message: 'first',
      set: [{ key: 'STRIPE_KEY', value: 'sk_live_123\n', secret: true }],
    });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    const holder = keyringFromConfig(up.server.config, quiet);
    const values = await sealSome(up.db, holder, 2);
    const k0 = keyIdOnDisk(dataDir);
    const rw = await call(up.server, owner, 'POST', '/api/v1/tokens', {
      name: 'rw',
      scopes: ['read', 'write'],
    });
    const adm = await call(up.server, owner, 'POST', '/api/v1/tokens', { name: 'adm', scopes: ['admin'] });
    const viaServer = { ...env, PEEP_SERVER: up.server.url, PEEP_TOKEN: adm.body.secret };

    // Without the admin scope: refused with advice, nothing changed.
    const refused = await peep(['admin', 'rotate-master-key'], { ...viaServer, PEEP_TOKEN: rw.body.secret });
    assert.equal(refused.code, 5, refused.stderr);
    assert.match(refused.stderr, /peep login --admin/);
    assert.equal(keyIdOnDisk(dataDir), k0);

    const check = JSON.parse(
      (await peep(['admin', 'rotate-master-key', '--check', '--json'], viaServer)).stdout,
    );
    assert.equal(check.mode, 'server');
    assert.deepEqual(check.dataKeys, [{ masterKeyId: k0, count: 3, loaded: 'current' }]);

    const r = await peep(['admin', 'rotate-master-key', '--json'], viaServer);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.mode, 'server');
    assert.equal(out.previousKeyId, k0);
    assert.equal(out.rewrapped, 3);
    assert.equal(out.remainingUnderPrevious, 0);
    const k1 = keyIdOnDisk(dataDir);
    assert.equal(out.masterKeyId, k1);
    assert.equal(fs.statSync(path.join(dataDir, MASTER_KEY_FILE)).mode & 0o777, 0o600);
    const reveal = async () => {
      const v = await call(up.server, owner, 'POST', `/api/v1/projects/${projectId}/envs/dev/reveal`, {});
      assert.equal(v.status, 200, JSON.stringify(v.body));
      assert.deepEqual(v.body.values, { STRIPE_KEY: 'sk_live_123\n' });
    };
    await reveal();
    await allOpen(up.db, holder, values);

    // Nothing running: the command opens the data directory itself.
    await up.stop();
    const local = await peep(['admin', 'rotate-master-key'], env);
    assert.equal(local.code, 0, local.stderr);
    assert.match(
      local.stdout,
      new RegExp(`New master key [0-9a-f]{8} in .*master\\.key; the previous key was ${k1}`),
    );
    assert.match(local.stdout, /Re-wrapped 3 data keys/);
    assert.match(local.stdout, /Back up the new master\.key/);
    const k2 = keyIdOnDisk(dataDir);
    assert.notEqual(k2, k1);
    assert.equal(fs.existsSync(path.join(dataDir, PREVIOUS_KEY_FILE)), false);
    const localCheck = JSON.parse(
      (await peep(['admin', 'rotate-master-key', '--check', '--json'], env)).stdout,
    );
    assert.equal(localCheck.mode, 'embedded');
    assert.deepEqual(localCheck.dataKeys, [{ masterKeyId: k2, count: 3, loaded: 'current' }]);

    // Started again: keys from disk, every old value reads.
    up = await upOn();
    try {
      await reveal();
      await allOpen(up.db, keyringFromConfig(up.server.config, quiet), values);
    } finally {
      await up.stop();
    }
  });
});

describe('with a real `peep up`', () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'peep-admin-up-'));
  after(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  async function up() {
    const port = await freePort();
    const p = startPeep(['up'], {
      ...h.env,
      PEEP_PORT: String(port),
      PEEP_DATA_DIR: dataDir,
      PEEP_DASHBOARD: 'false',
      PEEP_LOG_LEVEL: 'warn',
      PEEP_WEBHOOK_DENY: 'none',
    });
    await p.waitFor(/is ready at/, 60_000);
    return { p, url: `http://127.0.0.1:${port}` };
  }

  test('rotate while it runs: a channel URL and a secret still work in that process and after a restart from disk', async () => {
    const hook = await startReceiver(always(200));
    let a = await up();
    try {
      const token = await a.p.waitFor(/setup\?token=([A-Za-z0-9_-]+)/);
      assert.ok(token, a.p.stdout());
      const setup = await fetch(`${a.url}/api/v1/setup`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          token,
          email: 'me@example.com',
          name: 'Me',
          password: 'a long enough password',
        }),
      });
      assert.equal(setup.status, 201);
      const cookie = setup.headers
        .getSetCookie()
        .map((c) => c.split(';')[0])
        .join('; ');
      const owner = {
        cookie,
        csrfToken: ((await setup.json()) as { csrfToken: string }).csrfToken,
      } as SignedIn;
      const srv = () => ({ url: a.url }) as TestServer;
      const adm = await call(srv(), owner, 'POST', '/api/v1/tokens', {
        name: 'adm',
        scopes: ['read', 'write', 'admin'],
      });
      assert.equal(adm.status, 201, JSON.stringify(adm.body));
      const who = { token: adm.body.secret as string };
      const { projectId } = await createProjectWithKey(srv(), owner, { name: 'Up' });
      const ch = await call(srv(), who, 'POST', `/api/v1/projects/${projectId}/channels`, {
        name: 'ops',
        kind: 'webhook',
        url: hook.url('/hook/secret-path'),
      });
      assert.equal(ch.status, 201, JSON.stringify(ch.body));
      const put = await call(srv(), who, 'PUT', `/api/v1/projects/${projectId}/envs/dev/vars`, {
        baseVersion: 0,
        message: 'first',
        set: [{ key: 'DB_PASSWORD', value: 'pw with spaces ', secret: true }],
      });
      assert.equal(put.status, 200, JSON.stringify(put.body));
      const works = async () => {
        const v = await call(srv(), who, 'POST', `/api/v1/projects/${projectId}/envs/dev/reveal`, {});
        assert.deepEqual(v.body.values, { DB_PASSWORD: 'pw with spaces ' });
        const before = hook.hits.length;
        const t = await call(
          srv(),
          who,
          'POST',
          `/api/v1/projects/${projectId}/channels/${ch.body.channel.id}/test`,
        );
        assert.equal(t.status, 200, JSON.stringify(t.body));
        assert.equal(t.body.ok, true, JSON.stringify(t.body));
        assert.equal(hook.hits.length, before + 1);
        assert.equal(hook.hits.at(-1)?.path, '/hook/secret-path');
      };
      await works();
      const k0 = keyIdOnDisk(dataDir);

      const r = await peep(['admin', 'rotate-master-key', '--json'], {
        ...h.env,
        PEEP_DATA_DIR: dataDir,
        PEEP_SERVER: a.url,
        PEEP_TOKEN: who.token,
      });
      assert.equal(r.code, 0, r.stderr);
      const out = JSON.parse(r.stdout);
      assert.equal(out.mode, 'server');
      assert.equal(out.previousKeyId, k0);
      assert.equal(out.rewrapped, 1);
      assert.equal(out.remainingUnderPrevious, 0);
      assert.equal(keyIdOnDisk(dataDir), out.masterKeyId);
      await works();

      a.p.child.kill('SIGTERM');
      assert.equal(await a.p.exit(), 0);
      a = await up();
      await works();
    } finally {
      a.p.child.kill('SIGTERM');
      await a.p.exit().catch(() => {});
      await hook.close();
    }
  });
});
