/**
 * `peep logs`: a project's runtime logs, oldest first so the newest line is at the bottom, from
 * GET /api/v1/projects/:id/logs (paged with its cursor). `--follow` then stays on the live stream
 * GET …/stream/logs (Server-Sent Events, read with fetch and the small parser below), reconnecting
 * with Last-Event-ID after a drop so no line is missed or repeated; Ctrl-C ends it with exit 0.
 * `--json` prints one LogEntry per line (NDJSON), in the same order.
 */
import type { ApiClient } from '../client.js';
import { USER_AGENT, unreachable } from '../client.js';
import type { Context } from '../context.js';
import { CliError, exitCodeForStatus } from '../errors.js';
import type { Colors } from '../output.js';
import { pickProject } from './project-ref.js';

export interface LogsOptions {
  project?: string;
  follow?: boolean;
  service?: string;
  env?: string;
  level?: string;
  grep?: string;
  requestId?: string;
  since?: string;
  limit?: number;
}

export interface LogEntry {
  id: string;
  time: string;
  environmentId: string;
  service: string;
  level: string;
  message: string;
  requestId: string | null;
  traceId: string | null;
  spanId: string | null;
  instance: string | null;
  attributes: Record<string, string | number | boolean> | null;
}

export interface SseMessage {
  id?: string;
  event: string;
  data: string;
}

/**
 * Server-Sent Events from a byte stream (the WHATWG event-stream format): `field: value` lines, a
 * blank line ends a message, `:` starts a comment (heartbeats), `data` lines join with newlines.
 */
export async function* parseSse(body: AsyncIterable<Uint8Array>): AsyncGenerator<SseMessage> {
  const decoder = new TextDecoder();
  let buf = '';
  let id: string | undefined;
  let event = '';
  let data: string[] = [];
  let sawField = false;
  const dispatch = function* () {
    if (sawField && data.length > 0) yield { id, event: event || 'message', data: data.join('\n') };
    event = '';
    data = [];
    id = undefined;
    sawField = false;
  };
  for await (const chunk of body) {
    buf += decoder.decode(chunk, { stream: true });
    for (;;) {
      const m = /\r\n|\r|\n/.exec(buf);
      if (!m) break;
      // A lone \r at the end may be the first half of \r\n: wait for more.
      if (m[0] === '\r' && m.index === buf.length - 1) break;
      const line = buf.slice(0, m.index);
      buf = buf.slice(m.index + m[0].length);
      if (line === '') {
        yield* dispatch();
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      sawField = true;
      if (field === 'data') data.push(value);
      else if (field === 'event') event = value;
      else if (field === 'id' && !value.includes('\0')) id = value;
    }
  }
}

const LEVEL_WIDTH = 5;

export function formatLog(l: LogEntry, c: Colors): string {
  const t = new Date(l.time);
  const time = Number.isNaN(t.getTime()) ? l.time : t.toISOString().slice(0, 23).replace('T', ' ');
  const lv = l.level.toUpperCase().padEnd(LEVEL_WIDTH);
  const style =
    l.level === 'error' || l.level === 'fatal'
      ? c.red
      : l.level === 'warn'
        ? c.yellow
        : l.level === 'info'
          ? c.green
          : c.dim;
  const req = l.requestId ? `  ${c.dim(`req=${l.requestId}`)}` : '';
  return `${c.dim(time)} ${style(lv)} ${c.cyan(l.service)}  ${l.message}${req}`;
}

function filters(o: LogsOptions): Record<string, string | undefined> {
  return { env: o.env, service: o.service, level: o.level, q: o.grep, requestId: o.requestId };
}

/** The newest `limit` logs matching, newest first (several pages when limit > 500). */
async function recent(api: ApiClient, projectId: string, o: LogsOptions, limit: number): Promise<LogEntry[]> {
  const out: LogEntry[] = [];
  let cursor: string | undefined;
  do {
    const page = await api.get<{ logs: LogEntry[]; nextCursor: string | null }>(
      `/api/v1/projects/${projectId}/logs`,
      { ...filters(o), from: o.since, cursor, limit: Math.min(500, limit - out.length) },
    );
    out.push(...page.logs);
    cursor = page.nextCursor ?? undefined;
  } while (cursor && out.length < limit);
  return out.slice(0, limit);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        resolve();
      },
      { once: true },
    );
  });
}

export async function logs(ctx: Context, o: LogsOptions): Promise<void> {
  const api = ctx.client();
  const p = await pickProject(ctx, api, o.project);
  const json = ctx.out.json;
  const print = (l: LogEntry) =>
    process.stdout.write(json ? `${JSON.stringify(l)}\n` : `${formatLog(l, ctx.out.c)}\n`);

  const first = await recent(api, p.id, o, o.limit ?? (o.follow ? 20 : 100));
  first.reverse();
  for (const l of first) print(l);
  if (!o.follow) {
    if (first.length === 0) ctx.out.note(ctx.out.c.dim('No logs match.'));
    return;
  }

  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await follow(ctx, p.id, o, first.at(-1)?.id, stop.signal, print);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

async function follow(
  ctx: Context,
  projectId: string,
  o: LogsOptions,
  after: string | undefined,
  stop: AbortSignal,
  print: (l: LogEntry) => void,
): Promise<void> {
  const token = ctx.token()?.value;
  const url = new URL(`${ctx.server}/api/v1/projects/${projectId}/stream/logs`);
  for (const [k, v] of Object.entries(filters(o))) if (v) url.searchParams.set(k, v);
  let last = after;
  let delay = 500;
  while (!stop.aborted) {
    try {
      const headers: Record<string, string> = { accept: 'text/event-stream', 'user-agent': USER_AGENT };
      if (token) headers.authorization = `Bearer ${token}`;
      if (last) headers['last-event-id'] = last;
      const res = await fetch(url, { headers, signal: stop });
      if (!res.ok || !res.body) {
        const text = await res.text();
        let env: { code?: string; message?: string } | undefined;
        try {
          env = (JSON.parse(text) as { error?: { code?: string; message?: string } }).error;
        } catch {
          env = undefined;
        }
        if (res.status < 500 && res.status !== 429)
          throw new CliError(
            exitCodeForStatus(res.status),
            env?.code ?? `http_${res.status}`,
            env?.message ?? `the log stream answered ${res.status}`,
            { status: res.status },
          );
        ctx.out.note(ctx.out.c.dim(`log stream answered ${res.status}; reconnecting`));
      } else {
        delay = 500;
        for await (const m of parseSse(res.body)) {
          if (m.event === 'log') {
            print(JSON.parse(m.data) as LogEntry);
            if (m.id) last = m.id;
          } else if (m.event === 'error') {
            ctx.out.note(ctx.out.c.dim(`log stream closed by the server (${m.data}); reconnecting`));
            break;
          }
        }
      }
    } catch (e) {
      if (stop.aborted) return;
      if (e instanceof CliError) throw e;
      const u = unreachable(e, ctx.server);
      ctx.out.note(ctx.out.c.dim(`log stream dropped (${u?.message ?? (e as Error).message}); reconnecting`));
    }
    await sleep(delay * (0.5 + Math.random() / 2), stop);
    delay = Math.min(delay * 2, 15_000);
  }
}
