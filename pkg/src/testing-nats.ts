/**
 * Real NATS servers for tests: Debian's nats-server (/usr/sbin/nats-server or on PATH) started on a
 * free loopback port, or the one CI already runs (PEEP_TEST_NATS_URL). Outside CI a missing server
 * skips the suite with a printed reason; under CI=true it fails, as for PostgreSQL.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './testing.js';

export function natsServerPath(): string | null {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), '/usr/sbin', '/usr/local/sbin', '/sbin'];
  for (const d of dirs) {
    if (!d) continue;
    const p = path.join(d, 'nats-server');
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return null;
}

/**
 * Whether the NATS suites can run: the binary (to start and restart our own servers) or at least
 * PEEP_TEST_NATS_URL. Returns a skip reason, or null when they can. Under CI=true a missing one throws.
 */
export function natsMissing(opts: { needBinary?: boolean } = {}): string | null {
  const haveBinary = natsServerPath() !== null;
  const ok = haveBinary || (!opts.needBinary && Boolean(process.env.PEEP_TEST_NATS_URL));
  if (ok) return null;
  const why = opts.needBinary
    ? 'nats-server not found (install Debian nats-server)'
    : 'nats-server not found and PEEP_TEST_NATS_URL not set';
  if (process.env.CI === 'true') throw new Error(`CI=true but ${why}: the NATS suites cannot run`);
  console.log(`# ${why}: NATS suites skipped`);
  return why;
}

async function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('data', () => {
      s.destroy();
      resolve(true); // the server's INFO line
    });
    s.once('error', () => resolve(false));
    s.setTimeout(1_000, () => {
      s.destroy();
      resolve(false);
    });
  });
}

export interface TestNats {
  url: string;
  port: number;
  /** Kills the server (SIGKILL when `hard`) and waits until the process is gone. */
  stop(opts?: { hard?: boolean }): Promise<void>;
  /** Starts it again on the same port. */
  start(): Promise<void>;
}

/** A nats-server of our own on a free loopback port (requires the binary); `args` are added (auth). */
export async function startNatsServer(opts: { args?: string[] } = {}): Promise<TestNats> {
  const bin = natsServerPath();
  if (!bin) throw new Error('nats-server not found');
  const port = await freePort();
  let child: ChildProcess | null = null;
  let output = '';
  const start = async () => {
    output = '';
    const c = spawn(bin, ['-a', '127.0.0.1', '-p', String(port), ...(opts.args ?? [])], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = c;
    c.stdout?.on('data', (b: Buffer) => {
      output += b.toString();
    });
    c.stderr?.on('data', (b: Buffer) => {
      output += b.toString();
    });
    for (let i = 0; i < 100; i++) {
      if (c.exitCode !== null) break;
      if (await accepts(port)) return;
      await sleep(50);
    }
    c.kill('SIGKILL');
    throw new Error(`nats-server did not start on 127.0.0.1:${port}:\n${output.slice(-2000)}`);
  };
  const stop = async (opts: { hard?: boolean } = {}) => {
    const c = child;
    child = null;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise<void>((r) => c.once('exit', () => r()));
    c.kill(opts.hard ? 'SIGKILL' : 'SIGTERM');
    await exited;
  };
  await start();
  return { url: `nats://127.0.0.1:${port}`, port, stop, start };
}

/**
 * The NATS server a suite uses: PEEP_TEST_NATS_URL when set (CI), else one of our own. `stop()` stops
 * only a server this function started.
 */
export async function testNatsUrl(): Promise<{ url: string; stop(): Promise<void> }> {
  const shared = process.env.PEEP_TEST_NATS_URL;
  if (shared) return { url: shared, stop: async () => {} };
  const s = await startNatsServer();
  return { url: s.url, stop: () => s.stop() };
}
