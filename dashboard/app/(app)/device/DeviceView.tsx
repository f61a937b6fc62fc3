'use client';
import { useSearchParams } from 'next/navigation';
import { type FormEvent, useCallback, useEffect, useRef, useState } from 'react';
import { ErrorAlert } from '@/components/ErrorAlert';
import { PageHeader } from '@/components/PageHeader';
import { ApiError, api } from '@/lib/api';
import { formatDate, relative } from '@/lib/format';
import { useAction } from '@/lib/hooks';
import type { DeviceInfo } from '@/lib/types';
import styles from './device.module.css';

/** "bcdf ghjk", "BCDF-GHJK" and "bcdfghjk" are the same code: letters only, upper case, dash in the middle. */
export function normalizeUserCode(input: string): string {
  const raw = input.replace(/[^a-z0-9]/gi, '').toUpperCase();
  return raw.length === 8 ? `${raw.slice(0, 4)}-${raw.slice(4)}` : raw;
}

const EXPLAIN: Record<string, string> = {
  device_code_not_found: 'No pending login has this code. Check the code shown in your terminal.',
  device_code_expired: 'This login request has expired. Run peep login again for a new code.',
  device_code_already_decided: 'This login request was already approved or denied. Nothing more to do here.',
  rate_limited: 'Too many attempts. Wait a moment before trying again.',
};

type Phase =
  | { kind: 'enter' }
  | { kind: 'review'; info: DeviceInfo }
  | { kind: 'done'; status: 'approved' | 'denied'; info: DeviceInfo };

