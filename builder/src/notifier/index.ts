/**
 * The notification outbox worker (issue 4, section 5): delivers the `deliveries` rows the incident
 * store enqueues, with retries and a stored per-attempt log, and enqueues reminders. Channel URLs and
 * secrets are sealed per project (sealed.ts); the API's channel routes use the same helpers.
 */
export { enqueueReminders, type ReminderOptions } from './reminders.js';
export { type DeliveryRow, NOTIFY_WAKE, notifierRepo } from './repo.js';
export {
  CHANNEL_COLS,
  type ChannelRow,
  newWebhookSecret,
  openChannel,
  openSecrets,
  PREVIOUS_SECRET_MS,
  sealSecrets,
  sealUrl,
  secretPurpose,
  urlPurpose,
  type WebhookSecrets,
} from './sealed.js';
export { createNotifier, type DeliveryTuning, type Notifier, type NotifierOptions } from './worker.js';
