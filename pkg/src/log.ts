/** Structured JSON logs (pino) with one redaction list for every process. */
import { type Logger, type LoggerOptions, pino } from 'pino';

export type { Logger };

/** Paths never written to logs: credentials, cookies, tokens, passwords. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-csrf-token"]',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
  '*.password',
  '*.token',
  '*.secret',
  '*.access_token',
  '*.device_code',
  'password',
  'token',
  'secret',
];

export function createLogger(
  opts: { level: string; pretty?: boolean; name?: string },
  destination?: NodeJS.WritableStream,
): Logger {
  const options: LoggerOptions = {
    level: opts.level,
    name: opts.name,
    base: { pid: process.pid },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  if (opts.pretty) {
    return pino(options, prettyStream(destination ?? process.stdout));
  }
  return destination ? pino(options, destination as pino.DestinationStream) : pino(options);
}

/** Developer output: `HH:MM:SS LEVEL msg key=value` (PEEP_LOG_PRETTY=true). */
function prettyStream(out: NodeJS.WritableStream): pino.DestinationStream {
  const names: Record<number, string> = {
    10: 'TRACE',
    20: 'DEBUG',
    30: 'INFO',
    40: 'WARN',
    50: 'ERROR',
    60: 'FATAL',
  };
  return {
    write(line: string) {
      try {
        const { time, level, msg, pid: _pid, ...rest } = JSON.parse(line) as Record<string, unknown>;
        const extra = Object.entries(rest)
          .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
          .join(' ');
        out.write(
          `${String(time).slice(11, 19)} ${(names[level as number] ?? String(level)).padEnd(5)} ${msg ?? ''} ${extra}\n`,
        );
      } catch {
        out.write(line);
      }
    },
  };
}
