import type { Metadata } from 'next';
import Link from 'next/link';
import { CopyButton } from '@/components/CopyButton';
import { Logo } from '@/components/Logo';
import { FadeIn, MotionRoot, Reveal } from '@/components/landing/Motion';
import styles from './landing.module.css';

export const metadata: Metadata = { title: { absolute: 'peep: the control plane you run yourself' } };
export const dynamic = 'force-static';

const DOCS_URL = 'https://github.com/peep-dev/peep#readme';
const START_COMMANDS = 'npm install && npm start';

const PILLARS = [
  {
    title: 'Runtime observability',
    body: 'Request rates, latency percentiles, errors and structured logs from every service, streamed in by a small SDK and kept on your own disk.',
    points: ['p50/p95/p99 from mergeable sketches', 'Logs with request ids', 'Probes for /health and /ready'],
  },
  {
    title: 'Deployment automation',
    body: 'Build, ship and roll back from one place. Every deploy is recorded with who started it, what changed and how it went.',
    points: ['Build and deploy pipeline', 'Ordered environments: dev → staging → prod', 'One-click rollback'],
  },
  {
    title: 'Environment policy',
    body: 'Decide who may do what, where. Roles per project, scoped tokens and an audit trail of every change and sign-in.',
    points: [
      'Owner, admin, developer, viewer roles',
      'Scoped personal and CLI tokens',
      'Audit log with filters',
    ],
  },
] as const;

const STEPS = [
  {
    title: 'Start it',
    body: 'Clone the repository and start the embedded stack: API, dashboard and workers in one process, with an embedded database. No containers needed.',
    code: START_COMMANDS,
  },
  {
    title: 'Create the owner',
    body: 'peep prints a one-time setup link in the terminal. Open it, choose your name and a password, and you are in.',
    code: 'http://localhost:7070/setup?token=…',
  },
  {
    title: 'Sign in from the CLI',
    body: 'Run peep login: it shows a short code, you approve it in the browser, and the CLI receives its own revocable token.',
    code: 'peep login',
  },
] as const;

const FAQ = [
  {
    q: 'Does peep need Docker, Kubernetes or a database server?',
    a: 'No. `peep up` runs everything in one Node.js process with an embedded PostgreSQL-compatible database in a data directory. When you outgrow it, point it at a PostgreSQL server and run the parts separately on Kubernetes.',
  },
  {
    q: 'Where is my data stored?',
    a: 'On your machine or your cluster only: by default in the ./.peep data directory. Nothing is sent to a third party.',
  },
  {
    q: 'How does the CLI sign in without copying passwords?',
    a: 'With the OAuth device authorization grant (RFC 8628): the CLI shows a code, you approve it in the dashboard while signed in, and the CLI gets a token you can revoke at any time.',
  },
  {
    q: 'Which Node.js version do I need?',
    a: 'Node.js 20.9 or newer.',
  },
  {
    q: 'Is it free?',
    a: 'peep is open source and self-hosted. Run it wherever you like.',
  },
] as const;

