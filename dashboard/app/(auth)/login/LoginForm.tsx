'use client';
import { useRouter, useSearchParams } from 'next/navigation';
import { type FormEvent, useState } from 'react';
import { ErrorAlert } from '@/components/ErrorAlert';
import { api, rememberCsrf, safeNext } from '@/lib/api';
import { useAction } from '@/lib/hooks';
import type { User } from '@/lib/types';

export function LoginForm() {
  const router = useRouter();
  const params = useSearchParams();
  const next = safeNext(params.get('next'));
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const { run, busy, error } = useAction();

  function submit(e: FormEvent) {
    e.preventDefault();
    return run(
      async () => {
        const out = await api<{ user: User; csrfToken: string }>('/auth/login', {
          method: 'POST',
          body: { email: email.trim(), password },
        });
        rememberCsrf(out.csrfToken);
        router.replace(next);
      },
      { keepBusy: true },
    );
  }

  return (
    <form className="stack" onSubmit={submit} noValidate={false}>
      <div>
        <h1>Sign in to peep</h1>
        <p className="muted">Use the email and password of your peep account.</p>
      </div>
      <ErrorAlert error={error} />
      <div className="field">
        <label htmlFor="email">Email</label>
        <input
          id="email"
          className="input"
          type="email"
          autoComplete="username"
          required
          value={email}
          onChange={(e) => setEmail(e.target.value)}
        />
      </div>
      <div className="field">
        <label htmlFor="password">Password</label>
        <input
          id="password"
          className="input"
          type="password"
          autoComplete="current-password"
          required
          value={password}
          onChange={(e) => setPassword(e.target.value)}
        />
      </div>
      <button type="submit" className="btn btn-primary btn-lg" disabled={busy}>
        {busy ? 'Signing in…' : 'Sign in'}
      </button>
      <p className="hint">
        No account yet? The owner creates it from the setup link printed by <code>peep up</code>; others need
        an invitation.
      </p>
    </form>
  );
}
