/**
 * `peep admin rotate-master-key` (docs/encryption.md): re-wraps every project data key under the
 * current master key, without downtime or data loss.
 *
 * - Scaled out (DATABASE_URL set): the operator has put the new key in PEEP_MASTER_KEY and the old
 *   one in PEEP_MASTER_KEY_PREVIOUS on every replica; this connects to the database like `peep
 *   migrate`, re-wraps every row still under another key, and says when PEEP_MASTER_KEY_PREVIOUS
 *   can go. `--new-key` prints a key for the first step.
 * - Embedded: when `peep up` runs, it holds the data directory (PGlite), so this asks it to rotate
 *   (POST /api/v1/admin/master-key/rotate: an instance admin with the admin scope). When nothing
 *   runs, the command does the same itself on the data directory.
 * `--check` only reports how many data keys each master key wraps.
 */
import fs from 'node:fs';
import path from 'node:path';
import { type Config, ConfigError, LockError, loadConfig, openConfiguredDb } from '@peep/pkg';
import { formatMasterKey, generateMasterKey, type Keyring, MasterKeyError } from '@peep/pkg/master-key';
import {
  countByMasterKey,
  keyringFromConfig,
  type RotationResult,
  rewrapProjectKeys,
  rotateMasterKeyFile,
} from '@peep/pkg/project-keys';
import type { Context } from '../context.js';
import { CliError, EXIT, usageError } from '../errors.js';

export interface RotateOptions {
  check?: boolean;
  newKey?: boolean;
}

type Loaded = 'current' | 'previous' | 'unknown';

/** What `--check` reports, in every mode. */
export interface KeyStatus {
  mode: 'database' | 'embedded' | 'server';
  masterKeyId: string;
  previousKeyIds: string[];
  dataKeys: { masterKeyId: string; count: number; loaded: Loaded }[];
  /** Data keys wrapped by another master key than the current one. */
  remainingUnderPrevious: number;
}

/** What a rotation reports, in every mode. */
export interface RotateOutput extends RotationResult {
  mode: KeyStatus['mode'];
  /** Scaled out: true when PEEP_MASTER_KEY_PREVIOUS may be removed (no data key needs it). */
  previousRemovable: boolean;
}

export async function rotateMasterKey(ctx: Context, opts: RotateOptions): Promise<void> {
  if (opts.newKey && opts.check) throw usageError('--new-key and --check do not go together');
  if (opts.newKey) return printNewKey(ctx);
  const config = configFrom(ctx.env);
  const log = { warn: (_o: unknown, msg?: string) => ctx.out.warn(String(msg ?? '')) };
  if (!config.databaseUrl && !fs.existsSync(path.join(config.dataDir, 'pgdata', 'PG_VERSION')))
    throw new CliError(EXIT.failure, 'no_database', `there is no peep database in ${config.dataDir}`, {
      hint: 'set PEEP_DATA_DIR to the data directory of your peep, or DATABASE_URL when scaled out',
    });
  let db: Awaited<ReturnType<typeof openConfiguredDb>>;
  try {
    db = await openConfiguredDb(config);
  } catch (e) {
    // `peep up` holds the embedded database: ask it.
    if (e instanceof LockError) return viaServer(ctx, opts, config);
    throw e;
  }
  try {
    const holder = keyringFromConfig(config, log);
    const mode = config.databaseUrl ? 'database' : 'embedded';
    const ring = await keys(() => holder());
    if (opts.check) return report(ctx, await status(db, ring, mode));
    const r: RotationResult = config.databaseUrl
      ? await rewrapAll(db, ring)
      : await keys(() => rotateMasterKeyFile(db, holder));
    return done(ctx, { ...r, mode, previousRemovable: r.remainingUnderPrevious === 0 }, config);
  } finally {
    await db.close();
  }
}

function printNewKey(ctx: Context): void {
  const mk = generateMasterKey();
  const text = formatMasterKey(mk);
  ctx.out.result({ masterKey: text, masterKeyId: mk.id }, () => {
    ctx.out.line(text);
    ctx.out.note(
      `New master key ${mk.id}. Store it as a secret, never in a repository. Rotation: put it in PEEP_MASTER_KEY and the current key in PEEP_MASTER_KEY_PREVIOUS on every replica (rolling restart), then run \`peep admin rotate-master-key\`.`,
    );
  });
}

function configFrom(env: NodeJS.ProcessEnv): Config {
  try {
    return loadConfig(env);
  } catch (e) {
    if (e instanceof ConfigError) throw new CliError(EXIT.usage, 'invalid_configuration', e.message);
    throw e;
  }
}

/** Master key problems (missing, malformed, a file others may read) as a CLI failure naming them. */
async function keys<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof MasterKeyError) throw new CliError(EXIT.failure, `master_key_${e.code}`, e.message);
    throw e;
  }
}

