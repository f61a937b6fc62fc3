/**
 * Freeze windows: the rule for the freeze in force (chained windows end at the latest end), window
 * checks, and over HTTP on both engines: admins plan and remove windows, developers cannot, an active
 * window refuses a set in dev with 423 environment_frozen and `details.until`, removing it lets the
 * set through, bad windows are 400 invalid_freeze_window, unknown ids 404 freeze_not_found.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { AppError } from '@peep/pkg';
import { call, type SignedIn, type TestServer, testEngines } from '../testing.js';
import { checkFreezeWindow, freezeAt } from './policy-routes.js';
import { type EnvKit, startEnvKit } from './testkit.js';

const at = (h: number) => new Date(Date.UTC(2026, 0, 1, h));
const w = (from: number, to: number, reason = `${from}-${to}`) => ({
  startsAt: at(from),
  endsAt: at(to),
  reason,
});

describe('freeze rule', () => {
  test('outside every window there is no freeze; windows are [start, end)', () => {
    assert.equal(freezeAt([w(10, 12)], at(9)), null);
    assert.equal(freezeAt([w(10, 12)], at(12)), null);
    assert.deepEqual(freezeAt([w(10, 12)], at(10)), { until: at(12), reason: '10-12' });
  });
  test('overlapping and touching windows chain: until is the latest end among them', () => {
    const ws = [w(10, 12), w(11, 14), w(14, 15), w(16, 18)];
    assert.deepEqual(freezeAt(ws, at(10)), { until: at(15), reason: '10-12' });
    assert.deepEqual(freezeAt(ws, at(11)), { until: at(15), reason: '11-14' });
  });
  test('a later window separated by a gap does not extend the freeze', () => {
    assert.deepEqual(freezeAt([w(10, 12), w(13, 20)], at(11))?.until, at(12));
  });
  test('windows must end after they start, in the future, within 90 days', () => {
    const code = (fn: () => void) => {
      try {
        fn();
        return 'ok';
      } catch (e) {
        return (e as AppError).code;
      }
    };
    assert.equal(
      code(() => checkFreezeWindow(at(12), at(10), at(0))),
      'invalid_freeze_window',
    );
    assert.equal(
      code(() => checkFreezeWindow(at(1), at(2), at(3))),
      'invalid_freeze_window',
    );
    assert.equal(
      code(() => checkFreezeWindow(at(0), new Date(at(0).getTime() + 91 * 86_400_000), at(0))),
      'invalid_freeze_window',
    );
    assert.equal(
      code(() => checkFreezeWindow(at(0), at(5), at(1))),
      'ok',
    );
  });
});

for (const engine of testEngines()) {
  describe(`freezes over HTTP (${engine})`, () => {
    let s: TestServer;
    let owner: SignedIn;
    let dev: SignedIn;
    let projectId: string;
    const base = () => `/api/v1/projects/${projectId}`;

    let k: EnvKit;

    before(async () => {
      k = await startEnvKit(engine);
      ({ s, projectId } = k);
      ({ owner, developer: dev } = k.users);
    });
    after(async () => k?.close());

    const setVar = async (who: SignedIn, env: string, key: string, value: string) => {
      const cur = await call(s, who, 'GET', `${base()}/envs/${env}/vars`);
      return call(s, who, 'PUT', `${base()}/envs/${env}/vars`, {
        baseVersion: cur.body.version,
        message: `set ${key}`,
        set: [{ key, value }],
      });
    };

    test('an admin freezes dev: a developer’s set is 423 with until and reason; removing it lets the set through', async () => {
      const endsAt = new Date(Date.now() + 3600_000).toISOString();
      const f = await call(s, owner, 'POST', `${base()}/envs/dev/freezes`, { endsAt, reason: 'release 1.2' });
      assert.equal(f.status, 201, JSON.stringify(f.body));
      assert.equal(f.body.freeze.active, true);
      assert.equal(f.body.freeze.endsAt, endsAt);

      const list = await call(s, dev, 'GET', `${base()}/envs/dev/freezes`);
      assert.equal(list.status, 200);
      assert.equal(list.body.freezes.length, 1);
      assert.deepEqual(list.body.frozen, { until: endsAt, reason: 'release 1.2' });

      const refused = await setVar(dev, 'dev', 'FEATURE_X', 'on');
      assert.equal(refused.status, 423, JSON.stringify(refused.body));
      assert.equal(refused.body.error.code, 'environment_frozen');
      assert.equal(refused.body.error.details.until, endsAt);
      assert.equal(refused.body.error.details.reason, 'release 1.2');

      // staging is not frozen
      assert.equal((await setVar(dev, 'staging', 'FEATURE_X', 'on')).status, 200);

      const del = await call(s, owner, 'DELETE', `${base()}/envs/dev/freezes/${f.body.freeze.id}`);
      assert.equal(del.status, 204);
      assert.equal((await setVar(dev, 'dev', 'FEATURE_X', 'on')).status, 200);
    });

    test('a window planned for later does not freeze now', async () => {
      const startsAt = new Date(Date.now() + 3600_000).toISOString();
      const endsAt = new Date(Date.now() + 7200_000).toISOString();
      const f = await call(s, owner, 'POST', `${base()}/envs/staging/freezes`, { startsAt, endsAt });
      assert.equal(f.status, 201);
      assert.equal(f.body.freeze.active, false);
      assert.equal((await setVar(dev, 'staging', 'LATER', '1')).status, 200);
      assert.equal(
        (await call(s, owner, 'DELETE', `${base()}/envs/staging/freezes/${f.body.freeze.id}`)).status,
        204,
      );
    });

    test('developers cannot plan or remove windows', async () => {
      const endsAt = new Date(Date.now() + 3600_000).toISOString();
      const r = await call(s, dev, 'POST', `${base()}/envs/dev/freezes`, { endsAt });
      assert.equal(r.status, 403);
      assert.equal(r.body.error.code, 'forbidden');
    });

    test('bad windows: 400 invalid_freeze_window or validation_failed; unknown ids 404', async () => {
      const past = new Date(Date.now() - 60_000).toISOString();
      const soon = new Date(Date.now() + 60_000).toISOString();
      const bad = [
        [{ endsAt: past }, 'invalid_freeze_window'],
        [{ startsAt: soon, endsAt: new Date(Date.now() + 30_000).toISOString() }, 'invalid_freeze_window'],
        [{ endsAt: new Date(Date.now() + 100 * 86_400_000).toISOString() }, 'invalid_freeze_window'],
        [{ endsAt: 'tomorrow' }, 'validation_failed'],
        [{ endsAt: soon, color: 'red' }, 'validation_failed'],
        [{}, 'validation_failed'],
      ] as const;
      for (const [body, code] of bad) {
        const r = await call(s, owner, 'POST', `${base()}/envs/dev/freezes`, body);
        assert.equal(r.status, 400, JSON.stringify(body));
        assert.equal(r.body.error.code, code, JSON.stringify(body));
      }
      const missing = await call(
        s,
        owner,
        'DELETE',
        `${base()}/envs/dev/freezes/00000000-0000-4000-8000-000000000000`,
      );
      assert.equal(missing.status, 404);
      assert.equal(missing.body.error.code, 'freeze_not_found');
      const noEnv = await call(s, owner, 'GET', `${base()}/envs/nope/freezes`);
      assert.equal(noEnv.status, 404);
      assert.equal(noEnv.body.error.code, 'environment_not_found');
    });

    test('freeze decisions are audited without values', async () => {
      const r = await call(s, owner, 'GET', `${base()}/audit?limit=100`);
      assert.equal(r.status, 200);
      const actions = r.body.entries.map((e: { action: string }) => e.action);
      assert.ok(actions.includes('env.freeze.create'));
      assert.ok(actions.includes('env.freeze.delete'));
    });
  });
}
