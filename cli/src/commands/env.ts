/**
 * `peep env ls | get | set | unset | import | pull | history | diff | rollback | promote | approve |
 * proposals | render-secret`: an environment's variables from the terminal (docs/environments.md).
 * Values of secrets are never printed unless asked for (`get --reveal`, `diff --reveal`, `pull`,
 * `render-secret`, which go through the audited reveal and export routes). Every write names the
 * version it was based on: a stale one is reported with who changed what, never retried blindly;
 * a write the policy only lets you propose becomes a proposal.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline/promises';
import type { PromotionPreview } from '@peep/api/envs/promote';
import type { Proposal } from '@peep/api/envs/proposals';
import type { DiffItem, DiffOut, VarOut, VersionOut } from '@peep/api/envs/service';
import { serializeDotenv } from '@peep/pkg/dotenv';
import type { Context } from '../context.js';
import { CliError, EXIT, usageError } from '../errors.js';
import { type Cell, formatTime } from '../output.js';
import { pickProject } from './project-ref.js';
import { envScope, projectId, type Scope, type ScopeOptions } from './run.js';

export type { ScopeOptions };

type Var = VarOut;
type Diff = Omit<DiffOut, 'left' | 'right'>;
type Change = VersionOut['changes'][number];
interface VarsAnswer {
  environment: { id: string; slug: string; name: string };
  version: number;
  vars: Var[];
  overrides?: Var[];
  policy: { role: string; canReveal: boolean; canChange: boolean; canPropose: boolean; canApprove: boolean };
}
interface WriteAnswer {
  version: number;
  changes: Change[];
}

export interface WriteOptions extends ScopeOptions {
  message?: string;
  base?: number;
}
export interface SetOptions extends WriteOptions {
  secret?: boolean;
  plain?: boolean;
  stdin?: boolean;
}
export interface ImportOptions extends WriteOptions {
  replace?: boolean;
  secret?: boolean;
  format?: 'dotenv' | 'json';
}

const MASK = '••••••';
const KEY = /^[A-Za-z_][A-Za-z0-9_]{0,255}$/;

const scopeName = (service: string) => service || '(env)';
const where = (key: string, service: string) => (service ? `${service}:${key}` : key);

/** A plain value in one table cell: new lines and tabs shown escaped, long ones cut. */
function cellValue(v: Var | DiffItem): string {
  if (v.secret || v.value === null) return MASK;
  const s = JSON.stringify(v.value).slice(1, -1);
  return s.length > 60 ? `${s.slice(0, 59)}…` : s;
}
const shown = (secret: boolean, value: string | null) =>
  value === null ? (secret ? MASK : '') : JSON.stringify(value);

async function readVars(s: Scope, version?: number): Promise<VarsAnswer> {
  return s.api.get<VarsAnswer>(`${s.base}/vars`, { service: s.service, version });
}

// ---------------------------------------------------------------------------------------------------
// Reading

export async function ls(ctx: Context, o: ScopeOptions): Promise<void> {
  const s = await envScope(ctx, o);
  const body = await readVars(s);
  ctx.out.result(body, () => {
    const { c } = ctx.out;
    const rows: Cell[][] = [...body.vars, ...(body.overrides ?? [])].map((v) => [
      v.key,
      v.service ? v.service : { text: scopeName(''), style: c.dim },
      v.secret ? { text: 'secret', style: c.yellow } : 'plain',
      v.secret ? { text: MASK, style: c.dim } : cellValue(v),
      `${v.size} B`,
      String(v.updatedVersion),
    ]);
    ctx.out.table(['KEY', 'SCOPE', 'TYPE', 'VALUE', 'SIZE', 'VERSION'], rows, 'No variables.');
    ctx.out.note(
      c.dim(
        `${body.environment.slug} at version ${body.version}, your role ${body.policy.role}${body.policy.canReveal ? ' (you may reveal secrets: `peep env get KEY --reveal`)' : ''}`,
      ),
    );
  });
}

