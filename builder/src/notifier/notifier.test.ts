import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type Clock, createLogger, createMemoryBus, type Db } from '@peep/pkg';
import { createKeyring, generateMasterKey } from '@peep/pkg/master-key';
import { sealForProject } from '@peep/pkg/project-keys';
import { openTestDb, type TestDb, testEngines } from '@peep/pkg/testing';
import { createBuilder } from '../index.js';
import { always, type Receiver, startReceiver } from '../notify/testing.js';
import type { DeliveryAttempt } from '../notify/types.js';
import { verifyWebhookSignature, type WebhookBodyV1 } from '../notify/webhook.js';
import { enqueueReminders } from './reminders.js';
import { NOTIFY_WAKE } from './repo.js';
import { secretPurpose } from './sealed.js';
import { enqueueDelivery, messageFor, seedChannel, seedIncident, seedProject } from './testing.js';
import { createNotifier, type NotifierOptions } from './worker.js';

const keys = createKeyring(generateMasterKey());
const log = createLogger({ level: 'silent' });
const systemClock: Clock = { now: () => new Date() };
/** Fast retries so a 500, 500, 200 receiver takes milliseconds. */
const fast = { baseDelayMs: 20, maxDelayMs: 50, timeoutMs: 2000 };

interface Row {
  status: string;
  attempts: DeliveryAttempt[];
  error: string | null;
  claimed_by: string | null;
  finished_at: Date | null;
}
async function row(db: Db, id: string): Promise<Row> {
  const { rows } = await db.query<Row>(
    'SELECT status, attempts, error, claimed_by, finished_at FROM deliveries WHERE id = $1',
    [id],
  );
  return rows[0] as Row;
}
async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false>, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

