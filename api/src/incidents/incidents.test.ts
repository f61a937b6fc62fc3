/**
 * Incidents, maintenance windows and service rules over HTTP on both engines: listing with filters
 * and keyset paging, one incident by number or id with its timeline and deliveries, acknowledge /
 * comment / resolve recorded under the person's email (with acknowledged and resolved messages
 * enqueued), roles (viewers read, developers act), other projects' incidents, maintenance windows
 * (validation codes, suppression of the incident store while active, delete), service rules
 * (defaults, partial changes, bad values) and bad input answered with documented codes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createIncidentStore, type IncidentMessage, type OpenInput } from '@peep/builder';
import { seedChannel } from '@peep/builder/notifier/testing';
import { createKeyring, generateMasterKey } from '@peep/pkg/master-key';
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

const keys = createKeyring(generateMasterKey());
const store = createIncidentStore({ publicUrl: 'https://peep.example' });
const HOUR = 3_600_000;

for (const engine of testEngines()) {
  describe(`incidents API (${engine})`, () => {
    let s: TestServer;
    let owner: SignedIn;
    let dev: SignedIn;
    let viewer: SignedIn;
    let projectId = '';
    let prod = '';
    let staging = '';
    let otherProjectId = '';
    let otherProd = '';
    const P = (pid = projectId) => `/api/v1/projects/${pid}`;
    const open = (o: Partial<OpenInput> & { subjectId: string }, pid = projectId, env = prod) =>
      store.open(s.db, {
        projectId: pid,
        environmentId: env,
        subjectType: 'service',
        subjectName: o.subjectId,
        kind: 'error_rate',
        title: `${o.subjectId} error rate above 5%`,
        reason: 'error rate 12.0% of 800 requests above 5.0%',
        numbers: { 'error rate now': '12.0%', threshold: '5.0%' },
        at: new Date(),
        ...o,
      });

    before(async () => {
      s = await startTestServer({ engine, config: { publicUrl: 'https://peep.example' } });
      owner = await createOwner(s);
      const p = await createProjectWithKey(s, owner, { name: 'Incidents' });
      projectId = p.projectId;
      prod = p.environments.find((e) => e.slug === 'prod')?.id as string;
      staging = p.environments.find((e) => e.slug === 'staging')?.id as string;
      const o = await createProjectWithKey(s, owner, { name: 'Elsewhere' });
      otherProjectId = o.projectId;
      otherProd = o.environments.find((e) => e.slug === 'prod')?.id as string;
      dev = await createUser(s, owner, 'dev@example.com');
      viewer = await createUser(s, owner, 'viewer@example.com');
      for (const [u, role] of [
        [dev, 'developer'],
        [viewer, 'viewer'],
      ] as const) {
        const r = await call(s, owner, 'POST', `${P()}/members`, { email: u.email, role });
        assert.equal(r.status, 201, JSON.stringify(r.body));
      }
    });
    after(async () => s?.close());

    test('list newest first with status, kind, subject and env filters, and keyset pages', async () => {
      for (let i = 0; i < 5; i++)
        await open({ subjectId: `svc-${i}`, kind: i % 2 ? 'latency_anomaly' : 'error_rate' });
      await open({ subjectId: 'svc-staging' }, projectId, staging);
      await open({ subjectId: 'theirs' }, otherProjectId, otherProd);
      const all = await call(s, viewer, 'GET', `${P()}/incidents`);
      assert.equal(all.status, 200, JSON.stringify(all.body));
      assert.deepEqual(
        all.body.incidents.map((i: { number: number }) => i.number),
        [6, 5, 4, 3, 2, 1],
      );
      const first = all.body.incidents[5];
      assert.deepEqual(
        [first.subjectName, first.env, first.status, first.kind, first.numbers['error rate now']],
        ['svc-0', 'prod', 'open', 'error_rate', '12.0%'],
      );
      const nums = async (q: string) =>
        (await call(s, viewer, 'GET', `${P()}/incidents?${q}`)).body.incidents.map(
          (i: { number: number }) => i.number,
        );
      assert.deepEqual(await nums('kind=latency_anomaly'), [4, 2]);
      assert.deepEqual(await nums('env=staging'), [6]);
      assert.deepEqual(await nums('subject=svc-3'), [4]);
      assert.deepEqual(await nums('status=resolved'), []);
      assert.deepEqual(await nums('status=active'), [6, 5, 4, 3, 2, 1]);

      const pages: number[][] = [];
      let cursor: string | null = null;
      do {
        const r: { body: { incidents: { number: number }[]; nextCursor: string | null } } = await call(
          s,
          viewer,
          'GET',
          `${P()}/incidents?limit=4${cursor ? `&cursor=${cursor}` : ''}`,
        );
        pages.push(r.body.incidents.map((i) => i.number));
        cursor = r.body.nextCursor;
      } while (cursor);
      assert.deepEqual(pages, [
        [6, 5, 4, 3],
        [2, 1],
      ]);

      for (const [q, status, code] of [
        ['status=bogus', 400, 'validation_failed'],
        ['kind=nope', 400, 'validation_failed'],
        ['limit=0', 400, 'validation_failed'],
        ['cursor=abc', 400, 'invalid_cursor'],
        ['cursor=-1', 400, 'invalid_cursor'],
        ['env=nowhere', 404, 'environment_not_found'],
      ] as const) {
        const r = await call(s, viewer, 'GET', `${P()}/incidents?${q}`);
        assert.equal(r.status, status, q);
        assert.equal(r.body.error.code, code, q);
      }
      // Strangers to the project see nothing.
      const stranger = await call(s, dev, 'GET', `${P(otherProjectId)}/incidents`);
      assert.equal(stranger.status, 404);
      assert.equal(stranger.body.error.code, 'project_not_found');
    });

    test('acknowledge, comment and resolve are recorded under the email of who did it, with messages enqueued', async () => {
      const hook = await seedChannel(s.db, keys, { projectId, kind: 'webhook', url: 'http://127.0.0.1:9/x' });
      const { incident } = await open({ subjectId: 'checkout', kind: 'degraded' });
      assert.ok(incident);
      const I = `${P()}/incidents/${incident.number}`;

      const denied = await call(s, viewer, 'POST', `${I}/ack`, {});
      assert.equal(denied.status, 403);
      assert.equal(denied.body.error.code, 'forbidden');

      const ack = await call(s, dev, 'POST', `${I}/ack`, { comment: 'on it' });
      assert.equal(ack.status, 200, JSON.stringify(ack.body));
      assert.deepEqual(
        [ack.body.incident.status, ack.body.incident.acknowledgedBy],
        ['acknowledged', 'dev@example.com'],
      );
      // Without a body, and a second time: nothing changes.
      const again = await call(s, owner, 'POST', `${I}/ack`);
      assert.equal(again.status, 200, JSON.stringify(again.body));
      assert.equal(again.body.incident.acknowledgedBy, 'dev@example.com');

      const c = await call(s, owner, 'POST', `${I}/comments`, { body: 'rolling back v42' });
      assert.equal(c.status, 200, JSON.stringify(c.body));
      const empty = await call(s, owner, 'POST', `${I}/comments`, { body: '' });
      assert.equal(empty.status, 400);
      assert.equal(empty.body.error.code, 'validation_failed');

      const res = await call(s, dev, 'POST', `${P()}/incidents/${incident.id}/resolve`, {
        comment: 'rolled back',
      });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.deepEqual(
        [res.body.incident.status, res.body.incident.resolvedBy],
        ['resolved', 'dev@example.com'],
      );

      for (const path of ['ack', 'resolve']) {
        const r = await call(s, dev, 'POST', `${I}/${path}`, {});
        assert.equal(r.status, 409, path);
        assert.equal(r.body.error.code, 'incident_resolved');
      }
      // Comments are still welcome after resolving.
      assert.equal(
        (await call(s, dev, 'POST', `${I}/comments`, { body: 'postmortem next week' })).status,
        200,
      );

      const got = await call(s, viewer, 'GET', I);
      assert.equal(got.status, 200, JSON.stringify(got.body));
      assert.deepEqual(
        got.body.events.map((e: { type: string; actor: string; body: string }) => [e.type, e.actor, e.body]),
        [
          ['opened', 'peep', 'error rate 12.0% of 800 requests above 5.0%'],
          ['acknowledged', 'dev@example.com', 'on it'],
          ['comment', 'owner@example.com', 'rolling back v42'],
          ['resolved', 'dev@example.com', 'rolled back'],
          ['comment', 'dev@example.com', 'postmortem next week'],
        ],
      );
      assert.deepEqual(
        got.body.deliveries.map((d: { channelId: string; type: string; status: string }) => [
          d.channelId,
          d.type,
          d.status,
        ]),
        [
          [hook.id, 'opened', 'pending'],
          [hook.id, 'acknowledged', 'pending'],
          [hook.id, 'resolved', 'pending'],
        ],
      );
      const { rows } = await s.db.query<{ message: IncidentMessage }>(
        `SELECT message FROM deliveries WHERE incident_id = $1 AND type = 'resolved'`,
        [incident.id],
      );
      const m = rows[0]?.message as IncidentMessage;
      assert.equal(m.incident.reason, 'Resolved by dev@example.com: rolled back');
      assert.equal(m.url, `https://peep.example/projects/${projectId}/uptime/incidents/${incident.number}`);

      const audit = await call(s, owner, 'GET', `${P()}/audit`);
      assert.equal(audit.status, 200, JSON.stringify(audit.body));
      const actions = JSON.stringify(audit.body);
      for (const a of ['incident.acknowledge', 'incident.comment', 'incident.resolve'])
        assert.ok(actions.includes(a), a);
      await s.db.query('UPDATE channels SET enabled = false WHERE id = $1', [hook.id]);
    });

    test('unknown, malformed and other projects’ incidents answer 404 incident_not_found', async () => {
      const { incident: theirs } = await open({ subjectId: 'theirs-2' }, otherProjectId, otherProd);
      assert.ok(theirs);
      for (const ref of ['9999', theirs.id, '00000000-0000-0000-0000-000000000000', 'abc', '1e3']) {
        for (const [method, path, body] of [
          ['GET', '', undefined],
          ['POST', '/ack', {}],
          ['POST', '/comments', { body: 'x' }],
          ['POST', '/resolve', {}],
        ] as const) {
          const r = await call(s, dev, method, `${P()}/incidents/${ref}${path}`, body);
          assert.equal(r.status, 404, `${method} ${ref}${path}`);
          assert.equal(r.body.error.code, 'incident_not_found', `${method} ${ref}${path}`);
        }
      }
    });

    test('maintenance windows: create, list, suppress incidents while active, delete; bad windows are 400 with a code', async () => {
      const target = await call(s, dev, 'POST', `${P()}/targets`, {
        name: 'shop api',
        env: 'prod',
        kind: 'http',
        intervalS: 60,
        spec: { url: 'http://127.0.0.1:9/health', method: 'GET', timeoutMs: 2000 },
      });
      assert.equal(target.status, 201, JSON.stringify(target.body));
      const targetId = target.body.target.id as string;
      const theirs = await call(s, owner, 'POST', `${P(otherProjectId)}/targets`, {
        name: 'their api',
        env: 'prod',
        kind: 'http',
        intervalS: 60,
        spec: { url: 'http://127.0.0.1:9/health', method: 'GET', timeoutMs: 2000 },
      });
      assert.equal(theirs.status, 201, JSON.stringify(theirs.body));
      const now = Date.now();
      const iso = (ms: number) => new Date(now + ms).toISOString();

      const viewerTry = await call(s, viewer, 'POST', `${P()}/maintenance`, {
        title: 'db upgrade',
        startsAt: iso(-HOUR),
        endsAt: iso(HOUR),
      });
      assert.equal(viewerTry.status, 403);

      for (const [body, code] of [
        [{ title: 'x', startsAt: iso(HOUR), endsAt: iso(HOUR - 1) }, 'invalid_maintenance_window'],
        [{ title: 'x', startsAt: iso(HOUR), endsAt: iso(HOUR) }, 'invalid_maintenance_window'],
        [{ title: 'x', startsAt: iso(-2 * HOUR), endsAt: iso(-HOUR) }, 'invalid_maintenance_window'],
        [{ title: 'x', startsAt: iso(0), endsAt: iso(32 * 24 * HOUR) }, 'invalid_maintenance_window'],
        [
          { title: 'x', startsAt: iso(0), endsAt: iso(HOUR), targetIds: [theirs.body.target.id] },
          'invalid_maintenance_target',
        ],
        [{ title: 'x', startsAt: iso(0), endsAt: iso(HOUR), targetIds: ['not-a-uuid'] }, 'validation_failed'],
        [{ title: '', startsAt: iso(0), endsAt: iso(HOUR) }, 'validation_failed'],
        [{ title: 'x', startsAt: 'tomorrow', endsAt: iso(HOUR) }, 'validation_failed'],
        [{ title: 'x', startsAt: iso(0) }, 'validation_failed'],
      ] as const) {
        const r = await call(s, dev, 'POST', `${P()}/maintenance`, body);
        assert.equal(r.status, 400, JSON.stringify(body));
        assert.equal(r.body.error.code, code, JSON.stringify(body));
        if (code === 'invalid_maintenance_target')
          assert.deepEqual(r.body.error.details, { targetIds: [theirs.body.target.id] });
      }

      const created = await call(s, dev, 'POST', `${P()}/maintenance`, {
        title: 'db upgrade',
        startsAt: iso(-HOUR),
        endsAt: iso(HOUR),
        targetIds: [targetId],
        services: ['checkout'],
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const w = created.body.window;
      assert.deepEqual(
        [w.title, w.targetIds, w.services, w.state, w.wholeProject, w.createdBy],
        ['db upgrade', [targetId], ['checkout'], 'active', false, 'dev@example.com'],
      );
      const later = await call(s, dev, 'POST', `${P()}/maintenance`, {
        title: 'all of it',
        startsAt: iso(24 * HOUR),
        endsAt: iso(26 * HOUR),
      });
      assert.equal(later.status, 201);
      assert.deepEqual([later.body.window.state, later.body.window.wholeProject], ['upcoming', true]);

      const list = await call(s, viewer, 'GET', `${P()}/maintenance`);
      assert.deepEqual(
        list.body.windows.map((x: { title: string }) => x.title),
        ['all of it', 'db upgrade'],
      );
      const active = await call(s, viewer, 'GET', `${P()}/maintenance?state=active`);
      assert.deepEqual(
        active.body.windows.map((x: { id: string }) => x.id),
        [w.id],
      );

      // While it lasts, the covered target and service open nothing; others still do.
      const t = await store.open(s.db, {
        projectId,
        environmentId: prod,
        subjectType: 'target',
        subjectId: targetId,
        subjectName: 'shop api',
        kind: 'down',
        title: 'shop api is down',
        reason: 'connection refused',
        numbers: {},
        at: new Date(),
      });
      assert.equal(t.suppressed, true);
      assert.equal((await open({ subjectId: 'checkout', kind: 'latency_anomaly' })).suppressed, true);
      assert.equal((await open({ subjectId: 'search', kind: 'latency_anomaly' })).created, true);

      const del = await call(s, dev, 'DELETE', `${P()}/maintenance/${w.id}`);
      assert.equal(del.status, 204);
      const gone = await call(s, dev, 'DELETE', `${P()}/maintenance/${w.id}`);
      assert.equal(gone.status, 404);
      assert.equal(gone.body.error.code, 'maintenance_not_found');
      const elsewhere = await call(
        s,
        owner,
        'DELETE',
        `${P(otherProjectId)}/maintenance/${later.body.window.id}`,
      );
      assert.equal(elsewhere.status, 404);
      assert.equal((await open({ subjectId: 'checkout', kind: 'latency_anomaly' })).created, true);
    });

    test('service rules: defaults until changed, partial changes keep the rest, null turns a threshold off, bad values are 400', async () => {
      const R = `${P()}/service-rules/checkout`;
      const d = await call(s, viewer, 'GET', `${R}?env=prod`);
      assert.equal(d.status, 200, JSON.stringify(d.body));
      assert.deepEqual(d.body.rule, {
        service: 'checkout',
        env: 'prod',
        p95AboveMs: null,
        errorRateAbove: 0.05,
        minRequests: 20,
        anomaly: true,
        sensitivity: 'medium',
        custom: false,
      });
      assert.equal((await call(s, viewer, 'PUT', `${R}?env=prod`, { p95AboveMs: 500 })).status, 403);
      const put = await call(s, dev, 'PUT', `${R}?env=prod`, { p95AboveMs: 500, sensitivity: 'high' });
      assert.equal(put.status, 200, JSON.stringify(put.body));
      assert.deepEqual(
        [
          put.body.rule.p95AboveMs,
          put.body.rule.errorRateAbove,
          put.body.rule.sensitivity,
          put.body.rule.custom,
        ],
        [500, 0.05, 'high', true],
      );
      const off = await call(s, dev, 'PUT', `${R}?env=prod`, { errorRateAbove: null, minRequests: 50 });
      assert.deepEqual(
        [off.body.rule.p95AboveMs, off.body.rule.errorRateAbove, off.body.rule.minRequests],
        [500, null, 50],
      );
      const { rows } = await s.db.query<{ p95_above_ms: number; error_rate_above: number | null }>(
        `SELECT p95_above_ms, error_rate_above FROM service_rules WHERE project_id = $1 AND service = 'checkout'`,
        [projectId],
      );
      assert.deepEqual(rows, [{ p95_above_ms: 500, error_rate_above: null }]);
      // Per environment: staging still has the defaults.
      assert.equal((await call(s, viewer, 'GET', `${R}?env=staging`)).body.rule.custom, false);

      for (const [q, body, status, code] of [
        ['?env=prod', { errorRateAbove: 2 }, 400, 'validation_failed'],
        ['?env=prod', { errorRateAbove: 0 }, 400, 'validation_failed'],
        ['?env=prod', { p95AboveMs: 0 }, 400, 'validation_failed'],
        ['?env=prod', { minRequests: 0 }, 400, 'validation_failed'],
        ['?env=prod', { sensitivity: 'extreme' }, 400, 'validation_failed'],
        ['?env=prod', { bogus: 1 }, 400, 'validation_failed'],
        ['', { p95AboveMs: 100 }, 400, 'validation_failed'],
        ['?env=nowhere', { p95AboveMs: 100 }, 404, 'environment_not_found'],
      ] as const) {
        const r = await call(s, dev, 'PUT', `${R}${q}`, body);
        assert.equal(r.status, status, `${q} ${JSON.stringify(body)}`);
        assert.equal(r.body.error.code, code, `${q} ${JSON.stringify(body)}`);
      }
    });
  });
}
