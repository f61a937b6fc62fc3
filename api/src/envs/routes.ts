/**
 * Environment variable routes (docs/environments.md): list (secrets masked), reveal and export
 * (audited), change, import, versions, diff and rollback. `:env` is an environment slug or id.
 * Writes name the version they are based on; the policy decides who reads, reveals and changes.
 */
import type { Config } from '@peep/pkg';
import { keyringFromConfig, type MasterKeys } from '@peep/pkg/project-keys';
import { type Static, Uuid } from '@peep/pkg/schemas';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AuditService } from '../audit/service.js';
import { currentAuth } from '../core/auth.js';
import { clientMeta, errorResponses, noStore } from '../core/http.js';
import type { Deps } from '../core/types.js';
import type { ProjectService } from '../projects/service.js';
import type { EnvRow } from './policy.js';
import { createEnvService, type EnvService, type Touched } from './service.js';

const strict = { additionalProperties: false } as const;
const tags = ['environments'];
const P = '/api/v1/projects/:projectId';
const E = `${P}/envs/:env`;

const EnvRef = Type.String({ minLength: 1, maxLength: 100, description: 'environment slug or id' });
const EnvParams = Type.Object({ projectId: Uuid, env: EnvRef }, strict);
const VersionParams = Type.Object(
  { projectId: Uuid, env: EnvRef, number: Type.Integer({ minimum: 0, maximum: 2 ** 31 - 1 }) },
  strict,
);
const ServiceSlug = Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,62}$', description: 'a service slug' });
const VersionNumber = Type.Integer({ minimum: 0, maximum: 2 ** 31 - 1 });
const Message = Type.String({ maxLength: 1000, description: 'why (shown in the history)' });

