/**
 * One HTTP(S) check over node:http on a socket of its own (net/tls, no agent, `Connection: close`),
 * so every check pays and measures DNS, connect and TLS honestly; phases come from the socket's
 * `lookup`, `connect` and `secureConnect` events and the request's `response`.
 *
 * - One timer covers the whole check: every redirect hop and the body. It, an abort, an error or the
 *   end destroys the socket in use; a redirect destroys the previous hop's before the next starts.
 * - Redirects (301, 302, 303, 307, 308) are followed up to MAX_REDIRECTS hops; 303, and 301/302 after
 *   a POST, continue as GET without a body (as browsers do); Authorization, Cookie and
 *   Proxy-Authorization are dropped when a hop leaves the origin.
 * - The body is read up to `maxBodyBytes` (1 MiB by default) and the rest is not read (the socket is
 *   closed): kept for keyword and JSON assertions, only counted otherwise. It is not decompressed
 *   (the prober sends no Accept-Encoding) and is read as UTF-8 for regex and JSON.
 * - What can be prepared once per spec (URL, headers, body bytes, status ranges, regex, JSON path)
 *   is compiled on first use and kept in a WeakMap keyed by the spec object: treat specs as immutable
 *   and hand a new object to the scheduler when a target changes.
 */
import http from 'node:http';
import net, { type LookupFunction, type Socket } from 'node:net';
import tls, { type TLSSocket } from 'node:tls';
import { assertJson, type JsonStep, parseJsonPath } from '@peep/pkg/jsonpath';
import {
  DEFAULT_ACCEPT_STATUS,
  DEFAULT_CERT_WARN_DAYS,
  type HttpCheck,
  type HttpMethod,
  type JsonOp,
  MAX_REDIRECTS,
  parseStatusRange,
  stripBrackets,
} from '@peep/pkg/probe-spec';
import { type CheckResult, classify, type ErrorClass, ms, type Phases } from './result.js';

export const USER_AGENT = 'peep-probe/1';
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
const DAY = 86_400_000;

export interface RunEnv {
  now: () => number;
  lookup: LookupFunction;
  signal?: AbortSignal;
  /** Extra trusted CAs (PEM), for services behind a private CA. */
  ca?: string | Buffer | (string | Buffer)[];
  maxBodyBytes: number;
}

interface Compiled {
  url: URL;
  method: HttpMethod;
  headers: Record<string, string>;
  body?: Buffer;
  status: number[];
  statusText: string;
  keyword?: { bytes?: Buffer; re?: RegExp; absent: boolean; label: string };
  json?: { steps: JsonStep[]; path: string; op: JsonOp; value: unknown };
  needBody: boolean;
  follow: boolean;
  warnDays: number;
  ignoreTls: boolean;
  timeoutMs: number;
}

const compiled = new WeakMap<HttpCheck, Compiled>();

/** Prepares a spec for running; throws on a spec validateCheck would refuse in ways that matter here. */
export function compileHttp(check: HttpCheck): Compiled {
  const hit = compiled.get(check);
  if (hit) return hit;
  const url = new URL(check.url);
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new Error(`unsupported scheme ${url.protocol}`);
  const headers: Record<string, string> = { ...check.headers };
  if (!Object.keys(headers).some((h) => h.toLowerCase() === 'user-agent')) headers['user-agent'] = USER_AGENT;
  const accept = check.acceptStatus ?? DEFAULT_ACCEPT_STATUS;
  const status: number[] = [];
  for (const s of accept) {
    const r = parseStatusRange(s);
    if (!r) throw new Error(`invalid status range ${s}`);
    status.push(r[0], r[1]);
  }
  const c: Compiled = {
    url,
    method: check.method ?? 'GET',
    headers,
    status,
    statusText: accept.join(', '),
    needBody: false,
    follow: check.followRedirects ?? true,
    warnDays: check.certExpiryWarnDays ?? DEFAULT_CERT_WARN_DAYS,
    ignoreTls: check.ignoreTls ?? false,
    timeoutMs: check.timeoutMs,
  };
  if (check.body !== undefined) c.body = Buffer.from(check.body);
  const k = check.keyword;
  if (k) {
    const absent = k.mode === 'absent';
    if (k.text !== undefined)
      c.keyword = { bytes: Buffer.from(k.text), absent, label: JSON.stringify(k.text) };
    else if (k.regex !== undefined)
      c.keyword = { re: new RegExp(k.regex, k.flags ?? ''), absent, label: `/${k.regex}/${k.flags ?? ''}` };
    else throw new Error('keyword without text or regex');
    if (c.keyword.label.length > 80) c.keyword.label = `${c.keyword.label.slice(0, 77)}...`;
  }
  const j = check.jsonPath;
  if (j) {
    const steps = parseJsonPath(j.path);
    if (typeof steps === 'string') throw new Error(steps);
    c.json = { steps, path: j.path, op: j.op, value: j.value };
  }
  c.needBody = c.keyword !== undefined || c.json !== undefined;
  compiled.set(check, c);
  return c;
}

