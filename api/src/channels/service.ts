/**
 * Notification channels (docs/notifications.md): the rules behind the routes. URLs and signing
 * secrets are sealed with the project's data key before they reach the database and are opened
 * only to send (the notifier, or a test send here); nothing here logs or returns them.
 *
 * URL rules (invalid_channel_url, whose message never quotes the URL):
 * - every URL: absolute http: or https:, a host, no user name or password (credentials belong in
 *   the path or, for webhooks, in the signing secret), at most 2048 characters;
 * - slack: `https://hooks.slack.com/` and a path, nothing else (there is no switch to relax it, so a
 *   Slack channel cannot be pointed at an internal address);
 * - webhook: http or https to any host (receivers inside a private network are common). Only admins
 *   create channels; docs/notifications.md says so and recommends https.
 * - a literal address in a network PEEP_WEBHOOK_DENY refuses (by default link-local, where cloud
 *   metadata lives) is refused here; names resolving there are refused at delivery
 *   (pkg/src/net-policy.ts).
 */
import { randomUUID } from 'node:crypto';
import {
  type DeliveryAttempt,
  type DeliveryLog,
  deliver,
  maskUrl,
  newWebhookSecret,
  openChannel,
  openSecrets,
  PREVIOUS_SECRET_MS,
  sealSecrets,
  sealUrl,
  testMessage,
  type WebhookSecrets,
} from '@peep/builder';
import { AppError, type Db, type Logger } from '@peep/pkg';
import { MasterKeyError } from '@peep/pkg/master-key';
import { literalHost, type NetPolicy } from '@peep/pkg/net-policy';
import type { MasterKeys } from '@peep/pkg/project-keys';
import type { Project } from '@peep/pkg/schemas';
import type { Clock } from '../core/types.js';
import { type ChannelRecord, type ChannelWrite, channelsRepo, isNameTaken, toChannel } from './repo.js';
import type { Channel, CreateChannelInput, Delivery, UpdateChannelInput } from './schemas.js';

/** Test sends are short: the person is waiting for the answer. */
export const TEST_DELIVERY = { maxAttempts: 2, baseDelayMs: 500, maxDelayMs: 1000, timeoutMs: 5000 } as const;

export function checkChannelUrl(kind: 'slack' | 'webhook', raw: string, deny?: NetPolicy): URL {
  const bad = (why: string) => new AppError('invalid_channel_url', why);
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw bad(
      'The URL is not an absolute URL (it needs a scheme and a host, like https://example.com/hook).',
    );
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:')
    throw bad(`The URL must use https (or http for webhooks), not ${u.protocol.replace(/:$/, '')}.`);
  if (!u.hostname) throw bad('The URL has no host.');
  if (u.username || u.password)
    throw bad(
      'The URL must not contain a user name or password; put tokens in the path or use the signing secret.',
    );
  if (kind === 'slack') {
    if (u.protocol !== 'https:' || u.hostname !== 'hooks.slack.com' || (u.port !== '' && u.port !== '443'))
      throw bad('A Slack channel needs an incoming-webhook URL: https://hooks.slack.com/services/…');
    if (u.pathname.length <= 1)
      throw bad('The Slack webhook URL has no path (https://hooks.slack.com/services/…).');
  }
  const literal = literalHost(u.hostname);
  if (deny && literal && deny.denies(literal))
    throw bad(
      `The URL's address is in a network this server does not send to (PEEP_WEBHOOK_DENY: ${deny.entries.join(', ')}).`,
    );
  return u;
}

export interface ChannelServiceDeps {
  db: Db;
  log: Logger;
  clock: Clock;
  keys: MasterKeys;
  /** Networks webhooks may not reach (PEEP_WEBHOOK_DENY); none when absent. */
  netPolicy?: NetPolicy;
  /** deliver() options for test sends (tests shorten them); default TEST_DELIVERY. */
  testDelivery?: Partial<typeof TEST_DELIVERY>;
}

