/**
 * What an uptime probe checks, as plain data (stored as JSON with the target), and the strict
 * validation of such a spec from untrusted input (API, CLI, `peep targets apply` files).
 *
 * Required: kind, timeoutMs, and url + method (HTTP) or host + port (TCP).
 * Defaults (applied when a check runs, so a stored spec keeps only what the user wrote):
 *   acceptStatus ['200-399'] (a redirect that is not followed still means the server answered),
 *   followRedirects true (at most MAX_REDIRECTS hops, each resolving its own host),
 *   certExpiryWarnDays 14, ignoreTls false.
 *
 * Error codes of `validateCheck` (stable: the API passes them on as details; `path` is a dotted path
 * into the spec such as `headers.X-Token` or `acceptStatus[1]`; messages never repeat a header value):
 *   invalid_type            a field has the wrong JSON type (or the spec is not an object)
 *   required                a required field is missing
 *   unknown_field           a field this spec kind does not have
 *   invalid_kind            `kind` is not 'http' or 'tcp'
 *   invalid_url             not an absolute URL, or longer than 2,048 characters
 *   unsupported_scheme      a scheme other than http: or https:
 *   url_credentials         user:password@ in the URL (put credentials in an Authorization header)
 *   invalid_method          not GET, HEAD, POST, PUT, PATCH, DELETE or OPTIONS
 *   invalid_header_name     not an HTTP token, or longer than 256 characters
 *   invalid_header_value    control characters (CR, LF, NUL...) or longer than 8 KiB
 *   forbidden_header        Host, Content-Length, Transfer-Encoding, Connection and other
 *                           hop-by-hop headers, which the prober sets itself
 *   duplicate_header        the same header twice with a different case
 *   too_many_headers        more than 32 headers
 *   headers_too_large       names and values together over 16 KiB
 *   body_too_large          body over 64 KiB (UTF-8)
 *   body_not_allowed        a body with GET or HEAD
 *   invalid_status_range    not 'NNN' or 'NNN-MMM' with 100 <= NNN <= MMM <= 599
 *   too_many_status_ranges  more than 20 entries
 *   empty_list              acceptStatus is []
 *   keyword_conflict        keyword has both `text` and `regex`
 *   keyword_missing         keyword has neither `text` nor `regex`, or an empty one
 *   invalid_regex           the regex does not compile (or has flags other than i, m, s, u)
 *   unsafe_regex            a repeated group that itself repeats, like (a+)+ or (\w+\s?)*: such
 *                           patterns can take exponential time on a body and would stall every
 *                           check of the process (a heuristic: overlapping alternations pass)
 *   too_long                keyword text or regex over 1,024 characters
 *   invalid_mode            keyword mode is not 'present' or 'absent'
 *   invalid_json_path       outside the supported subset (see jsonpath.ts)
 *   invalid_op              jsonPath op not eq, neq, exists, contains, lt or gt
 *   value_required          eq, neq, contains, lt and gt need a `value`
 *   value_not_allowed       exists takes no `value`
 *   invalid_value           lt/gt need a finite number; contains needs a non-null value
 *   assertion_needs_body    keyword or jsonPath with HEAD (no body to look at)
 *   out_of_range            timeoutMs outside 100..60,000, certExpiryWarnDays outside 0..365,
 *                           port outside 1..65,535
 *   invalid_host            TCP host is not a hostname or an IP address
 */
import { isIP } from 'node:net';
import { parseJsonPath } from './jsonpath.js';

export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];
export const JSON_OPS = ['eq', 'neq', 'exists', 'contains', 'lt', 'gt'] as const;
export type JsonOp = (typeof JSON_OPS)[number];

export const DEFAULT_ACCEPT_STATUS: readonly string[] = ['200-399'];
export const DEFAULT_CERT_WARN_DAYS = 14;
export const MAX_REDIRECTS = 5;
export const MIN_TIMEOUT_MS = 100;
export const MAX_TIMEOUT_MS = 60_000;
export const MAX_BODY_BYTES = 64 * 1024;
export const MAX_HEADERS = 32;
export const MAX_HEADERS_BYTES = 16 * 1024;
const MAX_HEADER_NAME = 256;
const MAX_HEADER_VALUE = 8 * 1024;
const MAX_URL = 2048;
const MAX_STATUS_RANGES = 20;
const MAX_KEYWORD = 1024;

