/**
 * The heartbeat push URL, `GET|POST /api/v1/heartbeat/<token>`: a cron job or worker calls it when
 * it ran. The token in the path is the credential (like an ingest key it is checked here, not by
 * user auth, and a push is data rather than a change, so it is not audited): only its SHA-256 is
 * stored. Any body and content type are accepted and ignored, so `curl -d ok URL` works too. Rate
 * limited per client address at 60 x PEEP_AUTH_RATE_LIMIT a minute (600 by default).
 */
import type { Config } from '@peep/pkg';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { errorResponses } from '../core/http.js';
import type { TargetService } from './service.js';

export const heartbeatPath = (token: string) => `/api/v1/heartbeat/${token}`;
const Params = Type.Object(
  { token: Type.String({ minLength: 1, maxLength: 200 }) },
  { additionalProperties: false },
);
const Ok = Type.Object({ ok: Type.Boolean(), targetId: Type.String() });

export async function registerHeartbeatRoutes(
  app: FastifyInstance,
  deps: { config: Config; targets: TargetService },
) {
  const { targets } = deps;
  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: 64 * 1024 }, (_req, _body, done) =>
      done(null, undefined),
    );
    scope.route<{ Params: { token: string } }>({
      method: ['GET', 'POST'],
      url: '/api/v1/heartbeat/:token',
      config: {
        auth: 'ingest',
        rateLimit: { max: deps.config.authRateLimit * 60, timeWindow: '1 minute' },
      },
      schema: {
        tags: ['uptime'],
        summary: 'Heartbeat push: the job behind this URL ran',
        security: [],
        params: Params,
        response: { 200: Ok, ...errorResponses },
      },
      handler: async (req) => {
        const { targetId } = await targets.beat(req.params.token);
        return { ok: true, targetId };
      },
    });
  });
}