async function status(
  db: Parameters<typeof countByMasterKey>[0],
  ring: Keyring,
  mode: KeyStatus['mode'],
): Promise<KeyStatus> {
  const counts = await countByMasterKey(db);
  const previous = ring.previous.map((k) => k.id);
  const dataKeys = [...counts].map(([masterKeyId, count]) => ({
    masterKeyId,
    count,
    loaded: (masterKeyId === ring.current.id
      ? 'current'
      : previous.includes(masterKeyId)
        ? 'previous'
        : 'unknown') as Loaded,
  }));
  return {
    mode,
    masterKeyId: ring.current.id,
    previousKeyIds: previous,
    dataKeys,
    remainingUnderPrevious: remaining(dataKeys),
  };
}

const remaining = (dataKeys: KeyStatus['dataKeys']) =>
  dataKeys.filter((d) => d.loaded !== 'current').reduce((n, d) => n + d.count, 0);

async function rewrapAll(db: Parameters<typeof countByMasterKey>[0], ring: Keyring): Promise<RotationResult> {
  const r = await rewrapProjectKeys(db, ring);
  const s = await status(db, ring, 'database');
  return {
    masterKeyId: ring.current.id,
    previousKeyId: null,
    rewrapped: r.rewrapped,
    remainingUnderPrevious: s.remainingUnderPrevious,
    failed: r.failed,
    keptPrevious: s.dataKeys.filter((d) => d.loaded === 'previous').map((d) => d.masterKeyId),
  };
}

async function viaServer(ctx: Context, opts: RotateOptions, config: Config): Promise<void> {
  const api = ctx.client();
  const hint = (e: unknown) => {
    if (e instanceof CliError) {
      if (e.code === 'insufficient_scope' || e.code === 'instance_admin_required')
        e.extra.hint =
          'rotating the master key needs an instance admin with the admin scope: `peep login --admin`, or an admin token in PEEP_TOKEN';
      else if (e.code === 'server_unreachable')
        e.extra.hint = `a peep holds the data directory ${config.dataDir}: pass its URL with --server`;
    }
    throw e;
  };
  if (opts.check) {
    const s = await api
      .get<Omit<KeyStatus, 'mode' | 'remainingUnderPrevious'>>('/api/v1/admin/master-key')
      .catch(hint);
    return report(ctx, {
      mode: 'server',
      masterKeyId: s.masterKeyId,
      previousKeyIds: s.previousKeyIds,
      dataKeys: s.dataKeys,
      remainingUnderPrevious: remaining(s.dataKeys),
    });
  }
  const r = await api.post<RotationResult>('/api/v1/admin/master-key/rotate', {}).catch(hint);
  return done(ctx, { ...r, mode: 'server', previousRemovable: r.remainingUnderPrevious === 0 }, config);
}

function report(ctx: Context, s: KeyStatus): void {
  ctx.out.result(s, () => {
    const { c } = ctx.out;
    ctx.out.line(`current master key: ${s.masterKeyId}`);
    if (s.previousKeyIds.length) ctx.out.line(`previous keys loaded: ${s.previousKeyIds.join(', ')}`);
    ctx.out.table(
      ['MASTER KEY', 'DATA KEYS', 'LOADED'],
      s.dataKeys.map((d) => [
        d.masterKeyId || '(malformed)',
        String(d.count),
        {
          text: d.loaded,
          style: d.loaded === 'unknown' ? c.red : d.loaded === 'current' ? c.green : c.yellow,
        },
      ]),
      'No data keys yet.',
    );
    if (s.remainingUnderPrevious === 0) {
      if (s.mode === 'database' && s.previousKeyIds.length)
        ctx.out.line('No data key uses a previous key: PEEP_MASTER_KEY_PREVIOUS can be removed.');
    } else ctx.out.line(`${s.remainingUnderPrevious} data keys are not under the current master key yet.`);
  });
}

function done(ctx: Context, r: RotateOutput, config: Config): void {
  ctx.out.result(r, () => {
    if (r.previousKeyId)
      ctx.out.line(
        `New master key ${r.masterKeyId}${r.mode === 'embedded' ? ` in ${path.join(config.dataDir, 'master.key')}` : ''}; the previous key was ${r.previousKeyId}.`,
      );
    ctx.out.line(`Re-wrapped ${r.rewrapped} data keys under master key ${r.masterKeyId}.`);
    for (const f of r.failed) ctx.out.line(`  ${f.projectId}: ${f.code}: ${f.message}`);
    if (r.remainingUnderPrevious > 0)
      ctx.out.line(
        `${r.remainingUnderPrevious} data keys are still under another master key: ${r.mode === 'database' ? 'keep PEEP_MASTER_KEY_PREVIOUS' : 'the previous key stays in master.key.previous'} and run this again after fixing what is listed.`,
      );
    else if (r.mode === 'database')
      ctx.out.line(
        'Every data key is under the current master key: PEEP_MASTER_KEY_PREVIOUS can be removed (rolling restart). Keep the old key with the database backups taken before now.',
      );
    else if (r.previousKeyId)
      ctx.out.line(
        'Every data key is under the new master key; the old one was removed from the data directory. Back up the new master.key now, and keep the old key with backups taken before now.',
      );
  });
  if (r.failed.length)
    throw new CliError(
      EXIT.failure,
      'rewrap_incomplete',
      `${r.failed.length} data keys could not be re-wrapped under master key ${r.masterKeyId}`,
      { details: r.failed },
    );
}
