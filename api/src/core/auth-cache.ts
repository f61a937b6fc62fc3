/**
 * A short-lived cache of resolved credentials, so an authenticated request does not cost a database
 * round trip each time. It is exact only where every revocation is seen: revoking a token or ending a
 * session publishes `auth.revoked` on the bus, and the cache drops the entry before the next request.
 * That holds with one API process (embedded PGlite, in-process bus) and with replicas sharing a NATS
 * bus; replicas on PostgreSQL without NATS run without it. While a NATS bus is disconnected the cache
 * is bypassed, and after any connection loss (`bus.gaps` moved) it starts empty, since revocations may
 * have been missed meanwhile.
 */
import type { Bus } from '@peep/pkg';
import type { AuthContext } from './types.js';

export const AUTH_REVOKED = 'auth.revoked';
export interface AuthRevoked {
  tokenId?: string;
  sessionId?: string;
  /** An ingest key (api/src/telemetry/ingest-auth.ts). */
  ingestKeyId?: string;
}

/** What a revocable cache holds: when it was cached, and the credential's own expiry if it has one. */
export interface Cached {
  cachedAt: number;
  expiresAt?: Date | null;
}

export interface RevocableCache<V extends Cached> {
  get(key: string, now: number): V | null;
  set(key: string, value: V): void;
  readonly size: number;
}

/**
 * Entries dropped when an `auth.revoked` message `revokes` them, after `ttlMs`, at their own expiry,
 * and all at once when the bus may have missed a revocation (bypassed while disconnected).
 */
export function createRevocableCache<V extends Cached>(opts: {
  enabled: boolean;
  ttlMs: number;
  max: number;
  bus: Bus;
  revokes: (msg: AuthRevoked, value: V) => boolean;
}): RevocableCache<V> {
  const entries = new Map<string, V>();
  const bus = opts.bus;
  let seenGaps = bus.gaps;
  /** Whether entries can be trusted now; forgets them all when the bus may have missed a revocation. */
  const usable = () => {
    if (!opts.enabled) return false;
    if (bus.gaps !== seenGaps) {
      entries.clear();
      seenGaps = bus.gaps;
    }
    return bus.connected;
  };
  if (opts.enabled) {
    bus.subscribe<AuthRevoked>(AUTH_REVOKED, ({ data }) => {
      for (const [k, v] of entries) if (opts.revokes(data, v)) entries.delete(k);
    });
  }
  return {
    get(key, now) {
      if (!usable()) return null;
      const e = entries.get(key);
      if (!e) return null;
      if (now - e.cachedAt > opts.ttlMs || (e.expiresAt && e.expiresAt.getTime() <= now)) {
        entries.delete(key);
        return null;
      }
      return e;
    },
    set(key, value) {
      if (!usable()) return;
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

export interface CachedAuth extends Cached {
  ctx: AuthContext;
  /** The credential's own expiry (checked on every hit). */
  expiresAt: Date | null;
  /** Last time last_used_at / last_seen_at was written. */
  touchedAt: number;
}

export type AuthCache = RevocableCache<CachedAuth>;

export function createAuthCache(opts: { enabled: boolean; ttlMs: number; max: number; bus: Bus }): AuthCache {
  return createRevocableCache<CachedAuth>({
    ...opts,
    revokes: (d, v) =>
      Boolean((d.tokenId && v.ctx.tokenId === d.tokenId) || (d.sessionId && v.ctx.sessionId === d.sessionId)),
  });
}
