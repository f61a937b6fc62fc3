/**
 * `peep up` as a user runs it: a real process on a free port with its own data directory.
 * (The dashboard is covered by the browser suite; here PEEP_DASHBOARD=false keeps starts short.)
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort } from '@peep/pkg/testing';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), 'bin.js');

interface Running {
  child: ChildProcess;
  out: () => string;
  exited: Promise<number | null>;
  url: string;
}

function startUp(dataDir: string, port: number, extraEnv: Record<string, string> = {}): Running {
  let out = '';
  const child = spawn(process.execPath, [BIN, 'up'], {
    env: {
      ...process.env,
      PEEP_PORT: String(port),
      PEEP_DATA_DIR: dataDir,
      PEEP_DASHBOARD: 'false',
      PEEP_LOG_LEVEL: 'warn',
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (d) => (out += d));
  child.stderr?.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, out: () => out, exited, url: `http://127.0.0.1:${port}` };
}

async function waitReady(r: Running, timeoutMs = 30_000): Promise<number> {
  const t0 = performance.now();
  while (performance.now() - t0 < timeoutMs) {
    if (r.child.exitCode !== null) throw new Error(`peep up exited ${r.child.exitCode}:\n${r.out()}`);
    try {
      if ((await fetch(`${r.url}/ready`)).status === 200) return performance.now() - t0;
    } catch {
      // not listening yet
    }
    await new Promise((res) => setTimeout(res, 20));
  }
  throw new Error(`not ready after ${timeoutMs} ms:\n${r.out()}`);
}

describe('peep up', () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'peep-up-'));
  const procs: Running[] = [];
  after(() => {
    for (const p of procs) p.child.kill('SIGKILL');
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  test('first start prints a one-time owner link; a second peep on the same data directory is refused', async () => {
    const port = await freePort();
    const a = startUp(dataDir, port);
    procs.push(a);
    const ms = await waitReady(a, 60_000);
    console.log(`# cold start to ready (new data directory, no dashboard): ${Math.round(ms)} ms`);
    const link = /(http:\/\/\S+\/setup\?token=([A-Za-z0-9_-]+))/.exec(a.out());
    assert.ok(link, `no setup link in:\n${a.out()}`);
    const b = startUp(dataDir, await freePort());
    assert.equal(await b.exited, 1);
    assert.match(b.out(), /another peep \(pid \d+\) is already running on the data directory/);

    // Use the link, so the next start finds an owner.
    const res = await fetch(`${a.url}/api/v1/setup`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        token: link[2],
        email: 'me@example.com',
        name: 'Me',
        password: 'a long enough password',
      }),
    });
    assert.equal(res.status, 201);

    // SIGTERM while a request is in flight (its body still arriving): it is answered, then peep exits 0.
    const body = JSON.stringify({ email: 'me@example.com', password: 'a long enough password' });
    const answered = new Promise<number>((resolve, reject) => {
      const req = http.request(`${a.url}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      });
      req.on('response', (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.write(body.slice(0, 10));
      setTimeout(() => {
        a.child.kill('SIGTERM');
        setTimeout(() => req.end(body.slice(10)), 300);
      }, 200);
    });
    assert.equal(await answered, 200);
    assert.equal(await a.exited, 0);
    assert.equal(fs.existsSync(path.join(dataDir, 'peep.lock')), false, 'lock released');
  });

  test('warm start is fast, data survived, and no new owner link is printed', async () => {
    const port = await freePort();
    const a = startUp(dataDir, port);
    procs.push(a);
    const ms = await waitReady(a);
    console.log(`# warm start to ready (no dashboard): ${Math.round(ms)} ms`);
    assert.ok(ms < 5000, `warm start took ${ms} ms`);
    assert.deepEqual(await (await fetch(`${a.url}/api/v1/setup`)).json(), { needsSetup: false });
    assert.doesNotMatch(a.out(), /setup\?token=/);
    a.child.kill('SIGINT');
    assert.equal(await a.exited, 0);
  });

  test('a bad configuration value stops with a message naming the variable', async () => {
    const r = startUp(dataDir, 1, { PEEP_PORT: 'seventy' });
    assert.equal(await r.exited, 2);
    assert.match(r.out(), /invalid configuration: PEEP_PORT: must be a whole number, got "seventy"/);
  });
});
