/**
 * Project data keys (envelope encryption, seal.ts): one random key per project, stored wrapped by the
 * master key in `project_keys`, created on first use and cached unwrapped in memory.
 *
 * - First use is race-safe across processes: `INSERT ... ON CONFLICT DO NOTHING`, then the row is
 *   read back, so two replicas creating a key at once both end up with the one that was stored.
 *   Within a process, concurrent callers share one promise.
 * - The cache holds `KeyObject`s (they print and serialize as nothing), per database handle and
 *   keyring. A re-wrap (master key rotation) leaves data keys unchanged, so cached keys stay right.
 * - `sealForProject`/`openForProject` bind every value to its project and purpose through the AAD
 *   `project:<project id>:<purpose>` (purpose like `channel:<id>:url`): a sealed value copied to
 *   another row, purpose or project does not open (SealError `tampered_or_wrong_key`).
 * - `rewrapProjectKeys` re-wraps every row still under an older master key (`peep admin
 *   rotate-master-key`); each row is swapped only if unchanged since it was read.
 *
 * Where the master key comes from: `keyringFromConfig` loads it once, lazily, exactly as
 * master-key.ts describes (PEEP_MASTER_KEY, else `<data dir>/master.key` in embedded mode). What it
 * returns is the process's one holder of the keyring (the API and the builder of `peep up` share it):
 * `rotateMasterKeyFile` replaces the keyring inside it, so every user sees the new master key at once.
 *
 * Rotation (docs/encryption.md):
 * - scaled out, the new key goes in PEEP_MASTER_KEY and the old one in PEEP_MASTER_KEY_PREVIOUS on
 *   every replica, then `rewrapProjectKeys` (the CLI) re-wraps the rows;
 * - embedded, `rotateMasterKeyFile` (POST /api/v1/admin/master-key/rotate) generates the new key,
 *   writes both keys to the data directory before any row changes (`writeRotatedKeyFiles`), swaps the
 *   keyring, re-wraps the rows one by one, and then drops retired keys no row uses any more from
 *   master.key.previous.
 */
import type { Config } from './config.js';
import type { Queryable } from './db.js';
import type { Logger } from './log.js';
import {
  createKeyring,
  generateMasterKey,
  type Keyring,
  type LoadedMasterKey,
  loadMasterKey,
  type MasterKey,
  writePreviousKeyFile,
  writeRotatedKeyFiles,
} from './master-key.js';
import {
  type DataKey,
  masterKeyIdOf,
  newDataKey,
  openText,
  rewrapDataKey,
  SealError,
  seal,
  unwrapDataKey,
} from './seal.js';

/** A keyring, or a loader called (once per use, so it should memoize) when a key is first needed. */
export type MasterKeys = Keyring | (() => Promise<Keyring>);

export async function resolveKeyring(keys: MasterKeys): Promise<Keyring> {
  return typeof keys === 'function' ? keys() : keys;
}

/**
 * The process's master keys: callable like any loader (`MasterKeys`), loaded on first call and then
 * kept, and replaceable at run time by an embedded rotation. Pass the same holder to the API and
 * the builder.
 */
export interface MasterKeyHolder {
  (): Promise<Keyring>;
  /** Where the keys came from (loads them if needed). */
  loaded(): Promise<LoadedMasterKey>;
  /** The data directory whose master.key this process uses (embedded mode), else undefined. */
  readonly dataDir: string | undefined;
  /** Makes `ring` the keyring every later call returns. */
  replace(ring: Keyring): void;
}

/**
 * The master keys of this process's configuration, loaded on first call and then kept. In embedded
 * mode (no DATABASE_URL) the data directory's `master.key` is read, or created.
 */
export function keyringFromConfig(
  config: Pick<Config, 'masterKey' | 'masterKeyPrevious' | 'databaseUrl' | 'dataDir'>,
  log: Pick<Logger, 'warn'>,
): MasterKeyHolder {
  const dataDir = config.databaseUrl ? undefined : config.dataDir;
  let loading: Promise<LoadedMasterKey> | null = null;
  const loaded = () => {
    loading ??= loadMasterKey({
      env: config.masterKey,
      previous: config.masterKeyPrevious,
      dataDir,
      log,
    }).catch((e: unknown) => {
      loading = null; // a fixed file or variable is read on the next call
      throw e;
    });
    return loading;
  };
  const holder = () => loaded().then((l) => l.keyring);
  return Object.assign(holder, {
    loaded,
    dataDir,
    replace(ring: Keyring) {
      const was = loading;
      loading = (was ?? Promise.resolve({ keyring: ring, source: 'file' as const })).then((l) => ({
        ...l,
        keyring: ring,
      }));
    },
  });
}

const cache = new WeakMap<object, WeakMap<object, Map<string, Promise<DataKey>>>>();

function cacheFor(db: Queryable, keys: MasterKeys): Map<string, Promise<DataKey>> {
  let byKeys = cache.get(db);
  if (!byKeys) {
    byKeys = new WeakMap();
    cache.set(db, byKeys);
  }
  let m = byKeys.get(keys);
  if (!m) {
    m = new Map();
    byKeys.set(keys, m);
  }
  return m;
}

