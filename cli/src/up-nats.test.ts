/**
 * `peep up` with PEEP_NATS_URL: the process joins a real nats-server (password-protected, the password
 * never in its output), carries its bus over it, and still shuts down cleanly on SIGTERM.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { createLogger } from '@peep/pkg';
import { createNatsBus } from '@peep/pkg/bus-nats';
import { freePort } from '@peep/pkg/testing';
import { natsMissing, startNatsServer } from '@peep/pkg/testing-nats';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), 'bin.js');
const skip = natsMissing({ needBinary: true }) ?? false;

describe('peep up with NATS', { skip }, () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'peep-up-nats-'));
  after(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  test('connects its bus to PEEP_NATS_URL, never prints the password, and stops cleanly', async () => {
    const password = `pw${Math.random().toString(36).slice(2)}`;
    const nats = await startNatsServer({ args: ['--user', 'peep', '--pass', password] });
    const natsUrl = `nats://peep:${password}@127.0.0.1:${nats.port}`;
    const port = await freePort();
    let out = '';
    const child = spawn(process.execPath, [BIN, 'up'], {
      env: {
        ...process.env,
        PEEP_PORT: String(port),
        PEEP_DATA_DIR: dataDir,
        PEEP_DASHBOARD: 'false',
        PEEP_LOG_LEVEL: 'info',
        PEEP_NATS_URL: natsUrl,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.on('data', (d) => (out += d));
    child.stderr?.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    // Another NATS client sees what the process publishes: a session ended there goes out as auth.revoked.
    const watcher = createNatsBus({ url: natsUrl, log: createLogger({ level: 'silent' }) });
    try {
      const deadline = Date.now() + 30_000;
      while (!/setup\?token=\S+\n/.test(out)) {
        if (child.exitCode !== null) throw new Error(`peep up exited ${child.exitCode}:\n${out}`);
        if (Date.now() > deadline) throw new Error(`not ready:\n${out}`);
        await sleep(50);
      }
      assert.match(out, /NATS connected/);
      assert.match(
        out,
        new RegExp(`nats://127\\.0\\.0\\.1:${nats.port}`),
        'the server is named, without credentials',
      );

      const revoked: unknown[] = [];
      watcher.subscribe('auth.revoked', ({ data }) => revoked.push(data));
      await watcher.flush();
      const link = /setup\?token=(\S+)/.exec(out)?.[1];
      assert.ok(link, `the one-time setup link is printed:\n${out}`);
      const setup = await fetch(`http://127.0.0.1:${port}/api/v1/setup`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          token: link,
          email: 'owner@example.com',
          name: 'Olive',
          password: 'correct horse battery staple',
        }),
      });
      assert.equal(setup.status, 201);
      const { csrfToken } = (await setup.json()) as { csrfToken: string };
      const cookie = setup.headers
        .getSetCookie()
        .map((c) => c.split(';')[0])
        .join('; ');
      const logout = await fetch(`http://127.0.0.1:${port}/api/v1/auth/logout`, {
        method: 'POST',
        headers: { cookie, 'x-csrf-token': csrfToken },
      });
      assert.ok(logout.status < 300, `logout answered ${logout.status}`);
      const until = Date.now() + 5_000;
      while (revoked.length === 0 && Date.now() < until) await sleep(20);
      assert.equal(revoked.length, 1, 'the revocation crossed NATS');
      assert.ok((revoked[0] as { sessionId?: string }).sessionId);

      child.kill('SIGTERM');
      assert.equal(await exited, 0, out);
      assert.ok(!out.includes(password), 'the NATS password never appears in the output');
    } finally {
      child.kill('SIGKILL');
      await watcher.close();
      await nats.stop();
    }
  });
});
