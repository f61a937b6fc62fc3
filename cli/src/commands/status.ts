/**
 * `peep status`: one table of everything's health: each project's targets that need attention (and a
 * count of the ones that are up), its services over the last 15 minutes and its active incidents.
 * `--project` narrows to one project (default: all of yours); `--json` prints the API's answers.
 */
import type { Project, ProjectList, Static } from '@peep/pkg/schemas';
import type { Context } from '../context.js';
import { type Cell, formatTime } from '../output.js';
import { resolveProject } from './projects.js';

export interface StatusOptions {
  project?: string;
  env?: string;
}

type Health = 'ok' | 'degraded' | 'down' | 'unknown';
interface ProjectStatus {
  health: Health;
  targets: {
    counts: { total: number; up: number; down: number; pending: number; paused: number };
    attention: {
      name: string;
      env: string;
      kind: string;
      status: string;
      statusSince: string;
      lastError: string | null;
      health: Health;
    }[];
  };
  services: {
    name: string;
    env: string;
    requests: number;
    rps: number;
    errorRate: number | null;
    p95: number | null;
    health: Health;
  }[];
  incidents: { number: number; env: string; kind: string; status: string; title: string; openedAt: string }[];
}

const pct = (r: number | null) => (r === null ? '-' : `${(r * 100).toFixed(r < 0.01 && r > 0 ? 2 : 1)}%`);
const ms = (v: number | null) => (v === null ? '-' : v >= 100 ? `${Math.round(v)} ms` : `${v.toFixed(1)} ms`);

export async function status(ctx: Context, opts: StatusOptions): Promise<void> {
  const api = ctx.client();
  const ref = opts.project ?? ctx.env.PEEP_PROJECT;
  const projects: Project[] = ref
    ? [await resolveProject(api, ref)]
    : (await api.get<Static<typeof ProjectList>>('/api/v1/projects')).projects;
  const q = opts.env ? `?env=${encodeURIComponent(opts.env)}` : '';
  const answers = await Promise.all(
    projects.map(async (p) => ({
      project: { id: p.id, slug: p.slug, name: p.name },
      ...(await api.get<ProjectStatus>(`/api/v1/projects/${p.id}/status${q}`)),
    })),
  );
  const { c } = ctx.out;
  const health = (h: Health): Cell =>
    h === 'down'
      ? { text: 'down', style: c.red }
      : h === 'degraded'
        ? { text: 'degraded', style: c.yellow }
        : h === 'ok'
          ? { text: 'ok', style: c.green }
          : { text: h, style: c.dim };
  ctx.out.result({ projects: answers }, () => {
    const rows: Cell[][] = [];
    for (const a of answers) {
      const t = a.targets.counts;
      if (t.total > 0)
        rows.push([
          a.project.slug,
          '',
          'targets',
          `${t.total} target${t.total === 1 ? '' : 's'}`,
          health(t.down > 0 ? 'down' : t.up > 0 ? 'ok' : 'unknown'),
          [
            `${t.up} up`,
            t.down && `${t.down} down`,
            t.pending && `${t.pending} pending`,
            t.paused && `${t.paused} paused`,
          ]
            .filter(Boolean)
            .join(', '),
        ]);
      for (const x of a.targets.attention)
        rows.push([
          a.project.slug,
          x.env,
          `target/${x.kind}`,
          x.name,
          x.status === 'down' ? health('down') : { text: x.status, style: c.dim },
          x.status === 'down'
            ? `since ${formatTime(x.statusSince)}${x.lastError ? `, ${x.lastError}` : ''}`
            : '',
        ]);
      for (const s of a.services)
        rows.push([
          a.project.slug,
          s.env,
          'service',
          s.name,
          health(s.health),
          `${s.rps} req/s, ${pct(s.errorRate)} errors, p95 ${ms(s.p95)} (15 min)`,
        ]);
      for (const i of a.incidents)
        rows.push([
          a.project.slug,
          i.env,
          `incident #${i.number}`,
          i.title,
          i.status === 'open' ? { text: 'open', style: c.red } : { text: i.status, style: c.yellow },
          `${i.kind}, opened ${formatTime(i.openedAt)}`,
        ]);
    }
    ctx.out.table(
      ['PROJECT', 'ENV', 'WHAT', 'NAME', 'HEALTH', 'DETAIL'],
      rows,
      projects.length === 0
        ? 'You have no projects yet. Create one with `peep projects create <name>`.'
        : 'Nothing to report yet: add targets with `peep targets add` or send telemetry (README, "Send telemetry").',
    );
  });
}
