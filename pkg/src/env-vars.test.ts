/** Key names, values and service scopes of environment variables: what is accepted and why not. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultSecret, keyProblem, serviceProblem, valueProblem } from './env-vars.js';

test('key names', () => {
  for (const ok of ['A', '_', 'a_b', 'DATABASE_URL', 'x1', 'A'.repeat(256)])
    assert.equal(keyProblem(ok), null, ok);
  assert.match(keyProblem('') ?? '', /empty/);
  assert.match(keyProblem('1A') ?? '', /starts with a digit/);
  assert.match(keyProblem('A-B') ?? '', /letters, digits and underscores/);
  assert.match(keyProblem('A B') ?? '', /letters, digits and underscores/);
  assert.match(keyProblem('É') ?? '', /letters, digits and underscores/);
  assert.match(keyProblem('A'.repeat(257)) ?? '', /longer than 256/);
});

test('values: UTF-8 text without NUL, at most 65,536 bytes', () => {
  assert.equal(valueProblem(''), null);
  assert.equal(valueProblem('multi\nline\r\n  '), null);
  assert.equal(valueProblem('x'.repeat(65_536)), null);
  assert.equal(valueProblem('é'.repeat(32_768)), null, '65,536 bytes of UTF-8');
  assert.equal(valueProblem('é'.repeat(32_769))?.code, 'value_too_large');
  assert.equal(valueProblem('a\u0000b')?.code, 'invalid_value');
  assert.equal(valueProblem('a\ud800b')?.code, 'invalid_value');
  assert.equal(valueProblem('😀'), null, 'a surrogate pair is fine');
});

test('services and secret defaults', () => {
  assert.equal(serviceProblem(''), null);
  assert.equal(serviceProblem('api-2'), null);
  assert.ok(serviceProblem('API'));
  assert.ok(serviceProblem('-api'));
  assert.equal(defaultSecret('STRIPE_SECRET'), true);
  assert.equal(defaultSecret('db_password'), true);
  assert.equal(defaultSecret('GITHUB_TOKEN'), true);
  assert.equal(defaultSecret('API_KEY'), true);
  assert.equal(defaultSecret('PORT'), false);
});
