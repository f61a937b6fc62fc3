'use client';
import { CopyButton } from './CopyButton';
import styles from './SecretOnce.module.css';

/** A newly created secret, shown this one time with a copy button (nothing while `secret` is null). */
export function SecretOnce({
  title,
  secret,
  onDone,
}: {
  title: string;
  secret: string | null;
  onDone: () => void;
}) {
  if (!secret) return null;
  return (
    <section className={`alert alert-success ${styles.box}`} aria-labelledby="secret-title">
      <h3 id="secret-title" className={styles.title}>
        {title}
      </h3>
      <p>Copy it now: it is shown only once and cannot be retrieved later.</p>
      <div className={styles.row}>
        <code className={styles.secret} data-testid="secret">
          {secret}
        </code>
        <CopyButton value={secret} />
      </div>
      <button type="button" className="btn btn-sm" onClick={onDone}>
        I have saved it
      </button>
    </section>
  );
}
