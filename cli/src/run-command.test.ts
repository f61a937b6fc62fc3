// biome-ignore-all lint/suspicious/noTemplateCurlyInString: values hold ${...} references on purpose
/**
 * `peep run -- cmd` as a real process against a real API: the command sees the environment's
 * variables (a secret, a multi-line value byte for byte, references resolved, a service's override)
 * over its own environment, its exit code and a signal death come back as peep's exit code, signals
 * sent to peep reach it, and no file is written.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type EnvKit, startEnvKit } from '@peep/api/envs/testkit';
import { call } from '@peep/api/testing';
import { BIN, peep, tempHome } from './testkit.js';

const MULTI = '-----BEGIN KEY-----\nMIIB\r\nabc==  \n-----END KEY-----\n';
const PRINT_ENV = 'process.stdout.write(JSON.stringify(process.env))';

describe('peep run against a real server', { timeout: 120_000 }, () => {
  let k: EnvKit;
  const h = tempHome();
  const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'peep-run-'));
  let env: Record<string, string> = {};

  before(async () => {
    k = await startEnvKit('pglite');
    const t = await call(k.s, k.users.developer, 'POST', '/api/v1/tokens', {
      name: 'cli',
      scopes: ['read', 'write'],
    });
    env = { ...h.env, PEEP_TOKEN: t.body.secret, PEEP_SERVER: k.s.url, PEEP_PROJECT: k.projectId };
    await k.put('dev', {
      set: [
        { key: 'API_TOKEN', value: 's3cr3t' },
        { key: 'TLS_KEY', value: MULTI, secret: true },
        { key: 'HOST', value: 'db.internal' },
        { key: 'DATABASE_URL', value: 'postgres://${HOST}:5432/app' },
        { key: 'HOME_OVERRIDE', value: 'from-peep' },
        { key: 'PORT', value: '8080', service: 'api' },
      ],
    });
  });
  after(async () => {
    await k?.close();
    h.cleanup();
    fs.rmSync(cwd, { recursive: true, force: true });
  });

  /** Runs `peep run ...` in `cwd` with extra variables of the caller's own. */
  function start(args: string[], extra: Record<string, string> = {}) {
    const child = spawn(process.execPath, [BIN, 'run', ...args], {
      cwd,
      env: { PATH: process.env.PATH ?? '', ...env, ...extra },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      err += d;
    });
    const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
      child.on('close', (code) => resolve({ code, stdout: out, stderr: err })),
    );
    return { child, done, stdout: () => out };
  }

  test('the command sees secrets, an exact multi-line value and resolved references; no file is written', async () => {
    const r = await start(['--env', 'dev', '--', process.execPath, '-e', PRINT_ENV], {
      HOME_OVERRIDE: 'mine',
      CALLER_ONLY: 'kept',
    }).done;
    assert.equal(r.code, 0, r.stderr);
    const seen = JSON.parse(r.stdout);
    assert.equal(seen.API_TOKEN, 's3cr3t');
    assert.equal(seen.TLS_KEY, MULTI);
    assert.equal(seen.DATABASE_URL, 'postgres://db.internal:5432/app');
    assert.equal(seen.HOME_OVERRIDE, 'from-peep', "peep's values overlay the caller's");
    assert.equal(seen.CALLER_ONLY, 'kept');
    assert.equal(seen.PORT, undefined, 'no service, no override');
    assert.equal(r.stderr, '');
    assert.deepEqual(fs.readdirSync(cwd), [], 'no file written');

    const api = await start(['--service', 'api', '--', process.execPath, '-e', PRINT_ENV]).done;
    assert.equal(JSON.parse(api.stdout).PORT, '8080');
  });

  test("the command's exit code is peep's; a missing command and a missing environment are errors", async () => {
    for (const code of [0, 3, 42]) {
      const r = await start(['--', process.execPath, '-e', `process.exit(${code})`]).done;
      assert.equal(r.code, code);
    }
    const killed = await start(['--', process.execPath, '-e', "process.kill(process.pid, 'SIGKILL')"]).done;
    assert.equal(killed.code, 128 + 9);
    const missing = await start(['--', 'no-such-command-here']).done;
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /command not found: no-such-command-here/);
    const noEnv = await start(['--env', 'nowhere', '--', 'true']).done;
    assert.equal(noEnv.code, 4, noEnv.stderr);
    const noCmd = await peep(['run'], env);
    assert.equal(noCmd.code, 2);
    // `--json` after `--` belongs to the command, not to peep.
    const passthrough = await start([
      '--',
      process.execPath,
      '-e',
      'console.log(process.argv.slice(1).join(" "))',
      '--',
      '--json',
      '--env',
    ]).done;
    assert.equal(passthrough.stdout.trim(), '--json --env');
  });

  test('signals sent to peep reach the command, whose exit code comes back', async () => {
    const script =
      "process.on('SIGTERM', () => { process.stdout.write('got SIGTERM'); process.exit(7); }); process.stdout.write('ready'); setInterval(() => {}, 1000);";
    const p = start(['--', process.execPath, '-e', script]);
    for (let i = 0; i < 200 && !p.stdout().includes('ready'); i++)
      await new Promise((r) => setTimeout(r, 25));
    assert.match(p.stdout(), /ready/);
    p.child.kill('SIGTERM');
    const r = await p.done;
    assert.equal(r.code, 7);
    assert.match(r.stdout, /got SIGTERM/);
  });
});
