/**
 * Uptime targets over HTTP on both engines: create, read, change, pause, delete; roles (viewers read,
 * developers change); other projects' ids; bad input answered with documented 4xx codes (never 500);
 * keyset paging that neither skips nor repeats while targets are added; filters and counts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createIncidentStore } from '@peep/builder';
import { type BusMessage, createMemoryBus } from '@peep/pkg';
import {
  call,
  createOwner,
  createProjectWithKey,
  createUser,
  type SignedIn,
  startTestServer,
  type TestServer,
  testEngines,
} from '../testing.js';

const http = (url = 'http://127.0.0.1:9/health') => ({ url, method: 'GET', timeoutMs: 2000 });

for (const engine of testEngines()) {
  describe(`uptime targets (${engine})`, () => {
    let s: TestServer;
    let owner: SignedIn;
    let viewer: SignedIn;
    let dev: SignedIn;
    let projectId = '';
    let otherProjectId = '';
    const messages: BusMessage[] = [];
    const bus = createMemoryBus();
    bus.subscribe('uptime.>', (m) => messages.push(m));
    const base = (pid = projectId) => `/api/v1/projects/${pid}/targets`;
    const create = (body: Record<string, unknown>, who: SignedIn = owner, pid = projectId) =>
      call(s, who, 'POST', base(pid), { env: 'prod', kind: 'http', intervalS: 30, ...body });

    before(async () => {
      s = await startTestServer({ engine, bus });
      owner = await createOwner(s);
      projectId = (await createProjectWithKey(s, owner, { name: 'Targets' })).projectId;
      otherProjectId = (await createProjectWithKey(s, owner, { name: 'Other' })).projectId;
      viewer = await createUser(s, owner, 'viewer@example.com');
      dev = await createUser(s, owner, 'dev@example.com');
      for (const [u, role] of [
        [viewer, 'viewer'],
        [dev, 'developer'],
      ] as const) {
        const r = await call(s, owner, 'POST', `/api/v1/projects/${projectId}/members`, {
          email: u.email,
          role,
        });
        assert.equal(r.status, 201, JSON.stringify(r.body));
      }
    });
    after(() => s?.close());

    test('create an HTTP target: defaults, sorted tags, spec kind filled in, published on the bus', async () => {
      messages.length = 0;
      const r = await create({ name: 'shop api', spec: http(), tags: ['web', 'api'], failAfter: 3 });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      const t = r.body.target;
      assert.equal(r.body.heartbeatUrl, undefined);
      assert.equal(t.env, 'prod');
      assert.equal(t.projectId, projectId);
      assert.deepEqual(t.spec, { kind: 'http', ...http() });
      assert.deepEqual(t.tags, ['api', 'web']);
      assert.equal(t.status, 'pending');
      assert.equal(t.failAfter, 3);
      assert.equal(t.recoverAfter, 1);
      assert.equal(t.graceS, 0);
      assert.equal(t.degradedMs, null);
      assert.equal(t.anomaly, true);
      assert.equal(t.sensitivity, 'medium');
      assert.equal(t.enabled, true);
      assert.equal(t.heartbeatPrefix, null);
      const got = await call(s, viewer, 'GET', `${base()}/${t.id}`);
      assert.equal(got.status, 200);
      assert.deepEqual(got.body.target, t);
      assert.deepEqual(got.body.uptime, { '24h': null, '7d': null, '30d': null, '90d': null });
      await new Promise((r) => setImmediate(r));
      assert.deepEqual(
        messages.map((m) => [m.subject, m.data]),
        [['uptime.targets', { projectId, targetId: t.id }]],
      );
    });

    test('pausing or deleting a target resolves its open incidents (it cannot recover), with the reason', async () => {
      const store = createIncidentStore();
      const incidentOf = async (name: string) => {
        const r = await create({ name, spec: http() });
        assert.equal(r.status, 201, JSON.stringify(r.body));
        const t = r.body.target;
        const env = await s.db.query<{ id: string }>(
          'SELECT environment_id AS id FROM targets WHERE id = $1',
          [t.id],
        );
        const o = await store.open(s.db, {
          projectId,
          environmentId: (env.rows[0] as { id: string }).id,
          subjectType: 'target',
          subjectId: t.id,
          subjectName: name,
          kind: 'down',
          title: `${name} is down`,
          reason: 'refused',
          numbers: {},
          at: new Date(),
        });
        return { id: t.id as string, incident: o.incident?.id as string };
      };
      const status = async (id: string) =>
        (await s.db.query<{ status: string }>('SELECT status FROM incidents WHERE id = $1', [id])).rows[0]
          ?.status;
      const paused = await incidentOf('to pause');
      assert.equal((await call(s, owner, 'PATCH', `${base()}/${paused.id}`, { enabled: false })).status, 200);
      assert.equal(await status(paused.incident), 'resolved');
      const events = await s.db.query<{ type: string; body: string }>(
        `SELECT type, body FROM incident_events WHERE incident_id = $1 ORDER BY id`,
        [paused.incident],
      );
      assert.deepEqual(events.rows.at(-1), { type: 'resolved', body: 'Resolved: target paused.' });
      const deleted = await incidentOf('to delete');
      assert.equal((await call(s, owner, 'DELETE', `${base()}/${deleted.id}`)).status, 204);
      assert.equal(await status(deleted.incident), 'resolved');
    });

    test('TCP and heartbeat targets; a heartbeat answers its push URL once and stores only a prefix', async () => {
      const tcp = await create({
        name: 'db',
        kind: 'tcp',
        spec: { host: 'db.internal', port: 5432, timeoutMs: 1000 },
      });
      assert.equal(tcp.status, 201, JSON.stringify(tcp.body));
      assert.deepEqual(tcp.body.target.spec, {
        kind: 'tcp',
        host: 'db.internal',
        port: 5432,
        timeoutMs: 1000,
      });
      const hb = await create({ name: 'nightly backup', kind: 'heartbeat', intervalS: 86400, graceS: 600 });
      assert.equal(hb.status, 201, JSON.stringify(hb.body));
      assert.match(hb.body.heartbeatUrl, new RegExp(`^${s.url}/api/v1/heartbeat/peep_hb_[A-Za-z0-9_-]{43}$`));
      assert.equal(hb.headers.get('cache-control'), 'no-store');
      const token = hb.body.heartbeatUrl.split('/').at(-1);
      assert.equal(hb.body.target.heartbeatPrefix, token.slice(0, 12));
      assert.deepEqual(hb.body.target.spec, {});
      const again = await call(s, owner, 'GET', `${base()}/${hb.body.target.id}`);
      assert.ok(!JSON.stringify(again.body).includes(token));
      const { rows } = await s.db.query<{ heartbeat_hash: string }>(
        'SELECT heartbeat_hash FROM targets WHERE id = $1',
        [hb.body.target.id],
      );
      assert.match(rows[0]?.heartbeat_hash ?? '', /^[0-9a-f]{64}$/);
    });

    test('names are unique per project and environment: 409 target_exists; another environment is fine', async () => {
      await create({ name: 'unique', spec: http() });
      const dup = await create({ name: 'unique', spec: http() });
      assert.equal(dup.status, 409);
      assert.equal(dup.body.error.code, 'target_exists');
      const staging = await create({ name: 'unique', env: 'staging', spec: http() });
      assert.equal(staging.status, 201);
      const other = await create({ name: 'unique', spec: http() }, owner, otherProjectId);
      assert.equal(other.status, 201);
    });

    test('roles: viewers read but cannot change; developers change', async () => {
      const r = await create({ name: 'by viewer', spec: http() }, viewer);
      assert.equal(r.status, 403);
      assert.equal(r.body.error.code, 'forbidden');
      const mine = await create({ name: 'by dev', spec: http() }, dev);
      assert.equal(mine.status, 201);
      const id = mine.body.target.id;
      assert.equal((await call(s, viewer, 'GET', base())).status, 200);
      assert.equal((await call(s, viewer, 'GET', `${base()}/${id}/results`)).status, 200);
      assert.equal((await call(s, viewer, 'GET', `${base()}/${id}/series`)).status, 200);
      for (const [method, path, body] of [
        ['PATCH', `${base()}/${id}`, { enabled: false }],
        ['DELETE', `${base()}/${id}`, undefined],
        ['POST', `${base()}/apply`, { env: 'prod', targets: [] }],
        ['POST', `${base()}/${id}/heartbeat-url`, undefined],
      ] as const) {
        const x = await call(s, viewer, method, path, body);
        assert.equal(x.status, 403, `${method} ${path}`);
      }
      assert.equal((await call(s, dev, 'PATCH', `${base()}/${id}`, { intervalS: 60 })).status, 200);
      assert.equal((await call(s, dev, 'DELETE', `${base()}/${id}`)).status, 204);
    });

    test("another project's target id is 404 target_not_found; a stranger gets project_not_found", async () => {
      const theirs = await create({ name: 'theirs', spec: http() }, owner, otherProjectId);
      const id = theirs.body.target.id;
      for (const [method, path, body] of [
        ['GET', `${base()}/${id}`, undefined],
        ['PATCH', `${base()}/${id}`, { intervalS: 60 }],
        ['DELETE', `${base()}/${id}`, undefined],
        ['GET', `${base()}/${id}/results`, undefined],
        ['GET', `${base()}/${id}/series`, undefined],
        ['POST', `${base()}/${id}/heartbeat-url`, undefined],
      ] as const) {
        const r = await call(s, owner, method, path, body);
        assert.equal(r.status, 404, `${method} ${path}`);
        assert.equal(r.body.error.code, 'target_not_found');
      }
      // Still there in its own project.
      assert.equal((await call(s, owner, 'GET', `${base(otherProjectId)}/${id}`)).status, 200);
      const stranger = await createUser(s, owner, 'stranger@example.com');
      const r = await call(s, stranger, 'GET', `${base(otherProjectId)}/${id}`);
      assert.equal(r.status, 404);
      assert.equal(r.body.error.code, 'project_not_found');
    });

    test('bad input: documented 4xx codes, nothing stored', async () => {
      const before = (await call(s, owner, 'GET', base())).body.counts.total;
      const raw = await fetch(`${s.url}${base()}`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          cookie: owner.cookie,
          'x-csrf-token': owner.csrfToken,
        },
        body: '{"name": "x",',
      });
      assert.equal(raw.status, 400);
      assert.equal(((await raw.json()) as { error: { code: string } }).error.code, 'invalid_json');

      const cases: [Record<string, unknown>, number, string, RegExp?][] = [
        [{ name: 'a', intervalS: '30', spec: http() }, 400, 'validation_failed', /intervalS/],
        [{ name: 'a', intervalS: 4, spec: http() }, 400, 'validation_failed', /intervalS/],
        [{ name: 'a', intervalS: 86_401, spec: http() }, 400, 'validation_failed', /intervalS/],
        [{ name: 'a', intervalS: 30.5, spec: http() }, 400, 'validation_failed'],
        [{ name: '', spec: http() }, 400, 'validation_failed', /name/],
        [{ name: 'x'.repeat(101), spec: http() }, 400, 'validation_failed', /name/],
        [{ name: ' padded', spec: http() }, 400, 'validation_failed', /name/],
        [{ name: 'a', spec: http(), tags: ['Upper'] }, 400, 'validation_failed', /tags/],
        [
          { name: 'a', spec: http(), tags: Array.from({ length: 21 }, (_, i) => `t${i}`) },
          400,
          'validation_failed',
        ],
        [{ name: 'a', spec: http(), tags: ['x', 'x'] }, 400, 'validation_failed'],
        [{ name: 'a', spec: http(), colour: 'red' }, 400, 'validation_failed', /colour/],
        [{ name: 'a', kind: 'ping', spec: http() }, 400, 'validation_failed'],
        [{ name: 'a', spec: http(), sensitivity: 'extreme' }, 400, 'validation_failed'],
        [{ name: 'a', spec: http(), env: 'nowhere' }, 404, 'environment_not_found'],
        [{ name: 'a' }, 400, 'invalid_spec'],
        [{ name: 'a', spec: 'http://x' }, 400, 'invalid_spec'],
        [{ name: 'a', kind: 'heartbeat', spec: { url: 'http://x' } }, 400, 'invalid_spec'],
        [{ name: 'a', kind: 'tcp', spec: http() }, 400, 'invalid_spec'],
      ];
      for (const [body, status, code, msg] of cases) {
        const r = await create(body);
        assert.equal(r.status, status, `${JSON.stringify(body).slice(0, 80)}: ${JSON.stringify(r.body)}`);
        assert.equal(r.body.error.code, code, JSON.stringify(body).slice(0, 80));
        if (msg) assert.match(r.body.error.message, msg);
      }
      // The spec's own problems come back as details with validateCheck's codes.
      const bad = await create({
        name: 'a',
        spec: { url: 'ftp://x/', method: 'FETCH', timeoutMs: 10, headers: { Host: 'x' } },
      });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.error.code, 'invalid_spec');
      const codes = bad.body.error.details.map((d: { code: string }) => d.code).sort();
      assert.deepEqual(codes, ['forbidden_header', 'invalid_method', 'out_of_range', 'unsupported_scheme']);
      // PostgreSQL cannot store U+0000 in jsonb: refused up front, not a 500.
      const nul = await create({ name: 'a', spec: { ...http(), method: 'POST', body: 'a\u0000b' } });
      assert.equal(nul.status, 400);
      assert.deepEqual(
        nul.body.error.details.map((d: { path: string; code: string }) => [d.path, d.code]),
        [['body', 'invalid_value']],
      );
      const mismatch = await create({ name: 'a', kind: 'tcp', spec: { kind: 'http', ...http() } });
      assert.equal(mismatch.body.error.details[0].code, 'invalid_kind');

      const big = await create({ name: 'a', spec: { ...http(), body: 'x'.repeat(1_100_000) } });
      assert.equal(big.status, 413);
      assert.equal(big.body.error.code, 'payload_too_large');
      const badId = await call(s, owner, 'GET', `${base()}/not-a-uuid`);
      assert.equal(badId.status, 400);
      assert.equal(badId.body.error.code, 'validation_failed');
      const emptyPatch = await call(s, owner, 'PATCH', `${base()}/${crypto.randomUUID()}`, {});
      assert.equal(emptyPatch.body.error.code, 'validation_failed');
      assert.equal((await call(s, owner, 'GET', base())).body.counts.total, before);
    });

    test('PATCH: pause and resume, rename collisions, kind changes; DELETE', async () => {
      const t = (await create({ name: 'patch me', spec: http(), tags: ['a'] })).body.target;
      const p = `${base()}/${t.id}`;
      const paused = await call(s, dev, 'PATCH', p, { enabled: false });
      assert.equal(paused.status, 200);
      assert.equal(paused.body.target.status, 'paused');
      assert.equal(paused.body.target.enabled, false);
      assert.deepEqual(paused.body.target.tags, ['a']);
      await s.db.query("UPDATE targets SET status = 'down', fail_streak = 5 WHERE id = $1", [t.id]);
      const resumed = await call(s, dev, 'PATCH', p, { enabled: true });
      assert.equal(resumed.body.target.status, 'pending');
      const { rows } = await s.db.query<{ fail_streak: number }>(
        'SELECT fail_streak FROM targets WHERE id = $1',
        [t.id],
      );
      assert.equal(rows[0]?.fail_streak, 0);

      const spec = await call(s, dev, 'PATCH', p, {
        spec: { url: 'https://example.test/', method: 'HEAD', timeoutMs: 500 },
      });
      assert.equal(spec.status, 200);
      assert.equal(spec.body.target.spec.method, 'HEAD');
      const badSpec = await call(s, dev, 'PATCH', p, {
        spec: { url: 'nope', method: 'GET', timeoutMs: 500 },
      });
      assert.equal(badSpec.body.error.code, 'invalid_spec');
      await create({ name: 'taken', spec: http() });
      const clash = await call(s, dev, 'PATCH', p, { name: 'taken' });
      assert.equal(clash.status, 409);
      assert.equal(clash.body.error.code, 'target_exists');
      // An HTTP spec does not fit TCP: changing the kind needs a new spec.
      const kindOnly = await call(s, dev, 'PATCH', p, { kind: 'tcp' });
      assert.equal(kindOnly.body.error.code, 'invalid_spec');
      const toHb = await call(s, dev, 'PATCH', p, { kind: 'heartbeat' });
      assert.equal(toHb.status, 200, JSON.stringify(toHb.body));
      assert.match(toHb.body.heartbeatUrl, /\/api\/v1\/heartbeat\/peep_hb_/);
      assert.deepEqual(toHb.body.target.spec, {});
      const back = await call(s, dev, 'PATCH', p, {
        kind: 'tcp',
        spec: { host: '10.0.0.1', port: 22, timeoutMs: 900 },
      });
      assert.equal(back.status, 200);
      assert.equal(back.body.target.heartbeatPrefix, null);
      const moved = await call(s, dev, 'PATCH', p, { env: 'staging', degradedMs: 800 });
      assert.equal(moved.body.target.env, 'staging');
      assert.equal(moved.body.target.degradedMs, 800);

      assert.equal((await call(s, dev, 'DELETE', p)).status, 204);
      assert.equal((await call(s, dev, 'GET', p)).body.error.code, 'target_not_found');
      assert.equal((await call(s, dev, 'DELETE', p)).body.error.code, 'target_not_found');
    });

    describe('listing', () => {
      let pid = '';
      const list = async (q: string) => {
        const r = await call(s, owner, 'GET', `/api/v1/projects/${pid}/targets${q}`);
        assert.equal(r.status, 200, JSON.stringify(r.body));
        return r.body as {
          targets: { id: string; name: string; status: string; env: string; kind: string; tags: string[] }[];
          nextCursor: string | null;
          counts: { total: number; up: number; down: number; pending: number; paused: number };
        };
      };
      const names = (n: number) =>
        Array.from({ length: n }, (_, i) => `t${String((i * 7919) % 1000).padStart(3, '0')}`);

      before(async () => {
        pid = (await createProjectWithKey(s, owner, { name: 'Listing' })).projectId;
        const targets = names(120).map((name, i) => ({
          name,
          env: i % 4 === 0 ? 'staging' : 'prod',
          kind: i % 3 === 0 ? 'tcp' : 'http',
          spec: i % 3 === 0 ? { host: 'h.test', port: 80, timeoutMs: 1000 } : http(),
          intervalS: 60,
          tags: i % 5 === 0 ? ['edge'] : [],
          enabled: i % 10 !== 9,
        }));
        targets.push(
          {
            name: '50%_off',
            env: 'prod',
            kind: 'http',
            spec: http(),
            intervalS: 60,
            tags: [],
            enabled: true,
          },
          {
            name: '50xyoff',
            env: 'prod',
            kind: 'http',
            spec: http(),
            intervalS: 60,
            tags: [],
            enabled: true,
          },
          {
            name: 'Back\\slash',
            env: 'prod',
            kind: 'http',
            spec: http(),
            intervalS: 60,
            tags: [],
            enabled: true,
          },
        );
        const r = await call(s, owner, 'POST', `/api/v1/projects/${pid}/targets/apply`, { targets });
        assert.equal(r.status, 200, JSON.stringify(r.body).slice(0, 400));
        // States as the scheduler would leave them.
        await s.db.query(
          `UPDATE targets SET status = CASE WHEN name LIKE 't0%' THEN 'down' WHEN name LIKE 't1%' THEN 'pending' ELSE 'up' END
           WHERE project_id = $1`,
          [pid],
        );
      });

      test('keyset pages in (name, id) order: nothing skipped or repeated while targets are added', async () => {
        const all = (await list('?limit=500')).targets.map((t) => t.name);
        assert.equal(all.length, 123);
        const seen: string[] = [];
        let cursor: string | null = null;
        let pages = 0;
        do {
          const page = await list(`?limit=7${cursor ? `&cursor=${cursor}` : ''}`);
          seen.push(...page.targets.map((t) => t.name));
          cursor = page.nextCursor;
          if (pages === 3) {
            // Added behind and ahead of the cursor while paging.
            for (const name of ['a-early', 'zz-late'])
              await call(s, owner, 'POST', `/api/v1/projects/${pid}/targets`, {
                name,
                env: 'prod',
                kind: 'http',
                spec: http(),
                intervalS: 60,
              });
          }
          pages++;
        } while (cursor);
        assert.equal(new Set(seen).size, seen.length, 'no target twice');
        assert.deepEqual(
          seen,
          [...all, 'zz-late'],
          'every target once; the late one ahead of the cursor shows up',
        );
        assert.equal(pages, Math.ceil(seen.length / 7));
        const last = await list('?limit=500');
        assert.equal(last.nextCursor, null);
        await call(
          s,
          owner,
          'DELETE',
          `/api/v1/projects/${pid}/targets/${last.targets.find((t) => t.name === 'a-early')?.id}`,
        );
        await call(
          s,
          owner,
          'DELETE',
          `/api/v1/projects/${pid}/targets/${last.targets.find((t) => t.name === 'zz-late')?.id}`,
        );
      });

      test('filters: status (paused apart), kind, env, tag, q with LIKE wildcards taken literally; counts', async () => {
        const every = (await list('?limit=500')).targets;
        const down = await list('?status=down&limit=500');
        assert.ok(down.targets.length > 0);
        assert.ok(down.targets.every((t) => t.status === 'down' && t.name.startsWith('t0')));
        const paused = await list('?status=paused&limit=500');
        assert.equal(paused.targets.length, every.filter((t) => t.status === 'paused').length);
        assert.ok(paused.targets.length >= 10);
        // A paused target is not counted as down even when its last state was.
        assert.equal(
          down.counts.down + down.counts.up + down.counts.pending + down.counts.paused,
          down.counts.total,
        );
        assert.equal(down.counts.total, 123);
        assert.equal(down.counts.down, down.targets.length);
        assert.equal(down.counts.paused, paused.targets.length);

        const tcp = await list('?kind=tcp&limit=500');
        assert.equal(tcp.targets.length, 40);
        assert.ok(tcp.targets.every((t) => t.kind === 'tcp'));
        assert.equal(tcp.counts.total, 40);
        const staging = await list('?env=staging&limit=500');
        assert.equal(staging.targets.length, 30);
        assert.ok(staging.targets.every((t) => t.env === 'staging'));
        const edge = await list('?tag=edge&env=prod&limit=500');
        assert.ok(
          edge.targets.length > 0 && edge.targets.every((t) => t.tags.includes('edge') && t.env === 'prod'),
        );
        assert.deepEqual(
          (await list(`?q=${encodeURIComponent('50%_')}`)).targets.map((t) => t.name),
          ['50%_off'],
        );
        assert.deepEqual((await list('?q=OFF')).targets.map((t) => t.name).sort(), ['50%_off', '50xyoff']);
        assert.deepEqual(
          (await list(`?q=${encodeURIComponent('k\\s')}`)).targets.map((t) => t.name),
          ['Back\\slash'],
        );
        assert.deepEqual(
          (await list('?q=_')).targets.map((t) => t.name),
          ['50%_off'],
        );
        const combined = await list('?status=down&kind=tcp&env=prod&limit=3');
        assert.ok(combined.targets.length <= 3);
        assert.ok(combined.targets.every((t) => t.status === 'down' && t.kind === 'tcp' && t.env === 'prod'));
      });

      test('bad list queries: 400 with a code', async () => {
        for (const [q, code] of [
          ['?cursor=garbage', 'invalid_cursor'],
          [`?cursor=${Buffer.from('["a","not-uuid"]').toString('base64url')}`, 'invalid_cursor'],
          ['?limit=501', 'validation_failed'],
          ['?limit=0', 'validation_failed'],
          ['?status=sleeping', 'validation_failed'],
          ['?colour=red', 'validation_failed'],
          ['?q=%00', 'validation_failed'],
          ['?tag=%00', 'validation_failed'],
          [
            `?cursor=${Buffer.from(`["a\u0000","${crypto.randomUUID()}"]`).toString('base64url')}`,
            'invalid_cursor',
          ],
        ]) {
          const r = await call(s, owner, 'GET', `/api/v1/projects/${pid}/targets${q}`);
          assert.equal(r.status, 400, q);
          assert.equal(r.body.error.code, code, q);
        }
        const r = await call(s, owner, 'GET', `/api/v1/projects/${pid}/targets?env=nowhere`);
        assert.equal(r.body.error.code, 'environment_not_found');
      });
    });
  });
}
