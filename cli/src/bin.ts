#!/usr/bin/env node
/**
 * The `peep` command. Only commander and a few small local modules load here, so `peep --help` stays
 * fast; each command's implementation is imported when it runs.
 */
import { type Command, CommanderError, InvalidArgumentError, Option, program } from 'commander';
import { intIn, parseList, parseScopes, parseSince, parseTime, ROLES } from './args.js';
import type { Context, GlobalOptions } from './context.js';
import { EXIT, EXIT_CODE_HELP } from './errors.js';
import { version } from './version.js';

// Only peep's own arguments: what follows `--` belongs to the command of `peep run`.
const dashdash = process.argv.indexOf('--');
const json = (dashdash < 0 ? process.argv : process.argv.slice(0, dashdash)).includes('--json');

const ENV_HELP = `Environment:
  PEEP_SERVER       server URL, instead of --server
  PEEP_TOKEN        API token to use instead of the stored login (CI); \`peep login\` stores it
  PEEP_PROJECT      project id or slug for metrics, logs and ingest-keys, instead of --project
  PEEP_ENV          environment slug for \`peep env\` and \`peep run\`, instead of --env (default dev)
  PEEP_INGEST_KEY   ingest key for \`peep agent nginx\`, instead of --key
  XDG_CONFIG_HOME   credentials go to $XDG_CONFIG_HOME/peep/credentials.json (default ~/.config/peep/)
  NO_COLOR          no colours (output is plain anyway when not a terminal)
  PEEP_FORCE_TTY=1  allow the device login without a terminal (tests)
  PEEP_DEBUG=1      print stack traces of unexpected errors
  up/serve/builder/migrate read PEEP_PORT, PEEP_DATA_DIR, DATABASE_URL, ... (docs/config.md)`;

/**
 * An action that loads its module on demand and runs inside runCommand (context, error report,
 * exit code). `run` receives the loaded module, the context, the positional arguments and the options.
 */
function lazy<M, O = Record<string, unknown>>(
  load: () => Promise<M>,
  run: (m: M, ctx: Context, args: string[], opts: O & GlobalOptions) => Promise<void>,
) {
  return async (...a: unknown[]) => {
    const cmd = a[a.length - 1] as Command;
    const opts = cmd.optsWithGlobals<O & GlobalOptions>();
    const { runCommand } = await import('./context.js');
    await runCommand(opts, async (ctx) => run(await load(), ctx, cmd.processedArgs as string[], opts));
  };
}

/** `up`, `serve`, `builder`: long-running servers that report their own failures. */
function server(name: 'runUp' | 'runServe' | 'runBuilder') {
  return async () => {
    const up = await import('./up.js');
    await up[name]();
  };
}

const auth = () => import('./commands/auth.js');
const projects = () => import('./commands/projects.js');
const members = () => import('./commands/members.js');
const tokens = () => import('./commands/tokens.js');

program
  .name('peep')
  .description('peep: the self-hostable control plane. Run the server, log in, manage projects and tokens.')
  .version(version(), '-V, --version')
  .option(
    '--server <url>',
    'peep server URL (default: PEEP_SERVER, else your last login, else http://127.0.0.1:7070)',
  )
  .option('--json', 'print machine-readable JSON only (errors as {"error":{...}} on stderr)')
  .configureHelp({ showGlobalOptions: true, sortSubcommands: false })
  .showSuggestionAfterError()
  .exitOverride()
  .configureOutput({
    // In --json mode commander's own messages become a JSON error below.
    outputError: (str, write) => {
      if (!json) write(str);
    },
  })
  .addHelpText('after', `\n${ENV_HELP}\n\n${EXIT_CODE_HELP}\n`);

program
  .command('up')
  .description('run the whole stack in this process: API, dashboard, builder, embedded database')
  .action(server('runUp'));
program
  .command('serve')
  .description('run the server for Kubernetes pods; parts chosen by PEEP_API, PEEP_DASHBOARD, PEEP_BUILDER')
  .action(server('runServe'));
