/**
 * For the SDK's tests: a real HTTP server on loopback that records every ingest request it receives
 * (headers, decoded items) and answers as told, either itself or by proxying to a real peep; plus
 * small helpers to serve an app on a free port. Not part of the published package.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import zlib from 'node:zlib';

export interface Received {
  path: string;
  headers: http.IncomingHttpHeaders;
  /** Body bytes as sent (compressed when gzipped). */
  bytes: number;
  items: Record<string, unknown>[];
  at: number;
}

/**
 * What to answer: a status with optional headers/body; `proxy` to forward to `target` and pass its
 * answer back; or `{ lose }`: forward to `target`, then answer `lose` instead (an acknowledgement
 * lost on the way back, as when a connection drops).
 */
export type Reply = { status: number; headers?: Record<string, string>; body?: unknown };
export type Answer = Reply | 'proxy' | { lose: Reply };

export interface Recorder {
  url: string;
  received: Received[];
  /** Items of every request to /api/v1/ingest/{kind}, in arrival order (duplicates included). */
  items(kind: 'events' | 'logs' | 'aggregates'): Record<string, unknown>[];
  close(): Promise<void>;
}

export async function listen(server: http.Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

export function closeServer(server: http.Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

/**
 * A recording ingest endpoint. `answer` is asked for each request (n counts from 1); by default it
 * accepts everything like peep does: `{accepted, rejected: [], rejectedCount: 0}`.
 */
export async function startRecorder(
  opts: { answer?: (r: Received, n: number) => Answer; target?: string } = {},
): Promise<Recorder> {
  const received: Received[] = [];
  let n = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      let items: Record<string, unknown>[] = [];
      try {
        const body = req.headers['content-encoding'] === 'gzip' ? zlib.gunzipSync(raw) : raw;
        items = JSON.parse(body.toString('utf8'));
      } catch {
        items = [];
      }
      const r: Received = {
        path: req.url ?? '',
        headers: req.headers,
        bytes: raw.length,
        items,
        at: Date.now(),
      };
      received.push(r);
      const a = opts.answer?.(r, ++n) ?? { status: 200 };
      if (a === 'proxy' || 'lose' in a) {
        if (!opts.target) throw new Error('proxy answer without a target');
        const headers = { ...req.headers };
        delete headers.host;
        delete headers['content-length'];
        void fetch(`${opts.target}${req.url}`, {
          method: req.method,
          headers: headers as Record<string, string>,
          body: raw,
        })
          .then(async (up) => {
            const upBody = Buffer.from(await up.arrayBuffer());
            if (a !== 'proxy') {
              res.writeHead(a.lose.status, { 'content-type': 'application/json', ...a.lose.headers });
              res.end(JSON.stringify(a.lose.body ?? {}));
              return;
            }
            res.writeHead(up.status, {
              'content-type': up.headers.get('content-type') ?? 'application/json',
            });
            res.end(upBody);
          })
          .catch((e: Error) => {
            res.writeHead(502).end(e.message);
          });
        return;
      }
      const body = a.body ?? { accepted: items.length, rejected: [], rejectedCount: 0 };
      res.writeHead(a.status, { 'content-type': 'application/json', ...a.headers });
      res.end(JSON.stringify(body));
    });
  });
  const url = await listen(server);
  return {
    url,
    received,
    items: (kind) => received.filter((r) => r.path === `/api/v1/ingest/${kind}`).flatMap((r) => r.items),
    close: () => closeServer(server),
  };
}

/** A loopback port nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const s = http.createServer();
  await listen(s);
  const port = (s.address() as AddressInfo).port;
  await closeServer(s);
  return port;
}

/** Polls `fn` until it returns a truthy value or `timeoutMs` passes (then throws with `what`). */
type Falsy = undefined | null | false | 0 | '';
export async function until<T>(
  what: string,
  fn: () => T | Falsy | Promise<T | Falsy>,
  timeoutMs = 10_000,
): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (v) return v as T;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
