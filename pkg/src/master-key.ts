/**
 * The master key: the root of encryption at rest (issue 5 §2). It never encrypts values itself; it
 * wraps one data key per project (`seal.ts`), so rotating it re-wraps a few small keys instead of
 * re-encrypting every value.
 *
 * Text form: `peepmk1.<id>.<key>`: 32 random bytes as 43 base64url characters, and an id made of the
 * first 8 hex digits of the key's SHA-256. Wrapped data keys record the id of the master key that
 * wrapped them, and the id is a checksum: a typo or a lost character is reported, never taken as a
 * different key. The id reveals nothing useful about the key; the key itself is a secret, and no
 * message or log line of this module contains it.
 *
 * Where it comes from (`loadMasterKey`):
 * - `PEEP_MASTER_KEY` when set (scaled out: from a Kubernetes Secret). Surrounding whitespace is
 *   ignored (a Secret file often ends with a newline); anything else malformed stops start-up with an
 *   error naming the variable, never echoing the value.
 * - else, in embedded mode (a data directory), `<dataDir>/master.key`, generated on first start.
 *   The new key is written to a private temporary file (created with `wx`, mode 0600, fsynced) and
 *   hard-linked to `master.key`: the link either creates the name or fails with EEXIST, so two
 *   processes starting at once agree on one key and nobody reads a half-written file. The one that
 *   created it logs a warning (once) to back it up. An existing file with any group or other
 *   permission bit is refused, as ssh refuses a private key others can read; the error says
 *   `chmod 600`. peep does not quietly fix the mode: a key that was readable by others may have been
 *   read, and the owner should know. (Mode bits are not checked on Windows.)
 * - else (no data directory: scaled out) an error: PEEP_MASTER_KEY is required.
 * - `PEEP_MASTER_KEY_PREVIOUS` (comma-separated) lists earlier master keys: data keys they wrapped
 *   still unwrap while `peep admin rotate-master-key` re-wraps them under the current one.
 * - In embedded mode, `<dataDir>/master.key.previous` (one key per line, 0600, same checks as
 *   master.key) holds the keys an embedded rotation retired (`writeRotatedKeyFiles`); they are loaded
 *   as previous keys on every start, and the rotation removes each one once no data key uses it. When
 *   PEEP_MASTER_KEY is set in embedded mode and `master.key` also exists with another key, that file
 *   joins the previous keys (with a warning), so switching from the generated file to the variable
 *   loses nothing.
 *
 * A new key by hand (the same format):
 *   node -e "const c=require('crypto'),k=c.randomBytes(32);console.log('peepmk1.'+c.createHash('sha256').update(k).digest('hex').slice(0,8)+'.'+k.toString('base64url'))"
 *
 * Keys are held as `KeyObject`s: unlike a Buffer, one prints as `SecretKeyObject { type: 'secret' }`
 * and serializes to `{}`, so a key that reaches a log line or a JSON body by mistake shows nothing.
 */
