/**
 * The SDK against a real peep API (embedded database): real node:http, Express and Fastify apps and a
 * Next.js-style route handler send their requests and logs with an ingest key made through the API,
 * and the events and logs are read back through the query routes: route templates, statuses, request
 * ids (propagated and generated), trace ids, logs correlated with their request; a batch whose first
 * answer was a 503, or whose acknowledgement was lost, is stored exactly once.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { call, createOwner, type SignedIn, startTestServer, type TestServer } from '@peep/api/testing';
import express from 'express';
import Fastify from 'fastify';
import { createPeep, type Peep } from './index.js';
import { closedPort, closeServer, listen, startRecorder, until } from './testkit.js';

interface StoredEvent {
  route: string;
  method: string;
  status: number;
  durationMs: number;
  requestId: string | null;
  traceId: string | null;
  service: string;
  instance: string | null;
  bytesIn: number | null;
  bytesOut: number | null;
}
interface StoredLog {
  level: string;
  message: string;
  requestId: string | null;
  traceId: string | null;
  attributes: Record<string, unknown> | null;
}

const TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

describe('@peep/sdk against a real peep', () => {
  let server: TestServer;
  let owner: SignedIn;
  let projectId: string;
  let key: string;
  const closers: (() => Promise<unknown>)[] = [];

  before(async () => {
    server = await startTestServer();
    owner = await createOwner(server);
    const p = await call(server, owner, 'POST', '/api/v1/projects', { name: 'Shop' });
    assert.equal(p.status, 201);
    projectId = p.body.project.id;
    const k = await call(server, owner, 'POST', `/api/v1/projects/${projectId}/ingest-keys`, {
      name: 'sdk tests',
      environmentId: p.body.environments[0].id,
    });
    assert.equal(k.status, 201);
    key = k.body.secret;
  });
  after(async () => {
    for (const c of closers.reverse()) await c();
    await server?.close();
  });

  const client = (service: string, extra: Parameters<typeof createPeep>[0] = {}): Peep => {
    const peep = createPeep({
      endpoint: server.url,
      ingestKey: key,
      service,
      processHooks: false,
      flushIntervalMs: 100,
      env: {},
      ...extra,
    });
    closers.push(() => peep.shutdown());
    return peep;
  };

  async function eventsOf(requestId: string): Promise<StoredEvent[]> {
    const r = await call(
      server,
      owner,
      'GET',
      `/api/v1/projects/${projectId}/telemetry/events?requestId=${requestId}`,
    );
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body.events;
  }
  async function logsOf(requestId: string): Promise<StoredLog[]> {
    const r = await call(server, owner, 'GET', `/api/v1/projects/${projectId}/logs?requestId=${requestId}`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body.logs;
  }
  const someLogs = async (requestId: string) => {
    const l = await logsOf(requestId);
    return l.length ? l : undefined;
  };
  const eventOf = (requestId: string) =>
    until(`the event of ${requestId}`, async () => (await eventsOf(requestId))[0]);

  test('node:http: the normalized path, status, propagated request id, trace id and correlated logs arrive', async () => {
    const peep = client('plain-http');
    const app = http.createServer(
      peep.http((req, res) => {
        peep.logger.info('looking up user', { path: req.url });
        if (req.url?.startsWith('/users/')) {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.write('{"id":');
          res.end('42}');
        } else {
          peep.logger.warn('no such page');
          res.statusCode = 404;
          res.end('not found');
        }
      }),
    );
    const url = await listen(app);
    closers.push(() => closeServer(app));

    const res = await fetch(`${url}/users/42?expand=1`, {
      headers: { 'x-request-id': 'http-req-1', traceparent: TRACEPARENT },
    });
    assert.equal(await res.text(), '{"id":42}');
    assert.equal(res.headers.get('x-request-id'), 'http-req-1');
    const missing = await fetch(`${url}/nope/9f0c2a6e-3d4b-4f7a-9c1e-2b3a4c5d6e7f`, {
      headers: { 'x-request-id': 'http-req-2' },
    });
    assert.equal(missing.status, 404);

    const e = await eventOf('http-req-1');
    assert.equal(e.service, 'plain-http');
    assert.equal(e.route, '/users/:id');
    assert.equal(e.method, 'GET');
    assert.equal(e.status, 200);
    assert.equal(e.traceId, '0af7651916cd43dd8448eb211c80319c');
    assert.equal(e.bytesOut, 9, 'chunked body bytes are counted');
    assert.ok(e.durationMs >= 0 && e.durationMs < 5_000);
    assert.ok(e.instance);
    const e2 = await eventOf('http-req-2');
    assert.equal(e2.route, '/nope/:id');
    assert.equal(e2.status, 404);

    const logs = await until('both logs of http-req-2', async () => {
      const l = await logsOf('http-req-2');
      return l.length === 2 ? l : undefined;
    });
    assert.deepEqual(logs.map((l) => [l.level, l.message]).sort(), [
      ['info', 'looking up user'],
      ['warn', 'no such page'],
    ]);
    const [log1] = await until('the log of http-req-1', () => someLogs('http-req-1'));
    assert.equal(log1?.traceId, '0af7651916cd43dd8448eb211c80319c');
    assert.deepEqual(log1?.attributes, { path: '/users/42?expand=1' });
  });

  test('Express: the router template with its mount path, errors as 500, generated request ids, logs after body parsing', async () => {
    const peep = client('express-app');
    const app = express();
    app.use(peep.express());
    app.use(express.json());
    const orders = express.Router();
    orders.post('/:orderId/items', async (req, res) => {
      await new Promise((r) => setTimeout(r, 5));
      peep.logger.info('item added', { orderId: req.params.orderId, qty: req.body.qty });
      res.status(201).json({ ok: true });
    });
    orders.get('/:orderId', () => {
      throw new Error('database is down');
    });
    app.use('/api/orders', orders);
    app.use((err: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      peep.logger.error(err);
      res.status(500).json({ error: err.message });
    });
    const s = app.listen(0, '127.0.0.1');
    await new Promise((r) => s.once('listening', r));
    closers.push(() => closeServer(s));
    const url = `http://127.0.0.1:${(s.address() as AddressInfo).port}`;

    const created = await fetch(`${url}/api/orders/1001/items`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'express-post-1' },
      body: JSON.stringify({ qty: 3 }),
    });
    assert.equal(created.status, 201);
    const failed = await fetch(`${url}/api/orders/1001`);
    assert.equal(failed.status, 500);
    const generated = failed.headers.get('x-request-id') ?? '';
    assert.match(generated, /^[0-9a-f-]{36}$/, 'a request id is generated when none came in');

    const post = await eventOf('express-post-1');
    assert.equal(post.route, '/api/orders/:orderId/items');
    assert.equal(post.method, 'POST');
    assert.equal(post.status, 201);
    assert.equal(post.bytesIn, 9);
    assert.ok(post.durationMs >= 4, `duration ${post.durationMs} ms includes the handler's wait`);
    const [itemLog] = await until('the log of express-post-1', () => someLogs('express-post-1'));
    assert.equal(itemLog?.message, 'item added');
    assert.deepEqual(itemLog?.attributes, { orderId: '1001', qty: 3 });

    const err = await eventOf(generated);
    assert.equal(err.route, '/api/orders/:orderId');
    assert.equal(err.status, 500);
    const [errLog] = await until('the error log', () => someLogs(generated));
    assert.equal(errLog?.level, 'error');
    assert.equal(errLog?.message, 'database is down');
  });

  test('Fastify: routeOptions.url with its prefix, 404s by normalized path, logs after body parsing', async () => {
    const peep = client('fastify-app');
    const app = Fastify();
    await app.register(peep.fastify);
    await app.register(
      async (api) => {
        api.put<{ Params: { sku: string }; Body: { price: number } }>(
          '/products/:sku',
          async (req, reply) => {
            peep.logger.info('price changed', { sku: req.params.sku, price: req.body.price });
            return reply.code(202).send({ ok: true });
          },
        );
      },
      { prefix: '/v2' },
    );
    await app.listen({ port: 0, host: '127.0.0.1' });
    closers.push(() => app.close());
    const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;

    const res = await fetch(`${url}/v2/products/ab-12`, {
      method: 'PUT',
      headers: {
        'content-type': 'application/json',
        'x-request-id': 'fastify-put-1',
        traceparent: TRACEPARENT,
      },
      body: JSON.stringify({ price: 9.5 }),
    });
    assert.equal(res.status, 202);
    assert.equal(res.headers.get('x-request-id'), 'fastify-put-1');
    const nf = await fetch(`${url}/v2/missing/77`, { headers: { 'x-request-id': 'fastify-404' } });
    assert.equal(nf.status, 404);

    const e = await eventOf('fastify-put-1');
    assert.equal(e.route, '/v2/products/:sku');
    assert.equal(e.method, 'PUT');
    assert.equal(e.status, 202);
    assert.equal(e.traceId, '0af7651916cd43dd8448eb211c80319c');
    assert.equal(e.bytesOut, 11);
    const [log] = await until('the log of fastify-put-1', () => someLogs('fastify-put-1'));
    assert.equal(log?.message, 'price changed');
    assert.deepEqual(log?.attributes, { sku: 'ab-12', price: 9.5 });
    const missing = await eventOf('fastify-404');
    assert.equal(missing.route, '/v2/missing/:id');
    assert.equal(missing.status, 404);
  });

  test('a Next.js route handler: the given route, the response status, the request id header, a thrown error as 500', async () => {
    const peep = client('next-app');
    const GET = peep.withPeep(
      async (req: Request, ctx: { params: Promise<{ id: string }> }) => {
        const { id } = await ctx.params;
        peep.logger.info('serving', { id });
        if (id === 'bad') throw new Error('boom');
        return Response.json({ id, url: new URL(req.url).pathname });
      },
      { route: '/api/things/[id]' },
    );
    const res = await GET(
      new Request('http://app.local/api/things/7', { headers: { 'x-request-id': 'next-1' } }),
      {
        params: Promise.resolve({ id: '7' }),
      },
    );
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-request-id'), 'next-1');
    assert.deepEqual(await res.json(), { id: '7', url: '/api/things/7' });
    await assert.rejects(
      GET(new Request('http://app.local/api/things/bad', { headers: { 'x-request-id': 'next-2' } }), {
        params: Promise.resolve({ id: 'bad' }),
      }),
      /boom/,
    );
    const e = await eventOf('next-1');
    assert.equal(e.route, '/api/things/[id]');
    assert.equal(e.status, 200);
    assert.equal((await eventOf('next-2')).status, 500);
    const [log] = await until('the log of next-1', () => someLogs('next-1'));
    assert.deepEqual(log?.attributes, { id: '7' });
  });

  test('a batch answered 503 first is retried and stored once; so is one whose acknowledgement was lost', async () => {
    const proxy = await startRecorder({
      target: server.url,
      answer: (r, n) => {
        const id = r.items[0]?.requestId;
        if (id === 'retry-503' && n === 1) return { status: 503, headers: { 'retry-after': '1' } };
        if (id === 'retry-lost' && n === 3) return { lose: { status: 502 } };
        return 'proxy';
      },
    });
    closers.push(proxy.close);
    const peep = client('retrying', {
      endpoint: proxy.url,
      retryBaseMs: 50,
      flushIntervalMs: 60_000,
      aggregate: false,
    });
    const app = http.createServer(peep.http((_req, res) => res.end('ok')));
    const url = await listen(app);
    closers.push(() => closeServer(app));

    await fetch(`${url}/a`, { headers: { 'x-request-id': 'retry-503' } });
    assert.equal(await peep.flush(), true);
    await fetch(`${url}/b`, { headers: { 'x-request-id': 'retry-lost' } });
    assert.equal(await peep.flush(), true);

    const attempts = proxy.received.map((r) => [r.items[0]?.requestId, r.headers['idempotency-key']]);
    assert.equal(attempts.length, 4, JSON.stringify(attempts));
    assert.equal(attempts[0]?.[1], attempts[1]?.[1], 'the retry after 503 reuses its Idempotency-Key');
    assert.equal(
      attempts[2]?.[1],
      attempts[3]?.[1],
      'the retry after a lost answer reuses its Idempotency-Key',
    );
    assert.equal((await eventsOf('retry-503')).length, 1);
    assert.equal((await eventsOf('retry-lost')).length, 1, 'peep stored the twice-sent batch once');
    const s = peep.stats();
    assert.equal(s.retries, 2);
    assert.equal(s.events.sent, 2);
    assert.equal(s.events.dropped, 0);
  });

  test('a revoked key is reported and counted, never thrown; the app keeps answering', async () => {
    const p = await call(server, owner, 'GET', `/api/v1/projects/${projectId}`);
    const k = await call(server, owner, 'POST', `/api/v1/projects/${projectId}/ingest-keys`, {
      name: 'soon revoked',
      environmentId: p.body.environments[0].id,
    });
    const del = await call(
      server,
      owner,
      'DELETE',
      `/api/v1/projects/${projectId}/ingest-keys/${k.body.ingestKey.id}`,
    );
    assert.equal(del.status, 204);
    const errors: string[] = [];
    const peep = client('revoked', {
      ingestKey: k.body.secret,
      onError: (e) => {
        errors.push(e.message);
        throw new Error('a broken onError must not break anything either');
      },
    });
    const app = http.createServer(peep.http((_req, res) => res.end('still here')));
    const url = await listen(app);
    closers.push(() => closeServer(app));
    for (let i = 0; i < 5; i++) assert.equal(await (await fetch(`${url}/x`)).text(), 'still here');
    await peep.flush();
    assert.equal(peep.stats().events.dropped, 5);
    assert.match(errors.join('\n'), /401 ingest_key_revoked/);
  });

  test('with peep unreachable the app answers every request; events are dropped and counted, the queue stays bounded', async () => {
    const port = await closedPort();
    const peep = client('offline', {
      endpoint: `http://127.0.0.1:${port}`,
      aggregate: false,
      maxQueue: 50,
      batchSize: 10,
      maxAttempts: 2,
      retryBaseMs: 5,
    });
    const app = http.createServer(
      peep.http((_req, res) => {
        peep.logger.info('served');
        res.end('fine');
      }),
    );
    const url = await listen(app);
    closers.push(() => closeServer(app));
    for (let i = 0; i < 200; i++) {
      const r = await fetch(`${url}/n/${i}`);
      assert.equal(await r.text(), 'fine');
      assert.ok(peep.stats().events.queued <= 50);
    }
    await peep.flush();
    const s = peep.stats();
    assert.equal(s.events.sent, 0);
    assert.equal(s.events.dropped, 200);
    assert.equal(s.logs.dropped, 200);
    assert.match(s.lastError ?? '', /ECONNREFUSED/);
  });

  test('aggregating mode: every request counted with the same percentiles as events; raw events sampled at the set rate, errors first', async () => {
    const summaryOf = async (service: string) =>
      (
        await call(
          server,
          owner,
          'GET',
          `/api/v1/projects/${projectId}/telemetry/summary?from=1h&service=${service}`,
        )
      ).body;
    const recordsOf = async (service: string) =>
      (
        await call(
          server,
          owner,
          'GET',
          `/api/v1/projects/${projectId}/telemetry/events?service=${service}&limit=1000`,
        )
      ).body.events as (StoredEvent & { status: number })[];
    const delays = Array.from({ length: 400 }, (_, i) => (i * 37) % 23);
    const served = async (peep: Peep, service: string) => {
      const app = http.createServer(
        peep.http((req, res) => {
          const i = Number(req.url?.slice(1));
          setTimeout(() => {
            res.statusCode = i % 40 === 0 ? 500 : 200;
            res.end('x'.repeat(i % 10));
          }, delays[i] ?? 0);
        }),
      );
      const url = await listen(app);
      closers.push(() => closeServer(app));
      for (let i = 0; i < delays.length; i += 20)
        await Promise.all(
          delays.slice(i, i + 20).map((_, j) => fetch(`${url}/${i + j}`).then((r) => r.text())),
        );
      assert.equal(await peep.flush(), true);
      return peep.stats();
    };
    const agg = client('aggregated', { sampleRawPerSecond: 5, sampleNotablePerSecond: 1_000 });
    const raw = client('every-event', { aggregate: false });
    const aggStats = await served(agg, 'aggregated');
    await served(raw, 'every-event');

    const a = await summaryOf('aggregated');
    const b = await summaryOf('every-event');
    assert.equal(a.count, 400);
    assert.equal(a.errors, 10);
    assert.equal(b.count, 400);
    // durations differ run to run; both are sketches of 400 real timings within the same bounds
    for (const q of ['p50', 'p99'])
      assert.ok(a[q] >= 0 && Math.abs(a[q] - b[q]) < 15, `${q}: ${a[q]} vs ${b[q]}`);
    assert.equal(a.bytesOut, b.bytesOut);
    assert.ok(aggStats.aggregates.sent > 0 && aggStats.aggregates.sent < 100, JSON.stringify(aggStats));

    const sampled = await recordsOf('aggregated');
    const errors = sampled.filter((e) => e.status === 500);
    assert.equal(errors.length, 10, 'every error is sent raw (within its budget)');
    const ordinary = sampled.length - errors.length;
    assert.ok(ordinary >= 5 && ordinary < 60, `${ordinary} ordinary requests sampled at 5/s`);
    assert.equal((await recordsOf('every-event')).length, 400);
  });
});
