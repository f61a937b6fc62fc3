/** The `peep` process without a server: usage errors, help speed, unreachable servers, missing logins. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import net from 'node:net';
import { after, describe, test } from 'node:test';
import { BIN, peep, tempHome } from './testkit.js';

async function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      srv.close(() => (typeof a === 'object' && a ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

describe('peep without a server', () => {
  const h = tempHome();
  after(() => h.cleanup());

  test('--help lists every command, the environment variables and the exit codes', async () => {
    const r = await peep(['--help'], h.env);
    assert.equal(r.code, 0);
    for (const cmd of [
      'up',
      'serve',
      'builder',
      'migrate',
      'login',
      'logout',
      'whoami',
      'projects',
      'members',
      'tokens',
      'audit',
    ])
      assert.match(r.stdout, new RegExp(`^  ${cmd}\\b`, 'm'), cmd);
    for (const v of ['PEEP_SERVER', 'PEEP_TOKEN', 'XDG_CONFIG_HOME', 'NO_COLOR'])
      assert.ok(r.stdout.includes(v), v);
    for (const line of [
      '2  usage error',
      '3  not authenticated',
      '4  not found',
      '5  permission denied',
      '6  conflict',
      '7  server unreachable',
    ])
      assert.ok(r.stdout.includes(line), line);
  });

  test('peep --help answers in under 300 ms (median of 5 runs)', (t) => {
    spawnSync(process.execPath, [BIN, '--help']); // warm the file cache
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      const r = spawnSync(process.execPath, [BIN, '--help'], { encoding: 'utf8' });
      times.push(performance.now() - t0);
      assert.equal(r.status, 0);
    }
    times.sort((a, b) => a - b);
    const median = times[2] ?? Number.POSITIVE_INFINITY;
    const msg = `peep --help: median ${median.toFixed(0)} ms (runs: ${times.map((x) => x.toFixed(0)).join(', ')} ms)`;
    t.diagnostic(msg);
    console.log(`# ${msg}`);
    assert.ok(median < 300, msg);
  });

  const usage: [string, string[], RegExp][] = [
    ['an unknown command', ['frobnicate'], /unknown command 'frobnicate'/],
    ['an unknown option', ['projects', 'ls', '--bogus'], /unknown option '--bogus'/],
    ['a missing subcommand', ['tokens'], /Usage: peep tokens/],
    ['a missing argument', ['projects', 'create'], /missing required argument 'name'/],
    ['members without --project', ['members', 'ls'], /required option '--project <project>'/],
    [
      'an unknown role',
      ['members', 'add', 'a@b.c', '--project', 'p', '--role', 'boss'],
      /Allowed choices are owner, admin, developer, viewer/,
    ],
    ['an unknown scope', ['tokens', 'create', 'ci', '--scopes', 'read,root'], /unknown scope "root"/],
    ['a zero expiry', ['tokens', 'create', 'ci', '--expires-in-days', '0'], /from 1 to 3650/],
    ['a limit over 500', ['audit', '--limit', '501'], /from 1 to 500/],
    ['a date that is not ISO 8601', ['audit', '--since', 'yesterday'], /ISO 8601/],
    ['an outcome that does not exist', ['audit', '--outcome', 'maybe'], /success, failure/],
    [
      'a server URL that is not http(s)',
      ['whoami', '--server', 'ftp://example.com'],
      /use http:\/\/ or https:\/\//,
    ],
  ];
  for (const [what, args, message] of usage) {
    test(`exit 2 for ${what}`, async () => {
      const r = await peep(args, h.env);
      assert.equal(r.code, 2, r.stdout + r.stderr);
      assert.match(r.stderr, message);
      assert.equal(r.stdout.includes('error'), false, 'errors go to stderr');
    });
  }

  test('with --json a usage error is one JSON document on stderr and stdout is empty', async () => {
    const r = await peep(['tokens', 'create', 'ci', '--scopes', 'nope', '--json'], h.env);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    const body = JSON.parse(r.stderr);
    assert.equal(body.error.code, 'usage');
    assert.equal(body.error.exitCode, 2);
    assert.match(body.error.message, /unknown scope "nope"/);
  });

  test('exit 3 with a hint to log in when there is no token for the server', async () => {
    const r = await peep(['projects', 'ls', '--server', 'http://127.0.0.1:9'], h.env);
    assert.equal(r.code, 3, r.stderr);
    assert.match(
      r.stderr,
      /^error: not logged in to http:\/\/127\.0\.0\.1:9\nhint: run `peep login --server http:\/\/127\.0\.0\.1:9`/,
    );
  });

  test('exit 7 naming the server when nothing listens there', async () => {
    const port = await closedPort();
    const r = await peep(['whoami', '--server', `http://127.0.0.1:${port}`], {
      ...h.env,
      PEEP_TOKEN: 'peep_pat_x',
    });
    assert.equal(r.code, 7, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(`cannot reach the peep server at http://127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\)`),
    );
    const j = await peep(['whoami', '--json', '--server', `http://127.0.0.1:${port}`], {
      ...h.env,
      PEEP_TOKEN: 'x',
    });
    assert.equal(j.code, 7);
    assert.equal(JSON.parse(j.stderr).error.code, 'server_unreachable');
  });

  test('logout with nothing stored says so and succeeds', async () => {
    const r = await peep(['logout', '--server', 'http://127.0.0.1:9'], h.env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Not logged in to http:\/\/127\.0\.0\.1:9/);
  });

  test('output is plain when piped: no escape codes even in errors', async () => {
    const r = await peep(['projects', 'ls', '--server', 'http://127.0.0.1:9'], {
      ...h.env,
      FORCE_COLOR: undefined,
    });
    assert.equal(r.stderr.includes('\u001b['), false);
  });
});
