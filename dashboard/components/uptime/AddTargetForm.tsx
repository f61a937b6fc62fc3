'use client';
/**
 * "Add target": an HTTP check (method, URL, timeout, accepted status codes, keyword), a TCP host:port,
 * or a heartbeat with its interval and grace, each with tags. A heartbeat's push URL is shown once
 * (only its hash is kept).
 */
import { type FormEvent, useState } from 'react';
import { ErrorAlert } from '@/components/ErrorAlert';
import { SecretOnce } from '@/components/SecretOnce';
import { api } from '@/lib/api';
import { useAction } from '@/lib/hooks';
import type { Environment } from '@/lib/types';
import type { Target, TargetKind } from '@/lib/uptime';
import {
  type CheckDraft,
  CheckFields,
  EMPTY_CHECK,
  parseTags,
  specFromDraft,
  TagsField,
} from './CheckFields';
import styles from './uptime.module.css';

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
  const [check, setCheck] = useState<CheckDraft>(EMPTY_CHECK);
  const [tags, setTags] = useState('');
  const [intervalS, setIntervalS] = useState('60');
  const [graceS, setGraceS] = useState('60');
  const [pushUrl, setPushUrl] = useState<string | null>(null);
  const [created, setCreated] = useState<string | null>(null);
  const { run, busy, error } = useAction();

  async function submit(e: FormEvent) {
    e.preventDefault();
    const interval = Number(intervalS);
    const spec = specFromDraft(kind, check, interval);
    const tagList = parseTags(tags);
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
            ...(tagList.length ? { tags: tagList } : {}),
          },
        },
      );
      setCreated(res.target.name);
      setPushUrl(res.heartbeatUrl ?? null);
      setName('');
      setCheck((c) => ({ ...c, url: '', host: '', keyword: '' }));
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
        <CheckFields
          id="target"
          kind={kind}
          intervalS={Number(intervalS)}
          draft={check}
          onChange={setCheck}
        />
        <div className="form-row">
          {kind === 'heartbeat' ? (
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
          ) : null}
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
          <TagsField id="target" value={tags} onChange={setTags} />
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
