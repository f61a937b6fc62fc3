/**
 * Everything the CLI prints goes through here. Two modes:
 * - human: aligned tables, with colours only when the stream is a terminal and NO_COLOR is unset;
 * - `--json`: one JSON document on stdout for a result, and `{"error":{...}}` on stderr for a failure,
 *   nothing else (no progress lines, no hints).
 */
import pc from 'picocolors';
import { CliError, EXIT } from './errors.js';

export type Colors = ReturnType<typeof pc.createColors>;

export interface Stream {
  write(s: string): unknown;
  isTTY?: boolean;
}

/** NO_COLOR (any non-empty value) wins; otherwise colour when the stream is a terminal or FORCE_COLOR asks. */
export function colorEnabled(stream: Stream, env: NodeJS.ProcessEnv): boolean {
  if (env.NO_COLOR) return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0' && env.FORCE_COLOR !== 'false') return true;
  return stream.isTTY === true;
}

export type Cell = string | { text: string; style?: (s: string) => string };

/**
 * Columns padded to the widest cell, two spaces apart, header in capitals, no trailing spaces.
 * Styles apply after padding so escape codes never skew the alignment.
 */
export function formatTable(headers: string[], rows: Cell[][], colors: Colors): string {
  const text = (c: Cell | undefined) => (typeof c === 'string' ? c : (c?.text ?? ''));
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => text(r[i]).length)));
  const render = (cells: Cell[], head: boolean) =>
    headers
      .map((_, i) => {
        const cell = cells[i];
        const last = i === headers.length - 1;
        const raw = text(cell);
        const padded = last ? raw : raw.padEnd(widths[i] ?? 0);
        if (head) return colors.bold(padded);
        const style = typeof cell === 'object' ? cell.style : undefined;
        return style ? style(padded) : padded;
      })
      .join('  ')
      .trimEnd();
  return [render(headers, true), ...rows.map((r) => render(r, false))].join('\n');
}

/** `2025-03-04 05:06` in UTC: sortable, fixed width, the same on every machine. */
export function formatTime(iso: string | null | undefined, withSeconds = false): string {
  if (!iso) return '-';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d
    .toISOString()
    .slice(0, withSeconds ? 19 : 16)
    .replace('T', ' ');
}

/** The human line for an error: `error: <message> (<code>, request <requestId>)` for API errors. */
export function formatError(err: CliError, colors: Colors): string {
  const label = colors.red(colors.bold('error:'));
  const meta = err.extra.requestId ? ` ${colors.dim(`(${err.code}, request ${err.extra.requestId})`)}` : '';
  let s = `${label} ${err.message}${meta}`;
  if (err.extra.hint) s += `\n${colors.dim(`hint: ${err.extra.hint}`)}`;
  return s;
}

/** The `--json` error document. */
export function errorJson(err: CliError): { error: Record<string, unknown> } {
  const e: Record<string, unknown> = { code: err.code, message: err.message, exitCode: err.exitCode };
  if (err.extra.requestId) e.requestId = err.extra.requestId;
  if (err.extra.status) e.status = err.extra.status;
  if (err.extra.details !== undefined) e.details = err.extra.details;
  return { error: e };
}

/** Wraps anything thrown into a CliError (unexpected errors become exit 1 with their message). */
export function toCliError(e: unknown): CliError {
  if (e instanceof CliError) return e;
  const message = e instanceof Error ? e.message : String(e);
  return new CliError(EXIT.failure, 'cli_error', message);
}

export class Output {
  readonly c: Colors;
  readonly errColors: Colors;

  constructor(
    readonly json: boolean,
    private readonly stdout: Stream = process.stdout,
    private readonly stderr: Stream = process.stderr,
    env: NodeJS.ProcessEnv = process.env,
  ) {
    this.c = pc.createColors(!json && colorEnabled(stdout, env));
    this.errColors = pc.createColors(!json && colorEnabled(stderr, env));
  }

  /** A result: `value` as JSON in `--json` mode, else whatever `human` prints. */
  result(value: unknown, human: () => void): void {
    if (this.json) this.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
    else human();
  }

  /** A human line on stdout (nothing in `--json` mode). */
  line(s = ''): void {
    if (!this.json) this.stdout.write(`${s}\n`);
  }

  /** A human note on stderr: progress and warnings that must not mix with piped results. */
  note(s: string): void {
    if (!this.json) this.stderr.write(`${s}\n`);
  }

  warn(s: string): void {
    if (!this.json) this.stderr.write(`${this.errColors.yellow('warning:')} ${s}\n`);
  }

  table(headers: string[], rows: Cell[][], empty: string): void {
    if (rows.length === 0) this.line(this.c.dim(empty));
    else this.line(formatTable(headers, rows, this.c));
  }

  error(e: CliError): void {
    if (this.json) this.stderr.write(`${JSON.stringify(errorJson(e))}\n`);
    else this.stderr.write(`${formatError(e, this.errColors)}\n`);
  }
}
