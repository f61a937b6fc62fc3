/**
 * The dashboard's only way to the server: same-origin fetch to `/api/v1/...` with the session cookie,
 * the CSRF header on every write, and the error envelope turned into a typed `ApiError`.
 */

/** One problem listed by a `validation_failed` error. */
export interface ValidationDetail {
  where?: string;
  path?: string;
  field?: string;
  message?: string;
}

export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly requestId: string | null = null,
    readonly details: unknown = undefined,
    /** Seconds from `Retry-After` on 429 answers. */
    readonly retryAfter: number | null = null,
  ) {
    super(message);
  }

  /** The `details` of a `validation_failed` error as readable lines. */
  get detailLines(): string[] {
    if (!Array.isArray(this.details)) return [];
    return this.details.map((d: unknown) => {
      if (typeof d !== 'object' || d === null) return String(d);
      const v = d as ValidationDetail;
      const at = v.field ?? (v.path ? v.path.replace(/^\//, '').replace(/\//g, '.') : '');
      return at ? `${at}: ${v.message ?? 'invalid'}` : (v.message ?? 'invalid');
    });
  }
}

const CSRF_COOKIE = 'peep_csrf';
let csrfFromResponse: string | null = null;

/** Remember the token returned by login/setup (the cookie carries the same value). */
export function rememberCsrf(token: string) {
  csrfFromResponse = token;
}

function csrfToken(): string | null {
  if (typeof document !== 'undefined') {
    for (const part of document.cookie.split(';')) {
      const [k, ...v] = part.trim().split('=');
      if (k === CSRF_COOKIE) return decodeURIComponent(v.join('='));
    }
  }
  return csrfFromResponse;
}

type Query = Record<string, string | number | undefined | null>;

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  body?: unknown;
  query?: Query;
  signal?: AbortSignal;
}

function withQuery(path: string, query?: Query): string {
  if (!query) return path;
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(query))
    if (v !== undefined && v !== null && v !== '') qs.set(k, String(v));
  const s = qs.toString();
  return s ? `${path}?${s}` : path;
}

/**
 * `api<T>('/projects')` calls `/api/v1/projects`. Resolves with the parsed JSON body (undefined for
 * 204); rejects with `ApiError` for every non-2xx answer and for network failures (`network_error`).
 */
export async function api<T>(path: string, opts: RequestOptions = {}): Promise<T> {
  const method = opts.method ?? 'GET';
  const headers: Record<string, string> = { accept: 'application/json' };
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET') {
    const csrf = csrfToken();
    if (csrf) headers['x-csrf-token'] = csrf;
  }
  let res: Response;
  try {
    res = await fetch(withQuery(`/api/v1${path}`, opts.query), {
      method,
      headers,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      credentials: 'same-origin',
      cache: 'no-store',
      signal: opts.signal,
    });
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e;
    throw new ApiError(0, 'network_error', 'Could not reach the peep server. Check that it is running.');
  }
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let body: unknown = null;
  if (text) {
    try {
      body = JSON.parse(text);
    } catch {
      body = null;
    }
  }
  if (res.ok) return body as T;
  const env = (
    body as { error?: { code?: unknown; message?: unknown; requestId?: unknown; details?: unknown } }
  )?.error;
  const retry = Number(res.headers.get('retry-after'));
  throw new ApiError(
    res.status,
    typeof env?.code === 'string' ? env.code : `http_${res.status}`,
    typeof env?.message === 'string' ? env.message : `The server answered ${res.status} ${res.statusText}.`,
    typeof env?.requestId === 'string' ? env.requestId : res.headers.get('x-request-id'),
    env?.details,
    Number.isFinite(retry) && retry > 0 ? retry : null,
  );
}

export function isApiError(e: unknown, code?: string): e is ApiError {
  return e instanceof ApiError && (code === undefined || e.code === code);
}

/** A `?next=` target that stays on this site (a path, never `//host` or a scheme). */
export function safeNext(next: string | null | undefined, fallback = '/projects'): string {
  if (!next?.startsWith('/') || next.startsWith('//') || next.startsWith('/\\')) return fallback;
  return next;
}
