/**
 * For the CLI's tests: runs the built `peep` as a real process with its own HOME and config directory,
 * and none of the caller's PEEP_* variables.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const BIN = path.join(path.dirname(fileURLToPath(import.meta.url)), 'bin.js');

/** Lower-case-free alphabet of the API's user codes: `BCDF-GHJK`. */
export const USER_CODE = /\b([BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4})\b/;

/** A fresh HOME with XDG_CONFIG_HOME inside it; removed by `cleanup`. */
export function tempHome(): { home: string; env: Record<string, string>; cleanup(): void } {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'peep-cli-test-'));
  return {
    home,
    env: { HOME: home, XDG_CONFIG_HOME: path.join(home, '.config') },
    cleanup: () => fs.rmSync(home, { recursive: true, force: true }),
  };
}

function baseEnv(extra: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env))
    if (!k.startsWith('PEEP_') && k !== 'NO_COLOR' && k !== 'FORCE_COLOR' && k !== 'XDG_CONFIG_HOME')
      env[k] = v;
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) env[k] = v;
  return env;
}

export interface Peep {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the first capture group of `re` once stdout or stderr contains it. */
  waitFor(re: RegExp, timeoutMs?: number): Promise<string>;
  /** The exit code; rejects if the process is still running after `timeoutMs`. */
  exit(timeoutMs?: number): Promise<number | null>;
}

export function startPeep(args: string[], env: Record<string, string | undefined> = {}): Peep {
  let out = '';
  let err = '';
  const child = spawn(process.execPath, [BIN, ...args], {
    env: baseEnv(env),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  child.stdin?.end();
  child.stdout?.on('data', (d) => {
    out += d;
  });
  child.stderr?.on('data', (d) => {
    err += d;
  });
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const desc = `peep ${args.join(' ')}`;
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    async waitFor(re, timeoutMs = 20_000) {
      const t0 = Date.now();
      for (;;) {
        const m = re.exec(out) ?? re.exec(err);
        if (m) return m[1] ?? m[0];
        if (child.exitCode !== null)
          throw new Error(`${desc} exited ${child.exitCode} before ${re}:\n${out}${err}`);
        if (Date.now() - t0 > timeoutMs)
          throw new Error(`${desc}: no ${re} within ${timeoutMs} ms:\n${out}${err}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    async exit(timeoutMs = 30_000) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          child.kill('SIGKILL');
          reject(new Error(`${desc} still running after ${timeoutMs} ms:\n${out}${err}`));
        }, timeoutMs);
      });
      try {
        return await Promise.race([exited, timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

export interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `peep args` to completion. */
export async function peep(args: string[], env: Record<string, string | undefined> = {}): Promise<Ran> {
  const p = startPeep(args, env);
  const code = await p.exit();
  return { code, stdout: p.stdout(), stderr: p.stderr() };
}
