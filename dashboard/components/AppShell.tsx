'use client';
import Link from 'next/link';
import { usePathname, useRouter } from 'next/navigation';
import { createContext, type ReactNode, useCallback, useContext, useEffect, useRef, useState } from 'react';
import { ApiError, api } from '@/lib/api';
import type { Me } from '@/lib/types';
import styles from './AppShell.module.css';
import { ErrorAlert } from './ErrorAlert';
import { Loading } from './Loaded';
import { Logo } from './Logo';

const MeContext = createContext<Me | null>(null);

/** The signed-in user; only inside the app shell, which renders its children once it is known. */
export function useMe(): Me {
  const me = useContext(MeContext);
  if (!me) throw new Error('useMe() outside <AppShell>');
  return me;
}

function loginUrl(): string {
  const here = `${window.location.pathname}${window.location.search}`;
  return `/login?next=${encodeURIComponent(here)}`;
}

const NAV = [
  { href: '/projects', label: 'Projects', short: 'Projects' },
  { href: '/settings/tokens', label: 'API tokens', short: 'Tokens' },
  { href: '/device', label: 'Device login', short: 'Device' },
] as const;

/** Signed-in frame for app pages: asks the API who is signed in and sends everyone else to /login. */
export function AppShell({ children }: { children: ReactNode }) {
  const router = useRouter();
  const pathname = usePathname();
  const [me, setMe] = useState<Me | null>(null);
  const [error, setError] = useState<unknown>(null);

  const load = useCallback(async () => {
    setError(null);
    try {
      setMe(await api<Me>('/me'));
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) router.replace(loginUrl());
      else setError(e);
    }
  }, [router]);

  useEffect(() => {
    void load();
  }, [load]);

  return (
    <>
      <a href="#main" className="skip-link">
        Skip to content
      </a>
      <header className={styles.header}>
        <div className={styles.inner}>
          <Link href="/projects" className={styles.brand} aria-label="peep projects">
            <Logo />
          </Link>
          <nav aria-label="Main" className={styles.nav}>
            <ul>
              {NAV.map((n) => {
                const current = pathname === n.href || pathname.startsWith(`${n.href}/`);
                return (
                  <li key={n.href}>
                    <Link href={n.href} aria-current={current ? 'page' : undefined}>
                      <span className={styles.long}>{n.label}</span>
                      <span className={styles.short}>{n.short}</span>
                    </Link>
                  </li>
                );
              })}
            </ul>
          </nav>
          {me ? <UserMenu me={me} /> : null}
        </div>
      </header>
      <main id="main" tabIndex={-1} className={styles.main}>
        {error ? (
          <div className="stack">
            <ErrorAlert error={error} title="Could not load your account." />
            <div>
              <button type="button" className="btn" onClick={() => void load()}>
                Try again
              </button>
            </div>
          </div>
        ) : me ? (
          <MeContext.Provider value={me}>{children}</MeContext.Provider>
        ) : (
          <Loading />
        )}
      </main>
    </>
  );
}

function UserMenu({ me }: { me: Me }) {
  const [open, setOpen] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const ref = useRef<HTMLDivElement>(null);
  const buttonRef = useRef<HTMLButtonElement>(null);

  useEffect(() => {
    if (!open) return;
    const onDown = (e: MouseEvent) => {
      if (ref.current && !ref.current.contains(e.target as Node)) setOpen(false);
    };
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') {
        setOpen(false);
        buttonRef.current?.focus();
      }
    };
    document.addEventListener('mousedown', onDown);
    document.addEventListener('keydown', onKey);
    return () => {
      document.removeEventListener('mousedown', onDown);
      document.removeEventListener('keydown', onKey);
    };
  }, [open]);

  async function signOut() {
    setBusy(true);
    setError(null);
    try {
      await api('/auth/logout', { method: 'POST' });
      window.location.assign('/login');
    } catch (e) {
      setError(e);
      setBusy(false);
    }
  }

  const initials = (me.user.name || me.user.email).trim().slice(0, 1).toUpperCase();
  return (
    <div className={styles.user} ref={ref}>
      <button
        ref={buttonRef}
        type="button"
        className={styles.userButton}
        aria-expanded={open}
        aria-controls="user-menu"
        onClick={() => setOpen((o) => !o)}
      >
        <span className={styles.avatar} aria-hidden="true">
          {initials}
        </span>
        <span className={styles.userName}>{me.user.name}</span>
        <span className="visually-hidden">Account menu</span>
      </button>
      <div id="user-menu" className={styles.menu} hidden={!open}>
        <div className={styles.menuHead}>
          <strong>{me.user.name}</strong>
          <span className="muted" data-testid="me-email">
            {me.user.email}
          </span>
          {me.user.isAdmin ? <span className="badge badge-accent">instance admin</span> : null}
        </div>
        <Link href="/settings/tokens" className={styles.menuItem} onClick={() => setOpen(false)}>
          API tokens
        </Link>
        <button type="button" className={styles.menuItem} onClick={signOut} disabled={busy}>
          {busy ? 'Signing out…' : 'Sign out'}
        </button>
        {error ? <ErrorAlert error={error} /> : null}
      </div>
    </div>
  );
}