program.command('builder').description('run the background workers alone').action(server('runBuilder'));
program
  .command('migrate')
  .description('apply pending database migrations and print them')
  .action(
    lazy(
      () => import('./commands/migrate.js'),
      (m, ctx) => m.migrate(ctx),
    ),
  );
program
  .command('admin')
  .description('instance administration')
  .command('rotate-master-key')
  .description(
    're-wrap every project data key under the current master key (embedded: asks the running peep to generate a new one); docs/encryption.md',
  )
  .option('--check', 'only report how many data keys each master key wraps')
  .option('--new-key', 'print a freshly generated master key (the first step when scaled out)')
  .action(
    lazy(
      () => import('./commands/admin.js'),
      (m, ctx, _args, o: { check?: boolean; newKey?: boolean }) => m.rotateMasterKey(ctx, o),
    ),
  );

program
  .command('login')
  .description('log in to a peep server with a device code confirmed in the browser')
  .option(
    '--token <token>',
    'store this API token instead of the device login (`-` reads it from stdin); or set PEEP_TOKEN',
  )
  .option('--open', 'also open the verification page in the default browser')
  .option('--admin', 'also ask for the admin scope (instance admins: instance-wide audit, invitations)')
  .addHelpText(
    'after',
    '\nThe device login needs a terminal; in CI use --token or PEEP_TOKEN (exit 2 otherwise).',
  )
  .action(
    lazy(auth, (m, ctx, _args, o: { token?: string; open?: boolean; admin?: boolean }) => m.login(ctx, o)),
  );
program
  .command('logout')
  .description("revoke the CLI's token on the server and forget it locally")
  .action(lazy(auth, (m, ctx) => m.logout(ctx)));
program
  .command('whoami')
  .description('show the user and scopes of the token in use')
  .action(lazy(auth, (m, ctx) => m.whoami(ctx)));

const pj = program.command('projects').description('list, create and inspect projects');
pj.command('ls')
  .alias('list')
  .description('list your projects')
  .action(lazy(projects, (m, ctx) => m.list(ctx)));
pj.command('create')
  .argument('<name>', 'display name')
  .description('create a project (default environments dev, staging, prod)')
  .option('--slug <slug>', 'URL name: lowercase letters, digits, dashes (default: from the name)')
  .option('--environments <slugs>', 'ordered environment slugs, comma-separated', parseList)
  .action(
    lazy(projects, (m, ctx, [name], o: { slug?: string; environments?: string[] }) =>
      m.create(ctx, name as string, o),
    ),
  );
pj.command('show')
  .argument('<project>', 'project id or slug')
  .description("show a project's environments and services")
  .action(lazy(projects, (m, ctx, [ref]) => m.show(ctx, ref as string)));

const project = () => new Option('--project <project>', 'project id or slug').makeOptionMandatory();
const role = () => new Option('--role <role>', 'project role').choices(ROLES).makeOptionMandatory();
type MemberOpts = { project: string; role?: (typeof ROLES)[number] };
const mb = program.command('members').description("manage a project's members");
mb.command('ls')
  .alias('list')
  .description('list members')
  .addOption(project())
  .action(lazy(members, (m, ctx, _a, o: MemberOpts) => m.list(ctx, o)));
mb.command('add')
  .argument('<email>', 'email of an existing peep user')
  .description('add a user to the project')
  .addOption(project())
  .addOption(role())
  .action(lazy(members, (m, ctx, [email], o: MemberOpts) => m.add(ctx, email as string, o)));
mb.command('set-role')
  .argument('<email>', "member's email")
  .description("change a member's role")
  .addOption(project())
  .addOption(role())
  .action(lazy(members, (m, ctx, [email], o: MemberOpts) => m.setRole(ctx, email as string, o)));
mb.command('rm')
  .alias('remove')
  .argument('<email>', "member's email")
  .description('remove a member from the project')
  .addOption(project())
  .action(lazy(members, (m, ctx, [email], o: MemberOpts) => m.remove(ctx, email as string, o)));

