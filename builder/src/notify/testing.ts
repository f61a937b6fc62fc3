/**
 * For notification tests: a receiver on 127.0.0.1 standing in for Slack or a customer's webhook
 * endpoint. It records each request with its raw body bytes (signatures are checked over bytes, not
 * re-serialized JSON) and the moment it arrived, and lets the test script its answers.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { IncidentMessage } from './types.js';

export interface Hit {
  /** performance.now() when the body had arrived. */
  at: number;
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  raw: Buffer;
}

/** Answers the n-th request (1-based); may leave `res` unanswered to make the client time out. */
export type Answer = (n: number, req: http.IncomingMessage, res: http.ServerResponse, hit: Hit) => void;

export interface Receiver {
  port: number;
  /** `http://127.0.0.1:<port><path>` */
  url(path?: string): string;
  hits: Hit[];
  /** Resolves once `n` requests have arrived (or rejects after `ms`). */
  waitFor(n: number, ms?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startReceiver(answer: Answer): Promise<Receiver> {
  const hits: Hit[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  const sockets = new Set<Socket>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const hit: Hit = {
        at: performance.now(),
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        raw: Buffer.concat(chunks),
      };
      hits.push(hit);
      for (const w of waiters.filter((w) => hits.length >= w.n)) w.resolve();
      answer(hits.length, req, res, hit);
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: (path = '/') => `http://127.0.0.1:${port}${path}`,
    hits,
    waitFor: (n, ms = 5000) =>
      hits.length >= n
        ? Promise.resolve()
        : new Promise<void>((resolve, reject) => {
            const t = setTimeout(
              () => reject(new Error(`${hits.length} of ${n} requests after ${ms} ms`)),
              ms,
            );
            waiters.push({
              n,
              resolve: () => {
                clearTimeout(t);
                resolve();
              },
            });
          }),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Answers every request with `status` (and optional headers and body). */
export const always =
  (status: number, body = '', headers: Record<string, string> = {}): Answer =>
  (_n, _req, res) => {
    res.writeHead(status, headers);
    res.end(body);
  };

/** An incident message with every field set; `over` replaces top-level or incident fields. */
export function sampleMessage(
  over: Partial<Omit<IncidentMessage, 'incident'>> & { incident?: Partial<IncidentMessage['incident']> } = {},
): IncidentMessage {
  const { incident, ...top } = over;
  return {
    type: 'opened',
    url: 'https://peep.example.com/projects/shop/incidents/inc_42',
    sentAt: '2024-05-01T12:12:30.000Z',
    ...top,
    incident: {
      id: 'inc_42',
      title: 'checkout-api is slower than usual',
      kind: 'latency_anomaly',
      severity: 'warning',
      subject: { type: 'service', id: 'svc_7', name: 'checkout-api' },
      project: { id: 'prj_1', slug: 'shop', name: 'Shop' },
      environment: 'prod',
      openedAt: '2024-05-01T12:00:00.000Z',
      numbers: { 'p95 now': '812 ms', 'usual p95': '120 ms', 'error rate': '0.4 %', requests: 5230 },
      reason: 'p95 latency was above 6 MADs of its usual value for 3 minutes in a row.',
      ...incident,
    },
  };
}
