import formbody from '@fastify/formbody';
import { DeviceRequestInfo, type Static, UserCodeParams } from '@peep/pkg/schemas';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { AuditService } from '../audit/service.js';
import { currentAuth } from '../core/auth.js';
import { baseUrl, clientMeta, errorResponses, noStore } from '../core/http.js';
import type { Deps } from '../core/types.js';
import { DEVICE_GRANT, type DeviceService, OAuthError } from './service.js';

const OAuthErrorBody = Type.Object({ error: Type.String(), error_description: Type.Optional(Type.String()) });
const FormParams = Type.Record(Type.String(), Type.String());

export function registerDeviceRoutes(
  app: FastifyInstance,
  deps: Deps & { device: DeviceService; audit: AuditService },
) {
  const { device, config, audit } = deps;

  app.get('/.well-known/oauth-authorization-server', { schema: { tags: ['oauth'] } }, async (req) => {
    const base = baseUrl(req, config);
    return {
      issuer: base,
      device_authorization_endpoint: `${base}/api/v1/oauth/device_authorization`,
      token_endpoint: `${base}/api/v1/oauth/token`,
      grant_types_supported: [DEVICE_GRANT],
      response_types_supported: [],
      scopes_supported: ['read', 'write', 'admin'],
      token_endpoint_auth_methods_supported: ['none'],
      service_documentation: `${base}/api/openapi.json`,
    };
  });

  // The OAuth endpoints take application/x-www-form-urlencoded (RFC 6749 §3.2) and answer RFC errors.
  app.register(async (oauth) => {
    await oauth.register(formbody, { bodyLimit: 16 * 1024 });
    oauth.setErrorHandler((err, req, reply) => {
      noStore(reply);
      if (err instanceof OAuthError)
        return reply.code(err.status).send({ error: err.error, error_description: err.description });
      const e = err as { statusCode?: number; code?: string; validation?: unknown; message: string };
      if (e.statusCode === 415 || e.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
        return reply
          .code(400)
          .send({ error: 'invalid_request', error_description: 'Send application/x-www-form-urlencoded.' });
      }
      if (e.statusCode && e.statusCode < 500)
        return reply.code(400).send({ error: 'invalid_request', error_description: e.message });
      req.log.error({ err }, 'oauth endpoint failed');
      return reply.code(500).send({ error: 'server_error', error_description: 'Internal error.' });
    });
    oauth.removeContentTypeParser('application/json');

    oauth.post<{ Body: Record<string, string> }>(
      '/api/v1/oauth/device_authorization',
      {
        config: { auth: 'public', rateLimit: { max: config.authRateLimit, timeWindow: '1 minute' } },
        schema: { tags: ['oauth'], body: FormParams, response: { 400: OAuthErrorBody, 401: OAuthErrorBody } },
      },
      async (req, reply) => {
        noStore(reply);
        return device.authorize({
          clientId: req.body?.client_id,
          scope: req.body?.scope,
          baseUrl: baseUrl(req, config),
          ...clientMeta(req),
        });
      },
    );

    oauth.post<{ Body: Record<string, string> }>(
      '/api/v1/oauth/token',
      {
        config: { auth: 'public' },
        schema: { tags: ['oauth'], body: FormParams, response: { 400: OAuthErrorBody, 401: OAuthErrorBody } },
      },
      async (req, reply) => {
        noStore(reply);
        const out = await device.token({
          grantType: req.body?.grant_type,
          deviceCode: req.body?.device_code,
          clientId: req.body?.client_id,
        });
        await audit.record({
          actorId: out.userId,
          actorEmail: null,
          action: 'oauth.token_issued',
          targetType: 'token',
          targetId: out.tokenId,
          requestId: String(req.id),
          outcome: 'success',
          status: 200,
          ...clientMeta(req),
        });
        return { access_token: out.access_token, token_type: out.token_type, scope: out.scope };
      },
    );
  });

  const rateLimit = { max: config.authRateLimit, timeWindow: '1 minute' };
  app.get<{ Params: Static<typeof UserCodeParams> }>(
    '/api/v1/device/:userCode',
    {
      config: { auth: 'session', rateLimit },
      schema: {
        tags: ['oauth'],
        params: UserCodeParams,
        response: { 200: DeviceRequestInfo, ...errorResponses },
      },
    },
    async (req) => device.describe(req.params.userCode),
  );
  for (const decision of ['approve', 'deny'] as const) {
    app.post<{ Params: Static<typeof UserCodeParams> }>(
      `/api/v1/device/:userCode/${decision}`,
      {
        config: { auth: 'session', rateLimit, audit: `device.${decision}` },
        schema: {
          tags: ['oauth'],
          params: UserCodeParams,
          response: { 200: Type.Object({ status: Type.String() }), ...errorResponses },
        },
      },
      async (req) => {
        const out = await device.decide(
          req.params.userCode,
          currentAuth(req).user.id,
          decision === 'approve' ? 'approved' : 'denied',
        );
        req.audit = { targetType: 'device_code', targetId: out.id };
        return { status: out.status };
      },
    );
  }
}
