import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { CONFIG_SCHEMA, ConfigError, loadConfig } from './config.js';

test('defaults: port 7070, loopback, ./.peep, embedded database', () => {
  const c = loadConfig({});
  assert.equal(c.port, 7070);
  assert.equal(c.host, '127.0.0.1');
  assert.equal(c.dataDir, path.resolve('.peep'));
  assert.equal(c.databaseUrl, '');
  assert.deepEqual(c.corsOrigins, []);
});

test('a bad value stops with an error naming the variable', () => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ PEEP_PORT: 'abc' }, /^PEEP_PORT: must be a whole number/],
    [{ PEEP_PORT: '70000' }, /^PEEP_PORT: must be between 0 and 65535/],
    [{ DATABASE_URL: 'mysql://x' }, /^DATABASE_URL: must use postgres: or postgresql:/],
    [{ PEEP_LOG_LEVEL: 'loud' }, /^PEEP_LOG_LEVEL: must be one of/],
    [{ PEEP_TRUST_PROXY: 'maybe' }, /^PEEP_TRUST_PROXY: must be true or false/],
    [{ PEEP_PUBLIC_URL: 'not a url' }, /^PEEP_PUBLIC_URL: must be a URL/],
  ];
  for (const [env, re] of cases) {
    assert.throws(
      () => loadConfig(env),
      (e: unknown) => e instanceof ConfigError && re.test(e.message),
      JSON.stringify(env),
    );
  }
});

test('a database password never appears in a config error', () => {
  assert.throws(
    () => loadConfig({ DATABASE_URL: 'postgres://u:hunter2@:bad' }),
    (e: unknown) => e instanceof ConfigError && !e.message.includes('hunter2'),
  );
});

test('every variable is documented in docs/config.md', async () => {
  const fs = await import('node:fs');
  const doc = fs.readFileSync(
    path.resolve(
      import.meta.dirname ?? path.dirname(new URL(import.meta.url).pathname),
      '../../docs/config.md',
    ),
    'utf8',
  );
  for (const f of Object.values(CONFIG_SCHEMA))
    assert.ok(doc.includes(f.env), `${f.env} missing from docs/config.md`);
});
