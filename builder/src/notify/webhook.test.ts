/**
 * Generic webhooks: the versioned body for each message type, and signatures checked the way a
 * receiver checks them (verifyWebhookSignature over the raw bytes a local server received), with
 * the timestamp tolerance, secret rotation on either side, tampering and malformed headers.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { deliver } from './deliver.js';
import { testMessage } from './test-message.js';
import { always, type Hit, type Receiver, sampleMessage, startReceiver } from './testing.js';
import { MESSAGE_TYPES } from './types.js';
import { renderWebhook, signWebhook, verifyWebhookSignature, webhookBody } from './webhook.js';

const SECRET = 'whsec_new_0123456789abcdef';
const OLD = 'whsec_old_fedcba9876543210';
const header = (h: Hit, name: string) => {
  const v = h.headers[name];
  return typeof v === 'string' ? v : undefined;
};

describe('webhook body', () => {
  test('version 1: every field, times in ISO UTC, open incidents last until sentAt', () => {
    const body = webhookBody(sampleMessage(), 'dlv_1');
    assert.deepEqual(body, {
      version: 1,
      deliveryId: 'dlv_1',
      type: 'opened',
      incident: {
        id: 'inc_42',
        title: 'checkout-api is slower than usual',
        kind: 'latency_anomaly',
        severity: 'warning',
        status: 'open',
        subject: { type: 'service', id: 'svc_7', name: 'checkout-api' },
        project: { id: 'prj_1', slug: 'shop', name: 'Shop' },
        environment: 'prod',
        openedAt: '2024-05-01T12:00:00.000Z',
        resolvedAt: null,
        durationSec: 750,
        acknowledgedBy: null,
        numbers: { 'p95 now': '812 ms', 'usual p95': '120 ms', 'error rate': '0.4 %', requests: 5230 },
        reason: 'p95 latency was above 6 MADs of its usual value for 3 minutes in a row.',
      },
      url: 'https://peep.example.com/projects/shop/incidents/inc_42',
      sentAt: '2024-05-01T12:12:30.000Z',
    });
  });

  test('resolved: status, resolvedAt and the duration to it; Date inputs become ISO strings', () => {
    const body = webhookBody(
      sampleMessage({
        type: 'resolved',
        sentAt: new Date('2024-05-01T12:20:00Z'),
        incident: { resolvedAt: new Date('2024-05-01T12:14:10Z'), acknowledgedBy: 'Ana' },
      }),
      'dlv_2',
    );
    assert.equal(body.incident.status, 'resolved');
    assert.equal(body.incident.resolvedAt, '2024-05-01T12:14:10.000Z');
    assert.equal(body.incident.durationSec, 850);
    assert.equal(body.incident.acknowledgedBy, 'Ana');
    assert.equal(body.sentAt, '2024-05-01T12:20:00.000Z');
  });

  test('each type keeps its name in the body and the X-Peep-Event header', () => {
    for (const type of MESSAGE_TYPES) {
      const r = renderWebhook(sampleMessage({ type }), { secret: SECRET, deliveryId: 'd', timestampSec: 1 });
      assert.equal(JSON.parse(r.body).type, type);
      assert.equal(r.headers['X-Peep-Event'], type);
    }
  });

  test('an unparseable time is refused, not sent as "Invalid Date"', () => {
    assert.throws(() => webhookBody(sampleMessage({ sentAt: 'yesterday' }), 'd'), RangeError);
  });
});

describe('webhook signatures', () => {
  const NOW = 1_714_565_550_000; // 2024-05-01T12:12:30Z
  const ts = String(NOW / 1000);
  const body = Buffer.from('{"version":1,"name":"Zoë 🚀"}');
  const sig = signWebhook([SECRET], NOW / 1000, body);
  const at = (sec: number) => ({ now: () => NOW + sec * 1000 });

  test('a signature is v1=<64 hex> and verifies over the same bytes', () => {
    assert.match(sig, /^v1=[0-9a-f]{64}$/);
    assert.deepEqual(verifyWebhookSignature(SECRET, ts, body, sig, at(0)), { ok: true });
    assert.deepEqual(verifyWebhookSignature(SECRET, ts, body.toString('utf8'), sig, at(0)), { ok: true });
  });

  test('timestamps older or newer than the tolerance are stale (default 300 s)', () => {
    assert.equal(verifyWebhookSignature(SECRET, ts, body, sig, at(300)).ok, true);
    assert.equal(verifyWebhookSignature(SECRET, ts, body, sig, at(-300)).ok, true);
    assert.deepEqual(verifyWebhookSignature(SECRET, ts, body, sig, at(301)), { ok: false, reason: 'stale' });
    assert.deepEqual(verifyWebhookSignature(SECRET, ts, body, sig, at(-301)), { ok: false, reason: 'stale' });
    assert.equal(verifyWebhookSignature(SECRET, ts, body, sig, { ...at(3000), toleranceSec: 3600 }).ok, true);
  });

  test('a changed body, timestamp or secret does not verify', () => {
    const other = Buffer.from(body);
    other[5] = other[5] === 0x31 ? 0x32 : 0x31;
    assert.deepEqual(verifyWebhookSignature(SECRET, ts, other, sig, at(0)), {
      ok: false,
      reason: 'mismatch',
    });
    assert.deepEqual(verifyWebhookSignature(SECRET, String(Number(ts) + 1), body, sig, at(0)), {
      ok: false,
      reason: 'mismatch',
    });
    assert.deepEqual(verifyWebhookSignature('wrong', ts, body, sig, at(0)), {
      ok: false,
      reason: 'mismatch',
    });
  });

  test('missing and malformed headers are told apart', () => {
    assert.deepEqual(verifyWebhookSignature(SECRET, undefined, body, sig), { ok: false, reason: 'missing' });
    assert.deepEqual(verifyWebhookSignature(SECRET, ts, body, undefined), { ok: false, reason: 'missing' });
    assert.deepEqual(verifyWebhookSignature(SECRET, '12.5', body, sig, at(0)), {
      ok: false,
      reason: 'malformed',
    });
    for (const bad of ['v1=xyz', `v0=${'a'.repeat(64)}`, sig.slice(0, -1), 'garbage'])
      assert.deepEqual(verifyWebhookSignature(SECRET, ts, body, bad, at(0)), {
        ok: false,
        reason: 'malformed',
      });
  });

  test('rotation: any of several signatures against any of several secrets', () => {
    const both = signWebhook([SECRET, OLD], NOW / 1000, body);
    assert.match(both, /^v1=[0-9a-f]{64},v1=[0-9a-f]{64}$/);
    assert.equal(verifyWebhookSignature(SECRET, ts, body, both, at(0)).ok, true);
    assert.equal(verifyWebhookSignature(OLD, ts, body, both, at(0)).ok, true);
    const oldOnly = signWebhook([OLD], NOW / 1000, body);
    assert.equal(verifyWebhookSignature(SECRET, ts, body, oldOnly, at(0)).ok, false);
    assert.equal(verifyWebhookSignature([SECRET, OLD], ts, body, oldOnly, at(0)).ok, true);
    // Unknown schemes and spaces are skipped, so a future v2 can be added next to v1.
    assert.equal(verifyWebhookSignature(SECRET, ts, body, `v2=abc, ${sig}`, at(0)).ok, true);
  });
});

describe('webhook delivery, verified by the receiver', () => {
  let rx: Receiver;
  before(async () => {
    rx = await startReceiver(always(204));
  });
  after(() => rx.close());

  test('the receiver verifies the raw bytes it got; headers carry event, delivery id and timestamp', async () => {
    const msg = sampleMessage({
      incident: { title: 'Zoë’s API — down 🚨', subject: { type: 'target', id: 't', name: 'ü' } },
    });
    const before = Math.floor(Date.now() / 1000);
    const log = await deliver({ kind: 'webhook', url: rx.url('/hooks/peep'), secret: SECRET }, msg, {
      deliveryId: 'dlv_abc',
    });
    assert.equal(log.ok, true);
    assert.equal(log.attempts[0]?.status, 204);
    const hit = rx.hits.at(-1);
    assert.ok(hit);
    assert.equal(hit.path, '/hooks/peep');
    assert.equal(header(hit, 'x-peep-event'), 'opened');
    assert.equal(header(hit, 'x-peep-delivery'), 'dlv_abc');
    assert.match(String(header(hit, 'content-type')), /^application\/json/);
    const ts = Number(header(hit, 'x-peep-timestamp'));
    assert.ok(ts >= before && ts <= Math.floor(Date.now() / 1000));
    assert.deepEqual(
      verifyWebhookSignature(
        SECRET,
        header(hit, 'x-peep-timestamp'),
        hit.raw,
        header(hit, 'x-peep-signature'),
      ),
      { ok: true },
    );
    assert.deepEqual(JSON.parse(hit.raw.toString('utf8')), webhookBody(msg, 'dlv_abc'));
    // One changed byte and it no longer verifies.
    const tampered = Buffer.from(hit.raw);
    const i = tampered.length - 2;
    tampered.writeUInt8(tampered.readUInt8(i) ^ 1, i);
    assert.equal(
      verifyWebhookSignature(
        SECRET,
        header(hit, 'x-peep-timestamp'),
        tampered,
        header(hit, 'x-peep-signature'),
      ).ok,
      false,
    );
  });

  test('during a rotation the sender signs with both secrets: old and new receivers both verify', async () => {
    await deliver({ kind: 'webhook', url: rx.url(), secret: SECRET, previousSecret: OLD }, sampleMessage());
    const hit = rx.hits.at(-1);
    assert.ok(hit);
    const [t, s] = [header(hit, 'x-peep-timestamp'), header(hit, 'x-peep-signature')];
    assert.equal(s?.split(',').length, 2);
    assert.equal(verifyWebhookSignature(SECRET, t, hit.raw, s).ok, true);
    assert.equal(verifyWebhookSignature(OLD, t, hit.raw, s).ok, true);
    assert.equal(verifyWebhookSignature('a third secret', t, hit.raw, s).ok, false);
  });

  test('a delivery received too late is stale for the receiver', async () => {
    await deliver(
      { kind: 'webhook', url: rx.url(), secret: SECRET },
      testMessage({
        project: { id: 'p', slug: 'shop', name: 'Shop' },
        url: 'https://peep.example.com/',
        sentAt: new Date(),
      }),
    );
    const hit = rx.hits.at(-1);
    assert.ok(hit);
    const args = [SECRET, header(hit, 'x-peep-timestamp'), hit.raw, header(hit, 'x-peep-signature')] as const;
    assert.equal(verifyWebhookSignature(...args).ok, true);
    assert.deepEqual(verifyWebhookSignature(...args, { now: () => Date.now() + 301_000 }), {
      ok: false,
      reason: 'stale',
    });
  });

  test('each attempt is signed with its own timestamp, so a late retry still verifies', async () => {
    let calls = 0;
    const flaky = await startReceiver((n, _req, res) => {
      res.writeHead(n === 1 ? 503 : 200);
      res.end();
    });
    try {
      // The sender's clock jumps 20 minutes between the attempts (a long backoff, simulated).
      const start = Date.now();
      const now = () => start + (calls++ === 0 ? 0 : 1_200_000);
      const log = await deliver({ kind: 'webhook', url: flaky.url(), secret: SECRET }, sampleMessage(), {
        now,
        baseDelayMs: 1,
      });
      assert.equal(log.ok, true);
      const [a, b] = flaky.hits;
      assert.ok(a && b);
      assert.equal(Number(header(b, 'x-peep-timestamp')) - Number(header(a, 'x-peep-timestamp')), 1200);
      assert.deepEqual(a.raw, b.raw, 'the same body bytes');
      const late = { now: () => start + 1_200_000 };
      assert.equal(
        verifyWebhookSignature(
          SECRET,
          header(b, 'x-peep-timestamp'),
          b.raw,
          header(b, 'x-peep-signature'),
          late,
        ).ok,
        true,
      );
      assert.deepEqual(
        verifyWebhookSignature(
          SECRET,
          header(a, 'x-peep-timestamp'),
          a.raw,
          header(a, 'x-peep-signature'),
          late,
        ),
        { ok: false, reason: 'stale' },
      );
    } finally {
      await flaky.close();
    }
  });
});
