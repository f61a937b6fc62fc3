/** The peep mark and word. Decorative mark; the word carries the name. */
export function Logo({ className }: { className?: string }) {
  return (
    <span className={className} style={{ display: 'inline-flex', alignItems: 'center', gap: 8 }}>
      <svg width="22" height="22" viewBox="0 0 32 32" aria-hidden="true" focusable="false">
        <rect width="32" height="32" rx="8" fill="var(--accent)" />
        <circle cx="11.5" cy="16" r="5" fill="var(--bg)" />
        <circle cx="11.5" cy="16" r="2.2" fill="var(--accent)" />
        <circle cx="21.5" cy="16" r="5" fill="var(--bg)" />
        <circle cx="21.5" cy="16" r="2.2" fill="var(--accent)" />
      </svg>
      <span style={{ fontWeight: 700, fontSize: 17, letterSpacing: '-0.02em', color: 'var(--fg)' }}>
        peep
      </span>
    </span>
  );
}
