/**
 * `POST /targets/apply` on both engines: create, update with the changed fields named, unchanged
 * when only key order or tag order differ, dry run changing nothing, prune limited to the scope,
 * heartbeat URLs for created heartbeats, and all-or-nothing refusal of bad lists (per-item errors,
 * duplicates, unknown environments, too many items).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createIncidentStore } from '@peep/builder';
import { type BusMessage, createMemoryBus } from '@peep/pkg';
import {
  call,
  createOwner,
  createProjectWithKey,
  type SignedIn,
  startTestServer,
  type TestServer,
  testEngines,
} from '../testing.js';

const http = (path = '/health') => ({ url: `http://127.0.0.1:9${path}`, method: 'GET', timeoutMs: 2000 });

for (const engine of testEngines()) {
  describe(`targets apply (${engine})`, () => {
    let s: TestServer;
    let owner: SignedIn;
    let pid = '';
    const messages: BusMessage[] = [];
    const bus = createMemoryBus();
    bus.subscribe('uptime.targets', (m) => messages.push(m));
    const apply = (body: Record<string, unknown>) =>
      call(s, owner, 'POST', `/api/v1/projects/${pid}/targets/apply`, body);
    const names = async (env?: string) => {
      const r = await call(
        s,
        owner,
        'GET',
        `/api/v1/projects/${pid}/targets?limit=500${env ? `&env=${env}` : ''}`,
      );
      return (r.body.targets as { name: string; env: string }[]).map((t) => `${t.env}/${t.name}`).sort();
    };
    const file = (): Record<string, unknown>[] => [
      { name: 'api', kind: 'http', spec: http(), intervalS: 30, tags: ['b', 'a'] },
      { name: 'db', kind: 'tcp', spec: { host: 'db.test', port: 5432, timeoutMs: 1000 }, intervalS: 60 },
      { name: 'backup', kind: 'heartbeat', intervalS: 86400, graceS: 900 },
    ];

    before(async () => {
      s = await startTestServer({ engine, bus });
      owner = await createOwner(s);
      pid = (await createProjectWithKey(s, owner, { name: 'Apply' })).projectId;
    });
    after(() => s?.close());

    test('dry run on an empty project lists the creations and changes nothing', async () => {
      const r = await apply({ env: 'prod', targets: file(), dryRun: true });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.deepEqual(r.body, {
        dryRun: true,
        create: ['api', 'db', 'backup'],
        update: [],
        delete: [],
        unchanged: 0,
      });
      assert.deepEqual(await names(), []);
    });

    test('apply creates; heartbeat URLs are returned once; applying again changes nothing', async () => {
      messages.length = 0;
      const r = await apply({ env: 'prod', targets: file() });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.deepEqual(r.body.create, ['api', 'db', 'backup']);
      assert.deepEqual(Object.keys(r.body.heartbeatUrls), ['backup']);
      const beat = await fetch(`${s.url}${new URL(r.body.heartbeatUrls.backup).pathname}`);
      assert.equal(beat.status, 200);
      assert.deepEqual(await names(), ['prod/api', 'prod/backup', 'prod/db']);
      await new Promise((res) => setImmediate(res));
      assert.equal(messages.length, 3, 'one uptime.targets message per created target');
      // Same content, other key order in the spec, other tag order: nothing to do.
      const again = file();
      (again[0] as Record<string, unknown>).spec = {
        timeoutMs: 2000,
        method: 'GET',
        url: 'http://127.0.0.1:9/health',
        kind: 'http',
      };
      (again[0] as Record<string, unknown>).tags = ['a', 'b'];
      const r2 = await apply({ env: 'prod', targets: again });
      assert.deepEqual(r2.body, { dryRun: false, create: [], update: [], delete: [], unchanged: 3 });
    });

    test('changed fields are named; a field left out goes back to its default; dry run shows without doing', async () => {
      await call(s, owner, 'GET', `/api/v1/projects/${pid}/targets`);
      const changed = file();
      changed[0] = {
        ...changed[0],
        spec: http('/ready'),
        intervalS: 10,
        enabled: false,
      } as (typeof changed)[0];
      delete changed[2]?.graceS;
      const dry = await apply({ env: 'prod', targets: changed, dryRun: true });
      assert.deepEqual(dry.body.update, [
        { name: 'api', changes: ['spec', 'intervalS', 'enabled'] },
        { name: 'backup', changes: ['graceS'] },
      ]);
      assert.equal(dry.body.unchanged, 1);
      const list = await call(s, owner, 'GET', `/api/v1/projects/${pid}/targets?q=api`);
      assert.equal(list.body.targets[0].intervalS, 30, 'dry run changed nothing');
      const real = await apply({ env: 'prod', targets: changed });
      assert.deepEqual(real.body.update, dry.body.update);
      const after = await call(s, owner, 'GET', `/api/v1/projects/${pid}/targets?q=api`);
      assert.equal(after.body.targets[0].intervalS, 10);
      assert.equal(after.body.targets[0].status, 'paused');
    });

    test('prune deletes what the list leaves out, only in the environment applied to', async () => {
      const staging = await apply({
        env: 'staging',
        targets: [{ name: 'api', kind: 'http', spec: http(), intervalS: 30 }],
      });
      assert.deepEqual(staging.body.create, ['api']);
      const keep = file().slice(0, 1);
      const noPrune = await apply({ env: 'prod', targets: keep });
      assert.deepEqual(noPrune.body.delete, []);
      const dry = await apply({ env: 'prod', targets: keep, prune: true, dryRun: true });
      assert.deepEqual(dry.body.delete.sort(), ['backup', 'db']);
      assert.deepEqual(await names(), ['prod/api', 'prod/backup', 'prod/db', 'staging/api']);
      const pruned = await apply({ env: 'prod', targets: keep, prune: true });
      assert.deepEqual(pruned.body.delete.sort(), ['backup', 'db']);
      assert.deepEqual(await names(), ['prod/api', 'staging/api']);
    });

    test("pausing or pruning through apply resolves the targets' open incidents, as the single routes do", async () => {
      const store = createIncidentStore();
      const made = await apply({
        env: 'prod',
        targets: [
          { name: 'pay', kind: 'http', spec: http('/pay'), intervalS: 30 },
          { name: 'cart', kind: 'http', spec: http('/cart'), intervalS: 30 },
        ],
      });
      assert.deepEqual(made.body.create, ['pay', 'cart']);
      const list = await call(s, owner, 'GET', `/api/v1/projects/${pid}/targets?env=prod&limit=500`);
      const idOf = (name: string) =>
        (list.body.targets as { id: string; name: string; environmentId?: string }[]).find(
          (t) => t.name === name,
        )?.id as string;
      const env = await s.db.query<{ id: string }>(
        `SELECT id FROM environments WHERE project_id = $1 AND slug = 'prod'`,
        [pid],
      );
      for (const name of ['pay', 'cart'])
        await store.open(s.db, {
          projectId: pid,
          environmentId: env.rows[0]?.id as string,
          subjectType: 'target',
          subjectId: idOf(name),
          subjectName: name,
          kind: 'down',
          title: `${name} is down`,
          reason: 'refused',
          numbers: {},
          at: new Date(),
        });
      const status = async (name: string) =>
        (
          await s.db.query<{ status: string; body: string }>(
            `SELECT i.status, e.body FROM incidents i
               JOIN incident_events e ON e.incident_id = i.id AND e.type = 'resolved'
              WHERE i.subject_id = $1`,
            [idOf(name)],
          )
        ).rows[0];
      // pay paused, cart left out with prune.
      const r = await apply({
        env: 'prod',
        targets: [
          ...file().slice(0, 1),
          { name: 'pay', kind: 'http', spec: http('/pay'), intervalS: 30, enabled: false },
        ],
        prune: true,
      });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.ok(r.body.delete.includes('cart'));
      assert.deepEqual(await status('pay'), { status: 'resolved', body: 'Resolved: target paused.' });
      assert.deepEqual(await status('cart'), { status: 'resolved', body: 'Resolved: target deleted.' });
      await apply({ env: 'prod', targets: file().slice(0, 1), prune: true });
      assert.deepEqual(await names(), ['prod/api', 'staging/api']);
    });

    test('without env, items name their environment and prune covers the whole project', async () => {
      const r = await apply({
        prune: true,
        targets: [
          { name: 'api', env: 'staging', kind: 'http', spec: http(), intervalS: 30 },
          { name: 'web', env: 'dev', kind: 'http', spec: http(), intervalS: 30 },
        ],
      });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.deepEqual(r.body.create, ['web']);
      assert.deepEqual(r.body.delete, ['api']);
      assert.equal(r.body.unchanged, 1);
      assert.deepEqual(await names(), ['dev/web', 'staging/api']);
    });

    test('one bad item refuses the whole list with per-item errors; nothing is applied', async () => {
      const before = await names();
      const r = await apply({
        env: 'staging',
        prune: true,
        targets: [
          { name: 'fine', kind: 'http', spec: http(), intervalS: 30 },
          { name: 'slow', kind: 'http', spec: http(), intervalS: 2 },
          {
            name: 'broken',
            kind: 'http',
            spec: { url: 'nope', method: 'GET', timeoutMs: 1000 },
            intervalS: 30,
          },
          { name: 'elsewhere', env: 'prod', kind: 'http', spec: http(), intervalS: 30 },
          'not an object',
          { name: 'hb', kind: 'heartbeat', intervalS: 60, spec: { url: 'x' } },
        ],
      });
      assert.equal(r.status, 400);
      assert.equal(r.body.error.code, 'invalid_targets');
      const d = r.body.error.details as {
        index: number;
        name: string | null;
        code: string;
        message: string;
      }[];
      assert.deepEqual(
        d.map((e) => [e.index, e.name, e.code]),
        [
          [1, 'slow', 'validation_failed'],
          [2, 'broken', 'invalid_spec'],
          [3, 'elsewhere', 'validation_failed'],
          [4, null, 'validation_failed'],
          [5, 'hb', 'invalid_spec'],
        ],
      );
      assert.match(d[0]?.message ?? '', /intervalS/);
      assert.deepEqual(await names(), before);

      const unknownEnv = await apply({
        targets: [{ name: 'x', env: 'qa', kind: 'http', spec: http(), intervalS: 30 }],
      });
      assert.equal(unknownEnv.body.error.details[0].code, 'environment_not_found');
      const noEnv = await apply({ targets: [{ name: 'x', kind: 'http', spec: http(), intervalS: 30 }] });
      assert.equal(noEnv.body.error.details[0].code, 'validation_failed');
      const badScope = await apply({ env: 'qa', targets: [] });
      assert.equal(badScope.status, 404);
      assert.equal(badScope.body.error.code, 'environment_not_found');
      assert.deepEqual(await names(), before);
    });

    test('duplicate names refuse the list (duplicate_target); too many items or a bad envelope too', async () => {
      const before = await names();
      const dup = await apply({
        env: 'dev',
        targets: [
          { name: 'same', kind: 'http', spec: http(), intervalS: 30 },
          { name: 'other', kind: 'http', spec: http(), intervalS: 30 },
          { name: 'same', kind: 'tcp', spec: { host: 'a.test', port: 1, timeoutMs: 100 }, intervalS: 30 },
        ],
      });
      assert.equal(dup.status, 400);
      assert.equal(dup.body.error.code, 'duplicate_target');
      assert.deepEqual(dup.body.error.details, [{ index: 2, name: 'same', firstIndex: 0 }]);
      const many = await apply({ env: 'dev', targets: Array.from({ length: 10_001 }, () => ({})) });
      assert.equal(many.status, 400);
      assert.equal(many.body.error.code, 'validation_failed');
      for (const body of [
        { env: 'dev' },
        { env: 'dev', targets: {} },
        { env: 'dev', targets: [], dryRun: 'yes' },
      ]) {
        const r = await apply(body);
        assert.equal(r.status, 400, JSON.stringify(body));
        assert.equal(r.body.error.code, 'validation_failed');
      }
      assert.deepEqual(await names(), before);
    });

    test('a failure inside the transaction rolls every change back', async () => {
      // A failure after the inserts and updates ran (in the prune's DELETE, refused by a trigger)
      // must leave nothing of them behind.
      const doomed = await apply({
        env: 'dev',
        targets: [{ name: 'doomed', kind: 'http', spec: http(), intervalS: 30 }],
      });
      assert.deepEqual(doomed.body.create, ['doomed']);
      await s.db.exec(`
        CREATE FUNCTION refuse_doomed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN IF OLD.name = 'doomed' THEN RAISE EXCEPTION 'refused'; END IF; RETURN OLD; END $$;
        CREATE TRIGGER refuse_doomed BEFORE DELETE ON targets FOR EACH ROW EXECUTE FUNCTION refuse_doomed();`);
      try {
        const before = await call(s, owner, 'GET', `/api/v1/projects/${pid}/targets?env=dev`);
        const r = await apply({
          env: 'dev',
          prune: true,
          targets: [
            { name: 'web', kind: 'http', spec: http(), intervalS: 300 },
            { name: 'fresh', kind: 'http', spec: http(), intervalS: 30 },
          ],
        });
        assert.equal(r.status, 500);
        const afterList = await call(s, owner, 'GET', `/api/v1/projects/${pid}/targets?env=dev`);
        assert.deepEqual(afterList.body.targets, before.body.targets, 'no insert, no update, no delete');
        assert.deepEqual(
          afterList.body.targets.map((t: { name: string }) => t.name),
          ['doomed', 'web'],
        );
      } finally {
        await s.db.exec('DROP TRIGGER refuse_doomed ON targets; DROP FUNCTION refuse_doomed();');
      }
    });

    test('10,000 targets in one apply, then a no-op apply of the same list', {
      timeout: 60_000,
    }, async () => {
      const p2 = (await createProjectWithKey(s, owner, { name: 'Big apply' })).projectId;
      const targets = Array.from({ length: 10_000 }, (_, i) => ({
        name: `svc-${i}`,
        kind: 'http',
        spec: http(`/${i}`),
        intervalS: 60,
        tags: [`t${i % 10}`],
      }));
      const big = (body: unknown) => call(s, owner, 'POST', `/api/v1/projects/${p2}/targets/apply`, body);
      const r = await big({ env: 'prod', targets });
      assert.equal(r.status, 200, JSON.stringify(r.body).slice(0, 300));
      assert.equal(r.body.create.length, 10_000);
      const again = await big({ env: 'prod', targets, dryRun: true });
      assert.equal(again.body.unchanged, 10_000);
      const list = await call(s, owner, 'GET', `/api/v1/projects/${p2}/targets?tag=t3&limit=1`);
      assert.equal(list.body.counts.total, 1000);
    });
  });
}
