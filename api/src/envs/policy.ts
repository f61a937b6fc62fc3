/**
 * Who may do what with an environment's variables (docs/environments.md#policy): the effective
 * policy (the environment's row in env_policies, else the defaults), freeze windows, and the checks
 * the routes make. Roles are minimums in viewer < developer < admin < owner.
 *
 * Defaults: production-like environments (slug `prod` or `production`, or the last environment of
 * the project's order when none is so named) read viewer, reveal admin, change admin, propose
 * developer, approve admin; the others read viewer, reveal developer, change developer, propose
 * developer, approve admin. So developers change dev and staging but only propose to prod.
 */
import { AppError, type Queryable } from '@peep/pkg';
import type { Project, Role } from '@peep/pkg/schemas';
import { ROLE_RANK } from '../projects/service.js';
import { freezeAt } from './policy-routes.js';

export interface EffectivePolicy {
  readRole: Role;
  revealRole: Role;
  changeRole: Role;
  proposeRole: Role;
  approveRole: 'admin' | 'owner';
}

/** The policy as the caller sees it (GET vars answers this). */
export interface PolicyView extends EffectivePolicy {
  role: Role;
  canRead: boolean;
  canReveal: boolean;
  canChange: boolean;
  canPropose: boolean;
  canApprove: boolean;
}

export const PRODUCTION_DEFAULTS: EffectivePolicy = {
  readRole: 'viewer',
  revealRole: 'admin',
  changeRole: 'admin',
  proposeRole: 'developer',
  approveRole: 'admin',
};
export const DEFAULT_POLICY: EffectivePolicy = {
  readRole: 'viewer',
  revealRole: 'developer',
  changeRole: 'developer',
  proposeRole: 'developer',
  approveRole: 'admin',
};

/** An environment as the envs routes use it. */
export interface EnvRef {
  id: string;
  projectId: string;
  slug: string;
}
export interface EnvRow extends EnvRef {
  name: string;
  position: number;
  /** The newest version of its variable set (0: none yet). */
  varVersion: number;
}

const ENV_COLS = 'id, slug, name, position, var_version';
type EnvRecord = { id: string; slug: string; name: string; position: number; var_version: number };
const toEnv = (r: EnvRecord, projectId: string): EnvRow => ({
  id: r.id,
  projectId,
  slug: r.slug,
  name: r.name,
  position: r.position,
  varVersion: Number(r.var_version),
});

/** An environment of the project by slug or id; 404 environment_not_found otherwise. */
export async function findEnvironment(q: Queryable, projectId: string, ref: string): Promise<EnvRow> {
  const { rows } = await q.query<EnvRecord>(
    `SELECT ${ENV_COLS} FROM environments WHERE project_id = $1 AND (slug = $2 OR id::text = lower($2))`,
    [projectId, ref],
  );
  const e = rows[0];
  if (!e) throw new AppError('environment_not_found', `The project has no environment "${ref}".`);
  return toEnv(e, projectId);
}

/** The project's environments in their order. */
export async function listEnvironments(q: Queryable, projectId: string): Promise<EnvRow[]> {
  const { rows } = await q.query<EnvRecord>(
    `SELECT ${ENV_COLS} FROM environments WHERE project_id = $1 ORDER BY position, created_at`,
    [projectId],
  );
  return rows.map((r) => toEnv(r, projectId));
}

export const atLeast = (role: Role, min: Role): boolean => ROLE_RANK[role] >= ROLE_RANK[min];

/** The environment's policy: its own row, else the defaults for its kind. One query. */
export async function effectivePolicy(q: Queryable, env: EnvRef): Promise<EffectivePolicy> {
  const { rows } = await q.query<{
    read_role: Role | null;
    reveal_role: Role | null;
    change_role: Role | null;
    propose_role: Role | null;
    approve_role: 'admin' | 'owner' | null;
    production_like: boolean;
  }>(
    `SELECT p.read_role, p.reveal_role, p.change_role, p.propose_role, p.approve_role,
            ($3 IN ('prod', 'production') OR (
              NOT EXISTS (SELECT 1 FROM environments WHERE project_id = $2 AND slug IN ('prod', 'production'))
              AND $1::uuid = (SELECT id FROM environments WHERE project_id = $2
                               ORDER BY position DESC, created_at DESC LIMIT 1))) AS production_like
       FROM (SELECT 1) one LEFT JOIN env_policies p ON p.environment_id = $1`,
    [env.id, env.projectId, env.slug],
  );
  const r = rows[0];
  if (r?.read_role && r.reveal_role && r.change_role && r.propose_role && r.approve_role)
    return {
      readRole: r.read_role,
      revealRole: r.reveal_role,
      changeRole: r.change_role,
      proposeRole: r.propose_role,
      approveRole: r.approve_role,
    };
  return { ...(r?.production_like ? PRODUCTION_DEFAULTS : DEFAULT_POLICY) };
}

