'use client';
/**
 * A Server-Sent Events subscription (same-origin, so the session cookie authenticates it). Messages of
 * one event type are parsed and handed over in batches a few times a second, so a busy stream costs one
 * render per batch, not one per message. Pausing closes the connection; resuming reopens it from the
 * last id received (`lastEventId`), so the server replays what was missed. A dropped connection, or
 * one the server ended with `event: error` (a consumer too slow, a failed replay), is reopened the same
 * way by this hook rather than by the browser: the browser's own retry sends only the last id seen on
 * that connection, which is none when it failed before its first message.
 */
import { useEffect, useRef, useState } from 'react';

export type StreamState = 'connecting' | 'live' | 'reconnecting' | 'paused';
const FLUSH_MS = 200;
const RETRY_MS = [1000, 2000, 5000, 10_000, 30_000];

export function useEventStream<T extends { id: string }>(
  url: string,
  event: string,
  enabled: boolean,
  onBatch: (items: T[]) => void,
) {
  const [state, setState] = useState<StreamState>(enabled ? 'connecting' : 'paused');
  const [notice, setNotice] = useState<string | null>(null);
  const [attempt, setAttempt] = useState(0);
  const failures = useRef(0);
  const lastId = useRef<{ url: string; id: string } | null>(null);
  const handler = useRef(onBatch);
  handler.current = onBatch;

  // biome-ignore lint/correctness/useExhaustiveDependencies: `attempt` only triggers a reconnect
  useEffect(() => {
    if (!enabled) {
      setState('paused');
      return;
    }
    const resumeFrom = lastId.current?.url === url ? lastId.current.id : null;
    if (!resumeFrom) lastId.current = null;
    const full = resumeFrom
      ? `${url}${url.includes('?') ? '&' : '?'}lastEventId=${encodeURIComponent(resumeFrom)}`
      : url;
    const es = new EventSource(full, { withCredentials: true });
    let buffer: T[] = [];
    setState(failures.current ? 'reconnecting' : 'connecting');
    if (!resumeFrom) setNotice(null);
    es.onopen = () => {
      failures.current = 0;
      setState('live');
    };
    es.addEventListener(event, (m) => {
      try {
        const item = JSON.parse((m as MessageEvent<string>).data) as T;
        buffer.push(item);
        lastId.current = { url, id: (m as MessageEvent).lastEventId || item.id };
      } catch {
        // a malformed message is skipped; the next one carries on
      }
    });
    let retry: ReturnType<typeof setTimeout> | undefined;
    es.addEventListener('error', (e) => {
      const data = (e as MessageEvent<string>).data;
      if (typeof data === 'string' && data.includes('consumer_too_slow'))
        setNotice('The stream fell behind; it resumed from the last item received.');
      else if (typeof data === 'string' && data.includes('replay'))
        setNotice('What arrived while paused could not be replayed at once; retrying.');
      es.close();
      setState('reconnecting');
      const wait = RETRY_MS[Math.min(failures.current++, RETRY_MS.length - 1)];
      retry = setTimeout(() => setAttempt((n) => n + 1), wait);
    });
    const flush = () => {
      if (buffer.length === 0) return;
      const batch = buffer;
      buffer = [];
      handler.current(batch);
    };
    const timer = setInterval(flush, FLUSH_MS);
    return () => {
      // What arrived is shown: the resume point (lastId) is already past it.
      flush();
      clearInterval(timer);
      clearTimeout(retry);
      es.close();
    };
  }, [url, event, enabled, attempt]);

  return { state, notice };
}