export async function get(ctx: Context, key: string, o: ScopeOptions & { reveal?: boolean }): Promise<void> {
  const s = await envScope(ctx, o);
  const body = await readVars(s);
  const v = [...body.vars, ...(body.overrides ?? [])].find(
    (x) => x.key === key && (o.service ? true : x.service === ''),
  );
  if (!v)
    throw new CliError(
      EXIT.notFound,
      'variable_not_found',
      `no variable ${key} in ${body.environment.slug}${o.service ? ` for service ${o.service}` : ''}`,
    );
  let value = v.value;
  if (v.secret && o.reveal) {
    const r = await s.api.post<{ values: Record<string, string> }>(`${s.base}/reveal`, {
      keys: [key],
      ...(o.service ? { service: o.service } : {}),
      resolve: false,
    });
    value = r.values[key] ?? null;
  }
  const out = { key, service: v.service, secret: v.secret, value, version: body.version };
  ctx.out.result(out, () => {
    if (value === null) {
      ctx.out.line(MASK);
      ctx.out.note(ctx.out.errColors.dim(`${key} is a secret: add --reveal to print it (audited)`));
      return;
    }
    process.stdout.write(value.endsWith('\n') || !process.stdout.isTTY ? value : `${value}\n`);
  });
}

export async function history(ctx: Context, o: ScopeOptions & { limit?: number }): Promise<void> {
  const s = await envScope(ctx, o);
  const body = await s.api.get<{ versions: VersionOut[]; nextCursor: string | null }>(`${s.base}/versions`, {
    limit: o.limit ?? 50,
  });
  ctx.out.result(body, () => {
    const rows: Cell[][] = body.versions.map((v) => [
      String(v.number),
      describeKind(v),
      formatTime(v.createdAt),
      v.author?.email ?? '-',
      summarize(v.changes),
      v.message,
    ]);
    ctx.out.table(['VERSION', 'KIND', 'WHEN', 'AUTHOR', 'CHANGES', 'MESSAGE'], rows, 'No versions yet.');
  });
}

function describeKind(v: VersionOut): string {
  if (v.restoredVersion !== null) return `${v.kind} to ${v.restoredVersion}`;
  if (v.source) return `${v.kind} from ${v.source.environment ?? '?'}@${v.source.version}`;
  if (v.proposal?.number) return `${v.kind} (#${v.proposal.number})`;
  return v.kind;
}

/** `+A ~B -C`, at most 8 keys shown. */
function summarize(changes: Change[]): string {
  const sign = (op: string) =>
    op === 'added' || op === 'set' ? '+' : op === 'removed' || op === 'unset' ? '-' : '~';
  const parts = changes.slice(0, 8).map((ch) => `${sign(ch.op)}${where(ch.key, ch.service)}`);
  if (changes.length > 8) parts.push(`(+${changes.length - 8} more)`);
  return parts.join(' ') || '-';
}

/** `3 5` (versions of --env), `staging prod`, `staging@4 prod` (environments). */
export async function diff(
  ctx: Context,
  a: string,
  b: string,
  o: ScopeOptions & { reveal?: boolean },
): Promise<void> {
  const s = await envScope(ctx, o);
  const reveal = o.reveal ? 'true' : undefined;
  const versions = /^\d+$/.test(a) && /^\d+$/.test(b);
  const body = versions
    ? await s.api.get<Diff & { left: unknown; right: unknown }>(`${s.base}/diff`, {
        from: a,
        to: b,
        service: s.service,
        reveal,
      })
    : await s.api.get<Diff & { left: unknown; right: unknown }>(`/api/v1/projects/${s.projectId}/diff`, {
        left: a,
        right: b,
        service: s.service,
        reveal,
      });
  ctx.out.result(body, () => printDiff(ctx, body));
}

