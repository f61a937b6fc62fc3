/**
 * Environment variables (docs/environments.md): the rules behind the routes. Reads check the
 * environment's policy (list: readRole; secret values: revealRole), writes go through
 * assertCanChange (freeze, approval, role) and store.applyChange. References are expanded here:
 * within the service view asked for, and `${env.KEY}` in another environment of the project, which
 * the caller must be allowed to read there (and to reveal there when the value used is secret).
 */
import { AppError, type Db, type Logger } from '@peep/pkg';
import { serializeDotenv } from '@peep/pkg/dotenv';
import { type Expanded, expandRefs, RefError, refsOf } from '@peep/pkg/env-refs';
import { MasterKeyError } from '@peep/pkg/master-key';
import type { MasterKeys } from '@peep/pkg/project-keys';
import type { Project } from '@peep/pkg/schemas';
import type { Clock } from '../core/types.js';
import {
  assertCanChange,
  assertCanRead,
  assertCanReveal,
  type EnvRow,
  effectivePolicy,
  findEnvironment,
  listEnvironments,
  policyView,
} from './policy.js';
import {
  type ApplyResult,
  applyChange,
  parseImport,
  readVarSet,
  type SetItem,
  type UnsetItem,
  type Var,
  type VersionKind,
} from './store.js';

export interface Actor {
  id: string;
  email: string;
}

/** A variable as the API answers it: secret values are null unless revealed. */
export interface VarOut {
  key: string;
  service: string;
  secret: boolean;
  value: string | null;
  size: number;
  updatedVersion: number;
}

export interface DiffItem {
  key: string;
  service: string;
  secret: boolean;
  value: string | null;
}
export interface DiffChanged {
  key: string;
  service: string;
  secret: boolean;
  from: string | null;
  to: string | null;
}
export interface DiffOut {
  left: { environment: string; version: number };
  right: { environment: string; version: number };
  added: DiffItem[];
  removed: DiffItem[];
  changed: DiffChanged[];
  unchanged: number;
}

/** What an audited read touched, for audit_log.details (keys, never values). */
export interface Touched {
  keys: string[];
  service: string | null;
  version: number;
}

const VERSIONS_MAX = 200;

