'use client';
import { ApiError } from '@/lib/api';

/** Shows an API error: its message, the validation details, and the request id to quote in a report. */
export function ErrorAlert({ error, title }: { error: unknown; title?: string }) {
  if (!error) return null;
  const e =
    error instanceof ApiError
      ? error
      : new ApiError(0, 'client_error', error instanceof Error ? error.message : String(error));
  const lines = e.code === 'validation_failed' ? e.detailLines : [];
  return (
    <div className="alert alert-error" role="alert">
      <p>
        {title ? <strong>{title} </strong> : null}
        {e.message}
        {e.code === 'rate_limited' && e.retryAfter ? ` Try again in ${e.retryAfter} s.` : null}
      </p>
      {lines.length > 0 ? (
        <ul>
          {lines.map((l) => (
            <li key={l}>{l}</li>
          ))}
        </ul>
      ) : null}
      {e.requestId ? <p className="request-id">Request id: {e.requestId}</p> : null}
    </div>
  );
}
