/**
 * Tokens the CLI keeps between runs: `$XDG_CONFIG_HOME/peep/credentials.json` (default
 * `~/.config/peep/`), one entry per server URL. The directory is 0700 and the file 0600: created with
 * those modes and chmod-ed afterwards, so a looser umask or an older file cannot widen them. Writes go
 * to a temporary file renamed over the old one, so a crash never leaves half a file.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CliError, EXIT } from './errors.js';

export interface Credential {
  token: string;
  /** The token's id on the server, for `peep logout` to revoke it. */
  tokenId?: string;
  email?: string;
  /** `device` (peep login), `token` (--token / PEEP_TOKEN). */
  source: 'device' | 'token';
  savedAt: string;
}

export interface CredentialsFile {
  version: 1;
  /** The server of the latest login: the default when neither --server nor PEEP_SERVER is given. */
  current: string | null;
  servers: Record<string, Credential>;
}

const empty = (): CredentialsFile => ({ version: 1, current: null, servers: {} });

export function configDir(env: NodeJS.ProcessEnv): string {
  const xdg = env.XDG_CONFIG_HOME;
  const base = xdg && path.isAbsolute(xdg) ? xdg : path.join(env.HOME || os.homedir(), '.config');
  return path.join(base, 'peep');
}

export function credentialsPath(env: NodeJS.ProcessEnv): string {
  return path.join(configDir(env), 'credentials.json');
}

/** `http://Host:7070/` and `http://host:7070` are the same server; paths keep their case. */
export function normalizeServer(raw: string): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new CliError(
      EXIT.usage,
      'usage',
      `invalid server URL "${raw}" (expected e.g. http://127.0.0.1:7070)`,
    );
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw new CliError(EXIT.usage, 'usage', `invalid server URL "${raw}": use http:// or https://`);
  if (u.search || u.hash || u.username || u.password)
    throw new CliError(EXIT.usage, 'usage', `invalid server URL "${raw}": no query, fragment or user info`);
  return `${u.origin}${u.pathname}`.replace(/\/+$/, '');
}

export function readCredentials(env: NodeJS.ProcessEnv): CredentialsFile {
  const file = credentialsPath(env);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return empty();
    throw new CliError(
      EXIT.failure,
      'credentials_unreadable',
      `cannot read ${file}: ${(e as Error).message}`,
    );
  }
  try {
    const parsed = JSON.parse(text) as Partial<CredentialsFile>;
    if (
      typeof parsed !== 'object' ||
      parsed === null ||
      typeof parsed.servers !== 'object' ||
      !parsed.servers
    )
      throw new Error('missing "servers"');
    return { version: 1, current: parsed.current ?? null, servers: parsed.servers };
  } catch (e) {
    throw new CliError(
      EXIT.failure,
      'credentials_unreadable',
      `${file} is not a valid credentials file (${(e as Error).message}); delete it and run peep login`,
    );
  }
}

function writeCredentials(env: NodeJS.ProcessEnv, data: CredentialsFile): void {
  const dir = configDir(env);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.chmodSync(dir, 0o700);
  const file = credentialsPath(env);
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    fs.writeFileSync(tmp, `${JSON.stringify(data, null, 2)}\n`, { mode: 0o600, flag: 'w' });
    fs.chmodSync(tmp, 0o600);
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw new CliError(
      EXIT.failure,
      'credentials_unwritable',
      `cannot write ${file}: ${(e as Error).message}`,
    );
  }
}

export function getCredential(env: NodeJS.ProcessEnv, server: string): Credential | undefined {
  return readCredentials(env).servers[server];
}

/** Stores the token for `server` and makes it the current server. */
export function saveCredential(env: NodeJS.ProcessEnv, server: string, cred: Credential): void {
  const data = readCredentials(env);
  data.servers[server] = cred;
  data.current = server;
  writeCredentials(env, data);
}

/** Forgets the token for `server`; returns whether there was one. */
export function removeCredential(env: NodeJS.ProcessEnv, server: string): boolean {
  const data = readCredentials(env);
  if (!data.servers[server]) return false;
  delete data.servers[server];
  if (data.current === server) data.current = Object.keys(data.servers)[0] ?? null;
  writeCredentials(env, data);
  return true;
}
