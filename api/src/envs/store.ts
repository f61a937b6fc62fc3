/**
 * All SQL of environment variables and their versions (docs/environments.md). Rows of env_vars are
 * valid for versions [from_version, to_version); the current set is `to_version IS NULL`. Every
 * value, plain or secret, is sealed with the project's data key, AAD `var:<env id>:<service>:<key>`.
 *
 * - `readVars` / `readVarSet`: one query (the environment's version and the rows valid at the
 *   version asked), values opened with the cached project key. A value that does not open is 500
 *   sealed_value_unreadable naming the key (never garbage, never the value).
 * - `applyChange`: one transaction that locks the environment row, checks the base version, works
 *   out what actually changes, closes the old rows, inserts sealed new ones, records the version and
 *   bumps `var_version`. Validation and limits are checked before anything is written.
 */
import { AppError, type Queryable } from '@peep/pkg';
import { parseDotenv } from '@peep/pkg/dotenv';
import {
  defaultSecret,
  keyProblem,
  MAX_VARS_PER_SCOPE,
  serviceProblem,
  valueProblem,
  valueSize,
} from '@peep/pkg/env-vars';
import {
  type MasterKeys,
  openForProject,
  projectAad,
  projectKey,
  sealForProject,
} from '@peep/pkg/project-keys';
import { openText, SealError } from '@peep/pkg/seal';

export interface Var {
  key: string;
  /** '' for the whole environment, else the service this override is for. */
  service: string;
  secret: boolean;
  value: string;
  /** Bytes of the value (UTF-8). */
  size: number;
  /** The version that set this value. */
  updatedVersion: number;
}

export interface SetItem {
  key: string;
  value: string;
  /** Default: kept from the existing variable, else true for secret-looking names. */
  secret?: boolean;
  service?: string;
}
export interface UnsetItem {
  key: string;
  service?: string;
}
export type ChangeOp = 'added' | 'changed' | 'removed';
export interface Change {
  key: string;
  service: string;
  op: ChangeOp;
}
export type VersionKind = 'change' | 'import' | 'rollback' | 'promotion';

export interface ChangeInput {
  set?: SetItem[];
  unset?: UnsetItem[];
}

export interface ApplyInput extends ChangeInput {
  projectId: string;
  environmentId: string;
  baseVersion: number;
  kind: VersionKind;
  message: string;
  actor: { id: string; email: string } | null;
  /**
   * Replace the scope(s) named: every current variable of these services ('' = environment-wide)
   * that `set` does not name is removed (an import with `replace`).
   */
  replaceServices?: string[];
  restoredVersion?: number;
  source?: { environmentId: string; version: number };
  proposalId?: string;
  approvedBy?: string;
}

export interface ApplyResult {
  version: number;
  changes: Change[];
}

const purpose = (environmentId: string, service: string, key: string) =>
  `var:${environmentId}:${service}:${key}`;
const slot = (service: string, key: string) => `${service}\u0000${key}`;
const label = (service: string, key: string) => (service ? `${key} (service ${service})` : key);

export interface NormalSet {
  key: string;
  service: string;
  value: string;
  secret?: boolean;
}

/**
 * Checks a change before anything is read or written: key names, services, values (NUL, UTF-8,
 * size) and duplicates, each error listing every bad item in `details`. Returns the items with
 * `service` filled in.
 */
