/**
 * validateCheck on untrusted specs: every class of bad input gets its stable code and a path, good
 * specs come back normalized and without unknown fields; the JSON path subset parses what it
 * documents and refuses the rest.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseJsonPath } from '@peep/pkg/jsonpath';
import { validateCheck } from './check.js';

const base = { kind: 'http', url: 'https://example.com/health', method: 'GET', timeoutMs: 5000 };
const codes = (input: unknown) => {
  const v = validateCheck(input);
  return v.ok ? [] : v.errors.map((e) => `${e.path}:${e.code}`);
};
const one = (input: unknown, expected: string) =>
  assert.deepEqual(codes(input), [expected], JSON.stringify(input));

describe('validateCheck', () => {
  test('a full HTTP spec comes back normalized: upper-case method, URL without fragment, only known fields', () => {
    const v = validateCheck({
      kind: 'http',
      url: 'https://Example.COM:8443/a/b?x=1#frag',
      method: 'post',
      headers: { Authorization: 'Bearer t', 'X-Req': 'a b' },
      body: '{"x":1}',
      acceptStatus: ['200-299', '301'],
      keyword: { regex: 'ok|up', flags: 'i', mode: 'present' },
      jsonPath: { path: '$.items[0].ok', op: 'eq', value: true },
      followRedirects: false,
      timeoutMs: 10_000,
      certExpiryWarnDays: 30,
      ignoreTls: false,
    });
    assert.ok(v.ok, JSON.stringify(v));
    assert.deepEqual(v.check, {
      kind: 'http',
      url: 'https://example.com:8443/a/b?x=1',
      method: 'POST',
      headers: { Authorization: 'Bearer t', 'X-Req': 'a b' },
      body: '{"x":1}',
      acceptStatus: ['200-299', '301'],
      keyword: { regex: 'ok|up', flags: 'i', mode: 'present' },
      jsonPath: { path: '$.items[0].ok', op: 'eq', value: true },
      followRedirects: false,
      timeoutMs: 10_000,
      certExpiryWarnDays: 30,
      ignoreTls: false,
    });
    const min = validateCheck(base);
    assert.ok(min.ok);
    assert.deepEqual(min.check, base);
  });

  test('a TCP spec: host name or IP (brackets dropped), port and timeout', () => {
    const v = validateCheck({ kind: 'tcp', host: '[::1]', port: 5432, timeoutMs: 1000 });
    assert.ok(v.ok);
    assert.deepEqual(v.check, { kind: 'tcp', host: '::1', port: 5432, timeoutMs: 1000 });
    assert.ok(validateCheck({ kind: 'tcp', host: 'db.internal', port: 1, timeoutMs: 100 }).ok);
    one({ kind: 'tcp', host: 'bad host!', port: 80, timeoutMs: 1000 }, 'host:invalid_host');
    one({ kind: 'tcp', host: 'a..b', port: 80, timeoutMs: 1000 }, 'host:invalid_host');
    one({ kind: 'tcp', host: 'db', port: 0, timeoutMs: 1000 }, 'port:out_of_range');
    one({ kind: 'tcp', host: 'db', port: 65_536, timeoutMs: 1000 }, 'port:out_of_range');
    one({ kind: 'tcp', host: 'db', port: 80.5, timeoutMs: 1000 }, 'port:out_of_range');
    one({ kind: 'tcp', host: 'db', port: '80', timeoutMs: 1000 }, 'port:invalid_type');
    one({ kind: 'tcp', port: 80, timeoutMs: 1000 }, 'host:required');
    one({ kind: 'tcp', host: 'db', port: 80, timeoutMs: 1000, url: 'x' }, 'url:unknown_field');
  });

  test('wrong shapes and types', () => {
    for (const v of [null, 'http', 42, [base]]) one(v, ':invalid_type');
    one({ ...base, kind: 'heartbeat' }, 'kind:invalid_kind');
    one({ ...base, kind: undefined }, 'kind:invalid_kind');
    one({ ...base, url: 42 }, 'url:invalid_type');
    one({ ...base, timeoutMs: '5000' }, 'timeoutMs:invalid_type');
    one({ ...base, timeoutMs: Number.NaN }, 'timeoutMs:invalid_type');
    one({ ...base, followRedirects: 'yes' }, 'followRedirects:invalid_type');
    one({ ...base, ignoreTls: 1 }, 'ignoreTls:invalid_type');
    one({ ...base, headers: ['a'] }, 'headers:invalid_type');
    one({ ...base, headers: { 'X-A': 1 } }, 'headers.X-A:invalid_type');
    one({ ...base, acceptStatus: '200' }, 'acceptStatus:invalid_type');
    one({ ...base, keyword: 'ok' }, 'keyword:invalid_type');
    one({ ...base, jsonPath: '$.a' }, 'jsonPath:invalid_type');
    one({ ...base, extra: true }, 'extra:unknown_field');
    const { url: _u, ...noUrl } = base;
    one(noUrl, 'url:required');
    const { method: _m, ...noMethod } = base;
    one(noMethod, 'method:required');
    const { timeoutMs: _t, ...noTimeout } = base;
    one(noTimeout, 'timeoutMs:required');
  });

  test('URLs: absolute http(s) only, no credentials, bounded length', () => {
    one({ ...base, url: '/relative' }, 'url:invalid_url');
    one({ ...base, url: 'not a url' }, 'url:invalid_url');
    one({ ...base, url: `https://example.com/${'a'.repeat(2100)}` }, 'url:invalid_url');
    one({ ...base, url: 'ftp://example.com/' }, 'url:unsupported_scheme');
    one({ ...base, url: 'file:///etc/passwd' }, 'url:unsupported_scheme');
    one({ ...base, url: 'javascript:alert(1)' }, 'url:unsupported_scheme');
    one({ ...base, url: 'https://user:pw@example.com/' }, 'url:url_credentials');
    assert.ok(validateCheck({ ...base, url: 'http://[::1]:8080/x' }).ok);
  });

  test('methods', () => {
    one({ ...base, method: 'FETCH' }, 'method:invalid_method');
    one({ ...base, method: 'CONNECT' }, 'method:invalid_method');
    for (const m of ['GET', 'head', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'])
      assert.ok(validateCheck({ ...base, method: m }).ok, m);
  });

  test('headers: names, values, forbidden and duplicate headers, count and size limits; values never echoed', () => {
    one({ ...base, headers: { 'Bad Name': 'x' } }, 'headers.Bad Name:invalid_header_name');
    one({ ...base, headers: { 'X-É': 'x' } }, 'headers.X-É:invalid_header_name');
    one({ ...base, headers: { 'X-A': 'secret\r\nX-Injected: 1' } }, 'headers.X-A:invalid_header_value');
    one({ ...base, headers: { 'X-A': 'nul\u0000' } }, 'headers.X-A:invalid_header_value');
    one({ ...base, headers: { 'X-A': 'v'.repeat(9000) } }, 'headers.X-A:invalid_header_value');
    for (const h of ['Host', 'content-length', 'Transfer-Encoding', 'Connection', 'Upgrade', 'TE'])
      one({ ...base, headers: { [h]: 'x' } }, `headers.${h}:forbidden_header`);
    one({ ...base, headers: { 'X-A': '1', 'x-a': '2' } }, 'headers.x-a:duplicate_header');
    const many = Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`X-H${i}`, 'v']));
    one({ ...base, headers: many }, 'headers:too_many_headers');
    const big = Object.fromEntries(Array.from({ length: 3 }, (_, i) => [`X-H${i}`, 'v'.repeat(6000)]));
    one({ ...base, headers: big }, 'headers:headers_too_large');
    const v = validateCheck({ ...base, headers: { 'X-A': 'top-secret\nvalue', Host: 'also-secret' } });
    assert.equal(v.ok, false);
    assert.doesNotMatch(JSON.stringify(v), /secret/);
  });

  test('body: 64 KiB at most, not with GET or HEAD', () => {
    assert.ok(validateCheck({ ...base, method: 'POST', body: 'x'.repeat(64 * 1024) }).ok);
    one({ ...base, method: 'POST', body: 'x'.repeat(64 * 1024 + 1) }, 'body:body_too_large');
    one({ ...base, method: 'PUT', body: 'é'.repeat(40 * 1024) }, 'body:body_too_large'); // 80 KiB in UTF-8
    one({ ...base, body: 'x' }, 'body:body_not_allowed');
    one({ ...base, method: 'HEAD', body: 'x' }, 'body:body_not_allowed');
    one({ ...base, method: 'POST', body: 5 }, 'body:invalid_type');
  });

  test('status ranges', () => {
    assert.ok(validateCheck({ ...base, acceptStatus: ['100-599', '200', '418'] }).ok);
    for (const bad of ['2xx', '600', '99', '300-200', '200-', '200 - 299', ' 200', 200])
      one({ ...base, acceptStatus: [bad] }, 'acceptStatus[0]:invalid_status_range');
    one({ ...base, acceptStatus: ['200', 'x'] }, 'acceptStatus[1]:invalid_status_range');
    one({ ...base, acceptStatus: [] }, 'acceptStatus:empty_list');
    one({ ...base, acceptStatus: Array(21).fill('200') }, 'acceptStatus:too_many_status_ranges');
  });

  test('keyword assertions', () => {
    assert.ok(validateCheck({ ...base, keyword: { text: 'ok', mode: 'absent' } }).ok);
    one({ ...base, keyword: { text: 'ok', regex: 'ok', mode: 'present' } }, 'keyword:keyword_conflict');
    one({ ...base, keyword: { mode: 'present' } }, 'keyword:keyword_missing');
    one({ ...base, keyword: { text: '', mode: 'present' } }, 'keyword.text:keyword_missing');
    one({ ...base, keyword: { regex: '', mode: 'present' } }, 'keyword.regex:keyword_missing');
    one({ ...base, keyword: { text: 'ok', mode: 'maybe' } }, 'keyword.mode:invalid_mode');
    one({ ...base, keyword: { text: 'ok' } }, 'keyword.mode:invalid_mode');
    one({ ...base, keyword: { regex: '(unclosed', mode: 'present' } }, 'keyword.regex:invalid_regex');
    one({ ...base, keyword: { regex: 'a', flags: 'g', mode: 'present' } }, 'keyword.flags:invalid_regex');
    one({ ...base, keyword: { regex: 'a', flags: 'ii', mode: 'present' } }, 'keyword.flags:invalid_regex');
    one({ ...base, keyword: { text: 'a', flags: 'i', mode: 'present' } }, 'keyword.flags:unknown_field');
    one({ ...base, keyword: { text: 'a'.repeat(1025), mode: 'present' } }, 'keyword.text:too_long');
    one({ ...base, keyword: { regex: 'a'.repeat(1025), mode: 'present' } }, 'keyword.regex:too_long');
    one({ ...base, keyword: { text: 'a', mode: 'present', case: 'i' } }, 'keyword.case:unknown_field');
    one({ ...base, method: 'HEAD', keyword: { text: 'ok', mode: 'present' } }, 'method:assertion_needs_body');
  });

  test('regexes that can backtrack exponentially are refused; common bounded ones pass', () => {
    for (const bad of ['(a+)+$', '(a*)*b', '(\\w+\\s?)*$', '((ab)+c)+', '(?:x+y?){2,}', '(.*a)+'])
      one({ ...base, keyword: { regex: bad, mode: 'present' } }, 'keyword.regex:unsafe_regex');
    for (const good of [
      '(\\d{1,3}\\.){3}\\d{1,3}',
      '(\\d+\\.){3}\\d+',
      '"status":\\s*"(ok|up)"',
      '[(a+)+]',
      '\\(a+\\)+',
      '(?=.*ok)',
      'a+b+c*',
      '(ab)+',
    ])
      assert.ok(validateCheck({ ...base, keyword: { regex: good, mode: 'present' } }).ok, good);
  });

  test('JSON path assertions', () => {
    for (const op of ['eq', 'neq', 'contains'])
      assert.ok(validateCheck({ ...base, jsonPath: { path: '$.a', op, value: 'x' } }).ok, op);
    assert.ok(validateCheck({ ...base, jsonPath: { path: '$.a', op: 'eq', value: null } }).ok);
    assert.ok(validateCheck({ ...base, jsonPath: { path: '$.a', op: 'lt', value: 1.5 } }).ok);
    one({ ...base, jsonPath: { path: '$..a', op: 'exists' } }, 'jsonPath.path:invalid_json_path');
    one({ ...base, jsonPath: { path: '$.a[*]', op: 'exists' } }, 'jsonPath.path:invalid_json_path');
    one({ ...base, jsonPath: { path: 'a.b', op: 'exists' } }, 'jsonPath.path:invalid_json_path');
    one({ ...base, jsonPath: { path: '$[?(@.a)]', op: 'exists' } }, 'jsonPath.path:invalid_json_path');
    one({ ...base, jsonPath: { op: 'exists' } }, 'jsonPath.path:required');
    one({ ...base, jsonPath: { path: '$.a', op: 'like', value: 'x' } }, 'jsonPath.op:invalid_op');
    one({ ...base, jsonPath: { path: '$.a', op: 'eq' } }, 'jsonPath.value:value_required');
    one({ ...base, jsonPath: { path: '$.a', op: 'exists', value: 1 } }, 'jsonPath.value:value_not_allowed');
    one({ ...base, jsonPath: { path: '$.a', op: 'lt', value: '5' } }, 'jsonPath.value:invalid_value');
    one({ ...base, jsonPath: { path: '$.a', op: 'contains', value: null } }, 'jsonPath.value:invalid_value');
    one({ ...base, jsonPath: { path: '$.a', op: 'eq', value: { x: 1 } } }, 'jsonPath.value:invalid_type');
    one({ ...base, jsonPath: { path: '$.a', op: 'eq', value: 1, extra: 1 } }, 'jsonPath.extra:unknown_field');
    one({ ...base, method: 'HEAD', jsonPath: { path: '$.a', op: 'exists' } }, 'method:assertion_needs_body');
  });

  test('ranges: timeout 100..60000 ms, certificate warning 0..365 days', () => {
    assert.ok(validateCheck({ ...base, timeoutMs: 100 }).ok);
    assert.ok(validateCheck({ ...base, timeoutMs: 60_000 }).ok);
    one({ ...base, timeoutMs: 99 }, 'timeoutMs:out_of_range');
    one({ ...base, timeoutMs: 60_001 }, 'timeoutMs:out_of_range');
    one({ ...base, timeoutMs: 1000.5 }, 'timeoutMs:out_of_range');
    one({ ...base, certExpiryWarnDays: -1 }, 'certExpiryWarnDays:out_of_range');
    one({ ...base, certExpiryWarnDays: 366 }, 'certExpiryWarnDays:out_of_range');
  });

  test('several problems are reported together', () => {
    assert.deepEqual(codes({ kind: 'http', url: 'ftp://x', method: 'GO', timeoutMs: 5, acceptStatus: [] }), [
      'timeoutMs:out_of_range',
      'url:unsupported_scheme',
      'method:invalid_method',
      'acceptStatus:empty_list',
    ]);
  });
});

describe('JSON path subset', () => {
  test('parses member names, quoted names with escapes and indexes', () => {
    assert.deepEqual(parseJsonPath('$'), []);
    assert.deepEqual(parseJsonPath('$.status'), ['status']);
    assert.deepEqual(parseJsonPath('$.a.b_c.$d'), ['a', 'b_c', '$d']);
    assert.deepEqual(parseJsonPath('$.items[0].ok'), ['items', 0, 'ok']);
    assert.deepEqual(parseJsonPath('$[-1]'), [-1]);
    assert.deepEqual(parseJsonPath(`$['a-b']["c d"]['it\\'s']`), ['a-b', 'c d', "it's"]);
  });
  test('refuses everything else with a reason', () => {
    for (const bad of [
      '',
      'status',
      '$.',
      '$.1a',
      '$[a]',
      "$['open",
      '$[1',
      '$..a',
      '$.*',
      '$[0:2]',
      '$ .a',
      "$['\\n']",
    ])
      assert.equal(typeof parseJsonPath(bad), 'string', bad);
    assert.match(parseJsonPath(`$${'.a'.repeat(33)}`) as string, /at most 32 steps/);
    assert.match(parseJsonPath(`$.${'a'.repeat(300)}`) as string, /at most 256 characters/);
  });
});