export function policyView(policy: EffectivePolicy, role: Role): PolicyView {
  return {
    ...policy,
    role,
    canRead: atLeast(role, policy.readRole),
    canReveal: atLeast(role, policy.revealRole),
    canChange: atLeast(role, policy.changeRole),
    canPropose: atLeast(role, policy.proposeRole),
    canApprove: atLeast(role, policy.approveRole),
  };
}

export interface Freeze {
  /** ISO time the freeze ends (the latest end among windows chained to the active one). */
  until: string;
  reason: string;
}

/** The freeze in force at `at`, or null. */
export async function activeFreeze(q: Queryable, environmentId: string, at: Date): Promise<Freeze | null> {
  const { rows } = await q.query<{ starts_at: Date | string; ends_at: Date | string; reason: string }>(
    'SELECT starts_at, ends_at, reason FROM env_freezes WHERE environment_id = $1 AND ends_at > $2',
    [environmentId, at],
  );
  if (rows.length === 0) return null;
  const f = freezeAt(
    rows.map((r) => ({ startsAt: new Date(r.starts_at), endsAt: new Date(r.ends_at), reason: r.reason })),
    at,
  );
  return f ? { until: f.until.toISOString(), reason: f.reason } : null;
}

/** 423 environment_frozen when a freeze is in force. */
export async function assertNotFrozen(q: Queryable, env: EnvRef & { slug: string }, at: Date): Promise<void> {
  const f = await activeFreeze(q, env.id, at);
  if (f)
    throw new AppError(
      'environment_frozen',
      `${env.slug} is frozen until ${f.until}${f.reason ? ` (${f.reason})` : ''}; changes are refused until then.`,
      f,
    );
}

const needs = (what: string, env: EnvRef, min: Role, role: Role) =>
  new AppError('forbidden', `${what} in ${env.slug} needs the ${min} role or higher; you are ${role}.`, {
    environment: env.slug,
    required: min,
    role,
  });

/** The policy, if the caller may list the environment's variables (403 forbidden otherwise). */
export async function assertCanRead(q: Queryable, project: Pick<Project, 'role'>, env: EnvRef) {
  const policy = await effectivePolicy(q, env);
  if (!atLeast(project.role, policy.readRole))
    throw needs('Reading variables', env, policy.readRole, project.role);
  return policy;
}

/** 403 forbidden unless the role may see secret values under the policy. */
export function assertCanReveal(policy: EffectivePolicy, role: Role, env: EnvRef): void {
  if (!atLeast(role, policy.revealRole)) throw needs('Seeing secret values', env, policy.revealRole, role);
}

/**
 * The policy, if the caller may apply a change to the environment directly now. Otherwise 403
 * forbidden when they may neither change nor propose, 403 approval_required when they may only
 * propose (proposing is allowed during a freeze), and 423 environment_frozen during a freeze.
 */
export async function assertCanChange(
  q: Queryable,
  input: { project: Pick<Project, 'role'>; environment: EnvRef; at?: Date },
): Promise<EffectivePolicy> {
  const { project, environment: env } = input;
  const policy = await effectivePolicy(q, env);
  if (!atLeast(project.role, policy.changeRole)) {
    if (atLeast(project.role, policy.proposeRole))
      throw new AppError(
        'approval_required',
        `Changes to ${env.slug} need the ${policy.changeRole} role; as ${project.role} you can propose this change for approval instead.`,
        { environment: env.slug, changeRole: policy.changeRole, proposeRole: policy.proposeRole },
      );
    throw needs('Changing variables', env, policy.changeRole, project.role);
  }
  await assertNotFrozen(q, env, input.at ?? new Date());
  return policy;
}
