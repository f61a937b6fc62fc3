/**
 * `GET /projects/:id/status` and `peep status` against a real server: targets in every state (as a
 * worker leaves them), a service's last 15 minutes from ingested request events, and an active
 * incident, in one answer and one table; `--json` is the API's answer; another project's status is
 * not readable; a reader may read it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  call,
  createOwner,
  createProjectWithKey,
  createUser,
  ingest,
  type SignedIn,
  startTestServer,
  type TestServer,
  testEngines,
} from '@peep/api/testing';
import { peep, tempHome } from './testkit.js';

for (const engine of testEngines()) {
  describe(`project status and peep status (${engine})`, { timeout: 120_000 }, () => {
    let s: TestServer;
    let owner: SignedIn;
    let projectId = '';
    let envId = '';
    const h = tempHome();
    let env: Record<string, string> = {};

    before(async () => {
      s = await startTestServer({ engine });
      owner = await createOwner(s, { email: 'olive@example.com' });
      const p = await createProjectWithKey(s, owner, { name: 'Shop', environment: 'prod' });
      projectId = p.projectId;
      envId = p.environments.find((e) => e.slug === 'prod')?.id ?? '';
      const now = Date.now();
      // 100 requests to `api` in the last few minutes, 10 of them 500s, 10-109 ms.
      const events = Array.from({ length: 100 }, (_, i) => ({
        time: new Date(now - 120_000 + i * 1000).toISOString(),
        service: 'api',
        route: '/orders',
        method: 'GET',
        status: i % 10 === 0 ? 500 : 200,
        durationMs: 10 + i,
      }));
      const r = await ingest(s, p.key, 'events', events);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      const ins = (name: string, cols: string, vals: string) =>
        s.db.query(
          `INSERT INTO targets (project_id, environment_id, name, kind, spec, interval_s, ${cols})
           VALUES ($1, $2, $3, 'http', '{}', 30, ${vals}) RETURNING id`,
          [projectId, envId, name],
        );
      await ins('home', 'status, last_ok', "'up', true");
      await ins('search', 'status, last_ok', "'up', true");
      const down = await ins(
        'checkout',
        'status, last_ok, last_error_class, last_message, status_since',
        "'down', false, 'refused', 'connect ECONNREFUSED', now() - interval '5 minutes'",
      );
      await ins('old', 'enabled', 'false');
      await s.db.query(
        `INSERT INTO incidents (project_id, number, environment_id, subject_type, subject_id, subject_name, kind, title)
         VALUES ($1, 1, $2, 'target', $3, 'checkout', 'down', 'checkout is down')`,
        [projectId, envId, (down.rows[0] as { id: string }).id],
      );
      const t = await call(s, owner, 'POST', '/api/v1/tokens', { name: 'cli', scopes: ['read', 'write'] });
      env = { ...h.env, PEEP_TOKEN: t.body.secret, PEEP_SERVER: s.url };
    });
    after(async () => {
      await s?.close();
      h.cleanup();
    });

    test('the API answers targets, services and incidents with a health for each', async () => {
      let st = await call(s, owner, 'GET', `/api/v1/projects/${projectId}/status`);
      // Ingest commits in the background: wait for the rollups.
      for (let i = 0; i < 50 && st.body.services?.length === 0; i++) {
        await new Promise((r) => setTimeout(r, 100));
        st = await call(s, owner, 'GET', `/api/v1/projects/${projectId}/status`);
      }
      assert.equal(st.status, 200, JSON.stringify(st.body));
      assert.equal(st.body.health, 'down');
      assert.deepEqual(st.body.targets.counts, { total: 4, up: 2, down: 1, pending: 0, paused: 1 });
      assert.deepEqual(
        st.body.targets.attention.map((t: { name: string; status: string; health: string }) => [
          t.name,
          t.status,
          t.health,
        ]),
        [
          ['checkout', 'down', 'down'],
          ['old', 'paused', 'unknown'],
        ],
      );
      assert.equal(st.body.targets.attention[0].lastError, 'refused: connect ECONNREFUSED');
      assert.equal(st.body.services.length, 1);
      const api = st.body.services[0];
      assert.equal(api.name, 'api');
      assert.equal(api.env, 'prod');
      assert.equal(api.requests, 100);
      assert.equal(api.errorRate, 0.1);
      // p95 of 10..109 ms is 104 ms, within the sketch's 1%.
      assert.ok(Math.abs(api.p95 - 104) <= 1.1, `p95 ${api.p95}`);
      assert.equal(api.health, 'ok');
      assert.equal(st.body.incidents.length, 1);
      assert.equal(st.body.incidents[0].title, 'checkout is down');

      const staging = await call(s, owner, 'GET', `/api/v1/projects/${projectId}/status?env=staging`);
      assert.equal(staging.body.targets.counts.total, 0);
      assert.equal(staging.body.services.length, 0);
      assert.equal(staging.body.health, 'unknown');
      const bad = await call(s, owner, 'GET', `/api/v1/projects/${projectId}/status?env=nope`);
      assert.equal(bad.status, 404);
      assert.equal(bad.body.error.code, 'environment_not_found');
      const unknown = await call(s, owner, 'GET', `/api/v1/projects/${projectId}/status?colour=red`);
      assert.equal(unknown.status, 400);
      assert.equal(unknown.body.error.code, 'unknown_filter');
    });

    test("a stranger gets 404 for another project's status; a project reader may read it", async () => {
      const eve = await createUser(s, owner, 'eve@example.com');
      const r = await call(s, eve, 'GET', `/api/v1/projects/${projectId}/status`);
      assert.equal(r.status, 404);
      const add = await call(s, owner, 'POST', `/api/v1/projects/${projectId}/members`, {
        email: 'eve@example.com',
        role: 'viewer',
      });
      assert.ok(add.status === 201 || add.status === 200, JSON.stringify(add.body));
      assert.equal((await call(s, eve, 'GET', `/api/v1/projects/${projectId}/status`)).status, 200);
    });

    test('peep status prints one table of everything, and --json the answers', async () => {
      const r = await peep(['status'], env);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /PROJECT\s+ENV\s+WHAT\s+NAME\s+HEALTH\s+DETAIL/);
      assert.match(r.stdout, /shop\s+targets\s+4 targets\s+down\s+2 up, 1 down, 1 paused/);
      assert.match(
        r.stdout,
        /shop\s+prod\s+target\/http\s+checkout\s+down\s+since .*refused: connect ECONNREFUSED/,
      );
      assert.match(
        r.stdout,
        /shop\s+prod\s+service\s+api\s+ok\s+[\d.]+ req\/s, 10\.0% errors, p95 10\d ms \(15 min\)/,
      );
      assert.match(r.stdout, /shop\s+prod\s+incident #1\s+checkout is down\s+open\s+down, opened/);
      const j = await peep(['status', '--json', '--project', 'shop'], env);
      assert.equal(j.code, 0, j.stderr);
      const body = JSON.parse(j.stdout);
      assert.equal(body.projects.length, 1);
      assert.equal(body.projects[0].project.slug, 'shop');
      assert.equal(body.projects[0].targets.counts.down, 1);
    });
  });
}