async function loadOrCreate(
  db: Queryable,
  keys: MasterKeys,
  ring: Keyring,
  projectId: string,
): Promise<DataKey> {
  const read = async () =>
    (
      await db.query<{ wrapped: string }>('SELECT wrapped FROM project_keys WHERE project_id = $1', [
        projectId,
      ])
    ).rows[0]?.wrapped;
  let wrapped = await read();
  if (wrapped === undefined) {
    const fresh = newDataKey(ring, projectId);
    await db.query(
      'INSERT INTO project_keys (project_id, wrapped) VALUES ($1, $2) ON CONFLICT (project_id) DO NOTHING',
      [projectId, fresh.wrapped],
    );
    wrapped = await read();
    if (wrapped === undefined) throw new Error(`project ${projectId} has no data key after creating one`);
    if (wrapped === fresh.wrapped) return settle(db, keys, ring, projectId, wrapped);
  }
  return unwrapDataKey(ring, wrapped, projectId);
}

/**
 * A key this process just stored under `ring`: if an embedded rotation replaced the keyring
 * meanwhile, its re-wrap may have missed the new row, so the row is re-wrapped here (compare-and-swap)
 * before anything is sealed with the key, and never stays under a key the rotation retires.
 */
async function settle(
  db: Queryable,
  keys: MasterKeys,
  ring: Keyring,
  projectId: string,
  wrapped: string,
): Promise<DataKey> {
  const now = await resolveKeyring(keys);
  const key = unwrapDataKey(now, wrapped, projectId);
  if (now === ring || masterKeyIdOf(wrapped) === now.current.id) return key;
  await db.query(
    'UPDATE project_keys SET wrapped = $3, rewrapped_at = now() WHERE project_id = $1 AND wrapped = $2',
    [projectId, wrapped, rewrapDataKey(now, wrapped, projectId)],
  );
  return key;
}

/**
 * The project's data key, created and stored (wrapped) on first use. Pass the same `db` and `keys`
 * objects each time to benefit from the cache. Do not call it inside a transaction that may roll
 * back after creating the key unless you pass that transaction as `db`.
 */
export function projectKey(db: Queryable, keys: MasterKeys, projectId: string): Promise<DataKey> {
  const m = cacheFor(db, keys);
  let p = m.get(projectId);
  if (!p) {
    p = resolveKeyring(keys).then((ring) => loadOrCreate(db, keys, ring, projectId));
    m.set(projectId, p);
    p.catch(() => m.delete(projectId));
  }
  return p;
}

/** Forgets cached keys (all, or one project's), e.g. after a project is deleted. */
export function forgetProjectKeys(db: Queryable, keys: MasterKeys, projectId?: string): void {
  const m = cacheFor(db, keys);
  if (projectId === undefined) m.clear();
  else m.delete(projectId);
}

function checkPurpose(purpose: string): void {
  if (typeof purpose !== 'string' || purpose === '')
    throw new TypeError('purpose must be a non-empty string');
}

/** The AAD a project's value is sealed with: its project and its place. */
export const projectAad = (projectId: string, purpose: string) => `project:${projectId}:${purpose}`;

/** Seals `plaintext` with the project's data key, bound to the project and `purpose`. */
export async function sealForProject(
  db: Queryable,
  keys: MasterKeys,
  projectId: string,
  plaintext: string,
  purpose: string,
): Promise<string> {
  checkPurpose(purpose);
  return seal(await projectKey(db, keys, projectId), plaintext, projectAad(projectId, purpose));
}

/** Opens what sealForProject sealed for the same project and purpose; SealError otherwise. */
export async function openForProject(
  db: Queryable,
  keys: MasterKeys,
  projectId: string,
  sealed: string,
  purpose: string,
): Promise<string> {
  checkPurpose(purpose);
  return openText(await projectKey(db, keys, projectId), sealed, projectAad(projectId, purpose));
}

export interface ProjectKeyInfo {
  projectId: string;
  /** The master key that wraps it now. */
  masterKeyId: string;
  createdAt: Date;
  rewrappedAt: Date | null;
}

/** Every stored data key and the master key wrapping it (never the key). */
export async function listProjectKeys(db: Queryable): Promise<ProjectKeyInfo[]> {
  const { rows } = await db.query<{
    project_id: string;
    wrapped: string;
    created_at: Date;
    rewrapped_at: Date | null;
  }>('SELECT project_id, wrapped, created_at, rewrapped_at FROM project_keys ORDER BY project_id');
  return rows.map((r) => {
    let masterKeyId = '';
    try {
      masterKeyId = masterKeyIdOf(r.wrapped);
    } catch {
      // malformed: shown with an empty id, and rewrapProjectKeys reports it
    }
    return { projectId: r.project_id, masterKeyId, createdAt: r.created_at, rewrappedAt: r.rewrapped_at };
  });
}

