/**
 * The bus over NATS, for several replicas (PEEP_NATS_URL): the same subjects as the in-process bus
 * (NATS uses the same `.` tokens and trailing `>`), JSON payloads `{"at", "data"}`, one connection per
 * process. A process receives its own messages too, as with the in-process bus.
 *
 * Availability over completeness: the bus never throws into a publisher and never stops peep from
 * starting. It connects in the background and reconnects forever with capped exponential backoff,
 * logging each state change (the URL's credentials never appear in logs). While disconnected,
 * messages wait in a bounded buffer (oldest dropped first, counted) and go out on reconnect; nats.js
 * itself discards what was queued before a reconnect, hence our own buffer. Messages other processes
 * publish during an outage are lost: `gaps` counts outages so caches can forget what they hold.
 */
import { hostname } from 'node:os';
import { type ConnectionOptions, connect, type NatsConnection, type Subscription } from 'nats';
import type { Bus, BusMessage } from './bus.js';
import type { Logger } from './log.js';

export interface NatsBusOptions {
  /** `nats://[user:pass@|token@]host[:port]` or `tls://…` (PEEP_NATS_URL). */
  url: string;
  log: Logger;
  /** Client name shown by the server's monitoring (default: peep-<host>-<pid>). */
  name?: string;
  /** Most bytes held while disconnected (default 8 MiB); beyond it the oldest messages are dropped. */
  bufferBytes?: number;
  /** Longest wait between two connection attempts, in ms (default 5,000). */
  maxBackoffMs?: number;
  onHandlerError?: (err: unknown, subject: string) => void;
}

export interface NatsBus extends Bus {
  /** Resolves once connected and every subscription so far is registered with the server. */
  flush(): Promise<void>;
  /** Counters for logs and tests. */
  stats(): { published: number; received: number; buffered: number; dropped: number; reconnects: number };
}

interface LocalSub {
  pattern: string;
  handler: (msg: BusMessage<never>) => void;
  sub: Subscription | null;
}

interface Parsed {
  display: string;
  options: ConnectionOptions;
}

/** Splits PEEP_NATS_URL into nats.js options; credentials go to `user`/`pass`/`token`, never to the logged form. */
export function parseNatsUrl(raw: string): Parsed {
  const u = new URL(raw);
  const port = u.port || '4222';
  const host = u.hostname.includes(':') && !u.hostname.startsWith('[') ? `[${u.hostname}]` : u.hostname;
  const server = `${host}:${port}`;
  const options: ConnectionOptions = { servers: [server] };
  if (u.protocol === 'tls:') options.tls = {};
  const user = decodeURIComponent(u.username);
  const pass = decodeURIComponent(u.password);
  if (user && pass) {
    options.user = user;
    options.pass = pass;
  } else if (user) options.token = user;
  return { display: `${u.protocol}//${server}`, options };
}

