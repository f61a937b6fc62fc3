/**
 * `peep agent nginx --file PATH`: ships nginx's access log (format `peep_json`, nginx/peep.conf) to
 * peep as request events, authenticated by an ingest key (--key or PEEP_INGEST_KEY), until SIGTERM
 * or SIGINT; then the in-flight batch finishes, the position is saved and the exit code is 0.
 * Progress goes to stderr: one line per notable thing (start, rotation, retries, malformed lines).
 */
import os from 'node:os';
import path from 'node:path';
import { runNginxAgent } from '../agent/nginx.js';
import type { Context } from '../context.js';
import { CliError, EXIT, usageError } from '../errors.js';

export interface NginxAgentCliOptions {
  file: string;
  service?: string;
  key?: string;
  stateDir?: string;
  batch: number;
  interval: number;
  fromStart?: boolean;
}

/** `$XDG_STATE_HOME/peep/agent`, else `~/.local/state/peep/agent`. */
export function defaultStateDir(env: NodeJS.ProcessEnv): string {
  const base = env.XDG_STATE_HOME || path.join(env.HOME || os.homedir(), '.local', 'state');
  return path.join(base, 'peep', 'agent');
}

export async function nginx(ctx: Context, o: NginxAgentCliOptions): Promise<void> {
  const key = o.key ?? ctx.env.PEEP_INGEST_KEY;
  if (!key) throw usageError('an ingest key is needed: --key peep_ik_... or PEEP_INGEST_KEY');
  if (!key.startsWith('peep_ik_'))
    throw new CliError(EXIT.usage, 'usage', 'the ingest key starts with peep_ik_ (not a personal token)', {
      hint: 'create one with `peep ingest-keys create <name> --project P --env ENV`',
    });
  if (o.service !== undefined && (o.service.length < 1 || o.service.length > 100))
    throw usageError('--service takes 1 to 100 characters');

  const stop = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    if (stop.signal.aborted) return;
    ctx.out.note(`peep agent: ${sig}: finishing the batch in flight, then saving the position`);
    stop.abort();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  const json = ctx.out.json;
  const note = (msg: string) =>
    process.stderr.write(
      json ? `${JSON.stringify({ time: new Date().toISOString(), msg })}\n` : `peep agent: ${msg}\n`,
    );
  try {
    const stats = await runNginxAgent({
      file: path.resolve(o.file),
      server: ctx.server,
      key,
      stateDir: o.stateDir ? path.resolve(o.stateDir) : defaultStateDir(ctx.env),
      service: o.service,
      instance: os.hostname(),
      batch: o.batch,
      intervalMs: o.interval,
      fromStart: o.fromStart === true,
      stop: stop.signal,
      note,
    });
    ctx.out.result({ stats }, () =>
      note(
        `stopped: ${stats.events} events in ${stats.batches} batches, ${stats.malformed} malformed lines skipped, ` +
          `${stats.rejected} rejected, ${stats.dropped} dropped, ${stats.retries} retries` +
          (stats.duplicates > 0 ? `, ${stats.duplicates} resent batches already counted` : '') +
          (stats.interrupted ? '; one batch unacknowledged, resent on the next start' : ''),
      ),
    );
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  }
}