export function validateChange(input: ChangeInput): {
  set: NormalSet[];
  unset: { key: string; service: string }[];
} {
  const set = (input.set ?? []).map((s) => ({ ...s, service: s.service ?? '' }));
  const unset = (input.unset ?? []).map((u) => ({ key: u.key, service: u.service ?? '' }));
  const all = [...set, ...unset];
  const badKeys = all.flatMap((i) => {
    const p = keyProblem(i.key);
    return p ? [{ key: i.key, service: i.service, problem: p }] : [];
  });
  if (badKeys.length)
    throw new AppError(
      'invalid_key',
      `${badKeys.length === 1 ? 'A variable name is' : `${badKeys.length} variable names are`} not valid: ${badKeys
        .slice(0, 5)
        .map((b) => `"${b.key.slice(0, 64)}" (${b.problem})`)
        .join(
          ', ',
        )}. Names are letters, digits and underscores, not starting with a digit, at most 256 characters.`,
      badKeys,
    );
  const badServices = all.flatMap((i) => {
    const p = serviceProblem(i.service);
    return p ? [{ key: i.key, service: i.service, problem: p }] : [];
  });
  if (badServices.length)
    throw new AppError(
      'validation_failed',
      `Not a service slug: ${[...new Set(badServices.map((b) => `"${b.service.slice(0, 64)}"`))].join(', ')}.`,
      badServices,
    );
  for (const code of ['invalid_value', 'value_too_large'] as const) {
    const bad = set.flatMap((i) => {
      const p = valueProblem(i.value);
      return p?.code === code ? [{ key: i.key, service: i.service, problem: p.message }] : [];
    });
    if (bad.length)
      throw new AppError(
        code,
        `${bad.length === 1 ? 'A value cannot' : `${bad.length} values cannot`} be stored: ${bad
          .slice(0, 5)
          .map((b) => `${label(b.service, b.key)}: ${b.problem}`)
          .join('; ')}.`,
        bad,
      );
  }
  const seen = new Map<string, number>();
  for (const i of all) seen.set(slot(i.service, i.key), (seen.get(slot(i.service, i.key)) ?? 0) + 1);
  const dups = [...seen]
    .filter(([, n]) => n > 1)
    .map(([s]) => {
      const [service = '', key = ''] = s.split('\u0000');
      return { key, service };
    });
  if (dups.length)
    throw new AppError(
      'duplicate_key',
      `A change names each variable once; named more than once: ${dups.map((d) => label(d.service, d.key)).join(', ')}.`,
      dups,
    );
  return { set, unset };
}

/**
 * The entries of an import (`.env` or a JSON object of strings), in order, with line numbers for
 * `.env`. 400 invalid_dotenv listing every bad line; 400 duplicate_key listing repeated keys with
 * their lines. Key names and values are checked later by validateChange.
 */
export function parseImport(
  content: string,
  format: 'dotenv' | 'json',
): { key: string; value: string; line?: number }[] {
  let entries: { key: string; value: string; line?: number }[];
  if (format === 'json') {
    let doc: unknown;
    try {
      doc = JSON.parse(content);
    } catch (e) {
      throw new AppError('invalid_dotenv', `The content is not valid JSON: ${(e as Error).message}`, [
        { line: 1, message: 'not valid JSON' },
      ]);
    }
    if (!doc || typeof doc !== 'object' || Array.isArray(doc))
      throw new AppError('invalid_dotenv', 'A JSON import is an object of KEY: "value" pairs.', [
        { line: 1, message: 'not a JSON object' },
      ]);
    const bad: { key: string; problem: string }[] = [];
    entries = [];
    for (const [key, value] of Object.entries(doc)) {
      if (typeof value === 'string') entries.push({ key, value });
      else if (typeof value === 'number' || typeof value === 'boolean')
        entries.push({ key, value: String(value) });
      else bad.push({ key, problem: 'the value is not a string, number or boolean' });
    }
    if (bad.length)
      throw new AppError(
        'invalid_value',
        `JSON import values are strings (numbers and booleans are written as text): ${bad.map((b) => b.key).join(', ')}.`,
        bad,
      );
  } else {
    const { entries: parsed, problems } = parseDotenv(content);
    if (problems.length)
      throw new AppError(
        'invalid_dotenv',
        `The .env content has ${problems.length === 1 ? 'a bad line' : `${problems.length} bad lines`}: ${problems
          .slice(0, 5)
          .map((p) => `line ${p.line}: ${p.message}`)
          .join('; ')}.`,
        problems,
      );
    entries = parsed;
  }
  const lines = new Map<string, number[]>();
  for (const [i, e] of entries.entries()) lines.set(e.key, [...(lines.get(e.key) ?? []), e.line ?? i + 1]);
  const dups = [...lines].filter(([, l]) => l.length > 1).map(([key, l]) => ({ key, lines: l }));
  if (dups.length)
    throw new AppError(
      'duplicate_key',
      `The import sets ${dups.length === 1 ? 'a key' : `${dups.length} keys`} more than once: ${dups
        .slice(0, 5)
        .map((d) => `${d.key} (${format === 'dotenv' ? 'lines' : 'entries'} ${d.lines.join(', ')})`)
        .join('; ')}.`,
      dups,
    );
  return entries;
}

