/**
 * What every API command gets: the output, the server it talks to, and a client with the right token.
 * The environment is read here and only here (and passed on), so tests can run commands with their own.
 *
 * Server: --server, else PEEP_SERVER, else the server of the latest `peep login`, else the default.
 * Token: PEEP_TOKEN, else the stored token for that server.
 */
import { ApiClient } from './client.js';
import { getCredential, normalizeServer, readCredentials } from './credentials.js';
import { CliError, EXIT } from './errors.js';
import { Output, toCliError } from './output.js';

export const DEFAULT_SERVER = 'http://127.0.0.1:7070';

export interface GlobalOptions {
  server?: string;
  json?: boolean;
}

export interface Context {
  env: NodeJS.ProcessEnv;
  out: Output;
  readonly server: string;
  /** A client authenticated for `server`; exit 3 when there is no token for it. */
  client(): ApiClient;
  /** The token in use and where it came from, if any. */
  token(): { value: string; from: 'PEEP_TOKEN' | 'credentials' } | undefined;
}

export function resolveServer(opts: GlobalOptions, env: NodeJS.ProcessEnv): string {
  if (opts.server) return normalizeServer(opts.server);
  if (env.PEEP_SERVER) return normalizeServer(env.PEEP_SERVER);
  const current = readCredentials(env).current;
  return current ? normalizeServer(current) : DEFAULT_SERVER;
}

export function createContext(opts: GlobalOptions, env: NodeJS.ProcessEnv, out: Output): Context {
  let server: string | undefined;
  const ctx: Context = {
    env,
    out,
    // Resolved on first use, so commands without a server (migrate) never read the credentials file.
    get server() {
      server ??= resolveServer(opts, env);
      return server;
    },
    token() {
      if (env.PEEP_TOKEN) return { value: env.PEEP_TOKEN, from: 'PEEP_TOKEN' };
      const cred = getCredential(env, ctx.server);
      return cred ? { value: cred.token, from: 'credentials' } : undefined;
    },
    client() {
      const t = ctx.token();
      if (!t)
        throw new CliError(EXIT.auth, 'not_logged_in', `not logged in to ${ctx.server}`, {
          hint: `run \`peep login --server ${ctx.server}\`, or set PEEP_TOKEN`,
        });
      return new ApiClient(ctx.server, t.value);
    },
  };
  return ctx;
}

/**
 * Runs one command: builds the context, reports any failure in the chosen format, and sets the exit
 * code (process.exitCode, so piped output is flushed before the process ends).
 */
export async function runCommand(
  opts: GlobalOptions,
  fn: (ctx: Context) => Promise<void>,
  env: NodeJS.ProcessEnv = process.env,
): Promise<void> {
  const out = new Output(opts.json === true, process.stdout, process.stderr, env);
  try {
    await fn(createContext(opts, env, out));
  } catch (e) {
    const err = toCliError(e);
    if (err.extra.status === 401 && env.PEEP_TOKEN)
      err.extra.hint =
        'the token in PEEP_TOKEN was refused: replace it, or unset PEEP_TOKEN to use your login';
    if (err.exitCode === EXIT.failure && err.code === 'cli_error' && env.PEEP_DEBUG && e instanceof Error)
      process.stderr.write(`${e.stack}\n`);
    out.error(err);
    process.exitCode = err.exitCode;
  }
}
