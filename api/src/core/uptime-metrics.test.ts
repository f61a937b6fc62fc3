/**
 * /metrics per target, from the targets' state as a worker left it: success, duration, certificate
 * days, status and active incidents, with labels a Prometheus user can select on; promtool accepts it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { after, before, describe, test } from 'node:test';
import {
  call,
  createOwner,
  createProjectWithKey,
  startTestServer,
  type TestServer,
  testEngines,
} from '../testing.js';

for (const engine of testEngines()) {
  describe(`uptime metrics (${engine})`, () => {
    let s: TestServer;
    before(async () => {
      s = await startTestServer({ engine });
    });
    after(() => s.close());

    test('each target has success, duration, certificate days, last check and status series', async () => {
      const owner = await createOwner(s);
      const p = await createProjectWithKey(s, owner, { name: 'Shop' });
      const slug = (await call(s, owner, 'GET', `/api/v1/projects/${p.projectId}`)).body.project.slug;
      const env = p.environments[0];
      assert.ok(env);
      const insert = (name: string, kind: string, state: string) =>
        s.db.query(
          `INSERT INTO targets (project_id, environment_id, name, kind, spec, interval_s, ${state.split('|')[0]})
           VALUES ($1, $2, $3, $4, '{}', 30, ${state.split('|')[1]})`,
          [p.projectId, env.id, name, kind],
        );
      await insert(
        'checkout',
        'http',
        "status, last_ok, last_duration_ms, cert_days_left, last_check_at|'up', true, 123.5, 41.5, to_timestamp(1800000000)",
      );
      await insert(
        'db',
        'tcp',
        "status, last_ok, last_duration_ms, last_check_at|'down', false, 3000, now()",
      );
      await insert('nightly "job"', 'heartbeat', 'enabled|false');
      await insert('fresh', 'http', "status|'pending'");
      const tId = (await s.db.query<{ id: string }>(`SELECT id FROM targets WHERE name = 'db'`)).rows[0]?.id;
      await s.db.query(
        `INSERT INTO incidents (project_id, number, environment_id, subject_type, subject_id, subject_name, kind, title)
         VALUES ($1, 1, $2, 'target', $3, 'db', 'down', 'db is down')`,
        [p.projectId, env.id, tId],
      );

      const text = await (await fetch(`${s.url}/metrics`)).text();
      const l = (target: string, kind: string) =>
        `project="${slug}",env="${env.slug}",target="${target}",kind="${kind}"`;
      const has = (line: string) => assert.ok(text.split('\n').includes(line), `missing: ${line}`);
      has(`peep_target_success{${l('checkout', 'http')}} 1`);
      has(`peep_target_success{${l('db', 'tcp')}} 0`);
      has(`peep_target_check_duration_seconds{${l('checkout', 'http')}} 0.1235`);
      has(`peep_target_check_duration_seconds{${l('db', 'tcp')}} 3`);
      has(`peep_target_cert_expires_in_seconds{${l('checkout', 'http')}} 3585600`);
      has(`peep_target_last_check_timestamp_seconds{${l('checkout', 'http')}} 1800000000`);
      has(`peep_target_status{${l('checkout', 'http')},status="up"} 1`);
      has(`peep_target_status{${l('checkout', 'http')},status="down"} 0`);
      has(`peep_target_status{${l('db', 'tcp')},status="down"} 1`);
      has(`peep_target_status{${l('nightly \\"job\\"', 'heartbeat')},status="paused"} 1`);
      has(`peep_target_status{${l('fresh', 'http')},status="pending"} 1`);
      has(`peep_incidents_active{project="${slug}",kind="down"} 1`);
      // Never checked, paused or without TLS: no series rather than a made-up zero.
      assert.doesNotMatch(text, /peep_target_success\{[^}]*target="fresh"/);
      assert.doesNotMatch(text, /peep_target_success\{[^}]*target="nightly/);
      assert.doesNotMatch(text, /peep_target_cert_expires_in_seconds\{[^}]*target="db"/);

      const promtool = process.env.PEEP_PROMTOOL ?? '/usr/bin/promtool';
      if (!fs.existsSync(promtool)) {
        if (process.env.CI === 'true') assert.fail(`promtool not found at ${promtool} (CI=true)`);
        console.log(`# promtool not found at ${promtool}: lint check skipped`);
        return;
      }
      const r = spawnSync(promtool, ['check', 'metrics'], { input: text, encoding: 'utf8' });
      assert.equal(r.status, 0, `promtool check metrics:\n${r.stdout}${r.stderr}`);
    });
  });
}