export interface KeywordAssertion {
  /** Plain text looked for in the body (case-sensitive, UTF-8). */
  text?: string;
  /** JavaScript regular expression source, without slashes. */
  regex?: string;
  /** Regex flags: any of i, m, s, u. */
  flags?: string;
  mode: 'present' | 'absent';
}

export interface JsonPathAssertion {
  /** `$`, then `.name`, `['name']` or `[index]` steps; see jsonpath.ts. */
  path: string;
  op: JsonOp;
  value?: string | number | boolean | null;
}

export interface HttpCheck {
  kind: 'http';
  url: string;
  method: HttpMethod;
  headers?: Record<string, string>;
  body?: string;
  /** Accepted final status codes: 'NNN' or 'NNN-MMM'. Default ['200-399']. */
  acceptStatus?: string[];
  keyword?: KeywordAssertion;
  jsonPath?: JsonPathAssertion;
  /** Default true; at most MAX_REDIRECTS hops. */
  followRedirects?: boolean;
  /** The whole check: DNS, connect, TLS, every redirect hop and the body. */
  timeoutMs: number;
  /** `certWarning` is set when the certificate has fewer days left. Default 14. */
  certExpiryWarnDays?: number;
  /** Accept invalid, expired or self-signed certificates (days left are still reported). */
  ignoreTls?: boolean;
}

export interface TcpCheck {
  kind: 'tcp';
  host: string;
  port: number;
  timeoutMs: number;
}

export type Check = HttpCheck | TcpCheck;

export interface CheckError {
  path: string;
  code: string;
  message: string;
}

export type Validation = { ok: true; check: Check } | { ok: false; errors: CheckError[] };

