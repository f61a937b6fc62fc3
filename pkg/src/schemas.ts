/**
 * The API's request and response schemas, shared by the API (validation, OpenAPI), the CLI and the
 * dashboard (types). Objects reject unknown fields.
 */
import { type Static, type TSchema, Type } from '@sinclair/typebox';

const strict = { additionalProperties: false } as const;
const Obj = <T extends Parameters<typeof Type.Object>[0]>(props: T, opts: Record<string, unknown> = {}) =>
  Type.Object(props, { ...strict, ...opts });

export const Uuid = Type.String({ format: 'uuid' });
export const Timestamp = Type.String({ format: 'date-time' });
export const Email = Type.String({ format: 'email', maxLength: 254 });
export const Password = Type.String({ minLength: 1, maxLength: 256 });
export const Slug = Type.String({
  pattern: '^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$',
  description: 'lowercase letters, digits and dashes, 1-40 chars',
});
export const Name = Type.String({ minLength: 1, maxLength: 100 });

export const ROLES = ['owner', 'admin', 'developer', 'viewer'] as const;
export const Role = Type.Union(ROLES.map((r) => Type.Literal(r)));
export type Role = (typeof ROLES)[number];

export const SCOPES = ['read', 'write', 'admin'] as const;
export const Scope = Type.Union(SCOPES.map((s) => Type.Literal(s)));
export type Scope = (typeof SCOPES)[number];

export const ErrorBody = Obj({
  error: Obj({
    code: Type.String(),
    message: Type.String(),
    requestId: Type.String(),
    details: Type.Optional(Type.Unknown()),
  }),
});

// ---- users, sessions
export const User = Obj({
  id: Uuid,
  email: Type.String(),
  name: Type.String(),
  isAdmin: Type.Boolean({ description: 'instance owner or admin' }),
  createdAt: Timestamp,
});
export type User = Static<typeof User>;

export const SetupStatus = Obj({ needsSetup: Type.Boolean() });
export const SetupRequest = Obj({
  token: Type.String({ minLength: 1, maxLength: 200 }),
  email: Type.Optional(Email),
  name: Name,
  password: Password,
});
export const LoginRequest = Obj({ email: Email, password: Password });
export const SessionResponse = Obj({ user: User, csrfToken: Type.String() });
export const MeResponse = Obj({
  user: User,
  auth: Obj({
    kind: Type.Union([Type.Literal('session'), Type.Literal('token')]),
    scopes: Type.Array(Scope),
    tokenId: Type.Optional(Uuid),
  }),
});
export const InviteRequest = Obj({ email: Email, admin: Type.Optional(Type.Boolean()) });
export const InviteResponse = Obj({ email: Type.String(), inviteUrl: Type.String(), expiresAt: Timestamp });

// ---- personal API tokens
export const ApiToken = Obj({
  id: Uuid,
  name: Type.String(),
  kind: Type.Union([Type.Literal('personal'), Type.Literal('cli')]),
  scopes: Type.Array(Scope),
  prefix: Type.String({ description: 'first characters of the secret, to recognise it' }),
  createdAt: Timestamp,
  lastUsedAt: Type.Union([Timestamp, Type.Null()]),
  expiresAt: Type.Union([Timestamp, Type.Null()]),
  revokedAt: Type.Union([Timestamp, Type.Null()]),
});
export type ApiToken = Static<typeof ApiToken>;
export const CreateTokenRequest = Obj({
  name: Name,
  scopes: Type.Array(Scope, { minItems: 1, uniqueItems: true }),
  expiresInDays: Type.Optional(Type.Integer({ minimum: 1, maximum: 3650 })),
});
export const CreateTokenResponse = Obj({
  token: ApiToken,
  secret: Type.String({ description: 'shown once' }),
});
export const TokenList = Obj({ tokens: Type.Array(ApiToken) });

// ---- device authorization (dashboard side)
export const DeviceRequestInfo = Obj({
  userCode: Type.String(),
  clientId: Type.String(),
  clientName: Type.String(),
  scopes: Type.Array(Scope),
  status: Type.Union([Type.Literal('pending'), Type.Literal('approved'), Type.Literal('denied')]),
  requestedFromIp: Type.Union([Type.String(), Type.Null()]),
  requestedUserAgent: Type.Union([Type.String(), Type.Null()]),
  createdAt: Timestamp,
  expiresAt: Timestamp,
});
export const UserCodeParams = Obj({ userCode: Type.String({ minLength: 1, maxLength: 20 }) });