const tk = program.command('tokens').description('personal API tokens');
tk.command('ls')
  .alias('list')
  .description('list your tokens (including revoked and expired ones)')
  .action(lazy(tokens, (m, ctx) => m.list(ctx)));
tk.command('create')
  .argument('<name>', 'what the token is for')
  .description('create a token; its secret is printed once')
  .option('--scopes <scopes>', 'comma-separated: read, write, admin', parseScopes, ['read'])
  .option('--expires-in-days <days>', 'expire after N days (1-3650; default never)', intIn(1, 3650))
  .action(
    lazy(tokens, (m, ctx, [name], o: { scopes: ('read' | 'write' | 'admin')[]; expiresInDays?: number }) =>
      m.create(ctx, name as string, o),
    ),
  );
tk.command('revoke')
  .argument('<token>', 'token id (or its name, when one active token has it)')
  .description('revoke a token')
  .action(lazy(tokens, (m, ctx, [ref]) => m.revoke(ctx, ref as string)));

program
  .command('audit')
  .description("read a project's audit log, or the instance's (instance admins) without --project")
  .option('--project <project>', 'project id or slug')
  .option('--action <action>', 'exact action, or a prefix ending in * (e.g. "token.*")')
  .option('--actor <actor>', 'user id or email')
  .addOption(new Option('--outcome <outcome>', 'only successes or failures').choices(['success', 'failure']))
  .option('--since <time>', 'from this ISO 8601 time', parseTime)
  .option('--until <time>', 'up to this ISO 8601 time', parseTime)
  .option('--limit <n>', 'entries per page (1-500, default 50)', intIn(1, 500))
  .option('--cursor <cursor>', 'next page, from a previous answer')
  .option('--env <env>', 'only entries about this environment (slug or id; with --project)')
  .option('--key <key>', 'only entries that touched this variable key')
  .option('--ndjson', 'every matching entry, one JSON object per line (an export)')
  .action(
    lazy(
      () => import('./commands/audit.js'),
      (m, ctx, _a, o: import('./commands/audit.js').AuditOptions) => m.audit(ctx, o),
    ),
  );

const ik = program.command('ingest-keys').description('keys that apps and agents send telemetry with');
const ingestKeys = () => import('./commands/ingest-keys.js');
type IngestKeyOpts = import('./commands/ingest-keys.js').IngestKeyOptions;
const optionalProject = () =>
  new Option('--project <project>', 'project id or slug (default: PEEP_PROJECT, else your only project)');
ik.command('ls')
  .alias('list')
  .description("list a project's ingest keys (project admins)")
  .addOption(optionalProject())
  .option('--env <env>', 'only keys of this environment (slug)')
  .action(lazy(ingestKeys, (m, ctx, _a, o: IngestKeyOpts) => m.list(ctx, o)));
ik.command('create')
  .argument('<name>', 'what the key is for (e.g. the app or host)')
  .description('create an ingest key for one environment; the key is printed once')
  .addOption(optionalProject())
  .requiredOption('--env <env>', 'environment slug (e.g. prod)')
  .action(lazy(ingestKeys, (m, ctx, [name], o: IngestKeyOpts) => m.create(ctx, name as string, o)));
ik.command('revoke')
  .argument('<key>', 'key id (or its name, when one active key has it)')
  .description('revoke an ingest key: senders using it get 401 at once')
  .addOption(optionalProject())
  .action(lazy(ingestKeys, (m, ctx, [ref], o: IngestKeyOpts) => m.revoke(ctx, ref as string, o)));

program
  .command('status')
  .description("one table of everything's health: targets, services (last 15 min) and active incidents")
  .option('--project <project>', 'project id or slug (default: PEEP_PROJECT, else all your projects)')
  .option('--env <env>', 'only this environment (slug)')
  .action(
    lazy(
      () => import('./commands/status.js'),
      (m, ctx, _a, o: import('./commands/status.js').StatusOptions) => m.status(ctx, o),
    ),
  );

