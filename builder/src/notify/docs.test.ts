/**
 * docs/webhooks.md stays true: its Node receiver (the code block itself, written to a file and
 * imported) and its Python check (run by python3) verify real deliveries and refuse tampered, stale
 * and wrongly signed ones; its JSON examples have the body's exact shape, one per type; its header
 * table and its retry figures match the code.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { DELIVERY_DEFAULTS, deliver } from './deliver.js';
import { always, type Hit, type Receiver, sampleMessage, startReceiver } from './testing.js';
import { MESSAGE_TYPES } from './types.js';
import { renderWebhook, signWebhook, verifyWebhookSignature, webhookBody } from './webhook.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const doc = fs.readFileSync(path.join(root, 'docs/webhooks.md'), 'utf8');
const SECRET = 'whsec_docs_0123456789';
const OLD = 'whsec_docs_previous';

/** The fenced blocks of a language, and those right after a `<!-- tested: … -->` marker. */
function blocks(lang: string, { tested = false } = {}): string[] {
  const re = tested
    ? new RegExp(`<!-- tested:[^>]*-->\\s*\`\`\`${lang}\\n([\\s\\S]*?)\\n\`\`\``, 'g')
    : new RegExp(`\`\`\`${lang}\\n([\\s\\S]*?)\\n\`\`\``, 'g');
  return [...doc.matchAll(re)].map((m) => m[1] ?? '');
}

type NodeSnippet = {
  verifyPeepSignature(secret: string, ts: unknown, raw: Buffer, sig: unknown, tol?: number): boolean;
  createReceiver(secret: string, onEvent: (e: unknown) => void): http.Server;
};

