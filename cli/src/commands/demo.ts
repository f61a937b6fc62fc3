/**
 * `peep demo`: a small shop API instrumented with @peep/sdk on a free loopback port, and a traffic
 * generator in front of it, so a newcomer sees live charts, errors, slow routes and logs in the
 * Runtime tab within a minute of `npm start`.
 *
 * The ingest key is `--key`, else one made with the CLI's login: project "demo" (created when
 * missing), its first environment, and a key whose secret is kept in the CLI's config directory
 * (`demo-keys.json`, 0600) so later runs reuse it while it is not revoked.
 *
 * Traffic: Poisson arrivals at `--rps`, with a burst of 4x for 6-10 s every 25-45 s; a mix of a fast
 * list, item lookups (some 404), a search with a long latency tail, orders that fail now and then,
 * slow reports, health checks and stale links. Ctrl-C (or `--duration`) stops it and flushes.
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { CreateIngestKeyResponse, IngestKeyList, ProjectDetail, Static } from '@peep/pkg/schemas';
import { createPeep, type Peep } from '@peep/sdk';
import { type ApiClient, unreachable } from '../client.js';
import type { Context } from '../context.js';
import { configDir } from '../credentials.js';
import { CliError, EXIT } from '../errors.js';

export interface DemoOptions {
  key?: string;
  rps?: number;
  /** Seconds; absent: until Ctrl-C. */
  duration?: number;
}

const SERVICE = 'demo-shop';
const PROJECT_SLUG = 'demo';

// ---- the ingest key

interface StoredKeys {
  version: 1;
  keys: Record<string, { keyId: string; secret: string }>;
}

function keysFile(env: NodeJS.ProcessEnv): string {
  return path.join(configDir(env), 'demo-keys.json');
}

function readKeys(env: NodeJS.ProcessEnv): StoredKeys {
  try {
    const data = JSON.parse(fs.readFileSync(keysFile(env), 'utf8')) as StoredKeys;
    if (data.version === 1 && typeof data.keys === 'object') return data;
  } catch {
    // missing or unreadable: start over (a new key is made)
  }
  return { version: 1, keys: {} };
}