// OpenSSL's verification codes (as Node reports them) in words.
const CERT_ERRORS: Record<string, string> = {
  CERT_HAS_EXPIRED: 'certificate has expired',
  CERT_NOT_YET_VALID: 'certificate is not yet valid',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'self-signed certificate',
  SELF_SIGNED_CERT_IN_CHAIN: 'self-signed certificate in the chain',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'certificate from an unknown issuer',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'certificate from an unknown issuer (incomplete chain?)',
  CERT_REVOKED: 'certificate revoked',
  ERR_TLS_CERT_ALTNAME_INVALID:
    "certificate does not match the host name (not in the certificate's altnames)",
};
const certError = (e: Error | string | undefined) => {
  const code = typeof e === 'string' ? e : (e as NodeJS.ErrnoException | undefined)?.code;
  return code ? `${CERT_ERRORS[code] ?? 'certificate not trusted'} (${code})` : 'certificate not trusted';
};

// One TLS context per set of trusted CAs, shared by all checks: building one (an SSL_CTX and its
// trust store) costs more than the handshake itself. Node's client contexts keep no session cache
// of their own (sessions are resumed only when handed back explicitly), so every check still does a
// full handshake. Extra CAs are added to Node's bundle, not put in its place.
const contexts = new Map<unknown, tls.SecureContext>();
function secureContext(ca: RunEnv['ca']): tls.SecureContext {
  let c = contexts.get(ca);
  if (!c) {
    c = tls.createSecureContext(
      ca ? { ca: [...tls.rootCertificates, ...(Array.isArray(ca) ? ca : [ca])] } : {},
    );
    if (contexts.size >= 16) contexts.clear();
    contexts.set(ca, c);
  }
  return c;
}

const isRedirect = (s: number) => s === 301 || s === 302 || s === 303 || s === 307 || s === 308;
const CREDENTIALS = new Set(['authorization', 'cookie', 'proxy-authorization']);

