'use client';
/**
 * Notification channels: the list (name, kind, masked URL, enabled, resolution messages, reminder,
 * last delivery), adding a Slack incoming webhook or a signed webhook (peep generates the signing
 * secret and shows it once), enable or disable, resolution and reminder settings, delete, "Send test" with the delivery result and its attempts, and each channel's
 * delivery log. Admins manage channels; developers see the list and the deliveries (the API shows
 * viewers none).
 */
import { type FormEvent, Fragment, useCallback, useState } from 'react';
import { ConfirmButton } from '@/components/ConfirmButton';
import { ErrorAlert } from '@/components/ErrorAlert';
import { Loaded } from '@/components/Loaded';
import { SecretOnce } from '@/components/SecretOnce';
import { api } from '@/lib/api';
import { formatDate } from '@/lib/format';
import { useAction, useResource } from '@/lib/hooks';
import { type Channel, type ChannelKind, type Delivery, type DeliveryLog, fmtDuration } from '@/lib/uptime';
import styles from './uptime.module.css';

type ChannelEdit = Partial<Pick<Channel, 'enabled' | 'notifyResolved' | 'reminderMinutes'>>;

export function ChannelsPanel({ projectId, canManage }: { projectId: string; canManage: boolean }) {
  const base = `/projects/${encodeURIComponent(projectId)}/channels`;
  const { data, error, reload } = useResource(useCallback(() => api<{ channels: Channel[] }>(base), [base]));
  const action = useAction<string>();
  const [tests, setTests] = useState<Record<string, DeliveryLog>>({});
  const [open, setOpen] = useState<string | null>(null);
  const [edits, setEdits] = useState<Record<string, ChannelEdit>>({});

  async function test(c: Channel) {
    await action.run(
      async () => {
        const log = await api<DeliveryLog>(`${base}/${c.id}/test`, { method: 'POST' });
        setTests((prev) => ({ ...prev, [c.id]: log }));
        await reload();
      },
      { busy: `test-${c.id}` },
    );
  }

  /** A change shows at once (the control does not jump back while the request runs), then the server's. */
  async function patch(c: Channel, body: ChannelEdit) {
    setEdits((prev) => ({ ...prev, [c.id]: { ...prev[c.id], ...body } }));
    await action.run(async () => {
      await api(`${base}/${c.id}`, { method: 'PATCH', body });
      await reload();
    });
    setEdits((prev) => {
      const { [c.id]: _, ...rest } = prev;
      return rest;
    });
  }

  async function remove(c: Channel) {
    await action.run(async () => {
      await api(`${base}/${c.id}`, { method: 'DELETE' });
      await reload();
    });
  }

  return (
    <section aria-labelledby="channels-title" className={styles.section}>
      <h2 id="channels-title" className={styles.h2}>
        Notification channels
      </h2>
      <p className="hint">
        Every enabled channel gets a message when an incident opens, is acknowledged and resolves. Webhook
        requests are signed (docs/webhooks.md).
      </p>
      <ErrorAlert error={error} title="Could not load the channels." />
      <ErrorAlert error={action.error} />
      <Loaded items={data?.channels ?? null} error={error} empty="No channel yet.">
        {(channels) => (
          <div className="table-wrap">
            <table className="table" aria-label="Channels">
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Kind</th>
                  <th scope="col">URL</th>
                  <th scope="col">Enabled</th>
                  <th scope="col">Resolved</th>
                  <th scope="col">Reminder</th>
                  <th scope="col">Last delivery</th>
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {channels.map((stored) => {
                  const c = { ...stored, ...edits[stored.id] };
                  const t = tests[c.id];
                  return (
                    <Fragment key={c.id}>
                      <tr data-channel={c.name}>
                        <td>{c.name}</td>
                        <td>
                          <span className="badge">{c.kind}</span>
                        </td>
                        <td className="mono">{c.urlHint}</td>
                        <td>{c.enabled ? 'yes' : 'no'}</td>
                        <td className="nowrap">
                          {canManage ? (
                            <label>
                              <input
                                type="checkbox"
                                checked={c.notifyResolved}
                                aria-label={`Notify ${c.name} when resolved`}
                                onChange={(e) => patch(c, { notifyResolved: e.target.checked })}
                              />{' '}
                              notify
                            </label>
                          ) : c.notifyResolved ? (
                            'notify'
                          ) : (
                            'no'
                          )}
                        </td>
                        <td className="nowrap">
                          {canManage ? (
                            <ReminderSelect
                              label={`Reminder for ${c.name}`}
                              value={c.reminderMinutes}
                              onChange={(m) => patch(c, { reminderMinutes: m })}
                            />
                          ) : (
                            reminderLabel(c.reminderMinutes)
                          )}
                        </td>
                        <td className="nowrap">
                          {c.lastDelivery
                            ? `${c.lastDelivery.type} · ${c.lastDelivery.status} · ${formatDate(c.lastDelivery.at)}`
                            : '—'}
                        </td>
                        <td className="actions">
                          <span className={styles.rowActions}>
                            {canManage ? (
                              <button
                                type="button"
                                className="btn btn-sm"
                                disabled={action.pending === `test-${c.id}`}
                                onClick={() => test(c)}
                              >
                                {action.pending === `test-${c.id}` ? 'Sending…' : 'Send test'}
                              </button>
                            ) : null}
                            <button
                              type="button"
                              className="btn btn-sm"
                              aria-expanded={open === c.id}
                              onClick={() => setOpen(open === c.id ? null : c.id)}
                            >
                              Deliveries
                            </button>
                            {canManage ? (
                              <>
                                <button
                                  type="button"
                                  className="btn btn-sm"
                                  onClick={() => patch(c, { enabled: !c.enabled })}
                                >
                                  {c.enabled ? 'Disable' : 'Enable'}
                                </button>
                                <ConfirmButton label="Delete" onConfirm={() => remove(c)} />
                              </>
                            ) : null}
                          </span>
                        </td>
                      </tr>
                      {t ? (
                        <tr>
                          <td colSpan={8}>
                            <TestResult log={t} />
                          </td>
                        </tr>
                      ) : null}
                      {open === c.id ? (
                        <tr>
                          <td colSpan={8}>
                            <DeliveriesLog
                              path={`${base}/${c.id}/deliveries`}
                              reloadKey={t?.deliveryId ?? ''}
                            />
                          </td>
                        </tr>
                      ) : null}
                    </Fragment>
                  );
                })}
              </tbody>
            </table>
          </div>
        )}
      </Loaded>
      {canManage ? <AddChannelForm base={base} onCreated={reload} /> : null}
    </section>
  );
}

