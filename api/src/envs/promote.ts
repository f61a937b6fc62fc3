/**
 * Promotion (docs/environments-policy.md): copy chosen keys, with their values and secret flags,
 * from one environment to a later one of the project, after a preview. The planning and the
 * required-keys check are pure functions below; `createPromotionService` reads both sides, checks
 * policy and freezes, and applies the plan through the store or turns it into a proposal.
 *
 * Rules:
 * - `to` is the next environment in the project's order; a later one needs `skip: true`; an earlier
 *   one, or the same, is `invalid_promotion`.
 * - A promotion copies one scope: the environment-wide variables, or one service's overrides. Keys
 *   left out mean every key of that scope in the source. It never removes keys from the target.
 * - Values are copied as stored (references such as `${DATABASE_URL}` stay references).
 * - Required keys are checked on the result: the target's variables after the copy (for a service,
 *   the service's view: environment-wide values overlaid by its overrides).
 */
import { AppError, type Clock, type Db, type Queryable } from '@peep/pkg';
import { KEY_PATTERN } from '@peep/pkg/env-vars';
import { nestedQuantifier } from '@peep/pkg/probe-spec';
import type { MasterKeys } from '@peep/pkg/project-keys';
import type { Project } from '@peep/pkg/schemas';
import {
  activeFreeze,
  assertNotFrozen,
  atLeast,
  type EnvRow,
  effectivePolicy,
  type Freeze,
  findEnvironment,
  listEnvironments,
} from './policy.js';
import { MAX_PATTERN, MAX_REQUIRED_KEYS, requiredKeysRepo } from './policy-routes.js';
import { type Actor, maskDiff, type Proposal, type ProposalService, type SealedChange } from './proposals.js';
import { type ApplyResult, applyChange, readVarSet, readVars } from './store.js';

/** A variable with its plaintext value, as the store reads it. */
export interface PlainVar {
  key: string;
  service: string;
  secret: boolean;
  value: string;
}

export interface RequiredKey {
  key: string;
  pattern: string | null;
  description: string;
}

export interface RequiredKeyProblem {
  key: string;
  problem: 'missing' | 'pattern_mismatch';
}

/**
 * A required key's pattern as a RegExp (no flags, so `u` is off as the schema says), or a 400
 * `validation_failed` naming the key when it does not compile, is too long, or repeats a group
 * that repeats (`(a+)+`: catastrophic backtracking on a 64 KiB value).
 */
export function compilePattern(key: string, pattern: string): RegExp {
  const bad = (why: string) =>
    new AppError('validation_failed', `The pattern of ${key} ${why}.`, [{ key, problem: why }]);
  if (pattern.length === 0) throw bad('is empty (use null for no pattern)');
  if (pattern.length > MAX_PATTERN) throw bad(`is longer than ${MAX_PATTERN} characters`);
  if (nestedQuantifier(pattern)) throw bad('repeats a group that repeats, like (a+)+; unroll it');
  try {
    return new RegExp(pattern);
  } catch (e) {
    throw bad(`does not compile: ${(e as Error).message}`);
  }
}

/**
 * The list as it will be stored: names checked (400 invalid_key, with each bad name), no key twice
 * (400 duplicate_key), patterns compiled safely, sorted by key.
 */
