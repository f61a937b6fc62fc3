/** One error handler: AppError and Fastify's own errors become the documented envelope. */
import { AppError, type ErrorCode, type ErrorEnvelope } from '@peep/pkg';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

function fromFastify(err: FastifyError): AppError | null {
  if (err.validation) {
    const details = err.validation.map((v) => ({
      where: err.validationContext ?? 'body',
      path: v.instancePath || '/',
      message: v.message ?? 'invalid',
      ...(v.keyword === 'additionalProperties'
        ? { field: (v.params as { additionalProperty?: string }).additionalProperty }
        : {}),
    }));
    const first = details[0];
    const msg = first
      ? `${first.where}${first.path === '/' ? '' : first.path} ${first.message}${'field' in first ? `: ${first.field}` : ''}`
      : 'invalid request';
    return new AppError('validation_failed', msg, details);
  }
  const byCode: Partial<Record<string, ErrorCode>> = {
    FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
    FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
    FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'validation_failed',
    FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid_json',
    FST_ERR_CTP_INVALID_JSON_BODY: 'invalid_json',
  };
  const mapped = err.code ? byCode[err.code] : undefined;
  if (mapped)
    return new AppError(
      mapped,
      mapped === 'invalid_json' || mapped === 'validation_failed' ? err.message : undefined,
    );
  if (err instanceof SyntaxError || (err.statusCode === 400 && /JSON/i.test(err.message))) {
    return new AppError('invalid_json', `The body is not valid JSON: ${err.message}`);
  }
  if (err.statusCode === 429) return new AppError('rate_limited', err.message);
  if (err.statusCode === 413) return new AppError('payload_too_large');
  if (err.statusCode === 415) return new AppError('unsupported_media_type');
  if (err.statusCode === 404) return new AppError('route_not_found');
  if (err.statusCode === 400 && err.code === 'FST_ERR_BAD_URL')
    return new AppError('validation_failed', 'malformed URL');
  return null;
}

export function renderError(req: FastifyRequest, reply: FastifyReply, e: AppError) {
  const body: ErrorEnvelope = { error: { code: e.code, message: e.message, requestId: String(req.id) } };
  if (e.details !== undefined) body.error.details = e.details;
  if (e.code === 'ingest_overloaded' || e.code === 'service_unavailable') reply.header('retry-after', '1');
  return reply.code(e.status).type('application/json; charset=utf-8').send(body);
}

/**
 * The database unreachable or refusing connections (network errors, PostgreSQL classes 08 and 57,
 * too many connections): the request may succeed shortly, so 503 rather than 500.
 */
function unavailable(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  if (typeof code !== 'string') return false;
  return (
    /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|ENOTFOUND|EAI_AGAIN)$/.test(code) ||
    /^(08|57P0)/.test(code) ||
    code === '53300'
  );
}

export function registerErrorHandling(app: FastifyInstance) {
  app.setErrorHandler((err: FastifyError, req, reply) => {
    const appErr = err instanceof AppError ? err : fromFastify(err);
    if (appErr) {
      if (appErr.status >= 500) req.log.error({ err }, appErr.message);
      return renderError(req, reply, appErr);
    }
    if (
      unavailable(err) ||
      (err instanceof Error && /Connection terminated|not queryable/.test(err.message))
    ) {
      req.log.error({ err }, 'database unavailable');
      return renderError(req, reply, new AppError('service_unavailable'));
    }
    req.log.error({ err }, 'unhandled error');
    return renderError(
      req,
      reply,
      new AppError('internal_error', 'Internal error; the server logged it with this request id.'),
    );
  });
  app.setNotFoundHandler((req, reply) =>
    renderError(
      req,
      reply,
      new AppError('route_not_found', `No route ${req.method} ${req.url.split('?')[0]}`),
    ),
  );
}
