/**
 * Live streams over Server-Sent Events: request events and logs as they are committed, with the
 * query filters. Connections listen on their project's bus subject (one subscription per process); with `Last-Event-ID` it
 * first replays the stored rows after that id (while buffering live ones), then continues live,
 * skipping what the replay already sent. A connection whose unsent output passes
 * PEEP_STREAM_BUFFER_BYTES is told `consumer_too_slow` and closed, so a slow reader costs bounded
 * memory. Each item is serialized once, however many connections receive it.
 */
import { PassThrough } from 'node:stream';
import { AppError, type Bus, type Config, type Db } from '@peep/pkg';
import { ProjectParams, type Static } from '@peep/pkg/schemas';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { currentAuth } from '../core/auth.js';
import type { ProjectService } from '../projects/service.js';
import { eventsSubject, logsSubject, type StreamEventsMessage, type StreamLogsMessage } from './pipeline.js';
import { FILTERS, readFilters, readLogFilters, readQuery } from './routes.js';
import type { Filters, LogFilters, TelemetryService } from './service.js';
import { LEVELS, type LogEntry, type StreamEvent } from './types.js';

const REPLAY_PAGE = 1000;
/** Rows replayed at most on resume; beyond that the client is told to reload. */
const REPLAY_MAX = 100_000;

const encoded = new WeakMap<object, string>();
function frame(kind: 'request' | 'log', item: StreamEvent | LogEntry): string {
  let s = encoded.get(item);
  if (s === undefined) {
    s = `id: ${item.id}\nevent: ${kind}\ndata: ${JSON.stringify(item)}\n\n`;
    encoded.set(item, s);
  }
  return s;
}

export function matchesEvent(f: Filters, e: StreamEvent): boolean {
  return (
    (!f.environmentId || e.environmentId === f.environmentId) &&
    (!f.service || e.service === f.service) &&
    (!f.route || e.route === f.route) &&
    (!f.method || e.method === f.method) &&
    (f.statusClass === undefined || Math.floor(e.status / 100) === f.statusClass)
  );
}

export function matchesLog(f: LogFilters, l: LogEntry): boolean {
  if (f.environmentId && l.environmentId !== f.environmentId) return false;
  if (f.service && l.service !== f.service) return false;
  if (f.level && LEVELS.indexOf(l.level) < LEVELS.indexOf(f.level)) return false;
  if (f.q && !l.message.toLowerCase().includes(f.q.toLowerCase())) return false;
  if (f.requestId && l.requestId !== f.requestId) return false;
  if (f.traceId && l.traceId !== f.traceId) return false;
  if (f.attributes) {
    for (const [k, v] of Object.entries(f.attributes)) if (String(l.attributes?.[k]) !== v) return false;
  }
  return true;
}

interface Conn {
  end(reason?: string): void;
  flush(): void;
}

/**
 * Output to each connection is coalesced and written every FLUSH_MS: one socket write per
 * connection per tick instead of one per bus message (a thousand connections at fifty messages a
 * second would otherwise cost fifty thousand writes a second).
 */
const FLUSH_MS = 50;

interface Listener<T> {
  /** The service filter, if any: such listeners only see that service's items. */
  service: string | undefined;
  deliver(items: T[]): void;
}

