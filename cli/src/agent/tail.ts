/**
 * Follows a growing log file by polling, in complete lines, and says exactly which bytes each chunk
 * came from (device, inode, start and end offsets), so the caller can save a position that survives
 * a restart. Rotation:
 * - rename + new file (logrotate's default, then `nginx -s reopen`): the old file is read to its end,
 *   and once the path has held another file for `graceMs` with nothing more written to the old one,
 *   the new file is read from its start;
 * - copytruncate: the file shrinks below the read position, or the byte before it is no longer a
 *   newline; reading restarts at 0.
 * A saved position whose inode is no longer at the path is looked for among the path's siblings
 * (`access.log.1`), so lines written just before a rotation are still read after a restart.
 */
import type { FileHandle } from 'node:fs/promises';
import fs from 'node:fs/promises';
import path from 'node:path';

export interface Position {
  dev: number;
  ino: number;
  offset: number;
}

export interface Chunk {
  dev: number;
  ino: number;
  /** Byte offsets in that file: [start, end). */
  start: number;
  end: number;
  lines: string[];
  /** The raw bytes of [start, end), for the batch's idempotency key. */
  bytes: Buffer;
  /** Lines longer than maxBytes, skipped. */
  oversized: number;
}

export interface TailOptions {
  path: string;
  /** A saved position, or where to start in a file seen for the first time. */
  from: Position | 'end' | 'start';
  /** How long the path must hold a new file before the old one is given up (default 1000 ms). */
  graceMs?: number;
  note?: (msg: string) => void;
  now?: () => number;
}

export interface ReadLimits {
  maxLines: number;
  maxBytes: number;
  /** Read exactly up to this offset (the resend of a pending batch). */
  until?: number;
}

export interface Tail {
  /** The next complete lines, or null when there are none yet. */
  next(limits: ReadLimits): Promise<Chunk | null>;
  /** Where the next read starts, once a file is open. */
  position(): Position | null;
  close(): Promise<void>;
}

interface Open {
  fh: FileHandle;
  dev: number;
  ino: number;
  pos: number;
  /** Inside a line longer than maxBytes: drop bytes up to the next newline. */
  skipping: boolean;
  /** The last bytes read (up to MARK_BYTES, ending at `pos`): if they change, the file was rewritten. */
  mark: Buffer | null;
}

const MARK_BYTES = 1024;

