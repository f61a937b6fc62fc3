/**
 * OTLP/HTTP ingest (docs/telemetry.md, "OpenTelemetry (OTLP/HTTP)"): `POST /v1/traces`, `/v1/logs`,
 * `/v1/metrics`, authenticated by an ingest key like the native ingest routes. Bodies are binary
 * protobuf or OTLP/JSON, optionally gzip; every answer, errors included, is in the request's format
 * (JSON when the content type is not one OTLP knows): Export*ServiceResponse on success, with
 * partial_success when items were rejected (still 200: the client must not retry them), and a
 * google.rpc.Status for 4xx/5xx whose ErrorInfo detail carries peep's error code.
 */
import { AppError, type Clock, type ErrorCode } from '@peep/pkg';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { decodedBody, mediaType } from '../telemetry/body.js';
import { type IngestAuth, ingestContext, registerIngestScope } from '../telemetry/ingest-auth.js';
import { checkContext, MAX_ITEMS } from '../telemetry/ingest-routes.js';
import type { IngestBatch, IngestPipeline } from '../telemetry/pipeline.js';
import type { CheckContext } from '../telemetry/types.js';
import {
  CONTENT_TYPES,
  decodeRequest,
  encodeResponse,
  encodeStatus,
  type Format,
  formatOf,
  type Msg,
  type Signal,
} from './decode.js';
import { type Mapped, mapLogs, mapMetrics, mapTraces } from './map.js';

export interface OtlpDeps {
  auth: IngestAuth;
  pipeline: IngestPipeline;
  clock: Clock;
  /** PEEP_INGEST_BODY_LIMIT: bytes as sent; gzip may expand to 4 times this. */
  bodyLimit: number;
}

const SIGNALS: {
  signal: Signal;
  noun: string;
  field: 'events' | 'logs' | 'metrics';
  map: (req: Msg, ctx: CheckContext) => Mapped<unknown>;
  summary: string;
}[] = [
  {
    signal: 'traces',
    noun: 'spans',
    field: 'events',
    map: mapTraces,
    summary: 'OTLP traces: SERVER spans become request events',
  },
  {
    signal: 'logs',
    noun: 'log records',
    field: 'logs',
    map: mapLogs,
    summary: 'OTLP logs: log records become runtime logs',
  },
  {
    signal: 'metrics',
    noun: 'data points',
    field: 'metrics',
    map: mapMetrics,
    summary: 'OTLP metrics: sum, gauge and histogram points',
  },
];

/** partial_success.error_message stays short: the reasons of the first few rejections. */
function partialMessage(noun: string, m: Mapped<unknown>): string {
  const more = m.rejected > m.messages.length ? ` (first ${m.messages.length} shown)` : '';
  return `${m.rejected} ${noun} rejected${more}: ${m.messages.join('; ')}`;
}

function toAppError(err: FastifyError | AppError): AppError {
  if (err instanceof AppError) return err;
  const byStatus: Partial<Record<number, ErrorCode>> = {
    400: 'invalid_payload',
    413: 'payload_too_large',
    415: 'unsupported_media_type',
  };
  const code = err.statusCode ? byStatus[err.statusCode] : undefined;
  if (code) return new AppError(code, code === 'invalid_payload' ? err.message : undefined);
  return new AppError('internal_error', 'Internal error; the server logged it with this request id.');
}

/** Errors as google.rpc.Status in the request's format (OTLP/HTTP "Failures"). */
function renderOtlpError(err: FastifyError | AppError, req: FastifyRequest, reply: FastifyReply) {
  const e = toAppError(err);
  if (e.status >= 500 && e.code !== 'ingest_overloaded') req.log.error({ err }, e.message);
  const format: Format = formatOf(mediaType(req)) ?? 'json';
  if (e.status === 503 || e.status === 429) reply.header('retry-after', '1');
  return reply
    .code(e.status)
    .type(CONTENT_TYPES[format])
    .send(encodeStatus(format, e.status, e.code, e.message));
}

export function registerOtlpRoutes(app: FastifyInstance, deps: OtlpDeps) {
  return registerIngestScope(app, { auth: deps.auth, bodyLimit: deps.bodyLimit }, (scope) => {
    scope.setErrorHandler(renderOtlpError);
    for (const s of SIGNALS) {
      scope.post(
        `/v1/${s.signal}`,
        {
          config: { auth: 'ingest' },
          schema: { tags: ['ingest'], summary: s.summary, security: [{ ingestKey: [] }] },
        },
        async (req, reply) => {
          const key = ingestContext(req);
          const format = formatOf(mediaType(req));
          if (!format)
            throw new AppError(
              'unsupported_media_type',
              'OTLP/HTTP bodies are application/x-protobuf or application/json.',
            );
          const msg = decodeRequest(s.signal, format, await decodedBody(req, deps.bodyLimit));
          const mapped = s.map(msg, checkContext(deps.clock, key.retentionDays));
          if (mapped.rows.length > MAX_ITEMS)
            throw new AppError(
              'payload_too_large',
              `At most ${MAX_ITEMS} items per request; send smaller batches.`,
            );
          if (mapped.rows.length > 0)
            await deps.pipeline.submit({
              projectId: key.projectId,
              environmentId: key.environmentId,
              [s.field]: mapped.rows,
            } as IngestBatch);
          const partial =
            mapped.rejected > 0
              ? { rejected: mapped.rejected, errorMessage: partialMessage(s.noun, mapped) }
              : null;
          return reply
            .code(200)
            .type(CONTENT_TYPES[format])
            .send(encodeResponse(s.signal, format, partial));
        },
      );
    }
  });
}