function writeKeys(env: NodeJS.ProcessEnv, data: StoredKeys): void {
  const dir = configDir(env);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = keysFile(env);
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify(data, null, 2)}\n`, { mode: 0o600 });
  fs.chmodSync(tmp, 0o600);
  fs.renameSync(tmp, file);
}

interface DemoTarget {
  key: string;
  project?: { id: string; slug: string; environment: string; keyCreated: boolean; projectCreated: boolean };
}

type Detail = Static<typeof ProjectDetail>;

/** Project "demo", its first environment, and an ingest key for it (reused when still active). */
async function demoKey(ctx: Context, api: ApiClient): Promise<DemoTarget> {
  const { projects } = await api.get<{ projects: { id: string; slug: string }[] }>('/api/v1/projects');
  let detail: Detail;
  let projectCreated = false;
  const found = projects.find((p) => p.slug === PROJECT_SLUG);
  if (found) detail = await api.get<Detail>(`/api/v1/projects/${found.id}`);
  else {
    detail = await api.post<Detail>('/api/v1/projects', { name: 'Demo', slug: PROJECT_SLUG });
    projectCreated = true;
  }
  const env = [...detail.environments].sort((a, b) => a.position - b.position)[0];
  if (!env)
    throw new CliError(
      EXIT.failure,
      'no_environment',
      `project "${PROJECT_SLUG}" has no environment to send to`,
      {
        hint: `add one in the dashboard, or pass --key with an ingest key of your own`,
      },
    );
  const id = detail.project.id;
  const slot = `${ctx.server} ${id} ${env.id}`;
  const stored = readKeys(ctx.env);
  const mine = stored.keys[slot];
  if (mine) {
    const { ingestKeys } = await api.get<Static<typeof IngestKeyList>>(`/api/v1/projects/${id}/ingest-keys`);
    if (ingestKeys.some((k) => k.id === mine.keyId && !k.revokedAt))
      return {
        key: mine.secret,
        project: { id, slug: detail.project.slug, environment: env.slug, keyCreated: false, projectCreated },
      };
  }
  const made = await api.post<Static<typeof CreateIngestKeyResponse>>(`/api/v1/projects/${id}/ingest-keys`, {
    name: 'peep demo',
    environmentId: env.id,
  });
  stored.keys[slot] = { keyId: made.ingestKey.id, secret: made.secret };
  writeKeys(ctx.env, stored);
  return {
    key: made.secret,
    project: { id, slug: detail.project.slug, environment: env.slug, keyCreated: true, projectCreated },
  };
}

// ---- the sample app

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Log-normal delay: median `median` ms, spread `sigma`, at most `max` ms (a long right tail). */
function lognormal(median: number, sigma: number, max: number): number {
  const u = 1 - Math.random();
  const v = Math.random();
  const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  return Math.min(max, median * Math.exp(sigma * z));
}

interface Route {
  method: string;
  template: string;
  re: RegExp;
  handle(peep: Peep, m: RegExpExecArray, req: http.IncomingMessage, res: http.ServerResponse): Promise<void>;
}

function json(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function readBody(req: http.IncomingMessage): Promise<string> {
  let s = '';
  for await (const c of req) s += c;
  return s;
}

const ROUTES: Route[] = [
  {
    method: 'GET',
    template: '/api/products',
    re: /^\/api\/products$/,
    async handle(_p, _m, _req, res) {
      await sleep(lognormal(4, 0.4, 50));
      json(res, 200, {
        products: Array.from({ length: 20 }, (_, i) => ({ id: i + 1, name: `Product ${i + 1}` })),
      });
    },
  },
  {
    method: 'GET',
    template: '/api/products/:id',
    re: /^\/api\/products\/(\d+)$/,
    async handle(peep, m, _req, res) {
      const id = Number(m[1]);
      peep.logger.debug('cache lookup', { productId: id, hit: Math.random() < 0.8 });
      await sleep(lognormal(8, 0.5, 120));
      if (id > 900) {
        peep.logger.warn('product not found', { productId: id });
        return json(res, 404, { error: 'not found' });
      }
      json(res, 200, { id, name: `Product ${id}`, price: (id % 50) + 0.99 });
    },
  },
  {
    method: 'GET',
    template: '/api/search',
    re: /^\/api\/search$/,
    async handle(peep, _m, req, res) {
      const q = new URL(req.url ?? '/', 'http://x').searchParams.get('q') ?? '';
      const ms = lognormal(60, 0.9, 4_000);
      await sleep(ms);
      if (ms > 400) peep.logger.warn('slow search', { q, ms: Math.round(ms) });
      json(res, 200, { q, results: Math.floor(Math.random() * 40) });
    },
  },
  {
    method: 'POST',
    template: '/api/orders',
    re: /^\/api\/orders$/,
    async handle(peep, _m, req, res) {
      const order = JSON.parse((await readBody(req)) || '{}') as { items?: number };
      await sleep(lognormal(120, 0.5, 2_000));
      const orderId = Math.floor(Math.random() * 1e6);
      if (Math.random() < 0.06) {
        peep.logger.error(new Error('payment provider timed out'), { orderId, provider: 'acmepay' });
        return json(res, 500, { error: 'payment failed' });
      }
      peep.logger.info('order placed', {
        orderId,
        items: order.items ?? 1,
        amount: 19.99 * (order.items ?? 1),
      });
      json(res, 201, { orderId });
    },
  },
  {
    method: 'GET',
    template: '/api/reports/:id',
    re: /^\/api\/reports\/(\d+)$/,
    async handle(peep, m, _req, res) {
      const ms = 300 + Math.random() * 1_200;
      await sleep(ms);
      peep.logger.info('report generated', { reportId: Number(m[1]), ms: Math.round(ms) });
      json(res, 200, { reportId: Number(m[1]), rows: 1_000 });
    },
  },
  {
    method: 'GET',
    template: '/health',
    re: /^\/health$/,
    async handle(_p, _m, _req, res) {
      json(res, 200, { ok: true });
    },
  },
];

function match(req: http.IncomingMessage): { route: Route; m: RegExpExecArray } | undefined {
  const p = (req.url ?? '/').split('?')[0] ?? '/';
  for (const route of ROUTES) {
    if (route.method !== req.method) continue;
    const m = route.re.exec(p);
    if (m) return { route, m };
  }
  return undefined;
}

async function startApp(peep: Peep): Promise<{ server: http.Server; url: string }> {
  const listener = peep.http(
    (req, res) => {
      const found = match(req);
      if (!found) {
        peep.logger.info('no route', { path: req.url ?? '' });
        return json(res, 404, { error: 'not found' });
      }
      found.route.handle(peep, found.m, req, res).catch((e: Error) => {
        peep.logger.fatal(e);
        if (!res.headersSent) json(res, 500, { error: 'internal' });
      });
    },
    { route: (req) => match(req)?.route.template },
  );
  const server = http.createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

// ---- the traffic

const MIX: { weight: number; make(): { method: string; path: string; body?: string } }[] = [
  { weight: 30, make: () => ({ method: 'GET', path: '/api/products' }) },
  {
    weight: 28,
    make: () => ({
      method: 'GET',
      path: `/api/products/${1 + Math.floor(Math.random() * (Math.random() < 0.05 ? 999 : 120))}`,
    }),
  },
  {
    weight: 14,
    make: () => ({
      method: 'GET',
      path: `/api/search?q=${['shoes', 'hat', 'lamp', 'desk'][Math.floor(Math.random() * 4)]}`,
    }),
  },
  {
    weight: 10,
    make: () => ({
      method: 'POST',
      path: '/api/orders',
      body: JSON.stringify({ items: 1 + Math.floor(Math.random() * 4) }),
    }),
  },
  { weight: 3, make: () => ({ method: 'GET', path: `/api/reports/${1 + Math.floor(Math.random() * 30)}` }) },
  { weight: 10, make: () => ({ method: 'GET', path: '/health' }) },
  { weight: 5, make: () => ({ method: 'GET', path: `/old/catalog/${Math.floor(Math.random() * 50)}` }) },
];
const TOTAL = MIX.reduce((a, x) => a + x.weight, 0);

function pick(): { method: string; path: string; body?: string } {
  let r = Math.random() * TOTAL;
  for (const x of MIX) {
    r -= x.weight;
    if (r < 0) return x.make();
  }
  return MIX[0]?.make() ?? { method: 'GET', path: '/health' };
}

interface Counts {
  sent: number;
  byClass: Record<string, number>;
  failed: number;
}

/** Poisson arrivals at `rps`, 4x during bursts; at most 256 requests in flight. */
function startTraffic(url: string, rps: number, counts: Counts): { stop(): Promise<void> } {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const inFlight = new Set<Promise<void>>();
  let burstUntil = 0;
  let nextBurst = Date.now() + 25_000 + Math.random() * 20_000;
  const tick = () => {
    if (stopped) return;
    const now = Date.now();
    if (now >= nextBurst) {
      burstUntil = now + 6_000 + Math.random() * 4_000;
      nextBurst = burstUntil + 25_000 + Math.random() * 20_000;
    }
    const rate = now < burstUntil ? rps * 4 : rps;
    if (inFlight.size < 256) {
      const r = pick();
      counts.sent++;
      const p = fetch(`${url}${r.path}`, {
        method: r.method,
        headers: r.body ? { 'content-type': 'application/json' } : {},
        body: r.body,
      })
        .then(async (res) => {
          await res.arrayBuffer();
          const k = `${Math.floor(res.status / 100)}xx`;
          counts.byClass[k] = (counts.byClass[k] ?? 0) + 1;
        })
        .catch(() => {
          counts.failed++;
        })
        .finally(() => inFlight.delete(p));
      inFlight.add(p);
    }
    timer = setTimeout(tick, (-Math.log(1 - Math.random()) / rate) * 1000);
  };
  tick();
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await Promise.allSettled([...inFlight]);
    },
  };
}

// ---- the command

async function checkServer(server: string): Promise<void> {
  try {
    const res = await fetch(`${server}/health`, { signal: AbortSignal.timeout(10_000) });
    await res.arrayBuffer();
  } catch (e) {
    throw unreachable(e, server) ?? e;
  }
}

export async function demo(ctx: Context, o: DemoOptions): Promise<void> {
  const { out } = ctx;
  const { c } = out;
  const rps = o.rps ?? 20;
  await checkServer(ctx.server);
  let target: DemoTarget;
  if (o.key) {
    if (!/^peep_ik_[\w-]+$/.test(o.key))
      throw new CliError(EXIT.usage, 'usage', '--key must be an ingest key (peep_ik_…)');
    target = { key: o.key };
  } else {
    if (!ctx.token())
      throw new CliError(EXIT.auth, 'not_logged_in', `not logged in to ${ctx.server}`, {
        hint: `run \`peep login --server ${ctx.server}\` (the demo then makes its own project and key), or pass --key peep_ik_…`,
      });
    target = await demoKey(ctx, ctx.client());
  }

  const problems = new Map<string, number>();
  const peep = createPeep({
    endpoint: ctx.server,
    ingestKey: target.key,
    service: SERVICE,
    logLevel: 'debug',
    processHooks: false,
    env: {},
    onError: (e) => {
      const n = (problems.get(e.message) ?? 0) + 1;
      problems.set(e.message, n);
      if (n === 1) out.warn(e.message);
    },
  });
  const app = await startApp(peep);
  const counts: Counts = { sent: 0, byClass: {}, failed: 0 };
  const traffic = startTraffic(app.url, rps, counts);

  const p = target.project;
  if (p) {
    if (p.projectCreated) out.line(`${c.green('Created')} project ${c.bold(p.slug)}`);
    if (p.keyCreated) out.line(`${c.green('Created')} an ingest key for ${p.slug}/${p.environment}`);
  }
  out.line(
    `Sample app ${c.bold(SERVICE)} on ${app.url}, sending ~${rps} requests/s (bursts of ${rps * 4}/s)`,
  );
  out.line(`Telemetry goes to ${ctx.server}${p ? ` (project ${p.slug}, environment ${p.environment})` : ''}`);
  out.line(
    p
      ? `Watch it live: ${c.cyan(`${ctx.server}/projects/${p.id}#runtime`)} (Runtime tab; charts fill within a minute)`
      : `Watch it live: ${c.cyan(ctx.server)} → your project → Runtime`,
  );
  out.line(c.dim(o.duration ? `Stops after ${o.duration} s (or Ctrl-C).` : 'Ctrl-C stops it.'));

  const started = Date.now();
  const status = setInterval(() => {
    const s = peep.stats();
    const cls = Object.entries(counts.byClass)
      .sort()
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
    out.line(
      c.dim(
        `${Math.round((Date.now() - started) / 1000)}s: ${counts.sent} requests (${cls || 'none answered yet'}); ` +
          `shipped ${s.events.sent} events, ${s.logs.sent} logs; dropped ${s.events.dropped + s.logs.dropped}`,
      ),
    );
  }, 10_000);
  status.unref();

  await new Promise<void>((resolve) => {
    const stop = () => {
      process.removeListener('SIGINT', stop);
      process.removeListener('SIGTERM', stop);
      clearTimeout(timer);
      resolve();
    };
    const timer = o.duration ? setTimeout(stop, o.duration * 1000) : undefined;
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  clearInterval(status);
  out.line('Stopping: finishing requests and sending what is queued…');
  await traffic.stop();
  app.server.closeAllConnections();
  await new Promise((r) => app.server.close(r));
  await peep.shutdown(10_000);
  const s = peep.stats();
  const summary = {
    server: ctx.server,
    project: p ? { id: p.id, slug: p.slug, environment: p.environment } : null,
    service: SERVICE,
    seconds: Math.round((Date.now() - started) / 1000),
    requests: counts.sent,
    byStatusClass: counts.byClass,
    failedRequests: counts.failed,
    events: s.events,
    aggregates: s.aggregates,
    logs: s.logs,
    errors: [...problems.keys()],
  };
  out.result(summary, () => {
    out.line(
      `${c.green('Done')}: ${counts.sent} requests in ${summary.seconds} s; ` +
        `${s.aggregates.sent} route summaries, ${s.events.sent} sampled events and ${s.logs.sent} logs accepted by peep, ` +
        `${s.events.dropped + s.logs.dropped + s.aggregates.dropped} dropped`,
    );
  });
  if (s.aggregates.sent + s.events.sent === 0 && counts.sent > 0)
    throw new CliError(EXIT.failure, 'demo_not_delivered', `peep accepted none of the demo's events`, {
      hint: problems.size ? [...problems.keys()][0] : 'check the server URL and the ingest key',
    });
}
