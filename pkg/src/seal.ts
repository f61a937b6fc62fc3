/**
 * Envelope encryption (issue 5 §2): each project has a data key; values are sealed with it, and the
 * data key is stored wrapped (encrypted) by the master key (`master-key.ts`). Rotating the master key
 * re-wraps data keys (`rewrapDataKey`); values never need re-encrypting. Everything is AES-256-GCM
 * with a fresh 12-byte random nonce per encryption and a 16-byte tag; randomBytes nonces stay far
 * from the 2^32-messages-per-key bound for random GCM nonces at the volume of one project's secrets.
 *
 * Stored forms (text, so they fit a `text` column and survive JSON; base64url without padding):
 * - wrapped data key: `dk1.<master key id>.<base64url(nonce | ciphertext | tag)>`, authenticated
 *   with AAD `peep:dk1:<master key id>:<project id>`: a wrapped key copied to another project's row,
 *   or relabelled with another master key id, does not unwrap.
 * - sealed value: `v1.<base64url(nonce | ciphertext | tag)>` with AAD `peep:v1:<aad>`, where the
 *   caller's `aad` names the value's place (`channel:<id>:url`, `var:<env id>:<KEY>`): a ciphertext
 *   moved to another row does not open. GCM hides content, not length.
 *
 * Failures are `SealError`s with a code, and never return unauthenticated bytes:
 * - `malformed`: not this format (wrong or unknown version prefix, bad base64url, too short to hold a
 *   nonce and a tag, a data key that is not 32 bytes, `openText` on bytes that are not UTF-8);
 * - `unknown_master_key`: a wrapped data key names a master key id that is not in the keyring (the
 *   message names the id, which is not secret, so the operator knows which key to add back);
 * - `tampered_or_wrong_key`: GCM authentication failed. GCM cannot tell a changed byte from a wrong
 *   key or a wrong AAD, so one code covers all three.
 * Messages say what failed, never the plaintext or key material.
 *
 * Data keys are `KeyObject`s (see master-key.ts: they print and serialize as nothing). No cache of
 * unwrapped data keys here: unwrapping is one AES-GCM operation on 32 bytes, about 8 µs, much less
 * than reading the wrapped key from the database; opening a short value takes about 6 µs.
 */
import { createCipheriv, createDecipheriv, createSecretKey, type KeyObject, randomBytes } from 'node:crypto';
import { type Keyring, keyById, type MasterKey, strictBase64url } from './master-key.js';

export type DataKey = KeyObject;

export type SealErrorCode = 'malformed' | 'tampered_or_wrong_key' | 'unknown_master_key';

export class SealError extends Error {
  constructor(
    readonly code: SealErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'SealError';
  }
}

const ALG = 'aes-256-gcm';
const NONCE = 12;
const TAG = 16;
const KEY_BYTES = 32;
const VALUE_VERSION = 'v1';
const DATA_KEY_VERSION = 'dk1';
const utf8 = new TextDecoder('utf-8', { fatal: true });

function checkKey(key: KeyObject, what: string): void {
  if (key?.type !== 'secret' || key.symmetricKeySize !== KEY_BYTES) {
    throw new TypeError(`${what} must be a 32-byte secret KeyObject`);
  }
}

function checkLabel(value: string, what: string): void {
  if (typeof value !== 'string' || value === '') throw new TypeError(`${what} must be a non-empty string`);
}

function encrypt(key: KeyObject, plaintext: Buffer, aad: string): string {
  const nonce = randomBytes(NONCE);
  const cipher = createCipheriv(ALG, key, nonce, { authTagLength: TAG });
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const head = cipher.update(plaintext);
  const tail = cipher.final();
  return Buffer.concat([nonce, head, tail, cipher.getAuthTag()]).toString('base64url');
}

function decrypt(key: KeyObject, body: string, aad: string, what: string): Buffer {
  const blob = strictBase64url(body);
  if (!blob) throw new SealError('malformed', `${what} is not valid base64url`);
  if (blob.length < NONCE + TAG) throw new SealError('malformed', `${what} is too short to be sealed data`);
  const decipher = createDecipheriv(ALG, key, blob.subarray(0, NONCE), { authTagLength: TAG });
  decipher.setAAD(Buffer.from(aad, 'utf8'));
  decipher.setAuthTag(blob.subarray(blob.length - TAG));
  const head = decipher.update(blob.subarray(NONCE, blob.length - TAG));
  try {
    // final() checks the tag; nothing decrypted is returned unless it passes.
    return Buffer.concat([head, decipher.final()]);
  } catch {
    head.fill(0);
    throw new SealError(
      'tampered_or_wrong_key',
      `${what} failed authentication: it was changed, belongs to another row or project, or another key sealed it`,
    );
  }
}

