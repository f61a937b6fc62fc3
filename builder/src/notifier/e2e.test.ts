/**
 * End to end with the incident store: opening an incident enqueues a delivery per channel and wakes
 * the notifier, which sends Block Kit to a Slack-like receiver and a signed body to a webhook
 * receiver; resolving sends the resolution only to channels that want it; the timeline records
 * each delivery. Real loopback receivers, a real database on both engines.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createLogger, createMemoryBus } from '@peep/pkg';
import { createKeyring, generateMasterKey } from '@peep/pkg/master-key';
import { openTestDb, type TestDb, testEngines } from '@peep/pkg/testing';
import { createIncidentStore } from '../incidents/store.js';
import { always, type Receiver, startReceiver } from '../notify/testing.js';
import { verifyWebhookSignature, type WebhookBodyV1 } from '../notify/webhook.js';
import { NOTIFY_WAKE } from './repo.js';
import { seedChannel, seedProject } from './testing.js';
import { createNotifier, type Notifier } from './worker.js';

const keys = createKeyring(generateMasterKey());

for (const engine of testEngines()) {
  describe(`incident to receivers (${engine})`, () => {
    let t: TestDb;
    let slack: Receiver;
    let hook: Receiver;
    let notifier: Notifier;
    const bus = createMemoryBus();

    before(async () => {
      t = await openTestDb(engine);
      slack = await startReceiver(always(200, 'ok'));
      hook = await startReceiver(always(204));
      // A long poll: deliveries below arrive because the store's wake says so.
      notifier = createNotifier({
        db: t.db,
        bus,
        log: createLogger({ level: 'silent' }),
        clock: { now: () => new Date() },
        keys,
        pollMs: 60_000,
      });
      notifier.start();
    });
    after(async () => {
      await notifier.stop();
      await slack.close();
      await hook.close();
      await t.drop();
    });

    test('open and resolve: Slack and webhook receivers get the messages, the timeline says so', async () => {
      const p = await seedProject(t.db);
      const sl = await seedChannel(t.db, keys, {
        projectId: p.projectId,
        name: 'slack',
        kind: 'slack',
        url: slack.url('/services/T1/B1/slacksecrettoken'),
      });
      await t.db.query('UPDATE channels SET notify_resolved = false WHERE id = $1', [sl.id]);
      const wh = await seedChannel(t.db, keys, {
        projectId: p.projectId,
        name: 'hook',
        kind: 'webhook',
        url: hook.url('/in'),
      });
      const store = createIncidentStore({
        publicUrl: 'https://peep.example.com',
        wake: () => bus.publish(NOTIFY_WAKE, { reason: 'incident' }),
      });
      await new Promise((r) => setTimeout(r, 50)); // past the notifier's first poll

      const t0 = performance.now();
      const opened = await store.open(t.db, {
        projectId: p.projectId,
        environmentId: p.environmentId,
        subjectType: 'target',
        subjectId: '7c9e6679-7425-40de-944b-e07fc1f90ae7',
        subjectName: 'checkout-api',
        kind: 'down',
        title: 'checkout-api is down',
        reason: '3 checks in a row failed: HTTP 503.',
        numbers: { 'Failed checks': 3, 'Last status': 503 },
        at: new Date(),
      });
      assert.ok(opened.created);
      const inc = opened.incident;
      assert.ok(inc);
      await Promise.all([slack.waitFor(1, 3000), hook.waitFor(1, 3000)]);
      const took = Math.max(slack.hits[0]?.at ?? 0, hook.hits[0]?.at ?? 0) - t0;
      assert.ok(took < 1000, `${took} ms from open to both receivers`);

      const blocks = JSON.parse(slack.hits[0]?.raw.toString('utf8') ?? '{}') as {
        blocks: { type: string; text?: { text: string } }[];
      };
      assert.equal(blocks.blocks[0]?.type, 'header');
      assert.match(blocks.blocks[0]?.text?.text ?? '', /checkout-api is down/);
      const h = hook.hits[0];
      assert.ok(h);
      assert.ok(
        verifyWebhookSignature(
          wh.secret as string,
          h.headers['x-peep-timestamp'] as string,
          h.raw,
          h.headers['x-peep-signature'] as string,
        ).ok,
      );
      const body = JSON.parse(h.raw.toString('utf8')) as WebhookBodyV1;
      assert.deepEqual([body.type, body.incident.id, body.incident.status], ['opened', inc.id, 'open']);
      assert.match(body.url, /^https:\/\/peep\.example\.com\/projects\//);

      const resolved = await store.resolve(t.db, {
        projectId: p.projectId,
        subjectType: 'target',
        subjectId: '7c9e6679-7425-40de-944b-e07fc1f90ae7',
        at: new Date(),
        reason: 'Checks pass again.',
      });
      assert.equal(resolved.length, 1);
      await hook.waitFor(2, 3000);
      const r = JSON.parse(hook.hits[1]?.raw.toString('utf8') ?? '{}') as WebhookBodyV1;
      assert.deepEqual([r.type, r.incident.status], ['resolved', 'resolved']);

      // Every delivery finished and on the timeline: two for the opening, one for the resolution.
      for (let i = 0; ; i++) {
        const { rows } = await t.db.query<{ data: { channel: string; type: string; ok: boolean } }>(
          `SELECT data FROM incident_events WHERE incident_id = $1 AND type = 'notified' ORDER BY id`,
          [inc.id],
        );
        if (rows.length === 3) {
          assert.deepEqual(rows.map((x) => `${x.data.type}:${x.data.channel}:${x.data.ok}`).sort(), [
            'opened:hook:true',
            'opened:slack:true',
            'resolved:hook:true',
          ]);
          break;
        }
        assert.ok(i < 100, `only ${rows.length} notified events`);
        await new Promise((res) => setTimeout(res, 20));
      }
      assert.equal(slack.hits.length, 1, 'the Slack channel does not want resolutions');
    });
  });
}
