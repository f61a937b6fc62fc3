/** Small helpers shared by route files. */

import type { Config } from '@peep/pkg';
import { ErrorBody } from '@peep/pkg/schemas';
import type { FastifyReply, FastifyRequest } from 'fastify';

/** Error responses every route may give, for the OpenAPI document. */
export const errorResponses = {
  400: ErrorBody,
  401: ErrorBody,
  403: ErrorBody,
  404: ErrorBody,
  409: ErrorBody,
  429: ErrorBody,
} as const;

export function clientMeta(req: FastifyRequest): { ip: string | null; userAgent: string | null } {
  const ua = req.headers['user-agent'];
  return { ip: req.ip ?? null, userAgent: typeof ua === 'string' ? ua.slice(0, 512) : null };
}

/** The external base URL: PEEP_PUBLIC_URL, else what the client used to reach us. */
export function baseUrl(req: FastifyRequest, config: Config): string {
  if (config.publicUrl) return config.publicUrl;
  return `${req.protocol}://${req.host}`;
}

export function noStore(reply: FastifyReply) {
  reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
}
