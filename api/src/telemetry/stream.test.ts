/**
 * Live streams over real HTTP: filtered delivery of committed events and logs, resume with
 * Last-Event-ID without gaps or repeats, heartbeats, and a slow consumer cut off at the buffer limit.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import {
  createOwner,
  createProjectWithKey,
  ingest,
  type ProjectWithKey,
  type SignedIn,
  startTestServer,
  type TestServer,
} from '../testing.js';

interface Message {
  id?: string;
  event?: string;
  data?: string;
  comment?: string;
}

/** A Server-Sent Events reader over fetch: collects messages and comments as they arrive. */
function open(url: string, who: SignedIn, headers: Record<string, string> = {}) {
  const messages: Message[] = [];
  const ctrl = new AbortController();
  let wake = () => {};
  let ended = false;
  const done = (async () => {
    const res = await fetch(url, { headers: { cookie: who.cookie, ...headers }, signal: ctrl.signal });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const dec = new TextDecoder();
    let buf = '';
    try {
      for (;;) {
        const { value, done: eof } = await reader.read();
        if (eof) break;
        buf += dec.decode(value, { stream: true });
        let cut = buf.indexOf('\n\n');
        while (cut >= 0) {
          const block = buf.slice(0, cut);
          buf = buf.slice(cut + 2);
          const m: Message = {};
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) m.comment = line.slice(1).trim();
            else {
              const i = line.indexOf(':');
              const k = line.slice(0, i);
              const v = line.slice(i + 1).trimStart();
              if (k === 'id' || k === 'event' || k === 'data') m[k] = v;
            }
          }
          messages.push(m);
          wake();
          cut = buf.indexOf('\n\n');
        }
      }
    } catch {
      // aborted
    } finally {
      ended = true;
      wake();
    }
  })();
  const until = async (pred: (ms: Message[]) => boolean, ms = 10_000) => {
    const t = Date.now() + ms;
    while (!pred(messages)) {
      if (ended || Date.now() > t)
        throw new Error(`stream condition not met; got ${JSON.stringify(messages.slice(-5))}`);
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, 50);
      });
    }
  };
  const data = (kind: string) =>
    messages.filter((m) => m.event === kind).map((m) => JSON.parse(m.data as string));
  return { messages, until, data, close: () => ctrl.abort(), done, isEnded: () => ended };
}