export function DeviceView() {
  const initial = useSearchParams().get('user_code') ?? '';
  const [code, setCode] = useState(initial);
  const [phase, setPhase] = useState<Phase>({ kind: 'enter' });
  const { run, busy, error } = useAction();
  const inputRef = useRef<HTMLInputElement>(null);
  const headingRef = useRef<HTMLHeadingElement>(null);

  const lookUp = useCallback(
    async (value: string) => {
      const userCode = normalizeUserCode(value);
      if (!userCode) return;
      await run(
        async () => {
          const info = await api<DeviceInfo>(`/device/${encodeURIComponent(userCode)}`);
          if (info.status !== 'pending')
            throw new ApiError(
              409,
              'device_code_already_decided',
              `This login request was already ${info.status}.`,
            );
          setPhase({ kind: 'review', info });
        },
        { onError: () => setPhase({ kind: 'enter' }) },
      );
    },
    [run],
  );

  // A verification_uri_complete link (…/device?user_code=BCDF-GHJK) looks the code up straight away.
  const looked = useRef(false);
  useEffect(() => {
    if (initial && !looked.current) {
      looked.current = true;
      void lookUp(initial);
    }
  }, [initial, lookUp]);

  useEffect(() => {
    if (phase.kind !== 'enter') headingRef.current?.focus();
  }, [phase.kind]);

  function decide(info: DeviceInfo, decision: 'approve' | 'deny') {
    return run(
      async () => {
        const out = await api<{ status: string }>(
          `/device/${encodeURIComponent(info.userCode)}/${decision}`,
          {
            method: 'POST',
          },
        );
        setPhase({ kind: 'done', status: out.status === 'approved' ? 'approved' : 'denied', info });
      },
      {
        onError: (e) => {
          if (e instanceof ApiError && (e.status === 404 || e.status === 410 || e.status === 409)) {
            setPhase({ kind: 'enter' });
          }
        },
      },
    );
  }

  function submit(e: FormEvent) {
    e.preventDefault();
    void lookUp(code);
  }

  const explained = error instanceof ApiError ? EXPLAIN[error.code] : undefined;

  return (
    <div className={styles.wrap}>
      <PageHeader
        title="Device login"
        description="Approve a sign-in from the peep CLI or another device that showed you a code."
      />
      <div className="stack">
        {error ? (
          <div className="stack" style={{ gap: 8 }}>
            {explained ? <p className="alert alert-warning">{explained}</p> : null}
            <ErrorAlert error={error} />
          </div>
        ) : null}

        {phase.kind === 'enter' ? (
          <form onSubmit={submit} className="card stack">
            <div className="field">
              <label htmlFor="user-code">Code shown in your terminal</label>
              <input
                ref={inputRef}
                id="user-code"
                name="user_code"
                className={`input ${styles.codeInput}`}
                autoComplete="one-time-code"
                autoCapitalize="characters"
                spellCheck={false}
                required
                maxLength={20}
                placeholder="BCDF-GHJK"
                value={code}
                onChange={(e) => setCode(e.target.value)}
                aria-describedby="user-code-hint"
              />
              <span id="user-code-hint" className="hint">
                Eight letters. Case, dashes and spaces do not matter.
              </span>
            </div>
            <div>
              <button type="submit" className="btn btn-primary" disabled={busy || !normalizeUserCode(code)}>
                {busy ? 'Checking…' : 'Continue'}
              </button>
            </div>
          </form>
        ) : null}

        {phase.kind === 'review' ? (
          <section className="card stack" aria-labelledby="review-title">
            <h2 id="review-title" ref={headingRef} tabIndex={-1} style={{ fontSize: 17, margin: 0 }}>
              {phase.info.clientName} wants to sign in as you
            </h2>
            <p className={styles.code}>{phase.info.userCode}</p>
            <p className="muted" style={{ margin: 0 }}>
              Check that this code matches the one in your terminal. Approve only requests you started.
            </p>
            <dl className={styles.facts}>
              <dt>Client</dt>
              <dd>
                {phase.info.clientName} <span className="mono muted">({phase.info.clientId})</span>
              </dd>
              <dt>Access</dt>
              <dd>
                {phase.info.scopes.map((s) => (
                  <span key={s} className="badge" style={{ marginRight: 4 }}>
                    {s}
                  </span>
                ))}
              </dd>
              <dt>Requested from</dt>
              <dd className="mono">{phase.info.requestedFromIp ?? 'unknown address'}</dd>
              <dt>User agent</dt>
              <dd className="mono">{phase.info.requestedUserAgent ?? 'unknown'}</dd>
              <dt>Requested</dt>
              <dd>{formatDate(phase.info.createdAt)}</dd>
              <dt>Expires</dt>
              <dd>
                {formatDate(phase.info.expiresAt)} ({relative(phase.info.expiresAt)})
              </dd>
            </dl>
            <div className={styles.buttons}>
              <button
                type="button"
                className="btn btn-primary"
                disabled={busy}
                onClick={() => void decide(phase.info, 'approve')}
              >
                Approve
              </button>
              <button
                type="button"
                className="btn btn-danger"
                disabled={busy}
                onClick={() => void decide(phase.info, 'deny')}
              >
                Deny
              </button>
            </div>
          </section>
        ) : null}

        {phase.kind === 'done' ? (
          <section className={`card ${styles.done}`} aria-labelledby="done-title" aria-live="polite">
            <span
              className={`${styles.doneIcon} ${phase.status === 'approved' ? styles.approved : styles.denied}`}
              aria-hidden="true"
            >
              {phase.status === 'approved' ? '✓' : '✕'}
            </span>
            <h2 id="done-title" ref={headingRef} tabIndex={-1}>
              {phase.status === 'approved' ? 'Device approved' : 'Request denied'}
            </h2>
            <p>
              {phase.status === 'approved'
                ? `${phase.info.clientName} is now signed in. You can close this page and return to your terminal.`
                : `${phase.info.clientName} was not signed in. You can close this page and return to your terminal.`}
            </p>
            <button
              type="button"
              className="btn"
              onClick={() => {
                setCode('');
                setPhase({ kind: 'enter' });
              }}
            >
              Enter another code
            </button>
          </section>
        ) : null}
      </div>
    </div>
  );
}
