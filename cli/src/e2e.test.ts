/**
 * The real `peep` process against a real API server (in this process, on each test engine): device
 * login approved or denied over HTTP as the owner would in the dashboard, then the commands a user runs.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, test } from 'node:test';
import {
  call,
  createOwner,
  createUser,
  type SignedIn,
  startTestServer,
  type TestServer,
  testEngines,
} from '@peep/api/testing';
import { credentialsPath } from './credentials.js';
import { peep, startPeep, tempHome, USER_CODE } from './testkit.js';

for (const engine of testEngines()) {
  describe(`peep CLI end to end (${engine})`, { timeout: 180_000 }, () => {
    let s: TestServer;
    let owner: SignedIn;
    const h = tempHome();
    /** Env of a terminal session of the owner's, logged in by the first test. */
    const env = { ...h.env, PEEP_FORCE_TTY: '1' };

    before(async () => {
      s = await startTestServer({ engine, config: { devicePollInterval: 1 } });
      owner = await createOwner(s, { email: 'olive@example.com' });
    });
    after(async () => {
      await s?.close();
      h.cleanup();
    });

    /** `peep login` until it shows a code; then the owner decides it with `decision`. */
    async function deviceLogin(decision: 'approve' | 'deny', loginEnv: Record<string, string>) {
      const login = startPeep(['login', '--server', s.url], loginEnv);
      const code = await login.waitFor(USER_CODE);
      const res = await call(s, owner, 'POST', `/api/v1/device/${code}/${decision}`);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const exit = await login.exit(20_000);
      return { code, exit, stdout: login.stdout(), stderr: login.stderr() };
    }

    test('login by device code: shows the page and code, exits 0 once approved, stores a 0600 token', async () => {
      const r = await deviceLogin('approve', env);
      assert.equal(r.exit, 0, r.stdout + r.stderr);
      assert.ok(r.stdout.includes(`${s.url}/device`), 'prints the verification URL');
      assert.match(r.stdout, new RegExp(`^  ${r.code}$`, 'm'), 'prints the code on its own line');
      assert.match(r.stdout, /Logged in to .* as olive@example\.com/);
      const file = credentialsPath(h.env);
      assert.equal(fs.statSync(file).mode & 0o777, 0o600);
      const stored = JSON.parse(fs.readFileSync(file, 'utf8'));
      assert.equal(stored.current, s.url);
      assert.match(stored.servers[s.url].token, /^peep_cli_/);
    });

    test("whoami --json prints the owner's email, using the stored server without --server", async () => {
      const r = await peep(['whoami', '--json'], env);
      assert.equal(r.code, 0, r.stderr);
      const body = JSON.parse(r.stdout);
      assert.equal(body.user.email, 'olive@example.com');
      assert.equal(body.server, s.url);
      assert.deepEqual(body.auth.scopes, ['read', 'write']);
    });

    test('projects create, then projects ls --json and projects show by slug', async () => {
      const c = await peep(['projects', 'create', 'Store Front', '--slug', 'shop'], env);
      assert.equal(c.code, 0, c.stderr);
      assert.match(c.stdout, /Created project Store Front \(shop, [0-9a-f-]{36}\)/);
      const ls = await peep(['projects', 'ls', '--json'], env);
      assert.equal(ls.code, 0, ls.stderr);
      const { projects } = JSON.parse(ls.stdout);
      assert.deepEqual(
        projects.map((p: { slug: string; role: string }) => [p.slug, p.role]),
        [['shop', 'owner']],
      );
      const show = await peep(['projects', 'show', 'shop', '--json'], env);
      assert.equal(show.code, 0, show.stderr);
      const detail = JSON.parse(show.stdout);
      assert.deepEqual(
        detail.environments.map((e: { slug: string }) => e.slug),
        ['dev', 'staging', 'prod'],
      );
      const table = await peep(['projects', 'ls'], env);
      assert.match(table.stdout, /^SLUG +NAME +ROLE +CREATED +ID$/m);
      assert.match(table.stdout, /^shop +Store Front +owner /m);
    });

    test('a second project with the same slug exits 6 with the API error line', async () => {
      const r = await peep(['projects', 'create', 'Other', '--slug', 'shop'], env);
      assert.equal(r.code, 6, r.stderr);
      assert.match(r.stderr, /^error: .+ \(slug_taken, request [\w-]+\)$/m);
    });

    test('an unknown project exits 4, by slug and by id', async () => {
      const bySlug = await peep(['projects', 'show', 'no-such-project'], env);
      assert.equal(bySlug.code, 4, bySlug.stderr);
      assert.match(bySlug.stderr, /no project "no-such-project"/);
      const byId = await peep(
        ['members', 'ls', '--project', '00000000-0000-4000-8000-000000000000', '--json'],
        env,
      );
      assert.equal(byId.code, 4);
      assert.equal(JSON.parse(byId.stderr).error.code, 'project_not_found');
    });

    test('members add, set-role and rm by email; a viewer is refused with exit 5', async () => {
      const bob = await createUser(s, owner, 'bob@example.com');
      const add = await peep(
        ['members', 'add', 'bob@example.com', '--role', 'viewer', '--project', 'shop'],
        env,
      );
      assert.equal(add.code, 0, add.stderr);
      const ls = JSON.parse((await peep(['members', 'ls', '--project', 'shop', '--json'], env)).stdout);
      assert.deepEqual(ls.members.map((m: { email: string; role: string }) => [m.email, m.role]).sort(), [
        ['bob@example.com', 'viewer'],
        ['olive@example.com', 'owner'],
      ]);

      // Bob, with his own token, may read but not manage members.
      const bobToken = await call(s, bob, 'POST', '/api/v1/tokens', {
        name: 'bob',
        scopes: ['read', 'write'],
      });
      assert.equal(bobToken.status, 201);
      const bobEnv = { ...h.env, PEEP_TOKEN: bobToken.body.secret as string, PEEP_SERVER: s.url };
      const denied = await peep(
        ['members', 'add', 'olive@example.com', '--role', 'viewer', '--project', 'shop'],
        bobEnv,
      );
      assert.equal(denied.code, 5, denied.stderr);
      assert.match(denied.stderr, /\(forbidden, request /);

      const set = await peep(
        ['members', 'set-role', 'BOB@example.com', '--role', 'developer', '--project', 'shop'],
        env,
      );
      assert.equal(set.code, 0, set.stderr);
      assert.match(set.stdout, /bob@example\.com is now developer in shop \(was viewer\)/);
      const rm = await peep(['members', 'rm', 'bob@example.com', '--project', 'shop'], env);
      assert.equal(rm.code, 0, rm.stderr);
      const again = await peep(['members', 'rm', 'bob@example.com', '--project', 'shop'], env);
      assert.equal(again.code, 4, 'no longer a member');
    });

    test('tokens create prints the secret once; after tokens revoke that token exits 3', async () => {
      const c = await peep(
        ['tokens', 'create', 'ci deploys', '--scopes', 'read', '--expires-in-days', '7', '--json'],
        env,
      );
      assert.equal(c.code, 0, c.stderr);
      const created = JSON.parse(c.stdout);
      assert.match(created.secret, /^peep_pat_/);
      assert.deepEqual(created.token.scopes, ['read']);
      const human = await peep(['tokens', 'create', 'other'], env);
      assert.match(human.stderr, /shown once/);

      const asCi = { ...h.env, PEEP_TOKEN: created.secret, PEEP_SERVER: s.url };
      const before = await peep(['whoami', '--json'], asCi);
      assert.equal(before.code, 0, before.stderr);
      assert.equal(JSON.parse(before.stdout).auth.tokenId, created.token.id);
      const write = await peep(['projects', 'create', 'nope'], asCi);
      assert.equal(write.code, 5, 'a read-only token cannot write');

      const rv = await peep(['tokens', 'revoke', created.token.id], env);
      assert.equal(rv.code, 0, rv.stderr);
      const afterRevoke = await peep(['projects', 'ls'], asCi);
      assert.equal(afterRevoke.code, 3, afterRevoke.stderr);
      assert.match(afterRevoke.stderr, /\(token_revoked, request /);
      assert.match(afterRevoke.stderr, /hint: the token in PEEP_TOKEN was refused/);
      const ls = JSON.parse((await peep(['tokens', 'ls', '--json'], env)).stdout);
      const row = ls.tokens.find((t: { id: string }) => t.id === created.token.id);
      assert.ok(row.revokedAt, 'listed as revoked');
    });

    test('audit --project shows the project writes, filtered by action and outcome', async () => {
      const r = await peep(['audit', '--project', 'shop', '--action', 'member.*', '--json'], env);
      assert.equal(r.code, 0, r.stderr);
      const actions = JSON.parse(r.stdout).entries.map((e: { action: string }) => e.action);
      assert.ok(actions.length >= 3, JSON.stringify(actions));
      assert.ok(
        actions.every((a: string) => a.startsWith('member.')),
        JSON.stringify(actions),
      );
      const failures = JSON.parse(
        (await peep(['audit', '--project', 'shop', '--outcome', 'failure', '--limit', '1', '--json'], env))
          .stdout,
      );
      assert.equal(failures.entries.length, 1);
      assert.equal(failures.entries[0].outcome, 'failure');
      const table = await peep(['audit', '--project', 'shop', '--since', '2000-01-01'], env);
      assert.match(table.stdout, /^TIME \(UTC\) +ACTOR +ACTION/m);
      assert.match(table.stdout, /olive@example\.com +project\.create/);
    });

    test('login without a terminal exits 2 and says to use --token or PEEP_TOKEN', async () => {
      const r = await peep(['login', '--server', s.url], h.env);
      assert.equal(r.code, 2, r.stdout + r.stderr);
      assert.match(r.stderr, /needs an interactive terminal.*--token TOKEN.*PEEP_TOKEN/);
      assert.equal(USER_CODE.test(r.stdout), false, 'no device code was requested');
    });

    test('a denied login exits 3 and stores nothing', async () => {
      const other = tempHome();
      try {
        const r = await deviceLogin('deny', { ...other.env, PEEP_FORCE_TTY: '1' });
        assert.equal(r.exit, 3, r.stdout + r.stderr);
        assert.match(r.stderr, /denied/);
        assert.equal(fs.existsSync(credentialsPath(other.env)), false);
      } finally {
        other.cleanup();
      }
    });

    test('login --token stores a personal token (CI); a bad one exits 3', async () => {
      const ci = tempHome();
      try {
        const pat = await call(s, owner, 'POST', '/api/v1/tokens', { name: 'ci', scopes: ['read'] });
        const r = await peep(['login', '--server', s.url, '--token', pat.body.secret], ci.env);
        assert.equal(r.code, 0, r.stderr);
        const who = await peep(['whoami', '--json'], ci.env);
        assert.equal(JSON.parse(who.stdout).user.email, 'olive@example.com');
        const bad = await peep(['login', '--server', s.url, '--token', 'peep_pat_wrong'], ci.env);
        assert.equal(bad.code, 3);
      } finally {
        ci.cleanup();
      }
    });

    test('logout revokes the CLI token on the server and forgets it', async () => {
      const stored = JSON.parse(fs.readFileSync(credentialsPath(h.env), 'utf8')).servers[s.url];
      const r = await peep(['logout'], env);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /Logged out of .* \(token revoked\)/);
      const tokens = await call(s, owner, 'GET', '/api/v1/tokens');
      const row = tokens.body.tokens.find((t: { id: string }) => t.id === stored.tokenId);
      assert.equal(row?.kind, 'cli');
      assert.ok(row?.revokedAt, 'revoked server-side');
      const me = await call(s, { token: stored.token }, 'GET', '/api/v1/me');
      assert.equal(me.status, 401);
      const who = await peep(['whoami', '--server', s.url], env);
      assert.equal(who.code, 3);
    });
  });
}
