/**
 * Policy routes of environments (docs/environments-policy.md): each environment's policy (who reads,
 * reveals, changes, proposes and approves), its freeze windows, and the project's required keys.
 * Everyone in the project reads them; admins and owners change them. The rules that use them live in
 * policy.ts (effective policy, active freeze, may this caller change) and promote.ts (required keys).
 */
import { AppError, type Clock, type Db, type Queryable } from '@peep/pkg';
import { ProjectParams, Role, type Role as RoleName, type Static, Timestamp, Uuid } from '@peep/pkg/schemas';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { currentAuth } from '../core/auth.js';
import { errorResponses } from '../core/http.js';
import { iso, isoRequired } from '../core/types.js';
import type { ProjectService } from '../projects/service.js';
import { atLeast, type EffectivePolicy, type EnvRow, effectivePolicy, findEnvironment } from './policy.js';
import { checkRequiredKeyList, type RequiredKey } from './promote.js';

const strict = { additionalProperties: false } as const;
const tags = ['environments'];
const P = '/api/v1/projects/:projectId';

// ---- policy

export const POLICY_FIELDS = ['readRole', 'revealRole', 'changeRole', 'proposeRole', 'approveRole'] as const;

/**
 * 400 invalid_policy unless the policy is usable: approvals need admin or owner, and revealing,
 * changing or proposing needs at least the role that reads.
 */
export function checkPolicy(p: Record<(typeof POLICY_FIELDS)[number], RoleName>): EffectivePolicy {
  const approveRole = p.approveRole;
  if (approveRole !== 'admin' && approveRole !== 'owner')
    throw new AppError(
      'invalid_policy',
      'approveRole must be admin or owner: approvals come from admins or owners.',
    );
  for (const f of ['revealRole', 'changeRole', 'proposeRole'] as const)
    if (!atLeast(p[f], p.readRole))
      throw new AppError('invalid_policy', `${f} (${p[f]}) must be at least readRole (${p.readRole}).`);
  return {
    readRole: p.readRole,
    revealRole: p.revealRole,
    changeRole: p.changeRole,
    proposeRole: p.proposeRole,
    approveRole,
  };
}

const policyRepo = {
  async isSet(q: Queryable, environmentId: string): Promise<boolean> {
    const { rows } = await q.query('SELECT 1 FROM env_policies WHERE environment_id = $1', [environmentId]);
    return rows.length > 0;
  },
  async put(q: Queryable, env: EnvRow, p: EffectivePolicy, userId: string, now: Date): Promise<void> {
    await q.query(
      `INSERT INTO env_policies (environment_id, project_id, read_role, reveal_role, change_role, propose_role,
         approve_role, updated_by, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
       ON CONFLICT (environment_id) DO UPDATE SET read_role = $3, reveal_role = $4, change_role = $5,
         propose_role = $6, approve_role = $7, updated_by = $8, updated_at = $9`,
      [
        env.id,
        env.projectId,
        p.readRole,
        p.revealRole,
        p.changeRole,
        p.proposeRole,
        p.approveRole,
        userId,
        now,
      ],
    );
  },
  async remove(q: Queryable, environmentId: string): Promise<boolean> {
    const r = await q.query('DELETE FROM env_policies WHERE environment_id = $1', [environmentId]);
    return r.rowCount > 0;
  },
};

// ---- freezes

export const MAX_FREEZE_MS = 90 * 24 * 3600 * 1000;

export interface FreezeWindow {
  startsAt: Date;
  endsAt: Date;
  reason: string;
}

/**
 * The freeze in force at `at`: null when no window holds it, else the latest end among the windows
 * that overlap the active one (directly or through each other; touching windows count), and the
 * reason of the window active at `at` that ends last.
 */
export function freezeAt(windows: FreezeWindow[], at: Date): { until: Date; reason: string } | null {
  const t = at.getTime();
  const active = windows
    .filter((w) => w.startsAt.getTime() <= t && t < w.endsAt.getTime())
    .sort((a, b) => b.endsAt.getTime() - a.endsAt.getTime())[0];
  if (!active) return null;
  let until = active.endsAt.getTime();
  const later = windows
    .filter((w) => w.endsAt.getTime() > until)
    .sort((a, b) => a.startsAt.getTime() - b.startsAt.getTime());
  for (const w of later) if (w.startsAt.getTime() <= until) until = Math.max(until, w.endsAt.getTime());
  return { until: new Date(until), reason: active.reason };
}

