/** `peep audit`: a project's audit log with --project, else the instance-wide one (instance admins). */
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
}

export async function audit(ctx: Context, opts: AuditOptions): Promise<void> {
  const api = ctx.client();
  const route = opts.project
    ? `/api/v1/projects/${(await resolveProject(api, opts.project)).id}/audit`
    : '/api/v1/audit';
  const body = await api
    .get<Static<typeof AuditPage>>(route, {
      action: opts.action,
      actor: opts.actor,
      outcome: opts.outcome,
      since: opts.since,
      until: opts.until,
      limit: opts.limit,
      cursor: opts.cursor,
    })
    .catch((e: unknown) => {
      // The instance-wide log needs the admin scope: `peep login --admin` asks for it.
      if (!opts.project && e instanceof CliError && e.code === 'insufficient_scope')
        e.extra.hint =
          'the instance-wide log needs the admin scope: an instance admin logs in with `peep login --admin` (or passes an admin token as PEEP_TOKEN); or add --project';
      throw e;
    });
  ctx.out.result(body, () => {
    const { c } = ctx.out;
    ctx.out.table(
      ['TIME (UTC)', 'ACTOR', 'ACTION', 'TARGET', 'OUTCOME', 'STATUS', 'REQUEST'],
      body.entries.map((e) => [
        formatTime(e.at, true),
        e.actorEmail ?? e.actorId ?? '-',
        e.action,
        e.targetType ? `${e.targetType}${e.targetId ? `:${e.targetId}` : ''}` : '-',
        { text: e.outcome, style: e.outcome === 'success' ? c.green : c.red },
        e.status === null ? '-' : String(e.status),
        { text: e.requestId ?? '-', style: c.dim },
      ]),
      'No audit entries match.',
    );
    if (body.nextCursor) ctx.out.line(c.dim(`more: add --cursor ${body.nextCursor}`));
  });
}
