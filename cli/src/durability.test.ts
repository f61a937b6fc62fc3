/**
 * "Acknowledged means durable", the hard way: a real `peep up` takes concurrent ingest batches, is
 * killed with SIGKILL in the middle of the load, and is started again on the same database. Every
 * event whose batch was answered 200 must be there; nothing is stored twice.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { openDb } from '@peep/pkg';
import { freePort, openTestDb, testEngines } from '@peep/pkg/testing';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), 'bin.js');

function start(env: Record<string, string>, port: number) {
  let out = '';
  const child: ChildProcess = spawn(process.execPath, [BIN, 'up'], {
    env: { ...process.env, PEEP_PORT: String(port), PEEP_DASHBOARD: 'false', PEEP_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (d) => (out += d));
  child.stderr?.on('data', (d) => (out += d));
  const exited = new Promise<void>((r) => child.on('exit', () => r()));
  return { child, exited, out: () => out, url: `http://127.0.0.1:${port}` };
}

async function ready(url: string, out: () => string) {
  for (let i = 0; i < 600; i++) {
    try {
      if ((await fetch(`${url}/ready`)).status === 200) return;
    } catch {
      // not yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`not ready:\n${out()}`);
}

for (const engine of testEngines()) {
  describe(`ingest survives SIGKILL and flushes on SIGTERM (${engine})`, () => {
    test('every acknowledged event is stored after a kill -9 mid-load and a restart, none twice', () =>
      killMidLoad(engine, 'SIGKILL'));
    test('SIGTERM mid-load: in-flight batches are committed and answered, exit code 0, nothing lost', () =>
      killMidLoad(engine, 'SIGTERM'));
  });
}

async function killMidLoad(engine: 'pglite' | 'postgres', signal: 'SIGKILL' | 'SIGTERM') {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'peep-kill-'));
  const pg = engine === 'postgres' ? await openTestDb('postgres') : null;
  const env: Record<string, string> = {
    PEEP_DATA_DIR: dataDir,
    ...(pg?.url ? { DATABASE_URL: pg.url } : {}),
  };
  try {
    const port = await freePort();
    const a = start(env, port);
    await ready(a.url, a.out);
    // The owner link is printed just after the server listens: wait for the line, not only /ready.
    for (let i = 0; i < 100 && !/setup\?token=/.test(a.out()); i++) await new Promise((r) => setTimeout(r, 50));
    const token = /setup\?token=([A-Za-z0-9_-]+)/.exec(a.out())?.[1];
    assert.ok(token, a.out());
    const setup = await fetch(`${a.url}/api/v1/setup`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        token,
        email: 'o@example.com',
        name: 'O',
        password: 'a long enough password',
      }),
    });
    assert.equal(setup.status, 201);
    const cookie = setup.headers
      .getSetCookie()
      .map((c) => c.split(';')[0])
      .join('; ');
    const { csrfToken } = (await setup.json()) as { csrfToken: string };
    const h = { 'content-type': 'application/json', cookie, 'x-csrf-token': csrfToken };
    const proj = (await (
      await fetch(`${a.url}/api/v1/projects`, { method: 'POST', headers: h, body: '{"name":"Kill"}' })
    ).json()) as { project: { id: string }; environments: { id: string }[] };
    const k = (await (
      await fetch(`${a.url}/api/v1/projects/${proj.project.id}/ingest-keys`, {
        method: 'POST',
        headers: h,
        body: JSON.stringify({ name: 'k', environmentId: proj.environments[0]?.id }),
      })
    ).json()) as { secret: string };

    const acked = new Set<string>();
    let sent = 0;
    let stop = false;
    const worker = async (w: number) => {
      for (let b = 0; !stop; b++) {
        const ids = Array.from({ length: 200 }, (_, i) => `w${w}-b${b}-${i}`);
        const body = JSON.stringify(
          ids.map((requestId) => ({
            service: 'k',
            route: '/',
            method: 'GET',
            status: 200,
            durationMs: 1,
            requestId,
          })),
        );
        sent += ids.length;
        try {
          const res = await fetch(`${a.url}/api/v1/ingest/events`, {
            method: 'POST',
            headers: { authorization: `Bearer ${k.secret}`, 'content-type': 'application/json' },
            body,
          });
          if (res.status === 200) for (const id of ids) acked.add(id);
          else await res.arrayBuffer();
        } catch {
          return; // the server is gone
        }
      }
    };
    const workers = Array.from({ length: 6 }, (_, w) => worker(w));
    await new Promise((r) => setTimeout(r, 1500));
    a.child.kill(signal);
    stop = true;
    await a.exited;
    if (signal === 'SIGTERM') assert.equal(a.child.exitCode, 0, a.out());
    await Promise.all(workers);
    assert.ok(acked.size > 0, 'no batch was acknowledged before the kill');
    console.log(`# ${engine}: ${acked.size} events acknowledged of ${sent} sent before ${signal}`);

    // Restart on the same database: it comes up, and serves what was committed.
    const b = start(env, port);
    await ready(b.url, b.out);
    b.child.kill('SIGTERM');
    await b.exited;

    const db = pg ? pg.db : await openDb({ dataDir });
    try {
      const { rows } = await db.query<{ request_id: string; n: number }>(
        'SELECT request_id, count(*)::int AS n FROM request_events GROUP BY request_id',
      );
      const stored = new Map(rows.map((r) => [r.request_id, r.n]));
      const missing = [...acked].filter((id) => !stored.has(id));
      assert.deepEqual(missing.slice(0, 5), [], `${missing.length} acknowledged events are missing`);
      assert.ok(
        [...stored.values()].every((n) => n === 1),
        'an event was stored twice',
      );
      // Rollups hold exactly what the raw table holds.
      const { rows: r2 } = await db.query<{ n: number }>(
        "SELECT coalesce(sum(count), 0)::int AS n FROM rollups_1m WHERE route = ''",
      );
      assert.equal(r2[0]?.n, rows.length);
    } finally {
      if (!pg) await db.close();
    }
  } finally {
    await pg?.drop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}