function printDiff(ctx: Context, d: Diff): void {
  const { c } = ctx.out;
  for (const v of d.added) ctx.out.line(c.green(`+ ${where(v.key, v.service)}=${shown(v.secret, v.value)}`));
  for (const v of d.removed) ctx.out.line(c.red(`- ${where(v.key, v.service)}`));
  for (const v of d.changed)
    ctx.out.line(
      c.yellow(`~ ${where(v.key, v.service)}: ${shown(v.secret, v.from)} -> ${shown(v.secret, v.to)}`),
    );
  ctx.out.note(
    c.dim(
      `${d.added.length} added, ${d.removed.length} removed, ${d.changed.length} changed, ${d.unchanged} unchanged`,
    ),
  );
}

// ---------------------------------------------------------------------------------------------------
// Writing: based on the version read; 403 approval_required becomes a proposal; 409 is explained.

type ProposalBody = Record<string, unknown> & { kind: 'change' | 'import' | 'rollback' };

/**
 * Sends one write based on `baseVersion`. When the policy only lets the caller propose, the same
 * change goes to POST /envs/:env/proposals; when someone wrote in between, the versions since the base
 * are printed and the command fails with exit 6.
 */
async function write(
  ctx: Context,
  s: Scope,
  send: () => Promise<WriteAnswer>,
  proposal: ProposalBody,
  baseVersion: number,
): Promise<void> {
  const stale = async (e: unknown) =>
    e instanceof CliError && e.code === 'version_conflict' ? conflict(s, e, baseVersion) : e;
  let answer: WriteAnswer;
  try {
    answer = await send();
  } catch (e) {
    if (!(e instanceof CliError && e.code === 'approval_required')) throw await stale(e);
    try {
      return await propose(ctx, s, proposal);
    } catch (e2) {
      throw await stale(e2);
    }
  }
  ctx.out.result(answer, () => {
    const { c } = ctx.out;
    if (answer.changes.length === 0) ctx.out.line(`No change: ${s.env} stays at version ${answer.version}.`);
    else
      ctx.out.line(
        `${c.green('Saved')} ${s.env} version ${c.bold(String(answer.version))}: ${summarize(answer.changes)}`,
      );
  });
}

async function propose(ctx: Context, s: Scope, body: ProposalBody): Promise<void> {
  const { proposal } = await s.api.post<{ proposal: Proposal }>(`${s.base}/proposals`, body);
  ctx.out.result({ proposal }, () => {
    ctx.out.line(`proposed #${proposal.number}, waiting for approval`);
    ctx.out.note(
      ctx.out.errColors.dim(
        `${s.env} needs an approval for this change: an admin runs \`peep env approve ${proposal.number}\``,
      ),
    );
  });
}

/** The 409 as a CliError whose message says who changed what since `baseVersion`. */
async function conflict(s: Scope, e: CliError, baseVersion: number): Promise<CliError> {
  const current = (e.extra.details as { currentVersion?: number } | undefined)?.currentVersion;
  let lines: string[] = [];
  try {
    const { versions } = await s.api.get<{ versions: VersionOut[] }>(`${s.base}/versions`, { limit: 20 });
    lines = versions
      .filter((v) => v.number > baseVersion)
      .reverse()
      .map(
        (v) =>
          `  version ${v.number} by ${v.author?.email ?? 'someone'}${v.approvedBy?.email ? `, approved by ${v.approvedBy.email}` : ''} at ${formatTime(v.createdAt)}: ${summarize(v.changes)}${v.message ? ` (${v.message})` : ''}`,
      );
  } catch {
    // The conflict itself is the error to report.
  }
  return new CliError(
    EXIT.conflict,
    'version_conflict',
    `${s.env} changed since version ${baseVersion} (now ${current ?? '?'}); nothing was written${lines.length ? `:\n${lines.join('\n')}` : ''}`,
    { ...e.extra, hint: 'look at the change above, then run the command again to apply yours on top of it' },
  );
}

