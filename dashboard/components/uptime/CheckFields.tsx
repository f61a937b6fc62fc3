'use client';
/**
 * The fields of an HTTP or TCP check (URL, method, timeout, expected status, keyword; host and port)
 * and of a target's tags, shared by "Add target" and the target page's settings. A draft holds what
 * the inputs show as text; `specFromDraft` turns it into the API's spec on top of the stored one, so
 * fields the form does not show (headers, body, JSON path, redirects, TLS) survive an edit. The server
 * validates the result (`invalid_spec` names the field).
 */
import type { TargetKind } from '@/lib/uptime';

export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
const DEFAULT_TIMEOUT_MS = 10_000;
/** pkg/src/probe-spec.ts's bounds. */
const MIN_TIMEOUT_MS = 100;
const MAX_TIMEOUT_MS = 60_000;

export interface CheckDraft {
  url: string;
  method: string;
  timeoutMs: string;
  /** Accepted status codes as typed: "200-399, 418". Empty means the API's default (200-399). */
  expect: string;
  keyword: string;
  keywordMode: 'present' | 'absent';
  host: string;
  port: string;
}

export const EMPTY_CHECK: CheckDraft = {
  url: '',
  method: 'GET',
  timeoutMs: '',
  expect: '200-399',
  keyword: '',
  keywordMode: 'present',
  host: '',
  port: '443',
};

type Spec = Record<string, unknown>;

function asSpec(spec: unknown): Spec {
  return spec && typeof spec === 'object' && !Array.isArray(spec) ? (spec as Spec) : {};
}

/** The draft of a stored spec. A regex keyword is not shown (only plain text is editable here). */
export function draftFromSpec(spec: unknown): CheckDraft {
  const s = asSpec(spec);
  const kw = asSpec(s.keyword);
  return {
    url: typeof s.url === 'string' ? s.url : '',
    method: typeof s.method === 'string' ? s.method : 'GET',
    timeoutMs: typeof s.timeoutMs === 'number' ? String(s.timeoutMs) : String(DEFAULT_TIMEOUT_MS),
    expect: Array.isArray(s.acceptStatus) ? s.acceptStatus.join(', ') : '',
    keyword: typeof kw.text === 'string' ? kw.text : '',
    keywordMode: kw.mode === 'absent' ? 'absent' : 'present',
    host: typeof s.host === 'string' ? s.host : '',
    port: typeof s.port === 'number' ? String(s.port) : '',
  };
}

/**
 * The spec to send for a draft, over `base` (the stored spec when editing). An empty timeout is
 * 10 s or the interval if shorter. A keyword given as a regex in the stored spec is kept while the
 * text field stays empty.
 */
export function specFromDraft(
  kind: TargetKind,
  d: CheckDraft,
  intervalS: number,
  base: unknown = {},
): Spec | undefined {
  if (kind === 'heartbeat') return undefined;
  const timeoutMs = d.timeoutMs.trim()
    ? Number(d.timeoutMs)
    : Math.min(DEFAULT_TIMEOUT_MS, Math.max(MIN_TIMEOUT_MS, intervalS * 1000));
  if (kind === 'tcp') return { host: d.host.trim(), port: Number(d.port), timeoutMs };
  const out: Spec = { ...asSpec(base), url: d.url.trim(), method: d.method, timeoutMs };
  delete out.kind;
  const accept = d.expect
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (accept.length) out.acceptStatus = accept;
  else delete out.acceptStatus;
  const kw = asSpec(out.keyword);
  if (d.keyword) out.keyword = { text: d.keyword, mode: d.keywordMode };
  else if (typeof kw.regex !== 'string') delete out.keyword;
  return out;
}

/** "web, eu-west  db" → ["db", "eu-west", "web"]: split on commas and spaces, lowercased, unique. */
export function parseTags(text: string): string[] {
  return [
    ...new Set(
      text
        .split(/[\s,]+/)
        .map((s) => s.trim().toLowerCase())
        .filter(Boolean),
    ),
  ].sort();
}

/**
 * The inputs of one check kind; `id` prefixes the inputs' ids so two forms on a page stay distinct
 * (labels point at them).
 */
