/**
 * Identity and access over real HTTP against a running API, on PGlite and (when configured) PostgreSQL.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  call,
  createOwner,
  createUser,
  type SignedIn,
  startTestServer,
  type TestServer,
  testEngines,
} from './testing.js';

for (const engine of testEngines()) {
  describe(`identity and access (${engine})`, () => {
    let s: TestServer;
    let owner: SignedIn;
    before(async () => {
      s = await startTestServer({ engine });
    });
    after(() => s.close());

    test('owner setup: needs a valid one-time token, then reports done', async () => {
      assert.deepEqual((await call(s, null, 'GET', '/api/v1/setup')).body, { needsSetup: true });
      const bad = await call(s, null, 'POST', '/api/v1/setup', {
        token: 'nope',
        email: 'x@example.com',
        name: 'X',
        password: 'long enough password',
      });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.error.code, 'setup_token_invalid');
      const t = await s.api.auth.issueOwnerSetupToken();
      assert.ok(t);
      const weak = await call(s, null, 'POST', '/api/v1/setup', {
        token: t.token,
        email: 'o@example.com',
        name: 'O',
        password: 'short',
      });
      assert.equal(weak.body.error.code, 'weak_password');
      owner = await createOwner(s);
      assert.equal(owner.user.isAdmin, true);
      assert.deepEqual((await call(s, null, 'GET', '/api/v1/setup')).body, { needsSetup: false });
      assert.equal(await s.api.auth.issueOwnerSetupToken(), null, 'no setup link once an owner exists');
      // A link issued before the owner existed cannot create a second owner.
      const again = await call(s, null, 'POST', '/api/v1/setup', {
        token: t.token,
        email: 'o2@example.com',
        name: 'O',
        password: 'long enough password',
      });
      assert.equal(again.body.error.code, 'setup_token_invalid');
    });

    test('passwords are stored as argon2id hashes', async () => {
      const { rows } = await s.db.query<{ password_hash: string }>('SELECT password_hash FROM users');
      assert.ok(rows.length >= 1);
      for (const r of rows) assert.match(r.password_hash, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    });

    test('session cookies are HttpOnly and SameSite; writes need the CSRF header', async () => {
      const res = await fetch(`${s.url}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: owner.email, password: owner.password }),
      });
      assert.equal(res.status, 200);
      const cookies = res.headers.getSetCookie();
      const session = cookies.find((c) => c.startsWith('peep_session='));
      assert.ok(session);
      assert.match(session, /HttpOnly/i);
      assert.match(session, /SameSite=Lax/i);
      assert.doesNotMatch(cookies.find((c) => c.startsWith('peep_csrf=')) ?? '', /HttpOnly/i);
      const noCsrf = await fetch(`${s.url}/api/v1/projects`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', cookie: owner.cookie },
        body: JSON.stringify({ name: 'CSRF victim' }),
      });
      assert.equal(noCsrf.status, 403);
      assert.equal(((await noCsrf.json()) as { error: { code: string } }).error.code, 'csrf_token_invalid');
      const wrong = await call(s, { ...owner, csrfToken: 'forged' }, 'POST', '/api/v1/projects', {
        name: 'CSRF victim',
      });
      assert.equal(wrong.body.error.code, 'csrf_token_invalid');
    });

    test('wrong password is 401 invalid_credentials; sign-in is rate limited with Retry-After', async () => {
      const rl = await startTestServer({ engine, config: { authRateLimit: 3 } });
      try {
        await createOwner(rl);
        const codes: number[] = [];
        let retryAfter: string | null = null;
        for (let i = 0; i < 5; i++) {
          const r = await call(rl, null, 'POST', '/api/v1/auth/login', {
            email: 'owner@example.com',
            password: 'wrong password!!',
          });
          codes.push(r.status);
          if (r.status === 429) {
            assert.equal(r.body.error.code, 'rate_limited');
            retryAfter = r.headers.get('retry-after');
          } else assert.equal(r.body.error.code, 'invalid_credentials');
        }
        assert.deepEqual(codes, [401, 401, 401, 429, 429]);
        assert.ok(retryAfter && Number(retryAfter) > 0);
      } finally {
        await rl.close();
      }
    });

    test('logout ends the session', async () => {
      const r = await call(s, null, 'POST', '/api/v1/auth/login', {
        email: owner.email,
        password: owner.password,
      });
      const cookie = r.headers
        .getSetCookie()
        .map((c) => c.split(';')[0])
        .join('; ');
      const who = { ...owner, cookie, csrfToken: r.body.csrfToken };
      assert.equal((await call(s, who, 'GET', '/api/v1/me')).status, 200);
      assert.equal((await call(s, who, 'POST', '/api/v1/auth/logout')).status, 204);
      const after = await call(s, who, 'GET', '/api/v1/me');
      assert.equal(after.status, 401);
      assert.equal(after.body.error.code, 'unauthenticated');
    });

    test('personal tokens: shown once, stored hashed, scoped, revocable, with last-used time', async () => {
      const created = await call(s, owner, 'POST', '/api/v1/tokens', { name: 'ci', scopes: ['read'] });
      assert.equal(created.status, 201);
      const secret: string = created.body.secret;
      assert.match(secret, /^peep_pat_[A-Za-z0-9_-]{43}$/);
      const list = await call(s, owner, 'GET', '/api/v1/tokens');
      assert.equal(JSON.stringify(list.body).includes(secret), false, 'the secret is never listed');
      const { rows } = await s.db.query<{ token_hash: string }>(
        'SELECT token_hash FROM api_tokens WHERE id = $1',
        [created.body.token.id],
      );
      assert.match(rows[0]?.token_hash ?? '', /^[0-9a-f]{64}$/);
      assert.notEqual(rows[0]?.token_hash, secret);

      const me = await call(s, { token: secret }, 'GET', '/api/v1/me');
      assert.equal(me.status, 200);
      assert.deepEqual(me.body.auth, { kind: 'token', scopes: ['read'], tokenId: created.body.token.id });
      const listed = (await call(s, owner, 'GET', '/api/v1/tokens')).body.tokens.find(
        (t: { id: string }) => t.id === created.body.token.id,
      );
      assert.ok(listed.lastUsedAt, 'last-used time recorded');

      const write = await call(s, { token: secret }, 'POST', '/api/v1/projects', { name: 'nope' });
      assert.equal(write.status, 403);
      assert.equal(write.body.error.code, 'insufficient_scope');
      const admin = await call(s, { token: secret }, 'POST', '/api/v1/tokens', {
        name: 'x',
        scopes: ['admin'],
      });
      assert.equal(admin.status, 403);

      assert.equal((await call(s, owner, 'DELETE', `/api/v1/tokens/${created.body.token.id}`)).status, 204);
      const revoked = await call(s, { token: secret }, 'GET', '/api/v1/me');
      assert.equal(revoked.status, 401);
      assert.equal(revoked.body.error.code, 'token_revoked');
      const unknown = await call(s, { token: 'peep_pat_unknownunknownunknown' }, 'GET', '/api/v1/me');
      assert.equal(unknown.body.error.code, 'unauthenticated');
      const garbage = await fetch(`${s.url}/api/v1/me`, { headers: { authorization: 'Basic abc' } });
      assert.equal(garbage.status, 401);
    });

    test('projects get ordered dev, staging, prod; custom environments; slug conflicts are 409', async () => {
      const p = await call(s, owner, 'POST', '/api/v1/projects', { name: 'Shop Front' });
      assert.equal(p.status, 201);
      assert.equal(p.body.project.slug, 'shop-front');
      assert.equal(p.body.project.role, 'owner');
      assert.deepEqual(
        p.body.environments.map((e: { slug: string }) => e.slug),
        ['dev', 'staging', 'prod'],
      );
      const dup = await call(s, owner, 'POST', '/api/v1/projects', { name: 'Shop Front' });
      assert.equal(dup.body.project.slug, 'shop-front-2', 'a derived slug is made unique');
      const taken = await call(s, owner, 'POST', '/api/v1/projects', { name: 'Other', slug: 'shop-front' });
      assert.equal(taken.status, 409);
      assert.equal(taken.body.error.code, 'slug_taken');
      const custom = await call(s, owner, 'POST', '/api/v1/projects', {
        name: 'Custom',
        environments: ['qa', 'prod'],
      });
      assert.deepEqual(
        custom.body.environments.map((e: { slug: string }) => e.slug),
        ['qa', 'prod'],
      );
      const env = await call(s, owner, 'POST', `/api/v1/projects/${custom.body.project.id}/environments`, {
        slug: 'preview',
        position: 1,
      });
      assert.equal(env.status, 201);
      const envs = await call(s, owner, 'GET', `/api/v1/projects/${custom.body.project.id}/environments`);
      assert.deepEqual(
        envs.body.environments.map((e: { slug: string }) => e.slug),
        ['qa', 'preview', 'prod'],
      );
      const svc = await call(s, owner, 'POST', `/api/v1/projects/${custom.body.project.id}/services`, {
        name: 'Checkout API',
      });
      assert.equal(svc.body.service.slug, 'checkout-api');
    });

    test("another project's ids answer 404 without revealing they exist; a viewer's write is 403", async () => {
      const mallory = await createUser(s, owner, 'mallory@example.com');
      const viewer = await createUser(s, owner, 'vera@example.com');
      const dev = await createUser(s, owner, 'dev@example.com');
      const p = (await call(s, owner, 'POST', '/api/v1/projects', { name: 'Secret Project' })).body;
      const pid = p.project.id;
      const envId = p.environments[0].id;
      for (const [route, method] of [
        [`/api/v1/projects/${pid}`, 'GET'],
        [`/api/v1/projects/${pid}/members`, 'GET'],
        [`/api/v1/projects/${pid}/audit`, 'GET'],
        [`/api/v1/projects/${pid}/services`, 'POST'],
        [`/api/v1/projects/${pid}/environments/${envId}`, 'DELETE'],
        [`/api/v1/projects/00000000-0000-4000-8000-000000000000`, 'GET'],
      ] as const) {
        const r = await call(s, mallory, method, route, method === 'POST' ? { name: 'x' } : undefined);
        assert.equal(r.status, 404, `${method} ${route}`);
        assert.equal(r.body.error.code, 'project_not_found');
      }
      const mine = (await call(s, mallory, 'POST', '/api/v1/projects', { name: 'Mallory' })).body;
      const cross = await call(s, mallory, 'POST', `/api/v1/projects/${mine.project.id}/ingest-keys`, {
        name: 'k',
        environmentId: envId,
      });
      assert.equal(cross.status, 404);
      assert.equal(cross.body.error.code, 'environment_not_found');

      assert.equal(
        (
          await call(s, owner, 'POST', `/api/v1/projects/${pid}/members`, {
            email: viewer.email,
            role: 'viewer',
          })
        ).status,
        201,
      );
      assert.equal(
        (
          await call(s, owner, 'POST', `/api/v1/projects/${pid}/members`, {
            email: dev.email,
            role: 'developer',
          })
        ).status,
        201,
      );
      assert.equal((await call(s, viewer, 'GET', `/api/v1/projects/${pid}`)).status, 200);
      const vw = await call(s, viewer, 'POST', `/api/v1/projects/${pid}/services`, { name: 'web' });
      assert.equal(vw.status, 403);
      assert.equal(vw.body.error.code, 'forbidden');
      assert.equal(
        (await call(s, viewer, 'PATCH', `/api/v1/projects/${pid}`, { name: 'renamed' })).status,
        403,
      );
      assert.equal(
        (await call(s, dev, 'POST', `/api/v1/projects/${pid}/services`, { name: 'web' })).status,
        201,
      );
      assert.equal(
        (await call(s, dev, 'POST', `/api/v1/projects/${pid}/environments`, { slug: 'qa' })).status,
        403,
      );
      assert.equal((await call(s, dev, 'GET', `/api/v1/projects/${pid}/audit`)).status, 403);
      assert.equal((await call(s, dev, 'DELETE', `/api/v1/projects/${pid}`)).status, 403);
    });

    test('members: only owners grant owner; the last owner stays', async () => {
      const p = (await call(s, owner, 'POST', '/api/v1/projects', { name: 'Roles' })).body.project;
      const adam = await createUser(s, owner, 'adam@example.com');
      await call(s, owner, 'POST', `/api/v1/projects/${p.id}/members`, { email: adam.email, role: 'admin' });
      const grant = await call(s, adam, 'PATCH', `/api/v1/projects/${p.id}/members/${adam.user.id}`, {
        role: 'owner',
      });
      assert.equal(grant.status, 403);
      const demote = await call(s, owner, 'PATCH', `/api/v1/projects/${p.id}/members/${owner.user.id}`, {
        role: 'viewer',
      });
      assert.equal(demote.status, 409);
      assert.equal(demote.body.error.code, 'last_owner');
      const leave = await call(s, owner, 'DELETE', `/api/v1/projects/${p.id}/members/${owner.user.id}`);
      assert.equal(leave.body.error.code, 'last_owner');
      const dup = await call(s, owner, 'POST', `/api/v1/projects/${p.id}/members`, {
        email: adam.email,
        role: 'viewer',
      });
      assert.equal(dup.body.error.code, 'member_exists');
      const nobody = await call(s, owner, 'POST', `/api/v1/projects/${p.id}/members`, {
        email: 'ghost@example.com',
        role: 'viewer',
      });
      assert.equal(nobody.body.error.code, 'user_not_found');
      assert.equal(
        (await call(s, adam, 'DELETE', `/api/v1/projects/${p.id}/members/${adam.user.id}`)).status,
        204,
        'anyone may leave',
      );
      assert.equal((await call(s, adam, 'GET', `/api/v1/projects/${p.id}`)).status, 404);
    });

    test('ingest keys are scoped to an environment, shown once, revocable', async () => {
      const p = (await call(s, owner, 'POST', '/api/v1/projects', { name: 'Keys' })).body;
      const k = await call(s, owner, 'POST', `/api/v1/projects/${p.project.id}/ingest-keys`, {
        name: 'sdk',
        environmentId: p.environments[2].id,
      });
      assert.equal(k.status, 201);
      assert.match(k.body.secret, /^peep_ik_/);
      assert.equal(k.body.ingestKey.environmentId, p.environments[2].id);
      const list = await call(s, owner, 'GET', `/api/v1/projects/${p.project.id}/ingest-keys`);
      assert.equal(JSON.stringify(list.body).includes(k.body.secret), false);
      assert.equal(
        (
          await call(
            s,
            owner,
            'DELETE',
            `/api/v1/projects/${p.project.id}/ingest-keys/${k.body.ingestKey.id}`,
          )
        ).status,
        204,
      );
      const after = await call(s, owner, 'GET', `/api/v1/projects/${p.project.id}/ingest-keys`);
      assert.ok(after.body.ingestKeys[0].revokedAt);
    });

    test('audit log: every mutation and sign-in, success or failure, filterable, paged, no secrets, append-only', async () => {
      const p = (await call(s, owner, 'POST', '/api/v1/projects', { name: 'Audited' })).body.project;
      await call(s, owner, 'POST', `/api/v1/projects/${p.id}/services`, { name: 'api' });
      await call(s, owner, 'POST', `/api/v1/projects/${p.id}/services`, { name: 'api' }); // 409
      for (let i = 0; i < 4; i++)
        await call(s, owner, 'POST', `/api/v1/projects/${p.id}/services`, { name: `svc ${i}` });
      const res = await fetch(`${s.url}/api/v1/projects/${p.id}/audit?action=service.*&limit=2`, {
        headers: { cookie: owner.cookie, 'x-request-id': 'audit-test-1' },
      });
      const page1 = (await res.json()) as {
        entries: { action: string; outcome: string; status: number; actorEmail: string; ip: string }[];
        nextCursor: string;
      };
      assert.equal(res.headers.get('x-request-id'), 'audit-test-1');
      assert.equal(page1.entries.length, 2);
      assert.ok(page1.nextCursor);
      const all: { outcome: string; status: number }[] = [...page1.entries];
      let cursor: string | null = page1.nextCursor;
      while (cursor) {
        const r = await call(
          s,
          owner,
          'GET',
          `/api/v1/projects/${p.id}/audit?action=service.*&limit=2&cursor=${cursor}`,
        );
        all.push(...r.body.entries);
        cursor = r.body.nextCursor;
      }
      assert.equal(all.length, 6);
      assert.equal(all.filter((e) => e.outcome === 'failure' && e.status === 409).length, 1);
      assert.equal(page1.entries[0]?.actorEmail, owner.email);
      assert.equal(page1.entries[0]?.ip, '127.0.0.1');
      const bad = await call(s, owner, 'GET', `/api/v1/projects/${p.id}/audit?cursor=!!`);
      assert.equal(bad.body.error.code, 'invalid_cursor');

      await call(s, null, 'POST', '/api/v1/auth/login', {
        email: owner.email,
        password: 'definitely wrong pw',
      });
      const inst = await call(s, owner, 'GET', '/api/v1/audit?action=auth.login&outcome=failure');
      assert.equal(inst.status, 200);
      assert.ok(inst.body.entries.some((e: { actorEmail: string }) => e.actorEmail === owner.email));

      const dump = JSON.stringify((await s.db.query('SELECT * FROM audit_log')).rows);
      assert.equal(dump.includes(owner.password), false);
      assert.equal(dump.includes('definitely wrong pw'), false);
      await assert.rejects(s.db.query(`UPDATE audit_log SET action = 'x'`), /append-only/);
      await assert.rejects(s.db.query('DELETE FROM audit_log'), /append-only/);
      const nonAdmin = await createUser(s, owner, 'plain@example.com');
      assert.equal(
        (await call(s, nonAdmin, 'GET', '/api/v1/audit')).body.error.code,
        'instance_admin_required',
      );
    });

    test('bad input gets a 4xx with a documented code and the server stays up', async () => {
      const send = async (body: string | Buffer, type = 'application/json') => {
        const r = await fetch(`${s.url}/api/v1/projects`, {
          method: 'POST',
          headers: { 'content-type': type, cookie: owner.cookie, 'x-csrf-token': owner.csrfToken },
          body,
        });
        return {
          status: r.status,
          body: (await r.json()) as { error: { code: string; requestId: string; details?: unknown } },
        };
      };
      const malformed = await send('{"name": ');
      assert.deepEqual([malformed.status, malformed.body.error.code], [400, 'invalid_json']);
      assert.ok(malformed.body.error.requestId);
      const wrongType = await send(JSON.stringify({ name: 42 }));
      assert.deepEqual([wrongType.status, wrongType.body.error.code], [400, 'validation_failed']);
      const unknownField = await send(JSON.stringify({ name: 'x', admin: true }));
      assert.deepEqual([unknownField.status, unknownField.body.error.code], [400, 'validation_failed']);
      assert.deepEqual((unknownField.body.error.details as { field: string }[])[0]?.field, 'admin');
      const proto = await send('{"name":"x","__proto__":{"isAdmin":true}}');
      assert.equal(proto.status, 400);
      const big = await send(JSON.stringify({ name: 'x'.repeat(s.config.bodyLimit + 10) }));
      assert.deepEqual([big.status, big.body.error.code], [413, 'payload_too_large']);
      const text = await send('name=x', 'text/plain');
      assert.deepEqual([text.status, text.body.error.code], [415, 'unsupported_media_type']);
      const badId = await call(s, owner, 'GET', '/api/v1/projects/not-a-uuid');
      assert.deepEqual([badId.status, badId.body.error.code], [400, 'validation_failed']);
      const noRoute = await call(s, owner, 'GET', '/api/v1/nope');
      assert.deepEqual([noRoute.status, noRoute.body.error.code], [404, 'route_not_found']);
      const badQuery = await call(s, owner, 'GET', '/api/v1/audit?limit=abc');
      assert.equal(badQuery.status, 400);
      assert.equal((await fetch(`${s.url}/health`)).status, 200, 'still up');
      // Refused writes are audited with who sent them, even when the body never parsed.
      const audit = await call(s, owner, 'GET', '/api/v1/audit?action=project.create&outcome=failure');
      const statuses = audit.body.entries
        .filter((e: { actorEmail: string }) => e.actorEmail === owner.email)
        .map((e: { status: number }) => e.status);
      for (const code of [400, 413, 415])
        assert.ok(statuses.includes(code), `no audited ${code} in ${statuses}`);
    });

    test('health, readiness, request ids, security headers, closed CORS, OpenAPI', async () => {
      assert.deepEqual(await (await fetch(`${s.url}/health`)).json(), { status: 'ok' });
      assert.equal((await fetch(`${s.url}/ready`)).status, 200);
      const echoed = await fetch(`${s.url}/api/v1/setup`, { headers: { 'x-request-id': 'abc-123' } });
      assert.equal(echoed.headers.get('x-request-id'), 'abc-123');
      const generated = await fetch(`${s.url}/api/v1/setup`, {
        headers: { 'x-request-id': 'bad id with spaces' },
      });
      assert.match(generated.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
      assert.equal(generated.headers.get('x-content-type-options'), 'nosniff');
      assert.ok(generated.headers.get('content-security-policy'));
      const cors = await fetch(`${s.url}/api/v1/projects`, { headers: { origin: 'https://evil.example' } });
      assert.equal(cors.headers.get('access-control-allow-origin'), null);
      const doc = (await (await fetch(`${s.url}/api/openapi.json`)).json()) as {
        openapi: string;
        paths: Record<string, unknown>;
      };
      assert.match(doc.openapi, /^3\./);
      for (const p of [
        '/api/v1/projects',
        '/api/v1/projects/{projectId}/members',
        '/api/v1/tokens',
        '/api/v1/oauth/token',
      ])
        assert.ok(doc.paths[p], p);
    });
  });
}
