/**
 * Promotion planning and required keys as pure functions: the order rule (next environment, later
 * ones with skip, never backwards), the plan (added, changed, unchanged, secret flags copied, nothing
 * removed), the resulting view a service sees, and required keys (missing, pattern mismatch, unsafe
 * or broken patterns refused with 400). The HTTP flows are in proposals.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AppError } from '@peep/pkg';
import {
  checkPromotionOrder,
  checkRequiredKeyList,
  checkRequiredKeys,
  compilePattern,
  type PlainVar,
  planPromotion,
  resultingView,
} from './promote.js';

const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    if (e instanceof AppError) return e.code;
    throw e;
  }
  return 'no error';
};

const envs = [
  { id: 'p', slug: 'prod', position: 2 },
  { id: 'd', slug: 'dev', position: 0 },
  { id: 's', slug: 'staging', position: 1 },
];

describe('promotion order', () => {
  test('the next environment is allowed, a later one only with skip', () => {
    checkPromotionOrder(envs, 'd', 's', false);
    checkPromotionOrder(envs, 's', 'p', false);
    checkPromotionOrder(envs, 'd', 'p', true);
    assert.equal(
      code(() => checkPromotionOrder(envs, 'd', 'p', false)),
      'invalid_promotion',
    );
  });
  test('backwards, into itself, or another project are invalid_promotion', () => {
    assert.equal(
      code(() => checkPromotionOrder(envs, 'p', 's', true)),
      'invalid_promotion',
    );
    assert.equal(
      code(() => checkPromotionOrder(envs, 's', 's', true)),
      'invalid_promotion',
    );
    assert.equal(
      code(() => checkPromotionOrder(envs, 's', 'x', true)),
      'invalid_promotion',
    );
  });
  test('the message names what lies between', () => {
    try {
      checkPromotionOrder(envs, 'd', 'p', false);
    } catch (e) {
      assert.match((e as Error).message, /staging comes between/);
    }
  });
});

const v = (key: string, value: string, secret = false, service = ''): PlainVar => ({
  key,
  value,
  secret,
  service,
});

describe('promotion plan', () => {
  const source = [v('A', '1'), v('B', '2', true), v('C', '3'), v('D', 'x', false, 'web')];
  const target = [v('A', '1'), v('B', 'old', true), v('Z', 'keep')];

  test('all keys: added and changed are set, equal ones counted, target-only keys stay', () => {
    const p = planPromotion(source, target, undefined, '');
    assert.deepEqual(p.keys, ['A', 'B', 'C']);
    assert.equal(p.unchanged, 1);
    assert.deepEqual(
      p.set.map((s) => [s.key, s.value, s.secret]),
      [
        ['B', '2', true],
        ['C', '3', false],
      ],
    );
    assert.deepEqual(p.added, [{ key: 'C', service: '', secret: false, value: '3' }]);
    assert.deepEqual(p.changed, [{ key: 'B', service: '', secret: true, from: 'old', to: '2' }]);
    assert.ok(!p.set.some((s) => s.key === 'Z'));
  });

  test('chosen keys only; a key not in the source is variable_not_found with details', () => {
    const p = planPromotion(source, target, ['C'], '');
    assert.deepEqual(
      p.set.map((s) => s.key),
      ['C'],
    );
    try {
      planPromotion(source, target, ['C', 'NOPE'], '');
      assert.fail('expected an error');
    } catch (e) {
      assert.equal((e as AppError).code, 'variable_not_found');
      assert.deepEqual((e as AppError).details, [{ key: 'NOPE', service: '' }]);
    }
  });

  test('a changed secret flag alone is a change', () => {
    const p = planPromotion([v('A', '1', true)], [v('A', '1', false)], undefined, '');
    assert.equal(p.changed.length, 1);
    assert.equal(p.set[0]?.secret, true);
  });

  test('a service scope copies that service’s overrides only', () => {
    const p = planPromotion(source, target, undefined, 'web');
    assert.deepEqual(p.set, [{ key: 'D', value: 'x', secret: false, service: 'web' }]);
  });

  test('values are copied byte for byte (multi-line, CRLF, trailing spaces)', () => {
    const raw = 'line 1\r\nline 2  \n\tend ';
    const p = planPromotion([v('CERT', raw)], [], undefined, '');
    assert.equal(p.set[0]?.value, raw);
  });

  test('resulting view: environment values overlaid by the service’s, with the copy applied', () => {
    const vars = [v('A', 'env'), v('B', 'env'), v('A', 'web', false, 'web')];
    const view = resultingView(vars, [{ key: 'B', value: 'new', service: 'web' }], 'web');
    assert.deepEqual(Object.fromEntries(view), { A: 'web', B: 'new' });
    assert.deepEqual(Object.fromEntries(resultingView(vars, [{ key: 'C', value: 'c' }], '')), {
      A: 'env',
      B: 'env',
      C: 'c',
    });
  });
});

describe('required keys', () => {
  test('missing keys and values not matching the pattern are problems, in list order', () => {
    const req = checkRequiredKeyList([
      { key: 'DATABASE_URL', pattern: '^postgres://' },
      { key: 'PORT', pattern: '^[0-9]+$' },
      { key: 'SENTRY_DSN' },
    ]);
    const problems = checkRequiredKeys(
      req,
      new Map([
        ['DATABASE_URL', 'mysql://x'],
        ['PORT', '8080'],
      ]),
    );
    assert.deepEqual(problems, [
      { key: 'DATABASE_URL', problem: 'pattern_mismatch' },
      { key: 'SENTRY_DSN', problem: 'missing' },
    ]);
    assert.deepEqual(
      checkRequiredKeys(
        req,
        new Map([
          ['DATABASE_URL', 'postgres://db'],
          ['PORT', '1'],
          ['SENTRY_DSN', ''],
        ]),
      ),
      [],
    );
  });

  test('an empty value is present; a pattern is searched, not anchored', () => {
    const req = checkRequiredKeyList([{ key: 'HOST', pattern: 'example' }]);
    assert.deepEqual(checkRequiredKeys(req, new Map([['HOST', 'api.example.com']])), []);
  });

  test('nested quantifiers, broken and empty patterns are validation_failed naming the key', () => {
    for (const pattern of ['(a+)+$', '(x*)*', '([a-z]+){2,}', '(', '[z-a]', ''])
      try {
        compilePattern('K', pattern);
        assert.fail(`accepted ${pattern}`);
      } catch (e) {
        assert.equal((e as AppError).code, 'validation_failed', pattern);
        assert.match((e as Error).message, /K/);
      }
    assert.ok(compilePattern('K', '^(\\d{1,3}\\.){3}\\d{1,3}$').test('10.0.0.1'));
  });

  test('bad names are invalid_key, repeated ones duplicate_key, the list is sorted', () => {
    assert.equal(
      code(() => checkRequiredKeyList([{ key: '1BAD' }])),
      'invalid_key',
    );
    assert.equal(
      code(() => checkRequiredKeyList([{ key: 'A' }, { key: 'A' }])),
      'duplicate_key',
    );
    assert.deepEqual(
      checkRequiredKeyList([{ key: 'B', description: 'b' }, { key: 'A' }]).map((k) => k.key),
      ['A', 'B'],
    );
  });
});
