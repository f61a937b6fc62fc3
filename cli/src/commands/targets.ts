/**
 * `peep targets add | ls | rm | pause | resume | apply`: uptime targets from the terminal and from a
 * YAML file kept in a repository (docs/uptime.md has the format). Nothing here asks a question, so
 * every command runs in CI; `--json` prints the API's answer. Changing targets takes the developer
 * role (the API checks it).
 */
import fs from 'node:fs';
import type {
  ApplyResponse,
  CreateTargetResponse,
  Target,
  TargetList,
  TargetStatus,
} from '@peep/api/uptime/schemas';
import type { Context } from '../context.js';
import { CliError, EXIT, usageError } from '../errors.js';
import type { Cell } from '../output.js';
import { pickProject } from './project-ref.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const base = (projectId: string) => `/api/v1/projects/${projectId}/targets`;

export interface AddOptions {
  project?: string;
  env: string;
  url?: string;
  tcp?: string;
  heartbeat?: boolean;
  method?: string;
  interval?: number;
  timeout?: number;
  grace?: number;
  expect?: string[];
  keyword?: string;
  tag?: string[];
  failAfter?: number;
  paused?: boolean;
}
export interface ListOptions {
  project?: string;
  env?: string;
  status?: TargetStatus;
  kind?: string;
  tag?: string;
  q?: string;
  limit: number;
}
export interface RefOptions {
  project?: string;
  env?: string;
}
export interface ApplyOptions {
  project?: string;
  env?: string;
  dryRun?: boolean;
  prune?: boolean;
}

/** A short age: `42s`, `5m`, `3h`, `2d`. */
export function ago(iso: string | null, now = Date.now()): string {
  if (!iso) return '-';
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}

/** What a target checks, in one cell: the URL, host:port, or the heartbeat's URL prefix. */
export function describe(t: Target): string {
  const spec = t.spec as { url?: string; method?: string; host?: string; port?: number };
  if (t.kind === 'http')
    return `${spec.method && spec.method !== 'GET' ? `${spec.method} ` : ''}${spec.url ?? ''}`;
  if (t.kind === 'tcp') return `${spec.host}:${spec.port}`;
  return `push ${t.heartbeatPrefix ?? '?'}…`;
}

function statusCell(ctx: Context, status: string): Cell {
  const { c } = ctx.out;
  const style = { up: c.green, down: c.red, pending: c.yellow, paused: c.dim }[status];
  return style ? { text: status, style } : status;
}

export async function add(ctx: Context, name: string, o: AddOptions): Promise<void> {
  const kinds = [o.url && 'http', o.tcp && 'tcp', o.heartbeat && 'heartbeat'].filter(Boolean);
  if (kinds.length !== 1) throw usageError('give exactly one of --url URL, --tcp HOST:PORT or --heartbeat');
  const kind = kinds[0] as 'http' | 'tcp' | 'heartbeat';
  const timeoutMs = o.timeout ?? 10_000;
  let spec: Record<string, unknown> | undefined;
  if (kind === 'http') {
    spec = { url: o.url, method: (o.method ?? 'GET').toUpperCase(), timeoutMs };
    if (o.expect?.length) spec.acceptStatus = o.expect;
    if (o.keyword) spec.keyword = { text: o.keyword, mode: 'present' };
  } else if (kind === 'tcp') {
    const m = /^(.+):(\d{1,5})$/.exec(o.tcp ?? '');
    if (!m) throw usageError(`--tcp expects HOST:PORT, such as db.internal:5432 (got "${o.tcp}")`);
    spec = { host: m[1], port: Number(m[2]), timeoutMs };
  }
  if (kind !== 'http' && (o.method || o.expect || o.keyword))
    throw usageError('--method, --expect and --keyword are for --url targets');
  const intervalS = Math.round((o.interval ?? (kind === 'heartbeat' ? 3_600_000 : 60_000)) / 1000);
  const api = ctx.client();
  const project = await pickProject(ctx, api, o.project);
  const body = await api.post<CreateTargetResponse>(base(project.id), {
    name,
    env: o.env,
    kind,
    ...(spec ? { spec } : {}),
    intervalS,
    ...(o.grace !== undefined ? { graceS: Math.round(o.grace / 1000) } : {}),
    ...(o.failAfter !== undefined ? { failAfter: o.failAfter } : {}),
    ...(o.tag?.length ? { tags: o.tag } : {}),
    ...(o.paused ? { enabled: false } : {}),
  });
  ctx.out.result(body, () => {
    const { c } = ctx.out;
    const t = body.target;
    ctx.out.line(
      `${c.green('Created')} ${t.kind} target ${c.bold(t.name)} (${t.id}) in ${project.slug}/${t.env}: ${describe(t)}, every ${t.intervalS} s.`,
    );
    if (body.heartbeatUrl) {
      ctx.out.line('');
      ctx.out.line(`  ${c.bold(body.heartbeatUrl)}`);
      ctx.out.line('');
      ctx.out.note(
        `${ctx.out.errColors.yellow('warning:')} copy the push URL now: it is shown once. Call it (GET or POST) each time the job runs, e.g. \`curl -fsS -m 10 --retry 3 <url>\`.`,
      );
    }
  });
}

