/**
 * Request and response schemas of the incident, maintenance window and service rule routes
 * (docs/incidents.md). Incident JSON is the incident store's (builder/src/incidents/store.ts).
 */
import { INCIDENT_KINDS } from '@peep/builder';
import { Uuid } from '@peep/pkg/schemas';
import { type Static, type TLiteral, type TUnion, Type } from '@sinclair/typebox';

const strict = { additionalProperties: false } as const;
const Obj = <T extends Parameters<typeof Type.Object>[0]>(props: T, opts: Record<string, unknown> = {}) =>
  Type.Object(props, { ...strict, ...opts });
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);
const Timestamp = Type.String({ format: 'date-time' });
const Literals = <const T extends string>(values: readonly T[], description?: string) =>
  Type.Union(
    values.map((v) => Type.Literal(v)),
    description ? { description } : {},
  ) as unknown as TUnion<TLiteral<T>[]>;
/** No control characters (NUL cannot be stored in text). */
const Text = (min: number, max: number, description?: string) =>
  Type.String({
    minLength: min,
    maxLength: max,
    pattern: '^[^\\u0000]*$',
    ...(description ? { description } : {}),
  });

export const IncidentKind = Literals(INCIDENT_KINDS);
export const IncidentStatus = Literals(['open', 'acknowledged', 'resolved'] as const);
const Numbers = Type.Record(Type.String(), Type.Union([Type.String(), Type.Number()]));

export const Incident = Obj({
  id: Uuid,
  number: Type.Integer({ description: '#N within the project' }),
  projectId: Uuid,
  environmentId: Uuid,
  env: Type.String({ description: 'environment slug' }),
  subjectType: Literals(['target', 'service'] as const),
  subjectId: Type.String({ description: "a target's id or a service's name" }),
  subjectName: Type.String(),
  kind: IncidentKind,
  status: IncidentStatus,
  title: Type.String(),
  reason: Type.String(),
  numbers: Numbers,
  openedAt: Timestamp,
  acknowledgedAt: Nullable(Timestamp),
  acknowledgedBy: Nullable(Type.String({ description: 'email of who acknowledged' })),
  resolvedAt: Nullable(Timestamp),
  resolvedBy: Nullable(Type.String({ description: 'email of who resolved, or "peep"' })),
});

export const IncidentEvent = Obj({
  id: Type.Integer(),
  at: Timestamp,
  type: Literals([
    'opened',
    'notified',
    'acknowledged',
    'comment',
    'resolved',
    'reminder',
    'suppressed',
  ] as const),
  actor: Type.String({ description: 'a user email, or "peep"' }),
  actorId: Nullable(Uuid),
  body: Type.String(),
  data: Type.Record(Type.String(), Type.Unknown()),
});

export const IncidentDelivery = Obj({
  id: Uuid,
  channelId: Uuid,
  channelName: Type.String(),
  type: Literals(['opened', 'reminder', 'resolved', 'acknowledged', 'test'] as const),
  status: Literals(['pending', 'sending', 'ok', 'failed'] as const),
  attempts: Type.Integer(),
  error: Nullable(Type.String()),
  createdAt: Timestamp,
  finishedAt: Nullable(Timestamp),
});

export const IncidentParams = Obj({
  projectId: Uuid,
  ref: Type.String({ minLength: 1, maxLength: 40, description: 'the incident id, or its number' }),
});

