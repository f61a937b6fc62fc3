'use client';
/**
 * A GET that follows its inputs: `useQuery(path, query)` loads again whenever the path or any query
 * value changes (or `reloadKey` does), aborts the request it replaces so a slow old answer never
 * overwrites a newer one, and keeps the previous data on screen while the next one loads.
 */
import { useEffect, useState } from 'react';
import { api } from '@/lib/api';

type Query = Record<string, string | number | undefined>;

export function useQuery<T>(path: string | null, query: Query, reloadKey = 0) {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(false);
  const key = JSON.stringify([path, query, reloadKey]);

  // biome-ignore lint/correctness/useExhaustiveDependencies: `key` stands for path, query and reloadKey
  useEffect(() => {
    if (!path) return;
    const ctl = new AbortController();
    setLoading(true);
    api<T>(path, { query, signal: ctl.signal }).then(
      (d) => {
        setData(d);
        setError(null);
        setLoading(false);
      },
      (e: unknown) => {
        if (ctl.signal.aborted) return;
        setError(e);
        setLoading(false);
      },
    );
    return () => ctl.abort();
  }, [key]);

  return { data, error, loading };
}