import { createHash, createSecretKey, type KeyObject, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from './log.js';

export interface MasterKey {
  /** 8 hex digits, not secret: stored beside every data key this master key wraps. */
  readonly id: string;
  readonly key: KeyObject;
}

/** The master key new data keys are wrapped with, and earlier ones that still unwrap. */
export interface Keyring {
  readonly current: MasterKey;
  readonly previous: readonly MasterKey[];
}

export type MasterKeyErrorCode = 'missing' | 'malformed' | 'insecure_file' | 'duplicate_id';

/** Start-up refusal about the master key. The message names the variable or file, never the key. */
export class MasterKeyError extends Error {
  constructor(
    readonly code: MasterKeyErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'MasterKeyError';
  }
}

const PREFIX = 'peepmk1';
const KEY_BYTES = 32;
export const MASTER_KEY_FILE = 'master.key';
/** Embedded mode: keys retired by a rotation that data keys may still be wrapped with. */
export const PREVIOUS_KEY_FILE = 'master.key.previous';
const FORMAT = `${PREFIX}.<8 hex digit id>.<43 base64url characters>`;

/** Decodes unpadded base64url, or null when `text` is not exactly the canonical encoding of some bytes. */
export function strictBase64url(text: string): Buffer | null {
  if (!/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) return null;
  const bytes = Buffer.from(text, 'base64url');
  // Only a last partial group (2 or 3 characters) can have unused bits set; it encodes the last bytes.
  const r = text.length % 4;
  if (r === 0) return bytes;
  return bytes.subarray(bytes.length - (r - 1)).toString('base64url') === text.slice(-r) ? bytes : null;
}

export function masterKeyId(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex').slice(0, 8);
}

function fromBytes(bytes: Buffer): MasterKey {
  return { id: masterKeyId(bytes), key: createSecretKey(bytes) };
}

export function generateMasterKey(): MasterKey {
  return fromBytes(randomBytes(KEY_BYTES));
}

/** The text form `peepmk1.<id>.<key>`. It is the secret itself: store it, never log it. */
export function formatMasterKey(mk: MasterKey): string {
  return `${PREFIX}.${mk.id}.${mk.key.export().toString('base64url')}`;
}

/** Why `text` is not a master key (without quoting it), or the key. */
function decode(text: string): MasterKey | string {
  const parts = text.trim().split('.');
  if (parts[0] !== PREFIX) return `it does not start with "${PREFIX}."`;
  if (parts.length !== 3) return `it has ${parts.length} dot-separated parts instead of 3`;
  const [, id = '', body = ''] = parts;
  if (!/^[0-9a-f]{8}$/.test(id)) return 'its id is not 8 lowercase hex digits';
  const bytes = strictBase64url(body);
  if (!bytes || bytes.length !== KEY_BYTES) return `its key is not ${KEY_BYTES} bytes of base64url`;
  if (masterKeyId(bytes) !== id) return 'its id does not match its key (a character changed or lost?)';
  return fromBytes(bytes);
}

/** Why `text` is not a well-formed master key, or null when it is one (config.ts validates with this). */
export function masterKeyFormatProblem(text: string): string | null {
  const r = decode(text);
  return typeof r === 'string' ? `not a peep master key: ${r}; expected ${FORMAT}` : null;
}

/** Parses the text form strictly; `source` (a variable or file name) starts the error message. */
export function parseMasterKey(text: string, source: string): MasterKey {
  const r = decode(text);
  if (typeof r === 'string')
    throw new MasterKeyError('malformed', `${source}: not a peep master key: ${r}; expected ${FORMAT}`);
  return r;
}

/** A keyring; previous keys repeating the current one or each other are dropped. */
export function createKeyring(current: MasterKey, previous: readonly MasterKey[] = []): Keyring {
  const byId = new Map<string, MasterKey>([[current.id, current]]);
  const rest: MasterKey[] = [];
  for (const mk of previous) {
    const seen = byId.get(mk.id);
    if (seen && !seen.key.equals(mk.key)) {
      throw new MasterKeyError('duplicate_id', `two different master keys share the id ${mk.id}`);
    }
    if (seen) continue;
    byId.set(mk.id, mk);
    rest.push(mk);
  }
  return { current, previous: rest };
}

export function keyById(ring: Keyring, id: string): MasterKey | undefined {
  return ring.current.id === id ? ring.current : ring.previous.find((mk) => mk.id === id);
}

export interface LoadMasterKeyOptions {
  /** PEEP_MASTER_KEY; undefined or '' when not set. */
  env: string | undefined;
  /** PEEP_MASTER_KEY_PREVIOUS: a comma-separated string or its entries. */
  previous?: string | readonly string[];
  /** Embedded mode's data directory, where master.key lives; undefined when scaled out. */
  dataDir: string | undefined;
  log: Pick<Logger, 'warn'>;
}

export interface LoadedMasterKey {
  keyring: Keyring;
  /** Where the current key came from: the variable, an existing file, or a file created just now. */
  source: 'env' | 'file' | 'generated';
  /** The key file read or created (embedded mode). */
  file?: string;
}

const GENERATE_HINT =
  "node -e \"const c=require('crypto'),k=c.randomBytes(32);console.log('peepmk1.'+c.createHash('sha256').update(k).digest('hex').slice(0,8)+'.'+k.toString('base64url'))\"";

export async function loadMasterKey(opts: LoadMasterKeyOptions): Promise<LoadedMasterKey> {
  const entries = typeof opts.previous === 'string' ? opts.previous.split(',') : [...(opts.previous ?? [])];
  const previous = entries
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s, i) => parseMasterKey(s, `PEEP_MASTER_KEY_PREVIOUS (entry ${i + 1})`));

  if (opts.dataDir !== undefined) previous.push(...(await readPreviousKeyFile(opts.dataDir)));

  if (opts.env !== undefined && opts.env !== '') {
    const current = parseMasterKey(opts.env, 'PEEP_MASTER_KEY');
    if (opts.dataDir === undefined) return { keyring: createKeyring(current, previous), source: 'env' };
    const file = path.join(opts.dataDir, MASTER_KEY_FILE);
    const old = await readKeyFile(file).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return undefined;
      throw e;
    });
    if (old && old.id !== current.id && !previous.some((mk) => mk.id === old.id)) {
      opts.log.warn(
        { file, masterKeyId: old.id, currentMasterKeyId: current.id },
        `PEEP_MASTER_KEY is set, so ${file} is no longer the master key; data keys it wrapped still read. Run \`peep admin rotate-master-key\` to re-wrap them under PEEP_MASTER_KEY.`,
      );
      previous.push(old);
    }
    return { keyring: createKeyring(current, previous), source: 'env', file };
  }

  if (opts.dataDir === undefined) {
    throw new MasterKeyError(
      'missing',
      `PEEP_MASTER_KEY is required when peep runs without a data directory (scaled out): keep the master key in a Kubernetes Secret and pass it in this variable. A new one: ${GENERATE_HINT}`,
    );
  }
  const { key, file, created } = await readOrCreateKeyFile(opts.dataDir);
  if (created) {
    opts.log.warn(
      { file, masterKeyId: key.id },
      `Generated the master key ${file}. It encrypts every secret peep stores: back it up somewhere safe, away from this machine. Without it they cannot be read back.`,
    );
  }
  return { keyring: createKeyring(key, previous), source: created ? 'generated' : 'file', file };
}