for (const engine of testEngines()) {
  describe(`notifier (${engine})`, () => {
    let t: TestDb;
    const receivers: Receiver[] = [];
    const receiver = async (...a: Parameters<typeof startReceiver>) => {
      const r = await startReceiver(...a);
      receivers.push(r);
      return r;
    };
    const notifier = (o: Partial<NotifierOptions> = {}) =>
      createNotifier({
        db: t.db,
        bus: createMemoryBus(),
        log,
        clock: systemClock,
        keys,
        delivery: fast,
        ...o,
      });

    before(async () => {
      t = await openTestDb(engine);
    });
    after(async () => {
      for (const r of receivers) await r.close();
      await t.drop();
    });

    test('an incident delivery reaches a Slack receiver as Block Kit, and the timeline says so', async () => {
      const p = await seedProject(t.db);
      const slack = await receiver(always(200, 'ok'));
      const ch = await seedChannel(t.db, keys, {
        projectId: p.projectId,
        name: 'ops-slack',
        kind: 'slack',
        url: slack.url('/services/T000/B000/slacktokenslacktoken'),
      });
      const openedAt = new Date(Date.now() - 120_000);
      const inc = await seedIncident(t.db, { ...p, openedAt });
      const id = await enqueueDelivery(t.db, {
        channelId: ch.id,
        projectId: p.projectId,
        incidentId: inc.id,
        type: 'opened',
        message: messageFor(inc, p, 'opened', openedAt),
      });
      const n = notifier();
      n.start();
      try {
        await slack.waitFor(1);
        const hit = slack.hits[0];
        assert.ok(hit);
        assert.equal(hit.path, '/services/T000/B000/slacktokenslacktoken');
        const body = JSON.parse(hit.raw.toString('utf8')) as {
          text: string;
          blocks: { type: string; text?: { type: string; text: string } }[];
        };
        assert.equal(typeof body.text, 'string');
        assert.equal(body.blocks[0]?.type, 'header');
        assert.match(body.blocks[0]?.text?.text ?? '', /checkout-api is down/);
        assert.ok(body.blocks.some((b) => b.type === 'section'));
        assert.ok(body.blocks.some((b) => b.type === 'actions'));
        const r = await waitFor('ok', async () => {
          const x = await row(t.db, id);
          return x.status === 'ok' && x;
        });
        assert.equal(r.attempts.length, 1);
        assert.equal(r.attempts[0]?.status, 200);
        assert.equal(r.claimed_by, null);
        assert.ok(r.finished_at);
        const ev = await waitFor('notified event', async () => {
          const { rows } = await t.db.query<{
            actor_name: string;
            body: string;
            data: Record<string, unknown>;
          }>(
            `SELECT actor_name, body, data FROM incident_events WHERE incident_id = $1 AND type = 'notified'`,
            [inc.id],
          );
          return rows[0];
        });
        assert.equal(ev.actor_name, 'peep');
        assert.deepEqual(ev.data, {
          channel: 'ops-slack',
          channelId: ch.id,
          deliveryId: id,
          type: 'opened',
          ok: true,
          attempts: 1,
        });
        const { rows } = await t.db.query<{ last_notified_at: Date | null }>(
          'SELECT last_notified_at FROM incidents WHERE id = $1',
          [inc.id],
        );
        assert.ok(rows[0]?.last_notified_at);
      } finally {
        await n.stop();
      }
    });

    test('a webhook receiver verifies the signature of a resolved message with the channel secret', async () => {
      const p = await seedProject(t.db);
      const hook = await receiver(always(204));
      const ch = await seedChannel(t.db, keys, {
        projectId: p.projectId,
        kind: 'webhook',
        url: hook.url('/in'),
      });
      const openedAt = new Date(Date.now() - 600_000);
      const inc = await seedIncident(t.db, { ...p, openedAt, status: 'resolved' });
      const id = await enqueueDelivery(t.db, {
        channelId: ch.id,
        projectId: p.projectId,
        incidentId: inc.id,
        type: 'resolved',
        message: messageFor(inc, p, 'resolved', openedAt),
      });
      const n = notifier();
      assert.equal(await n.drain(), 1);
      const hit = hook.hits[0];
      assert.ok(hit);
      assert.deepEqual(
        verifyWebhookSignature(
          ch.secret as string,
          hit.headers['x-peep-timestamp'] as string,
          hit.raw,
          hit.headers['x-peep-signature'] as string,
        ),
        { ok: true },
      );
      assert.equal(
        verifyWebhookSignature(
          'peep_whsec_wrong',
          hit.headers['x-peep-timestamp'] as string,
          hit.raw,
          hit.headers['x-peep-signature'] as string,
        ).ok,
        false,
      );
      const body = JSON.parse(hit.raw.toString('utf8')) as WebhookBodyV1;
      assert.equal(body.type, 'resolved');
      assert.equal(body.incident.status, 'resolved');
      assert.equal(body.deliveryId, id);
      assert.equal(hit.headers['x-peep-delivery'], id);
      assert.equal((await row(t.db, id)).status, 'ok');
    });

    test('a rotated-out secret signs alongside the new one until it lapses', async () => {
      const p = await seedProject(t.db);
      const hook = await receiver(always(200));
      const future = new Date(Date.now() + 3600_000).toISOString();
      const ch = await seedChannel(t.db, keys, {
        projectId: p.projectId,
        kind: 'webhook',
        url: hook.url('/in'),
        secret: { secret: 'peep_whsec_new', previous: 'peep_whsec_old', previousUntil: future },
      });
      const inc = await seedIncident(t.db, p);
      await enqueueDelivery(t.db, {
        channelId: ch.id,
        projectId: p.projectId,
        incidentId: inc.id,
        type: 'opened',
        message: messageFor(inc, p, 'opened', new Date()),
      });
      await notifier().drain();
      const hit = hook.hits[0];
      assert.ok(hit);
      const sig = hit.headers['x-peep-signature'] as string;
      assert.equal(sig.split(',').length, 2);
      for (const s of ['peep_whsec_new', 'peep_whsec_old'])
        assert.ok(verifyWebhookSignature(s, hit.headers['x-peep-timestamp'] as string, hit.raw, sig).ok, s);
    });

    test('500, 500, 200: delivered on attempt 3 with every attempt stored and one delivery id', async () => {
      const p = await seedProject(t.db);
      const flaky = await receiver((n, _req, res) => {
        res.writeHead(n <= 2 ? 500 : 200);
        res.end(n <= 2 ? 'upstream sad' : 'ok');
      });
      const ch = await seedChannel(t.db, keys, {
        projectId: p.projectId,
        kind: 'webhook',
        url: flaky.url('/x'),
      });
      const inc = await seedIncident(t.db, p);
      const id = await enqueueDelivery(t.db, {
        channelId: ch.id,
        projectId: p.projectId,
        incidentId: inc.id,
        type: 'opened',
        message: messageFor(inc, p, 'opened', new Date()),
      });
      await notifier().drain();
      const r = await row(t.db, id);
      assert.equal(r.status, 'ok');
      assert.deepEqual(
        r.attempts.map((a) => [a.n, a.status]),
        [
          [1, 500],
          [2, 500],
          [3, 200],
        ],
      );
      assert.match(r.attempts[0]?.error ?? '', /HTTP 500/);
      assert.ok((r.attempts[0]?.retryInMs ?? -1) >= 0);
      assert.equal(new Set(flaky.hits.map((h) => h.headers['x-peep-delivery'])).size, 1);
      const { rows } = await t.db.query<{ data: { attempts: number; ok: boolean } }>(
        `SELECT data FROM incident_events WHERE incident_id = $1 AND type = 'notified'`,
        [inc.id],
      );
      assert.deepEqual(
        rows.map((x) => [x.data.ok, x.data.attempts]),
        [[true, 3]],
      );
    });

    test('a receiver that refuses (404) fails the delivery with the reason, on the timeline too', async () => {
      const p = await seedProject(t.db);
      const gone = await receiver(always(404, 'no_service'));
      const ch = await seedChannel(t.db, keys, {
        projectId: p.projectId,
        kind: 'slack',
        url: gone.url('/services/T1/B1/tokentokentoken'),
      });
      const inc = await seedIncident(t.db, p);
      const id = await enqueueDelivery(t.db, {
        channelId: ch.id,
        projectId: p.projectId,
        incidentId: inc.id,
        type: 'opened',
        message: messageFor(inc, p, 'opened', new Date()),
      });
      await notifier().drain();
      const r = await row(t.db, id);
      assert.equal(r.status, 'failed');
      assert.equal(r.attempts.length, 1);
      assert.match(r.error ?? '', /HTTP 404 no_service; the channel URL is gone/);
      assert.ok(!(r.error ?? '').includes('tokentokentoken'));
      const { rows } = await t.db.query<{ body: string; data: { ok: boolean } }>(
        `SELECT body, data FROM incident_events WHERE incident_id = $1 AND type = 'notified'`,
        [inc.id],
      );
      assert.equal(rows[0]?.data.ok, false);
      assert.match(rows[0]?.body ?? '', /failed: http: HTTP 404/);
    });

    test('notify.wake starts a delivery at once, without waiting for the next poll', async () => {
      const p = await seedProject(t.db);
      const hook = await receiver(always(200));
      const ch = await seedChannel(t.db, keys, {
        projectId: p.projectId,
        kind: 'slack',
        url: hook.url('/s/abcdefgh'),
      });
      const bus = createMemoryBus();
      const n = notifier({ bus, pollMs: 60_000 });
      n.start();
      try {
        await new Promise((r) => setTimeout(r, 100)); // the first poll has passed
        const inc = await seedIncident(t.db, p);
        const t0 = performance.now();
        const id = await enqueueDelivery(t.db, {
          channelId: ch.id,
          projectId: p.projectId,
          incidentId: inc.id,
          type: 'opened',
          message: messageFor(inc, p, 'opened', new Date()),
        });
        bus.publish(NOTIFY_WAKE, {});
        await hook.waitFor(1, 3000);
        assert.ok((hook.hits[0]?.at ?? Infinity) - t0 < 1000);
        await waitFor('ok', async () => (await row(t.db, id)).status === 'ok');
      } finally {
        await n.stop();
      }
    });

    test('restart: a dead worker’s expired claim is resumed with the attempts it has left; a live claim is not', async () => {
      const p = await seedProject(t.db);
      const hook = await receiver(always(200));
      const ch = await seedChannel(t.db, keys, {
        projectId: p.projectId,
        kind: 'webhook',
        url: hook.url('/r'),
      });
      const inc = await seedIncident(t.db, p);
      const msg = messageFor(inc, p, 'opened', new Date());
      const dead = await enqueueDelivery(t.db, {
        channelId: ch.id,
        projectId: p.projectId,
        incidentId: inc.id,
        type: 'opened',
        message: msg,
      });
      const live = await enqueueDelivery(t.db, {
        channelId: ch.id,
        projectId: p.projectId,
        incidentId: inc.id,
        type: 'opened',
        message: msg,
      });
      const oneAttempt = JSON.stringify([{ n: 1, at: new Date().toISOString(), durationMs: 3, status: 502 }]);
      await t.db.query(
        `UPDATE deliveries SET status = 'sending', claimed_by = 'dead-worker', claimed_until = now() - interval '1 second', attempts = $2::jsonb WHERE id = $1`,
        [dead, oneAttempt],
      );
      await t.db.query(
        `UPDATE deliveries SET status = 'sending', claimed_by = 'busy-worker', claimed_until = now() + interval '1 hour' WHERE id = $1`,
        [live],
      );
      assert.equal(await notifier().drain(), 1);
      const d = await row(t.db, dead);
      assert.equal(d.status, 'ok');
      assert.deepEqual(
        d.attempts.map((a) => [a.n, a.status]),
        [
          [1, 502],
          [2, 200],
        ],
      );
      assert.equal(hook.hits.length, 1);
      assert.equal(hook.hits[0]?.headers['x-peep-delivery'], dead);
      const l = await row(t.db, live);
      assert.equal(l.status, 'sending');
      assert.equal(l.claimed_by, 'busy-worker');
    });

    test('stop() during a retry wait gives the row back; the next worker finishes it', async () => {
      const p = await seedProject(t.db);
      const flaky = await receiver((n, _req, res) => {
        res.writeHead(n === 1 ? 503 : 200);
        res.end();
      });
      const ch = await seedChannel(t.db, keys, {
        projectId: p.projectId,
        kind: 'slack',
        url: flaky.url('/s/abcdefgh'),
      });
      const inc = await seedIncident(t.db, p);
      const id = await enqueueDelivery(t.db, {
        channelId: ch.id,
        projectId: p.projectId,
        incidentId: inc.id,
        type: 'opened',
        message: messageFor(inc, p, 'opened', new Date()),
      });
      const first = notifier({ delivery: { baseDelayMs: 60_000, maxDelayMs: 60_000, random: () => 0.99 } });
      first.start();
      await flaky.waitFor(1);
      await waitFor('first attempt stored', async () => (await row(t.db, id)).attempts.length === 1);
      await first.stop(50);
      const back = await row(t.db, id);
      assert.equal(back.status, 'pending');
      assert.equal(back.claimed_by, null);
      await notifier().drain();
      const done = await row(t.db, id);
      assert.equal(done.status, 'ok');
      assert.deepEqual(
        done.attempts.map((a) => [a.n, a.status]),
        [
          [1, 503],
          [2, 200],
        ],
      );
    });

    test('reminders: due per channel interval while open, not twice, not once acknowledged', async () => {
      const p = await seedProject(t.db);
      const hook = await receiver(always(200));
      const ch = await seedChannel(t.db, keys, {
        projectId: p.projectId,
        kind: 'webhook',
        url: hook.url('/remind'),
        reminderMinutes: 30,
      });
      const quiet = await seedChannel(t.db, keys, {
        projectId: p.projectId,
        kind: 'slack',
        url: hook.url('/quiet/x'),
      });
      const t0 = new Date();
      const inc = await seedIncident(t.db, { ...p, openedAt: t0 });
      const acked = await seedIncident(t.db, {
        ...p,
        openedAt: t0,
        status: 'acknowledged',
        kind: 'degraded',
      });
      for (const c of [ch, quiet])
        await enqueueDelivery(t.db, {
          channelId: c.id,
          projectId: p.projectId,
          incidentId: inc.id,
          type: 'opened',
          message: messageFor(inc, p, 'opened', t0, t0),
          at: t0,
        });
      // Those were sent when the incident opened.
      await t.db.query(`UPDATE deliveries SET status = 'ok' WHERE incident_id = $1`, [inc.id]);
      const bus = createMemoryBus();
      let woke = 0;
      bus.subscribe(NOTIFY_WAKE, () => woke++);
      const at = (min: number): Clock => ({ now: () => new Date(t0.getTime() + min * 60_000) });
      assert.equal(await enqueueReminders({ db: t.db, bus, clock: at(29) }), 0);
      assert.equal(await enqueueReminders({ db: t.db, bus, clock: at(31) }), 1);
      assert.equal(await enqueueReminders({ db: t.db, bus, clock: at(32) }), 0);
      assert.equal(await enqueueReminders({ db: t.db, bus, clock: at(62) }), 1);
      await new Promise((r) => setImmediate(r));
      assert.equal(woke, 2);
      const { rows } = await t.db.query<{ incident_id: string; channel_id: string }>(
        `SELECT incident_id, channel_id FROM deliveries WHERE type = 'reminder' AND project_id = $1`,
        [p.projectId],
      );
      assert.deepEqual(
        rows.map((r) => [r.incident_id, r.channel_id]),
        [
          [inc.id, ch.id],
          [inc.id, ch.id],
        ],
      );
      assert.ok(!rows.some((r) => r.incident_id === acked.id));
      // A project-wide maintenance window from minute 70 to 120 holds reminders; they resume after it.
      await t.db.query(
        `INSERT INTO maintenance_windows (project_id, title, starts_at, ends_at) VALUES ($1, 'upgrade', $2, $3)`,
        [p.projectId, new Date(t0.getTime() + 70 * 60_000), new Date(t0.getTime() + 120 * 60_000)],
      );
      assert.equal(await enqueueReminders({ db: t.db, bus, clock: at(93) }), 0, 'held in the window');
      assert.equal(await enqueueReminders({ db: t.db, bus, clock: at(121) }), 1, 'due again after it');
      await t.db.query(`DELETE FROM deliveries WHERE type = 'reminder' AND created_at > $1`, [
        new Date(t0.getTime() + 100 * 60_000),
      ]);
      await notifier({ clock: at(62) }).drain();
      assert.equal(hook.hits.length, 2);
      const body = JSON.parse(hook.hits[0]?.raw.toString('utf8') ?? '{}') as WebhookBodyV1;
      assert.equal(body.type, 'reminder');
      assert.equal(hook.hits[0]?.headers['x-peep-event'], 'reminder');
      assert.equal(body.incident.id, inc.id);
      // Resolved: no more reminders.
      await t.db.query(`UPDATE incidents SET status = 'resolved', resolved_at = now() WHERE id = $1`, [
        inc.id,
      ]);
      assert.equal(await enqueueReminders({ db: t.db, bus, clock: at(200) }), 0);
    });

    test('a channel sealed for another project does not open: failed, no request sent', async () => {
      const p = await seedProject(t.db);
      const other = await seedProject(t.db);
      const hook = await receiver(always(200));
      const ch = await seedChannel(t.db, keys, {
        projectId: p.projectId,
        kind: 'slack',
        url: hook.url('/s/abcdefgh'),
      });
      // The row claims to belong to the other project: its sealed URL was bound to the first one.
      await t.db.query('UPDATE channels SET project_id = $2 WHERE id = $1', [ch.id, other.projectId]);
      const inc = await seedIncident(t.db, other);
      const id = await enqueueDelivery(t.db, {
        channelId: ch.id,
        projectId: other.projectId,
        incidentId: inc.id,
        type: 'opened',
        message: messageFor(inc, other, 'opened', new Date()),
      });
      await notifier().drain();
      const r = await row(t.db, id);
      assert.equal(r.status, 'failed');
      assert.match(r.error ?? '', /cannot open the channel's sealed URL or secret \(tampered_or_wrong_key\)/);
      assert.equal(hook.hits.length, 0);
    });

    test('two workers draining the same outbox deliver every row exactly once', async () => {
      const p = await seedProject(t.db);
      const hook = await receiver(always(200));
      // A bare sealed secret (not the JSON form) is read as the secret.
      const ch = await seedChannel(t.db, keys, {
        projectId: p.projectId,
        kind: 'webhook',
        url: hook.url('/race'),
      });
      await t.db.query('UPDATE channels SET secret_sealed = $2 WHERE id = $1', [
        ch.id,
        await sealForProject(t.db, keys, p.projectId, 'peep_whsec_bare_secret_value', secretPurpose(ch.id)),
      ]);
      const inc = await seedIncident(t.db, p);
      const ids = new Set<string>();
      for (let i = 0; i < 40; i++)
        ids.add(
          await enqueueDelivery(t.db, {
            channelId: ch.id,
            projectId: p.projectId,
            incidentId: inc.id,
            type: 'opened',
            message: messageFor(inc, p, 'opened', new Date()),
          }),
        );
      const [a, b] = await Promise.all([
        notifier({ workerId: 'w-a', concurrency: 4 }).drain(),
        notifier({ workerId: 'w-b', concurrency: 4 }).drain(),
      ]);
      assert.equal(a + b, 40);
      assert.equal(hook.hits.length, 40);
      assert.deepEqual(new Set(hook.hits.map((h) => h.headers['x-peep-delivery'])), ids);
      const hit = hook.hits[0];
      assert.ok(hit);
      assert.ok(
        verifyWebhookSignature(
          'peep_whsec_bare_secret_value',
          hit.headers['x-peep-timestamp'] as string,
          hit.raw,
          hit.headers['x-peep-signature'] as string,
        ).ok,
      );
      const { rows } = await t.db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM deliveries WHERE channel_id = $1 AND status = 'ok'`,
        [ch.id],
      );
      assert.equal(rows[0]?.n, 40);
    });

    test('the builder runs the notifier when given master keys, and wakes it on notify.wake', async () => {
      const p = await seedProject(t.db);
      const hook = await receiver(always(200));
      const ch = await seedChannel(t.db, keys, {
        projectId: p.projectId,
        kind: 'webhook',
        url: hook.url('/b'),
      });
      const bus = createMemoryBus();
      const builder = createBuilder({ db: t.db, bus, log, clock: systemClock, keys, delivery: fast });
      builder.start();
      try {
        assert.ok(builder.status().some((j) => j.name === 'notify-reminders'));
        const inc = await seedIncident(t.db, p);
        const id = await enqueueDelivery(t.db, {
          channelId: ch.id,
          projectId: p.projectId,
          incidentId: inc.id,
          type: 'opened',
          message: messageFor(inc, p, 'opened', new Date()),
        });
        bus.publish(NOTIFY_WAKE, {});
        await hook.waitFor(1, 3000);
        await waitFor('ok', async () => (await row(t.db, id)).status === 'ok');
      } finally {
        await builder.stop();
      }
      // Without keys: no notifier, no reminder job.
      const bare = createBuilder({ db: t.db, bus, log, clock: systemClock });
      assert.ok(!bare.status().some((j) => j.name === 'notify-reminders'));
    });
  });
}
