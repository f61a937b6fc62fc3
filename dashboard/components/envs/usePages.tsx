'use client';
import { useCallback, useEffect, useState } from 'react';
import { useAction } from '@/lib/hooks';

/**
 * A list read in cursor pages (newest first): the first page on mount and whenever `page` changes,
 * `more()` appends the next one. `page` must be stable (useCallback) and answer the items and the
 * next cursor (null at the end).
 */
export function usePages<T>(page: (cursor?: string) => Promise<{ items: T[]; nextCursor: string | null }>) {
  const [items, setItems] = useState<T[] | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const { run, busy, error } = useAction();

  useEffect(() => {
    void run(async () => {
      const p = await page();
      setItems(p.items);
      setCursor(p.nextCursor);
    });
  }, [page, run]);

  const more = useCallback(
    () =>
      cursor
        ? run(async () => {
            const p = await page(cursor);
            setItems((prev) => [...(prev ?? []), ...p.items]);
            setCursor(p.nextCursor);
          })
        : Promise.resolve(false),
    [cursor, page, run],
  );

  return { items, hasMore: cursor !== null, more, busy, error };
}

/** The button under a paged list that reads the next page, while there is one. */
export function MoreButton({ pages, label }: { pages: ReturnType<typeof usePages>; label: string }) {
  if (!pages.hasMore) return null;
  return (
    <div>
      <button type="button" className="btn btn-sm" disabled={pages.busy} onClick={() => void pages.more()}>
        {label}
      </button>
    </div>
  );
}