const baseOf = async (s: Scope, o: WriteOptions) => o.base ?? (await readVars(s)).version;

/** `KEY=VALUE`, `KEY=@file` (the file's bytes as UTF-8), or `KEY` with --stdin. */
export function parseAssignments(
  pairs: string[],
  stdin: string | undefined,
): { key: string; value: string }[] {
  if (stdin !== undefined) {
    if (pairs.length !== 1 || pairs[0]?.includes('='))
      throw usageError('--stdin sets one key: `peep env set KEY --stdin < file`');
    return [{ key: pairs[0] as string, value: stdin }];
  }
  if (pairs.length === 0) throw usageError('give at least one KEY=VALUE');
  return pairs.map((p) => {
    const eq = p.indexOf('=');
    if (eq <= 0) throw usageError(`expected KEY=VALUE, KEY=@file or KEY --stdin (got "${p}")`);
    const key = p.slice(0, eq);
    const raw = p.slice(eq + 1);
    if (!raw.startsWith('@')) return { key, value: raw };
    const file = raw.slice(1);
    try {
      return { key, value: fs.readFileSync(file, 'utf8') };
    } catch (e) {
      throw usageError(`cannot read ${file} for ${key}: ${(e as Error).message}`);
    }
  });
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function set(ctx: Context, pairs: string[], o: SetOptions): Promise<void> {
  if (o.secret && o.plain) throw usageError('--secret and --plain exclude each other');
  const items = parseAssignments(pairs, o.stdin ? await readStdin() : undefined);
  const secret = o.secret ? true : o.plain ? false : undefined;
  const s = await envScope(ctx, o);
  const baseVersion = await baseOf(s, o);
  const message = o.message ?? '';
  const setItems = items.map((i) => ({
    key: i.key,
    value: i.value,
    ...(secret !== undefined ? { secret } : {}),
    ...(s.service ? { service: s.service } : {}),
  }));
  await write(
    ctx,
    s,
    () =>
      s.api.request<WriteAnswer>('PUT', `${s.base}/vars`, { body: { baseVersion, message, set: setItems } }),
    { kind: 'change', baseVersion, message, set: setItems },
    baseVersion,
  );
}

export async function unset(ctx: Context, keys: string[], o: WriteOptions): Promise<void> {
  const s = await envScope(ctx, o);
  const baseVersion = await baseOf(s, o);
  const message = o.message ?? '';
  const items = keys.map((key) => ({ key, ...(s.service ? { service: s.service } : {}) }));
  await write(
    ctx,
    s,
    () =>
      s.api.request<WriteAnswer>('PUT', `${s.base}/vars`, { body: { baseVersion, message, unset: items } }),
    { kind: 'change', baseVersion, message, unset: items },
    baseVersion,
  );
}

export async function importFile(ctx: Context, file: string, o: ImportOptions): Promise<void> {
  let content: string;
  try {
    content = file === '-' ? await readStdin() : fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw usageError(`cannot read ${file}: ${(e as Error).message}`);
  }
  const format = o.format ?? (file.toLowerCase().endsWith('.json') ? 'json' : 'dotenv');
  const s = await envScope(ctx, o);
  const baseVersion = await baseOf(s, o);
  const body = {
    baseVersion,
    message: o.message ?? `import ${path.basename(file)}`,
    format,
    content,
    ...(s.service ? { service: s.service } : {}),
    ...(o.secret ? { secret: true } : {}),
    ...(o.replace ? { replace: true } : {}),
  };
  try {
    await write(
      ctx,
      s,
      () => s.api.post<WriteAnswer>(`${s.base}/import`, body),
      { kind: 'import', ...body },
      baseVersion,
    );
  } catch (e) {
    throw withLines(e, file);
  }
}

/** invalid_dotenv and duplicate_key with their line numbers, as `file:line: message`. */
function withLines(e: unknown, file: string): unknown {
  if (!(e instanceof CliError) || !['invalid_dotenv', 'duplicate_key'].includes(e.code)) return e;
  const details = Array.isArray(e.extra.details) ? (e.extra.details as Record<string, unknown>[]) : [];
  const lines = details.map((d) => {
    const at = d.line ?? (Array.isArray(d.lines) ? d.lines.join(',') : '?');
    const what = d.message ?? d.problem ?? (d.key ? `duplicate key ${d.key}` : 'invalid');
    return `  ${file}:${at}: ${what}`;
  });
  return new CliError(
    e.exitCode,
    e.code,
    `${e.message}${lines.length ? `\n${lines.join('\n')}` : ''}`,
    e.extra,
  );
}

export async function rollback(ctx: Context, version: number, o: WriteOptions): Promise<void> {
  const s = await envScope(ctx, o);
  const baseVersion = await baseOf(s, o);
  const message = o.message ?? `rollback to ${version}`;
  await write(
    ctx,
    s,
    () => s.api.post<WriteAnswer>(`${s.base}/rollback`, { toVersion: version, baseVersion, message }),
    { kind: 'rollback', toVersion: version, baseVersion, message },
    baseVersion,
  );
}

// ---------------------------------------------------------------------------------------------------
// Export: pull and render-secret

async function exportValues(s: Scope): Promise<{ version: number; values: Record<string, string> }> {
  return s.api.post(`${s.base}/export`, {
    ...(s.service ? { service: s.service } : {}),
    resolve: true,
    format: 'json',
  });
}

/** Writes `content` to `file` with mode 0600 through a temporary file renamed over it. */
export function writePrivate(file: string, content: string): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  const fd = fs.openSync(tmp, 'wx', 0o600);
  try {
    fs.writeSync(fd, content);
    fs.fchmodSync(fd, 0o600);
    fs.fsyncSync(fd);
  } catch (e) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  fs.closeSync(fd);
  try {
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

/** Why a file of secrets is at risk in git: tracked, or not ignored; nothing outside a repository. */
export function gitRisk(file: string): 'tracked' | 'not_ignored' | null {
  const cwd = path.dirname(path.resolve(file));
  const name = path.basename(file);
  const git = (args: string[]) => spawnSync('git', args, { cwd, stdio: 'ignore' });
  const inside = git(['rev-parse', '--is-inside-work-tree']);
  if (inside.error || inside.status !== 0) return null;
  if (git(['ls-files', '--error-unmatch', '--', name]).status === 0) return 'tracked';
  if (git(['check-ignore', '-q', '--', name]).status === 1) return 'not_ignored';
  return null;
}

export async function pull(ctx: Context, o: ScopeOptions & { out?: string }): Promise<void> {
  const s = await envScope(ctx, o);
  const { version, values } = await exportValues(s);
  const text = serializeDotenv(Object.entries(values).map(([key, value]) => ({ key, value })));
  const file = o.out ?? '.env';
  if (file === '-') {
    process.stdout.write(text);
    return;
  }
  writePrivate(file, text);
  const risk = gitRisk(file);
  if (risk === 'tracked')
    ctx.out.warn(
      `${file} is tracked by git: its secrets would be committed. Run \`git rm --cached ${file}\` and ignore it.`,
    );
  else if (risk === 'not_ignored')
    ctx.out.warn(`${file} is not ignored by git: add it to .gitignore so its secrets are never committed.`);
  const answer = { file, version, keys: Object.keys(values), mode: '0600', git: risk };
  ctx.out.result(answer, () =>
    ctx.out.line(
      `Wrote ${Object.keys(values).length} variables of ${s.env} version ${version} to ${file} (mode 0600).`,
    ),
  );
}

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const SECRET_KEY = /^[-._a-zA-Z0-9]+$/;

export async function renderSecret(
  ctx: Context,
  o: ScopeOptions & { name?: string; namespace?: string },
): Promise<void> {
  const api = ctx.client();
  const project = await pickProject(ctx, api, o.project ?? undefined);
  const s = await envScope(ctx, { ...o, project: project.id }, api);
  const name = o.name ?? `${project.slug}-${s.service ? `${s.service}-` : ''}${s.env}`;
  if (name.length > 253 || !DNS1123_SUBDOMAIN.test(name))
    throw usageError(
      `--name "${name}" is not a valid Secret name: lowercase letters, digits, '-' and '.', starting and ending with a letter or digit, at most 253 characters`,
    );
  if (o.namespace !== undefined && (o.namespace.length > 63 || !DNS1123_LABEL.test(o.namespace)))
    throw usageError(
      `--namespace "${o.namespace}" is not a valid namespace: lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters`,
    );
  const { version, values } = await exportValues(s);
  const bad = Object.keys(values).filter((k) => !SECRET_KEY.test(k) || k.length > 253);
  if (bad.length)
    throw new CliError(
      EXIT.failure,
      'invalid_secret_key',
      `these keys cannot be keys of a Kubernetes Secret ([-._a-zA-Z0-9]+): ${bad.join(', ')}`,
      { details: bad.map((key) => ({ key })) },
    );
  const labels: Record<string, string> = {
    'app.kubernetes.io/managed-by': 'peep',
    'peep.dev/project': project.slug,
    'peep.dev/environment': s.env,
  };
  if (s.service) labels['peep.dev/service'] = s.service;
  const manifest = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name,
      ...(o.namespace ? { namespace: o.namespace } : {}),
      labels,
      annotations: { 'peep.dev/version': String(version) },
    },
    type: 'Opaque',
    stringData: values,
  };
  if (ctx.out.json) {
    ctx.out.result(manifest, () => {});
    return;
  }
  const { stringify } = await import('yaml');
  process.stdout.write(stringify(manifest, { lineWidth: 0 }));
}

