/**
 * Request and response schemas of the uptime target routes (docs/uptime.md, docs/api.md). The CLI
 * and the dashboard import the types from here; the API validates bodies and query strings with them.
 * A target's `spec` is only typed as JSON here: `validateCheck` (@peep/pkg/probe-spec) checks it and
 * answers `invalid_spec` with one detail per problem, which a schema could not say as precisely.
 */
import { Uuid } from '@peep/pkg/schemas';
import { type Static, Type } from '@sinclair/typebox';

const strict = { additionalProperties: false } as const;
const Obj = <T extends Parameters<typeof Type.Object>[0]>(props: T, opts: Record<string, unknown> = {}) =>
  Type.Object(props, { ...strict, ...opts });
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);
const Timestamp = Type.String({ format: 'date-time' });

export const TARGET_KINDS = ['http', 'tcp', 'heartbeat'] as const;
export type TargetKind = (typeof TARGET_KINDS)[number];
export const TARGET_STATUSES = ['pending', 'up', 'down', 'paused'] as const;
export type TargetStatus = (typeof TARGET_STATUSES)[number];
export const SENSITIVITIES = ['low', 'medium', 'high'] as const;
export const MAX_TAGS = 20;
export const MAX_APPLY = 10_000;
export const MIN_INTERVAL_S = 5;
export const MAX_INTERVAL_S = 86_400;

/** No control characters, no space at either end. */
export const TargetName = Type.String({
  minLength: 1,
  maxLength: 100,
  pattern: '^[^\\u0000-\\u001f\\u007f\\s](?:[^\\u0000-\\u001f\\u007f]*[^\\u0000-\\u001f\\u007f\\s])?$',
  description: '1-100 characters, unique per project and environment',
});
export const TAG_PATTERN = '^[a-z0-9][a-z0-9_.:-]{0,39}$';
export const Tag = Type.String({ pattern: TAG_PATTERN, description: 'lowercase, 1-40 characters' });
export const EnvName = Type.String({
  pattern: '^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$',
  description: "the environment's slug, such as prod",
});
export const TargetKind = Type.Union(TARGET_KINDS.map((k) => Type.Literal(k)));
export const TargetStatus = Type.Union(TARGET_STATUSES.map((s) => Type.Literal(s)));
export const Sensitivity = Type.Union(SENSITIVITIES.map((s) => Type.Literal(s)));

const settable = {
  spec: Type.Optional(
    Type.Unknown({
      description:
        'http and tcp: the check (pkg/src/probe-spec.ts; `kind` may be left out); heartbeat: none or {}',
    }),
  ),
  intervalS: Type.Integer({ minimum: MIN_INTERVAL_S, maximum: MAX_INTERVAL_S }),
  graceS: Type.Optional(Type.Integer({ minimum: 0, maximum: 86_400, description: 'heartbeats: default 0' })),
  failAfter: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, description: 'default 1' })),
  recoverAfter: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, description: 'default 1' })),
  degradedMs: Type.Optional(Nullable(Type.Integer({ minimum: 1, maximum: 3_600_000 }))),
  anomaly: Type.Optional(Type.Boolean({ description: 'default true' })),
  sensitivity: Type.Optional(Sensitivity),
  enabled: Type.Optional(Type.Boolean({ description: 'default true; false pauses the target' })),
  tags: Type.Optional(Type.Array(Tag, { maxItems: MAX_TAGS, uniqueItems: true })),
};

export const CreateTargetRequest = Obj({ name: TargetName, env: EnvName, kind: TargetKind, ...settable });
export type TargetInput = Static<typeof CreateTargetRequest>;
/** One item of `POST /targets/apply`: `env` may come from the request instead. */
export const ApplyItem = Obj({
  name: TargetName,
  env: Type.Optional(EnvName),
  kind: TargetKind,
  ...settable,
});
export type ApplyItem = Static<typeof ApplyItem>;
export const UpdateTargetRequest = Obj(
  {
    name: Type.Optional(TargetName),
    env: Type.Optional(EnvName),
    kind: Type.Optional(TargetKind),
    ...settable,
    intervalS: Type.Optional(settable.intervalS),
  },
  { minProperties: 1 },
);
export type TargetPatch = Static<typeof UpdateTargetRequest>;

export const Target = Obj({
  id: Uuid,
  projectId: Uuid,
  env: Type.String(),
  name: Type.String(),
  kind: TargetKind,
  spec: Type.Unknown(),
  intervalS: Type.Integer(),
  graceS: Type.Integer(),
  failAfter: Type.Integer(),
  recoverAfter: Type.Integer(),
  degradedMs: Nullable(Type.Integer()),
  anomaly: Type.Boolean(),
  sensitivity: Sensitivity,
  enabled: Type.Boolean(),
  tags: Type.Array(Type.String()),
  status: TargetStatus,
  statusSince: Timestamp,
  lastCheckAt: Nullable(Timestamp),
  lastOk: Nullable(Type.Boolean()),
  lastDurationMs: Nullable(Type.Number()),
  lastStatusCode: Nullable(Type.Integer()),
  lastErrorClass: Nullable(Type.String()),
  lastMessage: Nullable(Type.String()),
  certDaysLeft: Nullable(Type.Number()),
  lastBeatAt: Nullable(Timestamp),
  heartbeatPrefix: Nullable(Type.String()),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});
