/**
 * The audit trail of variables over HTTP on both engines: changes, imports, rollbacks, reveals,
 * exports and revealing diffs are recorded with who, which keys, the environment, the request id and
 * the outcome (refusals too); never a value: the whole audit_log and the server's log output are
 * searched for a known secret. Filters by environment, key, actor, time and action prefix, and the
 * NDJSON export of every matching entry.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testEngines } from '../testing.js';
import { type EnvKit, startEnvKit } from './testkit.js';

const SECRET = 'hunter2-audit-9d71c0-secret';
const SECRET2 = 'second-audit-55ab12-secret';

interface Entry {
  action: string;
  outcome: string;
  status: number;
  actorEmail: string;
  environment: string | null;
  environmentId: string | null;
  requestId: string;
  at: string;
  details: Record<string, unknown> | null;
}

for (const engine of testEngines()) {
  describe(`audit of variables (${engine})`, () => {
    let k: EnvKit;
    const audit = async (q: string) => {
      const r = await k.req('owner', 'GET', `${k.base()}/audit?limit=500&${q}`);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      return r.body.entries as Entry[];
    };

    before(async () => {
      k = await startEnvKit(engine, { captureLogs: true });
      await k.put('dev', {
        message: 'db',
        set: [
          { key: 'DB_PASSWORD', value: SECRET },
          { key: 'PORT', value: '1' },
        ],
      });
      await k.put('staging', { set: [{ key: 'DB_PASSWORD', value: SECRET2 }] });
      const e = (path: string, body: unknown, who: 'owner' | 'developer' = 'owner') =>
        k.req(who, 'POST', `${k.base()}/envs/${path}`, body);
      assert.equal((await e('dev/reveal', { keys: ['DB_PASSWORD'] })).status, 200);
      assert.equal((await e('dev/export', { format: 'dotenv' })).status, 200);
      assert.equal((await e('dev/export', {})).status, 200);
      assert.equal((await e('prod/reveal', { keys: ['NOPE'] }, 'developer')).status, 404);
      await k.put('prod', { set: [{ key: 'API_KEY', value: SECRET2 }] });
      assert.equal((await e('prod/reveal', {}, 'developer')).status, 403);
      assert.equal(
        (
          await e('dev/import', {
            baseVersion: 1,
            message: 'imp',
            format: 'dotenv',
            content: `EXTRA="${SECRET}"\n`,
          })
        ).status,
        200,
      );
      assert.equal((await e('dev/rollback', { toVersion: 1, baseVersion: 2 })).status, 200);
      await k.put('dev', { baseVersion: 0, set: [{ key: 'DB_PASSWORD', value: SECRET2 }] }, 'owner', 409);
      const diff = await k.req('owner', 'GET', `${k.base()}/diff?left=dev&right=staging&reveal=true`);
      assert.equal(diff.status, 200);
    });
    after(async () => k?.close());

    test('changes, imports, rollbacks, reveals and exports are recorded with keys, never values', async () => {
      const all = await audit('action=env.');
      const find = (action: string, outcome = 'success') =>
        all.filter((x) => x.action === action && x.outcome === outcome);
      const change = find('env.change').find((x) => x.environment === 'dev');
      assert.ok(change, 'env.change recorded');
      assert.deepEqual(change.details?.keys, ['DB_PASSWORD', 'PORT']);
      assert.equal(change.details?.version, 1);
      assert.equal(change.actorEmail, 'owner@example.com');
      assert.equal(change.environmentId, k.env.dev);
      assert.ok(change.requestId);
      const conflict = find('env.change', 'failure').find((x) => x.status === 409);
      assert.ok(conflict, 'a refused change is recorded with its outcome');
      assert.deepEqual(conflict.details?.keys, ['DB_PASSWORD']);
      const reveal = find('env.reveal').find((x) => x.details?.keys && !x.details.via);
      assert.deepEqual(reveal?.details, { keys: ['DB_PASSWORD'], service: null, version: 1 });
      const refused = find('env.reveal', 'failure');
      assert.deepEqual(refused.map((x) => x.status).sort(), [403, 404]);
      const exports = find('env.export');
      assert.equal(exports.length, 2);
      assert.deepEqual(exports.map((x) => x.details?.format).sort(), ['dotenv', 'json']);
      assert.deepEqual(exports[0]?.details?.keys, ['DB_PASSWORD', 'PORT']);
      const imp = find('env.import')[0];
      assert.deepEqual(imp?.details?.keys, ['EXTRA']);
      assert.equal(imp?.details?.format, 'dotenv');
      const rb = find('env.rollback')[0];
      assert.deepEqual(rb?.details?.keys, ['EXTRA']);
      assert.equal(rb?.details?.toVersion, 1);
      const diffReveals = all.filter((x) => x.action === 'env.reveal' && x.details?.via === 'diff');
      assert.deepEqual(diffReveals.map((x) => x.environment).sort(), ['dev', 'staging']);
      assert.deepEqual(diffReveals[0]?.details?.keys, ['DB_PASSWORD', 'PORT']);
    });

    test('no secret value anywhere in audit_log or the server log', async () => {
      const { rows } = await k.s.db.query<{ t: string }>('SELECT audit_log::text AS t FROM audit_log');
      assert.ok(rows.length > 10);
      for (const r of rows) {
        assert.ok(!r.t.includes(SECRET), r.t);
        assert.ok(!r.t.includes(SECRET2), r.t);
      }
      const logged = k.logs.join('');
      assert.ok(logged.length > 1000, 'the log was captured');
      assert.ok(!logged.includes(SECRET));
      assert.ok(!logged.includes(SECRET2));
    });

    test('filters: environment, key, actor, time and action prefix', async () => {
      const prod = await audit('environment=prod');
      assert.ok(prod.length >= 3);
      assert.ok(prod.every((x) => x.environment === 'prod'));
      const byId = await audit(`environment=${k.env.prod}`);
      assert.equal(byId.length, prod.length);
      const key = await audit('key=DB_PASSWORD');
      assert.ok(key.length >= 4);
      assert.ok(
        key.every((x) => (x.details?.keys as string[] | undefined)?.includes('DB_PASSWORD') === true),
      );
      const extra = await audit('key=EXTRA');
      assert.deepEqual(extra.map((x) => x.action).sort(), ['env.import', 'env.rollback']);
      const dev = await audit('actor=developer@example.com');
      assert.ok(dev.length >= 2);
      assert.ok(dev.every((x) => x.actorEmail === 'developer@example.com'));
      const exportsOnly = await audit('action=env.export');
      assert.ok(exportsOnly.every((x) => x.action === 'env.export'));
      const prefix = await audit('action=env.');
      assert.ok(prefix.every((x) => x.action.startsWith('env.')));
      assert.ok(prefix.length > exportsOnly.length);
      const all = await audit('');
      const mid = prefix[Math.floor(prefix.length / 2)] as Entry;
      const since = await audit(`since=${encodeURIComponent(mid.at)}&action=env.`);
      assert.ok(since.every((x) => x.at >= mid.at));
      const until = await audit(`until=${encodeURIComponent('2000-01-01T00:00:00Z')}`);
      assert.equal(until.length, 0);
      assert.ok(all.length >= prefix.length);
      const none = await k.req('owner', 'GET', `${k.base()}/audit?environment=qa`);
      assert.equal(none.body.error.code, 'environment_not_found');
    });

    test('NDJSON export streams every matching entry', async () => {
      const res = await fetch(`${k.s.url}${k.base()}/audit?format=ndjson&action=env.&limit=1`, {
        headers: { cookie: k.users.owner.cookie },
      });
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^application\/x-ndjson/);
      const text = await res.text();
      assert.ok(text.endsWith('\n'));
      const lines = text
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l) as Entry);
      const json = await audit('action=env.');
      assert.equal(lines.length, json.length, 'every entry, not one page');
      assert.deepEqual(
        lines.map((l) => l.requestId),
        json.map((j) => j.requestId),
      );
      const bad = await k.req('owner', 'GET', `${k.base()}/audit?format=ndjson&environment=qa`);
      assert.equal(bad.status, 404, 'a bad filter is still a JSON error');
      const viewer = await k.req('viewer', 'GET', `${k.base()}/audit?format=ndjson`);
      assert.equal(viewer.status, 403);
    });
  });
}
