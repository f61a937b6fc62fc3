/**
 * `peep up` (everything in one process, embedded database by default), `peep serve` (the same server
 * for Kubernetes pods, parts chosen by PEEP_API / PEEP_DASHBOARD / PEEP_BUILDER), `peep builder` and
 * `peep migrate`. Configuration comes from the environment, parsed once; a bad value stops with a
 * message naming the variable.
 */
import http from 'node:http';
import { createBuilder } from '@peep/builder';
import {
  type Config,
  ConfigError,
  createBus,
  createLogger,
  LockError,
  loadConfig,
  MigrationError,
  migrate,
  openConfiguredDb,
  systemClock,
} from '@peep/pkg';
import { parseNetPolicy } from '@peep/pkg/net-policy';
import { keyringFromConfig } from '@peep/pkg/project-keys';
import { type Stack, startStack } from './stack.js';

function configOrExit(overrides: Partial<Config> = {}): Config {
  try {
    return loadConfig(process.env, overrides);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`peep: invalid configuration: ${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
}

function fail(e: unknown): never {
  if (e instanceof LockError || e instanceof MigrationError) {
    process.stderr.write(`peep: ${e.message}\n`);
    process.exit(1);
  }
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE') {
    process.stderr.write(
      `peep: the port is already in use (${(e as Error).message}). Set PEEP_PORT to another port.\n`,
    );
    process.exit(1);
  }
  process.stderr.write(`peep: could not start: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
}

/** SIGINT/SIGTERM: stop accepting, finish in-flight requests, close everything, exit 0. A second signal forces exit 1. */
function onShutdown(close: () => Promise<void>, say: (msg: string) => void) {
  let stopping = false;
  const handler = (signal: string) => {
    if (stopping) {
      say(`${signal} again: exiting now`);
      process.exit(1);
    }
    stopping = true;
    say(`${signal}: shutting down (finishing in-flight requests)...`);
    close().then(
      () => {
        say('stopped');
        process.exit(0);
      },
      (err) => {
        process.stderr.write(`peep: shutdown failed: ${String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => handler('SIGINT'));
  process.on('SIGTERM', () => handler('SIGTERM'));
}

async function serve(kind: 'up' | 'serve'): Promise<void> {
  const started = performance.now();
  const config = configOrExit();
  const log = createLogger({ level: config.logLevel, pretty: config.logPretty });
  const say = (msg: string) => process.stdout.write(msg ? `peep ${msg}\n` : '\n');
  let stack: Stack;
  try {
    stack = await startStack(config, log, { progress: say });
  } catch (e) {
    fail(e);
  }
  onShutdown(() => stack.close(), say);
  const ms = Math.round(performance.now() - started);
  const parts = [config.api && 'api', config.dashboard && 'dashboard', config.builder && 'builder']
    .filter(Boolean)
    .join(', ');
  const dbDesc = !config.api
    ? 'none'
    : config.databaseUrl
      ? 'PostgreSQL server'
      : `embedded PGlite in ${config.dataDir}`;
  say(`is ready at ${stack.url} in ${ms} ms (${parts}; database: ${dbDesc})`);
  if (stack.api) {
    const setup = await stack.api.auth.issueOwnerSetupToken();
    if (setup) {
      say('');
      say('No owner account yet. Open this one-time link to create it');
      say(`(expires in ${config.setupTtlMinutes} minutes; restart peep for a new one):`);
      say(`  ${stack.url}/setup?token=${setup.token}`);
      say('');
    }
  }
  if (kind === 'up') say('Press Ctrl-C to stop.');
}

export async function runUp(): Promise<void> {
  await serve('up');
}

export async function runServe(): Promise<void> {
  await serve('serve');
}

/** The builder alone (its own Deployment): workers plus /health and /ready on PEEP_PORT. */
export async function runBuilder(): Promise<void> {
  const config = configOrExit();
  const log = createLogger({ level: config.logLevel, pretty: config.logPretty });
  try {
    const db = await openConfiguredDb(config);
    await migrate(db);
    const bus = await createBus(config, log);
    const builder = createBuilder({
      db,
      bus,
      log,
      clock: systemClock,
      retention: { minuteHours: config.rollupMinuteHours, hourDays: config.rollupHourDays },
      keys: keyringFromConfig(config, log),
      delivery: { netPolicy: parseNetPolicy(config.webhookDeny) },
      ...(config.publicUrl ? { publicUrl: config.publicUrl } : {}),
    });
    builder.start();
    const server = http.createServer((req, res) => {
      const body = JSON.stringify(
        req.url === '/ready' || req.url === '/health'
          ? { status: 'ok', jobs: builder.status(), uptime: builder.scheduler?.stats() ?? null }
          : { error: 'not found' },
      );
      res
        .writeHead(req.url === '/ready' || req.url === '/health' ? 200 : 404, {
          'content-type': 'application/json',
        })
        .end(body);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => resolve());
    });
    log.info({ port: config.port }, 'builder ready');
    onShutdown(
      async () => {
        await new Promise<void>((r) => server.close(() => r()));
        await builder.stop();
        await bus.close();
        await db.close();
      },
      (m) => log.info(m),
    );
  } catch (e) {
    fail(e);
  }
}

export async function runMigrate(): Promise<{ applied: string[]; current: number }> {
  const config = configOrExit();
  try {
    const db = await openConfiguredDb(config);
    try {
      return await migrate(db);
    } finally {
      await db.close();
    }
  } catch (e) {
    fail(e);
  }
}
