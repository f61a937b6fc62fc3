/**
 * The telemetry API's response shapes (docs/telemetry.md), shared by the API that builds them, the
 * CLI that prints them and the dashboard that draws them.
 */

export const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;
export type Level = (typeof LEVELS)[number];

export type Attributes = Record<string, string | number | boolean>;

/** A request event as live streams and `GET .../telemetry/events` show it. */
export interface StreamEvent {
  id: string;
  time: string;
  environmentId: string;
  service: string;
  route: string;
  method: string;
  status: number;
  durationMs: number;
  bytesIn: number | null;
  bytesOut: number | null;
  requestId: string | null;
  traceId: string | null;
  instance: string | null;
  attributes: Attributes | null;
}

export interface LogEntry {
  id: string;
  time: string;
  environmentId: string;
  service: string;
  level: Level;
  message: string;
  requestId: string | null;
  traceId: string | null;
  spanId: string | null;
  instance: string | null;
  attributes: Attributes | null;
}

export interface LogPage {
  logs: LogEntry[];
  nextCursor: string | null;
}

/** `GET .../telemetry/summary`: one window. */
export interface Summary {
  from: string;
  to: string;
  count: number;
  rps: number;
  errors: number;
  errorRate: number | null;
  p50: number | null;
  p90: number | null;
  p95: number | null;
  p99: number | null;
  avg: number | null;
  min: number | null;
  max: number | null;
  bytesIn: number;
  bytesOut: number;
}

/** A row of `GET .../telemetry/routes`. */
export interface RouteStats {
  service: string;
  route: string;
  method: string;
  count: number;
  rps: number;
  errors: number;
  errorRate: number | null;
  p50: number | null;
  p95: number | null;
  p99: number | null;
}

/** `GET .../telemetry/series`: one column per measure, one entry per step (percentiles null when empty). */
export interface Series {
  from: string;
  to: string;
  step: number;
  t: number[];
  count: number[];
  rps: number[];
  errors: number[];
  errorRate: (number | null)[];
  p50: (number | null)[];
  p90: (number | null)[];
  p95: (number | null)[];
  p99: (number | null)[];
  avg: (number | null)[];
  max: (number | null)[];
}
