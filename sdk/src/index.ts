/**
 * @peep/sdk: request metrics and structured logs from Node apps to peep, with no dependencies.
 *
 *   const peep = createPeep({ service: 'checkout' });   // key: PEEP_INGEST_KEY
 *   app.use(peep.express());                            // or peep.http(listener), peep.fastify, withPeep
 *   peep.logger.info('paid', { orderId });              // carries the request's id
 *
 * Requests are aggregated per route and window and go to `POST /api/v1/ingest/aggregates`, with a
 * sample as raw events to `/api/v1/ingest/events`; logs go to `/api/v1/ingest/logs` (docs/telemetry.md).
 */
export { currentRequest, normalizePath, parseTraceparent, type RequestContext } from './capture.js';
export { createPeep, getPeep, type Peep, type PeepStats, SDK_VERSION, withPeep } from './client.js';
export type {
  ExpressMiddleware,
  FastifyLike,
  FastifyPlugin,
  HttpOptions,
  NextOptions,
  RequestListener,
} from './frameworks.js';
export type { Attributes, Logger } from './logger.js';
export { LOG_LEVELS, type LogLevel, type PeepOptions, resolveOptions } from './options.js';
export type { KindStats, Stats } from './transport.js';
