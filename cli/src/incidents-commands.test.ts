/**
 * `peep incidents ls | show | ack | comment | resolve` as real processes against a real API server:
 * the table (active by default, --status all), the incident page with its timeline, acting by
 * number or #number recorded under the token owner's email, and the exit codes of a resolved or
 * unknown incident and of a malformed reference.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  call,
  createOwner,
  createProjectWithKey,
  type SignedIn,
  startTestServer,
  type TestServer,
} from '@peep/api/testing';
import { createIncidentStore } from '@peep/builder';
import { peep, tempHome } from './testkit.js';

describe('peep incidents against a real server', { timeout: 120_000 }, () => {
  let s: TestServer;
  let owner: SignedIn;
  const h = tempHome();
  let env: Record<string, string> = {};
  const store = createIncidentStore();
  const json = async (args: string[]) => {
    const r = await peep([...args, '--json'], env);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    return JSON.parse(r.stdout);
  };

  before(async () => {
    s = await startTestServer();
    owner = await createOwner(s, { email: 'olive@example.com' });
    const p = await createProjectWithKey(s, owner, { name: 'Shop' });
    const prod = p.environments.find((e) => e.slug === 'prod')?.id as string;
    const open = (subject: string, kind: 'error_rate' | 'latency_anomaly', minutesAgo: number) =>
      store.open(s.db, {
        projectId: p.projectId,
        environmentId: prod,
        subjectType: 'service',
        subjectId: subject,
        subjectName: subject,
        kind,
        title:
          kind === 'error_rate'
            ? `${subject} error rate above 5%`
            : `${subject} p95 latency is unusually high`,
        reason:
          kind === 'error_rate'
            ? 'error rate 12.0% of 800 requests above 5.0%'
            : 'p95 812 ms vs usual 120 ms',
        numbers:
          kind === 'error_rate'
            ? { 'error rate now': '12.0%' }
            : { 'p95 now': '812 ms', 'usual p95': '120 ms' },
        at: new Date(Date.now() - minutesAgo * 60_000),
      });
    await open('checkout', 'error_rate', 90);
    await open('search', 'latency_anomaly', 5);
    await open('old', 'error_rate', 300);
    await store.resolve(s.db, {
      projectId: p.projectId,
      subjectType: 'service',
      subjectId: 'old',
      at: new Date(Date.now() - 240 * 60_000),
      reason: 'error rate back to 0.3%',
    });
    const t = await call(s, owner, 'POST', '/api/v1/tokens', { name: 'cli', scopes: ['read', 'write'] });
    env = { ...h.env, PEEP_TOKEN: t.body.secret, PEEP_SERVER: s.url };
  });
  after(async () => {
    await s?.close();
    h.cleanup();
  });

  test('ls shows active incidents newest first in a table; --status all adds resolved ones', async () => {
    const r = await peep(['incidents', 'ls'], env);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.match(lines[0] ?? '', /^#\s+STATUS\s+KIND\s+SUBJECT\s+ENV\s+OPENED\s+DURATION\s+TITLE$/);
    assert.match(
      lines[1] ?? '',
      /^#2\s+open\s+latency_anomaly\s+search\s+prod\s+\d{4}-\d\d-\d\d \d\d:\d\d\s+5m\s+search p95/,
    );
    assert.match(
      lines[2] ?? '',
      /^#1\s+open\s+error_rate\s+checkout\s+prod\s+.*\s+1h 30m\s+checkout error rate above 5%$/,
    );
    assert.equal(lines.length, 3);
    const all = await json(['incidents', 'ls', '--status', 'all']);
    assert.deepEqual(
      all.incidents.map((i: { number: number; status: string }) => [i.number, i.status]),
      [
        [3, 'resolved'],
        [2, 'open'],
        [1, 'open'],
      ],
    );
    const resolved = await peep(['incidents', 'ls', '--status', 'resolved'], env);
    assert.match(resolved.stdout, /#3\s+resolved\s+error_rate\s+old\s+prod\s+.*\s+1h\s+old error rate/);
    const none = await peep(['incidents', 'ls', '--kind', 'down'], env);
    assert.match(none.stdout, /No incidents match/);
  });

  test('ack, comment and resolve by number record the token owner; show prints the timeline', async () => {
    const ack = await peep(['incidents', 'ack', '#1', '--comment', 'looking at the payment provider'], env);
    assert.equal(ack.code, 0, ack.stderr);
    assert.match(ack.stdout, /#1 checkout error rate above 5%: Acknowledged by olive@example.com/);
    const c = await json(['incidents', 'comment', '1', 'provider confirms an outage']);
    assert.equal(c.incident.status, 'acknowledged');
    const res = await json(['incidents', 'resolve', '1', '--comment', 'provider recovered']);
    assert.deepEqual([res.incident.status, res.incident.resolvedBy], ['resolved', 'olive@example.com']);

    const show = await peep(['incidents', 'show', '1'], env);
    assert.equal(show.code, 0, show.stderr);
    const out = show.stdout;
    assert.match(out, /^#1 checkout error rate above 5%\s+resolved/);
    assert.match(out, /reason\s+error rate 12.0% of 800 requests above 5.0%/);
    assert.match(out, /error rate now\s+12.0%/);
    assert.match(out, /acknowledged\s+.* UTC by olive@example.com/);
    const timeline = out.slice(out.indexOf('Timeline'));
    const events = [...timeline.matchAll(/\d\d:\d\d:\d\d\s+(\w+)\s+(\S+)\s*(.*)$/gm)].map((m) => [
      m[1],
      m[2],
      m[3],
    ]);
    assert.deepEqual(events, [
      ['opened', 'peep', 'error rate 12.0% of 800 requests above 5.0%'],
      ['acknowledged', 'olive@example.com', 'looking at the payment provider'],
      ['comment', 'olive@example.com', 'provider confirms an outage'],
      ['resolved', 'olive@example.com', 'provider recovered'],
    ]);
    const detail = await json(['incidents', 'show', '#1']);
    assert.equal(detail.events.length, 4);
    assert.deepEqual(detail.deliveries, []);
  });

  test('a resolved incident exits 6 (conflict), an unknown one 4, a malformed reference 2', async () => {
    const again = await peep(['incidents', 'ack', '1'], env);
    assert.equal(again.code, 6);
    assert.match(again.stderr, /already resolved/);
    const j = await peep(['incidents', 'resolve', '1', '--json'], env);
    assert.equal(j.code, 6);
    assert.equal(JSON.parse(j.stderr).error.code, 'incident_resolved');
    const unknown = await peep(['incidents', 'show', '99'], env);
    assert.equal(unknown.code, 4);
    assert.match(unknown.stderr, /no incident 99/i);
    const bad = await peep(['incidents', 'show', 'checkout'], env);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /number \(12 or #12\)/);
  });
});
