/**
 * Exit codes and the one error type every command throws. Kept free of imports so `bin.ts` can show
 * the table in `peep --help` without loading anything else.
 */
export const EXIT = {
  ok: 0,
  failure: 1,
  usage: 2,
  auth: 3,
  notFound: 4,
  forbidden: 5,
  conflict: 6,
  unreachable: 7,
} as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export const EXIT_CODE_HELP = `Exit codes:
  0  success
  1  failure (server error, unexpected answer)
  2  usage error (bad arguments, or login without a terminal)
  3  not authenticated: not logged in, token revoked or expired (401), login denied or expired
  4  not found (404)
  5  permission denied (403)
  6  conflict (409)
  7  server unreachable`;

/**
 * A failure the CLI reports and exits with. `code` is the API's error code when the server answered
 * one (`project_not_found`), else a CLI code (`usage`, `not_logged_in`, `server_unreachable`, ...).
 */
export class CliError extends Error {
  constructor(
    readonly exitCode: ExitCode,
    readonly code: string,
    message: string,
    readonly extra: { requestId?: string; status?: number; details?: unknown; hint?: string } = {},
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export const usageError = (message: string) => new CliError(EXIT.usage, 'usage', message);

/** The exit code for an HTTP error status from the API. */
export function exitCodeForStatus(status: number): ExitCode {
  if (status === 401) return EXIT.auth;
  if (status === 403) return EXIT.forbidden;
  if (status === 404) return EXIT.notFound;
  if (status === 409) return EXIT.conflict;
  return EXIT.failure;
}
