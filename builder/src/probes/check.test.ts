/**
 * HTTP checks against real servers on loopback: status ranges, keyword and JSON assertions, what a
 * POST puts on the wire, redirects, timeouts, refused ports, DNS failures, resets, protocol errors,
 * the body read limit, aborts, and that no socket outlives its check.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type HttpCheck, runCheck } from './check.js';
import { compileHttp } from './http.js';
import { closedPort, startServer, startTcpServer, type TestServer } from './testing.js';

const http = (url: string, extra: Partial<HttpCheck> = {}): HttpCheck => ({
  kind: 'http',
  url,
  method: 'GET',
  timeoutMs: 3000,
  ...extra,
});
const waitFor = async (cond: () => boolean, ms = 1000) => {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
  return cond();
};

describe('HTTP checks', () => {
  let s: TestServer;
  let other: TestServer;
  before(async () => {
    s = await startServer((req, res) => {
      const u = new URL(req.url ?? '/', 'http://x');
      const p = u.pathname;
      if (p.startsWith('/status/')) {
        res.statusCode = Number(p.slice(8));
        return res.end('status page');
      }
      if (p === '/json') {
        res.setHeader('content-type', 'application/json');
        return res.end(
          JSON.stringify({
            status: 'ok',
            code: 200,
            load: '0.75',
            items: [{ ok: true }, { ok: false, name: null }],
            tags: ['eu', 'prod'],
            'a-b': { 'c d': 5 },
          }),
        );
      }
      if (p.startsWith('/chain/')) {
        const n = Number(p.slice(7));
        res.writeHead(302, { location: n > 0 ? `/chain/${n - 1}` : '/status/200' });
        return res.end();
      }
      if (p === '/see-other') {
        res.writeHead(303, { location: '/status/200' });
        return res.end();
      }
      if (p === '/cross') {
        res.writeHead(307, { location: `${other.origin.replace('127.0.0.1', 'localhost')}/landing` });
        return res.end();
      }
      if (p === '/to-ftp') {
        res.writeHead(301, { location: 'ftp://example.com/' });
        return res.end();
      }
      if (p === '/stall-body') {
        res.writeHead(200, { 'content-length': '1000' });
        return res.write('partial');
      }
      if (p === '/short-body') {
        res.writeHead(200, { 'content-length': '1000' });
        res.write('only this much');
        return setTimeout(() => res.socket?.destroy(), 20);
      }
      if (p === '/reset') return req.socket.destroy();
      if (p === '/big') {
        res.setHeader('content-type', 'text/plain');
        res.write(Buffer.alloc(2 * 1024 * 1024, 'a'));
        return res.end('NEEDLE');
      }
      res.end('hello peep, all systems nominal');
    });
    other = await startServer((_req, res) => res.end('landed'));
  });
  after(async () => {
    await s.close();
    await other.close();
  });

  test('a 200 is up, with connect and first-byte phases, the body size and DNS time for a name', async () => {
    const r = await runCheck(http(`http://localhost:${s.port}/`));
    assert.equal(r.ok, true, r.message);
    assert.equal(r.statusCode, 200);
    assert.equal(r.errorClass, undefined);
    assert.equal(r.bytes, 'hello peep, all systems nominal'.length);
    assert.equal(r.redirects, 0);
    assert.equal(typeof r.phases.dnsMs, 'number');
    assert.ok((r.phases.connectMs ?? -1) >= 0);
    assert.ok((r.phases.firstByteMs ?? -1) >= 0);
    assert.equal(r.phases.tlsMs, undefined);
    assert.ok(r.phases.totalMs >= (r.phases.connectMs ?? 0) + (r.phases.firstByteMs ?? 0) - 0.01);
    assert.equal(r.durationMs, r.phases.totalMs);
    assert.ok(Math.abs(r.startedAt - Date.now()) < 5000);
    // An IP literal needs no lookup.
    const ip = await runCheck(http(`${s.origin}/`));
    assert.equal(ip.ok, true);
    assert.equal(ip.phases.dnsMs, undefined);
  });

  test('startedAt comes from the injected clock', async () => {
    const r = await runCheck(http(`${s.origin}/`), { now: () => 1_700_000_000_000 });
    assert.equal(r.startedAt, 1_700_000_000_000);
  });

  test('status codes: 500 and 404 are down by default, accepted when listed; the code is reported', async () => {
    const r500 = await runCheck(http(`${s.origin}/status/500`));
    assert.equal(r500.ok, false);
    assert.equal(r500.errorClass, 'status');
    assert.equal(r500.statusCode, 500);
    assert.match(r500.message ?? '', /500 not in 200-399/);

    const r404 = await runCheck(http(`${s.origin}/status/404`));
    assert.equal(r404.errorClass, 'status');
    const ok404 = await runCheck(http(`${s.origin}/status/404`, { acceptStatus: ['200-299', '404'] }));
    assert.equal(ok404.ok, true);
    assert.equal(ok404.statusCode, 404);

    const only2xx = await runCheck(http(`${s.origin}/status/204`, { acceptStatus: ['200-203'] }));
    assert.equal(only2xx.errorClass, 'status');
  });

  test('keyword text present / absent', async () => {
    const url = `${s.origin}/`;
    assert.equal((await runCheck(http(url, { keyword: { text: 'nominal', mode: 'present' } }))).ok, true);
    const missing = await runCheck(http(url, { keyword: { text: 'degraded', mode: 'present' } }));
    assert.equal(missing.errorClass, 'assertion');
    assert.equal(missing.statusCode, 200);
    assert.equal(missing.message, 'keyword "degraded" not found in the body');
    assert.equal((await runCheck(http(url, { keyword: { text: 'degraded', mode: 'absent' } }))).ok, true);
    const there = await runCheck(http(url, { keyword: { text: 'peep', mode: 'absent' } }));
    assert.equal(there.errorClass, 'assertion');
    assert.match(there.message ?? '', /found in the body/);
  });

  test('keyword regex, with flags, present and absent', async () => {
    const url = `${s.origin}/`;
    assert.equal(
      (await runCheck(http(url, { keyword: { regex: 'all \\w+ nominal$', mode: 'present' } }))).ok,
      true,
    );
    assert.equal((await runCheck(http(url, { keyword: { regex: 'HELLO', mode: 'present' } }))).ok, false);
    assert.equal(
      (await runCheck(http(url, { keyword: { regex: 'HELLO', flags: 'i', mode: 'present' } }))).ok,
      true,
    );
    const absent = await runCheck(http(url, { keyword: { regex: 'sys?tems', mode: 'absent' } }));
    assert.equal(absent.errorClass, 'assertion');
    assert.match(absent.message ?? '', /\/sys\?tems\/ found/);
  });

  test('JSON path ops on a real JSON body', async () => {
    const url = `${s.origin}/json`;
    const cases: [HttpCheck['jsonPath'], boolean][] = [
      [{ path: '$.status', op: 'eq', value: 'ok' }, true],
      [{ path: '$.status', op: 'eq', value: 'degraded' }, false],
      [{ path: '$.status', op: 'neq', value: 'degraded' }, true],
      [{ path: '$.code', op: 'eq', value: 200 }, true],
      [{ path: '$.code', op: 'eq', value: '200' }, true],
      [{ path: '$.code', op: 'lt', value: 300 }, true],
      [{ path: '$.code', op: 'gt', value: 200 }, false],
      [{ path: '$.load', op: 'lt', value: 0.9 }, true],
      [{ path: '$.load', op: 'gt', value: 0.9 }, false],
      [{ path: '$.items[0].ok', op: 'eq', value: true }, true],
      [{ path: '$.items[1].ok', op: 'eq', value: true }, false],
      [{ path: '$.items[-1].name', op: 'eq', value: null }, true],
      [{ path: '$.items[1].name', op: 'exists' }, true],
      [{ path: '$.items[2]', op: 'exists' }, false],
      [{ path: '$.nope', op: 'exists' }, false],
      [{ path: '$.nope', op: 'neq', value: 'x' }, false],
      [{ path: '$.status', op: 'contains', value: 'o' }, true],
      [{ path: '$.tags', op: 'contains', value: 'prod' }, true],
      [{ path: '$.tags', op: 'contains', value: 'dev' }, false],
      [{ path: "$['a-b']['c d']", op: 'eq', value: 5 }, true],
      [{ path: '$.status', op: 'lt', value: 5 }, false],
    ];
    for (const [jsonPath, ok] of cases) {
      const r = await runCheck(http(url, { jsonPath }));
      assert.equal(r.ok, ok, `${JSON.stringify(jsonPath)} → ${r.message}`);
      if (!ok) assert.equal(r.errorClass, 'assertion');
    }
    const r = await runCheck(http(url, { jsonPath: { path: '$.status', op: 'eq', value: 'degraded' } }));
    assert.equal(r.message, '$.status is "ok", expected eq "degraded"');
    const notJson = await runCheck(http(`${s.origin}/`, { jsonPath: { path: '$.a', op: 'exists' } }));
    assert.equal(notJson.errorClass, 'assertion');
    assert.equal(notJson.message, 'body is not JSON');
    // Keyword and JSON path together: both must hold.
    const both = await runCheck(
      http(url, {
        keyword: { text: 'prod', mode: 'present' },
        jsonPath: { path: '$.code', op: 'eq', value: 201 },
      }),
    );
    assert.equal(both.errorClass, 'assertion');
  });

  test('a POST sends its method, headers and body as given, and a default user agent', async () => {
    const before = s.received.length;
    const body = JSON.stringify({ ping: 'héllo' });
    const r = await runCheck(
      http(`${s.origin}/status/201?x=1`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-Token': 'sekret-123' },
        body,
      }),
    );
    assert.equal(r.ok, true, r.message);
    const got = s.received[before];
    assert.ok(got);
    assert.equal(got.method, 'POST');
    assert.equal(got.url, '/status/201?x=1');
    assert.equal(got.body, body);
    assert.equal(got.headers['content-type'], 'application/json');
    assert.equal(got.headers['x-token'], 'sekret-123');
    assert.equal(got.headers['content-length'], String(Buffer.byteLength(body)));
    assert.equal(got.headers['user-agent'], 'peep-probe/1');
    assert.equal(got.headers.host, `127.0.0.1:${s.port}`);
    assert.equal(got.headers.connection, 'close');

    await runCheck(http(`${s.origin}/`, { method: 'HEAD', headers: { 'User-Agent': 'mine/2' } }));
    const head = s.received.at(-1);
    assert.equal(head?.method, 'HEAD');
    assert.equal(head?.headers['user-agent'], 'mine/2');
  });

  test('a failure message never holds a request header value', async () => {
    const headers = { Authorization: 'Bearer sekret-token-value', 'X-Api-Key': 'sekret-key' };
    for (const path of ['/status/500', '/stall-body', '/reset']) {
      const r = await runCheck(http(`${s.origin}${path}`, { headers, timeoutMs: 200 }));
      assert.equal(r.ok, false);
      assert.doesNotMatch(JSON.stringify(r), /sekret/);
    }
  });

  test('redirect chains are followed and counted; more than 5 hops is an error', async () => {
    const three = await runCheck(http(`${s.origin}/chain/2`));
    assert.equal(three.ok, true, three.message);
    assert.equal(three.redirects, 3);
    assert.equal(three.statusCode, 200);

    const five = await runCheck(http(`${s.origin}/chain/4`));
    assert.equal(five.ok, true);
    assert.equal(five.redirects, 5);

    const six = await runCheck(http(`${s.origin}/chain/5`));
    assert.equal(six.ok, false);
    assert.equal(six.errorClass, 'protocol');
    assert.equal(six.message, 'more than 5 redirects');
    assert.equal(six.redirects, 5);
    assert.equal(six.statusCode, 302);

    const ftp = await runCheck(http(`${s.origin}/to-ftp`));
    assert.equal(ftp.errorClass, 'protocol');
    assert.match(ftp.message ?? '', /unsupported scheme/);
  });

  test('followRedirects false reports the 3xx itself (up by the default 200-399, down when not accepted)', async () => {
    const r = await runCheck(http(`${s.origin}/chain/2`, { followRedirects: false }));
    assert.equal(r.ok, true);
    assert.equal(r.statusCode, 302);
    assert.equal(r.redirects, 0);
    const strict = await runCheck(
      http(`${s.origin}/chain/2`, { followRedirects: false, acceptStatus: ['200'] }),
    );
    assert.equal(strict.errorClass, 'status');
    assert.equal(strict.statusCode, 302);
  });

  test('a 303 after a POST continues as GET without the body', async () => {
    const n = s.received.length;
    const r = await runCheck(
      http(`${s.origin}/see-other`, {
        method: 'POST',
        body: 'payload',
        headers: { 'content-type': 'text/plain' },
      }),
    );
    assert.equal(r.ok, true);
    const [post, get] = s.received.slice(n);
    assert.equal(post?.method, 'POST');
    assert.equal(post?.body, 'payload');
    assert.equal(get?.method, 'GET');
    assert.equal(get?.url, '/status/200');
    assert.equal(get?.body, '');
    assert.equal(get?.headers['content-type'], undefined);
  });

  test('a redirect to another origin resolves the new host and drops credentials, keeping other headers', async () => {
    const r = await runCheck(
      http(`${s.origin}/cross`, { headers: { Authorization: 'Bearer x', Cookie: 'a=b', 'X-Trace': 't1' } }),
    );
    assert.equal(r.ok, true, r.message);
    assert.equal(r.redirects, 1);
    assert.equal(typeof r.phases.dnsMs, 'number'); // the second hop looked up "localhost"
    const landed = other.received.at(-1);
    assert.equal(landed?.url, '/landing');
    assert.equal(landed?.headers.authorization, undefined);
    assert.equal(landed?.headers.cookie, undefined);
    assert.equal(landed?.headers['x-trace'], 't1');
    assert.equal(s.received.at(-1)?.headers.authorization, 'Bearer x');
  });

  test('a server that accepts and never answers times out within the timeout plus a small margin', async () => {
    const silent = await startTcpServer(() => {});
    try {
      const r = await runCheck(http(`${silent.origin}/`, { timeoutMs: 300 }));
      assert.equal(r.ok, false);
      assert.equal(r.errorClass, 'timeout');
      assert.equal(r.message, 'timed out after 300 ms waiting for the response');
      assert.ok(r.durationMs >= 299 && r.durationMs < 450, `took ${r.durationMs} ms`);
      assert.ok(await waitFor(() => silent.connections() === 0), 'the socket was closed');
    } finally {
      await silent.close();
    }
  });

  test('headers then a stalled body time out (the timeout covers the body) and the socket is closed', async () => {
    const r = await runCheck(http(`${s.origin}/stall-body`, { timeoutMs: 300 }));
    assert.equal(r.errorClass, 'timeout');
    assert.equal(r.statusCode, 200);
    assert.equal(r.message, 'timed out after 300 ms reading the body');
    assert.ok(r.durationMs >= 299 && r.durationMs < 450, `took ${r.durationMs} ms`);
    assert.ok(await waitFor(() => s.connections() === 0), 'the socket was closed');
  });

  test('a closed port is refused; a name under .invalid is a DNS failure', async () => {
    const port = await closedPort();
    const r = await runCheck(http(`http://127.0.0.1:${port}/`));
    assert.equal(r.errorClass, 'refused');
    assert.equal(r.ok, false);
    assert.equal(r.statusCode, undefined);
    const d = await runCheck(http('http://no-such-host.invalid/'));
    assert.equal(d.errorClass, 'dns');
    assert.match(d.message ?? '', /no-such-host\.invalid/);
  });

  test('a connection dropped before or during the response is a reset', async () => {
    const r = await runCheck(http(`${s.origin}/reset`));
    assert.equal(r.errorClass, 'reset');
    const short = await runCheck(http(`${s.origin}/short-body`));
    assert.equal(short.errorClass, 'reset');
    assert.equal(short.statusCode, 200);
    assert.match(short.message ?? '', /while reading the body/);
  });

  test('a response that is not HTTP is a protocol error', async () => {
    const junk = await startTcpServer((sock) => sock.end('SSH-2.0-OpenSSH_9.6\r\n\r\n'));
    try {
      const r = await runCheck(http(`${junk.origin}/`));
      assert.equal(r.errorClass, 'protocol');
    } finally {
      await junk.close();
    }
  });

  test('the body is read up to the limit only: bytes are capped and text past it is not seen', async () => {
    const r = await runCheck(http(`${s.origin}/big`));
    assert.equal(r.ok, true);
    assert.equal(r.bytes, 1024 * 1024);
    const needle = await runCheck(http(`${s.origin}/big`, { keyword: { text: 'NEEDLE', mode: 'present' } }));
    assert.equal(needle.errorClass, 'assertion');
    const small = await runCheck(http(`${s.origin}/big`, { keyword: { text: 'aaaa', mode: 'present' } }), {
      maxBodyBytes: 10,
    });
    assert.equal(small.ok, true);
    assert.equal(small.bytes, 10);
    const json = await runCheck(http(`${s.origin}/big`, { jsonPath: { path: '$', op: 'exists' } }));
    assert.match(json.message ?? '', /not parsed as JSON/);
    assert.ok(await waitFor(() => s.connections() === 0), 'the socket was closed');
  });

  test('an abort ends the check at once; an aborted signal never starts it', async () => {
    const silent = await startTcpServer(() => {});
    try {
      const ac = new AbortController();
      setTimeout(() => ac.abort(), 50);
      const r = await runCheck(http(`${silent.origin}/`, { timeoutMs: 5000 }), { signal: ac.signal });
      assert.equal(r.errorClass, 'other');
      assert.equal(r.message, 'aborted');
      assert.ok(r.durationMs < 1000);
      const pre = await runCheck(http(`${silent.origin}/`), { signal: AbortSignal.abort() });
      assert.equal(pre.message, 'aborted');
      assert.ok(await waitFor(() => silent.connections() === 0), 'the socket was closed');
    } finally {
      await silent.close();
    }
  });

  test('a spec that skipped validation resolves as a failed check, never a throw', async () => {
    const bad = http(`${s.origin}/`, { keyword: { regex: '(', mode: 'present' } });
    const r = await runCheck(bad);
    assert.equal(r.ok, false);
    assert.equal(r.errorClass, 'other');
    assert.match(r.message ?? '', /^invalid check: /);
    const badUrl = await runCheck(http('not a url'));
    assert.equal(badUrl.errorClass, 'other');
    const badHeader = await runCheck(http(`${s.origin}/`, { headers: { 'X-A': 'line\nbreak' } }));
    assert.equal(badHeader.ok, false);
  });

  test('a spec is compiled once per object (regex and URL are not rebuilt per check)', () => {
    const c = http(`${s.origin}/`, { keyword: { regex: 'a+', mode: 'present' } });
    const a = compileHttp(c);
    assert.equal(compileHttp(c), a);
    assert.notEqual(compileHttp({ ...c }), a);
  });
});