/** Splits `<version>.<rest>`, refusing any other version with a message that says which it saw. */
function unprefix(text: string, version: string, what: string): string {
  if (typeof text !== 'string') throw new SealError('malformed', `${what} is not a string`);
  const dot = text.indexOf('.');
  const v = dot < 0 ? '' : text.slice(0, dot);
  if (v === version) return text.slice(dot + 1);
  if (/^[a-z]{0,2}\d{1,3}$/.test(v))
    throw new SealError('malformed', `${what} has format ${v}; this peep reads ${version}`);
  throw new SealError('malformed', `${what} does not start with "${version}."`);
}

// ---- data keys ----

function wrap(master: MasterKey, key: DataKey, projectId: string): string {
  const aad = `peep:${DATA_KEY_VERSION}:${master.id}:${projectId}`;
  return `${DATA_KEY_VERSION}.${master.id}.${encrypt(master.key, key.export(), aad)}`;
}

/** A new random data key for `projectId`, and its wrapped form under the keyring's current master key. */
export function newDataKey(ring: Keyring, projectId: string): { key: DataKey; wrapped: string } {
  checkLabel(projectId, 'projectId');
  const key = createSecretKey(randomBytes(KEY_BYTES));
  return { key, wrapped: wrap(ring.current, key, projectId) };
}

function parseWrapped(wrapped: string): { id: string; body: string } {
  const rest = unprefix(wrapped, DATA_KEY_VERSION, 'wrapped data key');
  const dot = rest.indexOf('.');
  const id = rest.slice(0, dot);
  if (dot < 0 || !/^[0-9a-f]{8}$/.test(id))
    throw new SealError('malformed', 'wrapped data key has no master key id (8 hex digits)');
  return { id, body: rest.slice(dot + 1) };
}

/** The id of the master key that wrapped `wrapped` (to find the rows a rotation must still re-wrap). */
export function masterKeyIdOf(wrapped: string): string {
  return parseWrapped(wrapped).id;
}

export function unwrapDataKey(ring: Keyring, wrapped: string, projectId: string): DataKey {
  checkLabel(projectId, 'projectId');
  const { id, body } = parseWrapped(wrapped);
  const master = keyById(ring, id);
  if (!master) {
    const known = [ring.current, ...ring.previous].map((mk) => mk.id).join(', ');
    throw new SealError(
      'unknown_master_key',
      `the data key was wrapped by master key ${id}, which is not loaded (loaded: ${known}); set it in PEEP_MASTER_KEY_PREVIOUS`,
    );
  }
  const bytes = decrypt(master.key, body, `peep:${DATA_KEY_VERSION}:${id}:${projectId}`, 'wrapped data key');
  if (bytes.length !== KEY_BYTES) {
    bytes.fill(0);
    throw new SealError('malformed', `wrapped data key holds ${bytes.length} bytes instead of ${KEY_BYTES}`);
  }
  const key = createSecretKey(bytes);
  bytes.fill(0);
  return key;
}

/**
 * `wrapped` re-wrapped under the keyring's current master key, with a fresh nonce; the data key
 * itself is unchanged, so values sealed with it still open. A key already under the current master
 * is checked (unwrapped) and returned unchanged, so a rotation can be re-run and counts what it did
 * by comparing the result with its input.
 */
export function rewrapDataKey(ring: Keyring, wrapped: string, projectId: string): string {
  const key = unwrapDataKey(ring, wrapped, projectId);
  if (parseWrapped(wrapped).id === ring.current.id) return wrapped;
  return wrap(ring.current, key, projectId);
}

// ---- values ----

/** Seals a value with a project's data key; `aad` names where it is stored and must be given to open it. */
export function seal(key: DataKey, plaintext: string | Buffer, aad: string): string {
  checkKey(key, 'data key');
  checkLabel(aad, 'aad');
  const bytes = typeof plaintext === 'string' ? Buffer.from(plaintext, 'utf8') : plaintext;
  return `${VALUE_VERSION}.${encrypt(key, bytes, `peep:${VALUE_VERSION}:${aad}`)}`;
}

export function open(key: DataKey, sealed: string, aad: string): Buffer {
  checkKey(key, 'data key');
  checkLabel(aad, 'aad');
  const body = unprefix(sealed, VALUE_VERSION, 'sealed value');
  return decrypt(key, body, `peep:${VALUE_VERSION}:${aad}`, 'sealed value');
}

/** `open` for values sealed from a string: the UTF-8 text, exactly as sealed. */
export function openText(key: DataKey, sealed: string, aad: string): string {
  const bytes = open(key, sealed, aad);
  try {
    return utf8.decode(bytes);
  } catch {
    throw new SealError('malformed', 'sealed value is not UTF-8 text (it was sealed from bytes)');
  } finally {
    bytes.fill(0);
  }
}