/** `30s`, `5m`, `1h`, `1d`, `500ms` or plain seconds, in milliseconds, within [min, max] ms. */
function duration(min: number, max: number) {
  return (value: string) => {
    const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(value.trim());
    const ms = m
      ? Number(m[1]) * { ms: 1, s: 1e3, m: 6e4, h: 3.6e6, d: 8.64e7 }[(m[2] ?? 's') as 'ms']
      : Number.NaN;
    if (!(ms >= min && ms <= max))
      throw new InvalidArgumentError(
        `expected a duration such as 30s, 5m, 1h, from ${min / 1000} s to ${max / 1000} s.`,
      );
    return Math.round(ms);
  };
}
const collect = (value: string, previous: string[] = []) => [...previous, value];

const tg = program.command('targets').description('uptime targets: HTTP(S) and TCP checks, heartbeats');
const targets = () => import('./commands/targets.js');
type TargetsModule = typeof import('./commands/targets.js');
tg.command('add')
  .argument('<name>', 'target name (unique in its environment)')
  .description('add a target: --url URL, --tcp HOST:PORT or --heartbeat (prints its push URL once)')
  .addOption(optionalProject())
  .option('--env <env>', 'environment slug', 'prod')
  .option('--url <url>', 'HTTP(S) check of this URL')
  .option('--tcp <host:port>', 'TCP connect check')
  .option('--heartbeat', 'a job calls the push URL; down when no call comes within interval + grace')
  .option('--method <method>', 'HTTP method (default GET)')
  .option(
    '--interval <duration>',
    'how often: 5s to 1d (default 60s; heartbeats 1h)',
    duration(5000, 86_400_000),
  )
  .option('--timeout <duration>', 'check timeout: 100ms to 60s (default 10s)', duration(100, 60_000))
  .option('--grace <duration>', 'heartbeats: how late a beat may be (default 0)', duration(0, 86_400_000))
  .option('--expect <status>', 'accepted status codes, e.g. 200-299 (repeatable; default 200-399)', collect)
  .option('--keyword <text>', 'the body must contain this text')
  .option('--fail-after <n>', 'failed checks in a row before down (1-100, default 1)', intIn(1, 100))
  .option('--tag <tag>', 'tag (repeatable)', collect)
  .option('--paused', 'create it paused')
  .action(
    lazy(targets, (m: TargetsModule, ctx, [name], o: import('./commands/targets.js').AddOptions) =>
      m.add(ctx, name as string, o),
    ),
  );
tg.command('ls')
  .alias('list')
  .description('list targets with their status (name order)')
  .addOption(optionalProject())
  .addOption(new Option('--status <status>', 'only this status').choices(['up', 'down', 'pending', 'paused']))
  .addOption(new Option('--kind <kind>', 'only this kind').choices(['http', 'tcp', 'heartbeat']))
  .option('--env <env>', 'only this environment (slug)')
  .option('--tag <tag>', 'only targets with this tag')
  .option('--q <text>', 'names containing this text')
  .option('--limit <n>', 'most targets to show (1-100000, default 1000)', intIn(1, 100_000), 1000)
  .action(
    lazy(targets, (m: TargetsModule, ctx, _a, o: import('./commands/targets.js').ListOptions) =>
      m.list(ctx, o),
    ),
  );
for (const [cmd, desc] of [
  ['rm', 'delete a target'],
  ['pause', 'pause a target: no checks, no incidents'],
  ['resume', 'resume a paused target'],
] as const)
  tg.command(cmd)
    .argument('<target>', 'target name or id')
    .description(desc)
    .addOption(optionalProject())
    .option('--env <env>', 'the environment, when several have a target of that name')
    .action(
      lazy(targets, (m: TargetsModule, ctx, [ref], o: import('./commands/targets.js').RefOptions) =>
        cmd === 'rm'
          ? m.remove(ctx, ref as string, o)
          : m.setEnabled(ctx, ref as string, o, cmd === 'resume'),
      ),
    );
