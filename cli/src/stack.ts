/**
 * The server process: one HTTP listener in front of the API (`/api/*`, `/.well-known/*`, `/health`,
 * `/ready`, `/metrics`) and the Next.js dashboard (everything else), the same split the Ingress makes
 * when scaled out. Embedded mode adds PGlite in the data directory (locked against a second peep) and
 * the in-process bus (NATS instead when PEEP_NATS_URL is set); the builder's workers run in the same
 * process.
 */
import fs from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { type Api, buildApi, systemClock } from '@peep/api';
import { type Builder, createBuilder } from '@peep/builder';
import {
  type Config,
  createBus,
  createMemoryBus,
  type Db,
  type DirLock,
  type Logger,
  lockDataDir,
  migrate,
  openDb,
} from '@peep/pkg';
import { parseNetPolicy } from '@peep/pkg/net-policy';
import { keyringFromConfig } from '@peep/pkg/project-keys';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const DASHBOARD_DIR = path.join(ROOT, 'dashboard');
/** Paths the API serves: its own, OAuth discovery, probes, and OTLP/HTTP ingest (`/v1/traces` ...). */
const API_PATHS = /^\/(api(\/|$)|\.well-known\/|health$|ready$|metrics$|v1\/(traces|logs|metrics)$)/;

type RequestHandler = (req: http.IncomingMessage, res: http.ServerResponse) => void | Promise<void>;

export interface Stack {
  url: string;
  port: number;
  db: Db | null;
  api: Api | null;
  builder: Builder | null;
  close(): Promise<void>;
}

export interface StackEvents {
  progress(msg: string): void;
}

/** Builds the dashboard when there is no build or its sources changed (first start), showing output. */
export async function ensureDashboardBuild(events: StackEvents): Promise<void> {
  const script = path.join(ROOT, 'scripts/build-dashboard.mjs');
  const mod = (await import(pathToFileURL(script).href)) as { dashboardBuildIsFresh(): boolean };
  if (mod.dashboardBuildIsFresh()) return;
  events.progress('building the dashboard (first start only; about a minute)...');
  const { spawn } = await import('node:child_process');
  await new Promise<void>((resolve, reject) => {
    const child = spawn(process.execPath, [script], {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1' },
    });
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`dashboard build failed (exit ${code})`)),
    );
    child.on('error', reject);
  });
}

async function startDashboard(): Promise<{ handler: RequestHandler; close(): Promise<void> }> {
  const require = createRequire(path.join(DASHBOARD_DIR, 'package.json'));
  const nextMod = (await import(pathToFileURL(require.resolve('next')).href)) as {
    default: (opts: object) => NextServer;
  };
  const app = nextMod.default({ dev: false, dir: DASHBOARD_DIR, quiet: true, customServer: true });
  await app.prepare();
  const handle = app.getRequestHandler();
  return { handler: (req, res) => handle(req, res), close: () => app.close?.() ?? Promise.resolve() };
}
interface NextServer {
  prepare(): Promise<void>;
  getRequestHandler(): (req: http.IncomingMessage, res: http.ServerResponse) => Promise<void>;
  close?(): Promise<void>;
}

export async function startStack(config: Config, log: Logger, events: StackEvents): Promise<Stack> {
  // The data directory is locked before anything else starts, so a second peep fails at once.
  let lock: DirLock | null = null;
  const embedded = !config.databaseUrl;
  if (embedded && config.api) lock = lockDataDir(config.dataDir);
  const cleanups: (() => Promise<void>)[] = [];
  try {
    if (config.dashboard) await ensureDashboardBuild(events);
    // The database and the dashboard start side by side: both take a moment.
    const dashboardP = config.dashboard ? startDashboard() : Promise.resolve(null);
    dashboardP.catch(() => {});
    let db: Db | null = null;
    if (config.api) {
      db = await openDb(embedded ? { dataDir: config.dataDir } : { databaseUrl: config.databaseUrl });
      const d = db;
      cleanups.push(() => d.close());
      const m = await migrate(db);
      if (m.applied.length) log.info({ applied: m.applied }, 'migrations applied');
    }
    // NATS when PEEP_NATS_URL is set (replicas), else in-process. A dashboard-only pod needs no bus.
    const bus = db
      ? await createBus(config, log)
      : createMemoryBus((err, subject) => log.error({ err, subject }, 'bus handler failed'));
    cleanups.push(() => bus.close());
    const dashboard = await dashboardP;
    if (dashboard) cleanups.push(() => dashboard.close());

    // One loader of the master keys for the API and the builder (embedded: master.key, created once).
    const keys = keyringFromConfig(config, log);
    let api: Api | null = null;
    let server: http.Server;
    if (db) {
      const deps = { config, db, bus, log, clock: systemClock, keys };
      api = await buildApi(deps, {
        serverFactory: (fastifyHandler) =>
          http.createServer((req, res) => {
            if (!dashboard || API_PATHS.test(req.url ?? '/')) fastifyHandler(req, res);
            else void dashboard.handler(req, res);
          }),
      });
      const a = api;
      await a.app.listen({ port: config.port, host: config.host });
      server = a.app.server;
    } else {
      // Dashboard-only pod: probes answer here, everything else is Next.js.
      server = http.createServer((req, res) => {
        if (req.url === '/health' || req.url === '/ready') {
          res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
        } else if (dashboard) void dashboard.handler(req, res);
        else res.writeHead(404).end();
      });
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(config.port, config.host, () => resolve());
      });
    }
    const addr = server.address();
    const port = typeof addr === 'object' && addr ? addr.port : config.port;
    const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;

    let builder: Builder | null = null;
    if (config.builder && db) {
      builder = createBuilder({
        db,
        bus,
        log: log.child({ component: 'builder' }),
        clock: systemClock,
        retention: { minuteHours: config.rollupMinuteHours, hourDays: config.rollupHourDays },
        keys,
        delivery: { netPolicy: parseNetPolicy(config.webhookDeny) },
        ...(config.publicUrl ? { publicUrl: config.publicUrl } : {}),
      });
      builder.start();
    }

    let closed = false;
    return {
      url: config.publicUrl || `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
      port,
      db,
      api,
      builder,
      async close() {
        if (closed) return;
        closed = true;
        // Stop accepting, let in-flight requests finish (Fastify's close waits for them), then the rest.
        if (api) {
          await api.app.close();
          await api.drain(10_000);
        } else await new Promise<void>((resolve) => server.close(() => resolve()));
        await builder?.stop();
        for (const c of cleanups.reverse())
          await c().catch((err) => log.error({ err }, 'shutdown step failed'));
        lock?.release();
      },
    };
  } catch (err) {
    for (const c of cleanups.reverse()) await c().catch(() => {});
    lock?.release();
    throw err;
  }
}

export function dataDirHasDatabase(dir: string): boolean {
  return fs.existsSync(path.join(dir, 'pgdata', 'PG_VERSION'));
}
