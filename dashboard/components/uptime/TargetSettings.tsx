'use client';
/**
 * A target's settings on its page, for developers: name, tags, the check itself (URL, method,
 * timeout, expected status, keyword; host and port), interval (and grace for heartbeats), how many
 * failed checks open an incident and how many good ones resolve it, the "degraded" latency
 * threshold, anomaly detection and its sensitivity. Only changed fields are sent (PATCH); the check's
 * fields the form does not show (headers, body, JSON path) are kept. Heartbeat
 * targets can get a new push URL (shown once; the old one stops working). The fields start from the
 * target as loaded and follow what the server answers to a save (not the page's later refreshes, which
 * would overwrite an edit in progress).
 */
import { type FormEvent, useState } from 'react';
import { ErrorAlert } from '@/components/ErrorAlert';
import { SecretOnce } from '@/components/SecretOnce';
import { api } from '@/lib/api';
import { useAction } from '@/lib/hooks';
import type { Target } from '@/lib/uptime';
import {
  type CheckDraft,
  CheckFields,
  draftFromSpec,
  parseTags,
  specFromDraft,
  TagsField,
} from './CheckFields';
import styles from './uptime.module.css';

type Sensitivity = Target['sensitivity'];

export function TargetSettings({
  path,
  target,
  onSaved,
}: {
  path: string;
  target: Target;
  onSaved: () => void;
}) {
  const [name, setName] = useState(target.name);
  const [tags, setTags] = useState(target.tags.join(', '));
  const [check, setCheck] = useState<CheckDraft>(() => draftFromSpec(target.spec));
  const [checkEdited, setCheckEdited] = useState(false);
  const [intervalS, setIntervalS] = useState(String(target.intervalS));
  const [graceS, setGraceS] = useState(String(target.graceS));
  const [failAfter, setFailAfter] = useState(String(target.failAfter));
  const [recoverAfter, setRecoverAfter] = useState(String(target.recoverAfter));
  const [degradedMs, setDegradedMs] = useState(target.degradedMs === null ? '' : String(target.degradedMs));
  const [anomaly, setAnomaly] = useState(target.anomaly);
  const [sensitivity, setSensitivity] = useState<Sensitivity>(target.sensitivity);
  const [saved, setSaved] = useState(false);
  const [pushUrl, setPushUrl] = useState<string | null>(null);
  const action = useAction<'save' | 'rotate'>();

  async function save(e: FormEvent) {
    e.preventDefault();
    const next = {
      intervalS: Number(intervalS),
      graceS: Number(graceS),
      failAfter: Number(failAfter),
      recoverAfter: Number(recoverAfter),
      degradedMs: degradedMs.trim() === '' ? null : Number(degradedMs),
      anomaly,
      sensitivity,
    };
    const body: Record<string, unknown> = Object.fromEntries(
      Object.entries(next).filter(([k, v]) => target[k as keyof typeof next] !== v),
    );
    if (name.trim() !== target.name) body.name = name.trim();
    const tagList = parseTags(tags);
    if (tagList.join(',') !== [...target.tags].sort().join(',')) body.tags = tagList;
    if (checkEdited) body.spec = specFromDraft(target.kind, check, Number(intervalS), target.spec);
    setSaved(false);
    if (Object.keys(body).length === 0) return;
    const ok = await action.run(
      async () => {
        const { target: t } = await api<{ target: Target }>(path, { method: 'PATCH', body });
        setName(t.name);
        setTags(t.tags.join(', '));
        setCheck(draftFromSpec(t.spec));
        setCheckEdited(false);
        setIntervalS(String(t.intervalS));
        setGraceS(String(t.graceS));
        setFailAfter(String(t.failAfter));
        setRecoverAfter(String(t.recoverAfter));
        setDegradedMs(t.degradedMs === null ? '' : String(t.degradedMs));
      },
      { busy: 'save' },
    );
    if (ok) {
      setSaved(true);
      onSaved();
    }
  }

  async function rotate() {
    await action.run(
      async () => {
        const res = await api<{ heartbeatUrl: string }>(`${path}/heartbeat-url`, { method: 'POST' });
        setPushUrl(res.heartbeatUrl);
        onSaved();
      },
      { busy: 'rotate' },
    );
  }

  const beat = target.kind === 'heartbeat';
  return (
    <section aria-labelledby="settings-title" className={styles.section}>
      <h2 id="settings-title" className={styles.h2}>
        Settings
      </h2>
      <form onSubmit={save} aria-label="Target settings" className={styles.addForm}>
        <div className="form-row">
          <div className="field">
            <label htmlFor="ts-name">Name</label>
            <input
              id="ts-name"
              className="input"
              required
              maxLength={100}
              value={name}
              onChange={(e) => setName(e.target.value)}
            />
          </div>
          <TagsField id="ts" value={tags} onChange={setTags} />
        </div>
        <CheckFields
          id="ts"
          kind={target.kind}
          intervalS={Number(intervalS)}
          draft={check}
          onChange={(d) => {
            setCheck(d);
            setCheckEdited(true);
          }}
        />
        <div className="form-row">
          <div className="field">
            <label htmlFor="ts-interval">{beat ? 'Expected every (s)' : 'Interval (s)'}</label>
            <input
              id="ts-interval"
              className="input"
              type="number"
              min={5}
              max={86400}
              required
              value={intervalS}
              onChange={(e) => setIntervalS(e.target.value)}
            />
          </div>
          {beat ? (
            <div className="field">
              <label htmlFor="ts-grace">Grace (s)</label>
              <input
                id="ts-grace"
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
            <label htmlFor="ts-fail">Down after (failed checks)</label>
            <input
              id="ts-fail"
              className="input"
              type="number"
              min={1}
              max={100}
              value={failAfter}
              onChange={(e) => setFailAfter(e.target.value)}
            />
          </div>
          <div className="field">
            <label htmlFor="ts-recover">Up after (good checks)</label>
            <input
              id="ts-recover"
              className="input"
              type="number"
              min={1}
              max={100}
              value={recoverAfter}
              onChange={(e) => setRecoverAfter(e.target.value)}
            />
          </div>
        </div>
        <div className="form-row">
          {beat ? null : (
            <div className="field">
              <label htmlFor="ts-degraded">Degraded above (ms)</label>
              <input
                id="ts-degraded"
                className="input"
                type="number"
                min={1}
                max={3600000}
                placeholder="off"
                value={degradedMs}
                onChange={(e) => setDegradedMs(e.target.value)}
              />
            </div>
          )}
          <div className="field">
            <label htmlFor="ts-sensitivity">Anomaly sensitivity</label>
            <select
              id="ts-sensitivity"
              className="select"
              value={sensitivity}
              disabled={!anomaly}
              onChange={(e) => setSensitivity(e.target.value as Sensitivity)}
            >
              <option value="low">low</option>
              <option value="medium">medium</option>
              <option value="high">high</option>
            </select>
          </div>
          <div className="field">
            <span className="label">Latency anomalies</span>
            <label>
              <input type="checkbox" checked={anomaly} onChange={(e) => setAnomaly(e.target.checked)} /> open
              an incident
            </label>
          </div>
        </div>
        <ErrorAlert error={action.error} title="Could not save." />
        <div className={styles.buttons}>
          <button type="submit" className="btn btn-sm btn-primary" disabled={action.busy}>
            {action.pending === 'save' ? 'Saving…' : 'Save settings'}
          </button>
          {saved ? (
            <span className="muted" role="status">
              Saved.
            </span>
          ) : null}
          {beat ? (
            <button type="button" className="btn btn-sm" disabled={action.busy} onClick={rotate}>
              {action.pending === 'rotate' ? 'Working…' : 'New push URL'}
            </button>
          ) : null}
        </div>
      </form>
      {beat ? (
        <p className="hint">
          Push URL starts with <span className="mono">{target.heartbeatPrefix ?? '?'}…</span>; a new one
          replaces it at once.
        </p>
      ) : null}
      <SecretOnce title="New push URL" secret={pushUrl} onDone={() => setPushUrl(null)} />
    </section>
  );
}