export async function list(ctx: Context, o: ListOptions): Promise<void> {
  const api = ctx.client();
  const project = await pickProject(ctx, api, o.project);
  const targets: Target[] = [];
  let cursor: string | null = null;
  let page: TargetList;
  do {
    page = await api.get<TargetList>(base(project.id), {
      env: o.env,
      status: o.status,
      kind: o.kind,
      tag: o.tag,
      q: o.q,
      limit: Math.min(500, o.limit - targets.length),
      cursor: cursor ?? undefined,
    });
    targets.push(...page.targets);
    cursor = page.nextCursor;
  } while (cursor && targets.length < o.limit);
  const { counts } = page;
  ctx.out.result({ targets, nextCursor: cursor, counts }, () => {
    const { c } = ctx.out;
    ctx.out.table(
      ['NAME', 'ENV', 'KIND', 'STATUS', 'SINCE', 'LATENCY', 'TARGET'],
      targets.map((t): Cell[] => [
        t.name,
        t.env,
        t.kind,
        statusCell(ctx, t.status),
        ago(t.statusSince),
        t.kind === 'heartbeat'
          ? t.lastBeatAt
            ? `beat ${ago(t.lastBeatAt)} ago`
            : '-'
          : t.lastDurationMs === null
            ? '-'
            : `${Math.round(t.lastDurationMs)} ms`,
        { text: describe(t), style: c.dim },
      ]),
      `No targets${o.status || o.env || o.tag || o.kind || o.q ? ' match' : ''} in ${project.slug}. Add one with \`peep targets add <name> --url <url> --env <env>\`.`,
    );
    if (targets.length) {
      ctx.out.note(
        `${counts.total} targets: ${counts.up} up, ${counts.down} down, ${counts.pending} pending, ${counts.paused} paused${cursor ? ` (first ${targets.length} shown; --limit for more)` : ''}`,
      );
    }
  });
}

/** A target by id, or by exact name (in `--env` when several environments have that name). */
async function resolveTarget(ctx: Context, ref: string, o: RefOptions) {
  const api = ctx.client();
  const project = await pickProject(ctx, api, o.project);
  if (UUID.test(ref.trim())) return { api, project, id: ref.trim(), name: ref.trim() };
  const found: Target[] = [];
  let cursor: string | null = null;
  do {
    const page: TargetList = await api.get<TargetList>(base(project.id), {
      q: ref,
      env: o.env,
      limit: 500,
      cursor: cursor ?? undefined,
    });
    found.push(...page.targets.filter((t) => t.name === ref));
    cursor = page.nextCursor;
  } while (cursor);
  if (found.length === 0)
    throw new CliError(
      EXIT.notFound,
      'target_not_found',
      `no target "${ref}" in ${project.slug}${o.env ? `/${o.env}` : ''}`,
      { hint: `list them with \`peep targets ls --project ${project.slug}\`` },
    );
  if (found.length > 1)
    throw usageError(
      `"${ref}" names a target in ${found.map((t) => t.env).join(', ')}: add --env to say which (or use its id)`,
    );
  const t = found[0] as Target;
  return { api, project, id: t.id, name: t.name };
}

export async function remove(ctx: Context, ref: string, o: RefOptions): Promise<void> {
  const { api, project, id, name } = await resolveTarget(ctx, ref, o);
  await api.delete(`${base(project.id)}/${id}`);
  ctx.out.result({ deleted: id }, () => ctx.out.line(`Deleted target ${name} (${id}) from ${project.slug}.`));
}