/** 400 invalid_freeze_window unless the window ends after it starts, in the future, within 90 days. */
export function checkFreezeWindow(startsAt: Date, endsAt: Date, now: Date): void {
  const bad = (why: string) => new AppError('invalid_freeze_window', why);
  if (Number.isNaN(startsAt.getTime()) || Number.isNaN(endsAt.getTime()))
    throw bad('startsAt and endsAt must be dates.');
  if (endsAt.getTime() <= startsAt.getTime()) throw bad('The freeze window must end after it starts.');
  if (endsAt.getTime() <= now.getTime()) throw bad('The freeze window must end in the future.');
  if (endsAt.getTime() - startsAt.getTime() > MAX_FREEZE_MS)
    throw bad('A freeze window lasts at most 90 days.');
}

interface FreezeRecord {
  id: string;
  environment_id: string;
  starts_at: Date;
  ends_at: Date;
  reason: string;
  created_by: string | null;
  created_by_email: string | null;
  created_at: Date;
}

export function toFreeze(r: FreezeRecord, env: EnvRow, now: Date) {
  return {
    id: r.id,
    environment: { id: env.id, slug: env.slug },
    startsAt: isoRequired(r.starts_at),
    endsAt: isoRequired(r.ends_at),
    reason: r.reason,
    active: new Date(r.starts_at).getTime() <= now.getTime() && now.getTime() < new Date(r.ends_at).getTime(),
    createdBy: r.created_by && r.created_by_email ? { id: r.created_by, email: r.created_by_email } : null,
    createdAt: iso(r.created_at),
  };
}

const FREEZE_SELECT = `SELECT f.id, f.environment_id, f.starts_at, f.ends_at, f.reason, f.created_by,
    u.email AS created_by_email, f.created_at
  FROM env_freezes f LEFT JOIN users u ON u.id = f.created_by`;