tg.command('apply')
  .argument('<file>', 'YAML file of targets (docs/uptime.md; `-` reads stdin)')
  .description("make the project's targets match a file: create, update, and with --prune delete")
  .addOption(optionalProject())
  .option('--env <env>', "the file's environment (overrides its env:)")
  .option('--dry-run', 'print what would change, change nothing')
  .option('--prune', 'delete targets the file does not list (in --env, or the whole project)')
  .action(
    lazy(targets, (m: TargetsModule, ctx, [file], o: import('./commands/targets.js').ApplyOptions) =>
      m.apply(ctx, file as string, o),
    ),
  );

const inc = program
  .command('incidents')
  .description('incidents: list, show the timeline, acknowledge, resolve');
const incidents = () => import('./commands/incidents.js');
type IncidentsModule = typeof import('./commands/incidents.js');
inc
  .command('ls')
  .alias('list')
  .description('incidents, newest first (default: active ones)')
  .addOption(optionalProject())
  .addOption(
    new Option('--status <status>', 'active = open or acknowledged (default active)').choices([
      'active',
      'open',
      'acknowledged',
      'resolved',
      'all',
    ]),
  )
  .addOption(
    new Option('--kind <kind>', 'only this kind').choices([
      'down',
      'degraded',
      'error_rate',
      'latency_anomaly',
      'error_rate_anomaly',
      'cert_expiring',
      'heartbeat_missed',
    ]),
  )
  .option('--env <env>', 'only this environment (slug)')
  .option('--subject <name>', 'only this target or service')
  .option('--limit <n>', 'most incidents to show (1-10000, default 100)', intIn(1, 10_000), 100)
  .action(
    lazy(incidents, (m: IncidentsModule, ctx, _a, o: import('./commands/incidents.js').ListOptions) =>
      m.list(ctx, o),
    ),
  );
inc
  .command('show')
  .argument('<incident>', 'number (12 or #12) or id')
  .description('an incident with its timeline and notifications')
  .addOption(optionalProject())
  .action(
    lazy(incidents, (m: IncidentsModule, ctx, [ref], o: { project?: string }) =>
      m.show(ctx, ref as string, o),
    ),
  );
for (const [cmd, desc] of [
  ['ack', 'acknowledge: you are on it (reminders stop)'],
  ['resolve', 'resolve by hand'],
] as const)
  inc
    .command(cmd)
    .argument('<incident>', 'number (12 or #12) or id')
    .description(desc)
    .addOption(optionalProject())
    .option('--comment <text>', 'a note for the timeline')
    .action(
      lazy(incidents, (m: IncidentsModule, ctx, [ref], o: import('./commands/incidents.js').ActOptions) =>
        m.act(ctx, cmd, ref as string, o),
      ),
    );
inc
  .command('comment')
  .argument('<incident>', 'number (12 or #12) or id')
  .argument('<text>', 'the comment')
  .description("add a comment to an incident's timeline")
  .addOption(optionalProject())
  .action(
    lazy(incidents, (m: IncidentsModule, ctx, [ref, text], o: { project?: string }) =>
      m.act(ctx, 'comment', ref as string, { ...o, comment: text as string }),
    ),
  );

program
  .command('metrics')
  .description('p50/p95/p99 latency, requests per second and error rate per route')
  .addOption(optionalProject())
  .option('--service <name>', 'only this service')
  .option('--route <route>', 'only this route template (e.g. /users/:id)')
  .option('--env <env>', 'only this environment (slug)')
  .option('--since <when>', 'window start: 15m, 6h, 7d or an ISO 8601 time (default 1h)', parseSince)
  .addOption(
    new Option('--sort <by>', 'order of the routes (default traffic)').choices(['traffic', 'p95', 'errors']),
  )
  .option('--limit <n>', 'routes to show (1-200, default 20)', intIn(1, 200))
  .action(
    lazy(
      () => import('./commands/metrics.js'),
      (m, ctx, _a, o: import('./commands/metrics.js').MetricsOptions) => m.metrics(ctx, o),
    ),
  );