// ---------------------------------------------------------------------------------------------------
// Promotion and proposals

type Preview = PromotionPreview;

export interface PromoteOptions {
  project?: string;
  from: string;
  to: string;
  keys?: string[];
  service?: string;
  message?: string;
  yes?: boolean;
  skip?: boolean;
}

async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

export async function promote(ctx: Context, o: PromoteOptions): Promise<void> {
  for (const k of o.keys ?? []) if (!KEY.test(k)) throw usageError(`--keys: "${k}" is not a key name`);
  const s = await envScope(ctx, { project: o.project, env: o.from, service: o.service });
  const body = {
    to: o.to,
    ...(o.keys ? { keys: o.keys } : {}),
    ...(s.service ? { service: s.service } : {}),
    ...(o.skip ? { skip: true } : {}),
  };
  const preview = await s.api.post<Preview>(`${s.base}/promote`, { ...body, dryRun: true });
  const { c } = ctx.out;
  const changes = preview.diff.added.length + preview.diff.changed.length;
  if (!ctx.out.json) {
    ctx.out.line(
      `Promote ${c.bold(preview.from.environment)}@${preview.from.version} -> ${c.bold(preview.to.environment)}@${preview.to.version} (${preview.mode === 'apply' ? 'applied directly' : 'as a proposal for approval'}):`,
    );
    printDiff(ctx, preview.diff);
    for (const p of preview.requiredKeys.problems)
      ctx.out.line(
        c.red(`! required key ${where(p.key, (p as { service?: string }).service ?? '')}: ${p.problem}`),
      );
    if (preview.frozen)
      ctx.out.line(
        c.red(
          `! ${preview.to.environment} is frozen until ${preview.frozen.until}: ${preview.frozen.reason}`,
        ),
      );
  }
  const fail = (code: string, message: string, details?: unknown) => {
    throw new CliError(EXIT.failure, code, message, { details });
  };
  if (!preview.requiredKeys.ok)
    fail(
      'required_keys_missing',
      `${preview.to.environment} would lack required keys after this promotion; nothing was changed`,
      preview.requiredKeys.problems,
    );
  if (changes === 0) {
    ctx.out.result({ preview, changes: [] }, () =>
      ctx.out.line(`Nothing to promote: ${preview.to.environment} already has these values.`),
    );
    return;
  }
  if (preview.frozen && preview.mode === 'apply')
    throw new CliError(
      EXIT.failure,
      'environment_frozen',
      `${preview.to.environment} is frozen until ${preview.frozen.until} (${preview.frozen.reason})`,
      { details: preview.frozen },
    );
  if (!o.yes) {
    const interactive = process.stdin.isTTY && process.stderr.isTTY && !ctx.out.json;
    if (!interactive) throw usageError('not a terminal: add --yes to promote after reviewing the preview');
    const verb = preview.mode === 'apply' ? 'Apply' : 'Propose';
    if (!(await confirm(`${verb} ${changes} change(s) to ${preview.to.environment}? [y/N] `))) {
      ctx.out.note('Nothing was changed.');
      process.exitCode = EXIT.failure;
      return;
    }
  }
  const answer = await s.api.post<WriteAnswer | { proposal: Proposal }>(`${s.base}/promote`, {
    ...body,
    baseVersion: preview.to.version,
    ...(o.message !== undefined ? { message: o.message } : {}),
  });
  ctx.out.result({ preview, ...answer }, () => {
    if ('proposal' in answer) ctx.out.line(`proposed #${answer.proposal.number}, waiting for approval`);
    else
      ctx.out.line(
        `${c.green('Promoted')} to ${preview.to.environment} version ${c.bold(String(answer.version))}: ${summarize(answer.changes)}`,
      );
  });
}

