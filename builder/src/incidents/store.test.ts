import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { Db } from '@peep/pkg';
import { createKeyring, generateMasterKey } from '@peep/pkg/master-key';
import { openTestDb, type TestDb, testEngines } from '@peep/pkg/testing';
import { seedChannel, seedProject } from '../notifier/testing.js';
import type { IncidentMessage } from '../notify/types.js';
import {
  type Actor,
  createIncidentStore,
  getIncident,
  type IncidentStore,
  listIncidents,
  type OpenInput,
} from './store.js';

const keys = createKeyring(generateMasterKey());
const T0 = new Date('2026-03-02T10:00:00.000Z');
const at = (min: number) => new Date(T0.getTime() + min * 60_000);

async function seedUser(db: Db, email: string): Promise<Actor> {
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO users (email, name, password_hash) VALUES ($1, $1, 'x') RETURNING id`,
    [email],
  );
  return { id: (rows[0] as { id: string }).id, name: email };
}

const count = async (db: Db, sql: string, params: unknown[]) =>
  (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${sql}`, params)).rows[0]?.n ?? -1;

for (const engine of testEngines()) {
  describe(`incident store (${engine})`, () => {
    let t: TestDb;
    let store: IncidentStore;
    let wakes = 0;
    before(async () => {
      t = await openTestDb(engine);
      store = createIncidentStore({ publicUrl: 'https://peep.example/', wake: () => wakes++ });
    });
    after(async () => t.drop());

    const down = (
      p: { projectId: string; environmentId: string },
      subjectId: string,
      o: Partial<OpenInput> = {},
    ) =>
      ({
        projectId: p.projectId,
        environmentId: p.environmentId,
        subjectType: 'target',
        subjectId,
        subjectName: `target-${subjectId.slice(0, 4)}`,
        kind: 'down',
        title: 'checkout-api is down',
        reason: 'Three checks in a row failed with HTTP 503.',
        numbers: { 'failed checks': 3, 'last status': 503 },
        at: at(0),
        ...o,
      }) satisfies OpenInput;

    test('20 concurrent openers of one subject and kind make one incident, one opened event, one delivery per channel, and no gap in numbers', async () => {
      const p = await seedProject(t.db);
      await seedChannel(t.db, keys, { projectId: p.projectId, kind: 'webhook', url: 'http://127.0.0.1:9/a' });
      const subject = randomUUID();
      const outs = await Promise.all(Array.from({ length: 20 }, () => store.open(t.db, down(p, subject))));
      const ids = new Set(outs.map((o) => o.incident?.id));
      assert.equal(ids.size, 1);
      assert.equal(outs.filter((o) => o.created).length, 1);
      assert.ok(outs.every((o) => !o.suppressed && o.incident?.number === 1));
      const id = [...ids][0] as string;
      assert.equal(await count(t.db, 'incidents WHERE project_id = $1', [p.projectId]), 1);
      assert.equal(await count(t.db, `incident_events WHERE incident_id = $1 AND type = 'opened'`, [id]), 1);
      assert.equal(await count(t.db, 'deliveries WHERE incident_id = $1', [id]), 1);
      // The losers took no number: the next incident of the project is #2.
      const next = await store.open(t.db, down(p, randomUUID()));
      assert.equal(next.incident?.number, 2);
      // Opening again while open returns the same incident, created false.
      const again = await store.open(t.db, down(p, subject, { at: at(5) }));
      assert.deepEqual([again.created, again.incident?.id], [false, id]);
    });

    test("a service's incidents are per environment: recovering in staging leaves prod's incident open", async () => {
      const p = await seedProject(t.db);
      const staging = await t.db.query<{ id: string }>(
        `INSERT INTO environments (project_id, slug, name, position) VALUES ($1, 'staging', 'Staging', 1) RETURNING id`,
        [p.projectId],
      );
      const stagingId = (staging.rows[0] as { id: string }).id;
      const svc = (environmentId: string) => ({
        ...down(p, 'api'),
        environmentId,
        subjectType: 'service' as const,
        subjectName: 'api',
        kind: 'error_rate' as const,
      });
      const prod = await store.open(t.db, svc(p.environmentId));
      const stg = await store.open(t.db, svc(stagingId));
      assert.ok(prod.created && stg.created);
      const done = await store.resolve(t.db, {
        projectId: p.projectId,
        environmentId: stagingId,
        subjectType: 'service',
        subjectId: 'api',
        kind: 'error_rate',
        at: at(1),
        reason: 'Recovered.',
      });
      assert.deepEqual(
        done.map((i) => i.id),
        [stg.incident?.id],
      );
      const left = await t.db.query<{ status: string }>('SELECT status FROM incidents WHERE id = $1', [
        prod.incident?.id,
      ]);
      assert.equal(left.rows[0]?.status, 'open');
    });

    test('20 concurrent openers of different subjects get the numbers 1 to 20, each once', async () => {
      const p = await seedProject(t.db);
      const outs = await Promise.all(
        Array.from({ length: 20 }, (_, i) => store.open(t.db, down(p, randomUUID(), { at: at(i) }))),
      );
      assert.ok(outs.every((o) => o.created));
      assert.deepEqual(
        outs.map((o) => o.incident?.number).sort((a, b) => (a ?? 0) - (b ?? 0)),
        Array.from({ length: 20 }, (_, i) => i + 1),
      );
      const { rows } = await t.db.query<{ last: number }>(
        'SELECT last FROM incident_counters WHERE project_id = $1',
        [p.projectId],
      );
      assert.equal(rows[0]?.last, 20);
    });

    test('numbers count per project, and a resolved subject opens a new incident with the next number', async () => {
      const a = await seedProject(t.db);
      const b = await seedProject(t.db);
      const s = randomUUID();
      assert.equal((await store.open(t.db, down(a, s))).incident?.number, 1);
      assert.equal(
        (await store.open(t.db, down(a, s, { kind: 'degraded', title: 'slow' }))).incident?.number,
        2,
      );
      assert.equal((await store.open(t.db, down(b, s))).incident?.number, 1);
      const resolved = await store.resolve(t.db, {
        projectId: a.projectId,
        subjectType: 'target',
        subjectId: s,
        kind: 'down',
        at: at(3),
        reason: 'Checks pass again.',
      });
      assert.deepEqual(
        resolved.map((i) => [i.number, i.status, i.resolvedBy]),
        [[1, 'resolved', 'peep']],
      );
      const reopened = await store.open(t.db, down(a, s, { at: at(4) }));
      assert.deepEqual([reopened.created, reopened.incident?.number], [true, 3]);
      // Resolving with no kind resolves every open kind of the subject.
      const all = await store.resolve(t.db, {
        projectId: a.projectId,
        subjectType: 'target',
        subjectId: s,
        at: at(6),
        reason: 'Target deleted.',
      });
      assert.deepEqual(all.map((i) => i.number).sort(), [2, 3]);
    });

    test('the timeline lists opened, acknowledged, comment and resolved in order with their actors', async () => {
      const p = await seedProject(t.db);
      const ann = await seedUser(t.db, `ann-${randomUUID().slice(0, 6)}@example.com`);
      const bob = await seedUser(t.db, `bob-${randomUUID().slice(0, 6)}@example.com`);
      const { incident } = await store.open(t.db, down(p, randomUUID()));
      assert.ok(incident);
      const base = { projectId: p.projectId, incidentId: incident.id };
      const acked = await store.acknowledge(t.db, { ...base, actor: ann, at: at(1), body: 'looking' });
      assert.ok(acked && acked !== 'resolved');
      assert.deepEqual(
        [acked.changed, acked.incident.status, acked.incident.acknowledgedBy],
        [true, 'acknowledged', ann.name],
      );
      // A second ack changes nothing (its comment is kept as a comment).
      const again = await store.acknowledge(t.db, { ...base, actor: bob, at: at(2) });
      assert.ok(again && again !== 'resolved');
      assert.equal(again.changed, false);
      assert.equal(again.incident.acknowledgedBy, ann.name);
      await store.comment(t.db, { ...base, actor: bob, at: at(3), body: 'rolled back v42' });
      const res = await store.resolveByUser(t.db, { ...base, actor: bob, at: at(4), body: 'fixed' });
      assert.ok(res && res !== 'resolved');
      assert.deepEqual([res.incident.status, res.incident.resolvedBy], ['resolved', bob.name]);
      // Acknowledging or resolving a resolved incident is refused; commenting still works.
      assert.equal(await store.acknowledge(t.db, { ...base, actor: ann, at: at(5) }), 'resolved');
      assert.equal(await store.resolveByUser(t.db, { ...base, actor: ann, at: at(5) }), 'resolved');
      await store.comment(t.db, { ...base, actor: ann, at: at(6), body: 'postmortem: ...' });

      const got = await getIncident(t.db, p.projectId, incident.number);
      assert.ok(got);
      assert.deepEqual(
        got.events.map((e) => [e.type, e.actor, e.body]),
        [
          ['opened', 'peep', 'Three checks in a row failed with HTTP 503.'],
          ['acknowledged', ann.name, 'looking'],
          ['comment', bob.name, 'rolled back v42'],
          ['resolved', bob.name, 'fixed'],
          ['comment', ann.name, 'postmortem: ...'],
        ],
      );
      assert.deepEqual(
        got.events.map((e) => e.at),
        [0, 1, 3, 4, 6].map((m) => at(m).toISOString()),
      );
      assert.equal((await getIncident(t.db, p.projectId, incident.id))?.incident.number, incident.number);
      // Another project cannot see or act on it.
      const other = await seedProject(t.db);
      assert.equal(await getIncident(t.db, other.projectId, incident.number), null);
      assert.equal(await getIncident(t.db, other.projectId, incident.id), null);
      assert.equal(
        await store.acknowledge(t.db, {
          projectId: other.projectId,
          incidentId: incident.id,
          actor: ann,
          at: at(7),
        }),
        null,
      );
    });

    test('an active maintenance window suppresses opening for its targets, its services or the whole project, and nothing else', async () => {
      const p = await seedProject(t.db);
      await seedChannel(t.db, keys, { projectId: p.projectId, kind: 'webhook', url: 'http://127.0.0.1:9/a' });
      const covered = randomUUID();
      const other = randomUUID();
      await t.db.query(
        `INSERT INTO maintenance_windows (project_id, title, starts_at, ends_at, target_ids, services)
         VALUES ($1, 'db upgrade', $2, $3, $4::uuid[], $5::text[])`,
        [p.projectId, at(10), at(40), [covered], ['checkout']],
      );
      const svc = (name: string, m: number) =>
        down(p, name, { subjectType: 'service', subjectName: name, kind: 'error_rate', at: at(m) });

      const during = await store.open(t.db, down(p, covered, { at: at(20) }));
      assert.deepEqual(during, { incident: null, created: false, suppressed: true });
      assert.equal((await store.open(t.db, svc('checkout', 20))).suppressed, true);
      assert.equal(await count(t.db, 'incidents WHERE project_id = $1', [p.projectId]), 0);
      assert.equal(await count(t.db, 'deliveries WHERE project_id = $1', [p.projectId]), 0);
      assert.equal(
        await count(t.db, 'incident_counters WHERE project_id = $1 AND last > 0', [p.projectId]),
        0,
      );

      // Other subjects during the window, and the covered ones outside it, open.
      assert.equal((await store.open(t.db, down(p, other, { at: at(20) }))).created, true);
      assert.equal((await store.open(t.db, svc('search', 20))).created, true);
      assert.equal((await store.open(t.db, down(p, covered, { at: at(5) }))).created, true);
      assert.equal((await store.open(t.db, svc('checkout', 40))).created, true);

      // A window naming nothing covers the whole project.
      const q = await seedProject(t.db);
      await t.db.query(
        `INSERT INTO maintenance_windows (project_id, title, starts_at, ends_at) VALUES ($1, 'all', $2, $3)`,
        [q.projectId, at(0), at(60)],
      );
      assert.equal((await store.open(t.db, down(q, randomUUID(), { at: at(30) }))).suppressed, true);
      assert.equal((await store.open(t.db, svc('x', 30))).created, true, 'another project is not covered');
      assert.equal((await store.open(t.db, { ...svc('x', 30), ...q })).suppressed, true);
    });

    test('deliveries are enqueued per enabled channel with the incident message; resolved skips channels without notifyResolved', async () => {
      const p = await seedProject(t.db);
      const slack = await seedChannel(t.db, keys, {
        projectId: p.projectId,
        name: 'a-slack',
        kind: 'slack',
        url: 'https://hooks.slack.com/services/T/B/x',
      });
      const hook = await seedChannel(t.db, keys, {
        projectId: p.projectId,
        name: 'b-hook',
        kind: 'webhook',
        url: 'http://127.0.0.1:9/a',
      });
      await seedChannel(t.db, keys, {
        projectId: p.projectId,
        name: 'c-off',
        kind: 'webhook',
        url: 'http://127.0.0.1:9/b',
        enabled: false,
      });
      await t.db.query('UPDATE channels SET notify_resolved = false WHERE id = $1', [hook.id]);
      const ann = await seedUser(t.db, `ann-${randomUUID().slice(0, 6)}@example.com`);
      const w0 = wakes;
      const subject = randomUUID();
      const { incident } = await store.open(t.db, down(p, subject));
      assert.ok(incident);
      assert.equal(wakes, w0 + 1, 'the notifier is woken after the commit');

      type D = { channel_id: string; type: string; status: string; message: IncidentMessage };
      const deliveries = async () =>
        (
          await t.db.query<D>(
            `SELECT d.channel_id, d.type, d.status, d.message FROM deliveries d JOIN channels c ON c.id = d.channel_id
             WHERE d.incident_id = $1 ORDER BY d.created_at, c.name`,
            [incident.id],
          )
        ).rows;
      const opened = await deliveries();
      assert.deepEqual(
        opened.map((d) => [d.channel_id, d.type, d.status]),
        [
          [slack.id, 'opened', 'pending'],
          [hook.id, 'opened', 'pending'],
        ],
      );
      const m = opened[0]?.message as IncidentMessage;
      assert.deepEqual(m.incident.project, { id: p.projectId, slug: p.slug, name: `Project ${p.slug}` });
      assert.equal(m.incident.environment, 'prod');
      assert.deepEqual(m.incident.subject, {
        type: 'target',
        id: subject,
        name: `target-${subject.slice(0, 4)}`,
      });
      assert.deepEqual(m.incident.numbers, { 'failed checks': 3, 'last status': 503 });
      assert.equal(m.incident.reason, 'Three checks in a row failed with HTTP 503.');
      assert.equal(m.incident.title, 'checkout-api is down');
      assert.equal(m.url, `https://peep.example/projects/${p.projectId}/uptime/incidents/${incident.number}`);
      assert.equal(m.type, 'opened');

      await store.acknowledge(t.db, {
        projectId: p.projectId,
        incidentId: incident.id,
        actor: ann,
        at: at(1),
      });
      await store.resolve(t.db, {
        projectId: p.projectId,
        subjectType: 'target',
        subjectId: subject,
        at: at(2),
        reason: 'Checks pass again.',
        numbers: { 'down for': '2 min' },
      });
      const all = await deliveries();
      assert.deepEqual(
        all.map((d) => [d.channel_id, d.type]),
        [
          [slack.id, 'opened'],
          [hook.id, 'opened'],
          [slack.id, 'acknowledged'],
          [hook.id, 'acknowledged'],
          [slack.id, 'resolved'],
        ],
      );
      assert.equal(all[2]?.message.incident.acknowledgedBy, ann.name);
      const resolved = all[4]?.message as IncidentMessage;
      assert.equal(resolved.incident.reason, 'Checks pass again.');
      assert.equal(resolved.incident.resolvedAt, at(2).toISOString());
      assert.equal(resolved.incident.numbers['down for'], '2 min');

      const got = await getIncident(t.db, p.projectId, incident.number);
      assert.deepEqual(
        got?.deliveries.map((d) => [d.channelName, d.type, d.status]),
        [
          ['a-slack', 'opened', 'pending'],
          ['b-hook', 'opened', 'pending'],
          ['a-slack', 'acknowledged', 'pending'],
          ['b-hook', 'acknowledged', 'pending'],
          ['a-slack', 'resolved', 'pending'],
        ],
      );
    });

    test('listing filters by status, kind, subject and environment, newest first, in keyset pages', async () => {
      const p = await seedProject(t.db);
      const { rows } = await t.db.query<{ id: string }>(
        `INSERT INTO environments (project_id, slug, name, position) VALUES ($1, 'dev', 'Dev', 1) RETURNING id`,
        [p.projectId],
      );
      const dev = { projectId: p.projectId, environmentId: (rows[0] as { id: string }).id };
      const ids: string[] = [];
      for (let i = 0; i < 7; i++) ids.push(randomUUID());
      for (const [i, id] of ids.entries())
        await store.open(t.db, down(i < 5 ? p : dev, id, { kind: i % 2 ? 'degraded' : 'down', at: at(i) }));
      await store.resolve(t.db, {
        projectId: p.projectId,
        subjectType: 'target',
        subjectId: ids[0] as string,
        at: at(9),
        reason: 'ok',
      });
      const ann = await seedUser(t.db, `ann-${randomUUID().slice(0, 6)}@example.com`);
      const acked = await listIncidents(t.db, p.projectId, { subject: ids[1] });
      await store.acknowledge(t.db, {
        projectId: p.projectId,
        incidentId: acked.incidents[0]?.id as string,
        actor: ann,
        at: at(9),
      });

      const nums = async (f: Parameters<typeof listIncidents>[2]) =>
        (await listIncidents(t.db, p.projectId, f)).incidents.map((i) => i.number);
      assert.deepEqual(await nums({}), [7, 6, 5, 4, 3, 2, 1]);
      assert.deepEqual(await nums({ status: 'resolved' }), [1]);
      assert.deepEqual(await nums({ status: 'acknowledged' }), [2]);
      assert.deepEqual(await nums({ status: 'open' }), [7, 6, 5, 4, 3]);
      assert.deepEqual(await nums({ status: 'active' }), [7, 6, 5, 4, 3, 2]);
      assert.deepEqual(await nums({ kind: 'degraded' }), [6, 4, 2]);
      assert.deepEqual(await nums({ environmentId: dev.environmentId }), [7, 6]);
      assert.deepEqual(await nums({ subject: ids[3] }), [4]);
      assert.deepEqual(await nums({ subject: `target-${(ids[3] as string).slice(0, 4)}` }), [4]);

      const seen: number[] = [];
      let before: number | undefined;
      for (;;) {
        const page = await listIncidents(t.db, p.projectId, { limit: 3, ...(before ? { before } : {}) });
        seen.push(...page.incidents.map((i) => i.number));
        if (page.nextBefore === null) break;
        before = page.nextBefore;
      }
      assert.deepEqual(seen, [7, 6, 5, 4, 3, 2, 1]);
      const listed = (await listIncidents(t.db, p.projectId, { subject: ids[6] })).incidents[0];
      assert.equal(listed?.env, 'dev');
    });
  });
}
