'use client';
import { useCallback, useEffect, useState } from 'react';

export interface RunOptions<Tag extends string> {
  /**
   * What `busy` shows while the action runs: `true` (the default), a tag such as `'rename'` (read it
   * back from `pending` when one form has several actions), or `false` to leave `busy` alone (quick
   * row actions such as Delete, which have their own confirm button).
   */
  busy?: Tag | boolean;
  /** Leave `busy` on after success: the action navigates away, so the button stays disabled. */
  keepBusy?: boolean;
  /** Called after the error is stored, for screens that react to a failure (e.g. go back a step). */
  onError?: (err: unknown) => void;
}

/**
 * One async action at a time with its busy flag and error: `run(fn)` clears the error, marks busy,
 * awaits `fn`, stores what it throws and unmarks busy. Resolves true when `fn` succeeded.
 */
export function useAction<Tag extends string = never>() {
  const [pending, setPending] = useState<Tag | true | null>(null);
  const [error, setError] = useState<unknown>(null);

  const run = useCallback(
    async (fn: () => Promise<unknown>, opts: RunOptions<Tag> = {}): Promise<boolean> => {
      const mark = opts.busy ?? true;
      if (mark !== false) setPending(mark);
      setError(null);
      try {
        await fn();
        if (mark !== false && !opts.keepBusy) setPending(null);
        return true;
      } catch (err) {
        setError(err);
        opts.onError?.(err);
        if (mark !== false) setPending(null);
        return false;
      }
    },
    [],
  );

  return { run, busy: pending !== null, pending, error, setError };
}

/**
 * Data loaded on mount (and again when `loader` changes or `reload()` is called); `data` is null until
 * the first load succeeds. `loader` must be stable (module-level or `useCallback`). Load errors go to
 * `error` (cleared by the next successful load), or to `onError` when the screen shows one error for
 * loading and actions alike.
 */
export function useResource<T>(loader: () => Promise<T>, onError?: (err: unknown) => void) {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<unknown>(null);

  const reload = useCallback(async () => {
    try {
      setData(await loader());
      if (!onError) setError(null);
    } catch (err) {
      (onError ?? setError)(err);
    }
  }, [loader, onError]);
  useEffect(() => {
    void reload();
  }, [reload]);

  return { data, error, reload };
}