export function createEnvService(deps: { db: Db; keys: MasterKeys; clock: Clock; log: Logger }) {
  const { db, keys, clock, log } = deps;

  /** A master key that cannot be loaded is an operator problem: 503 without details of the key. */
  async function withKeys<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      if (e instanceof MasterKeyError) {
        log.error(
          { code: e.code, err: e.message },
          'master key unavailable: variables cannot be sealed or opened',
        );
        throw new AppError('service_unavailable', `Variables cannot be sealed or opened: ${e.message}`);
      }
      if (e instanceof AppError && e.code === 'sealed_value_unreadable') {
        const d = e.details as { environmentId: string; key: string; service: string; reason: string };
        log.error(d, 'a stored variable value does not open with the project key');
      }
      throw e;
    }
  }

  const read = (project: Project, env: EnvRow, opts: { version?: number; service?: string } = {}) =>
    withKeys(() => readVarSet(db, keys, { projectId: project.id, environmentId: env.id, ...opts }));

  /**
   * Expands references of `vars` (one service view of `env`). Other environments are loaded as
   * their references are reached; each needs readRole there (403 forbidden naming it).
   */
  async function resolve(
    project: Project,
    env: EnvRow,
    vars: Var[],
    view: string,
    only?: ReadonlySet<string>,
  ): Promise<Map<string, Expanded>> {
    const sets = new Map<string, Map<string, Var>>([[env.slug, new Map(vars.map((v) => [v.key, v]))]]);
    const tried = new Set<string>([env.slug]);
    let envs: EnvRow[] | null = null;
    const seen = new Set<string>();
    const queue: { env: string; value: string }[] = [];
    const push = (slug: string, v: Var) => {
      const id = `${slug}.${v.key}`;
      if (seen.has(id)) return;
      seen.add(id);
      queue.push({ env: slug, value: v.value });
    };
    for (const v of vars) if (!only || only.has(v.key)) push(env.slug, v);
    for (let item = queue.pop(); item; item = queue.pop()) {
      for (const r of refsOf(item.value)) {
        const target = r.env ?? item.env;
        if (!tried.has(target)) {
          tried.add(target);
          envs ??= await listEnvironments(db, project.id);
          const other = envs.find((e) => e.slug === target);
          if (other) {
            await assertCanRead(db, project, other);
            const set = await read(project, other, { service: view });
            sets.set(target, new Map(set.vars.map((v) => [v.key, v])));
          }
        }
        const hit = sets.get(target)?.get(r.key);
        if (hit) push(target, hit);
      }
    }
    try {
      return expandRefs(
        vars.filter((v) => !only || only.has(v.key)).map((v) => v.key),
        env.slug,
        (e, k) => sets.get(e)?.get(k),
      );
    } catch (e) {
      if (e instanceof RefError)
        throw new AppError(
          e.kind === 'missing' ? 'reference_missing' : 'reference_cycle',
          e.message,
          e.details,
        );
      throw e;
    }
  }

  /** 403 unless the caller may reveal secrets of every other environment whose secret was used. */
  async function assertCanRevealUsed(project: Project, expanded: Iterable<Expanded>) {
    const secretEnvs = new Set<string>();
    for (const x of expanded) for (const [slug, u] of x.used) if (u.secret) secretEnvs.add(slug);
    if (!secretEnvs.size) return;
    const envs = await listEnvironments(db, project.id);
    for (const slug of secretEnvs) {
      const e = envs.find((x) => x.slug === slug);
      if (e) assertCanReveal(await effectivePolicy(db, e), project.role, e);
    }
  }

  const out = (v: Var, reveal: boolean, x?: Expanded): VarOut => {
    const secret = x?.secret ?? v.secret;
    const value = x?.value ?? v.value;
    return {
      key: v.key,
      service: v.service,
      secret,
      value: secret && !reveal ? null : value,
      size: x ? Buffer.byteLength(value, 'utf8') : v.size,
      updatedVersion: v.updatedVersion,
    };
  };

  /** Resolved outputs of one view's variables. */
  async function viewOut(project: Project, env: EnvRow, vars: Var[], view: string, doResolve: boolean) {
    const x = doResolve ? await resolve(project, env, vars, view) : null;
    return vars.map((v) => out(v, false, x?.get(v.key)));
  }

  async function change(
    project: Project,
    env: EnvRow,
    actor: Actor,
    input: {
      baseVersion: number;
      message: string;
      set?: SetItem[];
      unset?: UnsetItem[];
      kind: VersionKind;
      replaceServices?: string[];
      restoredVersion?: number;
    },
  ): Promise<ApplyResult> {
    await assertCanChange(db, { project, environment: env, at: clock.now() });
    return withKeys(() =>
      db.transaction((tx) =>
        applyChange(tx, keys, { ...input, projectId: project.id, environmentId: env.id, actor }),
      ),
    );
  }

  /** Values of the keys asked for (all of the view without `keys`); audited by the route. */
  async function reveal(
    project: Project,
    env: EnvRow,
    q: { keys?: string[]; service?: string; version?: number; resolve?: boolean },
  ): Promise<{ version: number; values: Record<string, string>; touched: Touched }> {
    const policy = await assertCanRead(db, project, env);
    const view = q.service ?? '';
    const set = await read(project, env, { version: q.version, service: view });
    const wanted = q.keys ? new Set(q.keys) : null;
    if (wanted) {
      const have = new Set(set.vars.map((v) => v.key));
      const missing = [...wanted].filter((k) => !have.has(k));
      if (missing.length)
        throw new AppError(
          'variable_not_found',
          `Not set in ${env.slug}${view ? ` for service ${view}` : ''}: ${missing.join(', ')}.`,
          missing.map((key) => ({ key, service: view })),
        );
    }
    const chosen = set.vars.filter((v) => !wanted || wanted.has(v.key));
    const x = q.resolve
      ? await resolve(project, env, set.vars, view, new Set(chosen.map((v) => v.key)))
      : null;
    if (chosen.some((v) => x?.get(v.key)?.secret ?? v.secret)) assertCanReveal(policy, project.role, env);
    if (x) await assertCanRevealUsed(project, x.values());
    const values: Record<string, string> = {};
    for (const v of chosen) values[v.key] = x?.get(v.key)?.value ?? v.value;
    return {
      version: set.version,
      values,
      touched: { keys: chosen.map((v) => v.key), service: q.service ?? null, version: set.version },
    };
  }

  return {
    environment: (project: Project, ref: string) => findEnvironment(db, project.id, ref),

    async list(project: Project, env: EnvRow, q: { service?: string; version?: number; resolve?: boolean }) {
      const policy = await assertCanRead(db, project, env);
      const set = await read(project, env, { version: q.version, service: q.service });
      const base = {
        environment: { id: env.id, slug: env.slug, name: env.name },
        version: set.version,
        policy: policyView(policy, project.role),
      };
      if (q.service !== undefined)
        return { ...base, vars: await viewOut(project, env, set.vars, q.service, q.resolve === true) };
      const wide = set.vars.filter((v) => v.service === '');
      const overrides: VarOut[] = [];
      const byService = new Map<string, Var[]>();
      for (const v of set.vars)
        if (v.service !== '') byService.set(v.service, [...(byService.get(v.service) ?? []), v]);
      for (const [service, own] of byService) {
        if (!q.resolve) {
          overrides.push(...own.map((v) => out(v, false)));
          continue;
        }
        const ownKeys = new Set(own.map((v) => v.key));
        const viewVars = [...wide.filter((v) => !ownKeys.has(v.key)), ...own];
        const x = await resolve(project, env, viewVars, service, ownKeys);
        overrides.push(...own.map((v) => out(v, false, x.get(v.key))));
      }
      return { ...base, vars: await viewOut(project, env, wide, '', q.resolve === true), overrides };
    },

    reveal,

    /** Every variable of the view, resolved by default (`peep run`, `env pull`). */
    async export(
      project: Project,
      env: EnvRow,
      q: { service?: string; resolve?: boolean; format?: 'json' | 'dotenv' },
    ): Promise<{ version: number; values: Record<string, string>; dotenv?: string; touched: Touched }> {
      const r = await reveal(project, env, { service: q.service, resolve: q.resolve ?? true });
      return q.format === 'dotenv'
        ? { ...r, dotenv: serializeDotenv(Object.entries(r.values).map(([key, value]) => ({ key, value }))) }
        : r;
    },
    change: (
      project: Project,
      env: EnvRow,
      actor: Actor,
      body: { baseVersion: number; message: string; set?: SetItem[]; unset?: UnsetItem[] },
    ) => change(project, env, actor, { ...body, kind: 'change' }),

    async import(
      project: Project,
      env: EnvRow,
      actor: Actor,
      body: {
        baseVersion: number;
        message: string;
        format: 'dotenv' | 'json';
        content: string;
        service?: string;
        secret?: boolean;
        replace?: boolean;
      },
    ): Promise<ApplyResult> {
      const entries = parseImport(body.content, body.format);
      const service = body.service ?? '';
      return change(project, env, actor, {
        baseVersion: body.baseVersion,
        message: body.message,
        kind: 'import',
        set: entries.map((e) => ({
          key: e.key,
          value: e.value,
          service,
          ...(body.secret !== undefined ? { secret: body.secret } : {}),
        })),
        replaceServices: body.replace ? [service] : undefined,
      });
    },

    /** A new version equal to `toVersion` (every scope: environment-wide and overrides). */
    async rollback(
      project: Project,
      env: EnvRow,
      actor: Actor,
      body: { toVersion: number; baseVersion: number; message?: string },
    ): Promise<ApplyResult> {
      if (body.toVersion < 1) throw new AppError('version_not_found', 'Versions start at 1.');
      const target = await read(project, env, { version: body.toVersion });
      const now = await read(project, env);
      const wanted = new Set(target.vars.map((v) => `${v.service}\u0000${v.key}`));
      return change(project, env, actor, {
        baseVersion: body.baseVersion,
        message: body.message ?? `Roll back to version ${body.toVersion}`,
        kind: 'rollback',
        restoredVersion: body.toVersion,
        set: target.vars.map((v) => ({ key: v.key, value: v.value, secret: v.secret, service: v.service })),
        unset: now.vars
          .filter((v) => !wanted.has(`${v.service}\u0000${v.key}`))
          .map((v) => ({ key: v.key, service: v.service })),
      });
    },

    async versions(project: Project, env: EnvRow, q: { cursor?: string; limit?: number }) {
      await assertCanRead(db, project, env);
      let before = 2 ** 31 - 1;
      if (q.cursor) {
        const decoded = Buffer.from(q.cursor, 'base64url').toString('utf8');
        if (!/^\d{1,10}$/.test(decoded)) throw new AppError('invalid_cursor');
        before = Number(decoded);
      }
      const limit = Math.min(q.limit ?? 50, VERSIONS_MAX);
      const rows = await versionRows(db, env.id, { before, limit: limit + 1 });
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      return {
        versions: page,
        nextCursor:
          rows.length > limit && last ? Buffer.from(String(last.number)).toString('base64url') : null,
      };
    },

    async version(project: Project, env: EnvRow, number: number) {
      await assertCanRead(db, project, env);
      const [row] = await versionRows(db, env.id, { exact: number, limit: 1 });
      if (!row) throw new AppError('version_not_found', `${env.slug} has no version ${number}.`);
      const set = await read(project, env, { version: number });
      return { version: row, vars: set.vars.map((v) => out(v, false)) };
    },

    /** Two sides (environment and version), compared variable by variable. */
    async diff(
      project: Project,
      left: { env: EnvRow; version?: number },
      right: { env: EnvRow; version?: number },
      q: { service?: string; reveal?: boolean },
    ): Promise<{ diff: DiffOut; touched: Touched | null }> {
      const lp = await assertCanRead(db, project, left.env);
      const rp = left.env.id === right.env.id ? lp : await assertCanRead(db, project, right.env);
      const [l, r] = await Promise.all([
        read(project, left.env, { version: left.version, service: q.service }),
        read(project, right.env, { version: right.version, service: q.service }),
      ]);
      const reveal = q.reveal === true;
      if (reveal) {
        const secret = (vs: Var[]) => vs.some((v) => v.secret);
        if (secret(l.vars)) assertCanReveal(lp, project.role, left.env);
        if (secret(r.vars)) assertCanReveal(rp, project.role, right.env);
      }
      const id = (v: Var) => (q.service ? v.key : `${v.service}\u0000${v.key}`);
      const lm = new Map(l.vars.map((v) => [id(v), v]));
      const rm = new Map(r.vars.map((v) => [id(v), v]));
      const show = (v: Var, secret: boolean) => (secret && !reveal ? null : v.value);
      const item = (v: Var): DiffItem => ({
        key: v.key,
        service: v.service,
        secret: v.secret,
        value: show(v, v.secret),
      });
      const diff: DiffOut = {
        left: { environment: left.env.slug, version: l.version },
        right: { environment: right.env.slug, version: r.version },
        added: [],
        removed: [],
        changed: [],
        unchanged: 0,
      };
      const touched = new Set<string>();
      for (const [k, rv] of rm) {
        const lv = lm.get(k);
        if (!lv) {
          diff.added.push(item(rv));
          touched.add(rv.key);
        } else if (lv.value !== rv.value || lv.secret !== rv.secret) {
          const secret = lv.secret || rv.secret;
          diff.changed.push({
            key: rv.key,
            service: rv.service,
            secret,
            from: show(lv, secret),
            to: show(rv, secret),
          });
          touched.add(rv.key);
        } else diff.unchanged++;
      }
      for (const [k, lv] of lm)
        if (!rm.has(k)) {
          diff.removed.push(item(lv));
          touched.add(lv.key);
        }
      const anySecret = [...diff.added, ...diff.removed, ...diff.changed].some((d) => d.secret);
      return {
        diff,
        touched:
          reveal && anySecret
            ? { keys: [...touched].sort(), service: q.service ?? null, version: r.version }
            : null,
      };
    },
  };
}
export type EnvService = ReturnType<typeof createEnvService>;

