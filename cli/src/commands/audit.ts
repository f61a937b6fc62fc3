/**
 * `peep audit`: a project's audit log with --project, else the instance-wide one (instance admins).
 * Filters by environment, variable key, actor, action and time; `--ndjson` walks every page and
 * prints one entry per line (an export).
 */
import type { AuditPage, Static } from '@peep/pkg/schemas';
import type { Context } from '../context.js';
import { CliError } from '../errors.js';
import { formatTime } from '../output.js';
import { resolveProject } from './projects.js';

export interface AuditOptions {
  project?: string;
  action?: string;
  actor?: string;
  outcome?: 'success' | 'failure';
  since?: string;
  until?: string;
  limit?: number;
  cursor?: string;
  env?: string;
  key?: string;
  ndjson?: boolean;
}

export async function audit(ctx: Context, opts: AuditOptions): Promise<void> {
  const api = ctx.client();
  const route = opts.project
    ? `/api/v1/projects/${(await resolveProject(api, opts.project)).id}/audit`
    : '/api/v1/audit';
  const page = (cursor: string | undefined, limit: number | undefined) =>
    api.get<Static<typeof AuditPage>>(route, {
      action: opts.action,
      actor: opts.actor,
      outcome: opts.outcome,
      since: opts.since,
      until: opts.until,
      environment: opts.env,
      key: opts.key,
      limit,
      cursor,
    });
  if (opts.ndjson) {
    let cursor = opts.cursor;
    do {
      const p = await page(cursor, 500);
      for (const e of p.entries) process.stdout.write(`${JSON.stringify(e)}\n`);
      cursor = p.nextCursor ?? undefined;
    } while (cursor);
    return;
  }
  const body = await page(opts.cursor, opts.limit).catch((e: unknown) => {
    // The instance-wide log needs the admin scope: `peep login --admin` asks for it.
    if (!opts.project && e instanceof CliError && e.code === 'insufficient_scope')
      e.extra.hint =
        'the instance-wide log needs the admin scope: an instance admin logs in with `peep login --admin` (or passes an admin token as PEEP_TOKEN); or add --project';
    throw e;
  });
  ctx.out.result(body, () => {
    const { c } = ctx.out;
    ctx.out.table(
      ['TIME (UTC)', 'ACTOR', 'ACTION', 'TARGET', 'KEYS', 'OUTCOME', 'STATUS', 'REQUEST'],
      body.entries.map((e) => [
        formatTime(e.at, true),
        e.actorEmail ?? e.actorId ?? '-',
        e.action,
        e.targetType ? `${e.targetType}${e.targetId ? `:${e.targetId}` : ''}` : (e.environment ?? '-'),
        keysOf(e.details),
        { text: e.outcome, style: e.outcome === 'success' ? c.green : c.red },
        e.status === null ? '-' : String(e.status),
        { text: e.requestId ?? '-', style: c.dim },
      ]),
      'No audit entries match.',
    );
    if (body.nextCursor) ctx.out.line(c.dim(`more: add --cursor ${body.nextCursor}`));
  });
}

/** The variable keys an entry touched (details.keys), shortened for a table cell. */
function keysOf(details: unknown): string {
  const keys = (details as { keys?: unknown } | null | undefined)?.keys;
  if (!Array.isArray(keys) || keys.length === 0) return '-';
  const list = keys.map(String);
  return list.length > 4 ? `${list.slice(0, 4).join(',')} +${list.length - 4}` : list.join(',');
}