const VarsQuery = Type.Object(
  {
    service: Type.Optional(ServiceSlug),
    version: Type.Optional(VersionNumber),
    resolve: Type.Optional(Type.Boolean({ default: false })),
  },
  strict,
);
const RevealBody = Type.Object(
  {
    keys: Type.Optional(Type.Array(Type.String({ maxLength: 300 }), { maxItems: 5000 })),
    service: Type.Optional(ServiceSlug),
    version: Type.Optional(VersionNumber),
    resolve: Type.Optional(Type.Boolean()),
  },
  strict,
);
const ExportBody = Type.Object(
  {
    service: Type.Optional(ServiceSlug),
    resolve: Type.Optional(Type.Boolean({ description: 'default true' })),
    format: Type.Optional(Type.Union([Type.Literal('json'), Type.Literal('dotenv')])),
  },
  strict,
);
// Key names, services and values are checked by validateChange so that every bad item is listed
// with the documented code (invalid_key, invalid_value, value_too_large, duplicate_key).
const SetItem = Type.Object(
  {
    key: Type.String({ maxLength: 1000 }),
    value: Type.String(),
    secret: Type.Optional(Type.Boolean()),
    service: Type.Optional(Type.String({ maxLength: 100 })),
  },
  strict,
);
const UnsetItem = Type.Object(
  { key: Type.String({ maxLength: 1000 }), service: Type.Optional(Type.String({ maxLength: 100 })) },
  strict,
);
const ChangeBody = Type.Object(
  {
    baseVersion: VersionNumber,
    message: Message,
    set: Type.Optional(Type.Array(SetItem, { maxItems: 10_000 })),
    unset: Type.Optional(Type.Array(UnsetItem, { maxItems: 10_000 })),
  },
  strict,
);
const ImportBody = Type.Object(
  {
    baseVersion: VersionNumber,
    message: Message,
    format: Type.Union([Type.Literal('dotenv'), Type.Literal('json')]),
    content: Type.String(),
    service: Type.Optional(ServiceSlug),
    secret: Type.Optional(Type.Boolean({ description: 'default: per key (kept, else by its name)' })),
    replace: Type.Optional(
      Type.Boolean({ description: 'unset variables of the scope the file does not name' }),
    ),
  },
  strict,
);
const RollbackBody = Type.Object(
  { toVersion: VersionNumber, baseVersion: VersionNumber, message: Type.Optional(Message) },
  strict,
);
const VersionsQuery = Type.Object(
  {
    cursor: Type.Optional(Type.String({ maxLength: 40 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
  },
  strict,
);
const DiffQuery = Type.Object(
  {
    from: Type.Optional(VersionNumber),
    to: Type.Optional(VersionNumber),
    service: Type.Optional(ServiceSlug),
    reveal: Type.Optional(Type.Boolean({ default: false })),
  },
  strict,
);
const SideRef = Type.String({
  pattern: '^[^@]{1,100}(@[0-9]{1,10})?$',
  description: 'ENV or ENV@VERSION (slug or id; default: its current version)',
});
const CrossDiffQuery = Type.Object(
  {
    left: SideRef,
    right: SideRef,
    service: Type.Optional(ServiceSlug),
    reveal: Type.Optional(Type.Boolean({ default: false })),
  },
  strict,
);
const ProjectOnly = Type.Object({ projectId: Uuid }, strict);

/** The environments domain (variables), wired from the app's dependencies. */
export function registerEnvs(
  app: FastifyInstance,
  deps: Deps & { projects: ProjectService; audit: AuditService; keys?: MasterKeys },
): EnvService {
  const envs = createEnvService({
    db: deps.db,
    clock: deps.clock,
    log: deps.log,
    keys: deps.keys ?? keyringFromConfig(deps.config, deps.log),
  });
  registerEnvRoutes(app, { config: deps.config, projects: deps.projects, audit: deps.audit, envs });
  return envs;
}

type EnvReq = FastifyRequest<{ Params: Static<typeof EnvParams> }>;

export function registerEnvRoutes(
  app: FastifyInstance,
  deps: { config: Config; projects: ProjectService; audit: AuditService; envs: EnvService },
) {
  const { projects, audit, envs } = deps;

  /** The project (any member; the policy decides the rest) and the environment, as audit target. */
  const target = async (req: FastifyRequest<{ Params: { projectId: string; env: string } }>) => {
    const project = await projects.access(currentAuth(req).user.id, req.params.projectId, 'viewer');
    const env = await envs.environment(project, req.params.env);
    req.audit = {
      ...req.audit,
      projectId: project.id,
      environmentId: env.id,
      targetType: 'environment',
      targetId: env.id,
    };
    return { project, env };
  };
  const details = (req: FastifyRequest, d: Record<string, unknown>) => {
    req.audit = { ...req.audit, details: { ...req.audit?.details, ...d } };
  };
  const actor = (req: FastifyRequest) => {
    const u = currentAuth(req).user;
    return { id: u.id, email: u.email };
  };
  /** GET routes that reveal record their audit entry themselves (GETs are not audited by config). */
  const recordReveal = async (req: FastifyRequest, env: EnvRow, touched: Touched, status: number) =>
    audit.record({
      actorId: currentAuth(req).user.id,
      actorEmail: currentAuth(req).user.email,
      action: 'env.reveal',
      targetType: 'environment',
      targetId: env.id,
      projectId: env.projectId,
      environmentId: env.id,
      requestId: String(req.id),
      outcome: 'success',
      status,
      details: { ...touched, via: 'diff' },
      ...clientMeta(req),
    });
  const keysOf = (items: { key: string }[] | undefined) => [...new Set((items ?? []).map((i) => i.key))];

  app.get<{ Params: Static<typeof EnvParams>; Querystring: Static<typeof VarsQuery> }>(
    `${E}/vars`,
    {
      config: { auth: 'user' },
      schema: {
        tags,
        summary: 'Variables (secret values masked) and what the caller may do',
        params: EnvParams,
        querystring: VarsQuery,
        response: errorResponses,
      },
    },
    async (req, reply) => {
      const { project, env } = await target(req);
      noStore(reply);
      return envs.list(project, env, req.query);
    },
  );

  app.post<{ Params: Static<typeof EnvParams>; Body: Static<typeof RevealBody> }>(
    `${E}/reveal`,
    {
      config: { auth: 'user', audit: 'env.reveal' },
      schema: {
        tags,
        summary: 'Values of variables, secrets included (revealRole); audited with the keys',
        params: EnvParams,
        body: RevealBody,
        response: errorResponses,
      },
    },
    async (req, reply) => {
      const { project, env } = await target(req);
      details(req, {
        keys: req.body.keys ?? null,
        service: req.body.service ?? null,
        version: req.body.version ?? null,
      });
      const r = await envs.reveal(project, env, req.body);
      details(req, { ...r.touched });
      noStore(reply);
      return { version: r.version, values: r.values };
    },
  );

  app.post<{ Params: Static<typeof EnvParams>; Body: Static<typeof ExportBody> }>(
    `${E}/export`,
    {
      config: { auth: 'user', audit: 'env.export' },
      schema: {
        tags,
        summary: 'Every variable of the environment (or a service view), references resolved: JSON or .env',
        params: EnvParams,
        body: ExportBody,
        response: errorResponses,
      },
    },
    async (req, reply) => {
      const { project, env } = await target(req);
      const format = req.body.format ?? 'json';
      details(req, { service: req.body.service ?? null, format });
      const r = await envs.export(project, env, req.body);
      details(req, { ...r.touched, format });
      noStore(reply);
      if (r.dotenv !== undefined) return reply.type('text/plain; charset=utf-8').send(r.dotenv);
      return { version: r.version, values: r.values };
    },
  );

  app.put<{ Params: Static<typeof EnvParams>; Body: Static<typeof ChangeBody> }>(
    `${E}/vars`,
    {
      config: { auth: 'user', audit: 'env.change' },
      schema: {
        tags,
        summary: 'Set and unset variables as a new version (based on baseVersion)',
        params: EnvParams,
        body: ChangeBody,
        response: errorResponses,
      },
    },
    async (req) => {
      const { project, env } = await target(req);
      const b = req.body;
      details(req, {
        keys: keysOf([...(b.set ?? []), ...(b.unset ?? [])]),
        services: [...new Set([...(b.set ?? []), ...(b.unset ?? [])].map((i) => i.service ?? ''))],
        baseVersion: b.baseVersion,
      });
      const r = await envs.change(project, env, actor(req), b);
      details(req, { version: r.version, changes: r.changes });
      return r;
    },
  );

  app.post<{ Params: Static<typeof EnvParams>; Body: Static<typeof ImportBody> }>(
    `${E}/import`,
    {
      config: { auth: 'user', audit: 'env.import' },
      schema: {
        tags,
        summary: 'Import a .env or JSON file as a new version (replace: unset what the file does not name)',
        params: EnvParams,
        body: ImportBody,
        response: errorResponses,
      },
    },
    async (req) => {
      const { project, env } = await target(req);
      const b = req.body;
      details(req, {
        format: b.format,
        service: b.service ?? '',
        replace: b.replace === true,
        baseVersion: b.baseVersion,
      });
      const r = await envs.import(project, env, actor(req), b);
      details(req, { keys: keysOf(r.changes), version: r.version, changes: r.changes });
      return r;
    },
  );

  app.post<{ Params: Static<typeof EnvParams>; Body: Static<typeof RollbackBody> }>(
    `${E}/rollback`,
    {
      config: { auth: 'user', audit: 'env.rollback' },
      schema: {
        tags,
        summary: 'A new version equal to an older one',
        params: EnvParams,
        body: RollbackBody,
        response: errorResponses,
      },
    },
    async (req) => {
      const { project, env } = await target(req);
      details(req, { toVersion: req.body.toVersion, baseVersion: req.body.baseVersion });
      const r = await envs.rollback(project, env, actor(req), req.body);
      details(req, { keys: keysOf(r.changes), version: r.version, changes: r.changes });
      return r;
    },
  );

  app.get<{ Params: Static<typeof EnvParams>; Querystring: Static<typeof VersionsQuery> }>(
    `${E}/versions`,
    {
      config: { auth: 'user' },
      schema: {
        tags,
        summary: 'Versions, newest first: author, message, time, changed keys',
        params: EnvParams,
        querystring: VersionsQuery,
        response: errorResponses,
      },
    },
    async (req) => {
      const { project, env } = await target(req);
      return envs.versions(project, env, req.query);
    },
  );

  app.get<{ Params: Static<typeof VersionParams> }>(
    `${E}/versions/:number`,
    {
      config: { auth: 'user' },
      schema: {
        tags,
        summary: 'One version and its variables (secret values masked)',
        params: VersionParams,
        response: errorResponses,
      },
    },
    async (req, reply) => {
      const { project, env } = await target(req as unknown as EnvReq);
      noStore(reply);
      return envs.version(project, env, req.params.number);
    },
  );

  app.get<{ Params: Static<typeof EnvParams>; Querystring: Static<typeof DiffQuery> }>(
    `${E}/diff`,
    {
      config: { auth: 'user' },
      schema: {
        tags,
        summary: 'Compare two versions (default: the current one with the one before)',
        params: EnvParams,
        querystring: DiffQuery,
        response: errorResponses,
      },
    },
    async (req, reply) => {
      const { project, env } = await target(req);
      const to = req.query.to ?? env.varVersion;
      const from = req.query.from ?? Math.max(0, to - 1);
      const r = await envs.diff(project, { env, version: from }, { env, version: to }, req.query);
      if (r.touched) await recordReveal(req, env, r.touched, 200);
      noStore(reply);
      return r.diff;
    },
  );

  app.get<{ Params: Static<typeof ProjectOnly>; Querystring: Static<typeof CrossDiffQuery> }>(
    `${P}/diff`,
    {
      config: { auth: 'user' },
      schema: {
        tags,
        summary: 'Compare two environments (ENV or ENV@VERSION), optionally one service’s view',
        params: ProjectOnly,
        querystring: CrossDiffQuery,
        response: errorResponses,
      },
    },
    async (req, reply) => {
      const project = await projects.access(currentAuth(req).user.id, req.params.projectId, 'viewer');
      const side = async (ref: string) => {
        const at = ref.lastIndexOf('@');
        const env = await envs.environment(project, at < 0 ? ref : ref.slice(0, at));
        return { env, version: at < 0 ? undefined : Number(ref.slice(at + 1)) };
      };
      const left = await side(req.query.left);
      const right = await side(req.query.right);
      const r = await envs.diff(project, left, right, req.query);
      if (r.touched) {
        await recordReveal(req, left.env, { ...r.touched, version: r.diff.left.version }, 200);
        if (right.env.id !== left.env.id) await recordReveal(req, right.env, r.touched, 200);
      }
      noStore(reply);
      return r.diff;
    },
  );
}
