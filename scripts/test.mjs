#!/usr/bin/env node
// `npm test`: typecheck and build, build the dashboard when its build is missing or stale, then run every
// compiled *.test.js with Node's test runner. Suites that need a real component (PostgreSQL, Chromium,
// promtool, ...) skip with a printed reason outside CI and fail under CI=true when it is missing.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const run = (cmd, args, opts = {}) => {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', ...opts });
  if (r.status !== 0) process.exit(r.status ?? 1);
};

console.log('> typecheck and build (tsc -b)');
run(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-b', 'tsconfig.build.json']);
run(process.execPath, [
  path.join(root, 'node_modules/typescript/bin/tsc'),
  '-p',
  'dashboard/tsconfig.json',
  '--noEmit',
]);

run(process.execPath, [path.join(root, 'scripts/build-dashboard.mjs')]);

function find(dir, out = []) {
  if (!fs.existsSync(dir)) return out;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name !== 'node_modules') find(p, out);
    } else if (e.name.endsWith('.test.js')) out.push(p);
  }
  return out;
}
const only = process.argv.slice(2);
let files = ['pkg', 'api', 'builder', 'sdk', 'cli', 'dashboard/e2e', 'ci'].flatMap((w) =>
  find(path.join(root, w, 'dist')),
);
if (only.length) files = files.filter((f) => only.some((o) => f.includes(o)));
files.sort();
console.log(`> node --test (${files.length} files)`);
run(process.execPath, [
  '--test',
  '--test-concurrency=1',
  '--test-reporter=spec',
  ...files.map((f) => path.relative(root, f)),
]);
