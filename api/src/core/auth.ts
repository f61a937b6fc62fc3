/**
 * Authentication (session cookie or bearer token) and the per-route checks every API route passes:
 * who may call it (`config.auth`), which token scope it needs, and CSRF for cookie-authenticated writes.
 */
import { AppError, type Db, safeEqual, sha256 } from '@peep/pkg';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { sessionsRepo } from '../auth/repo.js';
import { tokensRepo } from '../tokens/repo.js';
import type { AuthCache } from './auth-cache.js';
import type { AuthContext, Clock } from './types.js';

export const SESSION_COOKIE = 'peep_session';
export const CSRF_COOKIE = 'peep_csrf';
export const CSRF_HEADER = 'x-csrf-token';
/** last_used_at / last_seen_at are written at most this often per token, not on every request. */
const TOUCH_EVERY_MS = 60_000;

function bearer(req: FastifyRequest): string | null {
  const h = req.headers.authorization;
  if (!h) return null;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
  if (!m) throw new AppError('unauthenticated', 'The Authorization header must be "Bearer <token>".');
  return m[1] ?? null;
}

async function resolve(
  req: FastifyRequest,
  db: Db,
  clock: Clock,
  cache: AuthCache,
): Promise<AuthContext | null> {
  const now = clock.now();
  const token = bearer(req);
  const cookie = token ? null : req.cookies?.[SESSION_COOKIE];
  if (!token && !cookie) return null;
  const key = token ? `t:${sha256(token)}` : `s:${sha256(cookie ?? '')}`;
  const hit = cache.get(key, now.getTime());
  if (hit) {
    if (now.getTime() - hit.touchedAt > TOUCH_EVERY_MS) {
      hit.touchedAt = now.getTime();
      if (hit.ctx.tokenId) await tokensRepo.touch(db, hit.ctx.tokenId, now);
      else if (hit.ctx.sessionId) await sessionsRepo.touch(db, hit.ctx.sessionId, now);
    }
    return hit.ctx;
  }
  if (token) {
    if (!token.startsWith('peep_pat_') && !token.startsWith('peep_cli_')) {
      throw new AppError(
        'unauthenticated',
        'Unknown token. Personal tokens start with peep_pat_, CLI tokens with peep_cli_.',
      );
    }
    const t = await tokensRepo.byHash(db, key.slice(2));
    if (!t) throw new AppError('unauthenticated', 'Unknown token.');
    if (t.revokedAt) throw new AppError('token_revoked');
    if (t.expiresAt && t.expiresAt <= now) throw new AppError('token_expired');
    let touchedAt = t.lastUsedAt?.getTime() ?? 0;
    if (now.getTime() - touchedAt > TOUCH_EVERY_MS) {
      await tokensRepo.touch(db, t.token.id, now);
      touchedAt = now.getTime();
    }
    const ctx: AuthContext = { user: t.user, kind: 'token', scopes: t.token.scopes, tokenId: t.token.id };
    cache.set(key, { ctx, expiresAt: t.expiresAt, touchedAt, cachedAt: now.getTime() });
    return ctx;
  }
  const s = await sessionsRepo.byTokenHash(db, key.slice(2));
  if (!s || s.revokedAt) throw new AppError('unauthenticated', 'Your session ended. Sign in again.');
  if (s.expiresAt <= now) throw new AppError('token_expired', 'Your session expired. Sign in again.');
  let touchedAt = s.lastSeenAt.getTime();
  if (now.getTime() - touchedAt > TOUCH_EVERY_MS) {
    await sessionsRepo.touch(db, s.sessionId, now);
    touchedAt = now.getTime();
  }
  const ctx: AuthContext = {
    user: s.user,
    kind: 'session',
    scopes: ['read', 'write', ...(s.user.isAdmin ? (['admin'] as const) : [])],
    sessionId: s.sessionId,
    csrfHash: s.csrfHash,
  };
  cache.set(key, { ctx, expiresAt: s.expiresAt, touchedAt, cachedAt: now.getTime() });
  return ctx;
}

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

export function registerAuth(app: FastifyInstance, deps: { db: Db; clock: Clock; cache: AuthCache }) {
  app.decorateRequest('auth', null);
  app.decorateRequest('audit', null as never);
  // Credentials are resolved when the request arrives, before its body is parsed and validated, so a
  // write refused for a malformed body is still audited with who sent it. The checks run in preHandler.
  const failed = new WeakMap<object, unknown>();
  app.addHook('onRequest', async (req) => {
    req.audit = {};
    if (!req.routeOptions.url) return; // no such route: nothing to authorize
    if (req.routeOptions.config.auth === 'ingest') return; // ingest keys: see telemetry/ingest-auth.ts
    try {
      req.auth = await resolve(req, deps.db, deps.clock, deps.cache);
      if (req.auth) req.audit.actorEmail = req.auth.user.email;
    } catch (error) {
      failed.set(req, error);
    }
  });
  app.addHook('preHandler', async (req) => {
    const cfg = req.routeOptions.config;
    const mode = cfg.auth ?? 'public';
    // Public routes still learn who is calling when they can (e.g. logout, setup status); a bad token
    // on a public route is ignored rather than failing the call.
    if (mode === 'public' || mode === 'ingest') return;
    if (failed.has(req)) throw failed.get(req);
    const auth = req.auth;
    if (!auth) throw new AppError('unauthenticated', 'Sign in, or send "Authorization: Bearer <token>".');
    if (mode === 'session' && auth.kind !== 'session') {
      throw new AppError('forbidden', 'This action needs a dashboard session; tokens cannot do it.');
    }
    const needed = cfg.scope ?? (SAFE.has(req.method) ? 'read' : 'write');
    if (needed === 'admin' && !auth.user.isAdmin) throw new AppError('instance_admin_required');
    if (!auth.scopes.includes(needed)) {
      throw new AppError(
        'insufficient_scope',
        `This call needs the "${needed}" scope; the token has ${auth.scopes.join(', ') || 'none'}.`,
      );
    }
    if (auth.kind === 'session' && !SAFE.has(req.method)) checkCsrf(req, auth);
  });
}

export function checkCsrf(req: FastifyRequest, auth: AuthContext) {
  const header = req.headers[CSRF_HEADER];
  const value = Array.isArray(header) ? header[0] : header;
  if (!value || !auth.csrfHash || !safeEqual(sha256(value), auth.csrfHash)) {
    throw new AppError('csrf_token_invalid');
  }
}

/** The signed-in user of a route that required auth. */
export function currentAuth(req: FastifyRequest): AuthContext {
  if (!req.auth) throw new AppError('unauthenticated');
  return req.auth;
}

export function requireInstanceAdmin(req: FastifyRequest): AuthContext {
  const auth = currentAuth(req);
  if (!auth.user.isAdmin) throw new AppError('instance_admin_required');
  if (!auth.scopes.includes('admin'))
    throw new AppError('insufficient_scope', 'This call needs the "admin" scope.');
  return auth;
}
