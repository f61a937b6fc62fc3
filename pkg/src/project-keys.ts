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
 * - `rewrapProjectKeys` re-wraps every row still under an older master key (the work of a future
 *   `peep admin rotate-master-key`); each row is swapped only if unchanged since it was read.
 *
 * Where the master key comes from: `keyringFromConfig` loads it once, lazily, exactly as
 * master-key.ts describes (PEEP_MASTER_KEY, else `<data dir>/master.key` in embedded mode).
 */
import type { Config } from './config.js';
import type { Queryable } from './db.js';
import type { Logger } from './log.js';
import { type Keyring, loadMasterKey } from './master-key.js';
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
 * The master keys of this process's configuration, loaded on first call and then kept. In embedded
 * mode (no DATABASE_URL) the data directory's `master.key` is read, or created.
 */
export function keyringFromConfig(
  config: Pick<Config, 'masterKey' | 'masterKeyPrevious' | 'databaseUrl' | 'dataDir'>,
  log: Pick<Logger, 'warn'>,
): () => Promise<Keyring> {
  let loading: Promise<Keyring> | null = null;
  return () => {
    loading ??= loadMasterKey({
      env: config.masterKey,
      previous: config.masterKeyPrevious,
      dataDir: config.databaseUrl ? undefined : config.dataDir,
      log,
    }).then(
      (l) => l.keyring,
      (e: unknown) => {
        loading = null; // a fixed file or variable is read on the next call
        throw e;
      },
    );
    return loading;
  };
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

async function loadOrCreate(db: Queryable, ring: Keyring, projectId: string): Promise<DataKey> {
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
  }
  return unwrapDataKey(ring, wrapped, projectId);
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
    p = resolveKeyring(keys).then((ring) => loadOrCreate(db, ring, projectId));
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
