#!/usr/bin/env node
// Reading a 500-variable environment (issue 5: "time to read a 500-variable environment with
// references resolved, target under 20 ms on PostgreSQL"). One environment holds 500 variables:
// half secret, 50 of them with references (40 within the environment, 10 into another one). Then,
// over real HTTP, one request at a time after 20 warm-up requests, p50/p99 of:
//
//   GET vars            GET /envs/dev/vars (the list: values opened, secrets masked)
//   GET vars resolved   GET /envs/dev/vars?resolve=true
//   POST export         POST /envs/dev/export {} (references resolved, secrets included: `peep run`)
//
// Every request is authenticated, checked against the policy and (export) audited, as in production.
//
//   node bench/env-read.mjs                                  # PGlite
//   node bench/env-read.mjs --pg postgres://u:p@host/db      # PGlite, then PostgreSQL (needs CREATEDB)
//   node bench/env-read.mjs --runs 200 --vars 500 --json
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values: opts } = parseArgs({
  options: {
    pg: { type: 'string' },
    runs: { type: 'string', default: '200' },
    vars: { type: 'string', default: '500' },
    json: { type: 'boolean', default: false },
  },
});
const runs = Number(opts.runs);
const total = Number(opts.vars);
const { startTestServer, createOwner, call } = await import(path.join(root, 'api/dist/testing.js'));

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};

async function measure(engine) {
  const server = await startTestServer({ engine, config: { logLevel: 'warn' } });
  try {
    const owner = await createOwner(server);
    const p = await call(server, owner, 'POST', '/api/v1/projects', { name: 'env read' });
    const base = `/api/v1/projects/${p.body.project.id}/envs`;
    const put = async (env, set) => {
      const v = await call(server, owner, 'GET', `${base}/${env}/vars`);
      const r = await call(server, owner, 'PUT', `${base}/${env}/vars`, {
        baseVersion: v.body.version,
        message: 'bench',
        set,
      });
      if (r.status !== 200)
        throw new Error(`PUT ${env}: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
    };
    await put(
      'staging',
      Array.from({ length: 10 }, (_, i) => ({ key: `SHARED_${i}`, value: `staging-${i}-${'s'.repeat(30)}` })),
    );
    const set = Array.from({ length: total }, (_, i) => {
      const key = `VAR_${String(i).padStart(4, '0')}`;
      const secret = i % 2 === 0;
      let value = `value-${i}-${'x'.repeat(20 + (i % 7) * 25)}`;
      if (i >= total - 50) {
        const j = i - (total - 50);
        value =
          j < 40
            ? `https://\${VAR_${String(j * 3 + 1).padStart(4, '0')}}:\${VAR_${String(j * 3 + 2).padStart(4, '0')}}/x`
            : `\${staging.SHARED_${j - 40}}`;
      }
      return { key, value, secret };
    });
    await put('dev', set);

    const routes = {
      'GET vars': () => call(server, owner, 'GET', `${base}/dev/vars`),
      'GET vars resolved': () => call(server, owner, 'GET', `${base}/dev/vars?resolve=true`),
      'POST export': () => call(server, owner, 'POST', `${base}/dev/export`, {}),
    };
    const out = {};
    for (const [name, fn] of Object.entries(routes)) {
      for (let i = 0; i < 20; i++) {
        const r = await fn();
        if (r.status !== 200) throw new Error(`${name}: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
      }
      const ms = [];
      for (let i = 0; i < runs; i++) {
        const t0 = performance.now();
        const r = await fn();
        ms.push(performance.now() - t0);
        if (r.status !== 200) throw new Error(`${name}: ${r.status}`);
      }
      out[name] = { p50: pct(ms, 50), p99: pct(ms, 99) };
    }
    const check = await routes['POST export']();
    if (Object.keys(check.body.values).length !== total)
      throw new Error('export did not return every variable');
    return out;
  } finally {
    await server.close();
  }
}

const results = { pglite: await measure('pglite') };
if (opts.pg) {
  process.env.PEEP_TEST_DATABASE_URL = opts.pg;
  results.postgres = await measure('postgres');
}
if (opts.json) console.log(JSON.stringify({ vars: total, runs, results }, null, 2));
else {
  console.log(
    `${total} variables (half secret, 50 with references), ${runs} runs each, one at a time over HTTP`,
  );
  for (const [engine, r] of Object.entries(results))
    for (const [name, { p50, p99 }] of Object.entries(r))
      console.log(
        `${engine.padEnd(8)} ${name.padEnd(18)} p50 ${p50.toFixed(2)} ms  p99 ${p99.toFixed(2)} ms`,
      );
}
