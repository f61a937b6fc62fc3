import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { openChannel } from '@peep/builder/notifier/sealed';
import { createLogger, createMemoryBus, type Db, loadConfig } from '@peep/pkg';
import { MASTER_KEY_FILE, PREVIOUS_KEY_FILE, parseMasterKey } from '@peep/pkg/master-key';
import { keyringFromConfig, type MasterKeys, openForProject, sealForProject } from '@peep/pkg/project-keys';
import { SealError } from '@peep/pkg/seal';
import { buildApi } from '../app.js';
import { systemClock } from '../core/types.js';
import {
  call,
  createOwner,
  createProjectWithKey,
  createUser,
  type Engine,
  openTestDb,
  type SignedIn,
  type TestServer,
  testEngines,
} from '../testing.js';

const ROTATE = '/api/v1/admin/master-key/rotate';
const STATUS = '/api/v1/admin/master-key';

/**
 * An embedded server as `peep up` builds it: no keys passed in, so the API makes its one holder from
 * the configuration (`<dataDir>/master.key`). `restart` builds a new API on the same database and
 * data directory, which reads its keys from disk again.
 */
async function startEmbedded(engine: Engine) {
  const t = await openTestDb(engine);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'peep-admin-'));
  const config = loadConfig(
    {},
    {
      port: 0,
      host: '127.0.0.1',
      dashboard: false,
      builder: false,
      logLevel: 'silent',
      authRateLimit: 1000,
      dataDir,
    },
  );
  const log = createLogger({ level: 'silent' });
  const bus = createMemoryBus();
  const boot = async () => {
    const api = await buildApi({ config, db: t.db, bus, log, clock: systemClock });
    await api.app.listen({ port: 0, host: '127.0.0.1' });
    const addr = api.app.server.address();
    const port = typeof addr === 'object' && addr ? addr.port : 0;
    return { url: `http://127.0.0.1:${port}`, engine, db: t.db, config, api } as Omit<TestServer, 'close'>;
  };
  let s = await boot();
  const stop = async () => {
    await s.api.app.close();
    await s.api.drain(10_000);
  };
  const server = {
    get: () => s as TestServer,
    dataDir,
    db: t.db as Db,
    async restart() {
      await stop();
      s = await boot();
    },
    async close() {
      await stop();
      await bus.close();
      await t.drop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return server;
}

const keyIdOnDisk = (dir: string, name = MASTER_KEY_FILE) =>
  parseMasterKey(fs.readFileSync(path.join(dir, name), 'utf8'), name).id;
const mode = (file: string) => fs.statSync(file).mode & 0o777;

for (const engine of testEngines()) {
  describe(`admin: master key rotation (${engine})`, () => {
    test('values sealed through the API and directly still read after a rotation and after a restart', async () => {
      const e = await startEmbedded(engine);
      try {
        const s = e.get();
        const owner = await createOwner(s);
        const { projectId } = await createProjectWithKey(s, owner, { name: 'Rotate me' });
        const { projectId: other } = await createProjectWithKey(s, owner, { name: 'Other' });
        // A channel URL, sealed by the channels API.
        const hook = 'https://hooks.example.com/services/T000/B000/secret-path';
        const ch = await call(s, owner, 'POST', `/api/v1/projects/${projectId}/channels`, {
          name: 'ops',
          kind: 'webhook',
          url: hook,
        });
        assert.equal(ch.status, 201, JSON.stringify(ch.body));
        const channelId = ch.body.channel.id as string;
        // A secret variable, sealed by the environments API.
        const put = await call(s, owner, 'PUT', `/api/v1/projects/${projectId}/envs/dev/vars`, {
          baseVersion: 0,
          message: 'first',
          set: [{ key: 'DB_PASSWORD', value: 'hunter2\nline two ', secret: true }],
        });
        assert.equal(put.status, 200, JSON.stringify(put.body));
        // Raw values for both projects, with a holder of the same data directory (the same key).
        const holder = keyringFromConfig(s.config, { warn: () => {} });
        const raw = [
          { p: projectId, purpose: 'test:a', plain: 'alpha' },
          { p: other, purpose: 'test:b', plain: 'beta\r\n' },
        ];
        const sealed = await Promise.all(
          raw.map((r) => sealForProject(e.db, holder, r.p, r.plain, r.purpose)),
        );
        const oldId = keyIdOnDisk(e.dataDir);

        const st0 = await call(s, owner, 'GET', STATUS);
        assert.equal(st0.status, 200, JSON.stringify(st0.body));
        assert.equal(st0.body.masterKeyId, oldId);
        assert.equal(st0.body.source, 'generated');
        assert.deepEqual(st0.body.dataKeys, [{ masterKeyId: oldId, count: 2, loaded: 'current' }]);

        const r = await call(s, owner, 'POST', ROTATE, {});
        assert.equal(r.status, 200, JSON.stringify(r.body));
        assert.equal(r.body.previousKeyId, oldId);
        assert.notEqual(r.body.masterKeyId, oldId);
        assert.equal(r.body.rewrapped, 2);
        assert.equal(r.body.remainingUnderPrevious, 0);
        assert.equal(keyIdOnDisk(e.dataDir), r.body.masterKeyId);
        assert.equal(mode(path.join(e.dataDir, MASTER_KEY_FILE)), 0o600);
        assert.equal(fs.existsSync(path.join(e.dataDir, PREVIOUS_KEY_FILE)), false);
        assert.equal(r.headers.get('cache-control'), 'no-store');
        // Nothing secret in the answer.
        assert.ok(!JSON.stringify(r.body).includes('peepmk1'));

        const check = async (srv: TestServer, keys: MasterKeys) => {
          const rev = await call(srv, owner, 'POST', `/api/v1/projects/${projectId}/envs/dev/reveal`, {
            keys: ['DB_PASSWORD'],
          });
          assert.equal(rev.status, 200, JSON.stringify(rev.body));
          assert.equal(rev.body.values.DB_PASSWORD, 'hunter2\nline two ');
          const { rows } = await e.db.query<{
            id: string;
            project_id: string;
            kind: 'webhook';
            url_sealed: string;
            secret_sealed: string | null;
          }>('SELECT id, project_id, kind, url_sealed, secret_sealed FROM channels WHERE id = $1', [
            channelId,
          ]);
          const opened = await openChannel(e.db, keys, rows[0] as NonNullable<(typeof rows)[0]>, new Date());
          assert.equal(opened.url, hook);
          for (const [i, v] of raw.entries())
            assert.equal(await openForProject(e.db, keys, v.p, sealed[i] as string, v.purpose), v.plain);
        };
        // In this process (the holder the API made switched; a new one reads the new file).
        await check(s, keyringFromConfig(s.config, { warn: () => {} }));
        // After a restart that loads the keys from disk.
        await e.restart();
        const s2 = e.get();
        await check(s2, keyringFromConfig(s2.config, { warn: () => {} }));
        const st1 = await call(s2, owner, 'GET', STATUS);
        assert.equal(st1.body.source, 'file');
        assert.deepEqual(st1.body.dataKeys, [
          { masterKeyId: r.body.masterKeyId, count: 2, loaded: 'current' },
        ]);
        // The audit log has the rotation with the key ids, never a key.
        const audit = await call(s2, owner, 'GET', '/api/v1/audit?action=admin.master_key.rotate');
        assert.equal(audit.status, 200, JSON.stringify(audit.body));
        const entry = audit.body.entries.find(
          (x: { action: string }) => x.action === 'admin.master_key.rotate',
        );
        assert.ok(entry, JSON.stringify(audit.body));
        assert.equal(entry.outcome, 'success');
        assert.equal(entry.details.previousKeyId, oldId);
        assert.equal(entry.details.rewrapped, 2);
      } finally {
        await e.close();
      }
    });

    test('only an instance admin with the admin scope may rotate: others get 403 and nothing changes', async () => {
      const e = await startEmbedded(engine);
      try {
        const s = e.get();
        const owner = await createOwner(s);
        const user: SignedIn = await createUser(s, owner, 'dev@example.com');
        await createProjectWithKey(s, owner);
        assert.equal((await call(s, owner, 'GET', STATUS)).status, 200);
        const before = keyIdOnDisk(e.dataDir);
        const r = await call(s, user, 'POST', ROTATE, {});
        assert.equal(r.status, 403);
        assert.equal(r.body.error.code, 'instance_admin_required');
        assert.equal((await call(s, user, 'GET', STATUS)).status, 403);
        assert.equal((await call(s, null, 'POST', ROTATE, {})).status, 401);
        // The owner's token without the admin scope.
        const tok = await call(s, owner, 'POST', '/api/v1/tokens', { name: 'rw', scopes: ['read', 'write'] });
        assert.equal(tok.status, 201, JSON.stringify(tok.body));
        const r2 = await call(s, { token: tok.body.secret }, 'POST', ROTATE, {});
        assert.equal(r2.status, 403);
        assert.equal(r2.body.error.code, 'insufficient_scope');
        assert.equal(keyIdOnDisk(e.dataDir), before);
        // With the admin scope it works.
        const adm = await call(s, owner, 'POST', '/api/v1/tokens', {
          name: 'adm',
          scopes: ['admin', 'write'],
        });
        const r3 = await call(s, { token: adm.body.secret }, 'POST', ROTATE, {});
        assert.equal(r3.status, 200, JSON.stringify(r3.body));
        assert.notEqual(keyIdOnDisk(e.dataDir), before);
        // Refusals are audited as failures.
        const audit = await call(s, owner, 'GET', '/api/v1/audit?action=admin.master_key.rotate');
        const outcomes = audit.body.entries.map((x: { outcome: string }) => x.outcome).sort();
        assert.deepEqual(outcomes, ['failure', 'failure', 'failure', 'success']);
      } finally {
        await e.close();
      }
    });

    test('rotation is rate-limited: the 11th call within a minute is 429, and the key on disk is the 10th', async () => {
      const e = await startEmbedded(engine);
      try {
        const s = e.get();
        const owner = await createOwner(s);
        await createProjectWithKey(s, owner);
        const ids: string[] = [];
        for (let i = 0; i < 10; i++) {
          const r = await call(s, owner, 'POST', ROTATE, {});
          assert.equal(r.status, 200, JSON.stringify(r.body));
          ids.push(r.body.masterKeyId);
        }
        assert.equal(new Set(ids).size, 10);
        const r = await call(s, owner, 'POST', ROTATE, {});
        assert.equal(r.status, 429);
        assert.equal(keyIdOnDisk(e.dataDir), ids[9]);
      } finally {
        await e.close();
      }
    });

    test('concurrent rotation calls converge, and values written meanwhile still read after a restart', async () => {
      const e = await startEmbedded(engine);
      try {
        const s = e.get();
        const owner = await createOwner(s);
        const { projectId } = await createProjectWithKey(s, owner);
        const base = `/api/v1/projects/${projectId}/envs/dev`;
        let version = 0;
        const write = async (i: number) => {
          const w = await call(s, owner, 'PUT', `${base}/vars`, {
            baseVersion: version,
            message: `v${i}`,
            set: [{ key: `SECRET_${i}`, value: `value ${i}`, secret: true }],
          });
          assert.equal(w.status, 200, JSON.stringify(w.body));
          version = w.body.version;
        };
        await write(0);
        const [a, b, c] = await Promise.all([
          call(s, owner, 'POST', ROTATE, {}),
          call(s, owner, 'POST', ROTATE, {}),
          write(1).then(() => call(s, owner, 'POST', ROTATE, {})),
        ]);
        for (const r of [a, b, c]) assert.equal(r.status, 200, JSON.stringify(r.body));
        await write(2);
        const finalId = keyIdOnDisk(e.dataDir);
        const st = await call(s, owner, 'GET', STATUS);
        assert.equal(st.body.masterKeyId, finalId);
        assert.deepEqual(
          st.body.dataKeys.map((d: { masterKeyId: string }) => d.masterKeyId),
          [finalId],
        );
        await e.restart();
        const s2 = e.get();
        const rev = await call(s2, owner, 'POST', `${base}/reveal`, {});
        assert.equal(rev.status, 200, JSON.stringify(rev.body));
        assert.deepEqual(rev.body.values, { SECRET_0: 'value 0', SECRET_1: 'value 1', SECRET_2: 'value 2' });
      } finally {
        await e.close();
      }
    });

    test('the wrong master.key (no previous) is a clear error naming the key, never garbage', async () => {
      const e = await startEmbedded(engine);
      try {
        const s = e.get();
        const owner = await createOwner(s);
        const { projectId } = await createProjectWithKey(s, owner);
        const put = await call(s, owner, 'PUT', `/api/v1/projects/${projectId}/envs/dev/vars`, {
          baseVersion: 0,
          message: 'first',
          set: [{ key: 'API_TOKEN', value: 'tok-123', secret: true }],
        });
        assert.equal(put.status, 200);
        const keyId = keyIdOnDisk(e.dataDir);
        // master.key replaced by another key (a wrong backup), restart.
        fs.rmSync(path.join(e.dataDir, MASTER_KEY_FILE));
        await e.restart();
        const s2 = e.get();
        const rev = await call(s2, owner, 'POST', `/api/v1/projects/${projectId}/envs/dev/reveal`, {
          keys: ['API_TOKEN'],
        });
        assert.equal(rev.status, 500);
        assert.equal(rev.body.error.code, 'sealed_value_unreadable');
        assert.match(rev.body.error.message, new RegExp(keyId));
        assert.ok(!JSON.stringify(rev.body).includes('tok-123'));
        // The rotation leaves the row alone and says why.
        const r = await call(s2, owner, 'POST', ROTATE, {});
        assert.equal(r.status, 200);
        assert.deepEqual(
          r.body.failed.map((f: { projectId: string; code: string }) => [f.projectId, f.code]),
          [[projectId, 'unknown_master_key']],
        );
        assert.equal(r.body.remainingUnderPrevious, 1);
        // And a direct open of a value is a SealError, not bytes.
        const holder = keyringFromConfig(s2.config, { warn: () => {} });
        await assert.rejects(
          openForProject(e.db, holder, projectId, 'v1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 'x'),
          (err: unknown) => err instanceof SealError && err.code === 'unknown_master_key',
        );
      } finally {
        await e.close();
      }
    });
  });
}
