'use client';
/**
 * Notification channels: the list (name, kind, masked URL, enabled, last delivery), adding a Slack
 * incoming webhook or a signed webhook (peep generates the signing secret and shows it once), enable
 * or disable, delete, "Send test" with the delivery result and its attempts, and each channel's
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

export function ChannelsPanel({ projectId, canManage }: { projectId: string; canManage: boolean }) {
  const base = `/projects/${encodeURIComponent(projectId)}/channels`;
  const { data, error, reload } = useResource(useCallback(() => api<{ channels: Channel[] }>(base), [base]));
  const action = useAction<string>();
  const [tests, setTests] = useState<Record<string, DeliveryLog>>({});
  const [open, setOpen] = useState<string | null>(null);

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

  async function toggle(c: Channel) {
    await action.run(async () => {
      await api(`${base}/${c.id}`, { method: 'PATCH', body: { enabled: !c.enabled } });
      await reload();
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
                  <th scope="col">Last delivery</th>
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {channels.map((c) => {
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
                                <button type="button" className="btn btn-sm" onClick={() => toggle(c)}>
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
                          <td colSpan={6}>
                            <TestResult log={t} />
                          </td>
                        </tr>
                      ) : null}
                      {open === c.id ? (
                        <tr>
                          <td colSpan={6}>
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
                <th scope="col">Error</th>
              </tr>
            </thead>
            <tbody>
              {items.map((d) => (
                <tr key={d.id}>
                  <td className="nowrap">{formatDate(d.createdAt)}</td>
                  <td>{d.type}</td>
                  <td>{d.status}</td>
                  <td>{d.attempts.length}</td>
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
  const [secret, setSecret] = useState<string | null>(null);
  const { run, busy, error } = useAction();

  async function submit(e: FormEvent) {
    e.preventDefault();
    await run(async () => {
      const res = await api<{ channel: Channel; secret?: string }>(base, {
        method: 'POST',
        body: { name: name.trim(), kind, url: url.trim() },
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
