/**
 * `peep targets add | ls | pause | resume | rm | apply` as real processes against a real API server:
 * the specs the options make, the push URL printed once and working, the table, name resolution
 * across environments, and `apply` of docs/examples/targets.yaml (dry run, apply, no-op, prune) with
 * the diff it prints; bad files refused without a change.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  call,
  createOwner,
  createProjectWithKey,
  type SignedIn,
  startTestServer,
  type TestServer,
} from '@peep/api/testing';
import { peep, tempHome } from './testkit.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const EXAMPLE = path.join(root, 'docs/examples/targets.yaml');

describe('peep targets against a real server', { timeout: 120_000 }, () => {
  let s: TestServer;
  let owner: SignedIn;
  const h = tempHome();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'peep-targets-'));
  let env: Record<string, string> = {};
  const json = async (args: string[]) => {
    const r = await peep([...args, '--json'], env);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    return JSON.parse(r.stdout);
  };

  before(async () => {
    s = await startTestServer();
    owner = await createOwner(s, { email: 'olive@example.com' });
    await createProjectWithKey(s, owner, { name: 'Shop' });
    const t = await call(s, owner, 'POST', '/api/v1/tokens', { name: 'cli', scopes: ['read', 'write'] });
    env = { ...h.env, PEEP_TOKEN: t.body.secret, PEEP_SERVER: s.url };
  });
  after(async () => {
    await s?.close();
    h.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('add --url with interval, timeout, expected status, keyword and tags makes that spec', async () => {
    const out = await json([
      'targets',
      'add',
      'storefront',
      '--url',
      'https://shop.example.test/',
      '--interval',
      '30s',
      '--timeout',
      '5s',
      '--expect',
      '200-299',
      '--keyword',
      'Add to cart',
      '--tag',
      'web',
      '--tag',
      'public',
    ]);
    const t = out.target;
    assert.equal(t.env, 'prod');
    assert.equal(t.kind, 'http');
    assert.equal(t.intervalS, 30);
    assert.deepEqual(t.tags, ['public', 'web']);
    assert.deepEqual(t.spec, {
      kind: 'http',
      url: 'https://shop.example.test/',
      method: 'GET',
      timeoutMs: 5000,
      acceptStatus: ['200-299'],
      keyword: { text: 'Add to cart', mode: 'present' },
    });
    const tcp = await json(['targets', 'add', 'db', '--tcp', 'db.example.test:5432', '--env', 'staging']);
    assert.deepEqual(tcp.target.spec, {
      kind: 'tcp',
      host: 'db.example.test',
      port: 5432,
      timeoutMs: 10_000,
    });
    assert.equal(tcp.target.env, 'staging');
  });

  test('add --heartbeat prints the push URL once, and the URL works', async () => {
    const r = await peep(
      ['targets', 'add', 'backup', '--heartbeat', '--interval', '1h', '--grace', '5m'],
      env,
    );
    assert.equal(r.code, 0, r.stderr);
    const url = /(http:\S+\/api\/v1\/heartbeat\/peep_hb_\S+)/.exec(r.stdout)?.[1];
    assert.ok(url, r.stdout);
    assert.match(r.stderr, /shown once/);
    const res = await fetch(url);
    assert.equal(res.status, 200);
    const { targets } = await json(['targets', 'ls', '--kind', 'heartbeat']);
    assert.equal(targets[0].intervalS, 3600);
    assert.equal(targets[0].graceS, 300);
    assert.ok(targets[0].lastBeatAt);
  });

  test('bad options are usage errors (exit 2) before any request', async () => {
    for (const args of [
      ['targets', 'add', 'x'],
      ['targets', 'add', 'x', '--url', 'https://a.test', '--tcp', 'a:1'],
      ['targets', 'add', 'x', '--tcp', 'no-port'],
      ['targets', 'add', 'x', '--url', 'https://a.test', '--interval', '1s'],
      ['targets', 'ls', '--status', 'sleeping'],
    ]) {
      const r = await peep(args, env);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
    }
    const bad = await peep(['targets', 'add', 'x', '--url', 'ftp://a.test/'], env);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /invalid_spec/);
  });

  test('ls shows a table with status, since, latency and what is checked; filters', async () => {
    await s.db.query(
      "UPDATE targets SET status = 'down', last_duration_ms = 123.4, status_since = now() - interval '5 minutes' WHERE name = 'storefront'",
    );
    const r = await peep(['targets', 'ls'], env);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.match(lines[0] ?? '', /^NAME\s+ENV\s+KIND\s+STATUS\s+SINCE\s+LATENCY\s+TARGET$/);
    assert.match(r.stdout, /storefront\s+prod\s+http\s+down\s+5m\s+123 ms\s+https:\/\/shop\.example\.test\//);
    assert.match(r.stdout, /db\s+staging\s+tcp\s+pending\s+\S+\s+-\s+db\.example\.test:5432/);
    assert.match(r.stdout, /backup\s+prod\s+heartbeat\s+pending\s+\S+\s+beat \d+s ago\s+push peep_hb_/);
    assert.match(r.stderr, /3 targets: 0 up, 1 down, 2 pending, 0 paused/);
    const down = await json(['targets', 'ls', '--status', 'down']);
    assert.deepEqual(
      down.targets.map((t: { name: string }) => t.name),
      ['storefront'],
    );
    const staging = await json(['targets', 'ls', '--env', 'staging']);
    assert.deepEqual(
      staging.targets.map((t: { name: string }) => t.name),
      ['db'],
    );
    const tagged = await json(['targets', 'ls', '--tag', 'web']);
    assert.equal(tagged.targets.length, 1);
  });

  test('pause and resume by name; a name in two environments needs --env; rm', async () => {
    const p = await peep(['targets', 'pause', 'storefront'], env);
    assert.equal(p.code, 0, p.stderr);
    assert.match(p.stdout, /Paused storefront/);
    assert.deepEqual(
      (await json(['targets', 'ls', '--status', 'paused'])).targets.map((t: { name: string }) => t.name),
      ['storefront'],
    );
    const r = await json(['targets', 'resume', 'storefront']);
    assert.equal(r.target.status, 'pending');

    await json(['targets', 'add', 'db', '--tcp', 'db.example.test:5432', '--env', 'prod']);
    const ambiguous = await peep(['targets', 'rm', 'db'], env);
    assert.equal(ambiguous.code, 2);
    assert.match(ambiguous.stderr, /--env/);
    const rm = await peep(['targets', 'rm', 'db', '--env', 'staging'], env);
    assert.equal(rm.code, 0, rm.stderr);
    const left = await json(['targets', 'ls', '--q', 'db']);
    assert.deepEqual(
      left.targets.map((t: { env: string }) => t.env),
      ['prod'],
    );
    const byId = await peep(['targets', 'rm', left.targets[0].id], env);
    assert.equal(byId.code, 0, byId.stderr);
    const missing = await peep(['targets', 'rm', 'nothing-here'], env);
    assert.equal(missing.code, 4);
  });

  test('apply docs/examples/targets.yaml: dry run, apply, no-op, then a changed file with --prune', async () => {
    const dry = await peep(['targets', 'apply', EXAMPLE, '--dry-run'], env);
    assert.equal(dry.code, 0, dry.stderr);
    for (const name of ['shop website', 'orders api health', 'postgres primary', 'nightly backup'])
      assert.match(dry.stdout, new RegExp(`^\\+ create ${name}$`, 'm'));
    assert.match(dry.stdout, /Dry run: would apply 4 changes to shop\/prod/);
    assert.equal(
      (await json(['targets', 'ls', '--env', 'prod'])).targets.length,
      2,
      'dry run changed nothing',
    );

    const real = await peep(['targets', 'apply', EXAMPLE], env);
    assert.equal(real.code, 0, real.stderr);
    assert.match(real.stdout, /Applied 4 changes/);
    assert.match(real.stdout, /nightly backup: http:\S+\/api\/v1\/heartbeat\/peep_hb_/);
    const again = await json(['targets', 'apply', EXAMPLE]);
    assert.deepEqual(again, { dryRun: false, create: [], update: [], delete: [], unchanged: 4 });

    const changed = path.join(dir, 'targets.yaml');
    fs.writeFileSync(
      changed,
      fs
        .readFileSync(EXAMPLE, 'utf8')
        .replace('intervalS: 15', 'intervalS: 20')
        .replace(/\n {2}- name: postgres primary[\s\S]*?tags: \[database\]\n/, '\n'),
    );
    const pruned = await peep(['targets', 'apply', changed, '--prune'], env);
    assert.equal(pruned.code, 0, pruned.stderr);
    assert.match(pruned.stdout, /^~ update orders api health: intervalS$/m);
    assert.match(pruned.stdout, /^- delete postgres primary$/m);
    // storefront and backup, made with `add` in prod, are not in the file either.
    assert.match(pruned.stdout, /^- delete storefront$/m);
    assert.match(pruned.stdout, /^- delete backup$/m);
    const names = (await json(['targets', 'ls', '--env', 'prod'])).targets.map(
      (t: { name: string }) => t.name,
    );
    assert.deepEqual(names, ['nightly backup', 'orders api health', 'shop website']);
  });

  test('apply refuses bad files without changing anything', async () => {
    const before = (await json(['targets', 'ls'])).counts.total;
    const bad = path.join(dir, 'bad.yaml');
    fs.writeFileSync(
      bad,
      'env: prod\ntargets:\n  - name: ok\n    kind: tcp\n    intervalS: 60\n    spec: { host: a.test, port: 1, timeoutMs: 100 }\n  - name: too fast\n    kind: tcp\n    intervalS: 1\n    spec: { host: a.test, port: 1, timeoutMs: 100 }\n',
    );
    const r = await peep(['targets', 'apply', bad], env);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /item 1 \(too fast\): validation_failed: intervalS/);
    const broken = path.join(dir, 'broken.yaml');
    fs.writeFileSync(broken, 'targets: [\n  - name: x\n');
    assert.equal((await peep(['targets', 'apply', broken], env)).code, 2);
    fs.writeFileSync(broken, 'env: prod\nmonitors: []\n');
    const wrongKey = await peep(['targets', 'apply', broken], env);
    assert.equal(wrongKey.code, 2);
    assert.match(wrongKey.stderr, /monitors/);
    assert.equal((await peep(['targets', 'apply', path.join(dir, 'missing.yaml')], env)).code, 2);
    assert.equal((await json(['targets', 'ls'])).counts.total, before);
  });
});
