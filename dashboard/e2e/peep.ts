/** Real `peep` processes for the browser suite: the embedded server and CLI commands, read line by line. */
import { type ChildProcess, spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const BIN = path.join(ROOT, 'cli/dist/bin.js');

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      srv.close(() => (typeof a === 'object' && a ? resolve(a.port) : reject(new Error('no free port'))));
    });
  });
}

export interface Proc {
  child: ChildProcess;
  /** stdout and stderr so far. */
  output(): string;
  /** Resolves with the first capture group (or whole match) of `re` once the output contains it. */
  waitFor(re: RegExp, timeoutMs: number): Promise<string>;
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  /** Exit code, or a rejection after `timeoutMs`. */
  exit(timeoutMs: number): Promise<number | null>;
}

export function runPeep(args: string[], env: Record<string, string>): Proc {
  let out = '';
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    env: { ...process.env, NO_COLOR: '1', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (d) => {
    out += d;
  });
  child.stderr?.on('data', (d) => {
    out += d;
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const desc = `peep ${args.join(' ')}`;
  return {
    child,
    output: () => out,
    exited,
    async waitFor(re, timeoutMs) {
      const t0 = Date.now();
      for (;;) {
        const m = re.exec(out);
        if (m) return m[1] ?? m[0];
        if (child.exitCode !== null)
          throw new Error(`${desc} exited ${child.exitCode} before printing ${re}:\n${out}`);
        if (Date.now() - t0 > timeoutMs)
          throw new Error(`${desc} did not print ${re} within ${timeoutMs} ms:\n${out}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async exit(timeoutMs) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`${desc} still running after ${timeoutMs} ms:\n${out}`)),
          timeoutMs,
        );
      });
      try {
        return await Promise.race([exited, timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

export async function waitReady(server: Proc, url: string, timeoutMs: number): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    if (server.child.exitCode !== null)
      throw new Error(`peep up exited ${server.child.exitCode}:\n${server.output()}`);
    try {
      if ((await fetch(`${url}/ready`)).status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() - t0 > timeoutMs)
      throw new Error(`peep up not ready after ${timeoutMs} ms:\n${server.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