/** The environment's newest version (0: none yet); 404 environment_not_found. */
export async function currentVersion(q: Queryable, environmentId: string): Promise<number> {
  const { rows } = await q.query<{ var_version: number }>(
    'SELECT var_version FROM environments WHERE id = $1',
    [environmentId],
  );
  const r = rows[0];
  if (!r) throw new AppError('environment_not_found');
  return Number(r.var_version);
}

export interface ReadOptions {
  projectId: string;
  environmentId: string;
  /** Default: the current version. 0 is the empty set before the first change. */
  version?: number;
  /**
   * Undefined: every row (environment-wide and every override); '': environment-wide only; a
   * service slug: that service's view (environment-wide values overlaid by its overrides).
   */
  service?: string;
  /** Open only these keys' values (others come back with value ''); default all. */
  onlyKeys?: ReadonlySet<string>;
}

interface VarRow {
  var_version: number;
  service: string | null;
  key: string | null;
  secret: boolean | null;
  value_sealed: string | null;
  size: number | null;
  from_version: number | null;
}

/** The variables at a version, values opened, with the version read. 404 version_not_found. */
export async function readVarSet(
  q: Queryable,
  keys: MasterKeys,
  opts: ReadOptions,
): Promise<{ version: number; current: number; vars: Var[] }> {
  const params: unknown[] = [opts.environmentId, opts.projectId];
  let at = 'v.to_version IS NULL';
  if (opts.version !== undefined) {
    params.push(opts.version);
    at = 'v.from_version <= $3 AND (v.to_version IS NULL OR v.to_version > $3)';
  }
  let scope = '';
  if (opts.service !== undefined) {
    params.push(opts.service);
    scope = `AND v.service IN ('', $${params.length})`;
  }
  const { rows } = await q.query<VarRow>(
    `SELECT e.var_version, v.service, v.key, v.secret, v.value_sealed, v.size, v.from_version
       FROM environments e
       LEFT JOIN env_vars v ON v.environment_id = e.id AND ${at} ${scope}
      WHERE e.id = $1 AND e.project_id = $2
      ORDER BY v.key, v.service`,
    params,
  );
  const first = rows[0];
  if (!first) throw new AppError('environment_not_found');
  const current = Number(first.var_version);
  const version = opts.version ?? current;
  if (!Number.isInteger(version) || version < 0 || version > current)
    throw new AppError(
      'version_not_found',
      `The environment has versions 1 to ${current}; there is no version ${version}.`,
      { currentVersion: current },
    );
  const present = rows.filter((r) => r.key !== null);
  const dataKey = present.length ? await openProjectKey(q, keys, opts.projectId) : null;
  const vars: Var[] = [];
  for (const r of present) {
    const key = r.key as string;
    const service = r.service ?? '';
    let value = '';
    if (dataKey && (!opts.onlyKeys || opts.onlyKeys.has(key))) {
      try {
        value = openText(
          dataKey,
          r.value_sealed ?? '',
          projectAad(opts.projectId, purpose(opts.environmentId, service, key)),
        );
      } catch (e) {
        if (e instanceof SealError) throw unreadable(opts.environmentId, service, key, e);
        throw e;
      }
    }
    vars.push({
      key,
      service,
      secret: r.secret === true,
      value,
      size: Number(r.size),
      updatedVersion: Number(r.from_version),
    });
  }
  if (opts.service !== undefined && opts.service !== '') {
    // A service's view: its override hides the environment-wide variable of the same key.
    const overridden = new Set(vars.filter((v) => v.service !== '').map((v) => v.key));
    return { version, current, vars: vars.filter((v) => v.service !== '' || !overridden.has(v.key)) };
  }
  return { version, current, vars };
}