const FORBIDDEN_HEADERS = new Set([
  'host',
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'proxy-connection',
  'upgrade',
  'te',
  'trailer',
  'expect',
]);
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// Any control character but horizontal tab, and DEL: what Node refuses in a header value.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const BAD_VALUE = /[\u0000-\u0008\u000a-\u001f\u007f]/;
const STATUS_RANGE = /^([1-5]\d\d)(?:-([1-5]\d\d))?$/;
const REGEX_FLAGS = /^(?!.*(.).*\1)[imsu]*$/;
const HOSTNAME =
  /^(?=.{1,253}$)(?:[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?$/;

const HTTP_FIELDS = new Set([
  'kind',
  'url',
  'method',
  'headers',
  'body',
  'acceptStatus',
  'keyword',
  'jsonPath',
  'followRedirects',
  'timeoutMs',
  'certExpiryWarnDays',
  'ignoreTls',
]);
const TCP_FIELDS = new Set(['kind', 'host', 'port', 'timeoutMs']);
const KEYWORD_FIELDS = new Set(['text', 'regex', 'flags', 'mode']);
const JSON_PATH_FIELDS = new Set(['path', 'op', 'value']);

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const typeName = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

/** Parses 'NNN' or 'NNN-MMM' into [low, high], or undefined when it is not a valid range. */
export function parseStatusRange(s: string): [number, number] | undefined {
  const m = STATUS_RANGE.exec(s);
  if (!m) return undefined;
  const lo = Number(m[1]);
  const hi = m[2] === undefined ? lo : Number(m[2]);
  return lo <= hi ? [lo, hi] : undefined;
}

/** Validates an untrusted spec; on success returns a fresh copy holding only the known fields. */
export function validateCheck(input: unknown): Validation {
  const errors: CheckError[] = [];
  const err = (path: string, code: string, message: string) => {
    errors.push({ path, code, message });
  };
  const want = (o: Obj, key: string, type: 'string' | 'number' | 'boolean', required: boolean) => {
    const v = o[key];
    if (v === undefined) {
      if (required) err(key, 'required', `${key} is required`);
      return undefined;
    }
    if (typeof v !== type || (type === 'number' && !Number.isFinite(v))) {
      err(key, 'invalid_type', `${key} must be a ${type}, not ${typeName(v)}`);
      return undefined;
    }
    return v;
  };
  const unknownFields = (o: Obj, allowed: Set<string>, prefix: string) => {
    for (const k of Object.keys(o))
      if (!allowed.has(k)) err(prefix + k, 'unknown_field', `unknown field ${prefix}${k}`);
  };
  const integerIn = (path: string, v: number | undefined, lo: number, hi: number) => {
    if (v !== undefined && (!Number.isInteger(v) || v < lo || v > hi))
      err(path, 'out_of_range', `${path} must be an integer from ${lo} to ${hi}`);
  };

  if (!isObj(input)) {
    err('', 'invalid_type', `a check must be an object, not ${typeName(input)}`);
    return { ok: false, errors };
  }
  const timeoutMs = want(input, 'timeoutMs', 'number', true) as number | undefined;
  integerIn('timeoutMs', timeoutMs, MIN_TIMEOUT_MS, MAX_TIMEOUT_MS);

  if (input.kind === 'tcp') {
    unknownFields(input, TCP_FIELDS, '');
    const host = want(input, 'host', 'string', true) as string | undefined;
    const port = want(input, 'port', 'number', true) as number | undefined;
    if (host !== undefined && !isIP(stripBrackets(host)) && !HOSTNAME.test(host))
      err('host', 'invalid_host', 'host must be a hostname or an IP address');
    integerIn('port', port, 1, 65_535);
    if (errors.length || host === undefined || port === undefined || timeoutMs === undefined)
      return { ok: false, errors };
    return { ok: true, check: { kind: 'tcp', host: stripBrackets(host), port, timeoutMs } };
  }
  if (input.kind !== 'http') {
    err('kind', 'invalid_kind', "kind must be 'http' or 'tcp'");
    return { ok: false, errors };
  }

  unknownFields(input, HTTP_FIELDS, '');
  const out: HttpCheck = { kind: 'http', url: '', method: 'GET', timeoutMs: timeoutMs ?? 0 };

  const url = want(input, 'url', 'string', true) as string | undefined;
  if (url !== undefined) {
    let u: URL | undefined;
    try {
      if (url.length <= MAX_URL) u = new URL(url);
    } catch {}
    if (!u) err('url', 'invalid_url', `url must be an absolute URL of at most ${MAX_URL} characters`);
    else if (u.protocol !== 'http:' && u.protocol !== 'https:')
      err('url', 'unsupported_scheme', `url scheme must be http or https, not ${u.protocol.slice(0, -1)}`);
    else if (u.username || u.password)
      err('url', 'url_credentials', 'url must not hold credentials; send them in an Authorization header');
    else {
      u.hash = '';
      out.url = u.href;
    }
  }

  const method = want(input, 'method', 'string', true) as string | undefined;
  if (method !== undefined) {
    const m = method.toUpperCase();
    if ((HTTP_METHODS as readonly string[]).includes(m)) out.method = m as HttpMethod;
    else err('method', 'invalid_method', `method must be one of ${HTTP_METHODS.join(', ')}`);
  }
  const noBody = out.method === 'GET' || out.method === 'HEAD';

  if (input.headers !== undefined) {
    if (!isObj(input.headers)) err('headers', 'invalid_type', 'headers must be an object of strings');
    else {
      const headers: Record<string, string> = {};
      const seen = new Set<string>();
      const entries = Object.entries(input.headers);
      let size = 0;
      if (entries.length > MAX_HEADERS)
        err('headers', 'too_many_headers', `at most ${MAX_HEADERS} headers, got ${entries.length}`);
      for (const [name, value] of entries) {
        const path = `headers.${name.length > 64 ? `${name.slice(0, 64)}…` : name}`;
        const lower = name.toLowerCase();
        size += name.length + (typeof value === 'string' ? Buffer.byteLength(value) : 0);
        if (!TOKEN.test(name) || name.length > MAX_HEADER_NAME)
          err(
            path,
            'invalid_header_name',
            `header name must be an HTTP token of at most ${MAX_HEADER_NAME} characters`,
          );
        else if (FORBIDDEN_HEADERS.has(lower))
          err(path, 'forbidden_header', `header ${name} is set by the prober and cannot be given`);
        else if (seen.has(lower)) err(path, 'duplicate_header', `header ${name} is given twice`);
        else if (typeof value !== 'string') err(path, 'invalid_type', `header ${name} must be a string`);
        else if (BAD_VALUE.test(value) || value.length > MAX_HEADER_VALUE)
          err(path, 'invalid_header_value', `header ${name} has control characters or is over 8 KiB`);
        else headers[name] = value;
        seen.add(lower);
      }
      if (size > MAX_HEADERS_BYTES)
        err('headers', 'headers_too_large', `headers total over ${MAX_HEADERS_BYTES / 1024} KiB`);
      if (entries.length) out.headers = headers;
    }
  }

  const body = want(input, 'body', 'string', false) as string | undefined;
  if (body !== undefined) {
    if (noBody) err('body', 'body_not_allowed', `${out.method} requests carry no body`);
    else if (Buffer.byteLength(body) > MAX_BODY_BYTES)
      err('body', 'body_too_large', `body over ${MAX_BODY_BYTES / 1024} KiB`);
    else out.body = body;
  }

  if (input.acceptStatus !== undefined) {
    const list = input.acceptStatus;
    if (!Array.isArray(list)) err('acceptStatus', 'invalid_type', 'acceptStatus must be an array of strings');
    else if (list.length === 0) err('acceptStatus', 'empty_list', 'acceptStatus must not be empty');
    else if (list.length > MAX_STATUS_RANGES)
      err('acceptStatus', 'too_many_status_ranges', `at most ${MAX_STATUS_RANGES} status ranges`);
    else {
      list.forEach((s, i) => {
        if (typeof s !== 'string' || !parseStatusRange(s))
          err(
            `acceptStatus[${i}]`,
            'invalid_status_range',
            "a status range is 'NNN' or 'NNN-MMM' within 100-599",
          );
      });
      out.acceptStatus = list.slice() as string[];
    }
  }

  if (input.keyword !== undefined) {
    const k = input.keyword;
    if (!isObj(k)) err('keyword', 'invalid_type', 'keyword must be an object');
    else {
      unknownFields(k, KEYWORD_FIELDS, 'keyword.');
      const kw: KeywordAssertion = { mode: 'present' };
      if (k.mode !== 'present' && k.mode !== 'absent')
        err('keyword.mode', 'invalid_mode', "keyword.mode must be 'present' or 'absent'");
      else kw.mode = k.mode;
      const text = k.text;
      const regex = k.regex;
      if (text !== undefined && regex !== undefined)
        err('keyword', 'keyword_conflict', 'keyword takes either text or regex, not both');
      else if (text !== undefined) {
        if (typeof text !== 'string') err('keyword.text', 'invalid_type', 'keyword.text must be a string');
        else if (!text) err('keyword.text', 'keyword_missing', 'keyword.text must not be empty');
        else if (text.length > MAX_KEYWORD)
          err('keyword.text', 'too_long', `keyword.text over ${MAX_KEYWORD} characters`);
        else kw.text = text;
        if (k.flags !== undefined)
          err('keyword.flags', 'unknown_field', 'keyword.flags goes with regex only');
      } else if (regex !== undefined) {
        const flags = k.flags ?? '';
        if (typeof regex !== 'string') err('keyword.regex', 'invalid_type', 'keyword.regex must be a string');
        else if (!regex) err('keyword.regex', 'keyword_missing', 'keyword.regex must not be empty');
        else if (regex.length > MAX_KEYWORD)
          err('keyword.regex', 'too_long', `keyword.regex over ${MAX_KEYWORD} characters`);
        else if (typeof flags !== 'string' || !REGEX_FLAGS.test(flags))
          err('keyword.flags', 'invalid_regex', 'keyword.flags may hold i, m, s and u, each once');
        else if (nestedQuantifier(regex))
          err(
            'keyword.regex',
            'unsafe_regex',
            'keyword.regex repeats a group that repeats, like (a+)+; unroll it',
          );
        else {
          try {
            new RegExp(regex, flags);
            kw.regex = regex;
            if (flags) kw.flags = flags;
          } catch (e) {
            err('keyword.regex', 'invalid_regex', `keyword.regex does not compile: ${(e as Error).message}`);
          }
        }
      } else err('keyword', 'keyword_missing', 'keyword needs text or regex');
      out.keyword = kw;
    }
  }

  if (input.jsonPath !== undefined) {
    const j = input.jsonPath;
    if (!isObj(j)) err('jsonPath', 'invalid_type', 'jsonPath must be an object');
    else {
      unknownFields(j, JSON_PATH_FIELDS, 'jsonPath.');
      const path = j.path;
      if (typeof path !== 'string')
        err(
          'jsonPath.path',
          path === undefined ? 'required' : 'invalid_type',
          'jsonPath.path must be a string',
        );
      else {
        const parsed = parseJsonPath(path);
        if (typeof parsed === 'string') err('jsonPath.path', 'invalid_json_path', parsed);
      }
      const op = j.op;
      const value = j.value;
      const has = 'value' in j && value !== undefined;
      if (!(JSON_OPS as readonly unknown[]).includes(op))
        err('jsonPath.op', 'invalid_op', `jsonPath.op must be one of ${JSON_OPS.join(', ')}`);
      else if (op === 'exists') {
        if (has) err('jsonPath.value', 'value_not_allowed', 'exists takes no value');
      } else if (!has) err('jsonPath.value', 'value_required', `${op as string} needs a value`);
      else if (value !== null && !['string', 'number', 'boolean'].includes(typeof value))
        err('jsonPath.value', 'invalid_type', 'jsonPath.value must be a string, number, boolean or null');
      else if ((op === 'lt' || op === 'gt') && (typeof value !== 'number' || !Number.isFinite(value)))
        err('jsonPath.value', 'invalid_value', `${op} needs a finite number`);
      else if (op === 'contains' && value === null)
        err('jsonPath.value', 'invalid_value', 'contains needs a string, number or boolean');
      if (typeof path === 'string') {
        const a: JsonPathAssertion = { path, op: op as JsonOp };
        if (has) a.value = value as JsonPathAssertion['value'];
        out.jsonPath = a;
      }
    }
  }
  if (out.method === 'HEAD' && (input.keyword !== undefined || input.jsonPath !== undefined))
    err('method', 'assertion_needs_body', 'keyword and jsonPath assertions need a method other than HEAD');

  const follow = want(input, 'followRedirects', 'boolean', false) as boolean | undefined;
  if (follow !== undefined) out.followRedirects = follow;
  const warn = want(input, 'certExpiryWarnDays', 'number', false) as number | undefined;
  integerIn('certExpiryWarnDays', warn, 0, 365);
  if (warn !== undefined) out.certExpiryWarnDays = warn;
  const ignoreTls = want(input, 'ignoreTls', 'boolean', false) as boolean | undefined;
  if (ignoreTls !== undefined) out.ignoreTls = ignoreTls;

  return errors.length ? { ok: false, errors } : { ok: true, check: out };
}

/**
 * True when a group holding an unbounded quantifier (*, + or {n,}) is itself quantified that way:
 * the shape behind catastrophic backtracking. Escapes and character classes are skipped; bounded
 * ones (?, {n}, {n,m}) do not count, so `(\d{1,3}\.){3}` and `(\d+\.){3}` pass.
 */
export function nestedQuantifier(src: string): boolean {
  const outer: boolean[] = [];
  let inner = false; // a quantifier seen at the current group level
  let closedWithQuantifier = false; // the character before is a ')' whose group held one
  for (let i = 0; i < src.length; i++) {
    const c = src[i];
    if (c === '\\') {
      i++;
      closedWithQuantifier = false;
    } else if (c === '[') {
      for (i++; i < src.length && src[i] !== ']'; i++) if (src[i] === '\\') i++;
      closedWithQuantifier = false;
    } else if (c === '(') {
      outer.push(inner);
      inner = false;
      closedWithQuantifier = false;
    } else if (c === ')') {
      closedWithQuantifier = inner;
      inner = (outer.pop() ?? false) || inner;
    } else if (c === '*' || c === '+' || (c === '{' && /^\{\d+,\}/.test(src.slice(i, i + 16)))) {
      if (closedWithQuantifier) return true;
      inner = true;
      closedWithQuantifier = false;
    } else closedWithQuantifier = false;
  }
  return false;
}

/** `[::1]` → `::1`: URL hostnames keep brackets, sockets want the bare address. */
export function stripBrackets(host: string): string {
  return host.length > 1 && host.charCodeAt(0) === 91 && host.endsWith(']') ? host.slice(1, -1) : host;
}
