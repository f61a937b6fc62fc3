/**
 * `peep agent nginx` end to end: a real nginx (nginx/peep.conf, its `peep_json` log format) in front
 * of a small node:http app, the real peep API (PGlite) with an owner, a project and an ingest key made
 * through the API, and the built `peep` running the agent as a child process. Requests sent through
 * nginx must arrive as request events with their route template, status and request id; a SIGKILL of
 * the agent mid-stream and a rename rotation with `nginx -s reopen` must neither lose nor duplicate
 * one (counted by request id). Outside CI a missing nginx skips with a printed reason; under CI=true
 * it fails.
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
import {
  call,
  createOwner,
  createProjectWithKey,
  type SignedIn,
  startTestServer,
  type TestServer,
} from '@peep/api/testing';
import { freePort } from '@peep/pkg/testing';
import { ROOT, requireProgram, run } from './components.js';
import { writeNginxPrefix } from './nginx-prefix.js';

const nginx = requireProgram('nginx', "the nginx agent is not exercised (install Debian's nginx)");
const BIN = path.join(ROOT, 'cli/dist/bin.js');

/** One request through nginx with our own X-Request-Id; resolves with the status. */
function get(port: number, p: string, requestId: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path: p,
        headers: { host: 'shop.example', 'x-request-id': requestId },
        agent: false,
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

interface Agent {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
}

interface StreamEvent {
  service: string;
  route: string;
  method: string;
  status: number;
  durationMs: number;
  bytesIn: number | null;
  bytesOut: number | null;
  requestId: string | null;
  attributes: Record<string, string> | null;
}

describe('peep agent nginx: nginx access log to request events', {
  skip: nginx ? false : 'nginx not installed',
  timeout: 180_000,
}, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'peep-nginx-agent-'));
  const accessLog = path.join(dir, 'access.log');
  const stateDir = path.join(dir, 'state');
  const nginxArgs = ['-p', dir, '-e', path.join(dir, 'error.log'), '-c', path.join(dir, 'nginx.conf')];
  let app: http.Server;
  let proc: ChildProcess | null = null;
  let port = 0;
  let s: TestServer;
  let owner: SignedIn;
  let projectId = '';
  let key = '';
  let agent: Agent | null = null;

  function startAgent(): Agent {
    const child = spawn(
      process.execPath,
      [
        BIN,
        'agent',
        'nginx',
        '--file',
        accessLog,
        '--server',
        s.url,
        '--state-dir',
        stateDir,
        '--service',
        'shop',
        '--batch',
        '20',
        '--interval',
        '50',
        '--from-start',
      ],
      {
        env: { PATH: process.env.PATH, HOME: dir, PEEP_INGEST_KEY: key },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    child.stdout?.on('data', (d) => {
      out += d;
    });
    child.stderr?.on('data', (d) => {
      out += d;
    });
    const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
    return { child, output: () => out, exited };
  }

  async function waitOutput(a: Agent, re: RegExp): Promise<void> {
    const deadline = Date.now() + 15_000;
    while (!re.test(a.output())) {
      assert.equal(a.child.exitCode, null, `the agent exited: ${a.output()}`);
      assert.ok(Date.now() < deadline, `no ${re} from the agent: ${a.output()}`);
      await sleep(20);
    }
  }

  async function events(): Promise<StreamEvent[]> {
    const r = await call(s, owner, 'GET', `/api/v1/projects/${projectId}/telemetry/events?limit=1000`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body.events as StreamEvent[];
  }

  /** Waits until every id in `ids` arrived; returns how often each id of the prefix was stored. */
  async function arrived(ids: string[], prefix: string): Promise<Map<string, number>> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const counts = new Map<string, number>();
      for (const e of await events())
        if (e.requestId?.startsWith(prefix)) counts.set(e.requestId, (counts.get(e.requestId) ?? 0) + 1);
      const missing = ids.filter((id) => !counts.has(id));
      if (missing.length === 0) return counts;
      assert.ok(
        Date.now() < deadline,
        `${missing.length} of ${ids.length} requests never arrived (first: ${missing[0]}); agent: ${agent?.output()}`,
      );
      await sleep(100);
    }
  }

  before(async () => {
    app = http.createServer((req, res) => {
      const status = req.url?.startsWith('/fail') ? 500 : 200;
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok: status === 200, id: req.headers['x-request-id'] }));
    });
    await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
    const appPort = (app.address() as net.AddressInfo).port;
    port = await freePort();

    writeNginxPrefix(ROOT, dir, { port, upstreamPort: appPort, accessLog });
    let stderr = '';
    proc = spawn(nginx as string, nginxArgs, { stdio: ['ignore', 'ignore', 'pipe'] });
    proc.stderr?.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    const deadline = Date.now() + 10_000;
    for (;;) {
      assert.equal(proc.exitCode, null, `nginx exited: ${stderr}`);
      const ok = await get(port, '/health', 'warmup').then(
        (st) => st === 200,
        () => false,
      );
      if (ok) break;
      assert.ok(Date.now() < deadline, `nginx did not answer on ${port}: ${stderr}`);
      await sleep(50);
    }

    s = await startTestServer();
    owner = await createOwner(s);
    const p = await createProjectWithKey(s, owner, { name: 'Shop', environment: 'prod' });
    projectId = p.projectId;
    key = p.key;
  });

  after(async () => {
    if (agent && agent.child.exitCode === null) {
      agent.child.kill('SIGKILL');
      await agent.exited;
    }
    if (proc && proc.exitCode === null) {
      proc.kill('SIGQUIT');
      await new Promise((r) => proc?.once('exit', r));
    }
    app?.closeAllConnections();
    await new Promise<void>((r) => (app ? app.close(() => r()) : r()));
    await s?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('requests through nginx arrive with route template, status, method, request id and upstream fields', async () => {
    agent = startAgent();
    await waitOutput(agent, /following .*access\.log/);
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) {
      const id = `basic-${i}`;
      ids.push(id);
      const st = await get(port, i % 4 === 3 ? `/fail/${i}` : `/items/${1000 + i}?page=${i}`, id);
      assert.equal(st, i % 4 === 3 ? 500 : 200);
    }
    await arrived(ids, 'basic-');
    const byId = new Map((await events()).map((e) => [e.requestId, e]));
    const ok = byId.get('basic-0');
    assert.ok(ok);
    assert.equal(ok.service, 'shop');
    assert.equal(ok.route, '/items/:id');
    assert.equal(ok.method, 'GET');
    assert.equal(ok.status, 200);
    assert.ok(ok.durationMs >= 0 && ok.durationMs < 5000, `durationMs ${ok.durationMs}`);
    assert.ok((ok.bytesIn ?? 0) > 0 && (ok.bytesOut ?? 0) > 0, 'request_length and bytes_sent');
    assert.equal(ok.attributes?.host, 'shop.example');
    assert.equal(ok.attributes?.upstreamStatus, '200');
    assert.match(ok.attributes?.upstreamTime ?? '', /^\d+\.\d{3}$/);
    assert.match(ok.attributes?.upstreamAddr ?? '', /^127\.0\.0\.1:\d+$/);
    const failed = byId.get('basic-3');
    assert.equal(failed?.route, '/fail/:id');
    assert.equal(failed?.status, 500);
  });

  test('a malformed line in the log is skipped and counted; the agent keeps going', async () => {
    fs.appendFileSync(accessLog, 'this is not json\n');
    await get(port, '/items/1', 'after-garbage-1');
    await arrived(['after-garbage-1'], 'after-garbage-');
    assert.match(agent?.output() ?? '', /skipped a malformed line .*not JSON/);
  });

  test('SIGKILL mid-stream, then a restart: every request arrives exactly once', async () => {
    const ids = Array.from({ length: 300 }, (_, i) => `kill-${i}`);
    let sent = 0;
    const sender = (async () => {
      for (const id of ids) {
        await get(port, `/items/${sent}`, id);
        sent++;
        if (sent % 25 === 0) await sleep(10);
      }
    })();
    // Kill once some of them were acknowledged and while more keep coming.
    const deadline = Date.now() + 20_000;
    for (;;) {
      const n = (await events()).filter((e) => e.requestId?.startsWith('kill-')).length;
      if (n >= 40) break;
      assert.ok(Date.now() < deadline, `no kill- events arrived: ${agent?.output()}`);
      await sleep(10);
    }
    agent?.child.kill('SIGKILL');
    await agent?.exited;
    const state = JSON.parse(
      fs.readFileSync(path.join(stateDir, fs.readdirSync(stateDir)[0] as string), 'utf8'),
    );
    assert.equal(typeof state.position.offset, 'number');
    await sleep(200); // lines keep being written while the agent is down
    agent = startAgent();
    await waitOutput(agent, /following .*access\.log/);
    await sender;
    const counts = await arrived(ids, 'kill-');
    const dup = [...counts].filter(([, c]) => c > 1);
    assert.deepEqual(dup, [], 'no request stored twice');
    assert.equal(counts.size, ids.length);
  });

  test('rename rotation and `nginx -s reopen`: lines in the old and the new file all arrive once', async () => {
    const before = Array.from({ length: 15 }, (_, i) => `rot-a-${i}`);
    const afterIds = Array.from({ length: 15 }, (_, i) => `rot-b-${i}`);
    for (const id of before.slice(0, 5)) await get(port, '/items/1', id);
    fs.renameSync(accessLog, `${accessLog}.1`);
    // Until the reopen nginx keeps writing to the renamed file.
    for (const id of before.slice(5)) await get(port, '/items/2', id);
    const r = run(nginx as string, [...nginxArgs, '-s', 'reopen']);
    assert.equal(r.status, 0, r.stderr);
    const deadline = Date.now() + 5000;
    while (!fs.existsSync(accessLog)) {
      assert.ok(Date.now() < deadline, 'nginx did not reopen its log');
      await sleep(20);
    }
    for (const id of afterIds) await get(port, '/items/3', id);
    const counts = await arrived([...before, ...afterIds], 'rot-');
    assert.deepEqual(
      [...counts].filter(([, c]) => c > 1),
      [],
    );
    await waitOutput(agent as Agent, /was rotated; now reading the new file/);
  });

  test('SIGTERM: the agent saves its position, leaves nothing pending and exits 0', async () => {
    await get(port, '/items/9', 'term-1');
    await arrived(['term-1'], 'term-');
    agent?.child.kill('SIGTERM');
    assert.equal(await agent?.exited, 0, agent?.output());
    assert.match(agent?.output() ?? '', /stopped: \d+ events in \d+ batches/);
    const file = path.join(stateDir, fs.readdirSync(stateDir).find((f) => f.endsWith('.json')) as string);
    const state = JSON.parse(fs.readFileSync(file, 'utf8'));
    assert.equal(state.pending, null);
    assert.equal(state.position.ino, fs.statSync(accessLog).ino);
    assert.equal(state.position.offset, fs.statSync(accessLog).size);
  });
});
