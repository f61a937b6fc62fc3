/**
 * nginx/peep.conf in a real nginx: the file is included in a complete configuration under a temporary
 * prefix (ports and paths rewritten to loopback and the temp dir), checked with `nginx -t`, then
 * started in front of a small node:http upstream that records what it receives. Outside CI a missing
 * nginx skips with a printed reason; under CI=true it fails.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { gunzipSync } from 'node:zlib';
import { freePort } from '@peep/pkg/testing';
import { ROOT, requireProgram, run } from './components.js';
import { writeNginxPrefix } from './nginx-prefix.js';

const nginx = requireProgram('nginx', "nginx/peep.conf not exercised (install Debian's nginx)");

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  bodyBytes: number;
}

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}
function request(
  port: number,
  p: string,
  opts: { method?: string; headers?: Record<string, string>; body?: Buffer } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, path: p, method: opts.method ?? 'GET', headers: opts.headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

describe('nginx/peep.conf', { skip: nginx ? false : 'nginx not installed' }, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'peep-nginx-'));
  const accessLog = path.join(dir, 'access.log');
  const seen: Seen[] = [];
  let releaseLastEvent: () => void = () => {};
  let upstream: http.Server;
  let proc: ChildProcess | null = null;
  let port = 0;
  let stderr = '';

  before(async () => {
    // The upstream: answers JSON, a large JSON body for /big, and an event stream for /api/v1/stream
    // whose second event waits until the test has received the first.
    upstream = http.createServer((req, res) => {
      let bodyBytes = 0;
      req.on('data', (c: Buffer) => {
        bodyBytes += c.length;
      });
      req.on('end', () => {
        seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, bodyBytes });
        const id = req.headers['x-request-id'];
        if (req.url === '/api/v1/stream') {
          // The first event goes out with the headers (nginx forwards that buffer either way); the
          // second comes later on its own, and the last only once the test has seen the second.
          res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
          res.write('data: first\n\n');
          setTimeout(() => res.write('data: second\n\n'), 200);
          new Promise<void>((r) => {
            releaseLastEvent = r;
          }).then(() => res.end('data: last\n\n'));
          return;
        }
        const body =
          req.url === '/big'
            ? JSON.stringify({ items: Array.from({ length: 500 }, (_, i) => ({ i, name: `item ${i}` })) })
            : JSON.stringify({ ok: true });
        // Like the API: echo the request id (nginx must not send two).
        res.writeHead(200, {
          'content-type': 'application/json',
          'x-request-id': typeof id === 'string' ? id : 'none',
          'x-frame-options': 'SAMEORIGIN',
        });
        res.end(body);
      });
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const upstreamPort = (upstream.address() as net.AddressInfo).port;
    port = await freePort();

    writeNginxPrefix(ROOT, dir, { port, upstreamPort: upstreamPort, accessLog });
  });

  after(async () => {
    if (proc && proc.exitCode === null) {
      proc.kill('SIGQUIT');
      await new Promise((r) => proc?.once('exit', r));
    }
    releaseLastEvent();
    upstream?.closeAllConnections();
    await new Promise<void>((r) => (upstream ? upstream.close(() => r()) : r()));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('nginx -t accepts the configuration', () => {
    const r = run(nginx as string, [
      '-t',
      '-p',
      dir,
      '-e',
      path.join(dir, 'error.log'),
      '-c',
      path.join(dir, 'nginx.conf'),
    ]);
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
    assert.match(r.stderr, /syntax is ok/);
  });

  test('a real nginx starts with it on a loopback port', async () => {
    proc = spawn(
      nginx as string,
      ['-p', dir, '-e', path.join(dir, 'error.log'), '-c', path.join(dir, 'nginx.conf')],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    proc.stderr?.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    const deadline = Date.now() + 10_000;
    for (;;) {
      assert.equal(proc.exitCode, null, `nginx exited: ${stderr}`);
      const ok = await request(port, '/health').then(
        (r) => r.status === 200,
        () => false,
      );
      if (ok) break;
      assert.ok(Date.now() < deadline, `nginx did not answer on ${port}: ${stderr}`);
      await sleep(50);
    }
  });

  test('proxies to the upstream with Host and X-Forwarded-* headers', async () => {
    const r = await request(port, '/api/v1/projects?limit=5', { headers: { host: 'peep.example' } });
    assert.equal(r.status, 200);
    assert.deepEqual(JSON.parse(r.body.toString()), { ok: true });
    const s = seen.find((x) => x.url === '/api/v1/projects?limit=5');
    assert.ok(s, 'the upstream received the request, query string included');
    assert.equal(s.headers.host, 'peep.example');
    assert.equal(s.headers['x-forwarded-for'], '127.0.0.1');
    assert.equal(s.headers['x-forwarded-proto'], 'http');
    assert.equal(s.headers['x-forwarded-host'], 'peep.example');
    assert.equal(s.headers['x-real-ip'], '127.0.0.1');
  });

  test('a missing X-Request-Id is generated, forwarded upstream and returned once', async () => {
    seen.length = 0;
    const r = await request(port, '/api/v1/me');
    const id = r.headers['x-request-id'];
    assert.equal(typeof id, 'string', 'exactly one X-Request-Id in the response');
    assert.match(id as string, /^[0-9a-f]{32}$/);
    assert.equal(seen[0]?.headers['x-request-id'], id);
  });

  test("a client's well-formed X-Request-Id is kept; a malformed one is replaced", async () => {
    seen.length = 0;
    const kept = await request(port, '/api/v1/me', { headers: { 'x-request-id': 'client-req_1.2:3' } });
    assert.equal(kept.headers['x-request-id'], 'client-req_1.2:3');
    assert.equal(seen[0]?.headers['x-request-id'], 'client-req_1.2:3');
    const bad = await request(port, '/api/v1/me', { headers: { 'x-request-id': 'has spaces and "quotes"' } });
    assert.match(String(bad.headers['x-request-id']), /^[0-9a-f]{32}$/);
    assert.equal(seen[1]?.headers['x-request-id'], bad.headers['x-request-id']);
  });

  test('security headers are set once, server version hidden', async () => {
    const r = await request(port, '/');
    assert.equal(r.headers['x-content-type-options'], 'nosniff');
    assert.equal(r.headers['x-frame-options'], 'DENY', "nginx's value replaces the upstream's");
    assert.equal(r.headers['referrer-policy'], 'strict-origin-when-cross-origin');
    assert.equal(r.headers.server, 'nginx');
  });

  test('large JSON answers are gzipped for clients that accept it', async () => {
    const r = await request(port, '/big', { headers: { 'accept-encoding': 'gzip' } });
    assert.equal(r.headers['content-encoding'], 'gzip');
    const json = JSON.parse(gunzipSync(r.body).toString()) as { items: unknown[] };
    assert.equal(json.items.length, 500);
  });

  test('bodies over client_max_body_size get 413 without reaching the upstream', async () => {
    seen.length = 0;
    const r = await request(port, '/api/v1/projects', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: Buffer.alloc(2 * 1024 * 1024, 0x20),
    });
    assert.equal(r.status, 413);
    assert.equal(seen.length, 0);
    const small = await request(port, '/api/v1/projects', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: Buffer.from('{"name":"x"}'),
    });
    assert.equal(small.status, 200);
    assert.equal(seen[0]?.bodyBytes, 12);
  });

  test('/api/v1/stream events reach the client as the upstream writes them, never gzipped', async () => {
    const { rest } = await new Promise<{ rest: Promise<string> }>((resolve, reject) => {
      const req = http.get(
        {
          host: '127.0.0.1',
          port,
          path: '/api/v1/stream',
          agent: false,
          headers: { 'accept-encoding': 'gzip' },
        },
        (res) => {
          assert.equal(res.headers['content-type'], 'text/event-stream');
          assert.equal(res.headers['content-encoding'], undefined);
          let all = '';
          const rest = new Promise<string>((r) => res.on('end', () => r(all)));
          res.on('data', (c: Buffer) => {
            all += c.toString();
            if (all === 'data: first\n\ndata: second\n\n') resolve({ rest });
          });
        },
      );
      req.on('error', reject);
      setTimeout(
        () => reject(new Error('the second event did not arrive within 3 s: nginx buffered the stream')),
        3000,
      ).unref();
    });
    releaseLastEvent();
    assert.equal(await rest, 'data: first\n\ndata: second\n\ndata: last\n\n');
  });

  test('/metrics is served to loopback clients', async () => {
    const r = await request(port, '/metrics');
    assert.equal(r.status, 200);
  });

  test('every request is one JSON log line with string fields, the query string (tokens) left out', async () => {
    await request(port, '/setup?token=one-time-secret-abc', { headers: { 'x-request-id': 'log-check-1' } });
    let line: Record<string, unknown> | undefined;
    for (let i = 0; i < 40 && !line; i++) {
      const lines = fs.existsSync(accessLog) ? fs.readFileSync(accessLog, 'utf8').trim().split('\n') : [];
      const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>); // every line is JSON
      line = parsed.find((l) => l.request_id === 'log-check-1');
      if (!line) await sleep(50);
    }
    assert.ok(line, 'the request was logged');
    assert.equal(line.method, 'GET');
    assert.equal(line.uri, '/setup');
    assert.equal(line.status, '200');
    assert.equal(line.upstream_status, '200');
    assert.equal(line.host, '127.0.0.1');
    assert.match(String(line.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/);
    for (const k of ['bytes', 'request_time', 'upstream_response_time']) {
      assert.equal(typeof line[k], 'string', k);
      assert.match(line[k] as string, /^\d+(\.\d+)?$/, k);
    }
    assert.doesNotMatch(fs.readFileSync(accessLog, 'utf8'), /one-time-secret-abc/);
  });
});
