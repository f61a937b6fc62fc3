/**
 * `POST /targets/apply` (config as code, `peep targets apply FILE.yaml`): make the project's targets
 * match a list. Every item is checked first (schema, environment, spec) and any bad one refuses the
 * whole request with one entry per problem; then, in one transaction serialized per project, missing
 * targets are created, differing ones updated (the diff names the fields), and with `prune` the ones
 * not in the list deleted. `dryRun` computes the same answer and changes nothing.
 *
 * Scope: with `env`, the list describes that environment only (items may repeat `env` but not name
 * another one); without it, each item names its environment and the list describes the whole project.
 */
import { AppError, type Db, type Queryable } from '@peep/pkg';
import type { Project } from '@peep/pkg/schemas';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { Clock } from '../core/types.js';
import {
  type ChangedTarget,
  type NewTarget,
  type StoredTarget,
  type TargetValues,
  targetsRepo,
} from './repo.js';
import { ApplyItem, type ApplyRequest, type ApplyResponse } from './schemas.js';
import {
  changedFields,
  newHeartbeatToken,
  normalizeSpec,
  PUBLISH_EACH_MAX,
  type TargetService,
  withDefaults,
} from './service.js';

const checkItem = TypeCompiler.Compile(ApplyItem);

export interface ItemError {
  index: number;
  name: string | null;
  code: string;
  message: string;
  details?: unknown;
}

interface Planned {
  index: number;
  values: TargetValues;
}

/** The schema's first complaint about an item, as one line. */
function schemaMessage(item: unknown): string | null {
  const e = checkItem.Errors(item).First();
  if (!e) return null;
  const where = e.path ? e.path.slice(1).replaceAll('/', '.') : 'item';
  return `${where}: ${e.message}`;
}

/** Checks every item; throws invalid_targets or duplicate_target, else returns the targets meant. */
async function plan(
  q: Queryable,
  projectId: string,
  req: ApplyRequest,
): Promise<{ items: Planned[]; scope: string | null }> {
  const envs = new Map((await targetsRepo.environments(q, projectId)).map((e) => [e.slug, e.id]));
  const scope = req.env ? envs.get(req.env) : null;
  if (scope === undefined)
    throw new AppError('environment_not_found', `The project has no environment "${req.env}".`);
  const errors: ItemError[] = [];
  const items: Planned[] = [];
  for (const [index, raw] of req.targets.entries()) {
    const rawName = (raw as { name?: unknown } | null)?.name;
    const name = typeof rawName === 'string' ? rawName : null;
    const fail = (code: string, message: string, details?: unknown) =>
      errors.push({ index, name, code, message, ...(details === undefined ? {} : { details }) });
    const bad = schemaMessage(raw);
    if (bad) {
      fail('validation_failed', bad);
      continue;
    }
    const item = raw as ApplyItem;
    const env = item.env ?? req.env;
    if (!env) {
      fail('validation_failed', 'env: each item needs an environment when the request has none');
      continue;
    }
    if (req.env && env !== req.env) {
      fail('validation_failed', `env: "${env}" is not the environment this apply is for ("${req.env}")`);
      continue;
    }
    const envId = envs.get(env);
    if (!envId) {
      fail('environment_not_found', `The project has no environment "${env}".`);
      continue;
    }
    const spec = normalizeSpec(item.kind, item.spec);
    if (!spec.ok) {
      const first = spec.errors[0];
      fail(
        'invalid_spec',
        `spec${first?.path ? `.${first.path}` : ''}: ${first?.message ?? 'invalid'}`,
        spec.errors,
      );
      continue;
    }
    items.push({ index, values: withDefaults(item, envId, spec.spec) });
  }
  if (errors.length)
    throw new AppError(
      'invalid_targets',
      `${errors.length} of ${req.targets.length} targets are invalid; nothing was applied.`,
      errors,
    );
  const seen = new Map<string, number>();
  const dups: { index: number; name: string; firstIndex: number }[] = [];
  for (const p of items) {
    const key = `${p.values.environmentId}\u0000${p.values.name}`;
    const first = seen.get(key);
    if (first === undefined) seen.set(key, p.index);
    else dups.push({ index: p.index, name: p.values.name, firstIndex: first });
  }
  if (dups.length)
    throw new AppError(
      'duplicate_target',
      `"${dups[0]?.name}" appears more than once (items ${dups[0]?.firstIndex} and ${dups[0]?.index}); nothing was applied.`,
      dups,
    );
  return { items, scope };
}

