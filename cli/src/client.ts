/**
 * The HTTP client for peep's API: JSON in and out, `Authorization: Bearer <token>`, and every failure
 * turned into a CliError with the exit code the CLI promises (401 -> 3, 403 -> 5, 404 -> 4, 409 -> 6,
 * no answer -> 7). The API's error envelope `{"error":{code,message,requestId,details}}` is kept whole.
 */
import { CliError, EXIT, exitCodeForStatus } from './errors.js';
import { version } from './version.js';

export const USER_AGENT = `peep-cli/${version()} node/${process.versions.node}`;

const TIMEOUT_MS = 30_000;

/** A failed `fetch` (refused, DNS, TLS, timeout) as exit 7, naming the server and the cause. */
export function unreachable(e: unknown, server: string): CliError | undefined {
  const err = e as Error & { cause?: { code?: string; message?: string } };
  if (err?.name === 'TimeoutError' || err?.name === 'AbortError')
    return new CliError(EXIT.unreachable, 'server_unreachable', `no answer from ${server} within 30 s`, {
      hint: 'check the server URL (--server or PEEP_SERVER) and that peep is running there',
    });
  if (err instanceof TypeError && (err.message === 'fetch failed' || err.cause)) {
    const why = err.cause?.code ?? err.cause?.message ?? err.message;
    return new CliError(
      EXIT.unreachable,
      'server_unreachable',
      `cannot reach the peep server at ${server} (${why})`,
      {
        hint: 'start one with `peep up`, or point to yours with --server URL or PEEP_SERVER',
      },
    );
  }
  return undefined;
}

interface Envelope {
  error?: { code?: unknown; message?: unknown; requestId?: unknown; details?: unknown };
}

function hintFor(code: string, server: string): string | undefined {
  switch (code) {
    case 'unauthenticated':
    case 'token_revoked':
    case 'token_expired':
      return `run \`peep login --server ${server}\` (or set PEEP_TOKEN)`;
    case 'insufficient_scope':
      return 'this token lacks the scope; create one with the needed scopes or log in again';
    default:
      return undefined;
  }
}

export interface RequestOptions {
  body?: unknown;
  query?: Record<string, string | number | undefined>;
}

export class ApiClient {
  constructor(
    readonly server: string,
    private readonly token: string | undefined,
  ) {}

  /** Sends one request; resolves with the parsed JSON body (undefined for 204). */
  async request<T>(method: string, route: string, opts: RequestOptions = {}): Promise<T> {
    const url = new URL(`${this.server}${route}`);
    for (const [k, v] of Object.entries(opts.query ?? {}))
      if (v !== undefined && v !== '') url.searchParams.set(k, String(v));
    const headers: Record<string, string> = { accept: 'application/json', 'user-agent': USER_AGENT };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers,
        body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
    } catch (e) {
      throw unreachable(e, this.server) ?? e;
    }
    const requestId = res.headers.get('x-request-id') ?? undefined;
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (res.ok) {
      if (text && json === undefined)
        throw new CliError(
          EXIT.failure,
          'bad_response',
          `${method} ${route} answered ${res.status} with a body that is not JSON; is ${this.server} a peep server?`,
          { requestId, status: res.status },
        );
      return json as T;
    }
    const env = (json as Envelope | undefined)?.error;
    if (env && typeof env === 'object' && typeof env.code === 'string' && typeof env.message === 'string') {
      throw new CliError(exitCodeForStatus(res.status), env.code, env.message, {
        requestId: typeof env.requestId === 'string' ? env.requestId : requestId,
        status: res.status,
        details: env.details,
        hint: hintFor(env.code, this.server),
      });
    }
    throw new CliError(
      exitCodeForStatus(res.status),
      `http_${res.status}`,
      `${method} ${route} answered ${res.status} ${res.statusText}`.trim(),
      { requestId, status: res.status },
    );
  }

  get<T>(route: string, query?: RequestOptions['query']): Promise<T> {
    return this.request<T>('GET', route, { query });
  }
  post<T>(route: string, body: unknown): Promise<T> {
    return this.request<T>('POST', route, { body });
  }
  patch<T>(route: string, body: unknown): Promise<T> {
    return this.request<T>('PATCH', route, { body });
  }
  delete(route: string): Promise<void> {
    return this.request<void>('DELETE', route);
  }
}
