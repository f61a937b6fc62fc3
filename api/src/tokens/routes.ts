import { CreateTokenRequest, CreateTokenResponse, type Static, TokenList } from '@peep/pkg/schemas';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { currentAuth } from '../core/auth.js';
import { errorResponses, noStore } from '../core/http.js';
import type { TokenService } from './service.js';

const TokenParams = Type.Object(
  { tokenId: Type.String({ format: 'uuid' }) },
  { additionalProperties: false },
);

export function registerTokenRoutes(app: FastifyInstance, deps: { tokens: TokenService }) {
  const { tokens } = deps;
  app.get(
    '/api/v1/tokens',
    {
      config: { auth: 'user' },
      schema: { tags: ['tokens'], response: { 200: TokenList, ...errorResponses } },
    },
    async (req) => ({
      tokens: await tokens.list(currentAuth(req).user.id),
    }),
  );

  app.post<{ Body: Static<typeof CreateTokenRequest> }>(
    '/api/v1/tokens',
    {
      config: { auth: 'user', audit: 'token.create' },
      schema: {
        tags: ['tokens'],
        body: CreateTokenRequest,
        response: { 201: CreateTokenResponse, ...errorResponses },
      },
    },
    async (req, reply) => {
      const out = await tokens.create(currentAuth(req), req.body);
      req.audit = { targetType: 'token', targetId: out.token.id };
      noStore(reply);
      return reply.code(201).send(out);
    },
  );

  app.delete<{ Params: Static<typeof TokenParams> }>(
    '/api/v1/tokens/:tokenId',
    {
      config: { auth: 'user', audit: 'token.revoke' },
      schema: {
        tags: ['tokens'],
        params: TokenParams,
        response: { 204: { type: 'null' }, ...errorResponses },
      },
    },
    async (req, reply) => {
      req.audit = { targetType: 'token', targetId: req.params.tokenId };
      await tokens.revoke(currentAuth(req).user.id, req.params.tokenId);
      return reply.code(204).send();
    },
  );
}
