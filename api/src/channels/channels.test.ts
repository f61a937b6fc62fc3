/**
 * Notification channels over HTTP on both engines: create (secret shown once), list and read with
 * masked URLs, change, delete, rotate the signing secret, send a test to a real loopback receiver
 * that verifies the signature, the delivery log and its paging; roles (developers list and test,
 * admins manage); other projects' channels; bad input answered with documented codes; and neither
 * URLs nor secrets in responses, the database in clear, the audit log or the server's log output.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { verifyWebhookSignature } from '@peep/builder';
import { always, type Receiver, startReceiver } from '@peep/builder/notify/testing';
import { createLogger, createMemoryBus, loadConfig } from '@peep/pkg';
import { createKeyring, generateMasterKey } from '@peep/pkg/master-key';
import { keyringFromConfig, type MasterKeys } from '@peep/pkg/project-keys';
import { buildApi } from '../app.js';
import { systemClock } from '../core/types.js';
import {
  call,
  createOwner,
  createProjectWithKey,
  createUser,
  type Engine,
  openTestDb,
  type SignedIn,
  type TestServer,
  testEngines,
} from '../testing.js';

/** A test server like testing.ts's, with the log output captured and a keyring of its own. */
async function startServer(
  engine: Engine,
  keys: MasterKeys = createKeyring(generateMasterKey()),
  over: { webhookDeny?: string } = {},
): Promise<TestServer & { logs: string[] }> {
  const t = await openTestDb(engine);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'peep-channels-'));
  const config = loadConfig(
    {},
    {
      port: 0,
      host: '127.0.0.1',
      dashboard: false,
      builder: false,
      logLevel: 'trace',
      authRateLimit: 1000,
      dataDir,
      ...over,
    },
  );
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      logs.push(String(chunk));
      done();
    },
  });
  const log = createLogger({ level: 'trace' }, sink);
  const bus = createMemoryBus();
  const api = await buildApi({
    config,
    db: t.db,
    bus,
    log,
    clock: systemClock,
    keys,
  });
  await api.app.listen({ port: 0, host: '127.0.0.1' });
  const addr = api.app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    engine,
    db: t.db,
    config,
    api,
    logs,
    async close() {
      await api.app.close();
      await api.drain(10_000);
      await bus.close();
      await t.drop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

for (const engine of testEngines()) {
  describe(`notification channels (${engine})`, () => {
    let s: TestServer & { logs: string[] };
    let owner: SignedIn;
    let dev: SignedIn;
    let viewer: SignedIn;
    let projectId = '';
    let otherProjectId = '';
    const receivers: Receiver[] = [];
    /** Every URL and secret used: none may appear anywhere but in the receivers. */
    const secrets: string[] = [];
    const base = (pid = projectId) => `/api/v1/projects/${pid}/channels`;
    const create = (body: Record<string, unknown>, who: SignedIn = owner, pid = projectId) =>
      call(s, who, 'POST', base(pid), body);
    const hookReceiver = async (answer = always(200)) => {
      const r = await startReceiver(answer);
      receivers.push(r);
      return r;
    };

    before(async () => {
      s = await startServer(engine);
      owner = await createOwner(s);
      projectId = (await createProjectWithKey(s, owner, { name: 'Channels' })).projectId;
      otherProjectId = (await createProjectWithKey(s, owner, { name: 'Elsewhere' })).projectId;
      dev = await createUser(s, owner, 'dev@example.com');
      viewer = await createUser(s, owner, 'viewer@example.com');
      for (const [u, role] of [
        [dev, 'developer'],
        [viewer, 'viewer'],
      ] as const) {
        const r = await call(s, owner, 'POST', `/api/v1/projects/${projectId}/members`, {
          email: u.email,
          role,
        });
        assert.equal(r.status, 201, JSON.stringify(r.body));
      }
    });
    after(async () => {
      for (const r of receivers) await r.close();
      await s?.close();
    });

    test('create a webhook channel: the generated secret is answered once, the URL never', async () => {
      const hook = await hookReceiver();
      const url = hook.url('/hooks/in/tok_abcdefghijklmnop?key=querysecret123');
      secrets.push('tok_abcdefghijklmnop', 'querysecret123');
      const r = await create({ name: 'ops webhook', kind: 'webhook', url, reminderMinutes: 30 });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      assert.match(r.body.secret, /^peep_whsec_[A-Za-z0-9_-]{43}$/);
      secrets.push(r.body.secret);
      const c = r.body.channel;
      assert.equal(c.name, 'ops webhook');
      assert.equal(c.kind, 'webhook');
      assert.equal(c.urlHint, `http://127.0.0.1:${hook.port}/hooks/in…••••`);
      assert.deepEqual(
        [c.enabled, c.notifyResolved, c.reminderMinutes, c.lastDelivery],
        [true, true, 30, null],
      );
      assert.equal(r.headers.get('cache-control'), 'no-store');
      const text = JSON.stringify(r.body);
      assert.ok(!text.includes('tok_abcdefghijklmnop') && !text.includes('querysecret123'));
      // Sealed at rest.
      const { rows } = await s.db.query<{ url_sealed: string; secret_sealed: string }>(
        'SELECT url_sealed, secret_sealed FROM channels WHERE id = $1',
        [c.id],
      );
      assert.match(rows[0]?.url_sealed ?? '', /^v1\./);
      assert.ok(!(rows[0]?.url_sealed ?? '').includes('tok_'));
      assert.ok(!(rows[0]?.secret_sealed ?? '').includes(r.body.secret));
      // Read back: no secret, no URL.
      const g = await call(s, dev, 'GET', `${base()}/${c.id}`);
      assert.equal(g.status, 200);
      assert.deepEqual(Object.keys(g.body.channel).sort(), Object.keys(c).sort());
      assert.ok(!('secret' in g.body) && !('url' in g.body.channel));
    });

    test('a Slack channel needs https://hooks.slack.com and has no secret', async () => {
      const url = 'https://hooks.slack.com/services/T0AAAAAAA/B0BBBBBBB/slacktokenXYZslacktoken';
      secrets.push('slacktokenXYZslacktoken', 'B0BBBBBBB');
      const r = await create({ name: 'ops slack', kind: 'slack', url, notifyResolved: false });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      assert.equal(r.body.secret, undefined);
      assert.equal(r.body.channel.urlHint, 'https://hooks.slack.com/services/T0…••••');
      assert.equal(r.body.channel.notifyResolved, false);
      const bad = [
        ['http://hooks.slack.com/services/T/B/x', /https:\/\/hooks\.slack\.com/],
        ['https://hooks.slack.com.evil.example/services/T/B/x', /https:\/\/hooks\.slack\.com/],
        ['https://hooks.slack.com/', /no path/],
        ['http://127.0.0.1:9/services/T/B/x', /https:\/\/hooks\.slack\.com/],
      ] as const;
      for (const [u, why] of bad) {
        const b = await create({ name: 'slack bad', kind: 'slack', url: u });
        assert.equal(b.status, 400, u);
        assert.equal(b.body.error.code, 'invalid_channel_url', u);
        assert.match(b.body.error.message, why, u);
      }
      const withSecret = await create({ name: 'slack s', kind: 'slack', url, secret: 'x'.repeat(20) });
      assert.equal(withSecret.status, 400);
      assert.equal(withSecret.body.error.code, 'validation_failed');
    });

    test('bad input: unknown kind, bad URLs, credentials, bad numbers, duplicate names', async () => {
      const ok = 'https://example.com/hook';
      const cases: [Record<string, unknown>, string][] = [
        [{ name: 'x', kind: 'email', url: ok }, 'validation_failed'],
        [{ name: 'x', kind: 'webhook' }, 'validation_failed'],
        [{ name: 'x', kind: 'webhook', url: '/relative/path' }, 'invalid_channel_url'],
        [{ name: 'x', kind: 'webhook', url: 'ftp://example.com/x' }, 'invalid_channel_url'],
        [{ name: 'x', kind: 'webhook', url: 'javascript:alert(1)' }, 'invalid_channel_url'],
        [
          { name: 'x', kind: 'webhook', url: 'https://user:pa55wordsecret@example.com/x' },
          'invalid_channel_url',
        ],
        [{ name: 'x', kind: 'webhook', url: ok, reminderMinutes: 1 }, 'validation_failed'],
        [{ name: 'x', kind: 'webhook', url: ok, secret: 'short' }, 'validation_failed'],
        [{ name: ' padded', kind: 'webhook', url: ok }, 'validation_failed'],
        [{ name: 'x', kind: 'webhook', url: ok, extra: 1 }, 'validation_failed'],
      ];
      secrets.push('pa55wordsecret');
      for (const [body, code] of cases) {
        const r = await create(body);
        assert.equal(r.status, 400, `${JSON.stringify(body)} -> ${r.status} ${JSON.stringify(r.body)}`);
        assert.equal(r.body.error.code, code, JSON.stringify(body));
        assert.ok(!JSON.stringify(r.body).includes('pa55wordsecret'));
      }
      const dup = await create({ name: 'ops webhook', kind: 'webhook', url: ok });
      assert.equal(dup.status, 409);
      assert.equal(dup.body.error.code, 'channel_exists');
      // Same name in another project is fine.
      const other = await create({ name: 'ops webhook', kind: 'webhook', url: ok }, owner, otherProjectId);
      assert.equal(other.status, 201);
    });

    test('roles: developers list, read and test but cannot manage; viewers see nothing', async () => {
      const list = await call(s, dev, 'GET', base());
      assert.equal(list.status, 200);
      assert.deepEqual(
        list.body.channels.map((c: { name: string }) => c.name),
        ['ops slack', 'ops webhook'],
      );
      assert.ok(!JSON.stringify(list.body).includes('slacktoken'));
      const id = list.body.channels[1].id;
      const denied: [string, string, unknown?][] = [
        ['POST', base(), { name: 'dev', kind: 'webhook', url: 'https://example.com/x' }],
        ['PATCH', `${base()}/${id}`, { enabled: false }],
        ['DELETE', `${base()}/${id}`],
        ['POST', `${base()}/${id}/rotate-secret`],
      ];
      for (const [m, u, b] of denied) {
        const r = await call(s, dev, m, u, b);
        assert.equal(r.status, 403, `${m} ${u}`);
        assert.equal(r.body.error.code, 'forbidden');
      }
      const v = await call(s, viewer, 'GET', base());
      assert.equal(v.status, 403);
      const vt = await call(s, viewer, 'POST', `${base()}/${id}/test`);
      assert.equal(vt.status, 403);
    });

    test('another project’s channel is not found through this project', async () => {
      const mine = await call(s, owner, 'GET', base());
      const id = mine.body.channels[0].id;
      const o = otherProjectId;
      for (const [m, u, b] of [
        ['GET', `${base(o)}/${id}`],
        ['PATCH', `${base(o)}/${id}`, { enabled: false }],
        ['DELETE', `${base(o)}/${id}`],
        ['POST', `${base(o)}/${id}/test`],
        ['POST', `${base(o)}/${id}/rotate-secret`],
        ['GET', `${base(o)}/${id}/deliveries`],
      ] as [string, string, unknown?][]) {
        const r = await call(s, owner, m, u, b);
        assert.equal(r.status, 404, `${m} ${u}`);
        assert.equal(r.body.error.code, 'channel_not_found');
      }
    });

    test('send test: signed, delivered, answered as a delivery log and kept as a test delivery', async () => {
      const hook = await hookReceiver(always(204));
      const c = await create({ name: 'tested', kind: 'webhook', url: hook.url('/t/secretpath123') });
      secrets.push(c.body.secret, 'secretpath123');
      const id = c.body.channel.id;
      const r = await call(s, dev, 'POST', `${base()}/${id}/test`);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.ok, true);
      assert.equal(r.body.result, 'delivered');
      assert.equal(r.body.channelKind, 'webhook');
      assert.equal(r.body.attempts.length, 1);
      assert.equal(r.body.attempts[0].status, 204);
      const hit = hook.hits[0];
      assert.ok(hit);
      assert.equal(hit.headers['x-peep-event'], 'test');
      assert.equal(hit.headers['x-peep-delivery'], r.body.deliveryId);
      assert.deepEqual(
        verifyWebhookSignature(
          c.body.secret,
          hit.headers['x-peep-timestamp'] as string,
          hit.raw,
          hit.headers['x-peep-signature'] as string,
        ),
        { ok: true },
      );
      const body = JSON.parse(hit.raw.toString('utf8'));
      assert.equal(body.type, 'test');
      assert.equal(body.incident.project.id, projectId);
      const d = await call(s, dev, 'GET', `${base()}/${id}/deliveries`);
      assert.equal(d.status, 200);
      assert.equal(d.body.deliveries.length, 1);
      const del = d.body.deliveries[0];
      assert.deepEqual(
        [del.id, del.type, del.status, del.incidentId, del.error, del.attempts.length],
        [r.body.deliveryId, 'test', 'ok', null, null, 1],
      );
      assert.ok(del.finishedAt);
      const g = await call(s, dev, 'GET', `${base()}/${id}`);
      assert.deepEqual(
        [g.body.channel.lastDelivery.id, g.body.channel.lastDelivery.status],
        [r.body.deliveryId, 'ok'],
      );
    });

    test('send test to a failing receiver: both attempts logged, failed, the URL not in the error', async () => {
      const hook = await hookReceiver(always(500, 'boom at /f/pathsecret999'));
      const c = await create({ name: 'failing', kind: 'webhook', url: hook.url('/f/pathsecret999') });
      secrets.push(c.body.secret, 'pathsecret999');
      const r = await call(s, dev, 'POST', `${base()}/${c.body.channel.id}/test`);
      assert.equal(r.status, 200);
      assert.equal(r.body.ok, false);
      assert.equal(r.body.result, 'exhausted');
      assert.deepEqual(
        r.body.attempts.map((a: { status: number }) => a.status),
        [500, 500],
      );
      assert.match(r.body.error, /gave up after 2 attempts/);
      assert.ok(!JSON.stringify(r.body).includes('pathsecret999'));
      const d = await call(s, dev, 'GET', `${base()}/${c.body.channel.id}/deliveries`);
      assert.equal(d.body.deliveries[0].status, 'failed');
      assert.equal(d.body.deliveries[0].attempts.length, 2);
    });

    test('rotate the secret: shown once, and the old one still signs beside it for 24 h', async () => {
      const hook = await hookReceiver();
      const c = await create({ name: 'rotating', kind: 'webhook', url: hook.url('/rot/abcdefgh') });
      const old = c.body.secret as string;
      const r = await call(s, owner, 'POST', `${base()}/${c.body.channel.id}/rotate-secret`);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      const fresh = r.body.secret as string;
      secrets.push(old, fresh);
      assert.match(fresh, /^peep_whsec_/);
      assert.notEqual(fresh, old);
      const until = Date.parse(r.body.previousSecretUntil) - Date.now();
      assert.ok(until > 23.9 * 3600_000 && until <= 24 * 3600_000, String(until));
      const t = await call(s, dev, 'POST', `${base()}/${c.body.channel.id}/test`);
      assert.equal(t.body.ok, true);
      const hit = hook.hits[0];
      assert.ok(hit);
      const sig = hit.headers['x-peep-signature'] as string;
      assert.equal(sig.split(',').length, 2);
      for (const secret of [old, fresh])
        assert.ok(verifyWebhookSignature(secret, hit.headers['x-peep-timestamp'] as string, hit.raw, sig).ok);
      // Slack channels have no secret to rotate.
      const slack = (await call(s, owner, 'GET', base())).body.channels.find(
        (x: { kind: string }) => x.kind === 'slack',
      );
      const bad = await call(s, owner, 'POST', `${base()}/${slack.id}/rotate-secret`);
      assert.equal(bad.status, 400);
    });

    test('change a channel: new URL sealed and used, rename, disable; a duplicate name is refused', async () => {
      const first = await hookReceiver();
      const second = await hookReceiver();
      const c = await create({ name: 'moving', kind: 'webhook', url: first.url('/one/abcdefgh') });
      secrets.push(c.body.secret);
      const id = c.body.channel.id;
      const p = await call(s, owner, 'PATCH', `${base()}/${id}`, {
        url: second.url('/two/newpathsecret42'),
        name: 'moved',
        enabled: false,
        reminderMinutes: null,
      });
      secrets.push('newpathsecret42');
      assert.equal(p.status, 200, JSON.stringify(p.body));
      assert.equal(p.body.secret, undefined);
      assert.deepEqual(
        [p.body.channel.name, p.body.channel.enabled, p.body.channel.urlHint],
        ['moved', false, `http://127.0.0.1:${second.port}/two/ne…••••`],
      );
      assert.ok(Date.parse(p.body.channel.updatedAt) >= Date.parse(c.body.channel.updatedAt));
      const t = await call(s, dev, 'POST', `${base()}/${id}/test`);
      assert.equal(t.body.ok, true);
      assert.equal(first.hits.length, 0);
      assert.equal(second.hits.length, 1);
      // The secret did not change with the URL.
      const hit = second.hits[0];
      assert.ok(hit);
      assert.ok(
        verifyWebhookSignature(
          c.body.secret,
          hit.headers['x-peep-timestamp'] as string,
          hit.raw,
          hit.headers['x-peep-signature'] as string,
        ).ok,
      );
      const dup = await call(s, owner, 'PATCH', `${base()}/${id}`, { name: 'ops webhook' });
      assert.equal(dup.status, 409);
      assert.equal(dup.body.error.code, 'channel_exists');
      const badUrl = await call(s, owner, 'PATCH', `${base()}/${id}`, { url: 'notaurl' });
      assert.equal(badUrl.body.error.code, 'invalid_channel_url');
      const kind = await call(s, owner, 'PATCH', `${base()}/${id}`, { kind: 'slack' });
      assert.equal(kind.status, 400);
      const empty = await call(s, owner, 'PATCH', `${base()}/${id}`, {});
      assert.equal(empty.status, 400);
      // Slack to webhook: a secret is generated and shown once.
      const sl = await create({
        name: 'becomes webhook',
        kind: 'slack',
        url: 'https://hooks.slack.com/services/T1/B1/anotherslacktoken',
      });
      secrets.push('anotherslacktoken');
      const w = await call(s, owner, 'PATCH', `${base()}/${sl.body.channel.id}`, {
        kind: 'webhook',
        url: second.url('/w/abcdefgh'),
      });
      assert.equal(w.status, 200, JSON.stringify(w.body));
      assert.match(w.body.secret, /^peep_whsec_/);
      secrets.push(w.body.secret);
    });

    test('delivery log pages newest first without gaps or repeats', async () => {
      const hook = await hookReceiver();
      const c = await create({ name: 'paged', kind: 'webhook', url: hook.url('/p/abcdefgh') });
      secrets.push(c.body.secret);
      const id = c.body.channel.id;
      const sent: string[] = [];
      for (let i = 0; i < 5; i++)
        sent.push((await call(s, dev, 'POST', `${base()}/${id}/test`)).body.deliveryId);
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const q: string = cursor ? `?limit=2&cursor=${cursor}` : '?limit=2';
        const r = await call(s, dev, 'GET', `${base()}/${id}/deliveries${q}`);
        assert.equal(r.status, 200);
        assert.ok(r.body.deliveries.length <= 2);
        seen.push(...r.body.deliveries.map((d: { id: string }) => d.id));
        cursor = r.body.nextCursor;
      } while (cursor);
      assert.deepEqual(seen, [...sent].reverse());
      const bad = await call(s, dev, 'GET', `${base()}/${id}/deliveries?cursor=nonsense`);
      assert.equal(bad.status, 400);
      assert.equal(bad.body.error.code, 'invalid_cursor');
      const big = await call(s, dev, 'GET', `${base()}/${id}/deliveries?limit=1000`);
      assert.equal(big.status, 400);
    });

    test('delete: gone, with its deliveries', async () => {
      const c = await create({ name: 'doomed', kind: 'webhook', url: 'https://example.com/doomed' });
      secrets.push(c.body.secret);
      const id = c.body.channel.id;
      const d = await call(s, owner, 'DELETE', `${base()}/${id}`);
      assert.equal(d.status, 204);
      assert.equal((await call(s, owner, 'GET', `${base()}/${id}`)).status, 404);
      assert.equal((await call(s, owner, 'DELETE', `${base()}/${id}`)).status, 404);
    });

    test('no URL or secret in the server log, the audit log or any channel response', async () => {
      const audit = await s.db.query<Record<string, unknown>>('SELECT * FROM audit_log');
      const actions = new Set(audit.rows.map((r) => r.action));
      for (const a of [
        'channel.create',
        'channel.update',
        'channel.delete',
        'channel.rotate_secret',
        'channel.test',
      ])
        assert.ok(actions.has(a), a);
      const haystacks = {
        log: s.logs.join(''),
        audit: JSON.stringify(audit.rows),
        list: JSON.stringify((await call(s, owner, 'GET', base())).body),
      };
      assert.ok(haystacks.log.length > 1000, 'the log was captured');
      assert.ok(secrets.length >= 15);
      for (const [where, text] of Object.entries(haystacks))
        for (const secret of secrets)
          assert.ok(!text.includes(secret), `${where} contains ${secret.slice(0, 6)}…`);
    });
  });
}