program
  .command('logs')
  .description("a project's runtime logs, newest last; --follow streams new ones live")
  .addOption(optionalProject())
  .option('-f, --follow', 'keep printing new logs as they arrive (Ctrl-C stops)')
  .option('--service <name>', 'only this service')
  .option('--env <env>', 'only this environment (slug)')
  .addOption(
    new Option('--level <level>', 'this level or more severe').choices([
      'trace',
      'debug',
      'info',
      'warn',
      'error',
      'fatal',
    ]),
  )
  .option('--grep <text>', 'messages containing this text (case-insensitive)')
  .option('--request-id <id>', 'only logs of this request')
  .option('--since <when>', 'from: 15m, 6h, 7d or an ISO 8601 time (default 7d)', parseSince)
  .option('--limit <n>', 'how many recent logs (1-10000; default 100, 20 with --follow)', intIn(1, 10_000))
  .addHelpText('after', '\nWith --json: one JSON log entry per line (NDJSON).')
  .action(
    lazy(
      () => import('./commands/logs.js'),
      (m, ctx, _a, o: import('./commands/logs.js').LogsOptions) => m.logs(ctx, o),
    ),
  );

const agent = program.command('agent').description('ship logs of other programs to peep');
agent
  .command('nginx')
  .description("follow nginx's peep_json access log and send each request as a request event")
  .requiredOption('--file <path>', 'the access log (log_format peep_json, see nginx/peep.conf)')
  .option('--service <name>', 'service name of the events (default: the request Host)')
  .option('--key <key>', 'ingest key peep_ik_... (default: PEEP_INGEST_KEY)')
  .option('--state-dir <dir>', 'where the position is kept (default: $XDG_STATE_HOME/peep/agent)')
  .option('--batch <n>', 'most lines per batch (1-50000)', intIn(1, 50_000), 2000)
  .option('--interval <ms>', 'how often to look for new lines, in ms (10-60000)', intIn(10, 60_000), 1000)
  .option('--from-start', 'on the first run, read the file from its start (default: its end)')
  .action(
    lazy(
      () => import('./commands/agent.js'),
      (m, ctx, _a, o: import('./commands/agent.js').NginxAgentCliOptions) => m.nginx(ctx, o),
    ),
  );

program
  .command('demo')
  .description('run a sample app instrumented with @peep/sdk plus live traffic against the server')
  .option('--key <key>', 'ingest key peep_ik_... (default: a key for project "demo", made with your login)')
  .option('--rps <n>', 'average requests per second (1-2000; bursts go 4x)', intIn(1, 2000), 20)
  .option('--duration <s>', 'stop after this many seconds (default: at Ctrl-C)', intIn(1, 86_400))
  .action(
    lazy(
      () => import('./commands/demo.js'),
      (m, ctx, _a, o: import('./commands/demo.js').DemoOptions) => m.demo(ctx, o),
    ),
  );

const envCmd = program
  .command('env')
  .description("an environment's variables and secrets: versions, diff, rollback, promotion, approvals");
const envs = () => import('./commands/env.js');
type EnvModule = typeof import('./commands/env.js');
/** --project, --env and --service of every env command. */
function scoped(cmd: Command, service = true): Command {
  cmd.addOption(optionalProject()).option('--env <env>', 'environment slug (default: PEEP_ENV, else dev)');
  if (service)
    cmd.option('--service <service>', "a service's view: the environment overlaid by its overrides");
  return cmd;
}
const message = () => new Option('-m, --message <text>', 'why (shown in the history)');
const base = () =>
  new Option('--base <version>', 'the version this change is based on (default: the one read now)').argParser(
    intIn(0, 2 ** 31 - 1),
  );
