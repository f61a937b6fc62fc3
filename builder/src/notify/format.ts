/**
 * Text helpers shared by the renderers: words and emoji for kinds and message types, UTC times and
 * human durations, and length-safe truncation (by code point, so an emoji is never cut in half, with
 * Slack's mrkdwn escaping counted inside the limit so `&amp;` is never cut either).
 */
import type { IncidentKind, IncidentMessage, Instant, MessageType } from './types.js';

export const KIND_LABEL: Record<IncidentKind, string> = {
  down: 'Down',
  degraded: 'Degraded',
  error_rate: 'High error rate',
  latency_anomaly: 'Slower than usual',
  error_rate_anomaly: 'More errors than usual',
  cert_expiring: 'Certificate expiring',
  heartbeat_missed: 'Heartbeat missed',
};

const KIND_EMOJI: Record<IncidentKind, string> = {
  down: '🔴',
  heartbeat_missed: '🔴',
  degraded: '🟠',
  error_rate: '🟠',
  latency_anomaly: '🟡',
  error_rate_anomaly: '🟡',
  cert_expiring: '🟡',
};
const SEVERITY_EMOJI = { critical: '🔴', warning: '🟠', info: '🔵' } as const;
const TYPE_EMOJI: Record<Exclude<MessageType, 'opened'>, string> = {
  resolved: '✅',
  reminder: '⏰',
  acknowledged: '👀',
  test: '🧪',
};

/** The status emoji: the message type's, or for `opened` the severity's (else the kind's). */
export function statusEmoji(msg: IncidentMessage): string {
  if (msg.type !== 'opened') return TYPE_EMOJI[msg.type];
  const sev = msg.incident.severity;
  return sev ? SEVERITY_EMOJI[sev] : KIND_EMOJI[msg.incident.kind];
}

/** Milliseconds since the epoch; numbers pass through. Throws RangeError on an unparseable time. */
export function toMs(t: Instant | number): number {
  const ms = typeof t === 'number' ? t : t instanceof Date ? t.getTime() : Date.parse(t);
  if (!Number.isFinite(ms)) throw new RangeError(`invalid time: ${String(t).slice(0, 40)}`);
  return ms;
}

export function toIso(t: Instant | number): string {
  return new Date(toMs(t)).toISOString();
}

/** `2024-05-01 12:03 UTC` */
export function utc(t: Instant | number): string {
  const iso = toIso(t);
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;
}

/** `45 s`, `12 min`, `1 h 5 min`, `3 d 4 h`; negative spans count as zero. */
export function duration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s} s`;
  const min = Math.floor(s / 60);
  if (min < 60) return `${min} min`;
  const h = Math.floor(min / 60);
  if (h < 24) return min % 60 ? `${h} h ${min % 60} min` : `${h} h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d} d ${h % 24} h` : `${d} d`;
}

/** Drops control characters other than newline and tab (they render as boxes or break layouts). */
export function clean(s: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: removing them is the point
  return s.replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, '');
}

/** One line: whitespace runs (newlines included) become one space. */
export function oneLine(s: string): string {
  return clean(s).replace(/\s+/g, ' ').trim();
}

const ELLIPSIS = '…';

/**
 * `text` shortened to at most `max` UTF-16 units (Slack counts characters; UTF-16 units are never
 * fewer), ending in `…` when cut. `encode` maps each code point to its output form and counts inside
 * the limit.
 */
export function fit(text: string, max: number, encode: (ch: string) => string = (c) => c): string {
  const parts: string[] = [];
  let len = 0;
  let cut = false;
  for (const ch of text) {
    const piece = encode(ch);
    if (len + piece.length > max) {
      cut = true;
      break;
    }
    parts.push(piece);
    len += piece.length;
  }
  if (!cut) return parts.join('');
  if (max < ELLIPSIS.length) return '';
  while (parts.length > 0 && len + ELLIPSIS.length > max) len -= (parts.pop() ?? '').length;
  return parts.join('') + ELLIPSIS;
}

/** Slack mrkdwn escaping of one code point: only `&`, `<` and `>` (Slack decodes nothing else). */
export function escapeMrkdwnChar(ch: string): string {
  return ch === '&' ? '&amp;' : ch === '<' ? '&lt;' : ch === '>' ? '&gt;' : ch;
}

/** User text for mrkdwn: cleaned, escaped and fitted into `max`. */
export function mrkdwn(text: string, max: number): string {
  return fit(clean(text), max, escapeMrkdwnChar);
}