export function checkRequiredKeyList(
  keys: { key: string; pattern?: string | null; description?: string }[],
): RequiredKey[] {
  if (keys.length > MAX_REQUIRED_KEYS)
    throw new AppError('validation_failed', `At most ${MAX_REQUIRED_KEYS} required keys per project.`);
  const badNames = keys.filter((k) => !KEY_PATTERN.test(k.key)).map((k) => ({ key: k.key }));
  if (badNames.length)
    throw new AppError(
      'invalid_key',
      'Key names are letters, digits and underscores, not starting with a digit, at most 256 characters.',
      badNames,
    );
  const seen = new Set<string>();
  const dup = new Set<string>();
  for (const k of keys) (seen.has(k.key) ? dup : seen).add(k.key);
  if (dup.size)
    throw new AppError(
      'duplicate_key',
      'A required key is listed more than once.',
      [...dup].map((key) => ({ key })),
    );
  const out = keys.map((k) => {
    const pattern = k.pattern ?? null;
    if (pattern !== null) compilePattern(k.key, pattern);
    return { key: k.key, pattern, description: k.description ?? '' };
  });
  return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/**
 * What is wrong with `values` (key → plaintext) against the required keys: a key absent, or a value
 * the pattern does not find a match in (patterns are searched, not anchored: write `^...$` to match
 * the whole value). A stored pattern that no longer compiles counts as a mismatch.
 */
export function checkRequiredKeys(
  required: RequiredKey[],
  values: ReadonlyMap<string, string>,
): RequiredKeyProblem[] {
  const problems: RequiredKeyProblem[] = [];
  for (const r of required) {
    const v = values.get(r.key);
    if (v === undefined) {
      problems.push({ key: r.key, problem: 'missing' });
      continue;
    }
    if (r.pattern === null) continue;
    let ok = false;
    try {
      ok = new RegExp(r.pattern).test(v);
    } catch {
      ok = false;
    }
    if (!ok) problems.push({ key: r.key, problem: 'pattern_mismatch' });
  }
  return problems;
}

export interface EnvOrder {
  id: string;
  slug: string;
  position: number;
}

/** 400 invalid_promotion unless `to` comes after `from` (right after it, unless `skip`). */
export function checkPromotionOrder(envs: EnvOrder[], fromId: string, toId: string, skip: boolean): void {
  const sorted = [...envs].sort((a, b) => a.position - b.position);
  const i = sorted.findIndex((e) => e.id === fromId);
  const j = sorted.findIndex((e) => e.id === toId);
  const from = sorted[i];
  const to = sorted[j];
  if (!from || !to) throw new AppError('invalid_promotion', 'Both environments must belong to the project.');
  if (i === j) throw new AppError('invalid_promotion', 'An environment cannot be promoted into itself.');
  if (j < i)
    throw new AppError(
      'invalid_promotion',
      `${to.slug} comes before ${from.slug} in the project's order; promotions go forward only.`,
    );
  if (j > i + 1 && !skip) {
    const between = sorted.slice(i + 1, j).map((e) => e.slug);
    throw new AppError(
      'invalid_promotion',
      `${to.slug} is not the next environment after ${from.slug} (${between.join(', ')} ${between.length > 1 ? 'come' : 'comes'} between); send "skip": true to promote past ${between.length > 1 ? 'them' : 'it'}.`,
    );
  }
}

export interface DiffEntry {
  key: string;
  service: string;
  secret: boolean;
  value: string | null;
}
export interface ChangedEntry {
  key: string;
  service: string;
  secret: boolean;
  from: string | null;
  to: string | null;
}

export interface PromotionPlan {
  /** What to write into the target: the copied variables that are new or differ. */
  set: { key: string; value: string; secret: boolean; service?: string }[];
  added: DiffEntry[];
  changed: ChangedEntry[];
  unchanged: number;
  /** The keys chosen (all of the scope when none were named). */
  keys: string[];
}

/**
 * The plan of copying `keys` (all when undefined) of one scope from `source` to `target`, both the
 * variables of that scope only (service '' or one service). Values are plaintext here; the caller
 * masks them for the answer. 404 variable_not_found (details: the keys) when a named key is not in
 * the source.
 */
export function planPromotion(
  source: PlainVar[],
  target: PlainVar[],
  keys: string[] | undefined,
  service: string,
): PromotionPlan {
  const src = new Map(source.filter((v) => v.service === service).map((v) => [v.key, v]));
  const dst = new Map(target.filter((v) => v.service === service).map((v) => [v.key, v]));
  const chosen = keys ? [...new Set(keys)] : [...src.keys()];
  const missing = chosen.filter((k) => !src.has(k));
  if (missing.length)
    throw new AppError(
      'variable_not_found',
      `Not in the source environment${service ? ` for service ${service}` : ''}: ${missing.join(', ')}.`,
      missing.map((key) => ({ key, service })),
    );
  chosen.sort();
  const plan: PromotionPlan = { set: [], added: [], changed: [], unchanged: 0, keys: chosen };
  for (const key of chosen) {
    const s = src.get(key) as PlainVar;
    const d = dst.get(key);
    if (d && d.value === s.value && d.secret === s.secret) {
      plan.unchanged++;
      continue;
    }
    plan.set.push({ key, value: s.value, secret: s.secret, ...(service ? { service } : {}) });
    if (!d) plan.added.push({ key, service, secret: s.secret, value: s.value });
    else plan.changed.push({ key, service, secret: s.secret || d.secret, from: d.value, to: s.value });
  }
  return plan;
}

/**
 * The values a service (or the whole environment, service '') sees after `set` is written over
 * `vars`: environment-wide values overlaid by the service's overrides.
 */
export function resultingView(
  vars: PlainVar[],
  set: { key: string; value: string; service?: string }[],
  service: string,
): Map<string, string> {
  const scope = (s: string) => {
    const m = new Map(vars.filter((v) => v.service === s).map((v) => [v.key, v.value]));
    for (const c of set) if ((c.service ?? '') === s) m.set(c.key, c.value);
    return m;
  };
  const view = scope('');
  if (service) for (const [k, v] of scope(service)) view.set(k, v);
  return view;
}

/**
 * 422 required_keys_missing (details: each key and its problem) when writing `change` into `env`
 * would leave a required key missing or not matching its pattern, in each scope the change touches.
 */
export async function assertRequiredKeys(q: Queryable, keys: MasterKeys, env: EnvRow, change: SealedChange) {
  const required = await requiredKeysRepo.list(q, env.projectId);
  if (required.length === 0) return;
  const vars = await readVars(q, keys, { projectId: env.projectId, environmentId: env.id });
  const scopes = new Set(['', ...change.set.map((c) => c.service)]);
  const problems = [...scopes].flatMap((service) =>
    checkRequiredKeys(required, resultingView(vars, change.set, service)).map((p) => ({
      ...p,
      ...(service ? { service } : {}),
    })),
  );
  if (problems.length) throw requiredKeysMissing(env, problems);
}

const requiredKeysMissing = (env: EnvRow, problems: RequiredKeyProblem[]) =>
  new AppError(
    'required_keys_missing',
    `After this promotion ${env.slug} would lack required keys or hold values not matching their pattern: ${problems
      .map((p) => `${p.key} (${p.problem === 'missing' ? 'missing' : 'does not match'})`)
      .join(', ')}.`,
    problems,
  );

export interface PromoteInput {
  to: string;
  keys?: string[];
  service?: string;
  baseVersion?: number;
  message?: string;
  dryRun?: boolean;
  skip?: boolean;
}

export interface PromotionPreview {
  from: { environment: string; version: number };
  to: { environment: string; version: number };
  diff: {
    added: DiffEntry[];
    removed: DiffEntry[];
    changed: ChangedEntry[];
    unchanged: number;
  };
  requiredKeys: { ok: boolean; problems: RequiredKeyProblem[] };
  frozen: Freeze | null;
  mode: 'apply' | 'propose';
}

export type PromoteOutcome =
  | { kind: 'preview'; preview: PromotionPreview; keys: string[]; to: EnvRow }
  | { kind: 'applied'; result: ApplyResult; keys: string[]; to: EnvRow; fromVersion: number }
  | { kind: 'proposed'; proposal: Proposal; keys: string[]; to: EnvRow; fromVersion: number };

export function createPromotionService(deps: {
  db: Db;
  clock: Clock;
  keys: MasterKeys;
  proposals: ProposalService;
}) {
  const { db, clock, keys, proposals } = deps;
  return {
    /**
     * Previews (dryRun) or performs a promotion from `from`. The caller needs readRole on the
     * source (revealRole when a secret is copied) and changeRole on the target to apply, or
     * proposeRole to have it proposed instead (403 forbidden otherwise).
     */
    async promote(
      project: Project,
      from: EnvRow,
      actor: Actor,
      input: PromoteInput,
    ): Promise<PromoteOutcome> {
      const to = await findEnvironment(db, project.id, input.to);
      checkPromotionOrder(await listEnvironments(db, project.id), from.id, to.id, input.skip === true);
      const service = input.service ?? '';
      const [srcPolicy, dstPolicy] = await Promise.all([effectivePolicy(db, from), effectivePolicy(db, to)]);
      const deny = (what: string, env: EnvRow, role: string) =>
        new AppError(
          'forbidden',
          `${what} ${env.slug} needs the ${role} role or higher; you are ${project.role}.`,
        );
      if (!atLeast(project.role, srcPolicy.readRole)) throw deny('Reading', from, srcPolicy.readRole);
      const mode = atLeast(project.role, dstPolicy.changeRole)
        ? 'apply'
        : atLeast(project.role, dstPolicy.proposeRole)
          ? 'propose'
          : null;
      if (!mode) throw deny('Promoting into', to, dstPolicy.proposeRole);

      const scope = service ? { service } : {};
      const [src, dst] = await Promise.all([
        readVarSet(db, keys, { projectId: project.id, environmentId: from.id, ...scope }),
        readVarSet(db, keys, { projectId: project.id, environmentId: to.id }),
      ]);
      if (input.baseVersion !== undefined && input.baseVersion !== dst.version)
        throw new AppError(
          'version_conflict',
          `${to.slug} is at version ${dst.version}, not ${input.baseVersion}; preview the promotion again.`,
          { currentVersion: dst.version },
        );
      const plan = planPromotion(src.vars, dst.vars, input.keys, service);
      if (plan.set.some((s) => s.secret) && !atLeast(project.role, srcPolicy.revealRole))
        throw deny('Copying secret values out of', from, srcPolicy.revealRole);
      const required = await requiredKeysRepo.list(db, project.id);
      const problems = checkRequiredKeys(required, resultingView(dst.vars, plan.set, service));
      const change: SealedChange = {
        set: plan.set.map((s) => ({ key: s.key, value: s.value, secret: s.secret, service })),
        unset: [],
      };
      const base = { keys: plan.keys, to, fromVersion: src.version };

      if (input.dryRun) {
        const masked = maskDiff({
          added: plan.added,
          removed: [],
          changed: plan.changed,
          unchanged: plan.unchanged,
        });
        return {
          kind: 'preview',
          ...base,
          preview: {
            from: { environment: from.slug, version: src.version },
            to: { environment: to.slug, version: dst.version },
            diff: { added: masked.added, removed: [], changed: masked.changed, unchanged: masked.unchanged },
            requiredKeys: { ok: problems.length === 0, problems },
            frozen: await activeFreeze(db, to.id, clock.now()),
            mode,
          },
        };
      }
      if (problems.length) throw requiredKeysMissing(to, problems);
      const message = input.message ?? `Promote ${plan.keys.length} key(s) from ${from.slug}@${src.version}`;
      const source = { environmentId: from.id, version: src.version };
      if (change.set.length === 0)
        return { kind: 'applied', ...base, result: { version: dst.version, changes: [] } };
      if (mode === 'propose') {
        const proposal = await proposals.create(project, to, actor, {
          kind: 'promotion',
          baseVersion: dst.version,
          message,
          change,
          source,
        });
        return { kind: 'proposed', ...base, proposal };
      }
      const result = await db.transaction(async (tx) => {
        await assertNotFrozen(tx, to, clock.now());
        return applyChange(tx, keys, {
          projectId: project.id,
          environmentId: to.id,
          baseVersion: dst.version,
          set: change.set,
          kind: 'promotion',
          message,
          actor,
          source,
        });
      });
      return { kind: 'applied', ...base, result };
    },
  };
}