describe('live streams', () => {
  let s: TestServer;
  let owner: SignedIn;
  let p: ProjectWithKey;
  const ev = (i: number, over: Record<string, unknown> = {}) => ({
    service: 'web',
    route: '/a',
    method: 'GET',
    status: 200,
    durationMs: 3,
    requestId: `s-${i}`,
    ...over,
  });

  before(async () => {
    s = await startTestServer({ config: { streamHeartbeatSeconds: 1, streamBufferBytes: 16 * 1024 } });
    owner = await createOwner(s);
    p = await createProjectWithKey(s, owner);
  });
  after(() => s?.close());

  test('events and logs arrive as they are committed, filtered, with ids; heartbeats keep the stream alive', async () => {
    const base = `${s.url}/api/v1/projects/${p.projectId}/stream`;
    const all = open(`${base}/events`, owner);
    const errs = open(`${base}/events?statusClass=5&route=/b`, owner);
    const warn = open(`${base}/logs?level=warn&q=disk`, owner);
    await all.until((m) => m.some((x) => x.comment === 'connected'));
    await errs.until((m) => m.some((x) => x.comment === 'connected'));
    await warn.until((m) => m.some((x) => x.comment === 'connected'));
    const r = await ingest(s, p.key, 'events', [
      ev(1),
      ev(2, { route: '/b', status: 502 }),
      ev(3, { route: '/b' }),
    ]);
    assert.equal(r.status, 200);
    await ingest(s, p.key, 'logs', [
      { service: 'web', level: 'info', message: 'disk fine' },
      { service: 'web', level: 'error', message: 'Disk full', requestId: 's-2' },
    ]);
    await all.until((m) => m.filter((x) => x.event === 'request').length === 3);
    await errs.until((m) => m.some((x) => x.event === 'request'));
    await warn.until((m) => m.some((x) => x.event === 'log'));
    assert.deepEqual(
      all.data('request').map((e) => e.requestId),
      ['s-1', 's-2', 's-3'],
    );
    assert.deepEqual(
      errs.data('request').map((e) => e.requestId),
      ['s-2'],
    );
    const [log] = warn.data('log');
    assert.equal(log.message, 'Disk full');
    assert.equal(log.level, 'error');
    // Each message's id is the stored row's id, and events carry the shape of GET .../events.
    const stored = all.messages.filter((m) => m.event === 'request').map((m) => m.id);
    assert.equal(new Set(stored).size, 3);
    assert.equal(all.data('request')[1].status, 502);
    await all.until((m) => m.filter((x) => x.comment === 'heartbeat').length >= 2, 5000);
    for (const x of [all, errs, warn]) x.close();
  });

  test('Last-Event-ID resumes after the last message seen: no gaps, no repeats', async () => {
    const url = `${s.url}/api/v1/projects/${p.projectId}/stream/events?route=/resume`;
    const first = open(url, owner);
    await first.until((m) => m.some((x) => x.comment === 'connected'));
    await ingest(
      s,
      p.key,
      'events',
      [1, 2, 3].map((i) => ev(100 + i, { route: '/resume' })),
    );
    await first.until((m) => m.filter((x) => x.event === 'request').length === 3);
    const lastId = first.messages.filter((x) => x.event === 'request').at(-1)?.id as string;
    first.close();
    // While disconnected: more events, some not matching the filter.
    for (let b = 0; b < 3; b++)
      await ingest(
        s,
        p.key,
        'events',
        [1, 2].map((i) => ev(200 + b * 10 + i, { route: b === 1 ? '/other' : '/resume' })),
      );
    const second = open(url, owner, { 'last-event-id': lastId });
    await second.until((m) => m.filter((x) => x.event === 'request').length === 4);
    // And it continues live.
    await ingest(s, p.key, 'events', [ev(300, { route: '/resume' })]);
    await second.until((m) => m.filter((x) => x.event === 'request').length === 5);
    assert.deepEqual(
      second.data('request').map((e) => e.requestId),
      ['s-201', 's-202', 's-221', 's-222', 's-300'],
    );
    second.close();
    // The query-parameter form works for clients that cannot set headers.
    const third = open(`${url}&lastEventId=${lastId}`, owner);
    await third.until((m) => m.filter((x) => x.event === 'request').length === 5);
    third.close();
    const bad = await fetch(`${url}&lastEventId=abc`, { headers: { cookie: owner.cookie } });
    assert.equal(bad.status, 400);
  });

  test('a consumer that stops reading is told it is too slow and disconnected; others are unaffected', async () => {
    const path = `/api/v1/projects/${p.projectId}/stream/events`;
    // A raw socket that never reads: its buffers fill up.
    const stalled = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = http.get(`${s.url}${path}`, { headers: { cookie: owner.cookie } }, resolve);
      req.on('error', reject);
    });
    stalled.pause();
    const closed = new Promise<void>((r) => stalled.socket.on('close', () => r()));
    const healthy = open(`${s.url}${path}?route=/healthy`, owner);
    await healthy.until((m) => m.some((x) => x.comment === 'connected'));
    const big = (i: number) =>
      Array.from({ length: 500 }, (_, k) => ev(i * 1000 + k, { attributes: { pad: 'x'.repeat(1000) } }));
    for (let i = 0; i < 40 && s.api.app.server.listening; i++) {
      await ingest(s, p.key, 'events', big(i));
      if (await Promise.race([closed.then(() => true), new Promise((r) => setTimeout(() => r(false), 20))]))
        break;
    }
    await closed;
    await ingest(s, p.key, 'events', [ev(9999, { route: '/healthy' })]);
    await healthy.until((m) => m.some((x) => x.event === 'request'));
    healthy.close();
    // The server keeps no reference to the stalled connection.
    await new Promise((r) => setTimeout(r, 200));
    const metrics = await (await fetch(`${s.url}/metrics`)).text();
    assert.match(metrics, /peep_stream_connections 0/);
  });
});
