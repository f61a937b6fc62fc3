/**
 * What a notification is made of: the channel it goes to, the message (one incident event, with
 * everything a reader needs, so rendering needs no database), and the log of one delivery's attempts.
 * Channel URLs and secrets are secrets: never log them, store them sealed, show them through maskUrl.
 */

export type Channel =
  /** A Slack incoming webhook (`https://hooks.slack.com/services/…`); the whole path is the secret. */
  | { kind: 'slack'; url: string }
  /**
   * A generic webhook receiving signed JSON. `previousSecret`, while a secret is being rotated, adds a
   * second signature so receivers still holding the old secret keep verifying.
   */
  | { kind: 'webhook'; url: string; secret: string; previousSecret?: string };

export type ChannelKind = Channel['kind'];

export const MESSAGE_TYPES = ['opened', 'reminder', 'resolved', 'acknowledged', 'test'] as const;
export type MessageType = (typeof MESSAGE_TYPES)[number];

export const INCIDENT_KINDS = [
  'down',
  'degraded',
  'error_rate',
  'latency_anomaly',
  'error_rate_anomaly',
  'cert_expiring',
  'heartbeat_missed',
] as const;
export type IncidentKind = (typeof INCIDENT_KINDS)[number];

/** A time as an ISO 8601 string or a Date; rendered as ISO 8601 UTC. */
export type Instant = string | Date;

export interface IncidentMessage {
  type: MessageType;
  incident: {
    id: string;
    /** Short human title, e.g. `checkout-api is down`. */
    title: string;
    kind: IncidentKind;
    severity?: 'critical' | 'warning' | 'info';
    subject: { type: 'target' | 'service'; id: string; name: string };
    project: { id: string; slug: string; name: string };
    environment: string;
    openedAt: Instant;
    resolvedAt?: Instant;
    /** Display name of who acknowledged it. */
    acknowledgedBy?: string;
    /** What was measured, labelled for people: `{ 'p95 now': '812 ms', 'usual p95': '120 ms' }`. */
    numbers: Record<string, string | number>;
    /** One or two sentences on why the incident is open (or why it resolved). */
    reason: string;
  };
  /** Link to the incident in the dashboard. */
  url: string;
  sentAt: Instant;
}

export type ErrorClass =
  | 'timeout'
  | 'refused'
  | 'dns'
  | 'reset'
  | 'tls'
  | 'network'
  | 'http'
  | 'redirect'
  | 'aborted'
  | 'invalid_url'
  | 'blocked';

export interface DeliveryAttempt {
  /** 1 for the first attempt. */
  n: number;
  /** When the attempt started, ISO 8601 UTC. */
  at: string;
  durationMs: number;
  /** HTTP status, when a response arrived. */
  status?: number;
  errorClass?: ErrorClass;
  /** Short, for people; never contains the URL's path or query, nor the signing secret. */
  error?: string;
  /** Set when another attempt follows: how long until it starts. */
  retryInMs?: number;
}

export interface DeliveryLog {
  /** Identical on every attempt (the `X-Peep-Delivery` header of webhooks). */
  deliveryId: string;
  channelKind: ChannelKind;
  ok: boolean;
  /**
   * delivered: a 2xx; rejected: an answer that retrying cannot fix (4xx but 429, 3xx, a bad URL);
   * exhausted: every attempt failed with a retryable error; aborted: the signal fired.
   */
  result: 'delivered' | 'rejected' | 'exhausted' | 'aborted';
  /** Why it failed, for people (the last attempt's error, with advice for a broken URL). */
  error?: string;
  attempts: DeliveryAttempt[];
}
