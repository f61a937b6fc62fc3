/**
 * `peep demo` as a real process against a real API: with a login it makes project "demo" and an
 * ingest key, its sample app's requests and logs arrive (routes by template, errors, several log
 * levels), a second run reuses the project and the key, `--key` works without a login, and Ctrl-C
 * stops it cleanly.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { call, createOwner, type SignedIn, startTestServer, type TestServer } from '@peep/api/testing';
import { peep, startPeep, tempHome } from './testkit.js';

describe('peep demo', () => {
  let server: TestServer;
  let owner: SignedIn;
  let token: string;
  const home = tempHome();

  before(async () => {
    server = await startTestServer();
    owner = await createOwner(server);
    const t = await call(server, owner, 'POST', '/api/v1/tokens', {
      name: 'demo test',
      scopes: ['read', 'write'],
    });
    assert.equal(t.status, 201, JSON.stringify(t.body));
    token = t.body.secret;
  });
  after(async () => {
    await server?.close();
    home.cleanup();
  });

  const env = () => ({ ...home.env, PEEP_TOKEN: token });

  async function demoProject(): Promise<{ id: string; environments: { id: string; slug: string }[] }> {
    const r = await call(server, owner, 'GET', '/api/v1/projects');
    const p = r.body.projects.find((x: { slug: string }) => x.slug === 'demo');
    assert.ok(p, 'project "demo" exists');
    const d = await call(server, owner, 'GET', `/api/v1/projects/${p.id}`);
    return { id: p.id, environments: d.body.environments };
  }

  test('with a login it creates project "demo" and a key, and its traffic and logs arrive', async () => {
    const r = await peep(['demo', '--server', server.url, '--duration', '5', '--rps', '40'], env());
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /Created project demo/);
    assert.match(r.stdout, /Created an ingest key for demo\/dev/);
    assert.match(r.stdout, new RegExp(`${server.url}/projects/[0-9a-f-]{36}#runtime`));
    const done =
      /Done: (\d+) requests in \d+ s; (\d+) route summaries, (\d+) sampled events and (\d+) logs accepted by peep, 0 dropped/.exec(
        r.stdout,
      );
    assert.ok(done, r.stdout);
    const requests = Number(done[1]);
    assert.ok(requests >= 60, `${requests} requests in 5 s at 40/s`);

    const p = await demoProject();
    // every request is counted in the rollups (through the SDK's aggregates), sampled or not
    const sum = await call(server, owner, 'GET', `/api/v1/projects/${p.id}/telemetry/summary?from=1h`);
    assert.equal(sum.body.count, requests, JSON.stringify(sum.body));
    const ev = await call(server, owner, 'GET', `/api/v1/projects/${p.id}/telemetry/events?limit=500`);
    assert.equal(ev.status, 200, JSON.stringify(ev.body));
    const events: { route: string; status: number; service: string; environmentId: string }[] =
      ev.body.events;
    assert.ok(
      events.length >= Math.min(requests, 500) * 0.9,
      `${events.length} events stored of ${requests} sent`,
    );
    assert.ok(events.every((e) => e.service === 'demo-shop'));
    assert.ok(events.every((e) => e.environmentId === p.environments[0]?.id));
    const routes = new Set(events.map((e) => e.route));
    for (const r of ['/api/products', '/api/products/:id', '/health'])
      assert.ok(routes.has(r), `route ${r} among ${[...routes]}`);
    assert.ok(![...routes].some((r) => /\/\d+$/.test(r)), `no raw ids in routes: ${[...routes]}`);
    assert.ok(
      events.some((e) => e.status === 404),
      'some 404s',
    );

    const logs = await call(
      server,
      owner,
      'GET',
      `/api/v1/projects/${p.id}/logs?limit=500&from=1h&level=debug`,
    );
    assert.equal(logs.status, 200, JSON.stringify(logs.body));
    const levels = new Set(logs.body.logs.map((l: { level: string }) => l.level));
    assert.ok(levels.has('debug') && levels.has('info'), `levels ${[...levels]}`);
    assert.ok(
      logs.body.logs.every((l: { requestId: string | null }) => l.requestId),
      'every log of the sample app carries its request id',
    );
  });

  test('a second run reuses the project and its stored key', async () => {
    const r = await peep(['demo', '--server', server.url, '--duration', '2'], env());
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.doesNotMatch(r.stdout, /Created/);
    const p = await demoProject();
    const keys = await call(server, owner, 'GET', `/api/v1/projects/${p.id}/ingest-keys`);
    assert.equal(keys.body.ingestKeys.length, 1);
    const file = path.join(home.home, '.config', 'peep', 'demo-keys.json');
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
  });

  test('a revoked stored key is replaced by a new one', async () => {
    const p = await demoProject();
    const keys = await call(server, owner, 'GET', `/api/v1/projects/${p.id}/ingest-keys`);
    const del = await call(
      server,
      owner,
      'DELETE',
      `/api/v1/projects/${p.id}/ingest-keys/${keys.body.ingestKeys[0].id}`,
    );
    assert.equal(del.status, 204);
    const r = await peep(['demo', '--server', server.url, '--duration', '2', '--json'], env());
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const summary = JSON.parse(r.stdout);
    assert.ok(summary.events.sent > 0, r.stdout);
    assert.equal(summary.events.dropped, 0);
    const after = await call(server, owner, 'GET', `/api/v1/projects/${p.id}/ingest-keys`);
    assert.equal(after.body.ingestKeys.filter((k: { revokedAt: string | null }) => !k.revokedAt).length, 1);
  });

  test('--key sends with that key and needs no login; Ctrl-C stops it cleanly', async () => {
    const p = await demoProject();
    const k = await call(server, owner, 'POST', `/api/v1/projects/${p.id}/ingest-keys`, {
      name: 'given',
      environmentId: p.environments[1]?.id,
    });
    const run = startPeep(['demo', '--server', server.url, '--key', k.body.secret, '--rps', '50'], home.env);
    await run.waitFor(/Ctrl-C stops it/);
    await new Promise((r) => setTimeout(r, 2_000));
    run.child.kill('SIGINT');
    const code = await run.exit(20_000);
    assert.equal(code, 0, run.stdout() + run.stderr());
    assert.match(run.stdout(), /Stopping/);
    assert.match(run.stdout(), /Done: \d+ requests/);
    const ev = await call(
      server,
      owner,
      'GET',
      `/api/v1/projects/${p.id}/telemetry/events?limit=5&env=${p.environments[1]?.slug}`,
    );
    assert.equal(ev.status, 200, JSON.stringify(ev.body));
    assert.ok(ev.body.events.length > 0, "events arrived in the key's environment");
  });

  test('without a login or a key it says how to get one (exit 3)', async () => {
    const r = await peep(['demo', '--server', server.url, '--duration', '1'], home.env);
    assert.equal(r.code, 3, r.stdout + r.stderr);
    assert.match(r.stderr, /--key/);
  });
});
