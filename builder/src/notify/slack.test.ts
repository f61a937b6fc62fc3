/**
 * Slack rendering: what each message type says, Slack's limits with huge input, mrkdwn escaping of
 * user text, and the payload as a local stand-in for Slack receives it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { deliver } from './deliver.js';
import { renderSlack, SLACK_LIMITS, type SlackBlock, type SlackPayload } from './slack.js';
import { testMessage } from './test-message.js';
import { always, type Receiver, sampleMessage, startReceiver } from './testing.js';

type Text = { kind: 'plain' | 'mrkdwn'; text: string };
const texts = (p: SlackPayload): Text[] =>
  p.blocks.flatMap((b: SlackBlock): Text[] => {
    if (b.type === 'header') return [{ kind: 'plain' as const, text: b.text.text }];
    if (b.type === 'section')
      return [...(b.text ? [b.text] : []), ...(b.fields ?? [])].map((t) => ({
        kind: 'mrkdwn' as const,
        text: t.text,
      }));
    if (b.type === 'context') return b.elements.map((e) => ({ kind: 'mrkdwn' as const, text: e.text }));
    return b.elements.map((e) => ({ kind: 'plain' as const, text: e.text.text }));
  });
const header = (p: SlackPayload) => {
  const h = p.blocks[0];
  assert.equal(h?.type, 'header');
  return h.type === 'header' ? h.text.text : '';
};
const sectionText = (p: SlackPayload) => {
  const s = p.blocks[1];
  return s?.type === 'section' ? (s.text?.text ?? '') : '';
};
const fields = (p: SlackPayload) =>
  p.blocks.flatMap((b) => (b.type === 'section' && b.fields ? b.fields.map((f) => f.text) : []));

/** Slack's limits, checked on a payload. */
function assertWithinLimits(p: SlackPayload) {
  assert.ok(p.blocks.length <= SLACK_LIMITS.blocks, `${p.blocks.length} blocks`);
  assert.ok(p.text.length > 0 && p.text.length <= SLACK_LIMITS.text);
  for (const b of p.blocks) {
    if (b.type === 'header') assert.ok(b.text.text.length <= SLACK_LIMITS.headerText, b.text.text);
    if (b.type === 'section') {
      assert.ok(b.text || b.fields?.length, 'a section has text or fields');
      if (b.text) assert.ok(b.text.text.length <= SLACK_LIMITS.sectionText, `section ${b.text.text.length}`);
      assert.ok((b.fields ?? []).length <= SLACK_LIMITS.fields);
      for (const f of b.fields ?? [])
        assert.ok(f.text.length <= SLACK_LIMITS.fieldText, `field ${f.text.length}`);
    }
    if (b.type === 'context')
      for (const e of b.elements) assert.ok(e.text.length <= SLACK_LIMITS.contextText);
    if (b.type === 'actions')
      for (const e of b.elements) {
        assert.ok(e.text.text.length <= SLACK_LIMITS.buttonText);
        assert.ok(e.url.length <= SLACK_LIMITS.buttonUrl);
      }
  }
  for (const t of [...texts(p), { kind: 'mrkdwn' as const, text: p.text }]) {
    assert.doesNotMatch(
      t.text,
      /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/,
      'no half emoji',
    );
    if (t.kind === 'mrkdwn') {
      assert.doesNotMatch(t.text, /[<>]/, `unescaped < or > in ${t.text.slice(0, 80)}`);
      assert.doesNotMatch(t.text, /&(?!amp;|lt;|gt;)/, `bare or cut entity in ${t.text.slice(-80)}`);
    }
  }
}

