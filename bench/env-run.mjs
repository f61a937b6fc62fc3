#!/usr/bin/env node
// `peep run -- true` end to end (issue 5: target under 500 ms): a real API on loopback (PGlite, or
// PostgreSQL with --pg) whose dev environment holds N variables (half secret, 20 with references,
// one multi-line), and the real CLI as a child process, timed from spawn to exit:
// node start, credentials, the audited export with references resolved, spawning `true`, its exit.
// A second row runs `node -e 0` alone: the floor set by Node's own start.
//
//   node bench/env-run.mjs [--runs 20] [--vars 100] [--pg postgres://u:p@host/db]
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values: opts } = parseArgs({
  options: {
    runs: { type: 'string', default: '20' },
    vars: { type: 'string', default: '100' },
    pg: { type: 'string' },
  },
});
const runs = Number(opts.runs);
const total = Number(opts.vars);
if (opts.pg) process.env.PEEP_TEST_DATABASE_URL = opts.pg;
const { startTestServer, createOwner, call } = await import(path.join(root, 'api/dist/testing.js'));

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};
const time = (cmd, args, env) =>
  new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => {
      err += d;
    });
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(performance.now() - t0) : reject(new Error(`exit ${code}: ${err}`)),
    );
  });

const server = await startTestServer({
  engine: opts.pg ? 'postgres' : 'pglite',
  config: { logLevel: 'warn' },
});
const home = fs.mkdtempSync(path.join(os.tmpdir(), 'peep-env-run-'));
try {
  const owner = await createOwner(server);
  const p = await call(server, owner, 'POST', '/api/v1/projects', { name: 'run bench' });
  const projectId = p.body.project.id;
  const set = Array.from({ length: total }, (_, i) => ({
    key: `VAR_${i}`,
    value: i < 20 && i > 0 ? `\${VAR_${i - 1}}/${i}` : `value-${i}-${'x'.repeat(40)}`,
    secret: i % 2 === 0,
  }));
  set.push({ key: 'PEM', value: '-----BEGIN KEY-----\nabc\n-----END KEY-----\n', secret: true });
  const put = await call(server, owner, 'PUT', `/api/v1/projects/${projectId}/envs/dev/vars`, {
    baseVersion: 0,
    message: 'bench',
    set,
  });
  if (put.status !== 200) throw new Error(`PUT: ${put.status} ${JSON.stringify(put.body)}`);
  const tok = await call(server, owner, 'POST', '/api/v1/tokens', {
    name: 'bench',
    scopes: ['read', 'write'],
  });
  const env = {
    PATH: process.env.PATH ?? '',
    HOME: home,
    XDG_CONFIG_HOME: home,
    PEEP_TOKEN: tok.body.secret,
    PEEP_SERVER: server.url,
    PEEP_PROJECT: projectId,
  };
  const bin = path.join(root, 'cli/dist/bin.js');
  const args = [bin, 'run', '--env', 'dev', '--', 'true'];
  for (let i = 0; i < 3; i++) await time(process.execPath, args, env);
  const run = [];
  const bare = [];
  for (let i = 0; i < runs; i++) {
    run.push(await time(process.execPath, args, env));
    bare.push(await time(process.execPath, ['-e', '0'], env));
  }
  console.log(
    `peep run --env dev -- true, ${total + 1} variables (half secret, references, a multi-line PEM), ${runs} runs, ${server.engine}`,
  );
  console.log(
    `  peep run     p50 ${pct(run, 50).toFixed(0)} ms  p99 ${pct(run, 99).toFixed(0)} ms  (target < 500 ms)`,
  );
  console.log(
    `  node -e 0    p50 ${pct(bare, 50).toFixed(0)} ms  p99 ${pct(bare, 99).toFixed(0)} ms  (Node's start alone)`,
  );
} finally {
  await server.close();
  fs.rmSync(home, { recursive: true, force: true });
}