scoped(envCmd.command('ls').alias('list'))
  .description('variables: key, scope, secret or plain, value (secrets masked), size, version')
  .action(lazy(envs, (m: EnvModule, ctx, _a, o: import('./commands/env.js').ScopeOptions) => m.ls(ctx, o)));
scoped(envCmd.command('get'))
  .argument('<key>', 'variable name')
  .description('one value; a secret stays masked unless --reveal (audited)')
  .option('--reveal', "print a secret's value")
  .action(
    lazy(
      envs,
      (m: EnvModule, ctx, [key], o: import('./commands/env.js').ScopeOptions & { reveal?: boolean }) =>
        m.get(ctx, key as string, o),
    ),
  );
scoped(envCmd.command('set'))
  .argument('<assignments...>', "KEY=VALUE, KEY=@file (the file's content), or KEY with --stdin")
  .description('set variables as a new version; proposes instead when the policy asks for approval')
  .option('--secret', 'store as secrets (default: kept, else by the name: *TOKEN*, *PASSWORD*, *KEY*...)')
  .option('--plain', 'store as plain values')
  .option('--stdin', "read the one key's value from stdin, exactly")
  .addOption(message())
  .addOption(base())
  .action(
    lazy(envs, (m: EnvModule, ctx, [pairs], o: import('./commands/env.js').SetOptions) =>
      m.set(ctx, pairs as unknown as string[], o),
    ),
  );
scoped(envCmd.command('unset'))
  .argument('<keys...>', 'variable names')
  .description('remove variables as a new version')
  .addOption(message())
  .addOption(base())
  .action(
    lazy(envs, (m: EnvModule, ctx, [keys], o: import('./commands/env.js').WriteOptions) =>
      m.unset(ctx, keys as unknown as string[], o),
    ),
  );
scoped(envCmd.command('import'))
  .argument('<file>', '.env or .json file (`-` reads stdin)')
  .description('import a file as one new version; errors name their lines')
  .option('--replace', 'also remove the variables the file does not name')
  .option('--secret', 'store every imported value as a secret')
  .addOption(new Option('--format <format>', 'default: by the extension').choices(['dotenv', 'json']))
  .addOption(message())
  .addOption(base())
  .action(
    lazy(envs, (m: EnvModule, ctx, [file], o: import('./commands/env.js').ImportOptions) =>
      m.importFile(ctx, file as string, o),
    ),
  );
scoped(envCmd.command('pull'))
  .description(
    'write the values (references resolved) to a .env file, mode 0600; warns when git would see it',
  )
  .option('--out <file>', 'where to write (`-` prints to stdout)', '.env')
  .action(
    lazy(envs, (m: EnvModule, ctx, _a, o: import('./commands/env.js').ScopeOptions & { out?: string }) =>
      m.pull(ctx, o),
    ),
  );
scoped(envCmd.command('history'), false)
  .description('versions, newest first: author, message, time, changed keys')
  .option('--limit <n>', 'versions to show (1-200, default 50)', intIn(1, 200))
  .action(
    lazy(envs, (m: EnvModule, ctx, _a, o: import('./commands/env.js').ScopeOptions & { limit?: number }) =>
      m.history(ctx, o),
    ),
  );
scoped(envCmd.command('diff'))
  .argument('<a>', 'a version of --env (3), or an environment (staging, staging@4)')
  .argument('<b>', 'the other version (5), or environment (prod, prod@7)')
  .description('added, removed and changed keys; secret values masked unless --reveal')
  .option('--reveal', 'show secret values (needs reveal rights on both sides; audited)')
  .action(
    lazy(
      envs,
      (m: EnvModule, ctx, [a, b], o: import('./commands/env.js').ScopeOptions & { reveal?: boolean }) =>
        m.diff(ctx, a as string, b as string, o),
    ),
  );
