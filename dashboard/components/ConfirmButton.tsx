'use client';
import { useEffect, useRef, useState } from 'react';

/** A destructive action in two clicks: "Revoke" then "Confirm revoke" (or Cancel), no modal. */
export function ConfirmButton({
  label,
  confirmLabel,
  onConfirm,
  disabled,
  describedBy,
}: {
  label: string;
  confirmLabel?: string;
  onConfirm: () => Promise<void> | void;
  disabled?: boolean;
  describedBy?: string;
}) {
  const [asking, setAsking] = useState(false);
  const [busy, setBusy] = useState(false);
  const confirmRef = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    if (asking) confirmRef.current?.focus();
  }, [asking]);
  if (!asking) {
    return (
      <button
        type="button"
        className="btn btn-sm btn-danger"
        disabled={disabled}
        aria-describedby={describedBy}
        onClick={() => setAsking(true)}
      >
        {label}
      </button>
    );
  }
  return (
    <span style={{ display: 'inline-flex', gap: 6 }}>
      <button
        ref={confirmRef}
        type="button"
        className="btn btn-sm btn-danger"
        disabled={busy}
        aria-describedby={describedBy}
        onClick={async () => {
          setBusy(true);
          try {
            await onConfirm();
          } finally {
            setBusy(false);
            setAsking(false);
          }
        }}
      >
        {busy ? 'Working…' : (confirmLabel ?? `Confirm ${label.toLowerCase()}`)}
      </button>
      <button type="button" className="btn btn-sm" onClick={() => setAsking(false)} disabled={busy}>
        Cancel
      </button>
    </span>
  );
}
