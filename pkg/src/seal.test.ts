import assert from 'node:assert/strict';
import { createSecretKey, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { inspect } from 'node:util';
import { createKeyring, formatMasterKey, generateMasterKey, type Keyring } from './master-key.js';
import {
  type DataKey,
  masterKeyIdOf,
  newDataKey,
  open,
  openText,
  rewrapDataKey,
  SealError,
  type SealErrorCode,
  seal,
  unwrapDataKey,
} from './seal.js';

const SECRET = 'hunter2-the-webhook-secret';
const ring: Keyring = createKeyring(generateMasterKey());
const { key, wrapped } = newDataKey(ring, 'project-1');

/** Every error message seen by `fails`, checked at the end for key material and plaintexts. */
const messages: string[] = [];

function fails(fn: () => unknown, code: SealErrorCode, what: string): void {
  assert.throws(
    fn,
    (e: unknown) => {
      assert.ok(e instanceof SealError, `${what}: ${String(e)}`);
      assert.equal(e.code, code, `${what}: ${e.message}`);
      messages.push(e.message);
      return true;
    },
    what,
  );
}

const b64 = (k: DataKey) => k.export().toString('base64url');
const body = (sealed: string) => Buffer.from(sealed.slice(sealed.lastIndexOf('.') + 1), 'base64url');
const withBody = (sealed: string, bytes: Buffer) =>
  `${sealed.slice(0, sealed.lastIndexOf('.') + 1)}${bytes.toString('base64url')}`;
function flipBit(sealed: string, bit: number): string {
  const b = body(sealed);
  b[bit >> 3] = (b[bit >> 3] as number) ^ (1 << (bit & 7));
  return withBody(sealed, b);
}

test('values round-trip exactly: empty, multi-line, unicode, 1 MiB of binary', () => {
  const texts = [
    '',
    'one line',
    'line 1\nline 2\r\nline 3\n\n',
    '-----BEGIN KEY-----\nMIIB\n-----END KEY-----\n',
    'ünïcödé 日本語 🔐 e\u0301 \u0000 nul',
  ];
  for (const t of texts) {
    const s = seal(key, t, 'var:env-1:KEY');
    assert.match(s, /^v1\.[A-Za-z0-9_-]+$/);
    assert.equal(openText(key, s, 'var:env-1:KEY'), t);
  }
  const bin = randomBytes(1024 * 1024);
  const s = seal(key, bin, 'blob:1');
  assert.ok(open(key, s, 'blob:1').equals(bin));
  assert.equal(open(key, seal(key, Buffer.alloc(0), 'blob:2'), 'blob:2').length, 0);
});

test('the same plaintext sealed twice gives different ciphertexts and nonces', () => {
  const seen = new Set<string>();
  const nonces = new Set<string>();
  for (let i = 0; i < 2000; i++) {
    const s = seal(key, SECRET, 'channel:1:url');
    seen.add(s);
    nonces.add(body(s).subarray(0, 12).toString('hex'));
  }
  assert.equal(seen.size, 2000);
  assert.equal(nonces.size, 2000);
});

test('the plaintext does not appear in the sealed form', () => {
  const s = seal(key, SECRET, 'channel:1:url');
  assert.ok(!s.includes(SECRET));
  assert.ok(!body(s).includes(Buffer.from(SECRET)));
});

test('every single flipped bit (nonce, ciphertext, tag) fails authentication', () => {
  const s = seal(key, 'abcde', 'channel:1:url');
  const bits = body(s).length * 8;
  assert.equal(bits, (12 + 5 + 16) * 8);
  for (let bit = 0; bit < bits; bit++)
    fails(() => open(key, flipBit(s, bit), 'channel:1:url'), 'tampered_or_wrong_key', `bit ${bit}`);
});

test('truncated, extended and malformed sealed values are refused with the right code', () => {
  const s = seal(key, SECRET, 'a');
  const b = body(s);
  fails(
    () => open(key, withBody(s, b.subarray(0, b.length - 1)), 'a'),
    'tampered_or_wrong_key',
    'last byte cut',
  );
  fails(() => open(key, withBody(s, b.subarray(0, 28)), 'a'), 'tampered_or_wrong_key', 'ciphertext cut');
  fails(() => open(key, withBody(s, b.subarray(0, 27)), 'a'), 'malformed', 'shorter than nonce + tag');
  fails(
    () => open(key, withBody(s, Buffer.concat([b, Buffer.from([0])])), 'a'),
    'tampered_or_wrong_key',
    'byte added',
  );
  fails(() => open(key, 'v1.', 'a'), 'malformed', 'empty body');
  fails(
    () => open(key, s.slice(0, -4), 'a'),
    'tampered_or_wrong_key',
    'last 4 characters (3 bytes of tag) cut',
  );
  const text = s.slice(3);
  const cut = `v1.${text.slice(0, Math.floor((text.length - 1) / 4) * 4 + 1)}`;
  fails(() => open(key, cut, 'a'), 'malformed', 'base64url cut to 4n+1 characters');
  fails(() => open(key, `v2${s.slice(2)}`, 'a'), 'malformed', 'version changed');
  fails(() => open(key, `V1${s.slice(2)}`, 'a'), 'malformed', 'version case changed');
  fails(() => open(key, s.slice(3), 'a'), 'malformed', 'no version');
  fails(() => open(key, `${s}=`, 'a'), 'malformed', 'padding');
  fails(() => open(key, `${s.slice(0, 10)} ${s.slice(10)}`, 'a'), 'malformed', 'space inside');
  fails(() => open(key, `${s.slice(0, 10)}+${s.slice(11)}`, 'a'), 'malformed', 'base64 (not url) character');
  fails(() => open(key, wrapped, 'a'), 'malformed', 'a wrapped data key is not a sealed value');
  fails(() => open(key, '', 'a'), 'malformed', 'empty string');
  // 31 bytes (nonce, 3, tag) end in a base64url character with 4 unused bits: setting one is
  // refused, not decoded to the same bytes.
  const three = seal(key, 'abc', 'a');
  assert.equal(body(three).length % 3, 1);
  const last = three.at(-1) as string;
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const same = alphabet[alphabet.indexOf(last) ^ 1] as string;
  assert.ok(body(three.slice(0, -1) + same).equals(body(three)), 'Buffer decodes both alike');
  fails(() => open(key, three.slice(0, -1) + same, 'a'), 'malformed', 'non-canonical base64url');
});

test('a value opened with another AAD (another row) or another data key fails', () => {
  const a = seal(key, 'https://hooks.example/a', 'channel:1:url');
  const b = seal(key, 'https://hooks.example/b', 'channel:2:url');
  fails(() => openText(key, a, 'channel:2:url'), 'tampered_or_wrong_key', 'swapped rows');
  fails(() => openText(key, b, 'channel:1:url'), 'tampered_or_wrong_key', 'swapped rows');
  fails(() => openText(key, a, 'channel:1:url '), 'tampered_or_wrong_key', 'aad with a space');
  const other = newDataKey(ring, 'project-2').key;
  fails(() => openText(other, a, 'channel:1:url'), 'tampered_or_wrong_key', 'wrong data key');
  assert.equal(openText(key, a, 'channel:1:url'), 'https://hooks.example/a');
});

test('openText refuses bytes that are not UTF-8', () => {
  const s = seal(key, Buffer.from([0xff, 0xfe, 0x00]), 'bin');
  fails(() => openText(key, s, 'bin'), 'malformed', 'binary as text');
  assert.deepEqual([...open(key, s, 'bin')], [0xff, 0xfe, 0x00]);
});

test('programming errors are TypeErrors: empty aad or project id, a key that is not 32 secret bytes', () => {
  assert.throws(() => seal(key, 'x', ''), TypeError);
  assert.throws(() => open(key, seal(key, 'x', 'a'), ''), TypeError);
  assert.throws(() => newDataKey(ring, ''), TypeError);
  assert.throws(() => unwrapDataKey(ring, wrapped, ''), TypeError);
  assert.throws(() => seal(randomBytes(32) as unknown as DataKey, 'x', 'a'), TypeError);
  assert.throws(() => seal(createSecretKey(randomBytes(16)), 'x', 'a'), TypeError);
});

test('data keys: unwrap gives the same key; the wrapped form names its master key and is bound to its project', () => {
  assert.match(wrapped, new RegExp(`^dk1\\.${ring.current.id}\\.[A-Za-z0-9_-]+$`));
  assert.equal(masterKeyIdOf(wrapped), ring.current.id);
  assert.equal(body(wrapped).length, 12 + 32 + 16);
  const k = unwrapDataKey(ring, wrapped, 'project-1');
  assert.ok(k.equals(key));
  assert.equal(openText(k, seal(key, SECRET, 'x'), 'x'), SECRET);
  assert.notEqual(newDataKey(ring, 'project-1').wrapped, wrapped);
  assert.ok(!newDataKey(ring, 'project-1').key.equals(key));

  fails(() => unwrapDataKey(ring, wrapped, 'project-2'), 'tampered_or_wrong_key', 'another project');
  for (let bit = 0; bit < body(wrapped).length * 8; bit += 7)
    fails(
      () => unwrapDataKey(ring, flipBit(wrapped, bit), 'project-1'),
      'tampered_or_wrong_key',
      `bit ${bit}`,
    );
  fails(() => unwrapDataKey(ring, wrapped.slice(0, 20), 'project-1'), 'malformed', 'truncated');
  fails(() => unwrapDataKey(ring, `dk2${wrapped.slice(3)}`, 'project-1'), 'malformed', 'version');
  fails(() => unwrapDataKey(ring, `dk1.${wrapped.slice(13)}`, 'project-1'), 'malformed', 'no master key id');
  fails(() => unwrapDataKey(ring, seal(key, 'x', 'a'), 'project-1'), 'malformed', 'a sealed value');
  fails(() => masterKeyIdOf('dk1.XYZ.abc'), 'malformed', 'bad id');
});

test('a data key wrapped by a master key that is not loaded is unknown_master_key, naming its id', () => {
  const other = createKeyring(generateMasterKey());
  assert.throws(
    () => unwrapDataKey(other, wrapped, 'project-1'),
    (e: unknown) =>
      e instanceof SealError &&
      e.code === 'unknown_master_key' &&
      e.message.includes(ring.current.id) &&
      e.message.includes('PEEP_MASTER_KEY_PREVIOUS') &&
      messages.push(e.message) > 0,
  );
  // A wrapped key relabelled with the id of another loaded master key fails authentication.
  const both = createKeyring(ring.current, [other.current]);
  const relabelled = wrapped.replace(ring.current.id, other.current.id);
  fails(() => unwrapDataKey(both, relabelled, 'project-1'), 'tampered_or_wrong_key', 'relabelled');
});

test('rotation: old data keys unwrap through the previous keys, rewrap moves them under the new master, values still open', () => {
  const oldMaster = generateMasterKey();
  const newMaster = generateMasterKey();
  const before = createKeyring(oldMaster);
  const dk = newDataKey(before, 'p');
  const values = ['a', 'multi\nline', ''].map((v, i) => ({ v, s: seal(dk.key, v, `var:${i}`) }));

  const during = createKeyring(newMaster, [oldMaster]);
  assert.ok(unwrapDataKey(during, dk.wrapped, 'p').equals(dk.key));
  const rewrapped = rewrapDataKey(during, dk.wrapped, 'p');
  assert.equal(masterKeyIdOf(rewrapped), newMaster.id);
  assert.equal(masterKeyIdOf(dk.wrapped), oldMaster.id);
  assert.equal(rewrapDataKey(during, rewrapped, 'p'), rewrapped, 'already current: unchanged');
  fails(() => rewrapDataKey(during, dk.wrapped, 'q'), 'tampered_or_wrong_key', 'rewrap checks the project');

  const after = createKeyring(newMaster); // the old master key retired
  const k = unwrapDataKey(after, rewrapped, 'p');
  for (const [i, { v, s }] of values.entries()) assert.equal(openText(k, s, `var:${i}`), v);
  fails(() => unwrapDataKey(after, dk.wrapped, 'p'), 'unknown_master_key', 'old wrapping after retirement');
  fails(
    () => unwrapDataKey(before, rewrapped, 'p'),
    'unknown_master_key',
    'new wrapping with only the old key',
  );
});

test('keys print and serialize as nothing; no error message holds key material or plaintext', () => {
  const mk = ring.current;
  const secrets = [
    b64(key),
    mk.key.export().toString('base64url'),
    formatMasterKey(mk),
    SECRET,
    'hooks.example',
  ];
  for (const shown of [inspect(key), JSON.stringify(key), inspect(mk), JSON.stringify(mk), inspect(ring)])
    for (const s of secrets) assert.ok(!shown.includes(s), `${shown} shows key material`);
  assert.ok(messages.length > 300, `collected ${messages.length} messages`);
  for (const m of messages) for (const s of secrets) assert.ok(!m.includes(s), `"${m}" contains a secret`);
});
