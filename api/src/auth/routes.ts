import {
  InviteRequest,
  InviteResponse,
  LoginRequest,
  MeResponse,
  SessionResponse,
  SetupRequest,
  SetupStatus,
  type Static,
} from '@peep/pkg/schemas';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AuditService } from '../audit/service.js';
import { CSRF_COOKIE, currentAuth, requireInstanceAdmin, SESSION_COOKIE } from '../core/auth.js';
import { baseUrl, clientMeta, errorResponses, noStore } from '../core/http.js';
import type { Deps } from '../core/types.js';
import type { AuthService, NewSession } from './service.js';

export function registerAuthRoutes(
  app: FastifyInstance,
  deps: Deps & { auth: AuthService; audit: AuditService },
) {
  const { auth, config } = deps;
  const rateLimit = { max: config.authRateLimit, timeWindow: '1 minute' };

  function secureCookies(req: FastifyRequest) {
    return config.publicUrl ? config.publicUrl.startsWith('https:') : req.protocol === 'https';
  }
  function setSessionCookies(req: FastifyRequest, reply: FastifyReply, s: NewSession) {
    const common = { path: '/', sameSite: 'lax' as const, secure: secureCookies(req), expires: s.expiresAt };
    reply.setCookie(SESSION_COOKIE, s.sessionToken, { ...common, httpOnly: true });
    reply.setCookie(CSRF_COOKIE, s.csrfToken, { ...common, httpOnly: false });
    noStore(reply);
  }

  app.get('/api/v1/setup', { schema: { tags: ['auth'], response: { 200: SetupStatus } } }, async () => ({
    needsSetup: await auth.needsSetup(),
  }));

  app.post<{ Body: Static<typeof SetupRequest> }>(
    '/api/v1/setup',
    {
      config: { auth: 'public', audit: 'auth.setup', rateLimit },
      schema: { tags: ['auth'], body: SetupRequest, response: { 201: SessionResponse, ...errorResponses } },
    },
    async (req, reply) => {
      const s = await auth.completeSetup(req.body, clientMeta(req));
      req.audit = { actorEmail: s.user.email, targetType: 'user', targetId: s.user.id };
      setSessionCookies(req, reply, s);
      return reply.code(201).send({ user: s.user, csrfToken: s.csrfToken });
    },
  );

  app.post<{ Body: Static<typeof LoginRequest> }>(
    '/api/v1/auth/login',
    {
      config: { auth: 'public', audit: 'auth.login', rateLimit },
      schema: { tags: ['auth'], body: LoginRequest, response: { 200: SessionResponse, ...errorResponses } },
    },
    async (req, reply) => {
      req.audit = { actorEmail: req.body.email };
      const s = await auth.login(req.body.email, req.body.password, clientMeta(req));
      req.audit = { actorEmail: s.user.email, targetType: 'user', targetId: s.user.id };
      setSessionCookies(req, reply, s);
      return { user: s.user, csrfToken: s.csrfToken };
    },
  );

  app.post(
    '/api/v1/auth/logout',
    {
      config: { auth: 'session', audit: 'auth.logout' },
      schema: { tags: ['auth'], response: { 204: { type: 'null' }, ...errorResponses } },
    },
    async (req, reply) => {
      const a = currentAuth(req);
      if (a.sessionId) await auth.logout(a.sessionId);
      reply.clearCookie(SESSION_COOKIE, { path: '/' }).clearCookie(CSRF_COOKIE, { path: '/' });
      return reply.code(204).send();
    },
  );

  app.get(
    '/api/v1/me',
    {
      config: { auth: 'user' },
      schema: { tags: ['auth'], response: { 200: MeResponse, ...errorResponses } },
    },
    async (req) => {
      const a = currentAuth(req);
      return {
        user: a.user,
        auth: { kind: a.kind, scopes: a.scopes, ...(a.tokenId ? { tokenId: a.tokenId } : {}) },
      };
    },
  );

  app.post<{ Body: Static<typeof InviteRequest> }>(
    '/api/v1/invites',
    {
      config: { auth: 'user', audit: 'user.invite', scope: 'admin' },
      schema: { tags: ['auth'], body: InviteRequest, response: { 201: InviteResponse, ...errorResponses } },
    },
    async (req, reply) => {
      const a = requireInstanceAdmin(req);
      const inv = await auth.invite(a.user.id, req.body.email, req.body.admin ?? false);
      req.audit = { targetType: 'invite', targetId: req.body.email };
      return reply.code(201).send({
        email: req.body.email,
        inviteUrl: `${baseUrl(req, config)}/setup?token=${inv.token}`,
        expiresAt: inv.expiresAt.toISOString(),
      });
    },
  );
}
