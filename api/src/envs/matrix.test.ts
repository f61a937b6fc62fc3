/**
 * The role × environment × action matrix under the default policies, over HTTP on both engines:
 * viewer, developer, admin and owner against dev, staging and prod, for reading the list, revealing
 * a secret, changing a variable (applied, approval_required, or forbidden) and the approve permission
 * the list reports. Each cell is a real request; the expected table is written out in full.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testEngines } from '../testing.js';
import { type EnvKit, startEnvKit, type Who } from './testkit.js';

type Cell = 'ok' | 'forbidden' | 'approval_required';
const ROLES: Who[] = ['viewer', 'developer', 'admin', 'owner'];
const ENVS = ['dev', 'staging', 'prod'] as const;

// Expected outcomes per environment kind, per role in ROLES order.
const EXPECTED: Record<
  'other' | 'prod',
  Record<'read' | 'reveal' | 'change' | 'approve', (Cell | boolean)[]>
> = {
  other: {
    read: ['ok', 'ok', 'ok', 'ok'],
    reveal: ['forbidden', 'ok', 'ok', 'ok'],
    change: ['forbidden', 'ok', 'ok', 'ok'],
    approve: [false, false, true, true],
  },
  prod: {
    read: ['ok', 'ok', 'ok', 'ok'],
    reveal: ['forbidden', 'forbidden', 'ok', 'ok'],
    change: ['forbidden', 'approval_required', 'ok', 'ok'],
    approve: [false, false, true, true],
  },
};

for (const engine of testEngines()) {
  describe(`role × environment × action matrix (${engine})`, () => {
    let k: EnvKit;
    const cell = (r: { status: number; body: { error?: { code: string } } }): Cell =>
      r.status === 200 ? 'ok' : ((r.body.error?.code ?? `status ${r.status}`) as Cell);

    before(async () => {
      k = await startEnvKit(engine);
      for (const e of ENVS)
        await k.put(e, {
          set: [
            { key: 'PLAIN', value: 'p' },
            { key: 'SECRET_X', value: `${e}-s` },
          ],
        });
    });
    after(async () => k?.close());

    for (const e of ENVS) {
      const kind = e === 'prod' ? 'prod' : 'other';
      test(`${e}: read, reveal, change and approve for each role`, async () => {
        const got: typeof EXPECTED.prod = { read: [], reveal: [], change: [], approve: [] };
        for (const who of ROLES) {
          const list = await k.req(who, 'GET', `${k.base()}/envs/${e}/vars`);
          got.read.push(cell(list));
          if (list.status === 200) {
            assert.equal(list.body.policy.role, who);
            got.approve.push(list.body.policy.canApprove);
            assert.equal(list.body.vars.find((v: { key: string }) => v.key === 'SECRET_X').value, null);
          }
          const reveal = await k.req(who, 'POST', `${k.base()}/envs/${e}/reveal`, { keys: ['SECRET_X'] });
          got.reveal.push(cell(reveal));
          if (reveal.status === 200) assert.deepEqual(reveal.body.values, { SECRET_X: `${e}-s` });
          const plain = await k.req(who, 'POST', `${k.base()}/envs/${e}/reveal`, { keys: ['PLAIN'] });
          assert.equal(plain.status, 200, 'plain values need only the read role');
          const change = await k.req(who, 'PUT', `${k.base()}/envs/${e}/vars`, {
            baseVersion: await k.version(e),
            message: `by ${who}`,
            set: [{ key: 'CHANGED_BY', value: who }],
          });
          got.change.push(cell(change));
          const exp = await k.req(who, 'POST', `${k.base()}/envs/${e}/export`, {});
          assert.equal(cell(exp), got.reveal.at(-1), 'export needs what revealing a secret needs');
        }
        assert.deepEqual(got, EXPECTED[kind]);
      });
    }

    test('the policy block tells each role what it may do', async () => {
      const prod = await k.req('developer', 'GET', `${k.base()}/envs/prod/vars`);
      assert.deepEqual(prod.body.policy, {
        readRole: 'viewer',
        revealRole: 'admin',
        changeRole: 'admin',
        proposeRole: 'developer',
        approveRole: 'admin',
        role: 'developer',
        canRead: true,
        canReveal: false,
        canChange: false,
        canPropose: true,
        canApprove: false,
      });
      const rb = await k.req('developer', 'POST', `${k.base()}/envs/prod/rollback`, {
        toVersion: 1,
        baseVersion: await k.version('prod'),
      });
      assert.equal(rb.status, 403);
      assert.equal(rb.body.error.code, 'approval_required', 'rollback is refused like a change');
    });
  });
}
