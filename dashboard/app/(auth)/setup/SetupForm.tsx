'use client';
import Link from 'next/link';
import { useRouter, useSearchParams } from 'next/navigation';
import { type FormEvent, useState } from 'react';
import { ErrorAlert } from '@/components/ErrorAlert';
import { api, rememberCsrf } from '@/lib/api';
import { useAction, useResource } from '@/lib/hooks';
import type { User } from '@/lib/types';

const MIN_PASSWORD = 12;
const loadNeedsSetup = async () => (await api<{ needsSetup: boolean }>('/setup')).needsSetup;

/** Owner setup (first start) and invitation acceptance: the same endpoint, told apart by needsSetup. */
export function SetupForm() {
  const router = useRouter();
  const token = useSearchParams().get('token') ?? '';
  const { data: needsSetup, error: statusError } = useResource(loadNeedsSetup);
  const [name, setName] = useState('');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [touched, setTouched] = useState(false);
  const { run, busy, error } = useAction();

  const tooShort = password.length < MIN_PASSWORD;
  const owner = needsSetup !== false;

  async function submit(e: FormEvent) {
    e.preventDefault();
    setTouched(true);
    if (tooShort) return;
    await run(
      async () => {
        const out = await api<{ user: User; csrfToken: string }>('/setup', {
          method: 'POST',
          body: { token, name: name.trim(), password, ...(email.trim() ? { email: email.trim() } : {}) },
        });
        rememberCsrf(out.csrfToken);
        router.replace('/projects');
      },
      { keepBusy: true },
    );
  }

  if (!token) {
    return (
      <div className="stack">
        <h1>Set up your account</h1>
        <div className="alert alert-warning" role="alert">
          This page needs the one-time link printed by <code>peep up</code> (or an invitation link). Open the
          full link, including its <code>?token=…</code> part.
        </div>
        <p>
          Already have an account? <Link href="/login">Sign in</Link>
        </p>
      </div>
    );
  }

  return (
    <form className="stack" onSubmit={submit}>
      <div>
        <h1>{owner ? 'Create the owner account' : 'Accept your invitation'}</h1>
        <p className="muted">
          {owner
            ? 'This is the first account of this peep instance; it will own and administer it.'
            : 'Choose your name and a password to join this peep instance.'}
        </p>
      </div>
      <ErrorAlert error={statusError} title="Could not reach the server." />
      <ErrorAlert error={error} />
      <div className="field">
        <label htmlFor="name">Name</label>
        <input
          id="name"
          className="input"
          autoComplete="name"
          required
          maxLength={100}
          value={name}
          onChange={(e) => setName(e.target.value)}
        />
      </div>
      <div className="field">
        <label htmlFor="email">Email{owner ? '' : ' (optional)'}</label>
        <input
          id="email"
          className="input"
          type="email"
          autoComplete="username"
          required={owner}
          maxLength={254}
          value={email}
          onChange={(e) => setEmail(e.target.value)}
          aria-describedby={owner ? undefined : 'email-hint'}
        />
        {owner ? null : (
          <span id="email-hint" className="hint">
            Leave empty to use the address the invitation was sent to.
          </span>
        )}
      </div>
      <div className="field">
        <label htmlFor="password">Password</label>
        <input
          id="password"
          className="input"
          type="password"
          autoComplete="new-password"
          required
          minLength={MIN_PASSWORD}
          maxLength={256}
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          onBlur={() => setTouched(true)}
          aria-invalid={touched && tooShort}
          aria-describedby="password-rule"
        />
        <span id="password-rule" className="hint" aria-live="polite">
          At least {MIN_PASSWORD} characters
          {password.length > 0 ? ` (${password.length}/${MIN_PASSWORD}${tooShort ? '' : ', ok'})` : ''}.
        </span>
      </div>
      <button
        type="submit"
        className="btn btn-primary btn-lg"
        disabled={busy || (needsSetup === null && !statusError)}
      >
        {busy ? 'Creating…' : owner ? 'Create owner account' : 'Create account'}
      </button>
    </form>
  );
}