export async function setEnabled(ctx: Context, ref: string, o: RefOptions, enabled: boolean): Promise<void> {
  const { api, project, id } = await resolveTarget(ctx, ref, o);
  const { target } = await api.patch<{ target: Target }>(`${base(project.id)}/${id}`, { enabled });
  ctx.out.result({ target }, () =>
    ctx.out.line(
      enabled
        ? `Resumed ${target.name} in ${project.slug}/${target.env}: checked again from now on (status pending).`
        : `Paused ${target.name} in ${project.slug}/${target.env}: no checks, no incidents until \`peep targets resume\`.`,
    ),
  );
}

/** The apply request a YAML (or JSON) file describes: `{ env?, targets: [...] }` or a bare list. */
export async function readApplyFile(file: string): Promise<{ env?: string; targets: unknown[] }> {
  let text: string;
  try {
    text = file === '-' ? fs.readFileSync(0, 'utf8') : fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new CliError(EXIT.usage, 'usage', `cannot read ${file}: ${(e as Error).message}`);
  }
  const { parse } = await import('yaml');
  let doc: unknown;
  try {
    doc = parse(text, { prettyErrors: true, maxAliasCount: 100 });
  } catch (e) {
    throw new CliError(EXIT.usage, 'invalid_yaml', `${file} is not valid YAML: ${(e as Error).message}`);
  }
  if (Array.isArray(doc)) return { targets: doc };
  const d = doc as { env?: unknown; targets?: unknown } | null;
  const extra =
    d && typeof d === 'object' ? Object.keys(d).filter((k) => k !== 'env' && k !== 'targets') : [];
  if (!d || typeof d !== 'object' || !Array.isArray(d.targets) || extra.length)
    throw new CliError(
      EXIT.usage,
      'invalid_yaml',
      `${file} must hold \`targets:\` (a list) and optionally \`env:\`${extra.length ? `; unknown key ${extra.join(', ')}` : ''}`,
    );
  if (d.env !== undefined && typeof d.env !== 'string')
    throw new CliError(EXIT.usage, 'invalid_yaml', `${file}: env must be an environment name`);
  return { ...(d.env ? { env: d.env as string } : {}), targets: d.targets };
}

export async function apply(ctx: Context, file: string, o: ApplyOptions): Promise<void> {
  const doc = await readApplyFile(file);
  const env = o.env ?? doc.env;
  const api = ctx.client();
  const project = await pickProject(ctx, api, o.project);
  let r: ApplyResponse;
  try {
    r = await api.post<ApplyResponse>(`${base(project.id)}/apply`, {
      ...(env ? { env } : {}),
      targets: doc.targets,
      dryRun: o.dryRun === true,
      prune: o.prune === true,
    });
  } catch (e) {
    // Name the bad items one per line: the API's details say which and why.
    if (
      e instanceof CliError &&
      e.code === 'invalid_targets' &&
      Array.isArray(e.extra.details) &&
      !ctx.out.json
    )
      for (const d of e.extra.details as {
        index: number;
        name: string | null;
        code: string;
        message: string;
      }[])
        ctx.out.note(`  item ${d.index}${d.name ? ` (${d.name})` : ''}: ${d.code}: ${d.message}`);
    throw e;
  }
  ctx.out.result(r, () => {
    const { c } = ctx.out;
    for (const n of r.create) ctx.out.line(c.green(`+ create ${n}`));
    for (const u of r.update) ctx.out.line(c.yellow(`~ update ${u.name}: ${u.changes.join(', ')}`));
    for (const n of r.delete) ctx.out.line(c.red(`- delete ${n}`));
    const total = r.create.length + r.update.length + r.delete.length;
    ctx.out.line(
      `${r.dryRun ? 'Dry run: would apply' : 'Applied'} ${total} change${total === 1 ? '' : 's'} to ${project.slug}${env ? `/${env}` : ''} (${r.create.length} to create, ${r.update.length} to update, ${r.delete.length} to delete, ${r.unchanged} unchanged).`,
    );
    const urls = Object.entries(r.heartbeatUrls ?? {});
    if (urls.length) {
      ctx.out.line('');
      ctx.out.line('Heartbeat push URLs (shown once):');
      for (const [n, u] of urls) ctx.out.line(`  ${n}: ${c.bold(u)}`);
    }
  });
}