const proposalRef = (ref: string) => {
  const r = ref.replace(/^#/, '');
  if (!/^\d{1,9}$/.test(r) && !/^[0-9a-f-]{36}$/i.test(r))
    throw usageError(`expected a proposal number (12 or #12) or id, got "${ref}"`);
  return r;
};

export async function decide(
  ctx: Context,
  ref: string,
  o: { project?: string; reject?: boolean; message?: string },
): Promise<void> {
  const api = ctx.client();
  const project = await projectId(ctx, api, o.project);
  const action = o.reject ? 'reject' : 'approve';
  const answer = await api.post<{ proposal: Proposal; version?: number }>(
    `/api/v1/projects/${project}/proposals/${proposalRef(ref)}/${action}`,
    o.message !== undefined ? { comment: o.message } : {},
  );
  ctx.out.result(answer, () => {
    const p = answer.proposal;
    if (o.reject) ctx.out.line(`Rejected #${p.number} (${p.environment.slug}).`);
    else ctx.out.line(`Approved #${p.number}: ${p.environment.slug} is now at version ${answer.version}.`);
  });
}

export async function proposals(
  ctx: Context,
  o: { project?: string; env?: string; status?: string },
): Promise<void> {
  const api = ctx.client();
  const project = await projectId(ctx, api, o.project);
  const status = o.status ?? 'pending';
  const body = await api.get<{ proposals: Proposal[] }>(`/api/v1/projects/${project}/proposals`, {
    status: status === 'all' ? undefined : status,
    env: o.env,
  });
  ctx.out.result(body, () => {
    const rows: Cell[][] = body.proposals.map((p) => [
      `#${p.number}`,
      p.environment.slug,
      p.kind,
      p.status,
      p.author?.email ?? '-',
      formatTime(p.createdAt),
      summarize(p.changes),
      p.message,
    ]);
    ctx.out.table(
      ['PROPOSAL', 'ENV', 'KIND', 'STATUS', 'AUTHOR', 'CREATED', 'CHANGES', 'MESSAGE'],
      rows,
      status === 'all' ? 'No proposals.' : `No ${status} proposals.`,
    );
  });
}
