/** All SQL for users, sessions and one-time setup links. */
import type { Queryable } from '@peep/pkg';
import { type AuthUser, isoRequired } from '../core/types.js';

interface UserRow {
  id: string;
  email: string;
  name: string;
  is_admin: boolean;
  created_at: Date;
}
const toUser = (r: UserRow): AuthUser => ({
  id: r.id,
  email: r.email,
  name: r.name,
  isAdmin: r.is_admin,
  createdAt: isoRequired(r.created_at),
});

export const usersRepo = {
  async count(q: Queryable): Promise<number> {
    const { rows } = await q.query<{ n: number }>('SELECT count(*)::int AS n FROM users');
    return rows[0]?.n ?? 0;
  },
  async byEmail(q: Queryable, email: string): Promise<(AuthUser & { passwordHash: string }) | null> {
    const { rows } = await q.query<UserRow & { password_hash: string }>(
      'SELECT id, email, name, is_admin, created_at, password_hash FROM users WHERE lower(email) = lower($1)',
      [email],
    );
    const r = rows[0];
    return r ? { ...toUser(r), passwordHash: r.password_hash } : null;
  },
  async byId(q: Queryable, id: string): Promise<AuthUser | null> {
    const { rows } = await q.query<UserRow>(
      'SELECT id, email, name, is_admin, created_at FROM users WHERE id = $1',
      [id],
    );
    return rows[0] ? toUser(rows[0]) : null;
  },
  async create(
    q: Queryable,
    u: { email: string; name: string; passwordHash: string; isAdmin: boolean },
  ): Promise<AuthUser> {
    const { rows } = await q.query<UserRow>(
      `INSERT INTO users (email, name, password_hash, is_admin) VALUES ($1, $2, $3, $4)
       ON CONFLICT DO NOTHING RETURNING id, email, name, is_admin, created_at`,
      [u.email, u.name, u.passwordHash, u.isAdmin],
    );
    return rows[0] ? toUser(rows[0]) : (null as never);
  },
};

export const setupTokensRepo = {
  async create(
    q: Queryable,
    t: {
      tokenHash: string;
      purpose: 'owner' | 'invite';
      email: string | null;
      isAdmin: boolean;
      createdBy: string | null;
      expiresAt: Date;
    },
  ): Promise<void> {
    await q.query(
      'INSERT INTO setup_tokens (token_hash, purpose, email, is_admin, created_by, expires_at) VALUES ($1, $2, $3, $4, $5, $6)',
      [t.tokenHash, t.purpose, t.email, t.isAdmin, t.createdBy, t.expiresAt],
    );
  },
  async dropUnusedOwnerTokens(q: Queryable): Promise<void> {
    await q.query(`DELETE FROM setup_tokens WHERE purpose = 'owner' AND used_at IS NULL`);
  },
  /** Marks the token used and returns it, only if it is unused and unexpired (atomic). */
  async consume(q: Queryable, tokenHash: string, now: Date) {
    const { rows } = await q.query<{ purpose: 'owner' | 'invite'; email: string | null; is_admin: boolean }>(
      `UPDATE setup_tokens SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2
       RETURNING purpose, email, is_admin`,
      [tokenHash, now],
    );
    return rows[0] ?? null;
  },
};

export interface SessionRow {
  sessionId: string;
  csrfHash: string;
  expiresAt: Date;
  revokedAt: Date | null;
  lastSeenAt: Date;
  user: AuthUser;
}

export const sessionsRepo = {
  async create(
    q: Queryable,
    s: {
      tokenHash: string;
      csrfHash: string;
      userId: string;
      ip: string | null;
      userAgent: string | null;
      expiresAt: Date;
    },
  ): Promise<string> {
    const { rows } = await q.query<{ id: string }>(
      'INSERT INTO sessions (token_hash, csrf_hash, user_id, ip, user_agent, expires_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id',
      [s.tokenHash, s.csrfHash, s.userId, s.ip, s.userAgent, s.expiresAt],
    );
    return rows[0]?.id ?? '';
  },
  async byTokenHash(q: Queryable, tokenHash: string): Promise<SessionRow | null> {
    const { rows } = await q.query<
      UserRow & {
        session_id: string;
        csrf_hash: string;
        expires_at: Date;
        revoked_at: Date | null;
        last_seen_at: Date;
      }
    >(
      `SELECT s.id AS session_id, s.csrf_hash, s.expires_at, s.revoked_at, s.last_seen_at,
              u.id, u.email, u.name, u.is_admin, u.created_at
         FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1`,
      [tokenHash],
    );
    const r = rows[0];
    if (!r) return null;
    return {
      sessionId: r.session_id,
      csrfHash: r.csrf_hash,
      expiresAt: r.expires_at,
      revokedAt: r.revoked_at,
      lastSeenAt: r.last_seen_at,
      user: toUser(r),
    };
  },
  async touch(q: Queryable, id: string, now: Date): Promise<void> {
    await q.query('UPDATE sessions SET last_seen_at = $2 WHERE id = $1', [id, now]);
  },
  async revoke(q: Queryable, id: string, now: Date): Promise<void> {
    await q.query('UPDATE sessions SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL', [id, now]);
  },
};
