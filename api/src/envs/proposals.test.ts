/**
 * Proposals, approvals and promotion over HTTP on both engines, against the real API: a developer
 * proposes a prod change; developers and the author cannot approve; a different admin applies it as
 * one version recording the proposal and the approver; freezes block approvals (423 with until) but
 * not proposals; a key changed after proposing makes approval 409 proposal_conflict and the proposal
 * `conflict`; reject and cancel; rollback proposals; promotion preview, required keys (422), the
 * order rule (400 invalid_promotion), apply, and a developer's promotion into prod becoming a
 * proposal; other projects' proposals are 404; malformed bodies 400; every decision audited with keys
 * and never values.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { call, createProjectWithKey, type SignedIn, type TestServer, testEngines } from '../testing.js';
import { conflicts, scopedKey, summarize } from './proposals.js';
import { type EnvKit, startEnvKit } from './testkit.js';

const SECRET = 'postgres://app:s3cr3t-pr0d-pw@db.internal/app';

describe('conflict rule and summary', () => {
  const change = {
    set: [{ key: 'A', value: '1', secret: false, service: '' }],
    unset: [{ key: 'B', service: 'web' }],
  };
  test('a change conflicts on the keys it touches that changed since its base, scope included', () => {
    const since = new Set([scopedKey('', 'B'), scopedKey('web', 'B'), scopedKey('', 'Z')]);
    assert.deepEqual(conflicts('change', change, since), [{ key: 'B', service: 'web' }]);
    assert.deepEqual(conflicts('change', change, new Set([scopedKey('web', 'A')])), []);
  });
  test('a rollback conflicts with any change since its base', () => {
    assert.deepEqual(conflicts('rollback', change, new Set([scopedKey('', 'Z')])), [
      { key: 'Z', service: '' },
    ]);
    assert.deepEqual(conflicts('rollback', change, new Set()), []);
  });
  test('no-ops are dropped: the same value and flag, an unset of an absent variable', () => {
    const current = new Map([[scopedKey('', 'A'), { value: '1', secret: false }]]);
    const s = summarize(change, current);
    assert.deepEqual(s.summary, []);
    assert.equal(s.diff.unchanged, 2);
    const flag = summarize(
      { set: [{ key: 'A', value: '1', secret: true, service: '' }], unset: [] },
      current,
    );
    assert.deepEqual(flag.summary, [{ key: 'A', service: '', op: 'changed', secret: true }]);
  });
});

for (const engine of testEngines()) {
  describe(`proposals and promotion over HTTP (${engine})`, () => {
    let s: TestServer;
    let owner: SignedIn;
    let admin: SignedIn;
    let dev: SignedIn;
    let viewer: SignedIn;
    let projectId: string;
    let otherProjectId: string;
    const base = () => `/api/v1/projects/${projectId}`;

    let k: EnvKit;

    before(async () => {
      k = await startEnvKit(engine);
      ({ s, projectId } = k);
      ({ owner, admin, developer: dev, viewer } = k.users);
      otherProjectId = (await createProjectWithKey(s, owner, { name: 'Other' })).projectId;
    });
    after(async () => k?.close());

    const version = (env: string) => k.version(env);
    const setVars = async (
      who: SignedIn,
      env: string,
      set: { key: string; value: string; secret?: boolean; service?: string }[],
    ) =>
      call(s, who, 'PUT', `${base()}/envs/${env}/vars`, {
        baseVersion: await version(env),
        message: 'set',
        set,
      });
    const propose = async (who: SignedIn, env: string, body: Record<string, unknown>) =>
      call(s, who, 'POST', `${base()}/envs/${env}/proposals`, {
        kind: 'change',
        baseVersion: await version(env),
        message: 'proposed',
        ...body,
      });
    /** The current variables of an environment, plaintext, straight from the database through the API's reveal. */
    const reveal = async (env: string) => {
      const r = await call(s, owner, 'POST', `${base()}/envs/${env}/reveal`, {});
      assert.equal(r.status, 200, JSON.stringify(r.body));
      return r.body.values as Record<string, string>;
    };
    const versionRow = async (env: string, n: number) => {
      const { rows } = await s.db.query<{
        kind: string;
        proposal_id: string | null;
        approved_by: string | null;
        author_id: string | null;
        source_environment_id: string | null;
        source_version: number | null;
        restored_version: number | null;
      }>(
        `SELECT v.kind, v.proposal_id, v.approved_by, v.author_id, v.source_environment_id, v.source_version,
                v.restored_version
           FROM env_versions v JOIN environments e ON e.id = v.environment_id
          WHERE e.project_id = $1 AND e.slug = $2 AND v.number = $3`,
        [projectId, env, n],
      );
      return rows[0];
    };

    let firstId = '';

    test('a developer cannot change prod directly but proposes: 201 with keys and no values', async () => {
      const direct = await setVars(dev, 'prod', [{ key: 'LOG_LEVEL', value: 'info' }]);
      assert.equal(direct.status, 403);
      assert.equal(direct.body.error.code, 'approval_required');

      const r = await propose(dev, 'prod', {
        message: 'prod database',
        set: [
          { key: 'DATABASE_URL', value: SECRET },
          { key: 'LOG_LEVEL', value: 'info' },
        ],
      });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      const p = r.body.proposal;
      firstId = p.id;
      assert.equal(p.status, 'pending');
      assert.equal(p.kind, 'change');
      assert.equal(p.number, 1);
      assert.equal(p.environment.slug, 'prod');
      assert.equal(p.author.email, dev.email);
      assert.deepEqual(p.changes, [
        { key: 'DATABASE_URL', service: '', op: 'added', secret: false },
        { key: 'LOG_LEVEL', service: '', op: 'added', secret: false },
      ]);
      assert.ok(!JSON.stringify(r.body).includes(SECRET));
      // stored sealed: the value is nowhere in the row
      const { rows } = await s.db.query<Record<string, unknown>>(
        'SELECT * FROM env_proposals WHERE id = $1',
        [p.id],
      );
      assert.ok(!JSON.stringify(rows).includes('s3cr3t'));
    });

    test('listed as pending and shown with its diff; plain values shown, secrets masked', async () => {
      const list = await call(s, viewer, 'GET', `${base()}/proposals?status=pending&env=prod`);
      assert.equal(list.status, 200);
      assert.deepEqual(
        list.body.proposals.map((p: { id: string }) => p.id),
        [firstId],
      );
      const one = await call(s, viewer, 'GET', `${base()}/proposals/1`);
      assert.equal(one.status, 200, JSON.stringify(one.body));
      assert.equal(one.body.proposal.id, firstId);
      assert.deepEqual(
        one.body.diff.added.map((a: { key: string; value: string | null }) => [a.key, a.value]),
        [
          ['DATABASE_URL', SECRET],
          ['LOG_LEVEL', 'info'],
        ],
      );
      const byId = await call(s, viewer, 'GET', `${base()}/proposals/${firstId}`);
      assert.equal(byId.body.proposal.number, 1);
    });

    test('secret values of a proposal are masked, and shown by an audited reveal to revealRole', async () => {
      const p = await propose(dev, 'prod', { set: [{ key: 'API_TOKEN', value: 'tok-123-secret' }] });
      assert.equal(p.status, 201, JSON.stringify(p.body));
      assert.deepEqual(p.body.proposal.changes, [
        { key: 'API_TOKEN', service: '', op: 'added', secret: true },
      ]);
      const masked = await call(s, admin, 'GET', `${base()}/proposals/${p.body.proposal.id}`);
      assert.equal(masked.body.diff.added[0].value, null);
      const devReveal = await call(s, dev, 'POST', `${base()}/proposals/${p.body.proposal.id}/reveal`);
      assert.equal(devReveal.status, 403, 'prod reveals need admin');
      const shown = await call(s, admin, 'POST', `${base()}/proposals/${p.body.proposal.id}/reveal`);
      assert.equal(shown.status, 200, JSON.stringify(shown.body));
      assert.equal(shown.body.diff.added[0].value, 'tok-123-secret');
      const audit = await call(s, owner, 'GET', `${base()}/audit?action=env.reveal&limit=10`);
      const entry = audit.body.entries.find((e: { outcome: string }) => e.outcome === 'success');
      assert.deepEqual(entry?.details?.keys, ['API_TOKEN']);
      assert.equal(
        (await call(s, dev, 'POST', `${base()}/proposals/${p.body.proposal.id}/cancel`)).body.proposal.status,
        'cancelled',
      );
    });

    test('a developer cannot approve (403 forbidden), nor can the author (403 self_approval)', async () => {
      const r = await call(s, dev, 'POST', `${base()}/proposals/${firstId}/approve`, {});
      assert.equal(r.status, 403);
      assert.equal(r.body.error.code, 'forbidden');

      const own = await propose(admin, 'prod', { set: [{ key: 'OWN', value: 'x' }] });
      assert.equal(own.status, 201, JSON.stringify(own.body));
      const self = await call(s, admin, 'POST', `${base()}/proposals/${own.body.proposal.id}/approve`, {});
      assert.equal(self.status, 403);
      assert.equal(self.body.error.code, 'self_approval');
      const cancel = await call(s, admin, 'POST', `${base()}/proposals/${own.body.proposal.id}/cancel`);
      assert.equal(cancel.status, 200);
      assert.equal(cancel.body.proposal.status, 'cancelled');
    });

    test('a different admin approves: one new version with the proposal and approver recorded', async () => {
      const before = await version('prod');
      const r = await call(s, admin, 'POST', `${base()}/proposals/${firstId}/approve`, {
        comment: 'looks right',
      });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.version, before + 1);
      assert.equal(r.body.proposal.status, 'applied');
      assert.equal(r.body.proposal.appliedVersion, before + 1);
      assert.equal(r.body.proposal.decidedBy.email, admin.email);
      assert.equal(r.body.proposal.decisionComment, 'looks right');
      assert.equal(await version('prod'), before + 1);
      const row = await versionRow('prod', before + 1);
      assert.equal(row?.proposal_id, firstId);
      assert.equal(row?.approved_by, admin.user.id);
      assert.equal(row?.author_id, dev.user.id);
      const history = await call(s, viewer, 'GET', `${base()}/envs/prod/versions`);
      assert.equal(history.status, 200, JSON.stringify(history.body));
      const v = history.body.versions[0];
      assert.equal(v.number, before + 1);
      assert.deepEqual(v.proposal, { id: firstId, number: 1 });
      assert.equal(v.approvedBy.id, admin.user.id);
      assert.equal(v.author.email, dev.email);
      assert.deepEqual(await reveal('prod'), { DATABASE_URL: SECRET, LOG_LEVEL: 'info' });

      const again = await call(s, owner, 'POST', `${base()}/proposals/${firstId}/approve`, {});
      assert.equal(again.status, 409);
      assert.equal(again.body.error.code, 'proposal_not_pending');
    });

    test('during a freeze proposing works but approving is 423 with until; after it, approval applies', async () => {
      const p = await propose(dev, 'prod', { set: [{ key: 'LOG_LEVEL', value: 'debug' }] });
      const endsAt = new Date(Date.now() + 3600_000).toISOString();
      const f = await call(s, owner, 'POST', `${base()}/envs/prod/freezes`, { endsAt, reason: 'launch' });
      assert.equal(f.status, 201);

      const during = await propose(dev, 'prod', { set: [{ key: 'FEATURE', value: 'on' }] });
      assert.equal(during.status, 201, 'proposing is allowed during a freeze');

      const r = await call(s, admin, 'POST', `${base()}/proposals/${p.body.proposal.id}/approve`, {});
      assert.equal(r.status, 423, JSON.stringify(r.body));
      assert.equal(r.body.error.code, 'environment_frozen');
      assert.equal(r.body.error.details.until, endsAt);
      assert.equal(r.body.error.details.reason, 'launch');
      assert.equal(
        (await call(s, admin, 'GET', `${base()}/proposals/${p.body.proposal.id}`)).body.proposal.status,
        'pending',
      );

      assert.equal(
        (await call(s, owner, 'DELETE', `${base()}/envs/prod/freezes/${f.body.freeze.id}`)).status,
        204,
      );
      const ok = await call(s, admin, 'POST', `${base()}/proposals/${p.body.proposal.id}/approve`, {});
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      // FEATURE was proposed on an older base, but nobody changed FEATURE since: it applies on top
      const ok2 = await call(s, owner, 'POST', `${base()}/proposals/${during.body.proposal.id}/approve`, {});
      assert.equal(ok2.status, 200, JSON.stringify(ok2.body));
      assert.equal((await reveal('prod')).FEATURE, 'on');
    });

    test('a key changed after it was proposed: approve is 409 proposal_conflict and the proposal is conflict', async () => {
      const p = await propose(dev, 'prod', { set: [{ key: 'LOG_LEVEL', value: 'warn' }] });
      assert.equal(p.status, 201);
      const direct = await setVars(owner, 'prod', [{ key: 'LOG_LEVEL', value: 'error' }]);
      assert.equal(direct.status, 200, JSON.stringify(direct.body));
      const r = await call(s, admin, 'POST', `${base()}/proposals/${p.body.proposal.number}/approve`, {});
      assert.equal(r.status, 409, JSON.stringify(r.body));
      assert.equal(r.body.error.code, 'proposal_conflict');
      assert.deepEqual(r.body.error.details.keys, [{ key: 'LOG_LEVEL', service: '' }]);
      const after = await call(s, admin, 'GET', `${base()}/proposals/${p.body.proposal.id}`);
      assert.equal(after.body.proposal.status, 'conflict');
      assert.equal((await reveal('prod')).LOG_LEVEL, 'error');
    });

    test('proposals made at once get distinct numbers', async () => {
      const made = await Promise.all(
        [1, 2, 3, 4].map((i) =>
          propose(dev, 'staging', { set: [{ key: `PARALLEL_${i}`, value: String(i) }] }),
        ),
      );
      assert.deepEqual(
        made.map((m) => m.status),
        [201, 201, 201, 201],
      );
      const numbers = made.map((m) => m.body.proposal.number as number);
      assert.equal(new Set(numbers).size, 4);
      for (const m of made) await call(s, dev, 'POST', `${base()}/proposals/${m.body.proposal.id}/cancel`);
    });

    test('two admins approving at once: one applies, the other gets 409, one version is written', async () => {
      const p = await propose(dev, 'prod', { set: [{ key: 'RACE', value: 'once' }] });
      assert.equal(p.status, 201);
      const before = await version('prod');
      const results = await Promise.all(
        [admin, owner].map((who) =>
          call(s, who, 'POST', `${base()}/proposals/${p.body.proposal.id}/approve`, {}),
        ),
      );
      assert.deepEqual(
        results.map((r) => r.status).sort(),
        [200, 409],
        JSON.stringify(results.map((r) => r.body)),
      );
      assert.equal(results.find((r) => r.status === 409)?.body.error.code, 'proposal_not_pending');
      assert.equal(await version('prod'), before + 1);
    });

    test('reject needs approveRole; cancel is for the author or an admin', async () => {
      const p = await propose(dev, 'prod', { set: [{ key: 'REJECT_ME', value: '1' }] });
      const byDev = await call(s, dev, 'POST', `${base()}/proposals/${p.body.proposal.id}/reject`, {});
      assert.equal(byDev.status, 403);
      const rej = await call(s, admin, 'POST', `${base()}/proposals/${p.body.proposal.id}/reject`, {
        comment: 'no',
      });
      assert.equal(rej.status, 200);
      assert.equal(rej.body.proposal.status, 'rejected');
      assert.equal(rej.body.proposal.decisionComment, 'no');
      const late = await call(s, admin, 'POST', `${base()}/proposals/${p.body.proposal.id}/approve`, {});
      assert.equal(late.body.error.code, 'proposal_not_pending');

      const q = await propose(dev, 'prod', { set: [{ key: 'CANCEL_ME', value: '1' }] });
      const byViewer = await call(s, viewer, 'POST', `${base()}/proposals/${q.body.proposal.id}/cancel`);
      assert.equal(byViewer.status, 403);
      const c = await call(s, dev, 'POST', `${base()}/proposals/${q.body.proposal.id}/cancel`);
      assert.equal(c.status, 200);
      assert.equal(c.body.proposal.status, 'cancelled');
      assert.ok(!('REJECT_ME' in (await reveal('prod'))));
    });

    test('a rollback proposal restores an older version as a new one', async () => {
      const target = 1;
      const p = await propose(dev, 'prod', { kind: 'rollback', toVersion: target, message: 'back to 1' });
      assert.equal(p.status, 201, JSON.stringify(p.body));
      assert.equal(p.body.proposal.restoredVersion, target);
      const r = await call(s, admin, 'POST', `${base()}/proposals/${p.body.proposal.id}/approve`, {});
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.deepEqual(await reveal('prod'), { DATABASE_URL: SECRET, LOG_LEVEL: 'info' });
      const row = await versionRow('prod', r.body.version);
      assert.equal(row?.kind, 'rollback');
      assert.equal(row?.restored_version, target);
    });

    test('another project’s proposal, or a ref that is neither id nor number: 404 proposal_not_found', async () => {
      const other = await call(s, owner, 'GET', `/api/v1/projects/${otherProjectId}/proposals/${firstId}`);
      assert.equal(other.status, 404);
      assert.equal(other.body.error.code, 'proposal_not_found');
      const approve = await call(
        s,
        owner,
        'POST',
        `/api/v1/projects/${otherProjectId}/proposals/${firstId}/approve`,
        {},
      );
      assert.equal(approve.status, 404);
      assert.equal(approve.body.error.code, 'proposal_not_found');
      for (const ref of ['abc', '999999', '0'])
        assert.equal(
          (await call(s, owner, 'GET', `${base()}/proposals/${ref}`)).body.error.code,
          'proposal_not_found',
        );
    });

    test('malformed proposals are 400 with documented codes; a stale base is 409', async () => {
      const v = await version('prod');
      const cases = [
        [{ baseVersion: v, message: 'x', set: [] }, 'validation_failed'], // no kind
        [{ kind: 'change', baseVersion: v, message: 'x', set: [{ key: '1BAD', value: 'x' }] }, 'invalid_key'],
        [
          {
            kind: 'change',
            baseVersion: v,
            message: 'x',
            set: [
              { key: 'A', value: '1' },
              { key: 'A', value: '2' },
            ],
          },
          'duplicate_key',
        ],
        [
          { kind: 'change', baseVersion: v, message: 'x', set: [{ key: 'A', value: 'a\u0000b' }] },
          'invalid_value',
        ],
        [{ kind: 'change', baseVersion: v, message: 'x' }, 'validation_failed'], // changes nothing
        [{ kind: 'rollback', baseVersion: v, message: 'x' }, 'validation_failed'],
        [
          { kind: 'import', baseVersion: v, message: 'x', format: 'dotenv', content: 'A=1\nnot a line\n' },
          'invalid_dotenv',
        ],
        [{ kind: 'change', baseVersion: 'one', message: 'x' }, 'validation_failed'],
        [{ kind: 'change', baseVersion: v, message: 'x', extra: 1 }, 'validation_failed'],
      ] as const;
      for (const [body, code] of cases) {
        const r = await call(s, dev, 'POST', `${base()}/envs/prod/proposals`, body);
        assert.equal(r.status, 400, `${JSON.stringify(body)} → ${JSON.stringify(r.body)}`);
        assert.equal(r.body.error.code, code, JSON.stringify(body));
      }
      const unsetMissing = await call(s, dev, 'POST', `${base()}/envs/prod/proposals`, {
        kind: 'change',
        baseVersion: v,
        message: 'x',
        unset: [{ key: 'NOPE' }],
      });
      assert.equal(unsetMissing.status, 404);
      assert.equal(unsetMissing.body.error.code, 'variable_not_found');
      const stale = await call(s, dev, 'POST', `${base()}/envs/prod/proposals`, {
        kind: 'change',
        baseVersion: v - 1,
        message: 'x',
        set: [{ key: 'A', value: '1' }],
      });
      assert.equal(stale.status, 409);
      assert.equal(stale.body.error.code, 'version_conflict');
      assert.equal(stale.body.error.details.currentVersion, v);
      const viewerProposes = await call(s, viewer, 'POST', `${base()}/envs/prod/proposals`, {
        kind: 'change',
        baseVersion: v,
        message: 'x',
        set: [{ key: 'A', value: '1' }],
      });
      assert.equal(viewerProposes.status, 403);
      const badJson = await fetch(`${s.url}${base()}/envs/prod/proposals`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', cookie: dev.cookie, 'x-csrf-token': dev.csrfToken },
        body: '{"kind":',
      });
      assert.equal(badJson.status, 400);
    });

    test('an import proposal is parsed when proposed and applied on approval', async () => {
      const p = await propose(dev, 'prod', {
        kind: 'import',
        format: 'dotenv',
        content: 'IMPORTED_A=1\nIMPORTED_B="two words"\n',
      });
      assert.equal(p.status, 201, JSON.stringify(p.body));
      assert.equal(p.body.proposal.kind, 'import');
      const r = await call(s, owner, 'POST', `${base()}/proposals/${p.body.proposal.id}/approve`, {});
      assert.equal(r.status, 200, JSON.stringify(r.body));
      const values = await reveal('prod');
      assert.equal(values.IMPORTED_B, 'two words');
      assert.equal((await versionRow('prod', r.body.version))?.kind, 'import');
    });

    describe('promotion', () => {
      test('preview dev → staging: diff, required-key problems and mode; applying then is 422', async () => {
        const rk = await call(s, owner, 'PUT', `${base()}/required-keys`, {
          keys: [{ key: 'DATABASE_URL', pattern: '^postgres://' }, { key: 'PORT' }],
        });
        assert.equal(rk.status, 200, JSON.stringify(rk.body));
        assert.equal(
          (
            await setVars(dev, 'dev', [
              { key: 'DATABASE_URL', value: 'mysql://dev', secret: true },
              { key: 'API_URL', value: 'https://dev.example.com' },
            ])
          ).status,
          200,
        );
        const pre = await call(s, dev, 'POST', `${base()}/envs/dev/promote`, { to: 'staging', dryRun: true });
        assert.equal(pre.status, 200, JSON.stringify(pre.body));
        assert.equal(pre.body.mode, 'apply');
        assert.equal(pre.body.from.environment, 'dev');
        assert.equal(pre.body.to.environment, 'staging');
        assert.deepEqual(
          pre.body.diff.added.map((a: { key: string; value: string | null; secret: boolean }) => [
            a.key,
            a.value,
            a.secret,
          ]),
          [
            ['API_URL', 'https://dev.example.com', false],
            ['DATABASE_URL', null, true],
          ],
        );
        assert.deepEqual(pre.body.diff.removed, []);
        assert.equal(pre.body.requiredKeys.ok, false);
        assert.deepEqual(pre.body.requiredKeys.problems, [
          { key: 'DATABASE_URL', problem: 'pattern_mismatch' },
          { key: 'PORT', problem: 'missing' },
        ]);
        assert.equal(pre.body.frozen, null);

        const apply = await call(s, dev, 'POST', `${base()}/envs/dev/promote`, { to: 'staging' });
        assert.equal(apply.status, 422, JSON.stringify(apply.body));
        assert.equal(apply.body.error.code, 'required_keys_missing');
        assert.deepEqual(apply.body.error.details, pre.body.requiredKeys.problems);
      });

      test('apply dev → staging copies values and secret flags, keeps target-only keys, records the source', async () => {
        assert.equal((await setVars(owner, 'staging', [{ key: 'STAGING_ONLY', value: 'keep' }])).status, 200);
        assert.equal(
          (
            await setVars(dev, 'dev', [
              { key: 'DATABASE_URL', value: 'postgres://dev-db/app', secret: true },
              { key: 'PORT', value: '8080' },
            ])
          ).status,
          200,
        );
        const devVersion = await version('dev');
        const r = await call(s, dev, 'POST', `${base()}/envs/dev/promote`, {
          to: 'staging',
          baseVersion: await version('staging'),
          message: 'ship it',
        });
        assert.equal(r.status, 200, JSON.stringify(r.body));
        assert.deepEqual(
          r.body.changes.map((c: { key: string; op: string }) => [c.key, c.op]),
          [
            ['API_URL', 'added'],
            ['DATABASE_URL', 'added'],
            ['PORT', 'added'],
          ],
        );
        assert.deepEqual(await reveal('staging'), {
          API_URL: 'https://dev.example.com',
          DATABASE_URL: 'postgres://dev-db/app',
          PORT: '8080',
          STAGING_ONLY: 'keep',
        });
        const vars = await call(s, owner, 'GET', `${base()}/envs/staging/vars`);
        const db = vars.body.vars.find((v: { key: string }) => v.key === 'DATABASE_URL');
        assert.equal(db.secret, true);
        const row = await versionRow('staging', r.body.version);
        assert.equal(row?.kind, 'promotion');
        assert.equal(row?.source_version, devVersion);

        // the same promotion again changes nothing
        const again = await call(s, dev, 'POST', `${base()}/envs/dev/promote`, { to: 'staging' });
        assert.equal(again.status, 200);
        assert.deepEqual(again.body.changes, []);
      });

      test('order: skipping staging needs skip, backwards is invalid_promotion', async () => {
        const skip = await call(s, owner, 'POST', `${base()}/envs/dev/promote`, { to: 'prod', dryRun: true });
        assert.equal(skip.status, 400);
        assert.equal(skip.body.error.code, 'invalid_promotion');
        const ok = await call(s, owner, 'POST', `${base()}/envs/dev/promote`, {
          to: 'prod',
          dryRun: true,
          skip: true,
        });
        assert.equal(ok.status, 200, JSON.stringify(ok.body));
        const back = await call(s, owner, 'POST', `${base()}/envs/prod/promote`, {
          to: 'staging',
          skip: true,
        });
        assert.equal(back.status, 400);
        assert.equal(back.body.error.code, 'invalid_promotion');
        const self = await call(s, owner, 'POST', `${base()}/envs/prod/promote`, { to: 'prod' });
        assert.equal(self.body.error.code, 'invalid_promotion');
        const nokey = await call(s, owner, 'POST', `${base()}/envs/dev/promote`, {
          to: 'staging',
          keys: ['NOPE'],
        });
        assert.equal(nokey.status, 404);
        assert.equal(nokey.body.error.code, 'variable_not_found');
        const bad = await call(s, owner, 'POST', `${base()}/envs/dev/promote`, {
          to: 'staging',
          keys: 'PORT',
        });
        assert.equal(bad.status, 400);
        assert.equal(bad.body.error.code, 'validation_failed');
      });

      test('a developer promoting staging → prod gets a proposal; an admin approves it', async () => {
        const pre = await call(s, dev, 'POST', `${base()}/envs/staging/promote`, {
          to: 'prod',
          keys: ['PORT', 'DATABASE_URL'],
          dryRun: true,
        });
        assert.equal(pre.status, 200, JSON.stringify(pre.body));
        assert.equal(pre.body.mode, 'propose');
        assert.equal(pre.body.requiredKeys.ok, true, JSON.stringify(pre.body.requiredKeys));
        const r = await call(s, dev, 'POST', `${base()}/envs/staging/promote`, {
          to: 'prod',
          keys: ['PORT', 'DATABASE_URL'],
        });
        assert.equal(r.status, 201, JSON.stringify(r.body));
        const p = r.body.proposal;
        assert.equal(p.kind, 'promotion');
        assert.equal(p.source.environment.slug, 'staging');
        const ok = await call(s, admin, 'POST', `${base()}/proposals/${p.id}/approve`); // no body at all
        assert.equal(ok.status, 200, JSON.stringify(ok.body));
        const values = await reveal('prod');
        assert.equal(values.PORT, '8080');
        assert.equal(values.DATABASE_URL, 'postgres://dev-db/app');
        const row = await versionRow('prod', ok.body.version);
        assert.equal(row?.kind, 'promotion');
        assert.equal(row?.proposal_id, p.id);
      });

      test('promotion into a frozen environment is 423 for who applies', async () => {
        const endsAt = new Date(Date.now() + 600_000).toISOString();
        const f = await call(s, owner, 'POST', `${base()}/envs/staging/freezes`, { endsAt });
        assert.equal((await setVars(dev, 'dev', [{ key: 'NEW_ONE', value: 'n' }])).status, 200);
        const pre = await call(s, dev, 'POST', `${base()}/envs/dev/promote`, { to: 'staging', dryRun: true });
        assert.equal(pre.body.frozen.until, endsAt);
        const r = await call(s, dev, 'POST', `${base()}/envs/dev/promote`, { to: 'staging' });
        assert.equal(r.status, 423, JSON.stringify(r.body));
        assert.equal(r.body.error.details.until, endsAt);
        await call(s, owner, 'DELETE', `${base()}/envs/staging/freezes/${f.body.freeze.id}`);
      });
    });

    test('a service’s overrides are promoted on their own; the environment-wide values stay', async () => {
      assert.equal((await setVars(dev, 'dev', [{ key: 'WORKERS', value: '4', service: 'web' }])).status, 200);
      const pre = await call(s, dev, 'POST', `${base()}/envs/dev/promote`, {
        to: 'staging',
        service: 'web',
        dryRun: true,
      });
      assert.equal(pre.status, 200, JSON.stringify(pre.body));
      assert.deepEqual(
        pre.body.diff.added.map((a: { key: string; service: string }) => [a.key, a.service]),
        [['WORKERS', 'web']],
      );
      const r = await call(s, dev, 'POST', `${base()}/envs/dev/promote`, { to: 'staging', service: 'web' });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.deepEqual(r.body.changes, [{ key: 'WORKERS', service: 'web', op: 'added' }]);
      const staging = await call(s, owner, 'GET', `${base()}/envs/staging/vars?service=web`);
      const workers = staging.body.vars.find((v: { key: string }) => v.key === 'WORKERS');
      assert.equal(workers.service, 'web');
      assert.equal(workers.value, '4');
      assert.ok(!('WORKERS' in (await reveal('staging'))), 'not environment-wide');
    });

    test('a policy needing owner approval refuses an admin’s approval', async () => {
      const put = await call(s, owner, 'PUT', `${base()}/envs/staging/policy`, {
        readRole: 'viewer',
        revealRole: 'developer',
        changeRole: 'admin',
        proposeRole: 'developer',
        approveRole: 'owner',
      });
      assert.equal(put.status, 200, JSON.stringify(put.body));
      const p = await propose(dev, 'staging', { set: [{ key: 'OWNER_ONLY', value: '1' }] });
      assert.equal(p.status, 201, JSON.stringify(p.body));
      const byAdmin = await call(s, admin, 'POST', `${base()}/proposals/${p.body.proposal.id}/approve`, {});
      assert.equal(byAdmin.status, 403);
      assert.equal(byAdmin.body.error.code, 'forbidden');
      const byOwner = await call(s, owner, 'POST', `${base()}/proposals/${p.body.proposal.id}/approve`, {});
      assert.equal(byOwner.status, 200, JSON.stringify(byOwner.body));
      assert.equal((await call(s, owner, 'DELETE', `${base()}/envs/staging/policy`)).status, 200);
    });

    test('approving a promotion checks required keys again: a key required since is 422, the proposal stays pending', async () => {
      assert.equal((await setVars(owner, 'staging', [{ key: 'LATE', value: 'x' }])).status, 200);
      const r = await call(s, dev, 'POST', `${base()}/envs/staging/promote`, { to: 'prod', keys: ['LATE'] });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      const rk = await call(s, owner, 'PUT', `${base()}/required-keys`, {
        keys: [{ key: 'DATABASE_URL', pattern: '^postgres://' }, { key: 'PORT' }, { key: 'NEW_REQUIRED' }],
      });
      assert.equal(rk.status, 200);
      const ok = await call(s, admin, 'POST', `${base()}/proposals/${r.body.proposal.id}/approve`, {});
      assert.equal(ok.status, 422, JSON.stringify(ok.body));
      assert.equal(ok.body.error.code, 'required_keys_missing');
      assert.deepEqual(ok.body.error.details, [{ key: 'NEW_REQUIRED', problem: 'missing' }]);
      const still = await call(s, admin, 'GET', `${base()}/proposals/${r.body.proposal.id}`);
      assert.equal(still.body.proposal.status, 'pending');
      await call(s, owner, 'PUT', `${base()}/required-keys`, { keys: [] });
      assert.equal(
        (await call(s, admin, 'POST', `${base()}/proposals/${r.body.proposal.id}/approve`, {})).status,
        200,
      );
    });

    test('every decision is audited with keys, never values', async () => {
      const r = await call(s, owner, 'GET', `${base()}/audit?limit=200`);
      assert.equal(r.status, 200);
      type Entry = { action: string; outcome: string; details?: { keys?: string[] } | null };
      const entries = r.body.entries as Entry[];
      for (const action of ['env.propose', 'env.approve', 'env.reject', 'env.cancel', 'env.promote'])
        assert.ok(
          entries.some((e) => e.action === action && e.outcome === 'success'),
          `${action} recorded`,
        );
      const failedApprove = entries.find((e) => e.action === 'env.approve' && e.outcome === 'failure');
      assert.ok(failedApprove, 'refused approvals are recorded too');
      const approve = entries.find((e) => e.action === 'env.approve' && e.outcome === 'success' && e.details);
      assert.ok(approve, 'approvals carry details');
      assert.ok(Array.isArray(approve?.details?.keys) && (approve?.details?.keys?.length ?? 0) > 0);
      const keyFilter = await call(s, owner, 'GET', `${base()}/audit?action=env.&key=DATABASE_URL&limit=200`);
      assert.equal(keyFilter.status, 200, JSON.stringify(keyFilter.body));
      const filtered = (keyFilter.body.entries as Entry[]).map((e) => e.action);
      assert.ok(
        filtered.includes('env.propose') &&
          filtered.includes('env.approve') &&
          filtered.includes('env.promote'),
        filtered.join(),
      );
      const { rows } = await s.db.query<{ d: string }>(
        "SELECT coalesce(details::text, '') AS d FROM audit_log",
      );
      const all = rows.map((x) => x.d).join('\n');
      for (const v of ['s3cr3t', 'postgres://dev-db', 'two words', 'mysql://dev', 'tok-123'])
        assert.ok(!all.includes(v), `audit details never hold values (${v})`);
    });
  });
}
