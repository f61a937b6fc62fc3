/** `peep tokens ls | create | revoke`: personal API tokens (and the CLI's own, listed as kind `cli`). */
import type { ApiToken, CreateTokenResponse, Scope, Static, TokenList } from '@peep/pkg/schemas';
import type { Context } from '../context.js';
import { getCredential } from '../credentials.js';
import { CliError, EXIT } from '../errors.js';
import { type Cell, formatTime } from '../output.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function status(t: ApiToken, now = Date.now()): 'revoked' | 'expired' | 'active' {
  if (t.revokedAt) return 'revoked';
  if (t.expiresAt && Date.parse(t.expiresAt) <= now) return 'expired';
  return 'active';
}

export async function list(ctx: Context): Promise<void> {
  const body = await ctx.client().get<Static<typeof TokenList>>('/api/v1/tokens');
  const { c } = ctx.out;
  ctx.out.result(body, () =>
    ctx.out.table(
      ['ID', 'NAME', 'KIND', 'SCOPES', 'PREFIX', 'CREATED', 'LAST USED', 'EXPIRES', 'STATUS'],
      body.tokens.map((t): Cell[] => {
        const s = status(t);
        return [
          { text: t.id, style: c.dim },
          t.name,
          t.kind,
          t.scopes.join(','),
          t.prefix,
          formatTime(t.createdAt),
          formatTime(t.lastUsedAt),
          t.expiresAt ? formatTime(t.expiresAt) : 'never',
          { text: s, style: s === 'active' ? c.green : c.red },
        ];
      }),
      'No tokens. Create one with `peep tokens create <name>`.',
    ),
  );
}

export interface CreateOptions {
  scopes: Scope[];
  expiresInDays?: number;
}

export async function create(ctx: Context, name: string, opts: CreateOptions): Promise<void> {
  const body = await ctx.client().post<Static<typeof CreateTokenResponse>>('/api/v1/tokens', {
    name,
    scopes: opts.scopes,
    ...(opts.expiresInDays !== undefined ? { expiresInDays: opts.expiresInDays } : {}),
  });
  ctx.out.result(body, () => {
    const { c } = ctx.out;
    const t = body.token;
    ctx.out.line(
      `${c.green('Created')} token ${c.bold(t.name)} (${t.id}), scopes ${t.scopes.join(', ')}, ${
        t.expiresAt ? `expires ${formatTime(t.expiresAt)} UTC` : 'never expires'
      }.`,
    );
    ctx.out.line('');
    ctx.out.line(`  ${c.bold(body.secret)}`);
    ctx.out.line('');
    ctx.out.note(
      `${ctx.out.errColors.yellow('warning:')} copy the secret now: it is shown once and cannot be retrieved later.`,
    );
  });
}

/** Revokes by id, or by name when exactly one active token has it. */
export async function revoke(ctx: Context, ref: string): Promise<void> {
  const api = ctx.client();
  let id = ref.trim();
  if (!UUID.test(id)) {
    const { tokens } = await api.get<Static<typeof TokenList>>('/api/v1/tokens');
    const byName = tokens.filter((t) => t.name === ref && status(t) === 'active');
    if (byName.length === 0)
      throw new CliError(EXIT.notFound, 'token_not_found', `no active token with id or name "${ref}"`, {
        hint: 'list them with `peep tokens ls`',
      });
    if (byName.length > 1)
      throw new CliError(
        EXIT.usage,
        'usage',
        `${byName.length} active tokens are named "${ref}"; revoke one by id`,
      );
    id = (byName[0] as ApiToken).id;
  }
  await api.delete(`/api/v1/tokens/${id}`);
  const self = getCredential(ctx.env, ctx.server)?.tokenId === id && ctx.token()?.from === 'credentials';
  ctx.out.result({ revoked: id }, () => {
    ctx.out.line(`Revoked token ${id}.`);
    if (self) ctx.out.note('That was the token this CLI uses: run `peep login` to sign in again.');
  });
}
