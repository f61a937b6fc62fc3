/**
 * @peep/sdk: request metrics and structured logs from Node apps to peep.
 *
 * This package is a shell in this release: the ingest endpoints it will call
 * (`POST /api/v1/ingest/events`, `POST /api/v1/ingest/logs`, authenticated by an ingest key made in
 * the project's Ingest keys tab) arrive with the telemetry pipeline. Nothing here sends data yet.
 */
export const SDK_VERSION = '0.1.0';

export interface PeepSdkOptions {
  /** Base URL of the peep server, e.g. http://127.0.0.1:7070 */
  endpoint: string;
  /** An ingest key (`peep_ik_…`) scoped to one project and environment. */
  ingestKey: string;
  /** Logical service name, e.g. `checkout-api`. */
  service: string;
}

/** Checks options early so a misconfigured app fails at start-up, not on its first request. */
export function validateOptions(o: PeepSdkOptions): PeepSdkOptions {
  let url: URL;
  try {
    url = new URL(o.endpoint);
  } catch {
    throw new TypeError(`peep sdk: endpoint must be a URL, got "${o.endpoint}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new TypeError('peep sdk: endpoint must be http(s)');
  if (!o.ingestKey.startsWith('peep_ik_'))
    throw new TypeError('peep sdk: ingestKey must be an ingest key (peep_ik_…)');
  if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(o.service))
    throw new TypeError('peep sdk: service must be lowercase letters, digits and dashes');
  return { ...o, endpoint: url.toString().replace(/\/$/, '') };
}
