/**
 * Proposal and promotion routes of environments (docs/environments-policy.md), and the one
 * register() of this part: policy, freezes and required keys (policy-routes.ts), proposals and their
 * decisions (proposals.ts), promotion (promote.ts). Every decision is audited with keys, never values.
 */
import type { Clock, Db } from '@peep/pkg';
import type { MasterKeys } from '@peep/pkg/project-keys';
import { ProjectParams, type Static, Timestamp, Uuid } from '@peep/pkg/schemas';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { currentAuth } from '../core/auth.js';
import { errorResponses, noStore } from '../core/http.js';
import type { ProjectService } from '../projects/service.js';
import { findEnvironment } from './policy.js';
import { registerPolicyRoutes, setDetails } from './policy-routes.js';
import { createPromotionService } from './promote.js';
import { createProposalService, PROPOSAL_KINDS, PROPOSAL_STATUSES, type Proposal } from './proposals.js';

const strict = { additionalProperties: false } as const;
const tags = ['environments'];
const P = '/api/v1/projects/:projectId';

const Key = Type.String({ minLength: 1, maxLength: 256 });
const ServiceSlug = Type.String({ maxLength: 63 });
const Message = Type.String({ maxLength: 1000 });
const EnvParams = Type.Object(
  { projectId: Uuid, env: Type.String({ minLength: 1, maxLength: 100 }) },
  strict,
);
const RefParams = Type.Object({ projectId: Uuid, ref: Type.String({ minLength: 1, maxLength: 40 }) }, strict);

const ProposeBody = Type.Object(
  {
    kind: Type.Union([Type.Literal('change'), Type.Literal('import'), Type.Literal('rollback')]),
    baseVersion: Type.Integer({ minimum: 0 }),
    message: Message,
    set: Type.Optional(
      Type.Array(
        Type.Object(
          {
            key: Key,
            value: Type.String(),
            secret: Type.Optional(Type.Boolean()),
            service: Type.Optional(ServiceSlug),
          },
          strict,
        ),
        { maxItems: 5000 },
      ),
    ),
    unset: Type.Optional(
      Type.Array(Type.Object({ key: Key, service: Type.Optional(ServiceSlug) }, strict), { maxItems: 5000 }),
    ),
    toVersion: Type.Optional(Type.Integer({ minimum: 1 })),
    format: Type.Optional(Type.Union([Type.Literal('dotenv'), Type.Literal('json')])),
    content: Type.Optional(Type.String()),
    service: Type.Optional(ServiceSlug),
    secret: Type.Optional(Type.Boolean()),
    replace: Type.Optional(Type.Boolean()),
  },
  strict,
);
const ListQuery = Type.Object(
  {
    status: Type.Optional(Type.Union(PROPOSAL_STATUSES.map((s) => Type.Literal(s)))),
    env: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })),
  },
  strict,
);
const DecisionBody = Type.Object({ comment: Type.Optional(Type.String({ maxLength: 2000 })) }, strict);
const PromoteBody = Type.Object(
  {
    to: Type.String({ minLength: 1, maxLength: 100 }),
    keys: Type.Optional(Type.Array(Key, { minItems: 1, maxItems: 5000 })),
    service: Type.Optional(ServiceSlug),
    baseVersion: Type.Optional(Type.Integer({ minimum: 0 })),
    message: Type.Optional(Message),
    dryRun: Type.Optional(Type.Boolean()),
    skip: Type.Optional(Type.Boolean({ description: 'allow a later environment than the next one' })),
  },
  strict,
);

