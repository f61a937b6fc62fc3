import Link from 'next/link';
import { Logo } from '@/components/Logo';

export default function NotFound() {
  return (
    <main id="main" style={{ maxWidth: 480, margin: '0 auto', padding: '96px 20px', textAlign: 'center' }}>
      <Link href="/" aria-label="peep home" style={{ textDecoration: 'none' }}>
        <Logo />
      </Link>
      <h1 style={{ marginTop: 24, fontSize: 24 }}>Page not found</h1>
      <p className="muted">There is nothing at this address.</p>
      <p>
        <Link href="/projects">Go to your projects</Link> or <Link href="/">the home page</Link>.
      </p>
    </main>
  );
}
