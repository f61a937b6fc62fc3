/** All SQL for personal and CLI API tokens. */
import type { Queryable } from '@peep/pkg';
import type { ApiToken, Scope } from '@peep/pkg/schemas';
import { type AuthUser, iso, isoRequired } from '../core/types.js';

interface TokenRow {
  id: string;
  name: string;
  kind: 'personal' | 'cli';
  scopes: Scope[];
  prefix: string;
  created_at: Date;
  last_used_at: Date | null;
  expires_at: Date | null;
  revoked_at: Date | null;
}
const COLS = 'id, name, kind, scopes, prefix, created_at, last_used_at, expires_at, revoked_at';
export const toApiToken = (r: TokenRow): ApiToken => ({
  id: r.id,
  name: r.name,
  kind: r.kind,
  scopes: r.scopes,
  prefix: r.prefix,
  createdAt: isoRequired(r.created_at),
  lastUsedAt: iso(r.last_used_at),
  expiresAt: iso(r.expires_at),
  revokedAt: iso(r.revoked_at),
});

export interface TokenWithUser {
  token: ApiToken;
  lastUsedAt: Date | null;
  expiresAt: Date | null;
  revokedAt: Date | null;
  user: AuthUser;
}

export const tokensRepo = {
  async create(
    q: Queryable,
    t: {
      userId: string;
      name: string;
      kind: 'personal' | 'cli';
      scopes: Scope[];
      tokenHash: string;
      prefix: string;
      expiresAt: Date | null;
    },
  ): Promise<ApiToken> {
    const { rows } = await q.query<TokenRow>(
      `INSERT INTO api_tokens (user_id, name, kind, scopes, token_hash, prefix, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ${COLS}`,
      [t.userId, t.name, t.kind, t.scopes, t.tokenHash, t.prefix, t.expiresAt],
    );
    return toApiToken(rows[0] as TokenRow);
  },
  async listForUser(q: Queryable, userId: string): Promise<ApiToken[]> {
    const { rows } = await q.query<TokenRow>(
      `SELECT ${COLS} FROM api_tokens WHERE user_id = $1 ORDER BY created_at DESC`,
      [userId],
    );
    return rows.map(toApiToken);
  },
  async byHash(q: Queryable, tokenHash: string): Promise<TokenWithUser | null> {
    const { rows } = await q.query<
      TokenRow & {
        user_id: string;
        email: string;
        user_name: string;
        is_admin: boolean;
        user_created_at: Date;
      }
    >(
      `SELECT t.id, t.name, t.kind, t.scopes, t.prefix, t.created_at, t.last_used_at, t.expires_at, t.revoked_at,
              u.id AS user_id, u.email, u.name AS user_name, u.is_admin, u.created_at AS user_created_at
         FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1`,
      [tokenHash],
    );
    const r = rows[0];
    if (!r) return null;
    return {
      token: toApiToken(r),
      lastUsedAt: r.last_used_at,
      expiresAt: r.expires_at,
      revokedAt: r.revoked_at,
      user: {
        id: r.user_id,
        email: r.email,
        name: r.user_name,
        isAdmin: r.is_admin,
        createdAt: isoRequired(r.user_created_at),
      },
    };
  },
  async touch(q: Queryable, id: string, now: Date): Promise<void> {
    await q.query('UPDATE api_tokens SET last_used_at = $2 WHERE id = $1', [id, now]);
  },
  /** Revokes the user's token; false when no such token belongs to the user. */
  async revoke(q: Queryable, userId: string, id: string, now: Date): Promise<ApiToken | null> {
    const { rows } = await q.query<TokenRow>(
      `UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, $3) WHERE id = $1 AND user_id = $2 RETURNING ${COLS}`,
      [id, userId, now],
    );
    return rows[0] ? toApiToken(rows[0]) : null;
  },
};
