/**
 * One TCP connect check: resolve (through the lookup cache), connect, close. Up when the connection
 * is accepted; phases are DNS and connect. The timer covers both.
 */
import net, { type LookupFunction } from 'node:net';
import type { TcpCheck } from '@peep/pkg/probe-spec';
import { type CheckResult, classify, type ErrorClass, ms, type Phases } from './result.js';

export interface TcpEnv {
  now: () => number;
  lookup: LookupFunction;
  signal?: AbortSignal;
}

export function runTcp(check: TcpCheck, env: TcpEnv): Promise<CheckResult> {
  const startedAt = env.now();
  const t0 = performance.now();
  return new Promise((resolve) => {
    const phases: Phases = { totalMs: 0 };
    let done = false;
    let looked: number | undefined;
    let stage = net.isIP(check.host) ? 'connecting' : 'resolving';
    let sock: net.Socket | undefined;
    const finish = (errorClass?: ErrorClass, message?: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      env.signal?.removeEventListener('abort', onAbort);
      sock?.destroy();
      phases.totalMs = ms(performance.now() - t0);
      const r: CheckResult = { ok: errorClass === undefined, startedAt, durationMs: phases.totalMs, phases };
      if (errorClass) {
        r.errorClass = errorClass;
        if (message) r.message = message;
      }
      resolve(r);
    };
    const timer = setTimeout(
      () => finish('timeout', `timed out after ${check.timeoutMs} ms ${stage}`),
      check.timeoutMs,
    );
    const onAbort = () => finish('other', 'aborted');
    if (env.signal) {
      if (env.signal.aborted) return finish('other', 'aborted');
      env.signal.addEventListener('abort', onAbort, { once: true });
    }
    try {
      const s = net.connect({ host: check.host, port: check.port, lookup: env.lookup });
      sock = s;
      s.once('lookup', (err: Error | null) => {
        if (err) return;
        looked = performance.now();
        phases.dnsMs = ms(looked - t0);
        stage = 'connecting';
      });
      s.once('connect', () => {
        phases.connectMs = ms(performance.now() - (looked ?? t0));
        finish();
      });
      s.on('error', (err: NodeJS.ErrnoException) => {
        const k = classify(err, false);
        finish(k.errorClass, k.message);
      });
    } catch (e) {
      finish('other', (e as Error).message.slice(0, 200));
    }
  });
}
