/** `peep members ls | add | set-role | rm --project <id|slug>`; members are named by email. */
import type { Member, MemberList, Role, Static } from '@peep/pkg/schemas';
import type { ApiClient } from '../client.js';
import type { Context } from '../context.js';
import { CliError, EXIT } from '../errors.js';
import { formatTime } from '../output.js';
import { resolveProject } from './projects.js';

export interface MemberOptions {
  project: string;
  role?: Role;
}

const base = (projectId: string) => `/api/v1/projects/${projectId}/members`;

async function findMember(
  api: ApiClient,
  projectId: string,
  email: string,
  project: string,
): Promise<Member> {
  const { members } = await api.get<Static<typeof MemberList>>(base(projectId));
  const m = members.find((x) => x.email.toLowerCase() === email.trim().toLowerCase());
  if (!m)
    throw new CliError(EXIT.notFound, 'member_not_found', `${email} is not a member of ${project}`, {
      hint: `list them with \`peep members ls --project ${project}\``,
    });
  return m;
}

export async function list(ctx: Context, opts: MemberOptions): Promise<void> {
  const api = ctx.client();
  const p = await resolveProject(api, opts.project);
  const body = await api.get<Static<typeof MemberList>>(base(p.id));
  ctx.out.result(body, () =>
    ctx.out.table(
      ['EMAIL', 'NAME', 'ROLE', 'SINCE'],
      body.members.map((m) => [m.email, m.name, m.role, formatTime(m.createdAt)]),
      'No members.',
    ),
  );
}

export async function add(ctx: Context, email: string, opts: MemberOptions): Promise<void> {
  const api = ctx.client();
  const p = await resolveProject(api, opts.project);
  const body = await api.post<{ member: Member }>(base(p.id), { email: email.trim(), role: opts.role });
  ctx.out.result(body, () =>
    ctx.out.line(`${ctx.out.c.green('Added')} ${body.member.email} to ${p.slug} as ${body.member.role}.`),
  );
}

export async function setRole(ctx: Context, email: string, opts: MemberOptions): Promise<void> {
  const api = ctx.client();
  const p = await resolveProject(api, opts.project);
  const m = await findMember(api, p.id, email, p.slug);
  const body = await api.patch<{ member: Member }>(`${base(p.id)}/${m.userId}`, { role: opts.role });
  ctx.out.result(body, () =>
    ctx.out.line(
      `${body.member.email} is now ${ctx.out.c.bold(body.member.role)} in ${p.slug} (was ${m.role}).`,
    ),
  );
}

export async function remove(ctx: Context, email: string, opts: MemberOptions): Promise<void> {
  const api = ctx.client();
  const p = await resolveProject(api, opts.project);
  const m = await findMember(api, p.id, email, p.slug);
  await api.delete(`${base(p.id)}/${m.userId}`);
  ctx.out.result({ removed: { userId: m.userId, email: m.email }, project: p.id }, () =>
    ctx.out.line(`Removed ${m.email} from ${p.slug}.`),
  );
}
