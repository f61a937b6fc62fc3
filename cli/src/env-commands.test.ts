// biome-ignore-all lint/suspicious/noTemplateCurlyInString: values hold ${...} references on purpose
/**
 * `peep env ...` as real processes against a real API (dev, staging, prod; owner, admin, developer)
 * on both engines: values masked unless revealed, exact multi-line values through files, `--json`
 * answers that parse, a stale base reported with who changed what (exit 6, nothing written), a
 * developer's write to prod ending as a proposal an admin approves, import errors with line numbers,
 * history/diff/rollback, promotion with its preview, `pull` writing a 0600 file and warning about
 * git, and `render-secret` printing a Secret that passes the Kubernetes schema.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type EnvKit, startEnvKit, type Who } from '@peep/api/envs/testkit';
import { call, testEngines } from '@peep/api/testing';
import { parseDotenv } from '@peep/pkg/dotenv';
import { Secret } from 'kubernetes-models/v1/Secret';
import { parse as parseYaml } from 'yaml';
import { BIN, peep, tempHome } from './testkit.js';

const PEM = '-----BEGIN KEY-----\nMIIB\nabc==\n-----END KEY-----\n';
const AWKWARD = 'line one\r\nline two  \r\n  "quoted" $HOME \'single\'\n';

/** ObjectMeta rules the API server enforces and the OpenAPI schema does not carry. */
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_NAME =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

function assertKubernetesSecret(m: Record<string, unknown>) {
  new Secret(m as ConstructorParameters<typeof Secret>[0]).validate();
  const meta = m.metadata as { name: string; namespace?: string; labels: object; annotations: object };
  assert.ok(meta.name.length <= 253 && DNS1123_SUBDOMAIN.test(meta.name), meta.name);
  if (meta.namespace) assert.ok(DNS1123_LABEL.test(meta.namespace) && meta.namespace.length <= 63);
  for (const [k, v] of Object.entries(meta.labels)) {
    assert.ok(LABEL_NAME.test(k) && (k.split('/').pop() ?? '').length <= 63, `label ${k}`);
    assert.ok(LABEL_VALUE.test(v) && v.length <= 63, `label value ${v}`);
  }
  for (const k of Object.keys(meta.annotations)) assert.ok(LABEL_NAME.test(k), `annotation ${k}`);
  for (const k of Object.keys(m.stringData as object)) assert.match(k, /^[-._a-zA-Z0-9]+$/);
}

