/**
 * The agent's position on disk: which file (device + inode) and how far its lines were acknowledged
 * by peep, plus the byte range of a batch sent but not yet acknowledged (`pending`). After a crash
 * the pending range is sent again first, byte for byte, under the same Idempotency-Key, so a batch
 * the server had already committed counts once. Written atomically: temp file, fsync, rename.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Position } from './tail.js';

export interface Range {
  dev: number;
  ino: number;
  start: number;
  end: number;
}

export interface AgentState {
  version: 1;
  file: string;
  /** Everything before `offset` in this file was acknowledged. */
  position: Position;
  pending: Range | null;
  updatedAt: string;
}

export interface StateStore {
  readonly file: string;
  load(): AgentState | null;
  save(position: Position, pending: Range | null): void;
}

/** `<dir>/nginx-<hash of the log's absolute path>.json`: one state per followed file. */
export function stateFileFor(dir: string, logFile: string): string {
  const hash = crypto.createHash('sha256').update(path.resolve(logFile)).digest('hex').slice(0, 16);
  return path.join(dir, `nginx-${hash}.json`);
}

const isInt = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

export function createStateStore(dir: string, logFile: string): StateStore {
  const file = stateFileFor(dir, logFile);
  return {
    file,
    load() {
      let raw: string;
      try {
        raw = fs.readFileSync(file, 'utf8');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw e;
      }
      const s = JSON.parse(raw) as Partial<AgentState>;
      const p = s.position;
      if (s.version !== 1 || !p || !isInt(p.dev) || !isInt(p.ino) || !isInt(p.offset))
        throw new Error(`${file} is not a state file of this agent; move it away to start over`);
      const q = s.pending;
      const pending =
        q && isInt(q.dev) && isInt(q.ino) && isInt(q.start) && isInt(q.end) && q.end > q.start ? q : null;
      return { version: 1, file: String(s.file), position: p, pending, updatedAt: String(s.updatedAt) };
    },
    save(position, pending) {
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
      const state: AgentState = {
        version: 1,
        file: path.resolve(logFile),
        position,
        pending,
        updatedAt: new Date().toISOString(),
      };
      const tmp = `${file}.${process.pid}.tmp`;
      const fd = fs.openSync(tmp, 'w', 0o600);
      try {
        fs.writeSync(fd, `${JSON.stringify(state)}\n`);
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      fs.renameSync(tmp, file);
    },
  };
}
