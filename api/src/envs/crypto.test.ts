/**
 * Encryption at rest of variables, on both engines: values are stored sealed (no plaintext in the
 * table, not even of plain values); one flipped byte in a stored value makes reading that
 * environment answer 500 sealed_value_unreadable naming the key (not garbage, not the value) while
 * other environments still read; a ciphertext copied onto another key's row does not open (AAD binds
 * environment, service and key); an API with another master key answers the same code; the log
 * names the key and never a value.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createLogger, createMemoryBus } from '@peep/pkg';
import { createKeyring, generateMasterKey } from '@peep/pkg/master-key';
import { buildApi } from '../app.js';
import { systemClock } from '../core/types.js';
import { call, testEngines } from '../testing.js';
import { type EnvKit, startEnvKit } from './testkit.js';

const SECRET = 'correct-horse-7f3a9c-battery';
const PLAIN = 'plain-value-6b1e04-staple';

for (const engine of testEngines()) {
  describe(`variables sealed at rest (${engine})`, () => {
    let k: EnvKit;
    before(async () => {
      k = await startEnvKit(engine, { captureLogs: true });
      await k.put('dev', {
        set: [
          { key: 'DB_PASSWORD', value: SECRET },
          { key: 'NOTE', value: PLAIN },
          { key: 'OTHER', value: 'o' },
        ],
      });
      await k.put('staging', { set: [{ key: 'DB_PASSWORD', value: 'staging-pw' }] });
    });
    after(async () => k?.close());

    const row = async (env: string, key: string) =>
      (
        await k.s.db.query<{ id: string; value_sealed: string }>(
          'SELECT id, value_sealed FROM env_vars WHERE environment_id = $1 AND key = $2 AND to_version IS NULL',
          [env, key],
        )
      ).rows[0] as { id: string; value_sealed: string };
    const setSealed = (id: string, sealed: string) =>
      k.s.db.query('UPDATE env_vars SET value_sealed = $2 WHERE id = $1', [id, sealed]);

    test('nothing is stored in clear, plain values included', async () => {
      const { rows } = await k.s.db.query<{ t: string }>('SELECT env_vars::text AS t FROM env_vars');
      assert.ok(rows.length >= 4);
      for (const r of rows) {
        assert.ok(!r.t.includes(SECRET));
        assert.ok(!r.t.includes(PLAIN));
      }
      const v = await row(k.env.dev, 'DB_PASSWORD');
      assert.match(v.value_sealed, /^v1\./);
    });

    test('a flipped byte: 500 sealed_value_unreadable naming the key; other environments still read', async () => {
      const v = await row(k.env.dev, 'DB_PASSWORD');
      const body = Buffer.from(v.value_sealed.slice(3), 'base64url');
      body[14] = (body[14] ?? 0) ^ 0x01;
      await setSealed(v.id, `v1.${body.toString('base64url')}`);
      try {
        const r = await k.req('owner', 'POST', `${k.base()}/envs/dev/reveal`, {});
        assert.equal(r.status, 500);
        assert.equal(r.body.error.code, 'sealed_value_unreadable');
        assert.match(r.body.error.message, /Data integrity failure: the stored value of DB_PASSWORD/);
        assert.match(r.body.error.message, /tampered or wrong master key/);
        assert.equal(r.body.error.details.key, 'DB_PASSWORD');
        const list = await k.req('viewer', 'GET', `${k.base()}/envs/dev/vars`);
        assert.equal(
          list.body.error.code,
          'sealed_value_unreadable',
          'the list does not show garbage either',
        );
        const staging = await k.req('owner', 'POST', `${k.base()}/envs/staging/reveal`, {});
        assert.equal(staging.status, 200);
        assert.deepEqual(staging.body.values, { DB_PASSWORD: 'staging-pw' });
        const write = await k.req('owner', 'PUT', `${k.base()}/envs/dev/vars`, {
          baseVersion: 1,
          message: 'same value again',
          set: [{ key: 'DB_PASSWORD', value: SECRET }],
        });
        assert.equal(
          write.body.error.code,
          'sealed_value_unreadable',
          'comparing with a tampered value fails too',
        );
        const logged = k.logs.join('');
        assert.match(logged, /DB_PASSWORD/, 'the log names the key');
        assert.ok(!logged.includes(SECRET), 'the log never holds the value');
      } finally {
        await setSealed(v.id, v.value_sealed);
      }
      const ok = await k.req('owner', 'POST', `${k.base()}/envs/dev/reveal`, { keys: ['DB_PASSWORD'] });
      assert.deepEqual(ok.body.values, { DB_PASSWORD: SECRET });
    });

    test("a ciphertext moved to another key's row does not open", async () => {
      const from = await row(k.env.dev, 'DB_PASSWORD');
      const to = await row(k.env.dev, 'OTHER');
      await setSealed(to.id, from.value_sealed);
      try {
        const r = await k.req('owner', 'POST', `${k.base()}/envs/dev/reveal`, { keys: ['OTHER'] });
        assert.equal(r.status, 500);
        assert.equal(r.body.error.code, 'sealed_value_unreadable');
        assert.equal(r.body.error.details.key, 'OTHER');
        const staging = await row(k.env.staging, 'DB_PASSWORD');
        await setSealed(staging.id, from.value_sealed);
        const s = await k.req('owner', 'POST', `${k.base()}/envs/staging/reveal`, {});
        assert.equal(s.body.error.code, 'sealed_value_unreadable', 'nor in another environment');
        await setSealed(staging.id, staging.value_sealed);
      } finally {
        await setSealed(to.id, to.value_sealed);
      }
    });

    test('an API with another master key answers sealed_value_unreadable, not garbage', async () => {
      const bus = createMemoryBus();
      const api = await buildApi({
        config: k.s.config,
        db: k.s.db,
        bus,
        log: createLogger({ level: 'silent' }),
        clock: systemClock,
        keys: createKeyring(generateMasterKey()),
      });
      await api.app.listen({ port: 0, host: '127.0.0.1' });
      const addr = api.app.server.address();
      const other = { url: `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}` };
      try {
        const r = await call(other as never, k.users.owner, 'POST', `${k.base()}/envs/dev/reveal`, {});
        assert.equal(r.status, 500);
        assert.equal(r.body.error.code, 'sealed_value_unreadable');
        assert.match(r.body.error.message, /data key does not open with the master key/);
        assert.ok(!JSON.stringify(r.body).includes(SECRET));
      } finally {
        await api.app.close();
        await bus.close();
      }
    });
  });
}
