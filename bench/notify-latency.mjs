#!/usr/bin/env node
// Notification latency: time from a delivery row being enqueued in the outbox (`deliveries`, as the
// incident store writes it) to a webhook receiver on loopback having the request, through the real
// notifier (builder/src/notifier): claim, open the sealed URL and secret with the project key, sign,
// POST, record the attempt and the result. Deliveries are enqueued one at a time, `--gap` ms apart,
// to one project's webhook channel.
//
// Two modes, both reported:
// - wake: the enqueuer publishes `notify.wake` on the bus after inserting (what the store does);
// - poll: no wake, the notifier finds the row on its 1 s poll (when a wake is lost); these rows
//   are enqueued at random points of the poll period.
//
//   node bench/notify-latency.mjs                      # 200 deliveries with wake, 50 polled, PGlite
//   node bench/notify-latency.mjs --engine postgres    # PEEP_TEST_DATABASE_URL must be set
//   node bench/notify-latency.mjs --count 200 --poll-count 50 --gap 20 --json
//
// Needs the TypeScript build (`npm run build:ts`).
import { parseArgs } from 'node:util';
import { NOTIFY_WAKE } from '../builder/dist/notifier/repo.js';
import {
  enqueueDelivery,
  messageFor,
  seedChannel,
  seedIncident,
  seedProject,
} from '../builder/dist/notifier/testing.js';
import { createNotifier } from '../builder/dist/notifier/worker.js';
import { always, startReceiver } from '../builder/dist/notify/testing.js';
import { createLogger, createMemoryBus } from '../pkg/dist/index.js';
import { createKeyring, generateMasterKey } from '../pkg/dist/master-key.js';
import { openTestDb } from '../pkg/dist/testing.js';

const { values: opts } = parseArgs({
  options: {
    engine: { type: 'string', default: 'pglite' },
    count: { type: 'string', default: '200' },
    'poll-count': { type: 'string', default: '50' },
    gap: { type: 'string', default: '20' },
    json: { type: 'boolean', default: false },
  },
});

const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
const summary = (ms) => {
  const s = [...ms].sort((a, b) => a - b);
  const r = (v) => Math.round(v * 10) / 10;
  return { n: s.length, p50: r(pct(s, 50)), p99: r(pct(s, 99)), max: r(s[s.length - 1]) };
};

const t = await openTestDb(opts.engine);
const keys = createKeyring(generateMasterKey());
const bus = createMemoryBus();
const receiver = await startReceiver(always(200));
const notifier = createNotifier({
  db: t.db,
  bus,
  log: createLogger({ level: 'warn' }),
  clock: { now: () => new Date() },
  keys,
});
try {
  const p = await seedProject(t.db);
  const ch = await seedChannel(t.db, keys, {
    projectId: p.projectId,
    kind: 'webhook',
    url: receiver.url('/hook'),
  });
  const inc = await seedIncident(t.db, p);
  const message = messageFor(inc, p, 'opened', new Date());
  notifier.start();

  async function run(n, wake) {
    const out = [];
    for (let i = 0; i < n; i++) {
      const before = receiver.hits.length;
      const t0 = performance.now();
      await enqueueDelivery(t.db, {
        channelId: ch.id,
        projectId: p.projectId,
        incidentId: inc.id,
        type: 'opened',
        message,
      });
      if (wake) bus.publish(NOTIFY_WAKE, {});
      await receiver.waitFor(before + 1, 5000);
      out.push((receiver.hits[before]?.at ?? Number.NaN) - t0);
      // Polled rows land at a random point of the poll period, not right after the last poll.
      await new Promise((r) => setTimeout(r, Number(opts.gap) + (wake ? 0 : Math.random() * 1000)));
    }
    return out;
  }
  await run(5, true); // warm-up: key cache, JIT, connections
  const wake = summary(await run(Number(opts.count), true));
  const poll = summary(await run(Number(opts['poll-count']), false));
  const result = { engine: opts.engine, gapMs: Number(opts.gap), wake, poll };
  if (opts.json) console.log(JSON.stringify(result));
  else {
    console.log(
      `notification latency, enqueue -> receiver has the request (${opts.engine}, ${opts.gap} ms apart)`,
    );
    console.log(`  with notify.wake: n=${wake.n} p50 ${wake.p50} ms  p99 ${wake.p99} ms  max ${wake.max} ms`);
    console.log(`  poll only (1 s):  n=${poll.n} p50 ${poll.p50} ms  p99 ${poll.p99} ms  max ${poll.max} ms`);
  }
} finally {
  await notifier.stop();
  await receiver.close();
  await t.drop();
}