export function runHttp(check: HttpCheck, env: RunEnv): Promise<CheckResult> {
  const startedAt = env.now();
  const t0 = performance.now();
  let c: Compiled;
  try {
    c = compileHttp(check);
  } catch (e) {
    return Promise.resolve({
      ok: false,
      startedAt,
      durationMs: 0,
      phases: { totalMs: 0 },
      errorClass: 'other',
      message: `invalid check: ${(e as Error).message}`.slice(0, 200),
    });
  }
  const cc = c;
  return new Promise((resolve) => {
    const phases: Phases = { totalMs: 0 };
    let done = false;
    let req: http.ClientRequest | undefined;
    let sock: Socket | undefined;
    let redirects = 0;
    let statusCode: number | undefined;
    let bytes: number | undefined;
    let certDays: number | undefined;
    let certExpires = 0;
    // Per hop: when it started and when each socket phase ended (undefined: not yet).
    let hopStart = t0;
    let looked: number | undefined;
    let connected: number | undefined;
    let secured: number | undefined;
    let secure = false;
    // Where a timeout caught the check, for its message.
    let stage = 'resolving';

    const add = (key: 'dnsMs' | 'connectMs' | 'tlsMs' | 'firstByteMs', d: number) => {
      phases[key] = (phases[key] ?? 0) + d;
    };
    const finish = (errorClass?: ErrorClass, message?: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      env.signal?.removeEventListener('abort', onAbort);
      req?.destroy();
      sock?.destroy();
      const total = ms(performance.now() - t0);
      phases.totalMs = total;
      for (const k of ['dnsMs', 'connectMs', 'tlsMs', 'firstByteMs'] as const) {
        const v = phases[k];
        if (v !== undefined) phases[k] = ms(v);
      }
      const r: CheckResult = {
        ok: errorClass === undefined,
        startedAt,
        durationMs: total,
        phases,
        redirects,
      };
      if (statusCode !== undefined) r.statusCode = statusCode;
      if (errorClass) {
        r.errorClass = errorClass;
        if (message) r.message = message;
      }
      if (certDays !== undefined) {
        r.certDaysLeft = certDays;
        r.certExpiresAt = new Date(certExpires).toISOString();
        r.certWarning = certDays < cc.warnDays;
      }
      if (bytes !== undefined) r.bytes = bytes;
      resolve(r);
    };
    const onTimeout = () => finish('timeout', `timed out after ${cc.timeoutMs} ms ${stage}`);
    const timer = setTimeout(onTimeout, cc.timeoutMs);
    const onAbort = () => finish('other', 'aborted');
    if (env.signal) {
      if (env.signal.aborted) return finish('other', 'aborted');
      env.signal.addEventListener('abort', onAbort, { once: true });
    }

    const readCert = (s: TLSSocket) => {
      // The X509Certificate view parses only what is asked of it; getPeerCertificate() would build
      // the whole object (subject, key, three fingerprints) on every check.
      let validTo: string | undefined;
      try {
        validTo = s.getPeerX509Certificate()?.validTo;
      } catch {
        return;
      }
      const exp = validTo ? Date.parse(validTo) : Number.NaN;
      if (Number.isNaN(exp)) return;
      const days = Math.floor((exp - env.now()) / DAY);
      if (certDays === undefined || days < certDays) {
        certDays = days;
        certExpires = exp;
      }
    };

    const hop = (url: URL, method: HttpMethod, headers: Record<string, string>, body: Buffer | undefined) => {
      const host = stripBrackets(url.hostname);
      secure = url.protocol === 'https:';
      const port = url.port ? Number(url.port) : secure ? 443 : 80;
      hopStart = performance.now();
      looked = connected = secured = undefined;
      stage = net.isIP(host) ? 'connecting' : 'resolving';

      const onLookup = (err: Error | null) => {
        if (err) return;
        looked = performance.now();
        add('dnsMs', looked - hopStart);
        stage = 'connecting';
      };
      const onConnect = () => {
        connected = performance.now();
        add('connectMs', connected - (looked ?? hopStart));
        stage = secure ? 'in the TLS handshake' : 'waiting for the response';
      };
      const onError = (err: NodeJS.ErrnoException) => {
        if (done || s !== sock) return;
        const k = classify(err, secure && connected !== undefined && secured === undefined);
        finish(k.errorClass, k.message);
      };
      const request = () => {
        const r = http.request({
          host,
          port,
          method,
          path: url.pathname + url.search,
          headers,
          defaultPort: secure ? 443 : 80,
          createConnection: () => s,
        });
        req = r;
        r.on('error', (err: NodeJS.ErrnoException) => {
          if (done || r !== req) return;
          const k = classify(err, false);
          finish(k.errorClass, k.message);
        });
        r.on('response', (res) => {
          if (!done && r === req) onResponse(res, url, method, headers, body);
        });
        r.end(body);
      };
      // TLS: the certificate is checked here, before the request exists, so no request (and no
      // header) ever reaches a server that failed verification, and an untrusted or expired
      // certificate still reports its expiry.
      const s: Socket = secure
        ? tls.connect({
            host,
            port,
            lookup: env.lookup,
            servername: net.isIP(host) ? undefined : host,
            rejectUnauthorized: false,
            secureContext: secureContext(env.ca),
          })
        : net.connect({ host, port, lookup: env.lookup });
      sock = s;
      s.once('lookup', onLookup);
      s.once('connect', onConnect);
      s.on('error', onError);
      if (!secure) return request();
      s.once('secureConnect', () => {
        if (done || s !== sock) return;
        secured = performance.now();
        add('tlsMs', secured - (connected ?? hopStart));
        stage = 'waiting for the response';
        const t = s as TLSSocket;
        readCert(t);
        if (!t.authorized && !cc.ignoreTls) return finish('tls', certError(t.authorizationError));
        request();
      });
    };

    const onResponse = (
      res: http.IncomingMessage,
      url: URL,
      method: HttpMethod,
      headers: Record<string, string>,
      body: Buffer | undefined,
    ) => {
      add('firstByteMs', performance.now() - ((secure ? secured : connected) ?? hopStart));
      const status = res.statusCode ?? 0;
      statusCode = status;
      const location = res.headers.location;
      if (cc.follow && isRedirect(status) && location !== undefined) {
        if (redirects >= MAX_REDIRECTS) return finish('protocol', `more than ${MAX_REDIRECTS} redirects`);
        let next: URL;
        try {
          next = new URL(location, url);
        } catch {
          return finish('protocol', `redirect ${status} to an invalid URL`);
        }
        if (next.protocol !== 'http:' && next.protocol !== 'https:')
          return finish('protocol', `redirect ${status} to an unsupported scheme ${next.protocol}`);
        redirects++;
        req?.destroy();
        sock?.destroy();
        let m = method;
        let b = body;
        let h = headers;
        if ((status === 303 && m !== 'HEAD') || ((status === 301 || status === 302) && m === 'POST')) {
          m = 'GET';
          b = undefined;
          h = Object.fromEntries(Object.entries(h).filter(([k]) => k.toLowerCase() !== 'content-type'));
        }
        if (next.origin !== url.origin)
          h = Object.fromEntries(Object.entries(h).filter(([k]) => !CREDENTIALS.has(k.toLowerCase())));
        try {
          hop(next, m, h, b);
        } catch (e) {
          finish('other', (e as Error).message.slice(0, 200));
        }
        return;
      }
      let accepted = false;
      for (let i = 0; i < cc.status.length; i += 2)
        if (status >= (cc.status[i] as number) && status <= (cc.status[i + 1] as number)) {
          accepted = true;
          break;
        }
      if (!accepted) return finish('status', `status ${status} not in ${cc.statusText}`);
      stage = 'reading the body';
      readBody(res);
    };

    const readBody = (res: http.IncomingMessage) => {
      const max = env.maxBodyBytes;
      const chunks: Buffer[] | undefined = cc.needBody ? [] : undefined;
      let n = 0;
      bytes = 0;
      const end = (truncated: boolean) => {
        if (done) return;
        bytes = n;
        if (!chunks) return finish();
        const buf = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, n);
        const failed = assertBody(buf, truncated);
        failed ? finish('assertion', failed) : finish();
      };
      res.on('data', (chunk: Buffer) => {
        if (done) return;
        const room = max - n;
        const take = chunk.length <= room ? chunk : chunk.subarray(0, room);
        n += take.length;
        chunks?.push(take);
        if (n >= max) end(true);
      });
      res.on('end', () => end(false));
      res.on('error', (err: NodeJS.ErrnoException) => {
        if (done) return;
        bytes = n;
        const k = classify(err, false);
        finish(k.errorClass, `${k.message} while reading the body`);
      });
    };

    const assertBody = (buf: Buffer, truncated: boolean): string | undefined => {
      let text: string | undefined;
      const k = cc.keyword;
      if (k) {
        let found: boolean;
        if (k.bytes) found = buf.indexOf(k.bytes) !== -1;
        else {
          text = buf.toString('utf8');
          found = (k.re as RegExp).test(text);
        }
        if (found === k.absent)
          return k.absent
            ? `keyword ${k.label} found in the body`
            : `keyword ${k.label} not found in the body`;
      }
      const j = cc.json;
      if (j) {
        let doc: unknown;
        try {
          doc = JSON.parse(text ?? buf.toString('utf8'));
        } catch {
          return truncated ? `body over ${env.maxBodyBytes} bytes, not parsed as JSON` : 'body is not JSON';
        }
        return assertJson(doc, j.steps, j.path, j.op, j.value);
      }
      return undefined;
    };

    try {
      hop(cc.url, cc.method, cc.headers, cc.body);
    } catch (e) {
      finish('other', (e as Error).message.slice(0, 200));
    }
  });
}
