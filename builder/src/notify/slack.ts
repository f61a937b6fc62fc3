/**
 * The Slack incoming-webhook payload for one incident message: Block Kit blocks plus a `text`
 * fallback (what notifications and old clients show).
 *
 * Layout: a header (status emoji and what is wrong), a section saying since when (absolute UTC time
 * and how long) with the reason, the project, environment and subject as fields, the numbers as
 * fields (ten per section), a button to the incident and a context line. Resolved messages give the
 * incident's duration, reminders how long it has been going on, tests say they are tests.
 *
 * Every user-controlled string (titles, names, reason, numbers) is cleaned of control characters,
 * escaped for mrkdwn (`&`, `<`, `>`, so a name cannot @-mention a channel or forge a link) and cut to
 * Slack's limits (SLACK_LIMITS) with `…`, however large the input. plain_text (header, button) is
 * shown literally by Slack and is not escaped.
 */
import {
  clean,
  duration,
  escapeMrkdwnChar,
  fit,
  KIND_LABEL,
  mrkdwn,
  oneLine,
  statusEmoji,
  toMs,
  utc,
} from './format.js';
import type { IncidentMessage } from './types.js';

/** Slack's documented limits (UTF-16 units here, never fewer than Slack's characters). */
export const SLACK_LIMITS = {
  headerText: 150,
  sectionText: 3000,
  fields: 10,
  fieldText: 2000,
  blocks: 50,
  buttonText: 75,
  buttonUrl: 3000,
  contextText: 3000,
  /** Our own bound for the fallback text (Slack's is 40,000; notifications show far less). */
  text: 3000,
} as const;

/** At most this many numbers are shown (three sections of ten); the rest are counted. */
export const MAX_NUMBERS = 30;

interface PlainText {
  type: 'plain_text';
  text: string;
  emoji?: boolean;
}
interface Mrkdwn {
  type: 'mrkdwn';
  text: string;
}
export type SlackBlock =
  | { type: 'header'; text: PlainText }
  | { type: 'section'; text?: Mrkdwn; fields?: Mrkdwn[] }
  | {
      type: 'actions';
      elements: { type: 'button'; text: PlainText; url: string; action_id: string }[];
    }
  | { type: 'context'; elements: Mrkdwn[] };

export interface SlackPayload {
  text: string;
  blocks: SlackBlock[];
}

const PREFIX = {
  opened: '',
  reminder: 'Still open: ',
  resolved: 'Resolved: ',
  acknowledged: 'Acknowledged: ',
  test: 'Test from peep: ',
} as const;

/** Short user-controlled values inside a sentence (names, environment). */
const NAME_MAX = 200;

function formatNumber(v: string | number): string {
  if (typeof v === 'string') return v;
  if (!Number.isFinite(v)) return Number.isNaN(v) ? 'n/a' : v > 0 ? '∞' : '-∞';
  return Number.isInteger(v) ? String(v) : String(Number(v.toFixed(3)));
}

/** The "since when" sentence, in mrkdwn. */
function statusLine(msg: IncidentMessage): string {
  const inc = msg.incident;
  const label = `*${KIND_LABEL[inc.kind]}*`;
  const sent = toMs(msg.sentAt);
  const opened = toMs(inc.openedAt);
  const by = `*${mrkdwn(oneLine(inc.acknowledgedBy ?? '') || 'someone', NAME_MAX)}*`;
  switch (msg.type) {
    case 'opened':
      return `${label} since ${utc(opened)} (${duration(sent - opened)} ago)`;
    case 'reminder':
      return (
        `${label}, still going on after ${duration(sent - opened)} (since ${utc(opened)}). ` +
        (inc.acknowledgedBy ? `Acknowledged by ${by}.` : 'Not acknowledged yet.')
      );
    case 'acknowledged':
      return `${label}, acknowledged by ${by}; going on for ${duration(sent - opened)} (since ${utc(opened)})`;
    case 'resolved': {
      const end = inc.resolvedAt === undefined ? sent : toMs(inc.resolvedAt);
      return `${label} resolved at ${utc(end)} after ${duration(end - opened)} (opened ${utc(opened)})`;
    }
    case 'test':
      return (
        '*This is a test from peep.* If you can read it, notifications of ' +
        `*${mrkdwn(oneLine(inc.project.name), NAME_MAX)}* reach this channel. ` +
        'No incident is open: what follows is an example.'
      );
  }
}

function field(label: string, value: string): Mrkdwn {
  const l = mrkdwn(oneLine(label), NAME_MAX);
  const v = mrkdwn(value, SLACK_LIMITS.fieldText - l.length - 3);
  return { type: 'mrkdwn', text: `*${l}*\n${v}` };
}

function numberSections(numbers: Record<string, string | number>): SlackBlock[] {
  const entries = Object.entries(numbers);
  const fields = entries.slice(0, MAX_NUMBERS).map(([k, v]) => field(k, formatNumber(v)));
  if (entries.length > MAX_NUMBERS) {
    fields.pop();
    fields.push(field('More', `${entries.length - MAX_NUMBERS + 1} more numbers in peep`));
  }
  const out: SlackBlock[] = [];
  for (let i = 0; i < fields.length; i += SLACK_LIMITS.fields)
    out.push({ type: 'section', fields: fields.slice(i, i + SLACK_LIMITS.fields) });
  return out;
}

function isWebUrl(url: string): boolean {
  try {
    const u = new URL(url);
    return (u.protocol === 'https:' || u.protocol === 'http:') && url.length <= SLACK_LIMITS.buttonUrl;
  } catch {
    return false;
  }
}

export function renderSlack(msg: IncidentMessage): SlackPayload {
  const inc = msg.incident;
  const what = oneLine(inc.title) || `${KIND_LABEL[inc.kind]}: ${oneLine(inc.subject.name)}`;
  const headline = `${statusEmoji(msg)} ${PREFIX[msg.type]}${what}`;
  const status = statusLine(msg);
  const reasonMax = SLACK_LIMITS.sectionText - status.length - 1;
  const reason = mrkdwn(clean(inc.reason).trim(), reasonMax);

  const blocks: SlackBlock[] = [
    {
      type: 'header',
      text: { type: 'plain_text', text: fit(headline, SLACK_LIMITS.headerText), emoji: true },
    },
    { type: 'section', text: { type: 'mrkdwn', text: reason ? `${status}\n${reason}` : status } },
    {
      type: 'section',
      fields: [
        field('Project', oneLine(inc.project.name)),
        field('Environment', oneLine(inc.environment)),
        field(inc.subject.type === 'target' ? 'Target' : 'Service', oneLine(inc.subject.name)),
        ...(inc.severity ? [field('Severity', inc.severity)] : []),
      ],
    },
    ...numberSections(inc.numbers),
  ];
  if (isWebUrl(msg.url))
    blocks.push({
      type: 'actions',
      elements: [
        {
          type: 'button',
          text: { type: 'plain_text', text: msg.type === 'test' ? 'Open peep' : 'Open incident' },
          url: msg.url,
          action_id: 'peep_open_incident',
        },
      ],
    });
  const where = `${oneLine(inc.project.slug)}/${oneLine(inc.environment)}`;
  const context = `peep · ${where} · incident ${oneLine(inc.id)} · sent ${utc(msg.sentAt)}`;
  blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: mrkdwn(context, 300) }] });

  const lead = fit(oneLine(`${headline} (${inc.project.name}, ${inc.environment})`), 600, escapeMrkdwnChar);
  return { text: fit(`${lead}\n${status}`, SLACK_LIMITS.text), blocks };
}