export type Target = Static<typeof Target>;

export const TargetParams = Obj({ projectId: Uuid, targetId: Uuid });

export const ListTargetsQuery = Obj({
  env: Type.Optional(EnvName),
  status: Type.Optional(TargetStatus),
  kind: Type.Optional(TargetKind),
  tag: Type.Optional(Tag),
  q: Type.Optional(
    Type.String({
      maxLength: 100,
      pattern: '^[^\\u0000]*$',
      description: 'name contains (case-insensitive)',
    }),
  ),
  cursor: Type.Optional(Type.String({ maxLength: 400 })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
});
export type ListTargetsQuery = Static<typeof ListTargetsQuery>;
export const TargetCounts = Obj({
  total: Type.Integer(),
  up: Type.Integer(),
  down: Type.Integer(),
  pending: Type.Integer(),
  paused: Type.Integer(),
});
export type TargetCounts = Static<typeof TargetCounts>;
export const TargetList = Obj({
  targets: Type.Array(Target),
  nextCursor: Nullable(Type.String()),
  counts: TargetCounts,
});
export type TargetList = Static<typeof TargetList>;

export const CreateTargetResponse = Obj({
  target: Target,
  heartbeatUrl: Type.Optional(Type.String({ description: 'heartbeat push URL, shown once' })),
});
export type CreateTargetResponse = Static<typeof CreateTargetResponse>;
export const UpdateTargetResponse = CreateTargetResponse;
export const HeartbeatUrlResponse = Obj({ target: Target, heartbeatUrl: Type.String() });

export const UptimePercent = Obj({
  '24h': Nullable(Type.Number()),
  '7d': Nullable(Type.Number()),
  '30d': Nullable(Type.Number()),
  '90d': Nullable(Type.Number()),
});
export const TargetDetail = Obj({ target: Target, uptime: UptimePercent });
export type TargetDetail = Static<typeof TargetDetail>;

export const CheckResult = Obj({
  id: Type.String(),
  time: Timestamp,
  ok: Type.Boolean(),
  durationMs: Type.Number(),
  dnsMs: Nullable(Type.Number()),
  connectMs: Nullable(Type.Number()),
  tlsMs: Nullable(Type.Number()),
  firstByteMs: Nullable(Type.Number()),
  statusCode: Nullable(Type.Integer()),
  errorClass: Nullable(Type.String()),
  message: Nullable(Type.String()),
  certDaysLeft: Nullable(Type.Number()),
  worker: Nullable(Type.String()),
});
export type CheckResult = Static<typeof CheckResult>;
export const ResultsQuery = Obj({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
  before: Type.Optional(Timestamp),
});
export const ResultList = Obj({ results: Type.Array(CheckResult) });

export const SERIES_RANGES = ['1h', '24h', '7d', '30d', '90d'] as const;
export type SeriesRange = (typeof SERIES_RANGES)[number];
export const SeriesQuery = Obj({
  range: Type.Optional(
    Type.Union(
      SERIES_RANGES.map((r) => Type.Literal(r)),
      { default: '24h' },
    ),
  ),
});
export const SeriesPoint = Obj({
  t: Timestamp,
  count: Type.Integer(),
  failures: Type.Integer(),
  p50: Nullable(Type.Number()),
  p95: Nullable(Type.Number()),
  p99: Nullable(Type.Number()),
  avg: Nullable(Type.Number()),
  min: Nullable(Type.Number()),
  max: Nullable(Type.Number()),
});
export type SeriesPoint = Static<typeof SeriesPoint>;
export const TargetSeries = Obj({
  step: Type.Integer({ description: 'seconds per point' }),
  points: Type.Array(SeriesPoint),
});
export type TargetSeries = Static<typeof TargetSeries>;

export const ApplyRequest = Obj({
  env: Type.Optional(EnvName),
  targets: Type.Array(Type.Unknown({ description: 'ApplyItem: checked one by one' }), {
    maxItems: MAX_APPLY,
  }),
  dryRun: Type.Optional(Type.Boolean()),
  prune: Type.Optional(Type.Boolean()),
});
export type ApplyRequest = Static<typeof ApplyRequest>;
export const ApplyResponse = Obj({
  dryRun: Type.Boolean(),
  create: Type.Array(Type.String()),
  update: Type.Array(Obj({ name: Type.String(), changes: Type.Array(Type.String()) })),
  delete: Type.Array(Type.String()),
  unchanged: Type.Integer(),
  heartbeatUrls: Type.Optional(
    Type.Record(Type.String(), Type.String(), {
      description: 'push URLs of heartbeat targets this apply created, by name (shown once)',
    }),
  ),
});
export type ApplyResponse = Static<typeof ApplyResponse>;
