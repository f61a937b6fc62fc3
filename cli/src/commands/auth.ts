/**
 * `peep login` (RFC 8628 device authorization grant through oauth4webapi, or a given token),
 * `peep logout` (revokes the CLI's token on the server, then forgets it) and `peep whoami`.
 */
import type { MeResponse, Static } from '@peep/pkg/schemas';
import * as oauth from 'oauth4webapi';
import { ApiClient, USER_AGENT, unreachable } from '../client.js';
import type { Context } from '../context.js';
import { credentialsPath, getCredential, removeCredential, saveCredential } from '../credentials.js';
import { CliError, EXIT } from '../errors.js';

type Me = Static<typeof MeResponse>;

export const CLIENT_ID = 'peep-cli';
const SCOPE = 'read write';
/** `peep login --admin`: also ask for the admin scope (granted only to instance admins). */
const ADMIN_SCOPE = 'read write admin';

export interface LoginOptions {
  token?: string;
  open?: boolean;
  admin?: boolean;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function login(ctx: Context, opts: LoginOptions): Promise<void> {
  let given = opts.token ?? ctx.env.PEEP_TOKEN;
  if (given === '-') given = await readStdin();
  if (given !== undefined) {
    if (!given.trim()) throw new CliError(EXIT.usage, 'usage', 'the token is empty');
    await storeToken(ctx, given.trim(), 'token');
    return;
  }
  const interactive = ctx.env.PEEP_FORCE_TTY === '1' || (process.stdin.isTTY && process.stdout.isTTY);
  if (!interactive)
    throw new CliError(
      EXIT.usage,
      'not_a_terminal',
      'peep login needs an interactive terminal for the device login; in CI or scripts use `peep login --token TOKEN` or set PEEP_TOKEN',
    );
  const token = await deviceLogin(ctx, opts.open === true, opts.admin === true);
  await storeToken(ctx, token, 'device');
}

/** Checks the token against the server (GET /api/v1/me), then stores it for this server. */
async function storeToken(ctx: Context, token: string, source: 'device' | 'token'): Promise<void> {
  const me = await new ApiClient(ctx.server, token).get<Me>('/api/v1/me');
  const previous = getCredential(ctx.env, ctx.server);
  saveCredential(ctx.env, ctx.server, {
    token,
    tokenId: me.auth.tokenId,
    email: me.user.email,
    source,
    savedAt: new Date().toISOString(),
  });
  // A device token the CLI obtained earlier is no longer kept anywhere: revoke it (best effort).
  if (previous?.source === 'device' && previous.token !== token && previous.tokenId)
    await new ApiClient(ctx.server, previous.token)
      .delete(`/api/v1/tokens/${previous.tokenId}`)
      .catch(() => undefined);
  const file = credentialsPath(ctx.env);
  ctx.out.result(
    { server: ctx.server, user: me.user, scopes: me.auth.scopes, tokenId: me.auth.tokenId ?? null, file },
    () => {
      const { c } = ctx.out;
      ctx.out.line(`${c.green('Logged in')} to ${ctx.server} as ${c.bold(me.user.email)}.`);
      ctx.out.line(c.dim(`Token (${me.auth.scopes.join(', ')}) saved in ${file}`));
    },
  );
}

function oauthFailure(e: unknown, server: string, step: string): CliError {
  const down = unreachable(e, server);
  if (down) return down;
  if (e instanceof oauth.ResponseBodyError)
    return new CliError(EXIT.failure, e.error, `${step}: ${e.error_description ?? e.error}`, {
      status: e.status,
    });
  const msg = e instanceof Error ? e.message : String(e);
  return new CliError(EXIT.failure, 'login_failed', `${step}: ${msg}`, {
    hint: `is ${server} a peep server? It should answer /.well-known/oauth-authorization-server`,
  });
}

/** The device flow; resolves with the access token once the user approves in the browser. */
async function deviceLogin(ctx: Context, open: boolean, admin: boolean): Promise<string> {
  const { out } = ctx;
  const issuer = new URL(ctx.server);
  const http = issuer.protocol === 'http:' ? { [oauth.allowInsecureRequests]: true } : {};
  const headers = { 'user-agent': USER_AGENT };
  const client: oauth.Client = { client_id: CLIENT_ID };
  const auth = oauth.None();

  let as: oauth.AuthorizationServer;
  try {
    as = await oauth.processDiscoveryResponse(
      issuer,
      await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', headers, ...http }),
    );
  } catch (e) {
    throw oauthFailure(e, ctx.server, 'discovery failed');
  }
  let da: oauth.DeviceAuthorizationResponse;
  try {
    da = await oauth.processDeviceAuthorizationResponse(
      as,
      client,
      await oauth.deviceAuthorizationRequest(
        as,
        client,
        auth,
        { scope: admin ? ADMIN_SCOPE : SCOPE },
        { headers, ...http },
      ),
    );
  } catch (e) {
    throw oauthFailure(e, ctx.server, 'device authorization failed');
  }

  const complete = da.verification_uri_complete;
  const minutes = Math.max(1, Math.round(da.expires_in / 60));
  if (out.json) {
    // stdout carries only the final result; the prompt goes to stderr as one JSON line.
    process.stderr.write(
      `${JSON.stringify({
        verificationUri: da.verification_uri,
        verificationUriComplete: complete ?? null,
        userCode: da.user_code,
        expiresIn: da.expires_in,
      })}\n`,
    );
  } else {
    const { c } = out;
    out.line(`Open this page in a browser signed in to peep:`);
    out.line('');
    out.line(`  ${c.cyan(c.underline(da.verification_uri))}`);
    out.line('');
    out.line(`and confirm this code:`);
    out.line('');
    out.line(`  ${c.bold(c.yellow(da.user_code))}`);
    out.line('');
    if (complete) out.line(c.dim(`(or open ${complete} directly)`));
    out.line(c.dim(`The code expires in ${minutes} minute${minutes === 1 ? '' : 's'}.`));
    out.line(`Waiting for approval... ${c.dim('(Ctrl-C to cancel)')}`);
  }
  if (open) openBrowser(complete ?? da.verification_uri);

  let interval = (da.interval ?? 5) * 1000;
  const deadline = Date.now() + da.expires_in * 1000;
  for (;;) {
    // A little over the interval, so timer and clock granularity never make a poll early (slow_down).
    await sleep(interval + 50);
    if (Date.now() > deadline) throw expired();
    try {
      const tokens = await oauth.processDeviceCodeResponse(
        as,
        client,
        await oauth.deviceCodeGrantRequest(as, client, auth, da.device_code, { headers, ...http }),
      );
      return tokens.access_token;
    } catch (e) {
      if (!(e instanceof oauth.ResponseBodyError)) throw oauthFailure(e, ctx.server, 'login failed');
      switch (e.error) {
        case 'authorization_pending':
          continue;
        case 'slow_down':
          interval += 5000;
          continue;
        case 'access_denied':
          throw new CliError(EXIT.auth, 'access_denied', 'the login request was denied in the browser', {
            hint: 'run `peep login` again and approve the code',
          });
        case 'expired_token':
          throw expired();
        default:
          throw oauthFailure(e, ctx.server, 'login failed');
      }
    }
  }
}

const expired = () =>
  new CliError(EXIT.auth, 'expired_token', 'the code expired before it was approved', {
    hint: 'run `peep login` again',
  });

/** Best effort, only with --open: the platform's opener, detached, errors ignored. */
function openBrowser(url: string): void {
  const [cmd, args] =
    process.platform === 'darwin'
      ? ['open', [url]]
      : process.platform === 'win32'
        ? ['cmd', ['/c', 'start', '""', url]]
        : ['xdg-open', [url]];
  import('node:child_process')
    .then(({ spawn }) => {
      const child = spawn(cmd, args as string[], { stdio: 'ignore', detached: true });
      child.on('error', () => undefined);
      child.unref();
    })
    .catch(() => undefined);
}

export async function logout(ctx: Context): Promise<void> {
  const { out } = ctx;
  const cred = getCredential(ctx.env, ctx.server);
  if (!cred) {
    out.result({ server: ctx.server, loggedOut: false, revoked: false }, () => {
      out.line(`Not logged in to ${ctx.server}; nothing to do.`);
      if (ctx.env.PEEP_TOKEN) out.line('PEEP_TOKEN is set in the environment: unset it to stop using it.');
    });
    return;
  }
  let revoked = false;
  let warning: string | undefined;
  if (cred.source === 'device') {
    const api = new ApiClient(ctx.server, cred.token);
    try {
      const tokenId = cred.tokenId ?? (await api.get<Me>('/api/v1/me')).auth.tokenId;
      if (tokenId) {
        await api.delete(`/api/v1/tokens/${tokenId}`);
        revoked = true;
      }
    } catch (e) {
      if (e instanceof CliError && e.exitCode === EXIT.auth)
        revoked = true; // already revoked or expired
      else
        warning = `could not revoke the token on the server (${(e as Error).message}); it stays valid until it expires`;
    }
  } else {
    warning =
      'this token was given with --token/PEEP_TOKEN and stays valid; revoke it with `peep tokens revoke <id>`';
  }
  removeCredential(ctx.env, ctx.server);
  if (warning) out.warn(warning);
  out.result({ server: ctx.server, loggedOut: true, revoked }, () => {
    out.line(`Logged out of ${ctx.server}${revoked ? ' (token revoked)' : ''}.`);
  });
}

export async function whoami(ctx: Context): Promise<void> {
  const me = await ctx.client().get<Me>('/api/v1/me');
  const from = ctx.token()?.from;
  ctx.out.result({ server: ctx.server, user: me.user, auth: me.auth }, () => {
    const { c } = ctx.out;
    ctx.out.line(
      `${c.bold(me.user.email)} (${me.user.name})${me.user.isAdmin ? c.dim(', instance admin') : ''}`,
    );
    ctx.out.line(`${c.dim('server')}  ${ctx.server}`);
    ctx.out.line(
      `${c.dim('auth')}    ${me.auth.kind}, scopes ${me.auth.scopes.join(', ')}${from === 'PEEP_TOKEN' ? ' (from PEEP_TOKEN)' : ''}`,
    );
  });
}
