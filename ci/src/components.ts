/**
 * Finding the real programs the ci/ suites drive (kubectl, nginx). Outside CI a missing one skips its
 * test with a printed reason; under CI=true (where .ci/run installs them) it fails the test.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (ci/dist/*.js -> ../..). */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The absolute path of `name` on PATH (or in the sbin folders, where Debian puts nginx), else null. */
export function which(name: string): string | null {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), '/usr/sbin', '/sbin'];
  for (const d of dirs) {
    if (!d) continue;
    const p = path.join(d, name);
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
 * Returns the program's path, or null after printing why the caller skips. Under CI=true a missing
 * program throws, so the suite fails instead of passing without having checked anything.
 */
export function requireProgram(name: string, why: string, requiredInCi = true): string | null {
  const p = which(name);
  if (p) return p;
  const msg = `${name} not found on PATH: ${why}`;
  if (requiredInCi && process.env.CI === 'true') throw new Error(`${msg} (CI=true: .ci/run installs it)`);
  console.log(`# ${msg}; skipped`);
  return null;
}

export function run(cmd: string, args: string[], opts: { cwd?: string; input?: string } = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 60_000, ...opts });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '', error: r.error };
}