export interface RewrapResult {
  /** Rows looked at. */
  total: number;
  /** Rows now wrapped by the current master key that were not before. */
  rewrapped: number;
  /** Rows that could not be re-wrapped (unknown master key, tampered), with why; left unchanged. */
  failed: { projectId: string; code: SealError['code'] | 'changed'; message: string }[];
}

/**
 * Re-wraps every data key under the keyring's current master key (idempotent: keys already under it
 * are checked and left alone). A row changed by someone else meanwhile is reported, not overwritten.
 */
export async function rewrapProjectKeys(
  db: Queryable,
  keys: MasterKeys,
  now = new Date(),
): Promise<RewrapResult> {
  const ring = await resolveKeyring(keys);
  const { rows } = await db.query<{ project_id: string; wrapped: string }>(
    'SELECT project_id, wrapped FROM project_keys ORDER BY project_id',
  );
  const out: RewrapResult = { total: rows.length, rewrapped: 0, failed: [] };
  for (const r of rows) {
    let next: string;
    try {
      next = rewrapDataKey(ring, r.wrapped, r.project_id);
    } catch (e) {
      if (!(e instanceof SealError)) throw e;
      out.failed.push({ projectId: r.project_id, code: e.code, message: e.message });
      continue;
    }
    if (next === r.wrapped) continue;
    const u = await db.query(
      'UPDATE project_keys SET wrapped = $3, rewrapped_at = $4 WHERE project_id = $1 AND wrapped = $2',
      [r.project_id, r.wrapped, next, now],
    );
    if (u.rowCount === 1) out.rewrapped++;
    else
      out.failed.push({
        projectId: r.project_id,
        code: 'changed',
        message: 'changed while re-wrapping; run again',
      });
  }
  return out;
}

/** How many data keys each master key id wraps (`''` for rows whose wrapped key is malformed). */
export async function countByMasterKey(db: Queryable): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const k of await listProjectKeys(db)) counts.set(k.masterKeyId, (counts.get(k.masterKeyId) ?? 0) + 1);
  return counts;
}

export interface RotationResult {
  /** The master key every data key should now be wrapped with. */
  masterKeyId: string;
  /** The key this rotation retired; null when no key was generated (the key comes from PEEP_MASTER_KEY). */
  previousKeyId: string | null;
  /** Rows re-wrapped by this call. */
  rewrapped: number;
  /** Rows still wrapped by another key than `masterKeyId` (failed or created meanwhile). */
  remainingUnderPrevious: number;
  /** Rows that could not be re-wrapped, and why (see RewrapResult). */
  failed: RewrapResult['failed'];
  /** Retired master key ids still kept in master.key.previous because rows use them. */
  keptPrevious: string[];
}

const rotating = new WeakMap<MasterKeyHolder, Promise<RotationResult>>();

/**
 * Embedded rotation (the process owns the data directory): a new master key, both keys on disk before
 * any row changes, the holder's keyring switched, every row re-wrapped, and retired keys that no row
 * uses any more removed from master.key.previous. Callers that arrive while a rotation runs get its
 * result (they converge on one new key instead of rotating twice).
 *
 * When the current key comes from PEEP_MASTER_KEY the process does not own it: nothing is generated,
 * rows are re-wrapped under the current key (the operator has set the new key and restarted).
 */
export function rotateMasterKeyFile(
  db: Queryable,
  holder: MasterKeyHolder,
  now: () => Date = () => new Date(),
): Promise<RotationResult> {
  let p = rotating.get(holder);
  if (!p) {
    p = rotateOnce(db, holder, now).finally(() => rotating.delete(holder));
    rotating.set(holder, p);
  }
  return p;
}

async function rotateOnce(db: Queryable, holder: MasterKeyHolder, now: () => Date): Promise<RotationResult> {
  const loaded = await holder.loaded();
  const ring = loaded.keyring;
  const dataDir = holder.dataDir;
  let previousKeyId: string | null = null;
  let current = ring;
  if (loaded.source !== 'env' && dataDir !== undefined) {
    const next = generateMasterKey();
    const retired = [ring.current, ...ring.previous];
    await writeRotatedKeyFiles(dataDir, next, retired);
    current = createKeyring(next, retired);
    holder.replace(current);
    previousKeyId = ring.current.id;
  }
  const r = await rewrapProjectKeys(db, holder, now());
  const counts = await countByMasterKey(db);
  const keep = current.previous.filter((mk: MasterKey) => (counts.get(mk.id) ?? 0) > 0);
  if (previousKeyId !== null && dataDir !== undefined) await writePreviousKeyFile(dataDir, keep);
  let remaining = 0;
  for (const [id, n] of counts) if (id !== current.current.id) remaining += n;
  return {
    masterKeyId: current.current.id,
    previousKeyId,
    rewrapped: r.rewrapped,
    remainingUnderPrevious: remaining,
    failed: r.failed,
    keptPrevious: keep.map((mk) => mk.id),
  };
}