for (const engine of testEngines()) {
  test(`PEEP_WEBHOOK_DENY (${engine}): a denied literal address is refused on save; a name resolving into a denied network is blocked at delivery, never contacted`, async () => {
    const s = await startServer(engine, undefined, { webhookDeny: 'loopback,link-local' });
    const hook = await startReceiver(always(200));
    try {
      const owner = await createOwner(s);
      const pid = (await createProjectWithKey(s, owner, { name: 'Deny' })).projectId;
      const create = (url: string) =>
        call(s, owner, 'POST', `/api/v1/projects/${pid}/channels`, {
          name: url.slice(0, 40),
          kind: 'webhook',
          url,
        });
      for (const url of [
        'http://169.254.169.254/latest/meta-data/',
        'http://[::1]:9/x',
        'http://127.0.0.1:9/x',
      ]) {
        const r = await create(url);
        assert.equal(r.status, 400, url);
        assert.equal(r.body.error.code, 'invalid_channel_url');
        assert.match(r.body.error.message, /PEEP_WEBHOOK_DENY: loopback, link-local/);
      }
      // A name is accepted (it may resolve elsewhere later), and checked on every delivery.
      const port = new URL(hook.url('/')).port;
      const c = await create(`http://localhost:${port}/hook`);
      assert.equal(c.status, 201, JSON.stringify(c.body));
      const t = await call(s, owner, 'POST', `/api/v1/projects/${pid}/channels/${c.body.channel.id}/test`);
      assert.equal(t.status, 200);
      assert.equal(t.body.ok, false);
      assert.deepEqual(
        t.body.attempts.map((a: { errorClass: string }) => a.errorClass),
        ['blocked'],
        'refused once, not retried',
      );
      assert.match(
        t.body.error,
        /^blocked: localhost resolves to an address in a network PEEP_WEBHOOK_DENY refuses/,
      );
      assert.equal(hook.hits.length, 0, 'the receiver was never contacted');
    } finally {
      await hook.close();
      await s.close();
    }
  });
}

test('without a master key (scaled out, PEEP_MASTER_KEY unset) channels answer 503 naming the variable', async () => {
  const keys = keyringFromConfig(
    {
      masterKey: '',
      masterKeyPrevious: [],
      databaseUrl: 'postgres://db.invalid/peep',
      dataDir: '/nonexistent',
    },
    createLogger({ level: 'silent' }),
  );
  const s = await startServer('pglite', keys);
  try {
    const owner = await createOwner(s);
    const { projectId } = await createProjectWithKey(s, owner, { name: 'Keyless' });
    const r = await call(s, owner, 'POST', `/api/v1/projects/${projectId}/channels`, {
      name: 'x',
      kind: 'webhook',
      url: 'https://example.com/hook',
    });
    assert.equal(r.status, 503, JSON.stringify(r.body));
    assert.equal(r.body.error.code, 'service_unavailable');
    assert.match(r.body.error.message, /PEEP_MASTER_KEY is required/);
    assert.equal((await call(s, owner, 'GET', `/api/v1/projects/${projectId}/channels`)).status, 200);
  } finally {
    await s.close();
  }
});