async function statPath(p: string): Promise<{ dev: number; ino: number; size: number } | null> {
  try {
    const s = await fs.stat(p);
    return { dev: s.dev, ino: s.ino, size: s.size };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

/** The sibling of `file` (same folder, name starting with its name) that has this inode. */
async function findRotated(file: string, dev: number, ino: number): Promise<string | null> {
  const dir = path.dirname(file);
  const base = path.basename(file);
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch {
    return null;
  }
  for (const n of names) {
    if (n === base || !n.startsWith(base)) continue;
    const s = await statPath(path.join(dir, n));
    if (s && s.ino === ino && s.dev === dev) return path.join(dir, n);
  }
  return null;
}

async function openAt(file: string, pos: number | 'end'): Promise<Open | null> {
  let fh: FileHandle;
  try {
    fh = await fs.open(file, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  const s = await fh.stat();
  return {
    fh,
    dev: s.dev,
    ino: s.ino,
    pos: pos === 'end' ? await lineEnd(fh, s.size) : pos,
    skipping: false,
    mark: null,
  };
}

/** The offset just after the last newline at or before `size` (0 if none in the last 64 KiB). */
async function lineEnd(fh: FileHandle, size: number): Promise<number> {
  const n = Math.min(size, 64 * 1024);
  if (n === 0) return 0;
  const b = Buffer.alloc(n);
  const { bytesRead } = await fh.read(b, 0, n, size - n);
  const nl = b.subarray(0, bytesRead).lastIndexOf(0x0a);
  return nl < 0 ? size - n : size - n + nl + 1;
}

export async function createTail(opts: TailOptions): Promise<Tail> {
  const note = opts.note ?? (() => {});
  const now = opts.now ?? Date.now;
  const graceMs = opts.graceMs ?? 1000;
  let cur: Open | null = null;
  /** When the path was first seen holding another file than `cur`. */
  let replacedSince: number | null = null;

  // Where to begin.
  const from = opts.from;
  if (typeof from === 'object') {
    const atPath = await statPath(opts.path);
    if (atPath && atPath.ino === from.ino && atPath.dev === from.dev) {
      cur = await openAt(opts.path, from.offset);
    } else {
      const old = await findRotated(opts.path, from.dev, from.ino);
      if (old) {
        cur = await openAt(old, from.offset);
        note(`the saved position is in ${old} (rotated); reading it to its end first`);
      } else {
        note(
          `the file of the saved position (inode ${from.ino}) is gone; reading ${opts.path} from its start`,
        );
        cur = await openAt(opts.path, 0);
      }
    }
  } else {
    cur = await openAt(opts.path, from === 'end' ? 'end' : 0);
  }

  /** Truncated in place (copytruncate)? Then read again from 0. */
  async function checkTruncated(o: Open): Promise<void> {
    if (o.pos === 0) return;
    const s = await o.fh.stat();
    let truncated = s.size < o.pos;
    if (!truncated) {
      // Compare the bytes before `pos` with what was read there; without a record (just after a
      // restart), at least the byte before `pos` must still end a line.
      const expect = o.mark ?? Buffer.from('\n');
      const b = Buffer.alloc(expect.length);
      const { bytesRead } = await o.fh.read(b, 0, expect.length, o.pos - expect.length);
      truncated = bytesRead !== expect.length || !b.equals(expect);
    }
    if (truncated) {
      note(`${opts.path} was truncated (copytruncate); reading it again from its start`);
      o.pos = 0;
      o.skipping = false;
      o.mark = null;
    }
  }

  async function readChunk(o: Open, limits: ReadLimits): Promise<Chunk | null> {
    const want = limits.until !== undefined ? limits.until - o.pos : limits.maxBytes;
    if (want <= 0) return null;
    const buf = Buffer.alloc(want);
    const { bytesRead } = await o.fh.read(buf, 0, want, o.pos);
    if (bytesRead === 0) return null;
    const data = buf.subarray(0, bytesRead);
    const start = o.pos;
    const lines: string[] = [];
    let oversized = 0;
    let i = 0;
    if (o.skipping) {
      const nl = data.indexOf(0x0a);
      if (nl < 0) {
        o.pos += bytesRead;
        o.mark = Buffer.from(data.subarray(Math.max(0, bytesRead - MARK_BYTES)));
        return { dev: o.dev, ino: o.ino, start, end: o.pos, lines, bytes: data, oversized };
      }
      o.skipping = false;
      i = nl + 1;
    }
    while (lines.length < limits.maxLines) {
      const nl = data.indexOf(0x0a, i);
      if (nl < 0) break;
      const text = data.toString('utf8', i, nl).trim();
      if (text) lines.push(text);
      i = nl + 1;
    }
    if (i === 0 && bytesRead === limits.maxBytes && limits.until === undefined) {
      // A line longer than the whole buffer: skip it.
      oversized = 1;
      o.skipping = true;
      i = bytesRead;
    }
    if (i === 0) return null;
    o.pos = start + i;
    o.mark = Buffer.from(data.subarray(Math.max(0, i - MARK_BYTES), i));
    return { dev: o.dev, ino: o.ino, start, end: o.pos, lines, bytes: data.subarray(0, i), oversized };
  }

  return {
    async next(limits) {
      for (let hop = 0; hop < 2; hop++) {
        if (!cur) {
          cur = await openAt(opts.path, 0);
          if (!cur) return null;
          note(`reading ${opts.path} (inode ${cur.ino}) from its start`);
        }
        await checkTruncated(cur);
        const chunk = await readChunk(cur, limits);
        if (chunk) {
          replacedSince = null;
          return chunk;
        }
        if (limits.until !== undefined) return null;
        // At the end of the file: has the path moved on to another file?
        const atPath = await statPath(opts.path);
        if (!atPath || (atPath.ino === cur.ino && atPath.dev === cur.dev)) {
          replacedSince = null;
          return null;
        }
        replacedSince ??= now();
        if (now() - replacedSince < graceMs) return null;
        const next = await openAt(opts.path, 0);
        if (!next) return null;
        await cur.fh.close();
        note(`${opts.path} was rotated; now reading the new file (inode ${next.ino}) from its start`);
        cur = next;
        replacedSince = null;
      }
      return null;
    },
    position() {
      return cur ? { dev: cur.dev, ino: cur.ino, offset: cur.pos } : null;
    },
    async close() {
      await cur?.fh.close();
      cur = null;
    },
  };
}