// ---- response schemas (OpenAPI; serialization keeps only these fields)

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);
const Obj = <T extends Parameters<typeof Type.Object>[0]>(props: T) => Type.Object(props, strict);
const EnvRef = Obj({ id: Uuid, slug: Type.String() });
const UserRef = Nullable(Obj({ id: Uuid, email: Type.String() }));
const ProposalSchema = Obj({
  id: Uuid,
  number: Type.Integer(),
  environment: EnvRef,
  kind: Type.Union(PROPOSAL_KINDS.map((k) => Type.Literal(k))),
  status: Type.Union(PROPOSAL_STATUSES.map((k) => Type.Literal(k))),
  baseVersion: Type.Integer(),
  message: Type.String(),
  changes: Type.Array(
    Obj({
      key: Type.String(),
      service: Type.String(),
      op: Type.Union([Type.Literal('added'), Type.Literal('changed'), Type.Literal('removed')]),
      secret: Type.Boolean(),
    }),
  ),
  restoredVersion: Nullable(Type.Integer()),
  author: UserRef,
  createdAt: Timestamp,
  decidedBy: UserRef,
  decidedAt: Nullable(Timestamp),
  decisionComment: Nullable(Type.String()),
  appliedVersion: Nullable(Type.Integer()),
  source: Nullable(Obj({ environment: Nullable(EnvRef), version: Type.Integer() })),
});
const Valued = Obj({
  key: Type.String(),
  service: Type.String(),
  secret: Type.Boolean(),
  value: Nullable(Type.String()),
});
const Diff = Obj({
  added: Type.Array(Valued),
  removed: Type.Array(Valued),
  changed: Type.Array(
    Obj({
      key: Type.String(),
      service: Type.String(),
      secret: Type.Boolean(),
      from: Nullable(Type.String()),
      to: Nullable(Type.String()),
    }),
  ),
  unchanged: Type.Integer(),
});
const ProposalResponse = Obj({ proposal: ProposalSchema });
const ProposalWithDiff = Obj({ proposal: ProposalSchema, diff: Diff });
const ProposalList = Obj({ proposals: Type.Array(ProposalSchema) });
const Approved = Obj({ proposal: ProposalSchema, version: Type.Integer() });
const Side = Obj({ environment: Type.String(), version: Type.Integer() });
const PromotionPreview = Obj({
  from: Side,
  to: Side,
  diff: Diff,
  requiredKeys: Obj({
    ok: Type.Boolean(),
    problems: Type.Array(
      Obj({
        key: Type.String(),
        problem: Type.Union([Type.Literal('missing'), Type.Literal('pattern_mismatch')]),
        service: Type.Optional(Type.String()),
      }),
    ),
  }),
  frozen: Nullable(Obj({ until: Type.String(), reason: Type.String() })),
  mode: Type.Union([Type.Literal('apply'), Type.Literal('propose')]),
});
const Applied = Obj({
  version: Type.Integer(),
  changes: Type.Array(
    Obj({
      key: Type.String(),
      service: Type.String(),
      op: Type.Union([Type.Literal('added'), Type.Literal('changed'), Type.Literal('removed')]),
    }),
  ),
});

type RefReq = FastifyRequest<{ Params: Static<typeof RefParams> }>;

/** A decision may be sent without a body (no comment). */
const emptyBody = async (req: FastifyRequest) => {
  if (req.body === undefined || req.body === null) req.body = {};
};