/** A master key that cannot be loaded is an operator problem, answered 503 without details of the key. */
async function withKeys<T>(log: Logger, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof MasterKeyError) {
      log.error(
        { code: e.code, err: e.message },
        'master key unavailable: channels cannot be sealed or opened',
      );
      throw new AppError('service_unavailable', `Channel secrets cannot be sealed or opened: ${e.message}`);
    }
    throw e;
  }
}

export function createChannelService(deps: ChannelServiceDeps) {
  const { db, clock, keys, log } = deps;

  async function load(project: Project, id: string): Promise<ChannelRecord> {
    const c = await channelsRepo.get(db, project.id, id);
    if (!c) throw new AppError('channel_not_found');
    return c;
  }

  const nameTaken = (name: string) =>
    new AppError('channel_exists', `The project already has a channel named "${name}".`);

  return {
    async list(project: Project): Promise<Channel[]> {
      return (await channelsRepo.list(db, project.id)).map(toChannel);
    },
    async get(project: Project, id: string): Promise<Channel> {
      return toChannel(await load(project, id));
    },

    async create(
      project: Project,
      userId: string,
      input: CreateChannelInput,
    ): Promise<{ channel: Channel; secret?: string }> {
      const url = checkChannelUrl(input.kind, input.url, deps.netPolicy).href;
      if (input.kind === 'slack' && input.secret !== undefined)
        throw new AppError('validation_failed', 'Slack channels have no signing secret; leave `secret` out.');
      const id = randomUUID();
      const generated =
        input.kind === 'webhook' && input.secret === undefined ? newWebhookSecret() : undefined;
      const secret = input.secret ?? generated;
      const write: ChannelWrite = await withKeys(log, async () => ({
        name: input.name,
        kind: input.kind,
        urlSealed: await sealUrl(db, keys, project.id, id, url),
        urlHint: maskUrl(url),
        secretSealed: secret ? await sealSecrets(db, keys, project.id, id, { secret }) : null,
        enabled: input.enabled ?? true,
        notifyResolved: input.notifyResolved ?? true,
        reminderMinutes: input.reminderMinutes ?? null,
      }));
      try {
        await channelsRepo.insert(db, id, project.id, userId, write);
      } catch (e) {
        if (isNameTaken(e)) throw nameTaken(input.name);
        throw e;
      }
      return { channel: toChannel(await load(project, id)), ...(generated ? { secret: generated } : {}) };
    },

    async update(
      project: Project,
      id: string,
      input: UpdateChannelInput,
    ): Promise<{ channel: Channel; secret?: string }> {
      const cur = await load(project, id);
      const kind = input.kind ?? cur.kind;
      if (kind !== cur.kind && input.url === undefined)
        throw new AppError('validation_failed', 'Changing a channel’s kind needs its new `url` too.');
      if (kind === 'slack' && input.secret !== undefined)
        throw new AppError('validation_failed', 'Slack channels have no signing secret; leave `secret` out.');
      const url = input.url !== undefined ? checkChannelUrl(kind, input.url, deps.netPolicy).href : undefined;
      let generated: string | undefined;
      const write: ChannelWrite = await withKeys(log, async () => {
        let secretSealed = cur.secret_sealed;
        if (kind === 'slack') secretSealed = null;
        else if (input.secret !== undefined)
          secretSealed = await sealSecrets(db, keys, project.id, id, { secret: input.secret });
        else if (secretSealed === null) {
          generated = newWebhookSecret();
          secretSealed = await sealSecrets(db, keys, project.id, id, { secret: generated });
        }
        return {
          name: input.name ?? cur.name,
          kind,
          urlSealed: url !== undefined ? await sealUrl(db, keys, project.id, id, url) : cur.url_sealed,
          urlHint: url !== undefined ? maskUrl(url) : cur.url_hint,
          secretSealed,
          enabled: input.enabled ?? cur.enabled,
          notifyResolved: input.notifyResolved ?? cur.notify_resolved,
          reminderMinutes: input.reminderMinutes !== undefined ? input.reminderMinutes : cur.reminder_minutes,
        };
      });
      try {
        if (!(await channelsRepo.update(db, project.id, id, write, clock.now())))
          throw new AppError('channel_not_found');
      } catch (e) {
        if (isNameTaken(e)) throw nameTaken(write.name);
        throw e;
      }
      return { channel: toChannel(await load(project, id)), ...(generated ? { secret: generated } : {}) };
    },

    async remove(project: Project, id: string): Promise<void> {
      if (!(await channelsRepo.remove(db, project.id, id))) throw new AppError('channel_not_found');
    },

    /**
     * A new signing secret; the previous one keeps signing beside it for 24 hours (both signatures
     * are sent), so receivers can switch without rejecting a message.
     */
    async rotateSecret(
      project: Project,
      id: string,
    ): Promise<{ channel: Channel; secret: string; previousSecretUntil: string }> {
      const cur = await load(project, id);
      if (cur.kind !== 'webhook')
        throw new AppError('validation_failed', 'Only webhook channels have a signing secret to rotate.');
      const secret = newWebhookSecret();
      const previousSecretUntil = new Date(clock.now().getTime() + PREVIOUS_SECRET_MS).toISOString();
      const sealed = await withKeys(log, async () => {
        const old = await openSecrets(db, keys, cur);
        const next: WebhookSecrets = old
          ? { secret, previous: old.secret, previousUntil: previousSecretUntil }
          : { secret };
        return sealSecrets(db, keys, project.id, id, next);
      });
      await channelsRepo.update(
        db,
        project.id,
        id,
        {
          name: cur.name,
          kind: cur.kind,
          urlSealed: cur.url_sealed,
          urlHint: cur.url_hint,
          secretSealed: sealed,
          enabled: cur.enabled,
          notifyResolved: cur.notify_resolved,
          reminderMinutes: cur.reminder_minutes,
        },
        clock.now(),
      );
      return { channel: toChannel(await load(project, id)), secret, previousSecretUntil };
    },

    /**
     * Sends the example message now and answers with the delivery log; it is also stored as a `test`
     * delivery in the channel's log. A disabled channel can be tested (that is how one checks a fix).
     */
    async test(project: Project, id: string, dashboardUrl: string): Promise<DeliveryLog> {
      const cur = await load(project, id);
      const channel = await withKeys(log, () => openChannel(db, keys, cur, clock.now()));
      const message = testMessage({
        project: { id: project.id, slug: project.slug, name: project.name },
        url: dashboardUrl,
        sentAt: clock.now(),
      });
      const o = { ...TEST_DELIVERY, ...deps.testDelivery };
      const deliveryId = await channelsRepo.insertTest(db, {
        channelId: id,
        projectId: project.id,
        message,
        claimedBy: 'api:test',
        // Past the whole test send: the notifier never takes it over while this request runs.
        until: new Date(clock.now().getTime() + o.maxAttempts * (o.timeoutMs + o.maxDelayMs) + 60_000),
      });
      const result = await deliver(channel, message, {
        ...o,
        ...(deps.netPolicy ? { netPolicy: deps.netPolicy } : {}),
        deliveryId,
        onAttempt: (a: DeliveryAttempt) => channelsRepo.addAttempt(db, deliveryId, a),
      });
      await channelsRepo.finishTest(
        db,
        deliveryId,
        result.ok,
        result.ok ? null : (result.error ?? null),
        clock.now(),
      );
      return result;
    },

    async deliveries(
      project: Project,
      id: string,
      q: { cursor?: string; limit?: number },
    ): Promise<{ deliveries: Delivery[]; nextCursor: string | null }> {
      await load(project, id);
      let after: string | null = null;
      if (q.cursor) {
        after = Buffer.from(q.cursor, 'base64url').toString('utf8');
        if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(after))
          throw new AppError('invalid_cursor');
      }
      const limit = q.limit ?? 50;
      const rows = await channelsRepo.deliveries(db, id, after, limit + 1);
      const page = rows.slice(0, limit);
      const last = page[page.length - 1];
      return {
        deliveries: page,
        nextCursor: rows.length > limit && last ? Buffer.from(last.id).toString('base64url') : null,
      };
    },
  };
}
export type ChannelService = ReturnType<typeof createChannelService>;
