/**
 * Two API replicas on one PostgreSQL database, each with its own NATS connection, as in the scaled-out
 * mode: an event ingested on replica A reaches a live-stream subscriber on replica B, and credentials
 * revoked on A (an ingest key, a personal token) are refused on B at once although B had them cached.
 * While B's NATS connection is down, B does not trust its cache. Needs PostgreSQL and nats-server.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createBus, createLogger } from '@peep/pkg';
import { createNatsBus, type NatsBus } from '@peep/pkg/bus-nats';
import { natsMissing, startNatsServer, type TestNats, testNatsUrl } from '@peep/pkg/testing-nats';
import {
  call,
  createOwner,
  type SignedIn,
  startTestServer,
  type TestServer,
  testEngines,
} from '../testing.js';

const noPostgres = !testEngines().includes('postgres') && 'PEEP_TEST_DATABASE_URL not set';
const skip = noPostgres || natsMissing() || false;
const skipOwn = noPostgres || natsMissing({ needBinary: true }) || false;

const log = createLogger({ level: (process.env.PEEP_TEST_LOG as 'info') ?? 'silent' });

/** A reader of a Server-Sent Events response: frames as they arrive. */
function sse(res: Response) {
  const frames: { event: string; id: string; data: string; comment: string }[] = [];
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const dec = new TextDecoder();
  let buf = '';
  const done = (async () => {
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
      if (done) return;
      buf += dec.decode(value, { stream: true });
      let i = buf.indexOf('\n\n');
      while (i >= 0) {
        const f = { event: '', id: '', data: '', comment: '' };
        for (const line of buf.slice(0, i).split('\n')) {
          if (line.startsWith(':')) f.comment += line.slice(1).trim();
          else if (line.startsWith('event: ')) f.event = line.slice(7);
          else if (line.startsWith('id: ')) f.id = line.slice(4);
          else if (line.startsWith('data: ')) f.data += line.slice(6);
        }
        frames.push(f);
        buf = buf.slice(i + 2);
        i = buf.indexOf('\n\n');
      }
    }
  })();
  return {
    frames,
    async close() {
      await reader.cancel().catch(() => {});
      await done;
    },
  };
}

async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 5_000): Promise<number> {
  const t0 = performance.now();
  while (!(await cond())) {
    if (performance.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(5);
  }
  return performance.now() - t0;
}

function ingest(server: TestServer, key: string, items: unknown[]) {
  return fetch(`${server.url}/api/v1/ingest/events`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(items),
  });
}

interface Replicas {
  a: TestServer;
  b: TestServer;
  busA: NatsBus;
  busB: NatsBus;
  owner: SignedIn;
  projectId: string;
  environmentId: string;
  close(): Promise<void>;
}

async function startReplicas(natsUrl: string, busOpts: { maxBackoffMs?: number } = {}): Promise<Replicas> {
  // Replica A's bus comes from the same factory `peep serve` uses; B's is made directly (shorter backoff).
  const busA = (await createBus({ natsUrl }, log)) as NatsBus;
  const busB = createNatsBus({ url: natsUrl, log, maxBackoffMs: busOpts.maxBackoffMs });
  await busB.flush();
  const a = await startTestServer({ engine: 'postgres', bus: busA });
  const b = await startTestServer({ replicaOf: a, bus: busB });
  const owner = await createOwner(a);
  const p = await call(a, owner, 'POST', '/api/v1/projects', { name: 'Replicated' });
  assert.equal(p.status, 201, JSON.stringify(p.body));
  const projectId = p.body.project.id as string;
  const envs = await call(a, owner, 'GET', `/api/v1/projects/${projectId}/environments`);
  const environmentId = envs.body.environments[0].id as string;
  return {
    a,
    b,
    busA,
    busB,
    owner,
    projectId,
    environmentId,
    async close() {
      await b.close();
      await a.close();
    },
  };
}

async function newIngestKey(r: Replicas): Promise<{ id: string; secret: string }> {
  const k = await call(r.a, r.owner, 'POST', `/api/v1/projects/${r.projectId}/ingest-keys`, {
    name: 'replica test',
    environmentId: r.environmentId,
  });
  assert.equal(k.status, 201, JSON.stringify(k.body));
  return { id: k.body.ingestKey.id, secret: k.body.secret };
}

