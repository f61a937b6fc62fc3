/**
 * `peep incidents ls | show | ack | resolve | comment`: a project's incidents from the terminal
 * (docs/incidents.md). An incident is named by its number (`12` or `#12`) or id. `--json` prints the
 * API's answer. Acting on incidents takes the developer role (the API checks it) and is recorded in
 * the timeline under your email.
 */

import type { Incident, IncidentDetail, IncidentList } from '@peep/api/incidents/schemas';
import type { Static } from '@sinclair/typebox';
import type { Context } from '../context.js';
import { usageError } from '../errors.js';
import { type Cell, formatTime } from '../output.js';
import { pickProject } from './project-ref.js';

type IncidentJson = Static<typeof Incident>;
type Detail = Static<typeof IncidentDetail>;
type Page = Static<typeof IncidentList>;

const base = (projectId: string) => `/api/v1/projects/${projectId}/incidents`;

export interface ListOptions {
  project?: string;
  status?: 'active' | 'open' | 'acknowledged' | 'resolved' | 'all';
  kind?: string;
  env?: string;
  subject?: string;
  limit: number;
}
export interface ActOptions {
  project?: string;
  comment?: string;
}

/** A span for people: `45s`, `12m`, `3h 5m`, `2d 4h`. */
export function span(fromIso: string, toIso: string | null, now = Date.now()): string {
  const s = Math.max(0, Math.round(((toIso ? Date.parse(toIso) : now) - Date.parse(fromIso)) / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 ? `${h}h ${m % 60}m` : `${h}h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d}d ${h % 24}h` : `${d}d`;
}

/** `12`, `#12` or an incident id, as the API's `:ref`. */
export function incidentRef(ref: string): string {
  const r = ref.trim().replace(/^#/, '');
  if (/^\d{1,9}$/.test(r) || /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(r))
    return r;
  throw usageError(`name an incident by its number (12 or #12) or its id (got "${ref}")`);
}

function statusCell(ctx: Context, status: string): Cell {
  const { c } = ctx.out;
  const style = { open: c.red, acknowledged: c.yellow, resolved: c.green }[status];
  return style ? { text: status, style } : status;
}

export async function list(ctx: Context, o: ListOptions): Promise<void> {
  const api = ctx.client();
  const project = await pickProject(ctx, api, o.project);
  const status = o.status ?? 'active';
  const incidents: IncidentJson[] = [];
  let cursor: string | null = null;
  do {
    const page: Page = await api.get<Page>(base(project.id), {
      status,
      kind: o.kind,
      env: o.env,
      subject: o.subject,
      limit: Math.min(500, o.limit - incidents.length),
      cursor: cursor ?? undefined,
    });
    incidents.push(...page.incidents);
    cursor = page.nextCursor;
  } while (cursor && incidents.length < o.limit);
  ctx.out.result({ incidents, nextCursor: cursor }, () => {
    const filtered = status !== 'all' || o.kind || o.env || o.subject;
    ctx.out.table(
      ['#', 'STATUS', 'KIND', 'SUBJECT', 'ENV', 'OPENED', 'DURATION', 'TITLE'],
      incidents.map((i): Cell[] => [
        `#${i.number}`,
        statusCell(ctx, i.status),
        i.kind,
        i.subjectName,
        i.env,
        formatTime(i.openedAt),
        span(i.openedAt, i.resolvedAt),
        { text: i.title, style: ctx.out.c.dim },
      ]),
      status === 'active' && !o.kind && !o.env && !o.subject
        ? `No active incidents in ${project.slug}. (\`--status all\` lists resolved ones too.)`
        : `No incidents${filtered ? ' match' : ''} in ${project.slug}.`,
    );
    if (cursor) ctx.out.note(`(first ${incidents.length} shown; --limit for more)`);
  });
}

function printIncident(ctx: Context, d: Detail): void {
  const { c } = ctx.out;
  const i = d.incident;
  const style = { open: c.red, acknowledged: c.yellow, resolved: c.green }[i.status];
  ctx.out.line(`${c.bold(`#${i.number}`)} ${i.title}  ${style(i.status)}`);
  ctx.out.line('');
  const rows: [string, string][] = [
    ['kind', i.kind],
    ['subject', `${i.subjectName} (${i.subjectType}${i.subjectType === 'target' ? ` ${i.subjectId}` : ''})`],
    ['environment', i.env],
    [
      'opened',
      `${formatTime(i.openedAt, true)} UTC (${span(i.openedAt, i.resolvedAt)}${i.resolvedAt ? '' : ' so far'})`,
    ],
  ];
  if (i.acknowledgedAt)
    rows.push(['acknowledged', `${formatTime(i.acknowledgedAt, true)} UTC by ${i.acknowledgedBy ?? '?'}`]);
  if (i.resolvedAt)
    rows.push(['resolved', `${formatTime(i.resolvedAt, true)} UTC by ${i.resolvedBy ?? 'peep'}`]);
  if (i.reason) rows.push(['reason', i.reason]);
  for (const [k, v] of Object.entries(i.numbers)) rows.push([k, String(v)]);
  const w = Math.max(...rows.map(([k]) => k.length));
  for (const [k, v] of rows) ctx.out.line(`  ${c.dim(k.padEnd(w))}  ${v}`);
  ctx.out.line('');
  ctx.out.line(c.bold('Timeline'));
  ctx.out.table(
    ['TIME (UTC)', 'EVENT', 'BY', 'NOTE'],
    d.events.map((e): Cell[] => [formatTime(e.at, true), e.type, e.actor, e.body]),
    'No events.',
  );
  if (d.deliveries.length) {
    ctx.out.line('');
    ctx.out.line(c.bold('Notifications'));
    ctx.out.table(
      ['TIME (UTC)', 'MESSAGE', 'CHANNEL', 'STATUS', 'ATTEMPTS', 'ERROR'],
      d.deliveries.map((x): Cell[] => [
        formatTime(x.createdAt, true),
        x.type,
        x.channelName,
        x.status,
        String(x.attempts),
        x.error ?? '',
      ]),
      '',
    );
  }
}

export async function show(ctx: Context, ref: string, o: { project?: string }): Promise<void> {
  const api = ctx.client();
  const project = await pickProject(ctx, api, o.project);
  const d = await api.get<Detail>(`${base(project.id)}/${incidentRef(ref)}`);
  ctx.out.result(d, () => printIncident(ctx, d));
}

export async function act(
  ctx: Context,
  action: 'ack' | 'resolve' | 'comment',
  ref: string,
  o: ActOptions,
): Promise<void> {
  const api = ctx.client();
  const project = await pickProject(ctx, api, o.project);
  const r = incidentRef(ref);
  const path = action === 'comment' ? 'comments' : action;
  const body =
    action === 'comment' ? { body: o.comment ?? '' } : o.comment !== undefined ? { comment: o.comment } : {};
  const { incident } = await api.post<{ incident: IncidentJson }>(`${base(project.id)}/${r}/${path}`, body);
  ctx.out.result({ incident }, () => {
    const { c } = ctx.out;
    const what =
      action === 'ack'
        ? `Acknowledged by ${incident.acknowledgedBy ?? 'you'}: reminders stop; it resolves when the check or metric recovers.`
        : action === 'resolve'
          ? `Resolved by ${incident.resolvedBy ?? 'you'}.`
          : 'Comment added to the timeline.';
    ctx.out.line(`${c.bold(`#${incident.number}`)} ${incident.title}: ${what}`);
  });
}
