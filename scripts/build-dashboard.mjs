#!/usr/bin/env node
// Builds the Next.js dashboard when no build exists or its sources changed since the last build.
// Used by `npm test` and by `peep up` (which shows the progress on first start).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const dashboard = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../dashboard');
const buildId = path.join(dashboard, '.next', 'BUILD_ID');
const SOURCES = [
  'app',
  'components',
  'lib',
  'public',
  'next.config.ts',
  'next.config.mjs',
  'package.json',
  'tsconfig.json',
];

function newest(p) {
  if (!fs.existsSync(p)) return 0;
  const st = fs.statSync(p);
  if (!st.isDirectory()) return st.mtimeMs;
  let m = st.mtimeMs;
  for (const e of fs.readdirSync(p)) m = Math.max(m, newest(path.join(p, e)));
  return m;
}

export function dashboardBuildIsFresh() {
  if (!fs.existsSync(buildId)) return false;
  const built = fs.statSync(buildId).mtimeMs;
  return SOURCES.every((s) => newest(path.join(dashboard, s)) <= built);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (dashboardBuildIsFresh() && !process.argv.includes('--force')) {
    console.log('> dashboard build is up to date');
  } else {
    console.log('> building the dashboard (next build); the first time takes a minute or two');
    const next = path.join(dashboard, 'node_modules/next/dist/bin/next');
    const bin = fs.existsSync(next) ? next : path.resolve(dashboard, '../node_modules/next/dist/bin/next');
    const r = spawnSync(process.execPath, [bin, 'build'], {
      cwd: dashboard,
      stdio: 'inherit',
      env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1' },
    });
    process.exit(r.status ?? 1);
  }
}