export function createStreams(deps: { db: Db; bus: Bus; config: Config; telemetry: TelemetryService }) {
  const open = new Set<Conn>();
  const dirty = new Set<Conn>();
  const { config } = deps;
  const ticker = setInterval(() => {
    for (const c of dirty) c.flush();
    dirty.clear();
  }, FLUSH_MS);
  ticker.unref();

  /**
   * One bus subscription per subject and process, however many connections: each message is
   * split by service once, and a connection filtering one service only looks at that service's
   * items (a thousand dashboards on fifty services cost fifty scans, not a thousand).
   */
  const hubs = new Map<string, { listeners: Set<Listener<never>>; unsubscribe: () => void }>();
  function listen<T extends { service: string }>(subject: string, l: Listener<T>): () => void {
    let h = hubs.get(subject);
    if (!h) {
      const listeners = new Set<Listener<never>>();
      const unsubscribe = deps.bus.subscribe<{ items: T[] }>(subject, ({ data }) => {
        let bySvc: Map<string, T[]> | null = null;
        for (const x of listeners as Set<Listener<T>>) {
          if (x.service === undefined) {
            x.deliver(data.items);
            continue;
          }
          if (!bySvc) {
            bySvc = new Map();
            for (const it of data.items) {
              const a = bySvc.get(it.service);
              if (a) a.push(it);
              else bySvc.set(it.service, [it]);
            }
          }
          const mine = bySvc.get(x.service);
          if (mine) x.deliver(mine);
        }
      });
      h = { listeners, unsubscribe };
      hubs.set(subject, h);
    }
    const hub = h;
    hub.listeners.add(l as Listener<never>);
    return () => {
      hub.listeners.delete(l as Listener<never>);
      if (hub.listeners.size === 0) {
        hub.unsubscribe();
        hubs.delete(subject);
      }
    };
  }

  function start<T extends StreamEvent | LogEntry>(
    reply: FastifyReply,
    o: {
      kind: 'request' | 'log';
      subject: string;
      service: string | undefined;
      match: (item: T) => boolean;
      replay: (afterId: number, limit: number) => Promise<T[]>;
      lastEventId: number | null;
    },
  ) {
    const out = new PassThrough();
    const raw = reply.raw;
    let closed = false;
    let replaying = o.lastEventId !== null;
    let buffered: T[] = [];
    const replayed = new Set<string>();
    let queued = '';
    const pending = () => out.writableLength + (raw.writableLength ?? 0) + queued.length;

    const conn: Conn = {
      flush() {
        if (closed || queued === '') return;
        out.write(queued);
        queued = '';
      },
      end(reason) {
        if (closed) return;
        conn.flush();
        closed = true;
        dirty.delete(conn);
        unsubscribe();
        clearInterval(heartbeat);
        open.delete(conn);
        if (reason) out.write(`event: error\ndata: ${JSON.stringify({ code: reason })}\n\n`);
        out.end();
        // A consumer that stopped reading would hold the socket open: cut it.
        if (reason === 'consumer_too_slow') setTimeout(() => raw.destroy(), 100).unref();
      },
    };
    const write = (s: string) => {
      if (closed) return;
      queued += s;
      dirty.add(conn);
      if (pending() > config.streamBufferBytes) {
        queued = '';
        conn.end('consumer_too_slow');
      }
    };
    const unsubscribe = listen<T>(o.subject, {
      service: o.service,
      deliver(items) {
        if (closed) return;
        if (replaying) {
          for (const it of items) if (o.match(it)) buffered.push(it);
          if (buffered.length > REPLAY_MAX) conn.end('consumer_too_slow');
          return;
        }
        let s = '';
        for (const it of items) if (o.match(it)) s += frame(o.kind, it);
        if (s) write(s);
      },
    });
    const heartbeat = setInterval(() => write(': heartbeat\n\n'), config.streamHeartbeatSeconds * 1000);
    heartbeat.unref();
    open.add(conn);
    raw.on('close', () => conn.end());

    reply
      .header('content-type', 'text/event-stream; charset=utf-8')
      .header('cache-control', 'no-cache, no-transform')
      .header('x-accel-buffering', 'no')
      .header('connection', 'keep-alive');
    // The first bytes tell EventSource (and proxies) the stream is open, and how soon to reconnect.
    out.write(`retry: 2000\n: connected\n\n`);

    if (o.lastEventId !== null) {
      void (async () => {
        try {
          let after = o.lastEventId as number;
          let total = 0;
          for (;;) {
            const page = await o.replay(after, REPLAY_PAGE);
            for (const it of page) {
              replayed.add(it.id);
              write(frame(o.kind, it));
            }
            total += page.length;
            if (page.length < REPLAY_PAGE || closed) break;
            if (total >= REPLAY_MAX) return conn.end('replay_too_long');
            after = Number(page[page.length - 1]?.id);
          }
          replaying = false;
          for (const it of buffered) if (!replayed.has(it.id)) write(frame(o.kind, it));
          buffered = [];
          replayed.clear();
        } catch {
          conn.end('replay_failed');
        }
      })();
    }
    return reply.send(out);
  }

  function lastEventId(req: FastifyRequest, q: Record<string, string>): number | null {
    const h = req.headers['last-event-id'];
    const v = (Array.isArray(h) ? h[0] : h) ?? q.lastEventId;
    if (v === undefined || v === '') return null;
    if (!/^\d{1,18}$/.test(v)) throw new AppError('validation_failed', 'Last-Event-ID must be an event id.');
    return Number(v);
  }

  return {
    events(
      req: FastifyRequest,
      reply: FastifyReply,
      projectId: string,
      f: Filters,
      q: Record<string, string>,
    ) {
      return start<StreamEvent>(reply, {
        kind: 'request',
        subject: eventsSubject(projectId),
        service: f.service,
        match: (e) => matchesEvent(f, e),
        replay: (after, limit) => deps.telemetry.eventsAfter(projectId, f, after, limit),
        lastEventId: lastEventId(req, q),
      });
    },
    logs(
      req: FastifyRequest,
      reply: FastifyReply,
      projectId: string,
      f: LogFilters,
      q: Record<string, string>,
    ) {
      return start<LogEntry>(reply, {
        kind: 'log',
        subject: logsSubject(projectId),
        service: f.service,
        match: (l) => matchesLog(f, l),
        replay: (after, limit) => deps.telemetry.logsAfter(projectId, f, after, limit),
        lastEventId: lastEventId(req, q),
      });
    },
    open: () => open.size,
    closeAll() {
      for (const c of [...open]) c.end('server_shutting_down');
    },
  };
}
export type Streams = ReturnType<typeof createStreams>;

// Bus payload types, re-exported for tests and other subscribers.
export type { StreamEventsMessage, StreamLogsMessage };

export function registerStreamRoutes(
  app: FastifyInstance,
  deps: { projects: ProjectService; streams: Streams; telemetry: TelemetryService },
) {
  const { projects, streams, telemetry } = deps;
  const opts = (summary: string) => ({
    config: { auth: 'user' as const },
    schema: { tags: ['telemetry'], summary, params: ProjectParams },
  });
  app.get<{ Params: Static<typeof ProjectParams> }>(
    '/api/v1/projects/:projectId/stream/events',
    opts('Live request events (Server-Sent Events)'),
    async (req, reply) => {
      const p = await projects.access(currentAuth(req).user.id, req.params.projectId, 'viewer');
      const { values } = readQuery(req.query, [...FILTERS, 'lastEventId']);
      return streams.events(req, reply, p.id, await readFilters(telemetry, p.id, values), values);
    },
  );
  app.get<{ Params: Static<typeof ProjectParams> }>(
    '/api/v1/projects/:projectId/stream/logs',
    opts('Live runtime logs (Server-Sent Events)'),
    async (req, reply) => {
      const p = await projects.access(currentAuth(req).user.id, req.params.projectId, 'viewer');
      const q = readQuery(
        req.query,
        ['env', 'service', 'level', 'q', 'requestId', 'traceId', 'lastEventId'],
        true,
      );
      return streams.logs(req, reply, p.id, await readLogFilters(telemetry, p.id, q), q.values);
    },
  );
}
