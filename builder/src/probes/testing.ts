/**
 * Real targets for probe tests on loopback: an HTTP(S) server that records what it receives, a
 * listener whose accept queue is full (connects hang until the caller gives up), and certificates
 * made with the openssl command line (self-signed, CA-signed, already expired).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';

export interface Received {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface TestServer {
  port: number;
  /** `http(s)://127.0.0.1:port` */
  origin: string;
  received: Received[];
  /** Connections open on the server side right now. */
  connections(): number;
  /** TLS connections that resumed an earlier session (HTTPS servers only). */
  resumed(): number;
  close(): Promise<void>;
}

export type Handler = (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void;

/** An HTTP (or, with `tls`, HTTPS) server on 127.0.0.1 that records every request with its body. */
export async function startServer(
  handler: Handler,
  tls?: { key: string; cert: string },
): Promise<TestServer> {
  const received: Received[] = [];
  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      handler(req, res, body);
    });
  };
  const server = tls ? https.createServer(tls, onRequest) : http.createServer(onRequest);
  const sockets = new Set<net.Socket>();
  let resumed = 0;
  server.on(tls ? 'secureConnection' : 'connection', (s: net.Socket) => {
    if (tls && (s as import('node:tls').TLSSocket).isSessionReused()) resumed++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    origin: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    received,
    connections: () => sockets.size,
    resumed: () => resumed,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A raw TCP server: `onSocket` decides what (if anything) each connection gets. */
export async function startTcpServer(onSocket: (s: net.Socket) => void): Promise<TestServer> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    s.resume(); // read and drop what comes, so the client closing is noticed
    onSocket(s);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    origin: `http://127.0.0.1:${port}`,
    received: [],
    connections: () => sockets.size,
    resumed: () => 0,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A port nothing listens on (bound, then closed). */
export async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/**
 * A listener whose accept queue is full: it listens with a backlog of 1 in a worker thread that
 * never runs its event loop, and two connections fill the queue, so the kernel drops further SYNs
 * and a connect hangs, like a firewall that drops packets, but deterministic and on loopback.
 */
export async function startBlackhole(): Promise<{ port: number; close(): Promise<void> }> {
  const flag = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(
    `const { parentPort, workerData } = require('node:worker_threads');
     const net = require('node:net');
     const s = net.createServer(() => {}).listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {
       parentPort.postMessage(s.address().port);
       Atomics.wait(workerData, 0, 0);
       s.close();
     });`,
    { eval: true, workerData: flag },
  );
  const port = await new Promise<number>((resolve) => worker.once('message', resolve));
  const fillers: net.Socket[] = [];
  for (let i = 0; i < 2; i++) {
    const s = net.connect(port, '127.0.0.1');
    s.on('error', () => {});
    fillers.push(s);
    await new Promise((resolve) => s.once('connect', resolve));
  }
  return {
    port,
    close: async () => {
      for (const s of fillers) s.destroy();
      Atomics.store(flag, 0, 1);
      Atomics.notify(flag, 0);
      await worker.terminate();
    },
  };
}

const OPENSSL = process.env.PEEP_OPENSSL ?? '/usr/bin/openssl';

/** The openssl binary, or why it cannot be used (under CI=true a missing one throws). */
export function findOpenssl(): { bin: string } | { skip: string } {
  if (fs.existsSync(OPENSSL)) return { bin: OPENSSL };
  const why = `openssl not found at ${OPENSSL} (set PEEP_OPENSSL)`;
  if (process.env.CI === 'true') throw new Error(`${why}; CI=true: the TLS probe suite cannot be skipped`);
  return { skip: why };
}

export interface Pem {
  key: string;
  cert: string;
}

export interface CertMaker {
  /** Self-signed for `names` (DNS names and IP addresses), valid from now for `days`. */
  selfSigned(days: number, names?: string[]): Pem;
  /** Self-signed, valid only between two past dates (YYYYMMDDHHMMSSZ), through `openssl ca`. */
  expired(names?: string[]): Pem;
  /** A CA, and a leaf it signed for `names` valid for `days`. */
  caSigned(days: number, names?: string[]): Pem & { ca: string };
  cleanup(): void;
}

export function certMaker(bin: string): CertMaker {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'peep-probe-certs-'));
  let n = 0;
  const run = (...args: string[]) => execFileSync(bin, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  const san = (names: string[]) =>
    `subjectAltName=${names.map((x) => (net.isIP(x) ? `IP:${x}` : `DNS:${x}`)).join(',')}`;
  const read = (f: string) => fs.readFileSync(path.join(dir, f), 'utf8');
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const DEFAULT = ['localhost', '127.0.0.1'];
  return {
    selfSigned(days, names = DEFAULT) {
      const i = n++;
      run(
        'req',
        '-x509',
        ...ec,
        '-days',
        String(days),
        '-subj',
        `/CN=${names[0]}`,
        '-addext',
        san(names),
        '-keyout',
        `${i}.key`,
        '-out',
        `${i}.crt`,
      );
      return { key: read(`${i}.key`), cert: read(`${i}.crt`) };
    },
    expired(names = DEFAULT) {
      const i = n++;
      const db = path.join(dir, `db${i}`);
      fs.mkdirSync(db);
      fs.writeFileSync(path.join(db, 'index.txt'), '');
      fs.writeFileSync(path.join(db, 'serial'), '01\n');
      fs.writeFileSync(
        path.join(dir, `${i}.cnf`),
        `[ca]\ndefault_ca = d\n[d]\ndatabase = ${db}/index.txt\nnew_certs_dir = ${db}\nserial = ${db}/serial\n` +
          `default_md = sha256\npolicy = p\nunique_subject = no\n[p]\ncommonName = supplied\n[ext]\n${san(names)}\n`,
      );
      run('req', '-new', ...ec, '-subj', `/CN=${names[0]}`, '-keyout', `${i}.key`, '-out', `${i}.csr`);
      run(
        'ca',
        '-config',
        `${i}.cnf`,
        '-selfsign',
        '-keyfile',
        `${i}.key`,
        '-in',
        `${i}.csr`,
        '-startdate',
        '20200101000000Z',
        '-enddate',
        '20200201000000Z',
        '-extensions',
        'ext',
        '-batch',
        '-notext',
        '-out',
        `${i}.crt`,
      );
      return { key: read(`${i}.key`), cert: read(`${i}.crt`) };
    },
    caSigned(days, names = DEFAULT) {
      const i = n++;
      run(
        'req',
        '-x509',
        ...ec,
        '-days',
        '3650',
        '-subj',
        '/CN=peep test CA',
        '-keyout',
        `${i}.ca.key`,
        '-out',
        `${i}.ca.crt`,
      );
      run('req', '-new', ...ec, '-subj', `/CN=${names[0]}`, '-keyout', `${i}.key`, '-out', `${i}.csr`);
      fs.writeFileSync(path.join(dir, `${i}.ext`), `${san(names)}\n`);
      run(
        'x509',
        '-req',
        '-in',
        `${i}.csr`,
        '-CA',
        `${i}.ca.crt`,
        '-CAkey',
        `${i}.ca.key`,
        '-CAcreateserial',
        '-days',
        String(days),
        '-extfile',
        `${i}.ext`,
        '-out',
        `${i}.crt`,
      );
      return { key: read(`${i}.key`), cert: read(`${i}.crt`), ca: read(`${i}.ca.crt`) };
    },
    cleanup: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}
