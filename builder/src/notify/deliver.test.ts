/**
 * Delivery against real receivers on loopback: retries on 5xx with one delivery id, Retry-After on
 * 429 (measured), no retry on 404/410 and redirects, refused connections, per-attempt timeouts
 * (no answer, and a connect that hangs), aborts, the backoff bounds, the onAttempt callback, error
 * strings that never carry the URL's secret parts or the signing secret, and HTTPS with openssl-made
 * certificates (a private CA through `ca`; an untrusted one fails before anything is sent).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  type CertMaker,
  certMaker,
  closedPort,
  findOpenssl,
  startBlackhole,
  startServer,
  type TestServer,
} from '../probes/testing.js';
import { deliver } from './deliver.js';
import { always, type Receiver, sampleMessage, startReceiver } from './testing.js';
import type { DeliveryAttempt, DeliveryLog } from './types.js';

const SECRET = 'whsec_0123456789abcdefSIGNING';
const hook = (url: string) => ({ kind: 'webhook' as const, url, secret: SECRET });
const msg = sampleMessage();
const fast = { baseDelayMs: 5, maxDelayMs: 20 };

describe('deliver: retries', () => {
  test('500, 500, then 200: three attempts logged with their statuses, one delivery id on the wire', async () => {
    const rx = await startReceiver((n, _req, res) => {
      res.writeHead(n <= 2 ? 500 : 200);
      res.end(n <= 2 ? 'database down' : 'ok');
    });
    try {
      const seen: [DeliveryAttempt, string][] = [];
      const log = await deliver(hook(rx.url('/in')), msg, {
        ...fast,
        onAttempt: (a, id) => void seen.push([a, id]),
      });
      assert.equal(log.ok, true);
      assert.equal(log.result, 'delivered');
      assert.equal(log.error, undefined);
      assert.deepEqual(
        log.attempts.map((a) => [a.n, a.status, a.errorClass]),
        [
          [1, 500, 'http'],
          [2, 500, 'http'],
          [3, 200, undefined],
        ],
      );
      assert.equal(log.attempts[0]?.error, 'http: HTTP 500 database down');
      assert.ok(log.attempts.slice(0, 2).every((a) => typeof a.retryInMs === 'number' && a.retryInMs <= 20));
      assert.equal(log.attempts[2]?.retryInMs, undefined);
      assert.ok(log.attempts.every((a) => a.durationMs >= 0 && !Number.isNaN(Date.parse(a.at))));
      // The callback saw each attempt as it happened, in order.
      assert.deepEqual(
        seen.map(([a, id]) => [a.n, id]),
        [1, 2, 3].map((n) => [n, log.deliveryId]),
      );
      assert.equal(rx.hits.length, 3);
      assert.deepEqual(new Set(rx.hits.map((h) => h.headers['x-peep-delivery'])), new Set([log.deliveryId]));
      assert.match(log.deliveryId, /^[0-9a-f-]{36}$/);
      assert.ok(rx.hits.every((h) => h.raw.equals(rx.hits[0]?.raw ?? Buffer.alloc(0))));
    } finally {
      await rx.close();
    }
  });

  test('429 with Retry-After: 1 waits a second (measured) instead of the short backoff', async () => {
    const rx = await startReceiver((n, _req, res) => {
      if (n === 1) res.writeHead(429, { 'retry-after': '1' });
      else res.writeHead(200);
      res.end();
    });
    try {
      const log = await deliver(hook(rx.url()), msg, fast);
      assert.equal(log.ok, true);
      assert.deepEqual(
        log.attempts.map((a) => [a.status, a.retryInMs]),
        [
          [429, 1000],
          [200, undefined],
        ],
      );
      const [a, b] = rx.hits;
      assert.ok(a && b);
      const waited = b.at - a.at;
      assert.ok(waited >= 990 && waited < 1800, `waited ${waited} ms`);
    } finally {
      await rx.close();
    }
  });

  test('a Retry-After beyond the cap waits the cap; an HTTP date works too', async () => {
    const rx = await startReceiver((n, _req, res) => {
      if (n === 1) res.writeHead(503, { 'retry-after': '3600' });
      else if (n === 2) res.writeHead(503, { 'retry-after': new Date(Date.now() + 60_000).toUTCString() });
      else res.writeHead(200);
      res.end();
    });
    try {
      const log = await deliver(hook(rx.url()), msg, { ...fast, retryAfterCapMs: 150 });
      assert.equal(log.ok, true);
      assert.deepEqual(
        log.attempts.map((a) => a.retryInMs),
        [150, 150, undefined],
      );
      const [a, b] = rx.hits;
      assert.ok(a && b && b.at - a.at >= 140);
    } finally {
      await rx.close();
    }
  });

  test('404 is not retried and the log says the channel URL is gone', async () => {
    const rx = await startReceiver(always(404, 'no_service'));
    try {
      const log = await deliver({ kind: 'slack', url: rx.url('/services/T1/B2/abcdef') }, msg, fast);
      assert.equal(log.ok, false);
      assert.equal(log.result, 'rejected');
      assert.equal(log.attempts.length, 1);
      assert.equal(log.attempts[0]?.status, 404);
      assert.equal(log.attempts[0]?.retryInMs, undefined);
      assert.match(log.error ?? '', /^http: HTTP 404 no_service; the channel URL is gone/);
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(rx.hits.length, 1);
    } finally {
      await rx.close();
    }
  });

  test('410, 400 and 403 are not retried either; each says why', async () => {
    for (const [status, text] of [
      [410, /gone/],
      [400, /refused the message/],
      [403, /check the URL or the signing secret/],
    ] as const) {
      const rx = await startReceiver(always(status));
      try {
        const log = await deliver(hook(rx.url()), msg, fast);
        assert.equal(log.result, 'rejected');
        assert.equal(rx.hits.length, 1);
        assert.match(log.error ?? '', text);
      } finally {
        await rx.close();
      }
    }
  });

  test('a redirect is not followed, to another host or not', async () => {
    const elsewhere = await startReceiver(always(200));
    const rx = await startReceiver((_n, _req, res) => {
      res.writeHead(307, { location: elsewhere.url('/steal') });
      res.end();
    });
    try {
      const log = await deliver(hook(rx.url()), msg, fast);
      assert.equal(log.result, 'rejected');
      assert.equal(log.attempts[0]?.errorClass, 'redirect');
      assert.equal(log.attempts[0]?.status, 307);
      assert.doesNotMatch(log.error ?? '', /steal/);
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(elsewhere.hits.length, 0);
    } finally {
      await rx.close();
      await elsewhere.close();
    }
  });

  test('connection refused is retried up to maxAttempts, then fails with the error class', async () => {
    const port = await closedPort();
    const log = await deliver(hook(`http://127.0.0.1:${port}/x`), msg, { ...fast, maxAttempts: 3 });
    assert.equal(log.ok, false);
    assert.equal(log.result, 'exhausted');
    assert.deepEqual(
      log.attempts.map((a) => a.errorClass),
      ['refused', 'refused', 'refused'],
    );
    assert.equal(log.attempts[0]?.error, `refused: connection refused by 127.0.0.1:${port} (ECONNREFUSED)`);
    assert.equal(log.attempts[2]?.retryInMs, undefined);
    assert.match(log.error ?? '', /^gave up after 3 attempts; last: refused: /);
  });

  test('a host that does not resolve is a DNS error', async () => {
    const log = await deliver(hook('http://no-such-host.invalid/hook'), msg, { ...fast, maxAttempts: 1 });
    assert.equal(log.result, 'exhausted');
    assert.equal(log.attempts[0]?.errorClass, 'dns');
    assert.match(log.attempts[0]?.error ?? '', /^dns: cannot resolve no-such-host\.invalid/);
  });

  test('a URL that is not http(s) is rejected without a request', async () => {
    for (const url of ['ftp://example.com/x', 'not a url']) {
      const log = await deliver({ kind: 'slack', url }, msg);
      assert.equal(log.result, 'rejected');
      assert.equal(log.attempts[0]?.errorClass, 'invalid_url');
    }
  });

  test('backoff has full jitter: random() scales min(maxDelayMs, baseDelayMs * 2^(n-1))', async () => {
    const port = await closedPort();
    const url = `http://127.0.0.1:${port}/`;
    const top = await deliver(hook(url), msg, { baseDelayMs: 10, maxDelayMs: 35, random: () => 0.999999 });
    assert.deepEqual(
      top.attempts.map((a) => a.retryInMs),
      [10, 20, 35, 35, undefined],
    );
    const zero = await deliver(hook(url), msg, { baseDelayMs: 10_000, random: () => 0, maxAttempts: 3 });
    assert.deepEqual(
      zero.attempts.map((a) => a.retryInMs),
      [0, 0, undefined],
    );
  });

  test('a throwing onAttempt does not stop the delivery', async () => {
    const rx = await startReceiver((n, _req, res) => {
      res.writeHead(n === 1 ? 502 : 200);
      res.end();
    });
    try {
      const log = await deliver(hook(rx.url()), msg, {
        ...fast,
        onAttempt: () => {
          throw new Error('database unavailable');
        },
      });
      assert.equal(log.ok, true);
      assert.equal(log.attempts.length, 2);
    } finally {
      await rx.close();
    }
  });

  test('a given delivery id is used on the wire and in the log', async () => {
    const rx = await startReceiver(always(200));
    try {
      const log = await deliver(hook(rx.url()), msg, { deliveryId: 'dlv_resumed' });
      assert.equal(log.deliveryId, 'dlv_resumed');
      assert.equal(rx.hits[0]?.headers['x-peep-delivery'], 'dlv_resumed');
    } finally {
      await rx.close();
    }
  });

  test('bad options, a delivery id unfit for a header and an unparseable time are refused', async () => {
    await assert.rejects(deliver(hook('http://127.0.0.1:1/'), msg, { maxAttempts: 0 }), RangeError);
    await assert.rejects(deliver(hook('http://127.0.0.1:1/'), msg, { timeoutMs: Number.NaN }), RangeError);
    await assert.rejects(deliver(hook('http://127.0.0.1:1/'), msg, { deliveryId: 'a b\n' }), RangeError);
    await assert.rejects(
      deliver(hook('http://127.0.0.1:1/'), sampleMessage({ sentAt: 'later' })),
      RangeError,
    );
  });
});

describe('deliver: timeouts and aborts', () => {
  let silent: Receiver;
  before(async () => {
    silent = await startReceiver(() => {}); // reads the request, never answers
  });
  after(() => silent.close());

  test('each attempt times out on its own; the receiver saw every attempt', async () => {
    const start = performance.now();
    const log = await deliver(hook(silent.url()), msg, { ...fast, timeoutMs: 200, maxAttempts: 2 });
    const took = performance.now() - start;
    assert.equal(log.result, 'exhausted');
    assert.deepEqual(
      log.attempts.map((a) => a.errorClass),
      ['timeout', 'timeout'],
    );
    for (const a of log.attempts) assert.ok(a.durationMs >= 195 && a.durationMs < 800, `${a.durationMs} ms`);
    assert.equal(log.attempts[0]?.error, 'timeout: no answer within 200 ms');
    assert.ok(took < 1500, `${took} ms`);
    await silent.waitFor(2);
  });

  test('a connect that hangs times out too', async () => {
    const hole = await startBlackhole();
    try {
      const log = await deliver(hook(`http://127.0.0.1:${hole.port}/`), msg, {
        timeoutMs: 150,
        maxAttempts: 1,
      });
      assert.equal(log.attempts[0]?.errorClass, 'timeout');
      assert.ok((log.attempts[0]?.durationMs ?? 0) >= 145);
    } finally {
      await hole.close();
    }
  });

  test('the signal aborts the attempt in flight: resolved at once with result aborted', async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    const start = performance.now();
    const log = await deliver(hook(silent.url()), msg, { signal: ac.signal, timeoutMs: 5000 });
    const took = performance.now() - start;
    assert.equal(log.result, 'aborted');
    assert.equal(log.ok, false);
    assert.equal(log.attempts.length, 1);
    assert.equal(log.attempts[0]?.errorClass, 'aborted');
    assert.ok(took >= 95 && took < 1000, `${took} ms`);
  });

  test('the signal aborts the wait before a retry', async () => {
    const rx = await startReceiver(always(500));
    try {
      const ac = new AbortController();
      const log = await deliver(hook(rx.url()), msg, {
        signal: ac.signal,
        baseDelayMs: 60_000,
        random: () => 0.5,
        onAttempt: () => {
          setTimeout(() => ac.abort(), 50);
        },
      });
      assert.equal(log.result, 'aborted');
      assert.equal(log.error, 'aborted while waiting to retry');
      assert.equal(log.attempts.length, 1);
      assert.equal(log.attempts[0]?.retryInMs, 30_000);
      assert.equal(rx.hits.length, 1);
    } finally {
      await rx.close();
    }
  });

  test('an already aborted signal sends nothing', async () => {
    const before = silent.hits.length;
    const log = await deliver(hook(silent.url()), msg, { signal: AbortSignal.abort() });
    assert.equal(log.result, 'aborted');
    assert.equal(log.attempts.length, 0);
    assert.equal(silent.hits.length, before);
  });
});

describe('deliver: secrets stay out of the log', () => {
  const PATH = '/services/T0SECRETTEAM/B0SECRETHOOK/xoxTokenTokenToken42';
  const QUERY = '?key=querysecretvalue';
  const secretParts = [
    'T0SECRETTEAM',
    'B0SECRETHOOK',
    'xoxTokenTokenToken42',
    'querysecretvalue',
    SECRET,
    PATH,
  ];
  const allText = (log: DeliveryLog) =>
    [log.error ?? '', ...log.attempts.map((a) => a.error ?? '')].join('\n');
  const assertClean = (log: DeliveryLog) => {
    const text = allText(log);
    assert.ok(text.length > 0, 'there is an error to check');
    for (const s of secretParts) assert.ok(!text.includes(s), `"${s}" leaked into: ${text}`);
  };

  test('a receiver echoing the URL, the signature and the secret in its error answer', async () => {
    const echo = await startReceiver((n, req, res) => {
      res.writeHead(n === 1 ? 500 : 401);
      res.end(
        `bad request to ${req.url} (full http://127.0.0.1${req.url}) sig ${req.headers['x-peep-signature']} ${SECRET}`,
      );
    });
    try {
      const log = await deliver(hook(echo.url(PATH + QUERY)), msg, fast);
      assert.equal(log.attempts.length, 2);
      assertClean(log);
      assert.match(log.attempts[0]?.error ?? '', /^http: HTTP 500 bad request to …/);
    } finally {
      await echo.close();
    }
  });

  test('network errors and timeouts name the host, never the path', async () => {
    const port = await closedPort();
    assertClean(
      await deliver(hook(`http://127.0.0.1:${port}${PATH}${QUERY}`), msg, { ...fast, maxAttempts: 2 }),
    );
    const silent = await startReceiver(() => {});
    try {
      assertClean(await deliver(hook(silent.url(PATH + QUERY)), msg, { timeoutMs: 100, maxAttempts: 1 }));
    } finally {
      await silent.close();
    }
    assertClean(
      await deliver({ kind: 'slack', url: `http://no-such-host.invalid${PATH}${QUERY}` }, msg, {
        maxAttempts: 1,
      }),
    );
  });
});

describe('deliver: HTTPS', () => {
  const found = findOpenssl();
  const skip = 'skip' in found ? found.skip : false;
  let certs: CertMaker;
  const servers: TestServer[] = [];
  before(() => {
    if (!skip) certs = certMaker('bin' in found ? found.bin : '');
  });
  after(async () => {
    for (const s of servers) await s.close();
    certs?.cleanup();
  });
  const serve = async (pem: { key: string; cert: string }) => {
    const s = await startServer((_req, res) => res.end('ok'), pem);
    servers.push(s);
    return s;
  };

  test('a receiver behind a private CA is reached with `ca`, by name and certificate checked', {
    skip,
  }, async () => {
    const pem = certs.caSigned(30);
    const s = await serve(pem);
    const log = await deliver(hook(`https://localhost:${s.port}/in`), msg, { ca: pem.ca });
    assert.equal(log.ok, true, log.error);
    assert.equal(s.received.length, 1);
    assert.equal(s.received[0]?.headers['x-peep-delivery'], log.deliveryId);
  });

  test('an untrusted certificate is a TLS error, retried, and nothing is sent', { skip }, async () => {
    const s = await serve(certs.selfSigned(30));
    const log = await deliver(hook(`https://localhost:${s.port}/in/secretpath123`), msg, {
      ...fast,
      maxAttempts: 2,
    });
    assert.equal(log.result, 'exhausted');
    assert.deepEqual(
      log.attempts.map((a) => a.errorClass),
      ['tls', 'tls'],
    );
    assert.match(
      log.attempts[0]?.error ?? '',
      /^tls: TLS with localhost:\d+ failed \(DEPTH_ZERO_SELF_SIGNED_CERT\)$/,
    );
    assert.equal(s.received.length, 0);
  });
});
