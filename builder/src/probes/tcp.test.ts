/**
 * TCP connect checks against real listeners on loopback, and the look-up cache in front of the real
 * resolver (counted, not replaced).
 */
import assert from 'node:assert/strict';
import dns from 'node:dns';
import { describe, test } from 'node:test';
import { createLookupCache, runCheck } from './check.js';
import type { Resolve } from './dns.js';
import { closedPort, startBlackhole, startTcpServer } from './testing.js';

describe('TCP checks', () => {
  test('an accepting port is up with connect time; a name adds DNS time', async () => {
    const s = await startTcpServer(() => {});
    try {
      const r = await runCheck({ kind: 'tcp', host: '127.0.0.1', port: s.port, timeoutMs: 1000 });
      assert.equal(r.ok, true, r.message);
      assert.ok((r.phases.connectMs ?? -1) >= 0);
      assert.equal(r.phases.dnsMs, undefined);
      assert.equal(r.statusCode, undefined);
      const named = await runCheck({ kind: 'tcp', host: 'localhost', port: s.port, timeoutMs: 1000 });
      assert.equal(named.ok, true, named.message);
      assert.equal(typeof named.phases.dnsMs, 'number');
    } finally {
      await s.close();
    }
  });

  test('a closed port is refused; an unknown name is a DNS failure', async () => {
    const port = await closedPort();
    const r = await runCheck({ kind: 'tcp', host: '127.0.0.1', port, timeoutMs: 1000 });
    assert.equal(r.ok, false);
    assert.equal(r.errorClass, 'refused');
    const d = await runCheck({ kind: 'tcp', host: 'nothing-here.invalid', port: 80, timeoutMs: 1000 });
    assert.equal(d.errorClass, 'dns');
  });

  test('a connect that hangs (full accept queue: SYNs dropped) times out within the timeout plus a margin', async () => {
    // Not 10.255.255.1: this sandbox answers connects to arbitrary addresses, so an unroutable
    // address is no reliable hang here; a listener with a full backlog is, on any Linux.
    const hole = await startBlackhole();
    try {
      const r = await runCheck({ kind: 'tcp', host: '127.0.0.1', port: hole.port, timeoutMs: 300 });
      assert.equal(r.errorClass, 'timeout');
      assert.equal(r.message, 'timed out after 300 ms connecting');
      assert.ok(r.durationMs >= 299 && r.durationMs < 450, `took ${r.durationMs} ms`);
      const h = await runCheck({
        kind: 'http',
        url: `http://127.0.0.1:${hole.port}/`,
        method: 'GET',
        timeoutMs: 200,
      });
      assert.equal(h.errorClass, 'timeout');
      assert.equal(h.message, 'timed out after 200 ms connecting');
    } finally {
      await hole.close();
    }
  });
});

describe('look-up cache', () => {
  const counting = () => {
    const calls: string[] = [];
    const resolve: Resolve = (host, cb) => {
      calls.push(host);
      dns.lookup(host, { all: true }, cb);
    };
    return { calls, resolve };
  };
  const lookupAll = (lookup: ReturnType<typeof createLookupCache>['lookup'], host: string, family = 0) =>
    new Promise<{ err: NodeJS.ErrnoException | null; addrs: unknown }>((resolve) =>
      lookup(host, { all: true, family }, (err, addrs) => resolve({ err, addrs })),
    );

  test('a name is resolved once per TTL, concurrent look-ups share one call, failures are not kept', async () => {
    let t = 0;
    const { calls, resolve } = counting();
    const cache = createLookupCache({ ttlMs: 1000, now: () => t, resolve });
    const [a, b] = await Promise.all([
      lookupAll(cache.lookup, 'localhost'),
      lookupAll(cache.lookup, 'localhost'),
    ]);
    assert.equal(a.err, null);
    assert.deepEqual(a.addrs, b.addrs);
    assert.ok(Array.isArray(a.addrs) && a.addrs.length > 0);
    assert.equal(calls.length, 1);
    t = 999;
    await lookupAll(cache.lookup, 'localhost');
    assert.equal(calls.length, 1);
    t = 1000;
    await lookupAll(cache.lookup, 'localhost');
    assert.equal(calls.length, 2);

    const f1 = await lookupAll(cache.lookup, 'missing.invalid');
    const f2 = await lookupAll(cache.lookup, 'missing.invalid');
    assert.equal(f1.err?.code, 'ENOTFOUND');
    assert.equal(f2.err?.code, 'ENOTFOUND');
    assert.equal(calls.filter((h) => h === 'missing.invalid').length, 2);
    assert.equal(cache.size(), 1);
  });

  test('single-address and per-family answers come from the same entry; the oldest name goes first', async () => {
    const { calls, resolve } = counting();
    const cache = createLookupCache({ maxEntries: 1, resolve });
    const one = await new Promise<[string, number | undefined]>((res, rej) =>
      cache.lookup('localhost', { family: 4 }, (err, address, family) =>
        err ? rej(err) : res([address as string, family]),
      ),
    );
    assert.deepEqual(one, ['127.0.0.1', 4]);
    const v4 = await lookupAll(cache.lookup, 'localhost', 4);
    assert.deepEqual(v4.addrs, [{ address: '127.0.0.1', family: 4 }]);
    assert.equal(calls.length, 1);
    await lookupAll(cache.lookup, 'nothing.invalid'); // failures take no room
    assert.equal(cache.size(), 1);
    await lookupAll(cache.lookup, '127.0.0.1');
    assert.equal(cache.size(), 1);
    await lookupAll(cache.lookup, 'localhost');
    assert.equal(calls.filter((h) => h === 'localhost').length, 2);
  });

  test('checks use the cache they are given', async () => {
    const s = await startTcpServer(() => {});
    try {
      const { calls, resolve } = counting();
      const cache = createLookupCache({ resolve });
      for (let i = 0; i < 5; i++) {
        const r = await runCheck({ kind: 'tcp', host: 'localhost', port: s.port, timeoutMs: 1000 }, cache);
        assert.equal(r.ok, true);
      }
      const h = await runCheck(
        { kind: 'http', url: `http://localhost:${s.port}/`, method: 'GET', timeoutMs: 100 },
        cache,
      );
      assert.equal(h.errorClass, 'timeout');
      assert.deepEqual(calls, ['localhost']);
    } finally {
      await s.close();
    }
  });
});