export function registerEnvPolicy(
  app: FastifyInstance,
  deps: { db: Db; clock: Clock; keys: MasterKeys; projects: ProjectService },
) {
  const { db, projects } = deps;
  registerPolicyRoutes(app, deps);
  const proposals = createProposalService(deps);
  const promotion = createPromotionService({ ...deps, proposals });

  const me = (req: FastifyRequest) => {
    const u = currentAuth(req).user;
    return { id: u.id, email: u.email };
  };
  const member = (req: FastifyRequest<{ Params: { projectId: string } }>) =>
    projects.access(currentAuth(req).user.id, req.params.projectId, 'viewer');
  /** The audit entry of a decision on `p`. */
  const audited = (req: RefReq, p: Proposal, extra: Record<string, unknown> = {}) => {
    req.audit = {
      ...req.audit,
      environmentId: p.environment.id,
      targetType: 'env_proposal',
      targetId: p.id,
    };
    setDetails(req, { ...proposals.details(p), ...extra });
  };
  /** Before the decision is known (it may fail): the target as named. */
  const target = (req: RefReq) => {
    req.audit = { ...req.audit, targetType: 'env_proposal', targetId: req.params.ref };
  };

  app.post<{ Params: Static<typeof EnvParams>; Body: Static<typeof ProposeBody> }>(
    `${P}/envs/:env/proposals`,
    {
      config: { auth: 'user', audit: 'env.propose' },
      schema: {
        tags,
        summary: 'Propose a change, import or rollback for approval (proposeRole; allowed during a freeze)',
        params: EnvParams,
        body: ProposeBody,
        response: { 201: ProposalResponse, ...errorResponses },
      },
    },
    async (req, reply) => {
      const project = await member(req);
      const env = await findEnvironment(db, project.id, req.params.env);
      req.audit = { ...req.audit, environmentId: env.id, targetType: 'environment', targetId: env.id };
      const proposal = await proposals.propose(project, env, me(req), req.body);
      req.audit = { ...req.audit, targetType: 'env_proposal', targetId: proposal.id };
      setDetails(req, proposals.details(proposal));
      return reply.code(201).send({ proposal });
    },
  );

  app.get<{ Params: Static<typeof ProjectParams>; Querystring: Static<typeof ListQuery> }>(
    `${P}/proposals`,
    {
      config: { auth: 'user' },
      schema: {
        tags,
        summary: 'Proposals of the environments you may read, newest first',
        params: ProjectParams,
        querystring: ListQuery,
        response: { 200: ProposalList, ...errorResponses },
      },
    },
    async (req) => ({ proposals: await proposals.list(await member(req), req.query) }),
  );

  app.get<{ Params: Static<typeof RefParams> }>(
    `${P}/proposals/:ref`,
    {
      config: { auth: 'user' },
      schema: {
        tags,
        summary: 'A proposal (by id or number) and what it would change now, secret values masked',
        params: RefParams,
        response: { 200: ProposalWithDiff, ...errorResponses },
      },
    },
    async (req) => proposals.get(await member(req), req.params.ref),
  );

  app.post<{ Params: Static<typeof RefParams> }>(
    `${P}/proposals/:ref/reveal`,
    {
      config: { auth: 'user', audit: 'env.reveal' },
      schema: {
        tags,
        summary: 'The proposal with its diff, secret values shown (revealRole of its environment; audited)',
        params: RefParams,
        response: { 200: ProposalWithDiff, ...errorResponses },
      },
    },
    async (req, reply) => {
      target(req);
      noStore(reply);
      return proposals.reveal(await member(req), req.params.ref, (p) => audited(req, p, { via: 'proposal' }));
    },
  );

  app.post<{ Params: Static<typeof RefParams>; Body: Static<typeof DecisionBody> }>(
    `${P}/proposals/:ref/approve`,
    {
      config: { auth: 'user', audit: 'env.approve' },
      preValidation: emptyBody,
      schema: {
        tags,
        summary: 'Approve and apply a proposal as one new version (approveRole; not its author)',
        params: RefParams,
        body: DecisionBody,
        response: { 200: Approved, ...errorResponses },
      },
    },
    async (req) => {
      target(req);
      const project = await member(req);
      const out = await proposals.approve(project, req.params.ref, me(req), req.body.comment ?? null, (p) =>
        audited(req, p),
      );
      audited(req, out.proposal, { version: out.version });
      return { proposal: out.proposal, version: out.version };
    },
  );

  app.post<{ Params: Static<typeof RefParams>; Body: Static<typeof DecisionBody> }>(
    `${P}/proposals/:ref/reject`,
    {
      config: { auth: 'user', audit: 'env.reject' },
      preValidation: emptyBody,
      schema: {
        tags,
        summary: 'Reject a pending proposal (approveRole)',
        params: RefParams,
        body: DecisionBody,
        response: { 200: ProposalResponse, ...errorResponses },
      },
    },
    async (req) => {
      target(req);
      const proposal = await proposals.reject(
        await member(req),
        req.params.ref,
        me(req),
        req.body.comment ?? null,
      );
      audited(req, proposal);
      return { proposal };
    },
  );

  app.post<{ Params: Static<typeof RefParams> }>(
    `${P}/proposals/:ref/cancel`,
    {
      config: { auth: 'user', audit: 'env.cancel' },
      schema: {
        tags,
        summary: 'Withdraw a pending proposal (its author, or an admin or owner)',
        params: RefParams,
        response: { 200: ProposalResponse, ...errorResponses },
      },
    },
    async (req) => {
      target(req);
      const proposal = await proposals.cancel(await member(req), req.params.ref, me(req));
      audited(req, proposal);
      return { proposal };
    },
  );

  app.post<{ Params: Static<typeof EnvParams>; Body: Static<typeof PromoteBody> }>(
    `${P}/envs/:env/promote`,
    {
      config: { auth: 'user', audit: 'env.promote' },
      schema: {
        tags,
        summary:
          'Copy keys to the next environment: preview (dryRun), apply (changeRole on the target) or propose (proposeRole)',
        params: EnvParams,
        body: PromoteBody,
        response: { 200: Type.Union([PromotionPreview, Applied]), 201: ProposalResponse, ...errorResponses },
      },
    },
    async (req, reply) => {
      const project = await member(req);
      const from = await findEnvironment(db, project.id, req.params.env);
      req.audit = { ...req.audit, environmentId: from.id, targetType: 'environment', targetId: from.id };
      setDetails(req, {
        keys: req.body.keys ?? [],
        service: req.body.service ?? '',
        to: req.body.to,
        dryRun: req.body.dryRun === true,
      });
      const out = await promotion.promote(project, from, me(req), req.body);
      const details = {
        keys: out.keys,
        service: req.body.service ?? '',
        from: { environment: from.slug },
        to: { environment: out.to.slug },
        dryRun: req.body.dryRun === true,
      };
      // The entry belongs to the environment written into.
      req.audit = { ...req.audit, environmentId: out.to.id, targetType: 'environment', targetId: out.to.id };
      noStore(reply);
      if (out.kind === 'preview') {
        setDetails(req, { ...details, mode: out.preview.mode, from: out.preview.from, to: out.preview.to });
        return out.preview;
      }
      if (out.kind === 'proposed') {
        setDetails(req, {
          ...details,
          mode: 'propose',
          from: { environment: from.slug, version: out.fromVersion },
          proposal: { id: out.proposal.id, number: out.proposal.number },
        });
        return reply.code(201).send({ proposal: out.proposal });
      }
      setDetails(req, {
        ...details,
        mode: 'apply',
        from: { environment: from.slug, version: out.fromVersion },
        to: { environment: out.to.slug, version: out.result.version },
      });
      return out.result;
    },
  );
}
