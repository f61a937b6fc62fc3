'use client';
/**
 * A Server-Sent Events subscription (same-origin, so the session cookie authenticates it). Messages of
 * one event type are parsed and handed over in batches a few times a second, so a busy stream costs one
 * render per batch, not one per message. Pausing closes the connection; resuming reopens it from the
 * last id received (`lastEventId`), so the server replays what was missed. The browser itself resumes
 * with `Last-Event-ID` after a dropped connection, or after the server cut a consumer that fell behind.
 */
import { useEffect, useRef, useState } from 'react';

export type StreamState = 'connecting' | 'live' | 'reconnecting' | 'paused';
const FLUSH_MS = 200;

export function useEventStream<T extends { id: string }>(
  url: string,
  event: string,
  enabled: boolean,
  onBatch: (items: T[]) => void,
) {
  const [state, setState] = useState<StreamState>(enabled ? 'connecting' : 'paused');
  const [notice, setNotice] = useState<string | null>(null);
  const lastId = useRef<{ url: string; id: string } | null>(null);
  const handler = useRef(onBatch);
  handler.current = onBatch;

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
    setState('connecting');
    setNotice(null);
    es.onopen = () => setState('live');
    es.addEventListener(event, (m) => {
      try {
        const item = JSON.parse((m as MessageEvent<string>).data) as T;
        buffer.push(item);
        lastId.current = { url, id: (m as MessageEvent).lastEventId || item.id };
      } catch {
        // a malformed message is skipped; the next one carries on
      }
    });
    es.addEventListener('error', (e) => {
      const data = (e as MessageEvent<string>).data;
      if (typeof data === 'string' && data.includes('consumer_too_slow')) {
        setNotice('The stream fell behind; it resumed from the last request received.');
      }
      setState(es.readyState === EventSource.CLOSED ? 'paused' : 'reconnecting');
    });
    const timer = setInterval(() => {
      if (buffer.length === 0) return;
      const batch = buffer;
      buffer = [];
      handler.current(batch);
    }, FLUSH_MS);
    return () => {
      clearInterval(timer);
      es.close();
    };
  }, [url, event, enabled]);

  return { state, notice };
}
