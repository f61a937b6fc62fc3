/**
 * maskUrl shows where a channel points without its secret parts; the small formatters say times
 * and durations the way the messages print them.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { duration, fit, utc } from './format.js';
import { maskUrl } from './mask.js';

describe('maskUrl', () => {
  test('a Slack webhook keeps scheme, host and the start of the path', () => {
    const url = 'https://hooks.slack.com/services/T0ABCDEFG/B0HIJKLMN/abcdefghijklmnopqrstuvwx';
    assert.equal(maskUrl(url), 'https://hooks.slack.com/services/T0…••••');
  });

  test('a first segment followed by more path, two more characters, at most half; the query counts as path', () => {
    assert.equal(maskUrl('https://example.com/in/abcdefgh'), 'https://example.com/in/ab…••••');
    assert.equal(maskUrl('https://example.com/hook?token=abc'), 'https://example.com/ho…••••');
    assert.equal(maskUrl('https://example.com/ab'), 'https://example.com/…••••');
    assert.equal(maskUrl('http://example.com:8443/x?k=1'), 'http://example.com:8443/x?…••••');
  });

  test('user info is dropped, a bare origin stays whole, garbage is fully masked', () => {
    assert.equal(maskUrl('https://user:pa55word@example.com/'), 'https://example.com');
    assert.equal(maskUrl('https://example.com'), 'https://example.com');
    assert.equal(maskUrl('not a url /services/T0/B0/secret'), '••••');
  });

  test('the secret part of a path never appears', () => {
    for (const secret of ['xoxTokenTokenToken42', 's3cr3t', 'abcdefghij', 'abc']) {
      for (const url of [`https://example.com/in/${secret}?sig=${secret}`, `https://example.com/${secret}`]) {
        const masked = maskUrl(url);
        assert.ok(!masked.includes(secret), masked);
      }
    }
  });
});

describe('formatting', () => {
  test('durations', () => {
    const s = 1000;
    const m = 60 * s;
    const h = 60 * m;
    assert.deepEqual([0, 45 * s, 12 * m + 59 * s, h, h + 5 * m, 26 * h, 48 * h, -5 * s].map(duration), [
      '0 s',
      '45 s',
      '12 min',
      '1 h',
      '1 h 5 min',
      '1 d 2 h',
      '2 d',
      '0 s',
    ]);
  });

  test('UTC times from strings, Dates and epoch ms', () => {
    assert.equal(utc('2024-05-01T14:03:59+02:00'), '2024-05-01 12:03 UTC');
    assert.equal(utc(new Date(Date.UTC(2024, 0, 2, 3, 4))), '2024-01-02 03:04 UTC');
    assert.equal(utc(0), '1970-01-01 00:00 UTC');
    assert.throws(() => utc('soon'), RangeError);
  });

  test('fit cuts by code point and keeps the ellipsis inside the limit', () => {
    assert.equal(fit('abc', 3), 'abc');
    assert.equal(fit('abcd', 3), 'ab…');
    assert.equal(fit('😀😀😀', 5), '😀😀…');
    assert.equal(
      fit('a&b', 6, (c) => (c === '&' ? '&amp;' : c)),
      'a…',
    );
    assert.equal(fit('abc', 0), '');
  });
});