export default function LandingPage() {
  return (
    <MotionRoot>
      <a href="#main" className="skip-link">
        Skip to content
      </a>
      <header className={styles.header}>
        <div className={styles.headerInner}>
          <Link href="/" className={styles.brand} aria-label="peep home">
            <Logo />
          </Link>
          <nav aria-label="Main" className={styles.nav}>
            <ul className={styles.navList}>
              <li className={styles.navSecondary}>
                <a href="#pillars">Product</a>
              </li>
              <li className={styles.navSecondary}>
                <a href="#how">How it works</a>
              </li>
              <li className={styles.navSecondary}>
                <a href="#faq">FAQ</a>
              </li>
              <li>
                <Link href="/login">Sign in</Link>
              </li>
              <li>
                <Link href="/projects" className="btn btn-primary">
                  Dashboard
                </Link>
              </li>
            </ul>
          </nav>
        </div>
      </header>

      <main id="main" tabIndex={-1} className={styles.main}>
        <section className={styles.hero} aria-labelledby="hero-title">
          <FadeIn className={styles.heroText}>
            <p className={styles.eyebrow}>Self-hosted control plane</p>
            <h1 id="hero-title" className={styles.heroTitle}>
              See, ship and govern your services from one place you run yourself
            </h1>
            <p className={styles.lead}>
              peep brings runtime observability, deployment automation and environment policy together in a
              single process. Start it on your laptop in a minute; move it to Kubernetes when you are ready.
            </p>
            <CallsToAction />
          </FadeIn>
          <FadeIn delay={0.12} className={styles.heroArt}>
            {/* biome-ignore lint/performance/noImgElement: a static SVG needs no optimisation */}
            <img
              src="/hero.svg"
              width={560}
              height={380}
              alt="The peep dashboard: p95 latency, error rate and deploys today above a request-rate chart marked with a deploy."
            />
          </FadeIn>
        </section>

        <section id="pillars" className={styles.section} aria-labelledby="pillars-title">
          <Reveal>
            <h2 id="pillars-title" className={styles.sectionTitle}>
              Three pillars, one plane
            </h2>
            <p className={styles.sectionLead}>Everything an operator needs after the code is written.</p>
          </Reveal>
          <ul className={styles.pillars}>
            {PILLARS.map((p, i) => (
              <li key={p.title}>
                <Reveal delay={i * 0.08} className={styles.pillar}>
                  <h3 className={styles.pillarTitle}>{p.title}</h3>
                  <p>{p.body}</p>
                  <ul className={styles.points}>
                    {p.points.map((pt) => (
                      <li key={pt}>{pt}</li>
                    ))}
                  </ul>
                </Reveal>
              </li>
            ))}
          </ul>
        </section>

        <section id="how" className={`${styles.section} ${styles.alt}`} aria-labelledby="how-title">
          <Reveal>
            <h2 id="how-title" className={styles.sectionTitle}>
              How it works
            </h2>
            <p className={styles.sectionLead}>From clone to a signed-in CLI in three steps.</p>
          </Reveal>
          <ol className={styles.steps}>
            {STEPS.map((s, i) => (
              <li key={s.title}>
                <Reveal delay={i * 0.08} className={styles.step}>
                  <span className={styles.stepNo} aria-hidden="true">
                    {i + 1}
                  </span>
                  <h3 className={styles.stepTitle}>{s.title}</h3>
                  <p>{s.body}</p>
                  <pre className={styles.code}>
                    <code>{s.code}</code>
                  </pre>
                </Reveal>
              </li>
            ))}
          </ol>
        </section>

        <section id="start" className={styles.section} aria-labelledby="start-title">
          <Reveal className={styles.start}>
            <div>
              <h2 id="start-title" className={styles.sectionTitle}>
                Start embedded
              </h2>
              <p className={styles.sectionLead}>
                One process, one port (7070), one data directory. Needs Node.js 20.9 or newer.
              </p>
            </div>
            <div className={styles.terminal}>
              <pre className={styles.code}>
                <code>
                  git clone https://github.com/peep-dev/peep{'\n'}cd peep{'\n'}
                  {START_COMMANDS}
                </code>
              </pre>
              <CopyButton
                value={`git clone https://github.com/peep-dev/peep\ncd peep\n${START_COMMANDS}`}
                label="Copy commands"
              />
            </div>
          </Reveal>
        </section>

        <section id="faq" className={`${styles.section} ${styles.alt}`} aria-labelledby="faq-title">
          <Reveal>
            <h2 id="faq-title" className={styles.sectionTitle}>
              Questions
            </h2>
          </Reveal>
          <div className={styles.faq}>
            {FAQ.map((f) => (
              <details key={f.q} className={styles.faqItem}>
                <summary>{f.q}</summary>
                <p>{f.a}</p>
              </details>
            ))}
          </div>
        </section>

        <section className={styles.section} aria-labelledby="cta-title">
          <Reveal className={styles.finalCta}>
            <h2 id="cta-title" className={styles.sectionTitle}>
              Run your own control plane today
            </h2>
            <CallsToAction />
          </Reveal>
        </section>
      </main>

      <footer className={styles.footer}>
        <div className={styles.footerInner}>
          <Logo />
          <p className="muted">Self-hostable control plane. Open source.</p>
          <nav aria-label="Footer">
            <ul className={styles.navList}>
              <li>
                <a href={DOCS_URL} rel="noopener noreferrer">
                  Documentation
                </a>
              </li>
              <li>
                <Link href="/login">Sign in</Link>
              </li>
            </ul>
          </nav>
        </div>
      </footer>
    </MotionRoot>
  );
}

/** The two calls to action, in the hero and again at the end of the page. */
function CallsToAction() {
  return (
    <div className={styles.ctas}>
      <a href="#start" className="btn btn-primary btn-lg">
        Start embedded
      </a>
      <a href={DOCS_URL} className="btn btn-lg" rel="noopener noreferrer">
        Read the docs
      </a>
    </div>
  );
}
