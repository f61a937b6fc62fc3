/**
 * Request and response schemas of the notification channel routes (docs/notifications.md). A
 * channel's URL and signing secret go in and never come out: responses carry `urlHint` (maskUrl)
 * and, once, a signing secret peep generated.
 */
import { Uuid } from '@peep/pkg/schemas';
import { type Static, Type } from '@sinclair/typebox';

const strict = { additionalProperties: false } as const;
const Obj = <T extends Parameters<typeof Type.Object>[0]>(props: T, opts: Record<string, unknown> = {}) =>
  Type.Object(props, { ...strict, ...opts });
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);
const Timestamp = Type.String({ format: 'date-time' });

export const CHANNEL_KINDS = ['slack', 'webhook'] as const;
export const ChannelKind = Type.Union(
  CHANNEL_KINDS.map((k) => Type.Literal(k)),
  { description: 'slack: a Slack incoming webhook; webhook: signed JSON to any URL' },
);
export const ChannelName = Type.String({
  minLength: 1,
  maxLength: 100,
  pattern: '^[^\\u0000-\\u001f\\u007f\\s](?:[^\\u0000-\\u001f\\u007f]*[^\\u0000-\\u001f\\u007f\\s])?$',
  description: '1-100 characters, unique per project',
});
/** Checked further by the service (invalid_channel_url), which never echoes it. */
export const ChannelUrl = Type.String({ minLength: 1, maxLength: 2048 });
export const WebhookSecret = Type.String({
  minLength: 16,
  maxLength: 200,
  pattern: '^[\\x21-\\x7e]+$',
  description: 'webhooks: 16-200 printable ASCII characters; generated (peep_whsec_…) when left out',
});
export const ReminderMinutes = Nullable(
  Type.Integer({ minimum: 5, maximum: 10080, description: 'repeat while open; null: never' }),
);

export const Channel = Obj({
  id: Uuid,
  projectId: Uuid,
  name: Type.String(),
  kind: ChannelKind,
  /** The URL masked: scheme, host and the start of the path. */
  urlHint: Type.String(),
  enabled: Type.Boolean(),
  notifyResolved: Type.Boolean(),
  reminderMinutes: Nullable(Type.Integer()),
  lastDelivery: Nullable(
    Obj({
      id: Uuid,
      type: Type.String(),
      status: Type.String(),
      at: Timestamp,
      error: Nullable(Type.String()),
    }),
  ),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});
export type Channel = Static<typeof Channel>;

export const ChannelParams = Obj({ projectId: Uuid, channelId: Uuid });
export const ChannelList = Obj({ channels: Type.Array(Channel) });

export const CreateChannelRequest = Obj({
  name: ChannelName,
  kind: ChannelKind,
  url: ChannelUrl,
  secret: Type.Optional(WebhookSecret),
  enabled: Type.Optional(Type.Boolean({ description: 'default true' })),
  notifyResolved: Type.Optional(Type.Boolean({ description: 'default true' })),
  reminderMinutes: Type.Optional(ReminderMinutes),
});
export type CreateChannelInput = Static<typeof CreateChannelRequest>;

export const UpdateChannelRequest = Obj(
  {
    name: Type.Optional(ChannelName),
    kind: Type.Optional(ChannelKind),
    url: Type.Optional(ChannelUrl),
    secret: Type.Optional(WebhookSecret),
    enabled: Type.Optional(Type.Boolean()),
    notifyResolved: Type.Optional(Type.Boolean()),
    reminderMinutes: Type.Optional(ReminderMinutes),
  },
  { minProperties: 1 },
);
export type UpdateChannelInput = Static<typeof UpdateChannelRequest>;

/** `secret`: the webhook signing secret, present only when peep generated it just now. Shown once. */
export const ChannelWithSecret = Obj({ channel: Channel, secret: Type.Optional(Type.String()) });
export const ChannelResponse = Obj({ channel: Channel });
export const RotateSecretResponse = Obj({
  channel: Channel,
  secret: Type.String({ description: 'the new signing secret, shown once' }),
  previousSecretUntil: Timestamp,
});

export const DeliveryAttempt = Obj({
  n: Type.Integer(),
  at: Timestamp,
  durationMs: Type.Number(),
  status: Type.Optional(Type.Integer()),
  errorClass: Type.Optional(Type.String()),
  error: Type.Optional(Type.String()),
  retryInMs: Type.Optional(Type.Number()),
});

/** What `POST /channels/:id/test` answers: builder/src/notify's DeliveryLog. */
export const DeliveryLog = Obj({
  deliveryId: Type.String(),
  channelKind: ChannelKind,
  ok: Type.Boolean(),
  result: Type.Union(['delivered', 'rejected', 'exhausted', 'aborted'].map((r) => Type.Literal(r))),
  error: Type.Optional(Type.String()),
  attempts: Type.Array(DeliveryAttempt),
});

export const DeliveryType = Type.Union(
  ['opened', 'reminder', 'resolved', 'acknowledged', 'test'].map((t) => Type.Literal(t)),
);
export const DeliveryStatus = Type.Union(['pending', 'sending', 'ok', 'failed'].map((s) => Type.Literal(s)));
export const Delivery = Obj({
  id: Uuid,
  channelId: Uuid,
  incidentId: Nullable(Uuid),
  type: DeliveryType,
  status: DeliveryStatus,
  attempts: Type.Array(DeliveryAttempt),
  error: Nullable(Type.String()),
  createdAt: Timestamp,
  nextAttemptAt: Timestamp,
  finishedAt: Nullable(Timestamp),
});
export type Delivery = Static<typeof Delivery>;

export const DeliveriesQuery = Obj({
  cursor: Type.Optional(Type.String({ maxLength: 200 })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
});
export const DeliveryList = Obj({ deliveries: Type.Array(Delivery), nextCursor: Nullable(Type.String()) });
