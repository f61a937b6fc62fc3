/**
 * Incident notifications (issue 4, section 5): rendering for Slack (Block Kit) and generic webhooks
 * (signed, versioned JSON, described for receivers in docs/webhooks.md), and delivery with retries
 * and a per-attempt log. No database: the caller stores channels (sealed), messages and the log.
 *
 *   const log = await deliver(channel, message, { deliveryId, onAttempt: (a, id) => store(id, a) });
 */
export type { DeliverOptions } from './deliver.js';
export { DELIVERY_DEFAULTS, deliver } from './deliver.js';
export { duration, KIND_LABEL, utc } from './format.js';
export { MASK_KEEP, maskUrl } from './mask.js';
export type { SlackBlock, SlackPayload } from './slack.js';
export { MAX_NUMBERS, renderSlack, SLACK_LIMITS } from './slack.js';
export { testMessage } from './test-message.js';
export type {
  Channel,
  ChannelKind,
  DeliveryAttempt,
  DeliveryLog,
  ErrorClass,
  IncidentKind,
  IncidentMessage,
  Instant,
  MessageType,
} from './types.js';
export { INCIDENT_KINDS, MESSAGE_TYPES } from './types.js';
export type {
  RenderedWebhook,
  VerifyOptions,
  VerifyResult,
  WebhookBodyV1,
  WebhookSigning,
} from './webhook.js';
export {
  DEFAULT_TOLERANCE_SEC,
  renderWebhook,
  signWebhook,
  verifyWebhookSignature,
  WEBHOOK_VERSION,
  webhookBody,
  webhookHeaders,
} from './webhook.js';