export function CheckFields({
  id,
  kind,
  intervalS,
  draft,
  onChange,
}: {
  id: string;
  kind: TargetKind;
  /** A check may not outlast its interval: the timeout's maximum follows it. */
  intervalS: number;
  draft: CheckDraft;
  onChange: (d: CheckDraft) => void;
}) {
  const set = (k: keyof CheckDraft) => (e: { target: { value: string } }) =>
    onChange({ ...draft, [k]: e.target.value });
  if (kind === 'heartbeat') return null;
  if (kind === 'tcp')
    return (
      <div className="form-row">
        <div className="field">
          <label htmlFor={`${id}-host`}>Host</label>
          <input
            id={`${id}-host`}
            className="input"
            required
            value={draft.host}
            onChange={set('host')}
            placeholder="db.internal"
          />
        </div>
        <div className="field">
          <label htmlFor={`${id}-port`}>Port</label>
          <input
            id={`${id}-port`}
            className="input"
            type="number"
            required
            min={1}
            max={65535}
            value={draft.port}
            onChange={set('port')}
          />
        </div>
        <TimeoutField id={id} intervalS={intervalS} draft={draft} onChange={set('timeoutMs')} />
      </div>
    );
  return (
    <>
      <div className="form-row">
        <div className="field">
          <label htmlFor={`${id}-method`}>Method</label>
          <select id={`${id}-method`} className="select" value={draft.method} onChange={set('method')}>
            {HTTP_METHODS.map((m) => (
              <option key={m} value={m}>
                {m}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor={`${id}-url`}>URL</label>
          <input
            id={`${id}-url`}
            className="input"
            type="url"
            required
            value={draft.url}
            onChange={set('url')}
            placeholder="https://example.com/health"
          />
        </div>
        <TimeoutField id={id} intervalS={intervalS} draft={draft} onChange={set('timeoutMs')} />
      </div>
      <div className="form-row">
        <div className="field">
          <label htmlFor={`${id}-expect`}>Expected status</label>
          <input
            id={`${id}-expect`}
            className="input"
            value={draft.expect}
            onChange={set('expect')}
            placeholder="200-399"
            aria-describedby={`${id}-expect-hint`}
          />
          <span id={`${id}-expect-hint`} className="hint">
            NNN or NNN-MMM, comma separated
          </span>
        </div>
        <div className="field">
          <label htmlFor={`${id}-keyword`}>Keyword</label>
          <input
            id={`${id}-keyword`}
            className="input"
            maxLength={1024}
            value={draft.keyword}
            onChange={set('keyword')}
            placeholder="optional text in the body"
          />
        </div>
        <div className="field">
          <label htmlFor={`${id}-keyword-mode`}>Keyword must be</label>
          <select
            id={`${id}-keyword-mode`}
            className="select"
            value={draft.keywordMode}
            disabled={!draft.keyword}
            onChange={set('keywordMode')}
          >
            <option value="present">present</option>
            <option value="absent">absent</option>
          </select>
        </div>
      </div>
    </>
  );
}

function TimeoutField({
  id,
  intervalS,
  draft,
  onChange,
}: {
  id: string;
  intervalS: number;
  draft: CheckDraft;
  onChange: (e: { target: { value: string } }) => void;
}) {
  return (
    <div className="field">
      <label htmlFor={`${id}-timeout`}>Timeout (ms)</label>
      <input
        id={`${id}-timeout`}
        className="input"
        type="number"
        min={MIN_TIMEOUT_MS}
        max={Math.min(MAX_TIMEOUT_MS, Math.max(MIN_TIMEOUT_MS, (intervalS || 0) * 1000))}
        value={draft.timeoutMs}
        onChange={onChange}
        placeholder={String(Math.min(DEFAULT_TIMEOUT_MS, Math.max(MIN_TIMEOUT_MS, (intervalS || 0) * 1000)))}
      />
    </div>
  );
}

export function TagsField({
  id,
  value,
  onChange,
}: {
  id: string;
  value: string;
  onChange: (v: string) => void;
}) {
  return (
    <div className="field">
      <label htmlFor={`${id}-tags`}>Tags</label>
      <input
        id={`${id}-tags`}
        className="input"
        value={value}
        onChange={(e) => onChange(e.target.value)}
        placeholder="web, eu-west"
        aria-describedby={`${id}-tags-hint`}
      />
      <span id={`${id}-tags-hint`} className="hint">
        lowercase, comma or space separated
      </span>
    </div>
  );
}
