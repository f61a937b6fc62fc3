/**
 * A short-lived cache of resolved credentials, so an authenticated request does not cost a database
 * round trip each time. It is exact only where every revocation is seen: revoking a token or ending a
 * session publishes `auth.revoked` on the bus, and the cache drops the entry before the next request.
 * With one API process (embedded PGlite) that holds; several replicas behind PostgreSQL run without it
 * until the NATS bus carries the event between them.
 */
import type { Bus } from '@peep/pkg';
import type { AuthContext } from './types.js';

export const AUTH_REVOKED = 'auth.revoked';
export interface AuthRevoked {
  tokenId?: string;
  sessionId?: string;
}

export interface CachedAuth {
  ctx: AuthContext;
  /** The credential's own expiry (checked on every hit). */
  expiresAt: Date | null;
  /** Last time last_used_at / last_seen_at was written. */
  touchedAt: number;
  cachedAt: number;
}

export interface AuthCache {
  get(key: string, now: number): CachedAuth | null;
  set(key: string, value: CachedAuth): void;
  readonly size: number;
}

export function createAuthCache(opts: { enabled: boolean; ttlMs: number; max: number; bus: Bus }): AuthCache {
  const entries = new Map<string, CachedAuth>();
  if (opts.enabled) {
    opts.bus.subscribe<AuthRevoked>(AUTH_REVOKED, ({ data }) => {
      for (const [k, v] of entries) {
        if (
          (data.tokenId && v.ctx.tokenId === data.tokenId) ||
          (data.sessionId && v.ctx.sessionId === data.sessionId)
        ) {
          entries.delete(k);
        }
      }
    });
  }
  return {
    get(key, now) {
      if (!opts.enabled) return null;
      const e = entries.get(key);
      if (!e) return null;
      if (now - e.cachedAt > opts.ttlMs || (e.expiresAt && e.expiresAt.getTime() <= now)) {
        entries.delete(key);
        return null;
      }
      return e;
    },
    set(key, value) {
      if (!opts.enabled) return;
      if (entries.size >= opts.max) {
        const oldest = entries.keys().next().value;
        if (oldest !== undefined) entries.delete(oldest);
      }
      entries.set(key, value);
    },
    get size() {
      return entries.size;
    },
  };
}
