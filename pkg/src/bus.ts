/**
 * The event bus between parts of peep. In one process it is an in-process fan-out; when several
 * replicas run, the NATS implementation (bus-nats.ts, chosen by PEEP_NATS_URL through createBus in
 * bus-factory.ts) carries the same subjects between them.
 */
export interface BusMessage<T = unknown> {
  subject: string;
  data: T;
  at: string;
}

export type Unsubscribe = () => void;

export interface Bus {
  /** True when messages reach other processes (NATS), false for the in-process bus. */
  readonly distributed: boolean;
  /** False while a distributed bus is cut off from its server: other processes' messages may be missed. */
  readonly connected: boolean;
  /**
   * Counts connection losses. A cache kept exact by bus messages (auth.revoked) compares it with the
   * value it saw when filling an entry: a change means messages may have been missed in between.
   */
  readonly gaps: number;
  /** Never throws into the caller; a distributed bus buffers (bounded) while disconnected. */
  publish<T>(subject: string, data: T): void;
  /** `subject` may end in `.>` to receive every subject below a prefix. */
  subscribe<T>(subject: string, handler: (msg: BusMessage<T>) => void): Unsubscribe;
  /**
   * False when no one anywhere can be listening on `subject`, so a publisher may skip building the
   * message. A bus between processes cannot know and always answers true.
   */
  hasSubscribers?(subject: string): boolean;
  close(): Promise<void>;
}

export function matchesSubject(pattern: string, subject: string): boolean {
  if (pattern === '>') return true;
  if (pattern.endsWith('.>')) return subject.startsWith(pattern.slice(0, -1));
  return pattern === subject;
}

export function createMemoryBus(onHandlerError: (err: unknown, subject: string) => void = () => {}): Bus {
  const subs = new Set<{ pattern: string; handler: (msg: BusMessage<never>) => void }>();
  return {
    distributed: false,
    connected: true,
    gaps: 0,
    publish(subject, data) {
      const msg = { subject, data, at: new Date().toISOString() };
      for (const s of subs) {
        if (!matchesSubject(s.pattern, subject)) continue;
        // Delivery is asynchronous, as over a network bus: a publisher never runs subscriber code inline.
        queueMicrotask(() => {
          try {
            s.handler(msg as BusMessage<never>);
          } catch (err) {
            onHandlerError(err, subject);
          }
        });
      }
    },
    hasSubscribers(subject) {
      for (const s of subs) if (matchesSubject(s.pattern, subject)) return true;
      return false;
    },
    subscribe(pattern, handler) {
      const s = { pattern, handler: handler as (msg: BusMessage<never>) => void };
      subs.add(s);
      return () => subs.delete(s);
    },
    async close() {
      subs.clear();
    },
  };
}
