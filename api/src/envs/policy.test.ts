/**
 * Policy and required keys over HTTP on both engines: the defaults (prod lets developers only
 * propose, dev and staging let them change), an admin's policy replacing them and taking effect on
 * writes, back to defaults, unusable policies refused (400 invalid_policy), developers refused (403);
 * required keys listed, replaced, with bad names, repeated keys and unsafe or broken patterns
 * refused with 400; every change audited with settings and key names only.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { call, createUser, type SignedIn, type TestServer, testEngines } from '../testing.js';
import { type EnvKit, startEnvKit } from './testkit.js';

for (const engine of testEngines()) {
  describe(`environment policy over HTTP (${engine})`, () => {
    let s: TestServer;
    let owner: SignedIn;
    let dev: SignedIn;
    let viewer: SignedIn;
    let projectId: string;
    const base = () => `/api/v1/projects/${projectId}`;

    let k: EnvKit;

    before(async () => {
      k = await startEnvKit(engine);
      ({ s, projectId } = k);
      ({ owner, developer: dev, viewer } = k.users);
    });
    after(async () => k?.close());

    test('defaults: prod needs admin to change and developers propose; dev lets developers change', async () => {
      const prod = await call(s, viewer, 'GET', `${base()}/envs/prod/policy`);
      assert.equal(prod.status, 200, JSON.stringify(prod.body));
      assert.equal(prod.body.isDefault, true);
      assert.deepEqual(prod.body.policy, {
        readRole: 'viewer',
        revealRole: 'admin',
        changeRole: 'admin',
        proposeRole: 'developer',
        approveRole: 'admin',
      });
      const devEnv = await call(s, viewer, 'GET', `${base()}/envs/dev/policy`);
      assert.deepEqual(devEnv.body.policy, {
        readRole: 'viewer',
        revealRole: 'developer',
        changeRole: 'developer',
        proposeRole: 'developer',
        approveRole: 'admin',
      });
    });

    test('an admin’s policy replaces the defaults and applies to writes; DELETE restores them', async () => {
      const strictDev = {
        readRole: 'viewer',
        revealRole: 'admin',
        changeRole: 'admin',
        proposeRole: 'developer',
        approveRole: 'owner',
      };
      const put = await call(s, owner, 'PUT', `${base()}/envs/dev/policy`, strictDev);
      assert.equal(put.status, 200, JSON.stringify(put.body));
      assert.deepEqual(put.body, { policy: strictDev, isDefault: false });
      assert.deepEqual((await call(s, dev, 'GET', `${base()}/envs/dev/policy`)).body.policy, strictDev);

      const cur = await call(s, dev, 'GET', `${base()}/envs/dev/vars`);
      const set = await call(s, dev, 'PUT', `${base()}/envs/dev/vars`, {
        baseVersion: cur.body.version,
        message: 'try',
        set: [{ key: 'A', value: '1' }],
      });
      assert.equal(set.status, 403, JSON.stringify(set.body));
      assert.equal(set.body.error.code, 'approval_required');

      const del = await call(s, owner, 'DELETE', `${base()}/envs/dev/policy`);
      assert.equal(del.status, 200);
      assert.equal(del.body.isDefault, true);
      assert.equal(del.body.policy.changeRole, 'developer');
    });

    test('unusable policies are 400 invalid_policy; malformed ones validation_failed', async () => {
      const ok = {
        readRole: 'viewer',
        revealRole: 'admin',
        changeRole: 'admin',
        proposeRole: 'developer',
        approveRole: 'admin',
      };
      for (const [body, code] of [
        [{ ...ok, approveRole: 'developer' }, 'invalid_policy'],
        [{ ...ok, readRole: 'admin', proposeRole: 'developer' }, 'invalid_policy'],
        [{ ...ok, changeRole: 'root' }, 'validation_failed'],
        [{ readRole: 'viewer' }, 'validation_failed'],
        [{ ...ok, extra: true }, 'validation_failed'],
      ] as const) {
        const r = await call(s, owner, 'PUT', `${base()}/envs/staging/policy`, body);
        assert.equal(r.status, 400, JSON.stringify(body));
        assert.equal(r.body.error.code, code, JSON.stringify(body));
      }
    });

    test('developers and viewers cannot change a policy; strangers see no project', async () => {
      const body = {
        readRole: 'viewer',
        revealRole: 'developer',
        changeRole: 'developer',
        proposeRole: 'developer',
        approveRole: 'admin',
      };
      for (const who of [dev, viewer]) {
        const r = await call(s, who, 'PUT', `${base()}/envs/prod/policy`, body);
        assert.equal(r.status, 403);
        assert.equal(r.body.error.code, 'forbidden');
      }
      const stranger = await createUser(s, owner, 'stranger@example.com');
      const r = await call(s, stranger, 'GET', `${base()}/envs/prod/policy`);
      assert.equal(r.status, 404);
      assert.equal(r.body.error.code, 'project_not_found');
    });

    test('required keys: listed, replaced by admins, checked', async () => {
      assert.deepEqual((await call(s, viewer, 'GET', `${base()}/required-keys`)).body, { keys: [] });
      const keys = [
        { key: 'DATABASE_URL', pattern: '^postgres(ql)?://', description: 'main database' },
        { key: 'SENTRY_DSN' },
      ];
      const put = await call(s, owner, 'PUT', `${base()}/required-keys`, { keys });
      assert.equal(put.status, 200, JSON.stringify(put.body));
      const want = [
        { key: 'DATABASE_URL', pattern: '^postgres(ql)?://', description: 'main database' },
        { key: 'SENTRY_DSN', pattern: null, description: '' },
      ];
      assert.deepEqual(put.body.keys, want);
      assert.deepEqual((await call(s, dev, 'GET', `${base()}/required-keys`)).body.keys, want);

      const refused = await call(s, dev, 'PUT', `${base()}/required-keys`, { keys: [] });
      assert.equal(refused.status, 403);

      for (const [body, code] of [
        [{ keys: [{ key: 'A', pattern: '(a+)+$' }] }, 'validation_failed'],
        [{ keys: [{ key: 'A', pattern: '([' }] }, 'validation_failed'],
        [{ keys: [{ key: '9LIVES' }] }, 'invalid_key'],
        [{ keys: [{ key: 'A' }, { key: 'A' }] }, 'duplicate_key'],
        [{ keys: 'A' }, 'validation_failed'],
        [{}, 'validation_failed'],
      ] as const) {
        const r = await call(s, owner, 'PUT', `${base()}/required-keys`, body);
        assert.equal(r.status, 400, JSON.stringify(body));
        assert.equal(r.body.error.code, code, JSON.stringify(body));
      }
      // refused lists changed nothing
      assert.deepEqual((await call(s, dev, 'GET', `${base()}/required-keys`)).body.keys, want);
    });

    test('policy and required-key changes are audited with settings and key names', async () => {
      const r = await call(s, owner, 'GET', `${base()}/audit?limit=100`);
      assert.equal(r.status, 200);
      type Entry = { action: string; outcome: string; details?: Record<string, unknown> };
      const entries = r.body.entries as Entry[];
      const policy = entries.find((e) => e.action === 'env.policy' && e.outcome === 'success');
      assert.ok(policy, 'env.policy recorded');
      const rk = entries.find((e) => e.action === 'env.required_keys' && e.outcome === 'success');
      assert.ok(rk, 'env.required_keys recorded');
      assert.deepEqual(rk?.details?.keys, ['DATABASE_URL', 'SENTRY_DSN']);
      assert.ok(policy?.details?.policy, 'the policy settings are in the entry');
    });
  });
}
