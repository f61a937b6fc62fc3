/**
 * How a channel's secrets are stored: the URL and the webhook signing secret are sealed with the
 * project's data key (pkg/src/project-keys.ts), each bound to its channel and purpose
 * (`channel:<id>:url`, `channel:<id>:secret`), so a sealed value copied to another channel or
 * project does not open. The API seals (create, update, rotate); the notifier opens.
 *
 * The sealed secret is JSON `{ "secret", "previous"?, "previousUntil"? }` (a bare string is read as
 * the secret alone): after a rotation the old
 * secret keeps signing alongside the new one until `previousUntil` (docs/webhooks.md: receivers
 * accept any matching signature), so receivers can switch without missing a message.
 */
import { randomBytes } from 'node:crypto';
import type { Queryable } from '@peep/pkg';
import { type MasterKeys, openForProject, sealForProject } from '@peep/pkg/project-keys';
import type { Channel, ChannelKind } from '../notify/types.js';

export const urlPurpose = (channelId: string) => `channel:${channelId}:url`;
export const secretPurpose = (channelId: string) => `channel:${channelId}:secret`;

/** How long a rotated-out secret keeps signing. */
export const PREVIOUS_SECRET_MS = 24 * 3600_000;

export interface WebhookSecrets {
  secret: string;
  previous?: string;
  /** ISO 8601; the previous secret signs until then. */
  previousUntil?: string;
}

/** A new signing secret: `peep_whsec_` and 32 random bytes. */
export function newWebhookSecret(): string {
  return `peep_whsec_${randomBytes(32).toString('base64url')}`;
}

/** The columns of a `channels` row the notifier and the API read. */
export interface ChannelRow {
  id: string;
  project_id: string;
  name: string;
  kind: ChannelKind;
  url_sealed: string;
  url_hint: string;
  secret_sealed: string | null;
  enabled: boolean;
  notify_resolved: boolean;
  reminder_minutes: number | null;
  created_by: string | null;
  created_at: Date;
  updated_at: Date;
}

export const CHANNEL_COLS =
  'id, project_id, name, kind, url_sealed, url_hint, secret_sealed, enabled, notify_resolved, reminder_minutes, created_by, created_at, updated_at';

export function sealUrl(db: Queryable, keys: MasterKeys, projectId: string, channelId: string, url: string) {
  return sealForProject(db, keys, projectId, url, urlPurpose(channelId));
}

export function sealSecrets(
  db: Queryable,
  keys: MasterKeys,
  projectId: string,
  channelId: string,
  s: WebhookSecrets,
): Promise<string> {
  return sealForProject(db, keys, projectId, JSON.stringify(s), secretPurpose(channelId));
}

export async function openSecrets(
  db: Queryable,
  keys: MasterKeys,
  row: Pick<ChannelRow, 'id' | 'project_id' | 'secret_sealed'>,
): Promise<WebhookSecrets | null> {
  if (row.secret_sealed === null) return null;
  const text = await openForProject(db, keys, row.project_id, row.secret_sealed, secretPurpose(row.id));
  // A bare secret (not JSON) is read as one; errors never quote the text (JSON.parse's would).
  if (!text.startsWith('{')) return { secret: text };
  let parsed: Partial<WebhookSecrets> | null = null;
  try {
    parsed = JSON.parse(text) as Partial<WebhookSecrets>;
  } catch {}
  if (typeof parsed?.secret !== 'string')
    throw new Error(`channel ${row.id}: the sealed signing secret is not in the expected format`);
  return parsed as WebhookSecrets;
}

/** The channel as deliver() takes it: URL and secrets opened, a previous secret only while it lasts. */
export async function openChannel(
  db: Queryable,
  keys: MasterKeys,
  row: Pick<ChannelRow, 'id' | 'project_id' | 'kind' | 'url_sealed' | 'secret_sealed'>,
  now: Date,
): Promise<Channel> {
  const url = await openForProject(db, keys, row.project_id, row.url_sealed, urlPurpose(row.id));
  if (row.kind === 'slack') return { kind: 'slack', url };
  const s = await openSecrets(db, keys, row);
  if (!s) throw new Error(`webhook channel ${row.id} has no signing secret`);
  const previousLive = s.previous && s.previousUntil && Date.parse(s.previousUntil) > now.getTime();
  return { kind: 'webhook', url, secret: s.secret, ...(previousLive ? { previousSecret: s.previous } : {}) };
}