// ---- projects
export const Environment = Obj({
  id: Uuid,
  slug: Slug,
  name: Type.String(),
  position: Type.Integer(),
  createdAt: Timestamp,
});
export type Environment = Static<typeof Environment>;
export const Service = Obj({ id: Uuid, slug: Slug, name: Type.String(), createdAt: Timestamp });
export type Service = Static<typeof Service>;
export const Project = Obj({
  id: Uuid,
  slug: Slug,
  name: Type.String(),
  role: Role,
  createdAt: Timestamp,
});
export type Project = Static<typeof Project>;
export const ProjectDetail = Obj({
  project: Project,
  environments: Type.Array(Environment),
  services: Type.Array(Service),
});
export type ProjectDetail = Static<typeof ProjectDetail>;
export const ProjectList = Obj({ projects: Type.Array(Project) });
export const CreateProjectRequest = Obj({
  name: Name,
  slug: Type.Optional(Slug),
  environments: Type.Optional(
    Type.Array(Slug, {
      minItems: 1,
      maxItems: 20,
      uniqueItems: true,
      description: 'ordered; default dev, staging, prod',
    }),
  ),
});
export const UpdateProjectRequest = Obj({ name: Name });
export const ProjectParams = Obj({ projectId: Uuid });

export const CreateEnvironmentRequest = Obj({
  slug: Slug,
  name: Type.Optional(Name),
  position: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000 })),
});
export const UpdateEnvironmentRequest = Obj(
  { name: Type.Optional(Name), position: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000 })) },
  { minProperties: 1 },
);
export const EnvironmentParams = Obj({ projectId: Uuid, environmentId: Uuid });
export const EnvironmentList = Obj({ environments: Type.Array(Environment) });

export const CreateServiceRequest = Obj({ name: Name, slug: Type.Optional(Slug) });
export const ServiceParams = Obj({ projectId: Uuid, serviceId: Uuid });
export const ServiceList = Obj({ services: Type.Array(Service) });

// ---- members
export const Member = Obj({
  userId: Uuid,
  email: Type.String(),
  name: Type.String(),
  role: Role,
  createdAt: Timestamp,
});
export type Member = Static<typeof Member>;
export const MemberList = Obj({ members: Type.Array(Member) });
export const AddMemberRequest = Obj({ email: Email, role: Role });
export const UpdateMemberRequest = Obj({ role: Role });
export const MemberParams = Obj({ projectId: Uuid, userId: Uuid });

// ---- ingest keys
export const IngestKey = Obj({
  id: Uuid,
  name: Type.String(),
  environmentId: Uuid,
  prefix: Type.String(),
  createdAt: Timestamp,
  lastUsedAt: Type.Union([Timestamp, Type.Null()]),
  revokedAt: Type.Union([Timestamp, Type.Null()]),
});
export type IngestKey = Static<typeof IngestKey>;
export const IngestKeyList = Obj({ ingestKeys: Type.Array(IngestKey) });
export const CreateIngestKeyRequest = Obj({ name: Name, environmentId: Uuid });
export const CreateIngestKeyResponse = Obj({
  ingestKey: IngestKey,
  secret: Type.String({ description: 'shown once' }),
});
export const IngestKeyParams = Obj({ projectId: Uuid, keyId: Uuid });

// ---- audit
export const AuditEntry = Obj({
  id: Type.String(),
  at: Timestamp,
  actorId: Type.Union([Uuid, Type.Null()]),
  actorEmail: Type.Union([Type.String(), Type.Null()]),
  action: Type.String(),
  targetType: Type.Union([Type.String(), Type.Null()]),
  targetId: Type.Union([Type.String(), Type.Null()]),
  projectId: Type.Union([Uuid, Type.Null()]),
  environmentId: Type.Union([Uuid, Type.Null()]),
  /** The environment's slug (null when none, or it was deleted). */
  environment: Type.Union([Type.String(), Type.Null()]),
  ip: Type.Union([Type.String(), Type.Null()]),
  userAgent: Type.Union([Type.String(), Type.Null()]),
  requestId: Type.Union([Type.String(), Type.Null()]),
  outcome: Type.Union([Type.Literal('success'), Type.Literal('failure')]),
  status: Type.Union([Type.Integer(), Type.Null()]),
  /** What the action touched (variables: keys, service, versions; never values). */
  details: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
});
export type AuditEntry = Static<typeof AuditEntry>;
export const AuditQuery = Obj({
  actor: Type.Optional(Type.String({ maxLength: 254, description: 'user id or email' })),
  action: Type.Optional(
    Type.String({
      maxLength: 100,
      description: 'exact action, or a prefix ending in `*` or `.` (`env.` matches every env.* action)',
    }),
  ),
  environment: Type.Optional(
    Type.String({ maxLength: 100, description: 'environment slug or id (project audit only)' }),
  ),
  key: Type.Optional(
    Type.String({ maxLength: 256, description: 'entries whose details name this variable key' }),
  ),
  format: Type.Optional(
    Type.Union([Type.Literal('json'), Type.Literal('ndjson')], {
      description: '`ndjson`: every matching entry, one JSON object per line',
    }),
  ),
  outcome: Type.Optional(Type.Union([Type.Literal('success'), Type.Literal('failure')])),
  since: Type.Optional(Timestamp),
  until: Type.Optional(Timestamp),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
  cursor: Type.Optional(Type.String({ maxLength: 200 })),
});
export const AuditPage = Obj({
  entries: Type.Array(AuditEntry),
  nextCursor: Type.Union([Type.String(), Type.Null()]),
});

export type { Static, TSchema };
