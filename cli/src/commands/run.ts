/**
 * `peep run [--env E] [--service S] -- cmd args`: starts a command with the environment's variables
 * (exported with references resolved) over its own environment, and writes no file. Stdio is
 * inherited, SIGINT/SIGTERM/SIGHUP/SIGQUIT are passed on, and peep exits with the command's code.
 *
 * This is on the hot path of every `peep run`, so it loads nothing but the context and the small
 * project lookup; `env.ts` shares `envScope` from here.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import type { ApiClient } from '../client.js';
import type { Context } from '../context.js';
import { CliError, EXIT } from '../errors.js';

export interface ScopeOptions {
  project?: string;
  env?: string;
  service?: string;
}

/** Where an env command reads and writes: the project id, the environment and its routes. */
export interface Scope {
  api: ApiClient;
  projectId: string;
  env: string;
  service?: string;
  /** `/api/v1/projects/:id/envs/:env` */
  base: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The project's id: an id as given (no request), else a slug, PEEP_PROJECT or your only project. */
export async function projectId(ctx: Context, api: ApiClient, ref: string | undefined): Promise<string> {
  const chosen = ref ?? ctx.env.PEEP_PROJECT;
  if (chosen && UUID.test(chosen.trim())) return chosen.trim().toLowerCase();
  const { pickProject } = await import('./project-ref.js');
  return (await pickProject(ctx, api, chosen)).id;
}

/** --env, else PEEP_ENV, else dev. */
export async function envScope(ctx: Context, o: ScopeOptions, api = ctx.client()): Promise<Scope> {
  const env = o.env ?? ctx.env.PEEP_ENV ?? 'dev';
  const id = await projectId(ctx, api, o.project);
  return {
    api,
    projectId: id,
    env,
    service: o.service,
    base: `/api/v1/projects/${id}/envs/${encodeURIComponent(env)}`,
  };
}

const FORWARDED = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'] as const;

export async function run(ctx: Context, argv: string[], o: ScopeOptions): Promise<void> {
  const [cmd, ...args] = argv;
  if (!cmd)
    throw new CliError(EXIT.usage, 'usage', 'give the command to run after --: `peep run -- cmd args`');
  const s = await envScope(ctx, o);
  const { values } = await s.api.post<{ values: Record<string, string> }>(`${s.base}/export`, {
    ...(s.service ? { service: s.service } : {}),
    resolve: true,
    format: 'json',
  });
  const child = spawn(cmd, args, { stdio: 'inherit', env: { ...ctx.env, ...values } });
  const forward = (sig: NodeJS.Signals) => () => {
    child.kill(sig);
  };
  const handlers = FORWARDED.map((sig) => [sig, forward(sig)] as const);
  for (const [sig, h] of handlers) process.on(sig, h);
  const code = await new Promise<number>((resolve, reject) => {
    child.on('error', (e: NodeJS.ErrnoException) =>
      reject(
        new CliError(
          EXIT.failure,
          'command_failed',
          e.code === 'ENOENT' ? `command not found: ${cmd}` : `cannot start ${cmd}: ${e.message}`,
        ),
      ),
    );
    child.on('exit', (c, sig) => resolve(c ?? 128 + (sig ? (constants.signals[sig] ?? 0) : 0)));
  }).finally(() => {
    for (const [sig, h] of handlers) process.off(sig, h);
  });
  process.exitCode = code;
}