scoped(envCmd.command('rollback'), false)
  .argument('<version>', 'the version to restore', intIn(0, 2 ** 31 - 1))
  .description('a new version equal to an older one; proposes when the policy asks for approval')
  .addOption(message())
  .addOption(base())
  .action(
    lazy(envs, (m: EnvModule, ctx, [n], o: import('./commands/env.js').WriteOptions) =>
      m.rollback(ctx, n as unknown as number, o),
    ),
  );
envCmd
  .command('promote')
  .description('copy keys to the next environment: preview, confirm, then apply or propose')
  .addOption(optionalProject())
  .requiredOption('--from <env>', 'source environment')
  .requiredOption('--to <env>', 'target environment (the next one in the order unless --skip)')
  .option('--keys <keys>', 'only these keys, comma-separated (default: all)', parseList)
  .option('--service <service>', "promote one service's overrides")
  .option('--skip', 'allow a target further down the order than the next one')
  .option('-y, --yes', 'do not ask for confirmation (needed without a terminal)')
  .addOption(message())
  .action(
    lazy(envs, (m: EnvModule, ctx, _a, o: import('./commands/env.js').PromoteOptions) => m.promote(ctx, o)),
  );
envCmd
  .command('approve')
  .argument('<proposal>', 'proposal number (12 or #12) or id')
  .description('approve a proposal, which applies it; --reject turns it down')
  .addOption(optionalProject())
  .option('--reject', 'reject instead of approving')
  .addOption(message())
  .action(
    lazy(envs, (m: EnvModule, ctx, [ref], o: { project?: string; reject?: boolean; message?: string }) =>
      m.decide(ctx, ref as string, o),
    ),
  );
envCmd
  .command('proposals')
  .description('proposals waiting for approval (or --status)')
  .addOption(optionalProject())
  .option('--env <env>', 'only this environment')
  .addOption(
    new Option('--status <status>', 'default pending').choices([
      'pending',
      'approved',
      'rejected',
      'cancelled',
      'conflict',
      'all',
    ]),
  )
  .action(
    lazy(envs, (m: EnvModule, ctx, _a, o: { project?: string; env?: string; status?: string }) =>
      m.proposals(ctx, o),
    ),
  );
scoped(envCmd.command('render-secret'))
  .description('print a Kubernetes v1 Secret manifest (stringData) of the values, for kubectl apply')
  .option('--name <name>', 'metadata.name (default: <project>-[<service>-]<env>)')
  .option('--namespace <ns>', 'metadata.namespace')
  .action(
    lazy(
      envs,
      (
        m: EnvModule,
        ctx,
        _a,
        o: import('./commands/env.js').ScopeOptions & { name?: string; namespace?: string },
      ) => m.renderSecret(ctx, o),
    ),
  );

scoped(program.command('run'))
  .argument('<command...>', 'the command and its arguments, after --')
  .description("run a command with an environment's variables in its environment (no file written)")
  .addHelpText(
    'after',
    "\nExample: peep run --env staging -- node server.js\nExits with the command's exit code.",
  )
  .action(
    lazy(
      () => import('./commands/run.js'),
      (m, ctx, [argv], o: import('./commands/run.js').ScopeOptions) =>
        m.run(ctx, argv as unknown as string[], o),
    ),
  );

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    process.exitCode = e.exitCode === 0 ? EXIT.ok : EXIT.usage;
    if (json && e.exitCode !== 0) {
      const message =
        e.code === 'commander.help' || e.code === 'commander.helpDisplayed'
          ? 'a command is missing; see `peep --help`'
          : e.message.replace(/^error: /, '');
      process.stderr.write(
        `${JSON.stringify({ error: { code: 'usage', message, exitCode: EXIT.usage } })}\n`,
      );
    }
  } else {
    const message = e instanceof Error ? e.message : String(e);
    if (json)
      process.stderr.write(`${JSON.stringify({ error: { code: 'cli_error', message, exitCode: 1 } })}\n`);
    else process.stderr.write(`peep: ${e instanceof Error && process.env.PEEP_DEBUG ? e.stack : message}\n`);
    process.exitCode = EXIT.failure;
  }
}