describe('two API replicas over NATS', { skip }, () => {
  let nats: { url: string; stop(): Promise<void> };
  let r: Replicas;
  before(async () => {
    nats = await testNatsUrl();
    r = await startReplicas(nats.url);
  });
  after(async () => {
    await r?.close();
    await nats?.stop();
  });

  test('an event ingested on replica A reaches a live-stream subscriber on replica B', async () => {
    assert.equal(r.busA.distributed, true);
    const key = await newIngestKey(r);
    const res = await fetch(`${r.b.url}/api/v1/projects/${r.projectId}/stream/events`, {
      headers: { cookie: r.owner.cookie, accept: 'text/event-stream' },
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
    const stream = sse(res);
    try {
      await until('the stream to open', () => stream.frames.some((f) => f.comment.includes('connected')));
      await r.busB.flush(); // B's subscription is registered with the server
      const route = `/replicated/${Date.now()}`;
      const t0 = performance.now();
      const ing = await ingest(r.a, key.secret, [
        { service: 'checkout', route, method: 'post', status: 201, durationMs: 12.5, requestId: 'req-1' },
      ]);
      assert.equal(ing.status, 200, await ing.clone().text());
      assert.equal(((await ing.json()) as { accepted: number }).accepted, 1);
      await until('the event on replica B', () => stream.frames.some((f) => f.event === 'request'));
      const ms = performance.now() - t0;
      const got = stream.frames.filter((f) => f.event === 'request');
      assert.equal(got.length, 1, 'delivered once');
      const ev = JSON.parse(got[0]?.data ?? '{}');
      assert.equal(ev.route, route);
      assert.equal(ev.method, 'POST');
      assert.equal(ev.status, 201);
      assert.equal(ev.requestId, 'req-1');
      assert.equal(ev.environmentId, r.environmentId);
      assert.equal(got[0]?.id, String(ev.id), 'the SSE id is the stored row id');
      console.log(`# ingest on A to SSE frame on B: ${ms.toFixed(1)} ms (including A's commit)`);
    } finally {
      await stream.close();
    }
  });

  test('an ingest key revoked on A is refused on B at once, though B had it cached', async () => {
    const key = await newIngestKey(r);
    const item = { service: 'checkout', route: '/cached', method: 'GET', status: 200, durationMs: 1 };
    // Twice on B: the second answer comes from B's cache of resolved keys.
    assert.equal((await ingest(r.b, key.secret, [item])).status, 200);
    assert.equal((await ingest(r.b, key.secret, [item])).status, 200);
    const del = await call(r.a, r.owner, 'DELETE', `/api/v1/projects/${r.projectId}/ingest-keys/${key.id}`);
    assert.equal(del.status, 204);
    let last: Response | null = null;
    const ms = await until(
      'B to refuse the revoked key',
      async () => {
        last = await ingest(r.b, key.secret, [item]);
        return last.status === 401;
      },
      500, // the key cache holds entries for 10 s: only the bus can make this fast
    );
    const body = (await (last as unknown as Response).json()) as { error: { code: string } };
    assert.equal(body.error.code, 'ingest_key_revoked');
    console.log(`# ingest key revoked on A, refused on B after ${ms.toFixed(1)} ms`);
  });

  test('a personal token revoked on A is refused on B at once (the auth cache is on with NATS)', async () => {
    const t = await call(r.a, r.owner, 'POST', '/api/v1/tokens', { name: 'replica', scopes: ['read'] });
    assert.equal(t.status, 201, JSON.stringify(t.body));
    const bearer = { token: t.body.secret as string };
    assert.equal((await call(r.b, bearer, 'GET', '/api/v1/projects')).status, 200);
    assert.equal((await call(r.b, bearer, 'GET', '/api/v1/projects')).status, 200);
    assert.equal((await call(r.a, r.owner, 'DELETE', `/api/v1/tokens/${t.body.token.id}`)).status, 204);
    let code = '';
    await until(
      'B to refuse the revoked token',
      async () => {
        const res = await call(r.b, bearer, 'GET', '/api/v1/projects');
        code = res.body?.error?.code ?? '';
        return res.status === 401;
      },
      500, // the auth cache holds entries for 30 s
    );
    assert.equal(code, 'token_revoked');
  });
});

describe('a replica cut off from NATS', { skip: skipOwn }, () => {
  let nats: TestNats;
  let r: Replicas;
  before(async () => {
    nats = await startNatsServer();
    r = await startReplicas(nats.url, { maxBackoffMs: 200 });
  });
  after(async () => {
    await r?.close();
    await nats?.stop();
  });

  test('does not serve credentials from its cache while disconnected, and resumes streams after', async () => {
    const token = async (name: string) => {
      const t = await call(r.a, r.owner, 'POST', '/api/v1/tokens', { name, scopes: ['read'] });
      assert.equal(t.status, 201);
      return { id: t.body.token.id as string, bearer: { token: t.body.secret as string } };
    };
    const before = await token('before the outage');
    assert.equal((await call(r.b, before.bearer, 'GET', '/api/v1/projects')).status, 200); // cached on B

    await nats.stop({ hard: true });
    await until('both replicas to notice', () => !r.busA.connected && !r.busB.connected);
    // Resolved on B during the outage: B must not keep it, since no revocation can reach it now.
    const during = await token('during the outage');
    assert.equal((await call(r.b, during.bearer, 'GET', '/api/v1/projects')).status, 200);
    for (const t of [before, during]) {
      assert.equal((await call(r.a, r.owner, 'DELETE', `/api/v1/tokens/${t.id}`)).status, 204);
      const refused = await call(r.b, t.bearer, 'GET', '/api/v1/projects');
      assert.equal(refused.status, 401);
      assert.equal(refused.body.error.code, 'token_revoked');
    }

    await nats.start();
    await until('both replicas to reconnect', () => r.busA.connected && r.busB.connected, 15_000);
    const key = await newIngestKey(r);
    const res = await fetch(`${r.b.url}/api/v1/projects/${r.projectId}/stream/events`, {
      headers: { cookie: r.owner.cookie, accept: 'text/event-stream' },
    });
    const stream = sse(res);
    try {
      await until('the stream to open', () => stream.frames.some((f) => f.comment.includes('connected')));
      await r.busB.flush();
      const ing = await ingest(r.a, key.secret, [
        { service: 'after', route: '/after-outage', method: 'GET', status: 200, durationMs: 3 },
      ]);
      assert.equal(ing.status, 200);
      await until('the event on B after the outage', () => stream.frames.some((f) => f.event === 'request'));
    } finally {
      await stream.close();
    }
  });
});