function TestResult({ log }: { log: DeliveryLog }) {
  return (
    <div
      className={`alert ${log.ok ? 'alert-success' : 'alert-error'}`}
      role="status"
      data-testid="test-result"
      data-ok={log.ok}
    >
      <p>
        <strong>Test message {log.result}.</strong> {log.error ?? ''}
      </p>
      <ul>
        {log.attempts.map((a) => (
          <li key={a.n}>
            Attempt {a.n}: {a.status ? `HTTP ${a.status}` : (a.errorClass ?? 'no answer')} in{' '}
            {fmtDuration(a.durationMs)}
            {a.error ? ` — ${a.error}` : ''}
          </li>
        ))}
      </ul>
    </div>
  );
}

/** Each attempt on a line: when, how long, the answer or the error. */
function attemptsTitle(d: Delivery): string {
  return d.attempts
    .map((a) =>
      `#${a.n} ${formatDate(a.at)} ${fmtDuration(a.durationMs)} ${a.status ?? ''} ${a.errorClass ?? ''} ${a.error ?? ''}`.trim(),
    )
    .join('\n');
}

function DeliveriesLog({ path, reloadKey }: { path: string; reloadKey: string }) {
  const { data, error } = useResource(
    // biome-ignore lint/correctness/useExhaustiveDependencies: reloadKey reloads after a test
    useCallback(() => api<{ deliveries: Delivery[] }>(path, { query: { limit: 20 } }), [path, reloadKey]),
  );
  return (
    <div className={styles.deliveries}>
      <ErrorAlert error={error} title="Could not load the deliveries." />
      <Loaded items={data?.deliveries ?? null} error={error} empty="Nothing sent yet.">
        {(items) => (
          <table className="table" aria-label="Deliveries">
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Type</th>
                <th scope="col">Status</th>
                <th scope="col">Attempts</th>
                <th scope="col">Finished</th>
                <th scope="col">Error</th>
              </tr>
            </thead>
            <tbody>
              {items.map((d) => (
                <tr key={d.id}>
                  <td className="nowrap">{formatDate(d.createdAt)}</td>
                  <td>{d.type}</td>
                  <td>{d.status}</td>
                  <td className="mono" title={attemptsTitle(d)}>
                    {d.attempts.length
                      ? d.attempts.map((a) => a.status ?? a.errorClass ?? 'error').join(' → ')
                      : '—'}
                  </td>
                  <td className="nowrap">{d.finishedAt ? formatDate(d.finishedAt) : '—'}</td>
                  <td>{d.error ?? ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Loaded>
    </div>
  );
}

function AddChannelForm({ base, onCreated }: { base: string; onCreated: () => Promise<void> }) {
  const [name, setName] = useState('');
  const [kind, setKind] = useState<ChannelKind>('slack');
  const [url, setUrl] = useState('');
  const [notifyResolved, setNotifyResolved] = useState(true);
  const [reminder, setReminder] = useState<number | null>(null);
  const [secret, setSecret] = useState<string | null>(null);
  const { run, busy, error } = useAction();

  async function submit(e: FormEvent) {
    e.preventDefault();
    await run(async () => {
      const res = await api<{ channel: Channel; secret?: string }>(base, {
        method: 'POST',
        body: { name: name.trim(), kind, url: url.trim(), notifyResolved, reminderMinutes: reminder },
      });
      setSecret(res.secret ?? null);
      setName('');
      setUrl('');
      await onCreated();
    });
  }

  return (
    <div className={`${styles.section} ${styles.spaced}`}>
      <h3 className={styles.h3}>Add a channel</h3>
      <SecretOnce title="Webhook signing secret" secret={secret} onDone={() => setSecret(null)} />
      <form onSubmit={submit} aria-label="Add channel" className={styles.addForm}>
        <div className="form-row">
          <div className="field">
            <label htmlFor="channel-kind">Kind</label>
            <select
              id="channel-kind"
              className="select"
              value={kind}
              onChange={(e) => setKind(e.target.value as ChannelKind)}
            >
              <option value="slack">Slack</option>
              <option value="webhook">Webhook</option>
            </select>
          </div>
          <div className="field">
            <label htmlFor="channel-name">Name</label>
            <input
              id="channel-name"
              className="input"
              required
              maxLength={100}
              value={name}
              onChange={(e) => setName(e.target.value)}
              placeholder="#ops"
            />
          </div>
          <div className="field">
            <label htmlFor="channel-url">
              {kind === 'slack' ? 'Slack incoming webhook URL' : 'Webhook URL'}
            </label>
            <input
              id="channel-url"
              className="input"
              type="url"
              required
              value={url}
              onChange={(e) => setUrl(e.target.value)}
              placeholder={
                kind === 'slack' ? 'https://hooks.slack.com/services/…' : 'https://example.com/peep'
              }
            />
          </div>
        </div>
        <div className="form-row">
          <div className="field">
            <span className="label">Resolution</span>
            <label>
              <input
                type="checkbox"
                checked={notifyResolved}
                onChange={(e) => setNotifyResolved(e.target.checked)}
              />{' '}
              also notify when an incident resolves
            </label>
          </div>
          <div className="field">
            <label htmlFor="channel-reminder">Remind while open</label>
            <ReminderSelect id="channel-reminder" value={reminder} onChange={setReminder} />
          </div>
        </div>
        <p className="hint">
          The URL is stored encrypted and never shown again
          {kind === 'webhook' ? '; peep generates a signing secret and shows it once' : ''}.
        </p>
        <ErrorAlert error={error} title="Could not add the channel." />
        <div>
          <button type="submit" className="btn btn-primary" disabled={busy}>
            {busy ? 'Adding…' : 'Add channel'}
          </button>
        </div>
      </form>
    </div>
  );
}

const REMINDERS: [string, number | null][] = [
  ['never', null],
  ['15 min', 15],
  ['30 min', 30],
  ['1 h', 60],
  ['4 h', 240],
  ['1 d', 1440],
];

function reminderLabel(m: number | null): string {
  return REMINDERS.find(([, v]) => v === m)?.[0] ?? `${m} min`;
}

/** Reminders while an incident stays open (the API takes 5 min to 7 d, or null for never). */
function ReminderSelect({
  id,
  label,
  value,
  onChange,
}: {
  id?: string;
  label?: string;
  value: number | null;
  onChange: (m: number | null) => void;
}) {
  const known = REMINDERS.some(([, v]) => v === value);
  return (
    <select
      id={id}
      aria-label={label}
      className={`select ${styles.inlineSelect}`}
      value={value === null ? '' : String(value)}
      onChange={(e) => onChange(e.target.value === '' ? null : Number(e.target.value))}
    >
      {REMINDERS.map(([l, v]) => (
        <option key={l} value={v === null ? '' : String(v)}>
          {l}
        </option>
      ))}
      {known ? null : <option value={String(value)}>{reminderLabel(value)}</option>}
    </select>
  );
}