export const freezesRepo = {
  async list(q: Queryable, environmentId: string, endedAfter: Date | null): Promise<FreezeRecord[]> {
    const { rows } = await q.query<FreezeRecord>(
      `${FREEZE_SELECT} WHERE f.environment_id = $1 AND ($2::timestamptz IS NULL OR f.ends_at > $2)
       ORDER BY f.starts_at, f.id LIMIT 1000`,
      [environmentId, endedAfter],
    );
    return rows;
  },
  async insert(q: Queryable, env: EnvRow, w: FreezeWindow, userId: string): Promise<string> {
    const { rows } = await q.query<{ id: string }>(
      `INSERT INTO env_freezes (project_id, environment_id, starts_at, ends_at, reason, created_by)
       VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
      [env.projectId, env.id, w.startsAt, w.endsAt, w.reason, userId],
    );
    return rows[0]?.id ?? '';
  },
  async get(q: Queryable, environmentId: string, id: string): Promise<FreezeRecord | null> {
    const { rows } = await q.query<FreezeRecord>(
      `${FREEZE_SELECT} WHERE f.environment_id = $1 AND f.id = $2`,
      [environmentId, id],
    );
    return rows[0] ?? null;
  },
  async remove(q: Queryable, environmentId: string, id: string): Promise<boolean> {
    const r = await q.query('DELETE FROM env_freezes WHERE environment_id = $1 AND id = $2', [
      environmentId,
      id,
    ]);
    return r.rowCount > 0;
  },
};

// ---- required keys (checked by promote.ts)

export const MAX_REQUIRED_KEYS = 500;
export const MAX_PATTERN = 500;

export const requiredKeysRepo = {
  async list(q: Queryable, projectId: string): Promise<RequiredKey[]> {
    const { rows } = await q.query<RequiredKey>(
      'SELECT key, pattern, description FROM env_required_keys WHERE project_id = $1 ORDER BY key',
      [projectId],
    );
    return rows;
  },
  async replace(q: Queryable, projectId: string, keys: RequiredKey[]): Promise<void> {
    await q.query('DELETE FROM env_required_keys WHERE project_id = $1', [projectId]);
    for (const k of keys)
      await q.query(
        'INSERT INTO env_required_keys (project_id, key, pattern, description) VALUES ($1, $2, $3, $4)',
        [projectId, k.key, k.pattern, k.description],
      );
  },
};

// ---- schemas

const Policy = Type.Object(
  {
    readRole: Role,
    revealRole: Role,
    changeRole: Role,
    proposeRole: Role,
    approveRole: Role,
  },
  strict,
);
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);
const PolicyResponse = Type.Object({ policy: Policy, isDefault: Type.Boolean() }, strict);
const FreezeSchema = Type.Object(
  {
    id: Uuid,
    environment: Type.Object({ id: Uuid, slug: Type.String() }, strict),
    startsAt: Timestamp,
    endsAt: Timestamp,
    reason: Type.String(),
    active: Type.Boolean(),
    createdBy: Nullable(Type.Object({ id: Uuid, email: Type.String() }, strict)),
    createdAt: Nullable(Timestamp),
  },
  strict,
);
const FreezeList = Type.Object(
  {
    freezes: Type.Array(FreezeSchema),
    frozen: Nullable(Type.Object({ until: Timestamp, reason: Type.String() }, strict)),
  },
  strict,
);
const RequiredKeyList = Type.Object(
  {
    keys: Type.Array(
      Type.Object(
        { key: Type.String(), pattern: Nullable(Type.String()), description: Type.String() },
        strict,
      ),
    ),
  },
  strict,
);
const EnvParams = Type.Object(
  { projectId: Uuid, env: Type.String({ minLength: 1, maxLength: 100 }) },
  strict,
);
const FreezeParams = Type.Object(
  { projectId: Uuid, env: Type.String({ minLength: 1, maxLength: 100 }), id: Uuid },
  strict,
);
const FreezeBody = Type.Object(
  {
    startsAt: Type.Optional(Timestamp),
    endsAt: Timestamp,
    reason: Type.Optional(Type.String({ maxLength: 500 })),
  },
  strict,
);
const FreezeQuery = Type.Object(
  { all: Type.Optional(Type.Boolean({ description: 'also windows that have ended' })) },
  strict,
);
const RequiredKeysBody = Type.Object(
  {
    keys: Type.Array(
      Type.Object(
        {
          key: Type.String({ minLength: 1, maxLength: 256 }),
          pattern: Type.Optional(Type.Union([Type.String({ maxLength: MAX_PATTERN }), Type.Null()])),
          description: Type.Optional(Type.String({ maxLength: 500 })),
        },
        strict,
      ),
      { maxItems: MAX_REQUIRED_KEYS },
    ),
  },
  strict,
);

type EnvReq = FastifyRequest<{ Params: Static<typeof EnvParams> }>;

export function registerPolicyRoutes(
  app: FastifyInstance,
  deps: { db: Db; clock: Clock; projects: ProjectService },
) {
  const { db, clock, projects } = deps;
  /** The project (at least `min`) and the environment named in the path; audit target set. */
  const envFor = async (req: EnvReq, min: RoleName) => {
    const project = await projects.access(currentAuth(req).user.id, req.params.projectId, min);
    const env = await findEnvironment(db, project.id, req.params.env);
    req.audit = {
      ...req.audit,
      projectId: project.id,
      environmentId: env.id,
      targetType: 'environment',
      targetId: env.id,
    };
    return { project, env };
  };
  const policyOf = async (env: EnvRow) => ({
    policy: await effectivePolicy(db, env),
    isDefault: !(await policyRepo.isSet(db, env.id)),
  });

  app.get<{ Params: Static<typeof EnvParams> }>(
    `${P}/envs/:env/policy`,
    {
      config: { auth: 'user' },
      schema: {
        tags,
        summary: "The environment's effective policy",
        params: EnvParams,
        response: { 200: PolicyResponse, ...errorResponses },
      },
    },
    async (req) => policyOf((await envFor(req, 'viewer')).env),
  );

  app.put<{ Params: Static<typeof EnvParams>; Body: Static<typeof Policy> }>(
    `${P}/envs/:env/policy`,
    {
      config: { auth: 'user', audit: 'env.policy' },
      schema: {
        tags,
        summary: 'Set the policy (admin or owner)',
        params: EnvParams,
        body: Policy,
        response: { 200: PolicyResponse, ...errorResponses },
      },
    },
    async (req) => {
      const { env } = await envFor(req, 'admin');
      const next = checkPolicy(req.body);
      const previous = await effectivePolicy(db, env);
      await policyRepo.put(db, env, next, currentAuth(req).user.id, clock.now());
      setDetails(req, { policy: next, previous });
      return policyOf(env);
    },
  );

  app.delete<{ Params: Static<typeof EnvParams> }>(
    `${P}/envs/:env/policy`,
    {
      config: { auth: 'user', audit: 'env.policy' },
      schema: {
        tags,
        summary: 'Back to the default policy',
        params: EnvParams,
        response: { 200: PolicyResponse, ...errorResponses },
      },
    },
    async (req) => {
      const { env } = await envFor(req, 'admin');
      const previous = await effectivePolicy(db, env);
      await policyRepo.remove(db, env.id);
      const out = await policyOf(env);
      setDetails(req, { policy: out.policy, previous, reset: true });
      return out;
    },
  );

  app.get<{ Params: Static<typeof EnvParams>; Querystring: Static<typeof FreezeQuery> }>(
    `${P}/envs/:env/freezes`,
    {
      config: { auth: 'user' },
      schema: {
        tags,
        summary: 'Freeze windows not yet ended (all=true: every one), earliest first',
        params: EnvParams,
        querystring: FreezeQuery,
        response: { 200: FreezeList, ...errorResponses },
      },
    },
    async (req) => {
      const { env } = await envFor(req, 'viewer');
      const now = clock.now();
      const rows = await freezesRepo.list(db, env.id, req.query.all ? null : now);
      const active = freezeAt(
        rows.map((r) => ({ startsAt: new Date(r.starts_at), endsAt: new Date(r.ends_at), reason: r.reason })),
        now,
      );
      return {
        freezes: rows.map((r) => toFreeze(r, env, now)),
        frozen: active ? { until: active.until.toISOString(), reason: active.reason } : null,
      };
    },
  );

  app.post<{ Params: Static<typeof EnvParams>; Body: Static<typeof FreezeBody> }>(
    `${P}/envs/:env/freezes`,
    {
      config: { auth: 'user', audit: 'env.freeze.create' },
      schema: {
        tags,
        summary: 'Plan a freeze window (admin or owner); startsAt defaults to now',
        params: EnvParams,
        body: FreezeBody,
        response: { 201: Type.Object({ freeze: FreezeSchema }, strict), ...errorResponses },
      },
    },
    async (req, reply) => {
      const { env } = await envFor(req, 'admin');
      const now = clock.now();
      const w = {
        startsAt: req.body.startsAt ? new Date(req.body.startsAt) : now,
        endsAt: new Date(req.body.endsAt),
        reason: (req.body.reason ?? '').trim(),
      };
      checkFreezeWindow(w.startsAt, w.endsAt, now);
      const id = await freezesRepo.insert(db, env, w, currentAuth(req).user.id);
      req.audit = { ...req.audit, targetType: 'env_freeze', targetId: id };
      setDetails(req, { freezeId: id, startsAt: w.startsAt.toISOString(), endsAt: w.endsAt.toISOString() });
      const row = await freezesRepo.get(db, env.id, id);
      if (!row) throw new AppError('freeze_not_found');
      return reply.code(201).send({ freeze: toFreeze(row, env, now) });
    },
  );

  app.delete<{ Params: Static<typeof FreezeParams> }>(
    `${P}/envs/:env/freezes/:id`,
    {
      config: { auth: 'user', audit: 'env.freeze.delete' },
      schema: {
        tags,
        summary: 'Remove a freeze window (ends an active one now)',
        params: FreezeParams,
        response: { 204: { type: 'null' }, ...errorResponses },
      },
    },
    async (req, reply) => {
      const { env } = await envFor(req, 'admin');
      req.audit = { ...req.audit, targetType: 'env_freeze', targetId: req.params.id };
      setDetails(req, { freezeId: req.params.id });
      if (!(await freezesRepo.remove(db, env.id, req.params.id))) throw new AppError('freeze_not_found');
      return reply.code(204).send();
    },
  );

  app.get<{ Params: Static<typeof ProjectParams> }>(
    `${P}/required-keys`,
    {
      config: { auth: 'user' },
      schema: {
        tags,
        summary: 'Keys every environment must hold before a promotion into it',
        params: ProjectParams,
        response: { 200: RequiredKeyList, ...errorResponses },
      },
    },
    async (req) => {
      const project = await projects.access(currentAuth(req).user.id, req.params.projectId, 'viewer');
      return { keys: await requiredKeysRepo.list(db, project.id) };
    },
  );

  app.put<{ Params: Static<typeof ProjectParams>; Body: Static<typeof RequiredKeysBody> }>(
    `${P}/required-keys`,
    {
      config: { auth: 'user', audit: 'env.required_keys' },
      schema: {
        tags,
        summary: 'Replace the required keys (admin or owner); patterns are JavaScript regular expressions',
        params: ProjectParams,
        body: RequiredKeysBody,
        response: { 200: RequiredKeyList, ...errorResponses },
      },
    },
    async (req) => {
      const project = await projects.access(currentAuth(req).user.id, req.params.projectId, 'admin');
      req.audit = { ...req.audit, projectId: project.id, targetType: 'project', targetId: project.id };
      const keys = checkRequiredKeyList(req.body.keys);
      await db.transaction((tx) => requiredKeysRepo.replace(tx, project.id, keys));
      setDetails(req, { keys: keys.map((k) => k.key) });
      return { keys };
    },
  );
}

/** What the audit entry records for this request (keys and settings, never values). */
export function setDetails(req: FastifyRequest, details: Record<string, unknown>): void {
  (req.audit as { details?: Record<string, unknown> }).details = details;
}
