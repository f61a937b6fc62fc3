import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { resolveServer } from './context.js';
import {
  configDir,
  credentialsPath,
  getCredential,
  normalizeServer,
  readCredentials,
  removeCredential,
  saveCredential,
} from './credentials.js';
import { CliError, EXIT } from './errors.js';

const mode = (p: string) => fs.statSync(p).mode & 0o777;
const cred = (token: string) => ({ token, source: 'device' as const, savedAt: new Date().toISOString() });

describe('credentials', () => {
  let home: string;
  let env: NodeJS.ProcessEnv;
  beforeEach(() => {
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'peep-cred-'));
    env = { HOME: home, XDG_CONFIG_HOME: path.join(home, 'xdg') };
  });
  afterEach(() => fs.rmSync(home, { recursive: true, force: true }));

  test('live in $XDG_CONFIG_HOME/peep, else ~/.config/peep', () => {
    assert.equal(credentialsPath(env), path.join(home, 'xdg', 'peep', 'credentials.json'));
    assert.equal(configDir({ HOME: home }), path.join(home, '.config', 'peep'));
    assert.equal(configDir({ HOME: home, XDG_CONFIG_HOME: 'relative' }), path.join(home, '.config', 'peep'));
  });

  test('the file is 0600 and its directory 0700, even under a permissive umask', () => {
    const old = process.umask(0o000);
    try {
      saveCredential(env, 'http://127.0.0.1:7070', cred('peep_cli_secret'));
    } finally {
      process.umask(old);
    }
    assert.equal(mode(credentialsPath(env)), 0o600);
    assert.equal(mode(configDir(env)), 0o700);
    assert.deepEqual(
      fs.readdirSync(configDir(env)),
      ['credentials.json'],
      'no temporary file is left behind',
    );
  });

  test('a pre-existing world-readable file and directory are tightened on the next write', () => {
    fs.mkdirSync(configDir(env), { recursive: true, mode: 0o755 });
    fs.chmodSync(configDir(env), 0o755);
    fs.writeFileSync(credentialsPath(env), '{"version":1,"current":null,"servers":{}}', { mode: 0o644 });
    fs.chmodSync(credentialsPath(env), 0o644);
    saveCredential(env, 'http://a', cred('t'));
    assert.equal(mode(credentialsPath(env)), 0o600);
    assert.equal(mode(configDir(env)), 0o700);
  });

  test('tokens are keyed by server; the latest login becomes the current server', () => {
    saveCredential(env, 'http://a:1', cred('ta'));
    saveCredential(env, 'https://b', cred('tb'));
    assert.equal(getCredential(env, 'http://a:1')?.token, 'ta');
    assert.equal(getCredential(env, 'https://b')?.token, 'tb');
    assert.equal(readCredentials(env).current, 'https://b');
    assert.equal(resolveServer({}, env), 'https://b');
    assert.equal(resolveServer({}, { ...env, PEEP_SERVER: 'http://env:2/' }), 'http://env:2');
    assert.equal(
      resolveServer({ server: 'http://flag:3' }, { ...env, PEEP_SERVER: 'http://env:2' }),
      'http://flag:3',
    );

    assert.equal(removeCredential(env, 'https://b'), true);
    assert.equal(removeCredential(env, 'https://b'), false);
    assert.equal(getCredential(env, 'https://b'), undefined);
    assert.equal(getCredential(env, 'http://a:1')?.token, 'ta', 'other servers are kept');
    assert.equal(readCredentials(env).current, 'http://a:1');
    removeCredential(env, 'http://a:1');
    assert.equal(resolveServer({}, env), 'http://127.0.0.1:7070', 'the default when nothing is stored');
  });

  test('server URLs are normalised; bad ones are usage errors', () => {
    assert.equal(normalizeServer('HTTP://Example.COM:8080/'), 'http://example.com:8080');
    assert.equal(normalizeServer('https://example.com/peep/'), 'https://example.com/peep');
    for (const bad of ['example.com', 'ftp://x', 'http://u:p@x', 'http://x/?a=1']) {
      assert.throws(
        () => normalizeServer(bad),
        (e: unknown) => e instanceof CliError && e.exitCode === EXIT.usage,
        bad,
      );
    }
  });

  test('a corrupt file is reported with its path, not silently replaced', () => {
    fs.mkdirSync(configDir(env), { recursive: true });
    fs.writeFileSync(credentialsPath(env), 'not json');
    assert.throws(
      () => saveCredential(env, 'http://a', cred('t')),
      (e: unknown) => e instanceof CliError && e.message.includes(credentialsPath(env)),
    );
    assert.equal(fs.readFileSync(credentialsPath(env), 'utf8'), 'not json');
  });
});