/** The variables at a version with plaintext values (see ReadOptions for `service`). */
export async function readVars(q: Queryable, keys: MasterKeys, opts: ReadOptions): Promise<Var[]> {
  return (await readVarSet(q, keys, opts)).vars;
}

/** The project's data key; one that does not unwrap (wrong master key, tampered) is sealed_value_unreadable. */
async function openProjectKey(q: Queryable, keys: MasterKeys, projectId: string) {
  try {
    return await projectKey(q, keys, projectId);
  } catch (e) {
    if (!(e instanceof SealError)) throw e;
    throw new AppError(
      'sealed_value_unreadable',
      `Data integrity failure: the project's data key does not open with the master key (${e.code}: ${e.message}); no variable of the project can be read until the right master key is configured.`,
      { projectId, reason: e.code },
    );
  }
}

function unreadable(environmentId: string, service: string, key: string, e: SealError): AppError {
  return new AppError(
    'sealed_value_unreadable',
    `Data integrity failure: the stored value of ${label(service, key)} in environment ${environmentId} does not open with the project key (tampered or wrong master key; ${e.code}).`,
    { environmentId, key, service, reason: e.code },
  );
}

interface CurrentRow {
  id: string | number;
  service: string;
  key: string;
  secret: boolean;
  size: number;
}

/**
 * Applies a change as a new version, in the caller's transaction. Checks (in this order) the
 * change itself, the base version (409 version_conflict with details.currentVersion), unsets of
 * missing variables (404 variable_not_found), the per-scope limit (too_many_variables). A change
 * that changes nothing writes nothing and answers the current version with no changes.
 */