export function createApply(deps: { db: Db; clock: Clock; targets: TargetService }) {
  const { db, clock, targets } = deps;

  return async function apply(
    project: Project,
    userId: string,
    req: ApplyRequest,
  ): Promise<{ result: ApplyResponse; tokens: Record<string, string> }> {
    const dryRun = req.dryRun === true;
    let enqueued = 0;
    const run = async (q: Queryable) => {
      // Two applies of one project at once would each miss the other's targets.
      if (!dryRun)
        await q.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`targets.apply:${project.id}`]);
      const { items, scope } = await plan(q, project.id, req);
      const existing = await targetsRepo.all(q, project.id, scope);
      const byKey = new Map<string, StoredTarget>(
        existing.map((t) => [`${t.environmentId}\u0000${t.target.name}`, t]),
      );
      const create: NewTarget[] = [];
      const update: ChangedTarget[] = [];
      const diff: ApplyResponse['update'] = [];
      const tokens: Record<string, string> = {};
      let unchanged = 0;
      for (const { values } of items) {
        const key = `${values.environmentId}\u0000${values.name}`;
        const cur = byKey.get(key);
        byKey.delete(key);
        if (!cur) {
          const hb = values.kind === 'heartbeat' ? newHeartbeatToken() : null;
          if (hb) tokens[values.name] = hb.token;
          create.push({ values, heartbeatHash: hb?.hash ?? null, heartbeatPrefix: hb?.prefix ?? null });
          continue;
        }
        const changes = changedFields(cur.target, values);
        if (changes.length === 0) {
          unchanged++;
          continue;
        }
        diff.push({ name: values.name, changes });
        const was = cur.target.kind;
        const hb = values.kind === 'heartbeat' && was !== 'heartbeat' ? newHeartbeatToken() : null;
        if (hb) tokens[values.name] = hb.token;
        update.push({
          id: cur.target.id,
          values,
          ...(hb
            ? { heartbeatHash: hb.hash, heartbeatPrefix: hb.prefix }
            : values.kind !== 'heartbeat' && was === 'heartbeat'
              ? { heartbeatHash: null, heartbeatPrefix: null }
              : {}),
          resumed: values.enabled && !cur.target.enabled,
          paused: !values.enabled && cur.target.enabled,
        });
      }
      const remove = req.prune ? [...byKey.values()] : [];
      const touched = [...update.map((u) => u.id), ...remove.map((t) => t.target.id)];
      if (!dryRun) {
        const ids = await targetsRepo.insertMany(q, project.id, userId, create);
        if (!ids) throw new AppError('target_exists', 'A target was created meanwhile; apply again.');
        touched.push(...ids.map((i) => i.id));
        await targetsRepo.updateMany(q, project.id, update, clock.now());
        await targetsRepo.deleteMany(
          q,
          project.id,
          remove.map((t) => t.target.id),
        );
        // As pausing or deleting one target does: its open incidents cannot recover.
        enqueued += await targets.closeIncidentsOf(
          q,
          project.id,
          update.filter((u) => u.paused).map((u) => u.id),
          'target paused',
        );
        enqueued += await targets.closeIncidentsOf(
          q,
          project.id,
          remove.map((t) => t.target.id),
          'target deleted',
        );
      }
      const result: ApplyResponse = {
        dryRun,
        create: create.map((c) => c.values.name),
        update: diff,
        delete: remove.map((t) => t.target.name),
        unchanged,
      };
      return { result, tokens: dryRun ? {} : tokens, touched };
    };
    const out = dryRun ? await run(db) : await db.transaction(run);
    targets.wake(enqueued);
    // Many changes are cheaper for the scheduler to reload at once than one by one.
    if (!dryRun && out.touched.length > PUBLISH_EACH_MAX) targets.changed(project.id, null);
    else if (!dryRun) for (const id of out.touched) targets.changed(project.id, id);
    return { result: out.result, tokens: out.tokens };
  };
}