/** Reads master.key, refusing a file others may read. ENOENT passes through. */
async function readKeyFile(file: string): Promise<MasterKey> {
  return parseMasterKey(await readPrivateFile(file), file);
}

/** The keys in `<dataDir>/master.key.previous` (none when it does not exist), line by line. */
export async function readPreviousKeyFile(dataDir: string): Promise<MasterKey[]> {
  const file = path.join(dataDir, PREVIOUS_KEY_FILE);
  let text: string;
  try {
    text = await readPrivateFile(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .map((l, i) => parseMasterKey(l, `${file} (line ${i + 1})`));
}

async function readPrivateFile(file: string): Promise<string> {
  const fh = await fs.open(file, 'r');
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new MasterKeyError('insecure_file', `${file} is not a regular file`);
    if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) {
      const mode = (st.mode & 0o777).toString(8).padStart(4, '0');
      throw new MasterKeyError(
        'insecure_file',
        `${file} has mode ${mode}: other users may read the master key. Make it private (chmod 600 ${file}) and, if others could have read it, rotate the master key.`,
      );
    }
    return await fh.readFile('utf8');
  } finally {
    await fh.close();
  }
}

async function readOrCreateKeyFile(dir: string): Promise<{ key: MasterKey; file: string; created: boolean }> {
  const file = path.join(dir, MASTER_KEY_FILE);
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  try {
    return { key: await readKeyFile(file), file, created: false };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const key = generateMasterKey();
  const tmp = await writePrivateTemp(dir, MASTER_KEY_FILE, [key]);
  let created = false;
  try {
    await fs.link(tmp, file);
    created = true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  } finally {
    await fs.rm(tmp, { force: true });
  }
  if (!created) return { key: await readKeyFile(file), file, created: false };
  await syncDir(dir);
  return { key, file, created: true };
}

/** A new 0600 file in `dir` holding `keys` one per line, fsynced; its path. */
async function writePrivateTemp(dir: string, name: string, keys: readonly MasterKey[]): Promise<string> {
  const tmp = path.join(dir, `.${name}.${process.pid}.${randomBytes(6).toString('hex')}`);
  const fh = await fs.open(tmp, 'wx', 0o600);
  try {
    await fh.chmod(0o600); // the umask may have taken bits away; never more than 0600 either way
    await fh.writeFile(keys.map((k) => `${formatMasterKey(k)}\n`).join(''));
    await fh.sync();
  } catch (e) {
    await fs.rm(tmp, { force: true });
    throw e;
  } finally {
    await fh.close();
  }
  return tmp;
}

/** Replaces `<dir>/<name>` atomically (rename) with `keys`, or removes it when `keys` is empty. */
async function replaceKeyFile(dir: string, name: string, keys: readonly MasterKey[]): Promise<void> {
  const file = path.join(dir, name);
  if (keys.length === 0) await fs.rm(file, { force: true });
  else {
    const tmp = await writePrivateTemp(dir, name, keys);
    try {
      await fs.rename(tmp, file);
    } catch (e) {
      await fs.rm(tmp, { force: true });
      throw e;
    }
  }
  await syncDir(dir);
}

/**
 * Embedded rotation, on disk: `previous` (the key being retired first) goes to master.key.previous,
 * then `next` replaces master.key, each atomically and durably, in that order. A crash at any point
 * leaves both keys on disk: before the second step master.key is still the old key (and
 * master.key.previous repeats it, which the keyring ignores), after it the old key is a previous key.
 * Call it before re-wrapping any data key under `next`.
 */
export async function writeRotatedKeyFiles(
  dataDir: string,
  next: MasterKey,
  previous: readonly MasterKey[],
): Promise<void> {
  await replaceKeyFile(dataDir, PREVIOUS_KEY_FILE, previous);
  await replaceKeyFile(dataDir, MASTER_KEY_FILE, [next]);
}

/** Rewrites master.key.previous with only `keep` (removed when empty): retired keys no data key uses. */
export async function writePreviousKeyFile(dataDir: string, keep: readonly MasterKey[]): Promise<void> {
  await replaceKeyFile(dataDir, PREVIOUS_KEY_FILE, keep);
}

/** Makes the new directory entry durable (best effort: not every platform can fsync a directory). */
async function syncDir(dir: string): Promise<void> {
  try {
    const d = await fs.open(dir, 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  } catch {
    // Windows and some file systems refuse; the file itself was fsynced
  }
}
