import type { ReactNode } from 'react';

/** The "Loading…" status line shown while a page or list loads. */
export function Loading() {
  return (
    <p className="muted" role="status">
      Loading…
    </p>
  );
}

/**
 * A loaded list: "Loading…" until it arrives (nothing when loading failed, the error alert says why),
 * then the `empty` note for no items, else `children(items)`.
 */
export function Loaded<T>({
  items,
  error,
  empty,
  children,
}: {
  items: T[] | null;
  error: unknown;
  empty?: string;
  children: (items: T[]) => ReactNode;
}) {
  if (items === null) return error ? null : <Loading />;
  if (items.length === 0 && empty !== undefined) return <p className="empty">{empty}</p>;
  return children(items);
}