export const ListIncidentsQuery = Obj({
  status: Type.Optional(
    Literals(
      ['open', 'acknowledged', 'resolved', 'active', 'all'],
      'active = open or acknowledged; default all',
    ),
  ),
  kind: Type.Optional(IncidentKind),
  subject: Type.Optional(Text(1, 200, "a target's id or name, or a service's name")),
  env: Type.Optional(Text(1, 100, 'environment slug')),
  cursor: Type.Optional(Type.String({ maxLength: 20 })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
});
export type ListIncidentsQuery = Static<typeof ListIncidentsQuery>;

export const IncidentList = Obj({ incidents: Type.Array(Incident), nextCursor: Nullable(Type.String()) });
export const IncidentDetail = Obj({
  incident: Incident,
  events: Type.Array(IncidentEvent),
  deliveries: Type.Array(IncidentDelivery),
});
export const IncidentResponse = Obj({ incident: Incident });

export const AckRequest = Type.Union([
  Type.Null(),
  Obj({ comment: Type.Optional(Text(0, 4000, 'added to the timeline with the acknowledgement')) }),
]);
export const CommentRequest = Obj({ body: Text(1, 4000) });
export const ResolveRequest = Type.Union([
  Type.Null(),
  Obj({ comment: Type.Optional(Text(0, 4000, 'shown in the timeline and the resolved message')) }),
]);

export const MaintenanceWindow = Obj({
  id: Uuid,
  projectId: Uuid,
  title: Type.String(),
  startsAt: Timestamp,
  endsAt: Timestamp,
  targetIds: Type.Array(Uuid),
  services: Type.Array(Type.String()),
  /** Both lists empty: every target and service of the project. */
  wholeProject: Type.Boolean(),
  state: Literals(['upcoming', 'active', 'ended'] as const),
  createdBy: Nullable(Type.String()),
  createdAt: Timestamp,
});
export type MaintenanceWindow = Static<typeof MaintenanceWindow>;

export const MaintenanceParams = Obj({ projectId: Uuid, windowId: Uuid });
export const MaintenanceQuery = Obj({
  state: Type.Optional(
    Literals(['upcoming', 'active', 'ended', 'all'] as const, 'default: upcoming and active'),
  ),
});
export const MaintenanceList = Obj({ windows: Type.Array(MaintenanceWindow) });
export const MaintenanceResponse = Obj({ window: MaintenanceWindow });
export const CreateMaintenanceRequest = Obj({
  title: Text(1, 200),
  startsAt: Timestamp,
  endsAt: Timestamp,
  targetIds: Type.Optional(Type.Array(Uuid, { maxItems: 1000, uniqueItems: true })),
  services: Type.Optional(
    Type.Array(Text(1, 200), { maxItems: 1000, uniqueItems: true, description: 'service names' }),
  ),
});
export type CreateMaintenanceInput = Static<typeof CreateMaintenanceRequest>;

export const ServiceRule = Obj({
  service: Type.String(),
  env: Type.String(),
  p95AboveMs: Nullable(Type.Integer({ description: 'degraded while the minute p95 is above; null: off' })),
  errorRateAbove: Nullable(Type.Number({ description: 'error_rate while above (0..1); null: off' })),
  minRequests: Type.Integer({ description: 'minutes with fewer requests are skipped' }),
  anomaly: Type.Boolean({ description: 'latency and error-rate anomaly detection' }),
  sensitivity: Literals(['low', 'medium', 'high'] as const),
  /** false: no rule stored, these are the defaults. */
  custom: Type.Boolean(),
});
export type ServiceRule = Static<typeof ServiceRule>;

export const ServiceRuleParams = Obj({ projectId: Uuid, service: Text(1, 200) });
export const ServiceRuleQuery = Obj({ env: Text(1, 100, 'environment slug') });
export const ServiceRuleResponse = Obj({ rule: ServiceRule });
export const PutServiceRuleRequest = Obj({
  p95AboveMs: Type.Optional(Nullable(Type.Integer({ minimum: 1, maximum: 3_600_000 }))),
  errorRateAbove: Type.Optional(Nullable(Type.Number({ exclusiveMinimum: 0, maximum: 1 }))),
  minRequests: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 })),
  anomaly: Type.Optional(Type.Boolean()),
  sensitivity: Type.Optional(Literals(['low', 'medium', 'high'] as const)),
});
export type PutServiceRuleInput = Static<typeof PutServiceRuleRequest>;