export function createNatsBus(opts: NatsBusOptions): NatsBus {
  const { log } = opts;
  const { display, options } = parseNatsUrl(opts.url);
  const maxBackoff = opts.maxBackoffMs ?? 5_000;
  const bufferLimit = opts.bufferBytes ?? 8 * 1024 * 1024;
  const onHandlerError =
    opts.onHandlerError ?? ((err, subject) => log.error({ err, subject }, 'bus handler failed'));
  const subs = new Set<LocalSub>();
  const enc = new TextEncoder();
  const dec = new TextDecoder();

  let nc: NatsConnection | null = null;
  let connected = false;
  let closing = false;
  let gaps = 0;
  let attempt = 0;
  const counts = { published: 0, received: 0, dropped: 0, reconnects: 0 };
  // While disconnected: a FIFO with a moving head (cheap drop-oldest), bounded in bytes.
  let pending: { subject: string; payload: Uint8Array }[] = [];
  let head = 0;
  let pendingBytes = 0;
  let warnedFull = false;
  let waiters: (() => void)[] = [];
  let wake: (() => void) | null = null;

  const backoff = () => {
    const ms = Math.min(maxBackoff, 100 * 2 ** Math.min(attempt, 10));
    attempt++;
    return ms + Math.floor(Math.random() * Math.min(ms, 250));
  };

  function deliver(s: LocalSub, subject: string, payload: Uint8Array) {
    counts.received++;
    let msg: BusMessage<never>;
    try {
      const body = JSON.parse(dec.decode(payload)) as { at: string; data: never };
      msg = { subject, data: body.data, at: body.at };
    } catch (err) {
      onHandlerError(err, subject);
      return;
    }
    try {
      s.handler(msg);
    } catch (err) {
      onHandlerError(err, subject);
    }
  }

  function attach(c: NatsConnection, s: LocalSub) {
    s.sub = c.subscribe(s.pattern, {
      callback: (err, m) => {
        if (err) log.warn({ err: err.message, subject: s.pattern }, 'NATS subscription error');
        else deliver(s, m.subject, m.data);
      },
    });
  }

  function send(c: NatsConnection, subject: string, payload: Uint8Array) {
    try {
      c.publish(subject, payload);
      counts.published++;
    } catch (err) {
      // Too large for the server's max_payload, or the connection closing: the caller never sees it.
      counts.dropped++;
      log.error(
        { err: (err as Error).message, subject, bytes: payload.length },
        'NATS publish failed; message dropped',
      );
    }
  }

  function hold(subject: string, payload: Uint8Array) {
    pending.push({ subject, payload });
    pendingBytes += payload.length;
    while (pendingBytes > bufferLimit && head < pending.length) {
      const old = pending[head] as { payload: Uint8Array };
      pending[head] = undefined as never;
      head++;
      pendingBytes -= old.payload.length;
      counts.dropped++;
      if (!warnedFull) {
        warnedFull = true;
        log.warn(
          { server: display, bufferBytes: bufferLimit },
          'NATS bus buffer full; dropping oldest messages',
        );
      }
    }
    if (head > 1024 && head * 2 > pending.length) {
      pending = pending.slice(head);
      head = 0;
    }
  }

  function sendHeld(c: NatsConnection) {
    const n = pending.length - head;
    for (let i = head; i < pending.length; i++) {
      const p = pending[i] as { subject: string; payload: Uint8Array };
      send(c, p.subject, p.payload);
    }
    pending = [];
    head = 0;
    pendingBytes = 0;
    warnedFull = false;
    return n;
  }

  function setConnected(c: NatsConnection) {
    connected = true;
    attempt = 0;
    const sent = sendHeld(c);
    const w = waiters;
    waiters = [];
    for (const f of w) f();
    return sent;
  }

  function setDisconnected() {
    if (!connected) return;
    connected = false;
    gaps++;
  }

  async function watch(c: NatsConnection) {
    for await (const s of c.status()) {
      switch (s.type) {
        case 'disconnect':
          setDisconnected();
          log.warn({ server: display }, 'NATS connection lost; reconnecting');
          break;
        case 'reconnect': {
          counts.reconnects++;
          const dropped = counts.dropped;
          const sent = setConnected(c);
          log.info({ server: display, sentAfterReconnect: sent, droppedSoFar: dropped }, 'NATS reconnected');
          break;
        }
        case 'ldm':
          log.warn({ server: display }, 'NATS server entering lame duck mode');
          break;
        case 'error':
          log.warn({ server: display, err: String(s.data) }, 'NATS error');
          break;
        default:
          log.debug({ server: display, status: s.type }, 'NATS status');
      }
    }
  }

  /** Dials until connected (or closed); on a connection that ends for good, starts over. */
  async function run() {
    while (!closing) {
      let c: NatsConnection;
      try {
        c = await connect({
          ...options,
          name: opts.name ?? `peep-${hostname()}-${process.pid}`,
          maxReconnectAttempts: -1,
          reconnectDelayHandler: backoff,
          ignoreAuthErrorAbort: true,
          pingInterval: 20_000,
          maxPingOut: 3,
          timeout: 5_000,
        });
      } catch (err) {
        const ms = backoff();
        log.warn(
          { server: display, err: (err as Error).message, retryInMs: ms },
          'NATS not reachable; the bus keeps messages until it connects',
        );
        await new Promise<void>((r) => {
          const t = setTimeout(r, ms);
          wake = () => {
            clearTimeout(t);
            r();
          };
        });
        wake = null;
        continue;
      }
      if (closing) {
        await c.close();
        return;
      }
      nc = c;
      for (const s of subs) attach(c, s);
      const sent = setConnected(c);
      log.info({ server: display, sentAfterConnect: sent }, 'NATS connected');
      void watch(c);
      const err = await c.closed();
      nc = null;
      setDisconnected();
      for (const s of subs) s.sub = null;
      if (!closing)
        log.error({ server: display, err: err?.message }, 'NATS connection closed; starting over');
    }
  }
  const running = run();

  return {
    distributed: true,
    get connected() {
      return connected;
    },
    get gaps() {
      return gaps;
    },
    publish(subject, data) {
      if (closing) return;
      const payload = enc.encode(JSON.stringify({ at: new Date().toISOString(), data }));
      if (nc && connected) send(nc, subject, payload);
      else hold(subject, payload);
    },
    subscribe(pattern, handler) {
      const s: LocalSub = { pattern, handler: handler as (msg: BusMessage<never>) => void, sub: null };
      if (closing) return () => {};
      subs.add(s);
      if (nc) attach(nc, s);
      return () => {
        subs.delete(s);
        try {
          s.sub?.unsubscribe();
        } catch {
          // the connection is closing: nothing left to unsubscribe from
        }
        s.sub = null;
      };
    },
    async flush() {
      if (closing) return;
      if (!connected) await new Promise<void>((r) => waiters.push(r));
      await nc?.flush();
    },
    stats() {
      return { ...counts, buffered: pending.length - head };
    },
    async close() {
      if (closing) return;
      closing = true;
      wake?.();
      const c = nc;
      if (c) {
        // Drain sends what is queued and lets in-flight deliveries finish; it needs a live connection.
        if (connected) {
          const timer = new Promise<void>((r) => setTimeout(r, 5_000).unref());
          await Promise.race([c.drain().catch(() => {}), timer]);
        }
        if (!c.isClosed()) await c.close().catch(() => {});
      }
      await running;
      subs.clear();
      const w = waiters;
      waiters = [];
      for (const f of w) f();
      if (pending.length - head > 0)
        log.warn({ server: display, unsent: pending.length - head }, 'NATS bus closed with messages unsent');
      log.info({ server: display }, 'NATS bus closed');
    },
  };
}
