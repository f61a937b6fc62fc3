/**
 * `peep agent nginx`: follows nginx's `peep_json` access log and ships each line as a request event.
 * One batch is in flight at a time. Before it is sent, its byte range is saved as `pending`; once
 * peep acknowledges it (a 2xx is sent only after commit), the position moves past it. The
 * Idempotency-Key comes from the file, the range and a hash of its bytes, so the resend of a pending
 * batch after a crash counts once, while a truncated file that reuses offsets never collides.
 */
import crypto from 'node:crypto';
import { parseLine, type RequestEvent } from './nginx-line.js';
import { createShipper, type ShipResult } from './ship.js';
import { createStateStore } from './state.js';
import { type Chunk, createTail } from './tail.js';

export interface NginxAgentOptions {
  file: string;
  server: string;
  key: string;
  stateDir: string;
  service?: string;
  instance?: string;
  /** Most lines per batch. */
  batch: number;
  /** Poll interval when the file has nothing new, in ms. */
  intervalMs: number;
  /** On the first run (no saved position): read the file from its start instead of its end. */
  fromStart: boolean;
  /** Aborted on SIGTERM/SIGINT: the in-flight batch finishes, the position is saved. */
  stop: AbortSignal;
  /** After `stop`, how long an unacknowledged batch may keep retrying (default 10 s). */
  stopTimeoutMs?: number;
  /** Report one malformed line in this many (default 1000; the first is always reported). */
  malformedEvery?: number;
  graceMs?: number;
  note: (msg: string) => void;
}

export interface AgentStats {
  lines: number;
  events: number;
  batches: number;
  malformed: number;
  rejected: number;
  dropped: number;
  duplicates: number;
  retries: number;
  /** True when a batch was still unacknowledged at exit (it is resent on the next start). */
  interrupted: boolean;
}

const MAX_BYTES = 4 * 1024 * 1024;

/** `nginx:<dev>:<inode>:<start>-<end>:<sha-256 of the bytes, 96 bits>`. */
export function batchKey(chunk: Pick<Chunk, 'dev' | 'ino' | 'start' | 'end' | 'bytes'>): string {
  const h = crypto.createHash('sha256').update(chunk.bytes).digest('hex').slice(0, 24);
  return `nginx:${chunk.dev}:${chunk.ino}:${chunk.start}-${chunk.end}:${h}`;
}

function waitFor(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

export async function runNginxAgent(opts: NginxAgentOptions): Promise<AgentStats> {
  const note = opts.note;
  const every = opts.malformedEvery ?? 1000;
  const stats: AgentStats = {
    lines: 0,
    events: 0,
    batches: 0,
    malformed: 0,
    rejected: 0,
    dropped: 0,
    duplicates: 0,
    retries: 0,
    interrupted: false,
  };

  // `hard` ends a send that is still retrying some time after the stop request.
  const hard = new AbortController();
  let hardTimer: NodeJS.Timeout | undefined;
  const onStop = () => {
    hardTimer = setTimeout(() => hard.abort(new Error('stop timeout')), opts.stopTimeoutMs ?? 10_000);
  };
  if (opts.stop.aborted) onStop();
  else opts.stop.addEventListener('abort', onStop, { once: true });

  const store = createStateStore(opts.stateDir, opts.file);
  const saved = store.load();
  const tail = await createTail({
    path: opts.file,
    from: saved ? saved.position : opts.fromStart ? 'start' : 'end',
    graceMs: opts.graceMs,
    note,
  });
  const shipper = createShipper({ server: opts.server, key: opts.key, note, signal: hard.signal });

  const start = tail.position();
  if (start && !saved) store.save(start, null);
  note(
    start
      ? `following ${opts.file} (inode ${start.ino}) from offset ${start.offset}; state in ${store.file}`
      : `waiting for ${opts.file} to appear; state in ${store.file}`,
  );

  function toEvents(chunk: Chunk): RequestEvent[] {
    const events: RequestEvent[] = [];
    let offset = chunk.start;
    for (const text of chunk.lines) {
      stats.lines++;
      const p = parseLine(text, { service: opts.service, instance: opts.instance });
      if (p.ok) events.push(p.event);
      else {
        stats.malformed++;
        if (stats.malformed === 1 || stats.malformed % every === 0)
          note(
            `skipped a malformed line near offset ${offset} (${p.reason}): ${text.slice(0, 120)}; ${stats.malformed} so far`,
          );
      }
      offset += Buffer.byteLength(text) + 1;
    }
    if (chunk.oversized > 0) {
      stats.malformed += chunk.oversized;
      note(`skipped a line longer than ${MAX_BYTES} bytes; ${stats.malformed} malformed so far`);
    }
    return events;
  }

  /** Sends, splitting in halves (keys `…/a`, `…/b`) while peep says the body is too large. */
  async function send(events: RequestEvent[], key: string): Promise<void> {
    const r: ShipResult = await shipper.send(events, key);
    if (r.kind === 'too_large') {
      if (events.length === 1) {
        stats.dropped++;
        note('dropped one event larger than the server accepts (413)');
        return;
      }
      const half = Math.ceil(events.length / 2);
      await send(events.slice(0, half), `${key}/a`);
      await send(events.slice(half), `${key}/b`);
      return;
    }
    if (r.kind === 'dropped') {
      stats.dropped += events.length;
      note(`dropped a batch of ${events.length} events: peep answered ${r.code} (${r.message})`);
      return;
    }
    stats.batches++;
    stats.events += r.accepted;
    stats.rejected += r.rejectedCount;
    if (r.duplicate) stats.duplicates++;
    const first = r.rejected[0];
    if (first)
      note(
        `peep rejected ${r.rejectedCount} of ${events.length} events (first: ${first.code}: ${first.message})`,
      );
  }

  try {
    // A batch sent before a crash and never acknowledged: the same bytes again, same key.
    let resend = saved?.pending ?? null;
    while (!opts.stop.aborted || resend) {
      const chunk = await tail.next(
        resend
          ? { maxLines: Number.MAX_SAFE_INTEGER, maxBytes: MAX_BYTES, until: resend.end }
          : { maxLines: opts.batch, maxBytes: MAX_BYTES },
      );
      if (resend && chunk && (chunk.ino !== resend.ino || chunk.start !== resend.start))
        note('the unacknowledged batch of the last run is no longer in the file; continuing after it');
      resend = null;
      if (!chunk) {
        await waitFor(opts.intervalMs, opts.stop);
        continue;
      }
      const from = { dev: chunk.dev, ino: chunk.ino, offset: chunk.start };
      const to = { dev: chunk.dev, ino: chunk.ino, offset: chunk.end };
      const events = toEvents(chunk);
      if (events.length > 0) {
        store.save(from, { dev: chunk.dev, ino: chunk.ino, start: chunk.start, end: chunk.end });
        try {
          await send(events, batchKey(chunk));
        } catch (e) {
          if (hard.signal.aborted) {
            stats.interrupted = true;
            note(`stopped with a batch unacknowledged; it is resent on the next start`);
            break;
          }
          throw e;
        }
      }
      store.save(to, null);
      if (chunk.lines.length < opts.batch) await waitFor(opts.intervalMs, opts.stop);
    }
  } finally {
    clearTimeout(hardTimer);
    opts.stop.removeEventListener('abort', onStop);
    stats.retries = shipper.retries();
    await tail.close();
  }
  return stats;
}
