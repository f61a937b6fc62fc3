'use client';
/**
 * "Add target": an HTTP URL with its interval and the accepted status codes, a TCP host:port, or a
 * heartbeat with its interval and grace. A heartbeat's push URL is shown once (only its hash is kept).
 */
import { type FormEvent, useState } from 'react';
import { ErrorAlert } from '@/components/ErrorAlert';
import { SecretOnce } from '@/components/SecretOnce';
import { api } from '@/lib/api';
import { useAction } from '@/lib/hooks';
import type { Environment } from '@/lib/types';
import type { Target, TargetKind } from '@/lib/uptime';
import styles from './uptime.module.css';

const DEFAULT_TIMEOUT_MS = 10_000;

export function AddTargetForm({
  projectId,
  envs,
  onCreated,
}: {
  projectId: string;
  envs: Environment[];
  onCreated: () => void;
}) {
  const [kind, setKind] = useState<TargetKind>('http');
  const [name, setName] = useState('');
  const [env, setEnv] = useState(envs[0]?.slug ?? '');
  const [url, setUrl] = useState('');
  const [expect, setExpect] = useState('200-399');
  const [host, setHost] = useState('');
  const [port, setPort] = useState('443');
  const [intervalS, setIntervalS] = useState('60');
  const [graceS, setGraceS] = useState('60');
  const [pushUrl, setPushUrl] = useState<string | null>(null);
  const [created, setCreated] = useState<string | null>(null);
  const { run, busy, error } = useAction();

  async function submit(e: FormEvent) {
    e.preventDefault();
    const interval = Number(intervalS);
    const timeoutMs = Math.min(DEFAULT_TIMEOUT_MS, interval * 1000);
    const spec =
      kind === 'http'
        ? {
            url: url.trim(),
            method: 'GET',
            timeoutMs,
            ...(expect.trim()
              ? {
                  acceptStatus: expect
                    .split(',')
                    .map((s) => s.trim())
                    .filter(Boolean),
                }
              : {}),
          }
        : kind === 'tcp'
          ? { host: host.trim(), port: Number(port), timeoutMs }
          : undefined;
    await run(async () => {
      const res = await api<{ target: Target; heartbeatUrl?: string }>(
        `/projects/${encodeURIComponent(projectId)}/targets`,
        {
          method: 'POST',
          body: {
            name: name.trim(),
            env,
            kind,
            intervalS: interval,
            ...(spec ? { spec } : {}),
            ...(kind === 'heartbeat' ? { graceS: Number(graceS) } : {}),
          },
        },
      );
      setCreated(res.target.name);
      setPushUrl(res.heartbeatUrl ?? null);
      setName('');
      setUrl('');
      setHost('');
      onCreated();
    });
  }

  return (
    <section aria-labelledby="add-target" className={styles.section}>
      <h2 id="add-target" className={styles.h2}>
        Add target
      </h2>
      <SecretOnce
        title={`Push URL of ${created ?? 'the heartbeat'}`}
        secret={pushUrl}
        onDone={() => setPushUrl(null)}
      />
      {created && !pushUrl ? (
        <p className="muted" role="status">
          Added {created}: its first check runs within one interval.
        </p>
      ) : null}
      <form onSubmit={submit} className={styles.addForm} aria-label="Add target">
        <div className="form-row">
          <div className="field">
            <label htmlFor="target-kind">Kind</label>
            <select
              id="target-kind"
              className="select"
              value={kind}
              onChange={(e) => setKind(e.target.value as TargetKind)}
            >
              <option value="http">HTTP</option>
              <option value="tcp">TCP</option>
              <option value="heartbeat">Heartbeat</option>
            </select>
          </div>
          <div className="field">
            <label htmlFor="target-name">Name</label>
            <input
              id="target-name"
              className="input"
              required
              maxLength={100}
              value={name}
              onChange={(e) => setName(e.target.value)}
              placeholder="checkout api"
            />
          </div>
          <div className="field">
            <label htmlFor="target-env">Environment</label>
            <select id="target-env" className="select" value={env} onChange={(e) => setEnv(e.target.value)}>
              {envs.map((e) => (
                <option key={e.id} value={e.slug}>
                  {e.name}
                </option>
              ))}
            </select>
          </div>
        </div>
        <div className="form-row">
          {kind === 'http' ? (
            <>
              <div className="field">
                <label htmlFor="target-url">URL</label>
                <input
                  id="target-url"
                  className="input"
                  type="url"
                  required
                  value={url}
                  onChange={(e) => setUrl(e.target.value)}
                  placeholder="https://example.com/health"
                />
              </div>
              <div className="field">
                <label htmlFor="target-expect">Expected status</label>
                <input
                  id="target-expect"
                  className="input"
                  value={expect}
                  onChange={(e) => setExpect(e.target.value)}
                  placeholder="200-399"
                  aria-describedby="target-expect-hint"
                />
                <span id="target-expect-hint" className="hint">
                  NNN or NNN-MMM, comma separated
                </span>
              </div>
            </>
          ) : kind === 'tcp' ? (
            <>
              <div className="field">
                <label htmlFor="target-host">Host</label>
                <input
                  id="target-host"
                  className="input"
                  required
                  value={host}
                  onChange={(e) => setHost(e.target.value)}
                  placeholder="db.internal"
                />
              </div>
              <div className="field">
                <label htmlFor="target-port">Port</label>
                <input
                  id="target-port"
                  className="input"
                  type="number"
                  required
                  min={1}
                  max={65535}
                  value={port}
                  onChange={(e) => setPort(e.target.value)}
                />
              </div>
            </>
          ) : (
            <div className="field">
              <label htmlFor="target-grace">Grace (seconds)</label>
              <input
                id="target-grace"
                className="input"
                type="number"
                min={0}
                max={86400}
                value={graceS}
                onChange={(e) => setGraceS(e.target.value)}
              />
            </div>
          )}
          <div className="field">
            <label htmlFor="target-interval">
              {kind === 'heartbeat' ? 'Expected every (s)' : 'Interval (s)'}
            </label>
            <input
              id="target-interval"
              className="input"
              type="number"
              required
              min={5}
              max={86400}
              value={intervalS}
              onChange={(e) => setIntervalS(e.target.value)}
            />
          </div>
        </div>
        <ErrorAlert error={error} title="Could not add the target." />
        <div>
          <button type="submit" className="btn btn-primary" disabled={busy}>
            {busy ? 'Adding…' : 'Add target'}
          </button>
        </div>
      </form>
    </section>
  );
}