export async function applyChange(tx: Queryable, keys: MasterKeys, input: ApplyInput): Promise<ApplyResult> {
  const { set, unset } = validateChange(input);
  const envId = input.environmentId;
  const locked = await tx.query<{ var_version: number }>(
    'SELECT var_version FROM environments WHERE id = $1 AND project_id = $2 FOR UPDATE',
    [envId, input.projectId],
  );
  const lockedRow = locked.rows[0];
  if (!lockedRow) throw new AppError('environment_not_found');
  const current = Number(lockedRow.var_version);
  if (input.baseVersion !== current)
    throw new AppError(
      'version_conflict',
      `The environment is at version ${current}, not ${input.baseVersion}: someone changed it meanwhile. Read it again and retry on version ${current}.`,
      { currentVersion: current },
    );

  const { rows } = await tx.query<CurrentRow>(
    'SELECT id, service, key, secret, size FROM env_vars WHERE environment_id = $1 AND to_version IS NULL',
    [envId],
  );
  const existing = new Map(rows.map((r) => [slot(r.service, r.key), r]));

  const missing = unset.filter((u) => !existing.has(slot(u.service, u.key)));
  if (missing.length)
    throw new AppError(
      'variable_not_found',
      `Nothing to unset: ${missing.map((m) => label(m.service, m.key)).join(', ')} ${missing.length === 1 ? 'is' : 'are'} not set in this environment.`,
      missing,
    );

  // Values of variables that might be set to the same value again, to recognize a no-op.
  const candidates = set.filter((s) => {
    const r = existing.get(slot(s.service, s.key));
    return r && (s.secret === undefined || s.secret === r.secret) && Number(r.size) === valueSize(s.value);
  });
  const sameValue = new Set<string>();
  if (candidates.length) {
    const ids = candidates.map((c) => String(existing.get(slot(c.service, c.key))?.id));
    const sealed = await tx.query<{ service: string; key: string; value_sealed: string }>(
      'SELECT service, key, value_sealed FROM env_vars WHERE id = ANY($1::bigint[])',
      [ids],
    );
    const candidateAt = new Map(candidates.map((c) => [slot(c.service, c.key), c]));
    for (const r of sealed.rows) {
      const s = candidateAt.get(slot(r.service, r.key));
      let old: string;
      try {
        old = await openForProject(
          tx,
          keys,
          input.projectId,
          r.value_sealed,
          purpose(envId, r.service, r.key),
        );
      } catch (e) {
        if (e instanceof SealError) throw unreadable(envId, r.service, r.key, e);
        throw e;
      }
      if (s && old === s.value) sameValue.add(slot(r.service, r.key));
    }
  }

  const changes: (Change & { value?: string; secret?: boolean })[] = [];
  const close: string[] = [];
  const named = new Set<string>();
  for (const s of set) {
    const sl = slot(s.service, s.key);
    named.add(sl);
    const old = existing.get(sl);
    if (old && sameValue.has(sl)) continue;
    if (old) close.push(String(old.id));
    changes.push({
      key: s.key,
      service: s.service,
      op: old ? 'changed' : 'added',
      value: s.value,
      secret: s.secret ?? old?.secret ?? defaultSecret(s.key),
    });
  }
  const removing = new Set(unset.map((u) => slot(u.service, u.key)));
  if (input.replaceServices)
    for (const r of rows)
      if (input.replaceServices.includes(r.service) && !named.has(slot(r.service, r.key)))
        removing.add(slot(r.service, r.key));
  for (const sl of removing) {
    const old = existing.get(sl);
    if (!old) continue;
    close.push(String(old.id));
    changes.push({ key: old.key, service: old.service, op: 'removed' });
  }
  if (changes.length === 0) return { version: current, changes: [] };

  // Per-scope limit on the result.
  const count = new Map<string, number>();
  for (const r of rows) count.set(r.service, (count.get(r.service) ?? 0) + 1);
  for (const c of changes)
    if (c.op !== 'changed') count.set(c.service, (count.get(c.service) ?? 0) + (c.op === 'added' ? 1 : -1));
  const over = [...count].filter(([, n]) => n > MAX_VARS_PER_SCOPE);
  if (over.length)
    throw new AppError(
      'too_many_variables',
      `At most ${MAX_VARS_PER_SCOPE} variables per scope; this change would leave ${over
        .map(([service, n]) => `${n} in ${service ? `service ${service}` : 'the environment'}`)
        .join(', ')}.`,
      over.map(([service, n]) => ({ service, count: n, limit: MAX_VARS_PER_SCOPE })),
    );

  const version = current + 1;
  const inserts = changes.filter((c) => c.op !== 'removed');
  const sealed = await Promise.all(
    inserts.map((c) =>
      sealForProject(tx, keys, input.projectId, c.value ?? '', purpose(envId, c.service, c.key)),
    ),
  );
  if (close.length)
    await tx.query('UPDATE env_vars SET to_version = $2 WHERE id = ANY($1::bigint[])', [close, version]);
  if (inserts.length)
    await tx.query(
      `INSERT INTO env_vars (project_id, environment_id, service, key, secret, value_sealed, size, from_version)
       SELECT $1, $2, s, k, sec, v, sz, $8
         FROM unnest($3::text[], $4::text[], $5::boolean[], $6::text[], $7::int[]) AS t(s, k, sec, v, sz)`,
      [
        input.projectId,
        envId,
        inserts.map((c) => c.service),
        inserts.map((c) => c.key),
        inserts.map((c) => c.secret === true),
        sealed,
        inserts.map((c) => valueSize(c.value ?? '')),
        version,
      ],
    );
  const summary: Change[] = changes
    .map((c) => ({ key: c.key, service: c.service, op: c.op }))
    .sort((a, b) => (a.service === b.service ? (a.key < b.key ? -1 : 1) : a.service < b.service ? -1 : 1));
  await tx.query(
    `INSERT INTO env_versions (environment_id, number, project_id, kind, message, author_id, author_email, changes,
                               restored_version, source_environment_id, source_version, proposal_id, approved_by)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10, $11, $12, $13)`,
    [
      envId,
      version,
      input.projectId,
      input.kind,
      input.message,
      input.actor?.id ?? null,
      input.actor?.email ?? null,
      JSON.stringify(summary),
      input.restoredVersion ?? null,
      input.source?.environmentId ?? null,
      input.source?.version ?? null,
      input.proposalId ?? null,
      input.approvedBy ?? null,
    ],
  );
  await tx.query('UPDATE environments SET var_version = $2 WHERE id = $1', [envId, version]);
  return { version, changes: summary };
}
