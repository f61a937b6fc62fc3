/** PEEP_WEBHOOK_DENY: names and CIDRs, v4-mapped v6 addresses, and the guarded DNS look-up. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_WEBHOOK_DENY, guardedLookup, literalHost, parseNetPolicy } from './net-policy.js';

test('the default denies link-local (cloud metadata), unspecified, multicast and broadcast, not loopback or private', () => {
  const p = parseNetPolicy(DEFAULT_WEBHOOK_DENY);
  for (const ip of [
    '169.254.169.254',
    'fe80::1',
    '0.0.0.0',
    '::',
    '224.0.0.1',
    '255.255.255.255',
    '::ffff:169.254.169.254',
  ])
    assert.equal(p.denies(ip), true, ip);
  for (const ip of ['127.0.0.1', '::1', '10.1.2.3', '192.168.1.10', '93.184.216.34', '2606:2800:220:1::1'])
    assert.equal(p.denies(ip), false, ip);
  assert.equal(p.denies('example.com'), false, 'names are checked after resolution');
});

test('names, CIDRs and none; a bad entry is refused with the accepted names', () => {
  const p = parseNetPolicy('loopback, private, 203.0.113.0/24, 2001:db8::/32');
  for (const ip of [
    '127.0.0.1',
    '::1',
    '10.0.0.1',
    '172.20.1.1',
    '100.64.0.1',
    'fd00::1',
    '203.0.113.9',
    '2001:db8::5',
  ])
    assert.equal(p.denies(ip), true, ip);
  assert.equal(p.denies('203.0.114.1'), false);
  assert.equal(parseNetPolicy('none').denies('169.254.169.254'), false);
  assert.equal(parseNetPolicy('').entries.length, 0);
  assert.throws(() => parseNetPolicy('loopbak'), /"loopbak" is not a network: use loopback, link-local/);
  assert.throws(() => parseNetPolicy('10.0.0.0/33'), RangeError);
});

test('guardedLookup refuses a name resolving into a denied network, and resolves others', async () => {
  const lookup = (policy: string, host: string) =>
    new Promise<{ err: NodeJS.ErrnoException | null; address: string }>((resolve) =>
      guardedLookup(parseNetPolicy(policy))(host, {}, (err, address) =>
        resolve({ err, address: String(address) }),
      ),
    );
  const blocked = await lookup('loopback', 'localhost');
  assert.equal(blocked.err?.code, 'EBLOCKED');
  const open = await lookup('link-local', 'localhost');
  assert.equal(open.err, null);
  assert.match(open.address, /^(127\.0\.0\.1|::1)$/);
  assert.equal(literalHost('[fe80::1]'), 'fe80::1');
  assert.equal(literalHost('169.254.169.254'), '169.254.169.254');
  assert.equal(literalHost('hooks.example.com'), null);
});