for (const engine of testEngines()) {
  describe(`peep env against a real server (${engine})`, { timeout: 240_000 }, () => {
    let k: EnvKit;
    const h = tempHome();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'peep-env-cli-'));
    const envs = {} as Record<Who, Record<string, string>>;
    const run = (args: string[], who: Who = 'owner') => peep(args, envs[who]);
    const promoteArgs = (from: string, to: string, ...rest: string[]) => [
      'env',
      'promote',
      '--from',
      from,
      '--to',
      to,
      ...rest,
    ];
    const json = async (args: string[], who: Who = 'owner') => {
      const r = await run([...args, '--json'], who);
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
      return JSON.parse(r.stdout);
    };

    before(async () => {
      k = await startEnvKit(engine);
      for (const who of ['owner', 'admin', 'developer', 'viewer'] as const) {
        const t = await call(k.s, k.users[who], 'POST', '/api/v1/tokens', {
          name: 'cli',
          scopes: ['read', 'write'],
        });
        assert.equal(t.status, 201, JSON.stringify(t.body));
        envs[who] = { ...h.env, PEEP_TOKEN: t.body.secret, PEEP_SERVER: k.s.url, PEEP_PROJECT: 'shop' };
      }
    });
    after(async () => {
      await k?.close();
      h.cleanup();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    test('set (KEY=VALUE and KEY=@file), ls masks secrets, get --reveal prints the exact value', async () => {
      const pem = path.join(dir, 'tls.pem');
      fs.writeFileSync(pem, PEM);
      const awkward = path.join(dir, 'awkward.txt');
      fs.writeFileSync(awkward, AWKWARD);
      const first = await json(['env', 'set', 'PORT=8080', 'API_TOKEN=s3cr3t-token', '-m', 'first']);
      assert.equal(first.version, 1);
      assert.deepEqual(first.changes.map((c: { key: string }) => c.key).sort(), ['API_TOKEN', 'PORT']);
      const second = await run(['env', 'set', `TLS_KEY=@${pem}`, `BANNER=@${awkward}`, '--secret']);
      assert.equal(second.code, 0, second.stderr);
      assert.match(second.stdout, /Saved dev version 2/);
      await json(['env', 'set', 'ADDR=http://api:${PORT}', '--plain']);

      const ls = await run(['env', 'ls']);
      assert.equal(ls.code, 0, ls.stderr);
      assert.match(ls.stdout, /^KEY\s+SCOPE\s+TYPE\s+VALUE\s+SIZE\s+VERSION$/m);
      assert.match(ls.stdout, /^PORT\s+\(env\)\s+plain\s+8080\s+4 B\s+1$/m);
      assert.match(ls.stdout, /^API_TOKEN\s+\(env\)\s+secret\s+••••••\s+12 B\s+1$/m);
      assert.doesNotMatch(ls.stdout + ls.stderr, /s3cr3t|MIIB|line two/);
      const listed = await json(['env', 'ls']);
      assert.equal(listed.version, 3);
      assert.equal(listed.vars.find((v: { key: string }) => v.key === 'TLS_KEY').value, null);

      const masked = await run(['env', 'get', 'API_TOKEN']);
      assert.equal(masked.code, 0);
      assert.doesNotMatch(masked.stdout, /s3cr3t/);
      assert.match(masked.stderr, /--reveal/);
      for (const [key, value] of [
        ['TLS_KEY', PEM],
        ['BANNER', AWKWARD],
        ['API_TOKEN', 's3cr3t-token'],
      ] as const) {
        const r = await run(['env', 'get', key, '--reveal']);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout, value);
      }
      // --stdin: one key, the bytes of stdin exactly.
      // (Not spawnSync: the server runs in this process.)
      const child = spawn(process.execPath, [BIN, 'env', 'set', 'PIPED_SECRET', '--stdin', '--json'], {
        env: { PATH: process.env.PATH ?? '', ...envs.owner },
      });
      child.stdin.end(AWKWARD);
      let out = '';
      child.stdout.on('data', (d) => {
        out += d;
      });
      assert.equal(await new Promise((r) => child.on('close', r)), 0);
      assert.equal(JSON.parse(out).version, 4);
      assert.equal((await run(['env', 'get', 'PIPED_SECRET', '--reveal'])).stdout, AWKWARD);
      await json(['env', 'unset', 'PIPED_SECRET']);
      const got = await json(['env', 'get', 'BANNER', '--reveal']);
      assert.deepEqual(got, { key: 'BANNER', service: '', secret: true, value: AWKWARD, version: 5 });
      assert.equal((await run(['env', 'get', 'NOPE'])).code, 4);
      const badKey = await run(['env', 'set', '1BAD=x', 'GOOD_ONE=y', '--json']);
      assert.equal(badKey.code, 1);
      const err = JSON.parse(badKey.stderr).error;
      assert.equal(err.code, 'invalid_key');
      assert.match(JSON.stringify(err.details), /1BAD/);
      for (const args of [
        ['env', 'set'],
        ['env', 'set', 'NO_EQUALS'],
        ['env', 'set', 'A=@/no/such/file'],
      ])
        assert.equal((await run(args)).code, 2, args.join(' '));
      // A viewer lists (masked) but may not reveal.
      assert.equal((await run(['env', 'ls'], 'viewer')).code, 0);
      const denied = await run(['env', 'get', 'API_TOKEN', '--reveal', '--json'], 'viewer');
      assert.equal(denied.code, 5);
      assert.equal(JSON.parse(denied.stderr).error.status, 403);
    });

    test('peep audit filters by environment and key and exports NDJSON: the reveals are there, the values are not', async () => {
      const r = await run(['audit', '--project', 'shop', '--env', 'dev', '--key', 'API_TOKEN', '--ndjson']);
      assert.equal(r.code, 0, r.stderr);
      const lines = r.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      assert.ok(lines.length >= 2, r.stdout);
      assert.ok(
        lines.some((e) => e.action === 'env.reveal'),
        'the audited reveal',
      );
      assert.ok(
        lines.some((e) => e.action === 'env.change'),
        'the change that set it',
      );
      for (const e of lines) {
        assert.ok(e.details.keys.includes('API_TOKEN'));
        assert.equal(e.environment, 'dev');
      }
      assert.doesNotMatch(r.stdout, /s3cr3t/);
      const table = await run(['audit', '--project', 'shop', '--env', 'dev', '--action', 'env.reveal']);
      assert.equal(table.code, 0, table.stderr);
      assert.match(table.stdout, /KEYS/);
      assert.match(table.stdout, /env\.reveal .*API_TOKEN|API_TOKEN/);
      const none = await run([
        'audit',
        '--project',
        'shop',
        '--env',
        'prod',
        '--key',
        'API_TOKEN',
        '--ndjson',
      ]);
      assert.equal(none.stdout, '');
    });

    test('a stale base is refused with who changed what (exit 6), and nothing is written', async () => {
      const before = await k.version('dev');
      const r = await run(['env', 'set', 'PORT=9090', '--base', String(before - 1)]);
      assert.equal(r.code, 6, r.stderr);
      assert.match(r.stderr, new RegExp(`dev changed since version ${before - 1} \\(now ${before}\\)`));
      assert.match(r.stderr, new RegExp(`version ${before} by owner@example\\.com .*-PIPED_SECRET`));
      const j = await run(['env', 'unset', 'PORT', '--base', '0', '--json']);
      assert.equal(j.code, 6);
      assert.equal(JSON.parse(j.stderr).error.code, 'version_conflict');
      assert.equal(await k.version('dev'), before);
      assert.equal((await json(['env', 'get', 'PORT'])).value, '8080');
    });

    test("a developer's set on prod becomes a proposal; an admin approves it", async () => {
      const r = await run(['env', 'set', 'FEATURE_X=on', '--env', 'prod', '-m', 'turn on X'], 'developer');
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^proposed #1, waiting for approval$/m);
      assert.equal(await k.version('prod'), 0, 'nothing applied');
      const mine = await json(['env', 'set', 'FEATURE_Y=on', '--env', 'prod'], 'developer');
      assert.equal(mine.proposal.number, 2);
      assert.equal(mine.proposal.status, 'pending');

      const pending = await json(['env', 'proposals', '--env', 'prod'], 'admin');
      assert.deepEqual(
        pending.proposals.map((p: { number: number }) => p.number),
        [2, 1],
      );
      const table = await run(['env', 'proposals'], 'admin');
      assert.match(
        table.stdout,
        /#1\s+prod\s+change\s+pending\s+developer@example\.com\s.*\+FEATURE_X\s+turn on X/,
      );
      assert.equal((await run(['env', 'approve', '1'], 'developer')).code, 5);
      const ok = await run(['env', 'approve', '#1', '-m', 'fine'], 'admin');
      assert.equal(ok.code, 0, ok.stderr);
      assert.match(ok.stdout, /Approved #1: prod is now at version 1/);
      const rejected = await json(['env', 'approve', '2', '--reject'], 'admin');
      assert.equal(rejected.proposal.status, 'rejected');
      assert.equal((await json(['env', 'get', 'FEATURE_X', '--env', 'prod'], 'viewer')).value, 'on');
      // A proposal on a stale base is refused and explained like a write.
      const stale = await run(['env', 'set', 'FEATURE_Z=1', '--env', 'prod', '--base', '0'], 'developer');
      assert.equal(stale.code, 6, stale.stderr);
      assert.match(
        stale.stderr,
        /prod changed since version 0 \(now 1\)[\s\S]*version 1 by developer@example\.com, approved by admin@example\.com .*\+FEATURE_X/,
      );
      // Rollback on prod by a developer is a proposal as well.
      await json(['env', 'set', 'FEATURE_X=off', '--env', 'prod'], 'admin');
      const rb = await run(['env', 'rollback', '1', '--env', 'prod'], 'developer');
      assert.equal(rb.code, 0, rb.stderr);
      assert.match(rb.stdout, /proposed #3/);
    });

    test('import: line-numbered errors, then a file as one version; history, diff and rollback', async () => {
      const bad = path.join(dir, 'bad.env');
      fs.writeFileSync(bad, 'GOOD=1\nnot a line\nA=1\n1BAD=x\n');
      const r = await run(['env', 'import', bad, '--env', 'staging']);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /invalid_dotenv/);
      assert.match(r.stderr, new RegExp(`${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:2: `));
      assert.match(r.stderr, /:4: /);
      const dup = path.join(dir, 'dup.env');
      fs.writeFileSync(dup, 'A=1\nB=2\nA=3\n');
      const d = await run(['env', 'import', dup, '--env', 'staging', '--json']);
      assert.equal(d.code, 1);
      assert.equal(JSON.parse(d.stderr).error.code, 'duplicate_key');
      assert.equal(await k.version('staging'), 0);

      const good = path.join(dir, 'staging.env');
      fs.writeFileSync(good, `PORT=8080\nDB_PASSWORD="pa ss\\nword"\nMODE=staging\n`);
      const imported = await json(['env', 'import', good, '--env', 'staging', '-m', 'from file']);
      assert.equal(imported.version, 1);
      const two = await json(['env', 'set', 'MODE=canary', '--env', 'staging']);
      assert.equal(two.version, 2);

      const hist = await json(['env', 'history', '--env', 'staging']);
      assert.deepEqual(
        hist.versions.map((v: { number: number }) => v.number),
        [2, 1],
      );
      assert.equal(hist.versions[1].message, 'from file');
      const ht = await run(['env', 'history', '--env', 'staging']);
      assert.match(ht.stdout, /^2\s+\S+\s+.*owner@example\.com\s+~MODE/m);

      const vd = await json(['env', 'diff', '1', '2', '--env', 'staging']);
      assert.deepEqual(
        vd.changed.map((c: { key: string; from: string; to: string }) => [c.key, c.from, c.to]),
        [['MODE', 'staging', 'canary']],
      );
      const ed = await run(['env', 'diff', 'dev', 'staging@1']);
      assert.equal(ed.code, 0, ed.stderr);
      assert.match(ed.stdout, /^\+ DB_PASSWORD=••••••$/m);
      assert.match(ed.stdout, /^- API_TOKEN$/m);
      assert.doesNotMatch(ed.stdout, /pa ss/);
      const revealed = await json(['env', 'diff', 'dev', 'staging@1', '--reveal']);
      assert.equal(revealed.added.find((a: { key: string }) => a.key === 'DB_PASSWORD').value, 'pa ss\nword');

      const rb = await json(['env', 'rollback', '1', '--env', 'staging']);
      assert.equal(rb.version, 3);
      assert.equal((await json(['env', 'get', 'MODE', '--env', 'staging'])).value, 'staging');
    });

    test('promote: preview, --yes needed without a terminal, applied by an owner, proposed by a developer', async () => {
      const noYes = await run(promoteArgs('dev', 'staging', '--keys', 'ADDR'));
      assert.equal(noYes.code, 2);
      assert.match(noYes.stdout, /^\+ ADDR="http:\/\/api:\$\{PORT\}"$/m);
      assert.match(noYes.stderr, /--yes/);
      const applied = await json(promoteArgs('dev', 'staging', '--keys', 'ADDR,PORT', '--yes'));
      assert.equal(applied.preview.mode, 'apply');
      assert.deepEqual(
        applied.changes.map((c: { key: string }) => c.key),
        ['ADDR'],
      );
      const proposed = await run(promoteArgs('staging', 'prod', '--keys', 'MODE', '--yes'), 'developer');
      assert.equal(proposed.code, 0, proposed.stderr);
      assert.match(proposed.stdout, /as a proposal for approval/);
      assert.match(proposed.stdout, /^proposed #\d+, waiting for approval$/m);
      const nothing = await run(promoteArgs('dev', 'staging', '--keys', 'PORT', '--yes'));
      assert.match(nothing.stdout, /Nothing to promote/);
      const wrong = await run(promoteArgs('prod', 'dev', '--yes'));
      assert.equal(wrong.code, 1);
      assert.match(wrong.stderr, /invalid_promotion/);
    });

    test('promote on a terminal asks first: "n" changes nothing, "y" applies', async (t) => {
      if (spawnSync('script', ['--version']).status !== 0) return t.skip('no `script` to make a terminal');
      await json(['env', 'set', 'TTY_CHECK=1']);
      /** `peep env promote` inside `script`, which gives it a pseudo-terminal; answers once asked. */
      const onTerminal = (answer: string) =>
        new Promise<{ code: number | null; out: string }>((resolve) => {
          const cmd = [process.execPath, BIN, ...promoteArgs('dev', 'staging', '--keys', 'TTY_CHECK')].join(
            ' ',
          );
          const child = spawn('script', ['-qfec', cmd, '/dev/null'], {
            env: { PATH: process.env.PATH ?? '', TERM: 'dumb', NO_COLOR: '1', ...envs.owner },
          });
          let out = '';
          let answered = false;
          child.stdout.on('data', (d) => {
            out += d;
            if (!answered && /\[y\/N\]/.test(out)) {
              answered = true;
              child.stdin.write(`${answer}\n`);
            }
          });
          child.on('close', (code) => resolve({ code, out }));
        });
      const no = await onTerminal('n');
      assert.match(no.out, /Apply 1 change\(s\) to staging\? \[y\/N\]/);
      assert.match(no.out, /Nothing was changed/);
      assert.equal(no.code, 1);
      assert.equal((await run(['env', 'get', 'TTY_CHECK', '--env', 'staging'])).code, 4);
      const yes = await onTerminal('y');
      assert.equal(yes.code, 0, yes.out);
      assert.match(yes.out, /Promoted to staging version/);
      assert.equal((await json(['env', 'get', 'TTY_CHECK', '--env', 'staging'])).value, '1');
      await json(['env', 'unset', 'TTY_CHECK']);
    });

    test('pull writes a 0600 .env (references resolved) atomically and warns when git would see it', async () => {
      const repo = path.join(dir, 'repo');
      fs.mkdirSync(repo);
      const git = (...args: string[]) => {
        const g = spawnSync('git', ['-c', 'user.email=t@example.com', '-c', 'user.name=t', ...args], {
          cwd: repo,
        });
        assert.equal(g.status, 0, String(g.stderr));
      };
      git('init', '-q');
      fs.writeFileSync(path.join(repo, '.env'), 'OLD=1\n');
      git('add', '.env');
      git('commit', '-q', '-m', 'oops');
      const tracked = await run(['env', 'pull', '--out', path.join(repo, '.env')]);
      assert.equal(tracked.code, 0, tracked.stderr);
      assert.match(tracked.stderr, /warning: .*\.env is tracked by git/);
      const file = path.join(repo, '.env');
      assert.equal(fs.statSync(file).mode & 0o777, 0o600);
      const { entries, problems } = parseDotenv(fs.readFileSync(file, 'utf8'));
      assert.deepEqual(problems, []);
      const values = Object.fromEntries(entries.map((e) => [e.key, e.value]));
      assert.equal(values.ADDR, 'http://api:8080', 'references resolved');
      assert.equal(values.TLS_KEY, PEM);
      assert.equal(values.BANNER, AWKWARD);
      assert.deepEqual(
        fs.readdirSync(repo).filter((f) => f.endsWith('.tmp')),
        [],
      );

      const loose = await run(['env', 'pull', '--out', path.join(repo, 'local.env')]);
      assert.match(loose.stderr, /local\.env is not ignored by git/);
      fs.writeFileSync(path.join(repo, '.gitignore'), '*.env\n');
      const ignored = await json(['env', 'pull', '--out', path.join(repo, 'local.env')]);
      assert.equal(ignored.git, null);
      assert.equal(ignored.mode, '0600');
      const outside = await run(['env', 'pull', '--out', path.join(dir, 'plain.env')]);
      assert.equal(outside.code, 0);
      assert.doesNotMatch(outside.stderr, /warning/);
    });

    test('render-secret prints a v1 Secret that passes the Kubernetes schema, with exact values', async () => {
      const r = await run(['env', 'render-secret', '--env', 'dev', '--namespace', 'shop-apps']);
      assert.equal(r.code, 0, r.stderr);
      const m = parseYaml(r.stdout);
      assertKubernetesSecret(m);
      assert.equal(m.apiVersion, 'v1');
      assert.equal(m.kind, 'Secret');
      assert.equal(m.metadata.name, 'shop-dev');
      assert.equal(m.metadata.namespace, 'shop-apps');
      assert.equal(m.metadata.labels['app.kubernetes.io/managed-by'], 'peep');
      assert.equal(m.metadata.annotations['peep.dev/version'], String(await k.version('dev')));
      assert.equal(m.stringData.TLS_KEY, PEM);
      assert.equal(m.stringData.BANNER, AWKWARD);
      assert.equal(m.stringData.ADDR, 'http://api:8080');
      const j = await json(['env', 'render-secret', '--env', 'dev', '--name', 'api.config']);
      assertKubernetesSecret(j);
      assert.deepEqual(j.stringData, m.stringData);
      for (const args of [
        ['--name', 'Bad_Name'],
        ['--namespace', 'a.b'],
        ['--name', `${'a'.repeat(254)}`],
      ]) {
        const bad = await run(['env', 'render-secret', ...args]);
        assert.equal(bad.code, 2, `${args.join(' ')}: ${bad.stderr}`);
      }
      // The schema check is real: a manifest with a bad field fails it.
      assert.throws(() => new Secret({ ...m, stringData: { A: 1 } }).validate());
    });
  });
}
