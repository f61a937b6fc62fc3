/**
 * RFC 8628 device login against the running API, driven by standard client libraries
 * (openid-client and oauth4webapi), plus the error cases the RFC names.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { USER_CODE_ALPHABET } from '@peep/pkg';
import * as oauth from 'oauth4webapi';
import * as client from 'openid-client';
import {
  call,
  createOwner,
  createUser,
  type SignedIn,
  startTestServer,
  type TestServer,
  testEngines,
} from '../testing.js';

const GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

for (const engine of testEngines()) {
  describe(`device authorization grant (${engine})`, () => {
    let s: TestServer;
    let owner: SignedIn;
    let as: oauth.AuthorizationServer;
    const cli: oauth.Client = { client_id: 'peep-cli' };
    const insecure = { [oauth.allowInsecureRequests]: true } as const;

    before(async () => {
      s = await startTestServer({ engine, config: { devicePollInterval: 1 } });
      owner = await createOwner(s);
      const issuer = new URL(s.url);
      as = await oauth.processDiscoveryResponse(
        issuer,
        await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...insecure }),
      );
    });
    after(() => s.close());

    const start = async (scope = 'read write') =>
      oauth.processDeviceAuthorizationResponse(
        as,
        cli,
        await oauth.deviceAuthorizationRequest(as, cli, oauth.None(), { scope }, insecure),
      );
    const poll = async (deviceCode: string) => {
      try {
        return await oauth.processDeviceCodeResponse(
          as,
          cli,
          await oauth.deviceCodeGrantRequest(as, cli, oauth.None(), deviceCode, insecure),
        );
      } catch (e) {
        if (e instanceof oauth.ResponseBodyError) return { error: e.error, status: e.status };
        throw e;
      }
    };
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

    test('metadata advertises the endpoints and the grant type (RFC 8414)', () => {
      assert.equal(as.issuer, s.url);
      assert.equal(as.device_authorization_endpoint, `${s.url}/api/v1/oauth/device_authorization`);
      assert.equal(as.token_endpoint, `${s.url}/api/v1/oauth/token`);
      assert.deepEqual(as.grant_types_supported, [GRANT]);
    });

    test('openid-client logs in end to end: pending until approved in the dashboard, then a working token', async () => {
      const config = await client.discovery(new URL(s.url), 'peep-cli', undefined, client.None(), {
        algorithm: 'oauth2',
        execute: [client.allowInsecureRequests],
      });
      const da = await client.initiateDeviceAuthorization(config, { scope: 'read write' });
      assert.match(da.user_code, new RegExp(`^[${USER_CODE_ALPHABET}]{4}-[${USER_CODE_ALPHABET}]{4}$`));
      assert.equal(da.verification_uri, `${s.url}/device`);
      assert.equal(da.verification_uri_complete, `${s.url}/device?user_code=${da.user_code}`);
      assert.equal(da.interval, 1);
      const polling = client.pollDeviceAuthorizationGrant(config, da);
      await sleep(1500);
      // The user types the code their way: lower case, no dash, spaces.
      const typed = da.user_code.toLowerCase().replace('-', ' ');
      const info = await call(s, owner, 'GET', `/api/v1/device/${encodeURIComponent(typed)}`);
      assert.equal(info.status, 200);
      assert.equal(info.body.clientName, 'peep CLI');
      assert.deepEqual(info.body.scopes, ['read', 'write']);
      assert.equal(
        (await call(s, owner, 'POST', `/api/v1/device/${da.user_code.replace('-', '')}/approve`)).status,
        200,
      );
      const tokens = await polling;
      assert.match(tokens.access_token, /^peep_cli_/);
      assert.equal(tokens.token_type.toLowerCase(), 'bearer');
      const me = await call(s, { token: tokens.access_token }, 'GET', '/api/v1/me');
      assert.equal(me.body.user.email, owner.email);
      assert.deepEqual(me.body.auth.scopes, ['read', 'write']);
      // The code is single-use.
      assert.equal(
        (await call(s, owner, 'GET', `/api/v1/device/${da.user_code}`)).body.error.code,
        'device_code_not_found',
      );
      const audit = await call(s, owner, 'GET', '/api/v1/audit?action=device.approve');
      assert.equal(audit.body.entries.length, 1);
    });

    test('authorization_pending, then slow_down when polling faster than the interval', async () => {
      const da = await start();
      assert.deepEqual(await poll(da.device_code), { error: 'authorization_pending', status: 400 });
      const fast = await poll(da.device_code);
      assert.deepEqual(fast, { error: 'slow_down', status: 400 });
      const { rows } = await s.db.query<{ interval_seconds: number }>(
        'SELECT interval_seconds FROM device_codes WHERE user_code = $1',
        [da.user_code],
      );
      assert.equal(rows[0]?.interval_seconds, 6, 'slow_down adds 5 seconds to the interval');
    });

    test('access_denied after the user denies', async () => {
      const da = await start();
      assert.equal((await call(s, owner, 'POST', `/api/v1/device/${da.user_code}/deny`)).status, 200);
      assert.deepEqual(await poll(da.device_code), { error: 'access_denied', status: 400 });
      const again = await call(s, owner, 'POST', `/api/v1/device/${da.user_code}/approve`);
      assert.equal(again.body.error.code, 'device_code_already_decided');
    });

    test('expired_token after the code expires; the dashboard says expired', async () => {
      const da = await start();
      await s.db.query(
        `UPDATE device_codes SET expires_at = now() - interval '1 second' WHERE user_code = $1`,
        [da.user_code],
      );
      assert.deepEqual(await poll(da.device_code), { error: 'expired_token', status: 400 });
      const page = await call(s, owner, 'GET', `/api/v1/device/${da.user_code}`);
      assert.deepEqual([page.status, page.body.error.code], [410, 'device_code_expired']);
    });

    test('invalid_grant for an unknown device code; other RFC errors', async () => {
      assert.deepEqual(await poll('not-a-real-device-code'), { error: 'invalid_grant', status: 400 });
      const form = (body: Record<string, string>, path = '/api/v1/oauth/token') =>
        fetch(`${s.url}${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams(body),
        }).then(async (r) => ({
          status: r.status,
          body: (await r.json()) as { error: string },
          cache: r.headers.get('cache-control'),
        }));
      const wrongGrant = await form({ grant_type: 'password', client_id: 'peep-cli' });
      assert.deepEqual(
        [wrongGrant.status, wrongGrant.body.error, wrongGrant.cache],
        [400, 'unsupported_grant_type', 'no-store'],
      );
      assert.equal((await form({ grant_type: GRANT, client_id: 'peep-cli' })).body.error, 'invalid_request');
      assert.equal(
        (await form({ client_id: 'evil' }, '/api/v1/oauth/device_authorization')).body.error,
        'invalid_client',
      );
      assert.equal(
        (await form({ client_id: 'peep-cli', scope: 'read root' }, '/api/v1/oauth/device_authorization')).body
          .error,
        'invalid_scope',
      );
      const json = await fetch(`${s.url}/api/v1/oauth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
      assert.equal(json.status, 400);
    });

    test('user codes: 8 letters from the RFC alphabet, entry ignores case, dashes and spaces; approval needs a session', async () => {
      const codes = await Promise.all(Array.from({ length: 20 }, () => start()));
      for (const c of codes)
        assert.match(c.user_code, /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/);
      const c = codes[0];
      assert.ok(c);
      const variants = [
        c.user_code,
        c.user_code.toLowerCase(),
        c.user_code.replace('-', ''),
        ` ${c.user_code.slice(0, 4)} ${c.user_code.slice(5)} `,
      ];
      for (const v of variants)
        assert.equal((await call(s, owner, 'GET', `/api/v1/device/${encodeURIComponent(v)}`)).status, 200, v);
      assert.equal(
        (await call(s, owner, 'GET', '/api/v1/device/AAAA-AAAA')).body.error.code,
        'device_code_not_found',
      );
      const pat = (await call(s, owner, 'POST', '/api/v1/tokens', { name: 'p', scopes: ['read', 'write'] }))
        .body.secret;
      const byToken = await call(s, { token: pat }, 'POST', `/api/v1/device/${c.user_code}/approve`);
      assert.equal(byToken.status, 403, 'a token cannot approve a device login');
    });

    test('the admin scope is granted to instance admins only', async () => {
      const approveAndPoll = async (who: SignedIn) => {
        const da = await start('read write admin');
        await call(s, who, 'POST', `/api/v1/device/${da.user_code}/approve`);
        await sleep(1100);
        return (await poll(da.device_code)) as { scope?: string; access_token?: string };
      };
      const forOwner = await approveAndPoll(owner);
      assert.equal(forOwner.scope, 'read write admin');
      assert.equal(
        (await call(s, { token: forOwner.access_token ?? '' }, 'GET', '/api/v1/audit')).status,
        200,
      );
      const plain = await createUser(s, owner, 'plain-device@example.com');
      const forPlain = await approveAndPoll(plain);
      assert.equal(forPlain.scope, 'read write');
    });

    test('code entry is rate limited', async () => {
      const rl = await startTestServer({ engine, config: { authRateLimit: 3 } });
      try {
        const o = await createOwner(rl);
        const statuses: number[] = [];
        for (let i = 0; i < 5; i++)
          statuses.push((await call(rl, o, 'GET', '/api/v1/device/BCDF-GHJK')).status);
        assert.deepEqual(statuses, [404, 404, 404, 429, 429]);
      } finally {
        await rl.close();
      }
    });
  });
}
