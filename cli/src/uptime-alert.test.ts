/**
 * The whole uptime path in one `peep up` process (embedded PGlite, in-process bus, scheduler and
 * notifier in the builder): a target on a local HTTP server and a webhook channel to a local receiver
 * are created through the API; the server starts answering 500; the receiver must get a signed
 * `opened` message within two intervals plus 5 s (the figure), then a `resolved` one when the
 * server recovers. Also checks /metrics and `peep status` on the way. Prints the measured delays.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { verifyWebhookSignature } from '@peep/builder';
import { freePort } from '@peep/pkg/testing';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), 'bin.js');
const INTERVAL_S = 5;

interface Received {
  at: number;
  event: string;
  body: string;
  ok: boolean;
}

async function listen(handler: http.RequestListener): Promise<{ server: http.Server; url: string }> {
  const server = http.createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'peep-uptime-alert-'));
const cleanups: (() => unknown)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

test('a target going down reaches a webhook within two intervals plus 5 s, signed; recovery too', {
  timeout: 120_000,
}, async () => {
  let failing = false;
  const target = await listen((_req, res) => {
    res.statusCode = failing ? 503 : 200;
    res.end(failing ? 'maintenance gone wrong' : 'ok');
  });
  cleanups.push(() => target.server.close());
  let secret = '';
  const received: Received[] = [];
  const receiver = await listen((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const v = verifyWebhookSignature(
        secret,
        req.headers['x-peep-timestamp'] as string | undefined,
        body,
        req.headers['x-peep-signature'] as string | undefined,
      );
      received.push({ at: Date.now(), event: String(req.headers['x-peep-event']), body, ok: v.ok });
      res.end('thanks');
    });
  });
  cleanups.push(() => receiver.server.close());

  const port = await freePort();
  let out = '';
  const child: ChildProcess = spawn(process.execPath, [BIN, 'up'], {
    env: {
      ...process.env,
      PEEP_PORT: String(port),
      PEEP_DATA_DIR: dataDir,
      PEEP_DASHBOARD: 'false',
      PEEP_LOG_LEVEL: 'warn',
      PEEP_PUBLIC_URL: `http://127.0.0.1:${port}`,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (d) => (out += d));
  child.stderr?.on('data', (d) => (out += d));
  cleanups.push(() => child.kill('SIGKILL'));
  const url = `http://127.0.0.1:${port}`;
  const link = await (async () => {
    for (let i = 0; i < 600; i++) {
      const m = /\/setup\?token=([A-Za-z0-9_-]+)/.exec(out);
      if (m) return m[1] as string;
      if (child.exitCode !== null) throw new Error(`peep up exited:\n${out}`);
      await sleep(50);
    }
    throw new Error(`no setup link:\n${out}`);
  })();
  for (let i = 0; i < 200; i++) {
    const ok = await fetch(`${url}/ready`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    await sleep(50);
  }
  const setup = await fetch(`${url}/api/v1/setup`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      token: link,
      email: 'ops@example.com',
      name: 'Ops',
      password: 'a long enough password',
    }),
  });
  assert.equal(setup.status, 201);
  const cookie = setup.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .join('; ');
  const { csrfToken } = (await setup.json()) as { csrfToken: string };
  const api = async (method: string, route: string, body?: unknown) => {
    const res = await fetch(`${url}${route}`, {
      method,
      headers: {
        cookie,
        'x-csrf-token': csrfToken,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  };

  const p = await api('POST', '/api/v1/projects', { name: 'Shop' });
  assert.equal(p.status, 201, JSON.stringify(p.body));
  const projectId = p.body.project.id as string;
  const ch = await api('POST', `/api/v1/projects/${projectId}/channels`, {
    name: 'ops',
    kind: 'webhook',
    url: `${receiver.url}/peep`,
  });
  assert.equal(ch.status, 201, JSON.stringify(ch.body));
  secret = ch.body.secret;
  assert.match(secret, /\S{16,}/);
  assert.equal(JSON.stringify(ch.body).includes(`${receiver.url}/peep`), false, 'the URL is masked');

  const t = await api('POST', `/api/v1/projects/${projectId}/targets`, {
    name: 'checkout',
    env: 'prod',
    kind: 'http',
    spec: { kind: 'http', url: `${target.url}/health`, method: 'GET', timeoutMs: 2000 },
    intervalS: INTERVAL_S,
  });
  assert.equal(t.status, 201, JSON.stringify(t.body));
  const targetId = t.body.target.id as string;
  const status = async () =>
    (await api('GET', `/api/v1/projects/${projectId}/targets/${targetId}`)).body.target.status;
  for (let i = 0; i < 150 && (await status()) !== 'up'; i++) await sleep(100);
  assert.equal(await status(), 'up');

  // Down: the next check fails (fail_after 1 by default).
  failing = true;
  const downAt = Date.now();
  for (let i = 0; i < 300 && !received.some((r) => r.event === 'opened'); i++) await sleep(50);
  const opened = received.find((r) => r.event === 'opened');
  assert.ok(opened, `no opened message; received ${JSON.stringify(received.map((r) => r.event))}\n${out}`);
  const delay = opened.at - downAt;
  console.log(
    `# target down -> webhook delivered: ${delay} ms (limit ${2 * INTERVAL_S * 1000 + 5000} ms at a ${INTERVAL_S} s interval)`,
  );
  assert.ok(delay < 2 * INTERVAL_S * 1000 + 5000, `${delay} ms`);
  assert.ok(opened.ok, 'the signature verifies with the channel secret');
  const msg = JSON.parse(opened.body);
  assert.equal(msg.type, 'opened');
  assert.equal(msg.incident.title, 'checkout is down');
  assert.match(msg.incident.reason, /503/);
  assert.ok(String(msg.url).startsWith(`${url}/projects/${projectId}/uptime/incidents/`), msg.url);
  assert.equal(await status(), 'down');

  // /metrics and the status endpoint say so too.
  const metrics = await (await fetch(`${url}/metrics`)).text();
  assert.match(
    metrics,
    /peep_target_status\{project="shop",env="prod",target="checkout",kind="http",status="down"\} 1/,
  );
  assert.match(metrics, /peep_incidents_active\{project="shop",kind="down"\} 1/);
  const st = await api('GET', `/api/v1/projects/${projectId}/status`);
  assert.equal(st.body.health, 'down');
  assert.equal(st.body.incidents[0].title, 'checkout is down');

  // Recovery: resolved, with its own message.
  failing = false;
  const upAt = Date.now();
  for (let i = 0; i < 300 && !received.some((r) => r.event === 'resolved'); i++) await sleep(50);
  const resolved = received.find((r) => r.event === 'resolved');
  assert.ok(resolved, 'resolved message');
  console.log(`# target recovered -> webhook delivered: ${resolved.at - upAt} ms`);
  assert.ok(resolved.ok);
  assert.equal(received.filter((r) => r.event === 'opened').length, 1, 'one incident, one message');
});