describe('renderSlack', () => {
  test('opened: header with emoji and title, since when (UTC and how long), reason, numbers, button', () => {
    const p = renderSlack(sampleMessage());
    assert.equal(header(p), '🟠 checkout-api is slower than usual');
    assert.equal(
      sectionText(p),
      '*Slower than usual* since 2024-05-01 12:00 UTC (12 min ago)\n' +
        'p95 latency was above 6 MADs of its usual value for 3 minutes in a row.',
    );
    assert.deepEqual(fields(p), [
      '*Project*\nShop',
      '*Environment*\nprod',
      '*Service*\ncheckout-api',
      '*Severity*\nwarning',
      '*p95 now*\n812 ms',
      '*usual p95*\n120 ms',
      '*error rate*\n0.4 %',
      '*requests*\n5230',
    ]);
    const actions = p.blocks.find((b) => b.type === 'actions');
    assert.ok(actions?.type === 'actions');
    assert.equal(actions.elements[0]?.url, 'https://peep.example.com/projects/shop/incidents/inc_42');
    assert.equal(actions.elements[0]?.text.text, 'Open incident');
    assert.equal(p.blocks.at(-1)?.type, 'context');
    assert.match(p.text, /^🟠 checkout-api is slower than usual \(Shop, prod\)\n\*Slower than usual\* since/);
    assertWithinLimits(p);
  });

  test('the emoji follows the severity, else the kind', () => {
    const crit = renderSlack(sampleMessage({ incident: { severity: 'critical' } }));
    assert.match(header(crit), /^🔴 /);
    const down = renderSlack(sampleMessage({ incident: { kind: 'down', severity: undefined } }));
    assert.match(header(down), /^🔴 /);
    const cert = renderSlack(sampleMessage({ incident: { kind: 'cert_expiring', severity: undefined } }));
    assert.match(header(cert), /^🟡 /);
  });

  test('resolved: the duration of the incident and when it ended', () => {
    const p = renderSlack(
      sampleMessage({
        type: 'resolved',
        sentAt: '2024-05-01T12:15:00Z',
        incident: { resolvedAt: '2024-05-01T12:14:10Z', reason: 'p95 back to 130 ms.' },
      }),
    );
    assert.equal(header(p), '✅ Resolved: checkout-api is slower than usual');
    assert.equal(
      sectionText(p),
      '*Slower than usual* resolved at 2024-05-01 12:14 UTC after 14 min (opened 2024-05-01 12:00 UTC)\n' +
        'p95 back to 130 ms.',
    );
  });

  test('reminder: how long it has been going on, and whether someone acknowledged it', () => {
    const msg = sampleMessage({ type: 'reminder', sentAt: '2024-05-01T13:05:00Z' });
    const p = renderSlack(msg);
    assert.equal(header(p), '⏰ Still open: checkout-api is slower than usual');
    assert.match(
      sectionText(p),
      /^\*Slower than usual\*, still going on after 1 h 5 min \(since 2024-05-01 12:00 UTC\)\. Not acknowledged yet\.\n/,
    );
    const acked = renderSlack({ ...msg, incident: { ...msg.incident, acknowledgedBy: 'Ana <ops>' } });
    assert.match(sectionText(acked), /Acknowledged by \*Ana &lt;ops&gt;\*\./);
  });

  test('acknowledged: by whom', () => {
    const p = renderSlack(sampleMessage({ type: 'acknowledged', incident: { acknowledgedBy: 'Ana' } }));
    assert.equal(header(p), '👀 Acknowledged: checkout-api is slower than usual');
    assert.match(sectionText(p), /acknowledged by \*Ana\*; going on for 12 min/);
  });

  test('test: says it is a test from peep, with the project, and links to peep', () => {
    const p = renderSlack(
      testMessage({
        project: { id: 'prj_1', slug: 'shop', name: 'Shop & Co' },
        url: 'https://peep.example.com/projects/shop/channels',
        sentAt: '2024-05-01T12:00:00Z',
      }),
    );
    assert.match(header(p), /^🧪 Test from peep: /);
    assert.match(sectionText(p), /^\*This is a test from peep\.\* .*\*Shop &amp; Co\* reach this channel/);
    assert.match(p.text, /Test from peep/);
    const actions = p.blocks.find((b) => b.type === 'actions');
    assert.ok(actions?.type === 'actions');
    assert.equal(actions.elements[0]?.text.text, 'Open peep');
    assertWithinLimits(p);
  });

  test('user text is escaped for mrkdwn: no mention, link or entity survives as markup', () => {
    const evil = '<!channel> & <https://evil.example|click> &amp;';
    const p = renderSlack(
      sampleMessage({
        incident: {
          title: evil,
          subject: { type: 'target', id: 't', name: evil },
          project: { id: 'p', slug: evil, name: evil },
          environment: evil,
          acknowledgedBy: evil,
          reason: evil,
          numbers: { [evil]: evil },
        },
      }),
    );
    assertWithinLimits(p);
    const escaped = '&lt;!channel&gt; &amp; &lt;https://evil.example|click&gt; &amp;amp;';
    assert.ok(sectionText(p).endsWith(`\n${escaped}`));
    assert.ok(fields(p).includes(`*${escaped}*\n${escaped}`));
    assert.ok(fields(p).includes(`*Target*\n${escaped}`));
    // plain_text is shown literally by Slack: the header keeps the characters.
    assert.equal(header(p), `🟠 ${evil}`);
  });

  test('huge input stays within every Slack limit, cut with … and never inside an emoji or entity', () => {
    const big = (unit: string, n: number) => unit.repeat(n);
    const numbers: Record<string, string | number> = {};
    for (let i = 0; i < 100; i++) numbers[`${big('&', 3000)}${i}`] = big('😀<', 5000);
    const p = renderSlack(
      sampleMessage({
        type: 'reminder',
        url: `https://peep.example.com/${big('x', 5000)}`,
        incident: {
          title: big('😀', 400),
          subject: { type: 'service', id: 's', name: big('<', 10_000) },
          project: { id: 'p', slug: big('s', 5000), name: big('&', 100_000) },
          environment: big('e', 10_000),
          acknowledgedBy: big('>', 10_000),
          reason: big('a&', 500_000),
          numbers,
        },
      }),
    );
    assertWithinLimits(p);
    assert.ok(header(p).endsWith('…'));
    assert.ok(header(p).length >= SLACK_LIMITS.headerText - 1, 'cut at the limit (an emoji is 2 units)');
    assert.ok(sectionText(p).endsWith('…'));
    assert.ok(sectionText(p).length > 2900, 'the reason uses the room it has');
    // 30 numbers shown at most, the last field counting the rest; no button for a URL Slack refuses.
    const numberFields = fields(p).slice(4);
    assert.equal(numberFields.length, 30);
    assert.equal(numberFields.at(-1), '*More*\n71 more numbers in peep');
    assert.equal(
      p.blocks.some((b) => b.type === 'actions'),
      false,
    );
  });

  test('control characters are dropped and the header is one line', () => {
    const p = renderSlack(
      sampleMessage({ incident: { title: 'a\u0000b\nc\u001b[31m', reason: 'x\u0007y\nz' } }),
    );
    assert.equal(header(p), '🟠 ab c[31m');
    assert.ok(sectionText(p).endsWith('\nxy\nz'));
  });
});

describe('Slack delivery', () => {
  let slack: Receiver;
  before(async () => {
    slack = await startReceiver(always(200, 'ok'));
  });
  after(() => slack.close());

  test('the stand-in for Slack receives the Block Kit JSON as rendered', async () => {
    const msg = sampleMessage();
    const log = await deliver({ kind: 'slack', url: slack.url('/services/T000/B000/XXXX') }, msg);
    assert.equal(log.ok, true);
    assert.equal(log.result, 'delivered');
    assert.equal(log.attempts.length, 1);
    assert.equal(log.attempts[0]?.status, 200);
    const hit = slack.hits.at(-1);
    assert.ok(hit);
    assert.equal(hit.method, 'POST');
    assert.equal(hit.path, '/services/T000/B000/XXXX');
    assert.match(String(hit.headers['content-type']), /^application\/json/);
    assert.deepEqual(JSON.parse(hit.raw.toString('utf8')), renderSlack(msg));
  });
});