interface VersionRecord {
  number: number;
  kind: VersionKind;
  message: string;
  author_id: string | null;
  author_email: string | null;
  created_at: Date | string;
  changes: { key: string; service: string; op: string }[];
  restored_version: number | null;
  source_slug: string | null;
  source_version: number | null;
  proposal_id: string | null;
  proposal_number: number | null;
  approved_by: string | null;
  approved_email: string | null;
}

export interface VersionOut {
  number: number;
  kind: VersionKind;
  message: string;
  author: { id: string; email: string } | null;
  createdAt: string;
  changes: { key: string; service: string; op: string }[];
  restoredVersion: number | null;
  source: { environment: string | null; version: number } | null;
  proposal: { id: string; number: number | null } | null;
  approvedBy: { id: string; email: string | null } | null;
}

async function versionRows(
  db: Db,
  environmentId: string,
  q: { before?: number; exact?: number; limit: number },
): Promise<VersionOut[]> {
  const { rows } = await db.query<VersionRecord>(
    `SELECT v.number, v.kind, v.message, v.author_id, v.author_email, v.created_at, v.changes, v.restored_version,
            s.slug AS source_slug, v.source_version, v.proposal_id, p.number AS proposal_number,
            v.approved_by, u.email AS approved_email
       FROM env_versions v
       LEFT JOIN environments s ON s.id = v.source_environment_id
       LEFT JOIN env_proposals p ON p.id = v.proposal_id
       LEFT JOIN users u ON u.id = v.approved_by
      WHERE v.environment_id = $1 AND ${q.exact !== undefined ? 'v.number = $2' : 'v.number < $2'}
      ORDER BY v.number DESC LIMIT $3`,
    [environmentId, q.exact ?? q.before ?? 2 ** 31 - 1, q.limit],
  );
  return rows.map((r) => ({
    number: Number(r.number),
    kind: r.kind,
    message: r.message,
    author: r.author_id ? { id: r.author_id, email: r.author_email ?? '' } : null,
    createdAt: new Date(r.created_at).toISOString(),
    changes: r.changes,
    restoredVersion: r.restored_version,
    source:
      r.source_version !== null ? { environment: r.source_slug, version: Number(r.source_version) } : null,
    proposal: r.proposal_id ? { id: r.proposal_id, number: r.proposal_number } : null,
    approvedBy: r.approved_by ? { id: r.approved_by, email: r.approved_email } : null,
  }));
}