describe('docs/webhooks.md: the Node receiver', () => {
  let snippet: NodeSnippet;
  let server: http.Server;
  let url: string;
  const events: unknown[] = [];
  before(async () => {
    const [code] = blocks('js', { tested: true });
    assert.ok(code, 'the doc has a tested js block');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'peep-webhook-doc-'));
    const file = path.join(dir, 'receiver.mjs');
    fs.writeFileSync(file, code);
    snippet = (await import(pathToFileURL(file).href)) as NodeSnippet;
    fs.rmSync(dir, { recursive: true });
    server = snippet.createReceiver(SECRET, (e) => events.push(e));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/peep`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  test('accepts real deliveries of every type and hands over the body', async () => {
    events.length = 0;
    for (const type of MESSAGE_TYPES) {
      const msg = sampleMessage({ type, incident: { title: `Zoë’s ${type} 🚨` } });
      const log = await deliver({ kind: 'webhook', url, secret: SECRET }, msg, { deliveryId: `d-${type}` });
      assert.equal(log.ok, true, log.error);
      assert.equal(log.attempts[0]?.status, 204);
      assert.deepEqual(events.at(-1), webhookBody(msg, `d-${type}`));
    }
    assert.equal(events.length, MESSAGE_TYPES.length);
  });

  test('handles a delivery id once, answering 2xx both times', async () => {
    events.length = 0;
    const msg = sampleMessage();
    const a = await deliver({ kind: 'webhook', url, secret: SECRET }, msg, { deliveryId: 'dup' });
    const b = await deliver({ kind: 'webhook', url, secret: SECRET }, msg, { deliveryId: 'dup' });
    assert.equal(a.ok && b.ok, true);
    assert.equal(events.length, 1);
  });

  test('refuses a wrong secret and a stale timestamp with 401; accepts a rotation signed with both', async () => {
    events.length = 0;
    const wrong = await deliver({ kind: 'webhook', url, secret: 'not the secret' }, sampleMessage());
    assert.equal(wrong.result, 'rejected');
    assert.equal(wrong.attempts[0]?.status, 401);
    const stale = await deliver({ kind: 'webhook', url, secret: SECRET }, sampleMessage(), {
      now: () => Date.now() - 301_000,
    });
    assert.equal(stale.attempts[0]?.status, 401);
    assert.equal(events.length, 0);
    const rotating = await deliver(
      { kind: 'webhook', url, secret: 'the new one', previousSecret: SECRET },
      sampleMessage(),
    );
    assert.equal(rotating.ok, true);
    assert.equal(events.length, 1);
  });

  test('agrees with verifyWebhookSignature on tampered, malformed and missing input', () => {
    const nowSec = Math.floor(Date.now() / 1000);
    const { body, headers } = renderWebhook(sampleMessage(), {
      secret: SECRET,
      deliveryId: 'x',
      timestampSec: nowSec,
    });
    const raw = Buffer.from(body);
    const ts = headers['X-Peep-Timestamp'];
    const sig = headers['X-Peep-Signature'];
    const tampered = Buffer.from(raw);
    tampered.writeUInt8(tampered.readUInt8(10) ^ 1, 10);
    const cases: [string, string | undefined, Buffer, string | undefined][] = [
      [SECRET, ts, raw, sig],
      [SECRET, ts, tampered, sig],
      [OLD, ts, raw, sig],
      [SECRET, String(nowSec - 400), raw, signWebhook([SECRET], nowSec - 400, raw)],
      [SECRET, ts, raw, `v1=${'0'.repeat(64)},${sig}`],
      [SECRET, ts, raw, 'v1=zz'],
      [SECRET, undefined, raw, sig],
      [SECRET, ts, raw, undefined],
      [SECRET, `${ts}.5`, raw, sig],
    ];
    const got = cases.map((c) => snippet.verifyPeepSignature(...c));
    assert.deepEqual(got, [true, false, false, false, true, false, false, false, false]);
    assert.deepEqual(
      got,
      cases.map((c) => verifyWebhookSignature(...c).ok),
    );
  });
});

describe('docs/webhooks.md: the Python check', () => {
  let rx: Receiver;
  before(async () => {
    rx = await startReceiver(always(204));
  });
  after(() => rx.close());

  const python = spawnSync('python3', ['--version']).status === 0 ? 'python3' : undefined;
  test('verifies a real delivery and refuses tampered, stale, wrongly signed and malformed ones', {
    // Under CI a missing python3 fails the test (CI installs it) instead of skipping it.
    skip:
      python || process.env.CI === 'true' ? false : 'python3 not found: the Python snippet is not checked',
  }, async () => {
    const [code] = blocks('python', { tested: true });
    assert.ok(code, 'the doc has a tested python block');
    const send = async (channel: Parameters<typeof deliver>[0], now?: () => number): Promise<Hit> => {
      await deliver(channel, sampleMessage({ incident: { reason: 'ünïcode — 🚨' } }), now ? { now } : {});
      const hit = rx.hits.at(-1);
      assert.ok(hit);
      return hit;
    };
    const h = (hit: Hit, name: string) => String(hit.headers[name]);
    const fresh = await send({ kind: 'webhook', url: rx.url(), secret: SECRET });
    const stale = await send({ kind: 'webhook', url: rx.url(), secret: SECRET }, () => Date.now() - 301_000);
    const rotated = await send({ kind: 'webhook', url: rx.url(), secret: 'new', previousSecret: SECRET });
    const tampered = Buffer.from(fresh.raw);
    tampered.writeUInt8(tampered.readUInt8(20) ^ 1, 20);
    const cases = [
      [SECRET, h(fresh, 'x-peep-timestamp'), fresh.raw, h(fresh, 'x-peep-signature')],
      [SECRET, h(fresh, 'x-peep-timestamp'), tampered, h(fresh, 'x-peep-signature')],
      [SECRET, h(stale, 'x-peep-timestamp'), stale.raw, h(stale, 'x-peep-signature')],
      [SECRET, h(rotated, 'x-peep-timestamp'), rotated.raw, h(rotated, 'x-peep-signature')],
      ['wrong', h(fresh, 'x-peep-timestamp'), fresh.raw, h(fresh, 'x-peep-signature')],
      [SECRET, h(fresh, 'x-peep-timestamp'), fresh.raw, 'v1=é'],
      [SECRET, '', fresh.raw, h(fresh, 'x-peep-signature')],
      [SECRET, '١٢٣', fresh.raw, h(fresh, 'x-peep-signature')],
    ] as const;
    const driver = `${code}

import base64, json, sys
cases = json.load(sys.stdin)
print(json.dumps([verify_peep_signature(s, t, base64.b64decode(b), g) for s, t, b, g in cases]))
`;
    const input = JSON.stringify(cases.map(([s, t, b, g]) => [s, t, b.toString('base64'), g]));
    const r = spawnSync(python ?? 'python3', ['-c', driver], { input, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), [true, false, false, true, false, false, false, false]);
  });
});

describe('docs/webhooks.md: examples and figures', () => {
  /** Keys, recursively (not inside `numbers`, whose labels vary). */
  const shape = (v: unknown): unknown =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, k === 'numbers' ? 'numbers' : shape(x)]))
      : v === null
        ? 'null-or-value'
        : 'value';
  const loose = (s: unknown): unknown =>
    JSON.parse(JSON.stringify(s).replaceAll('"null-or-value"', '"value"'));

  test('one JSON example per type, each with exactly the body’s fields and consistent figures', () => {
    const examples = blocks('json').map((b) => JSON.parse(b) as ReturnType<typeof webhookBody>);
    assert.deepEqual(examples.map((e) => e.type).sort(), [...MESSAGE_TYPES].sort());
    const expected = loose(shape(webhookBody(sampleMessage(), 'x')));
    for (const e of examples) {
      assert.deepEqual(loose(shape(e)), expected, `example ${e.type}`);
      const end = Date.parse(e.incident.resolvedAt ?? e.sentAt);
      assert.equal(
        e.incident.durationSec,
        (end - Date.parse(e.incident.openedAt)) / 1000,
        `${e.type} duration`,
      );
      assert.equal(e.incident.status, e.type === 'resolved' ? 'resolved' : 'open');
    }
  });

  test('the header table lists exactly the headers sent', () => {
    const { headers } = renderWebhook(sampleMessage(), { secret: SECRET, deliveryId: 'x', timestampSec: 1 });
    const table = [...doc.matchAll(/^\| `([A-Z][A-Za-z-]+)`\s+\|/gm)].map((m) => m[1]);
    assert.deepEqual(table.sort(), Object.keys(headers).sort());
  });

  test('the retry figures are the defaults', () => {
    assert.match(doc, new RegExp(`Up to \\*\\*${DELIVERY_DEFAULTS.maxAttempts} attempts\\*\\*`));
    assert.match(doc, new RegExp(`up to ${DELIVERY_DEFAULTS.baseDelayMs / 1000} s, `));
    assert.match(doc, new RegExp(`\\*\\*Any 2xx within ${DELIVERY_DEFAULTS.timeoutMs / 1000} seconds\\*\\*`));
    assert.match(doc, new RegExp(`honoured, up to ${DELIVERY_DEFAULTS.retryAfterCapMs / 1000}\\s+seconds`));
  });
});
