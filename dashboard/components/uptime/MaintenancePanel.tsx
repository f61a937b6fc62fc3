'use client';
/**
 * Maintenance windows (upcoming and active): while one lasts, no incident opens (and no reminder is
 * sent) for what it covers. Plan one from a start time and a duration, for the whole project or for
 * some targets (by name, resolved to ids through the targets list) and services; end one early
 * (delete).
 */
import { type FormEvent, useCallback, useState } from 'react';
import { ConfirmButton } from '@/components/ConfirmButton';
import { ErrorAlert } from '@/components/ErrorAlert';
import { Loaded } from '@/components/Loaded';
import { api } from '@/lib/api';
import { formatDate } from '@/lib/format';
import { useAction, useResource } from '@/lib/hooks';
import styles from './uptime.module.css';

interface MaintenanceWindow {
  id: string;
  title: string;
  startsAt: string;
  endsAt: string;
  targetIds: string[];
  services: string[];
  wholeProject: boolean;
  state: 'upcoming' | 'active' | 'ended';
  createdBy: string | null;
}

const DURATIONS: [string, number][] = [
  ['30 min', 30],
  ['1 h', 60],
  ['2 h', 120],
  ['4 h', 240],
  ['8 h', 480],
  ['24 h', 1440],
];

/** `YYYY-MM-DDTHH:mm` in local time, for a datetime-local input. */
function localInput(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

export function MaintenancePanel({ projectId, canEdit }: { projectId: string; canEdit: boolean }) {
  const path = `/projects/${encodeURIComponent(projectId)}/maintenance`;
  const { data, error, reload } = useResource(
    useCallback(() => api<{ windows: MaintenanceWindow[] }>(path), [path]),
  );
  const [title, setTitle] = useState('');
  const [start, setStart] = useState(() => localInput(new Date()));
  const [minutes, setMinutes] = useState(60);
  const [targetNames, setTargetNames] = useState('');
  const [services, setServices] = useState('');
  const action = useAction();

  async function submit(e: FormEvent) {
    e.preventDefault();
    const startsAt = new Date(start);
    await action.run(async () => {
      const targetIds = await idsOf(projectId, splitList(targetNames));
      await api(path, {
        method: 'POST',
        body: {
          title: title.trim(),
          startsAt: startsAt.toISOString(),
          endsAt: new Date(startsAt.getTime() + minutes * 60_000).toISOString(),
          targetIds,
          services: splitList(services),
        },
      });
      setTitle('');
      setTargetNames('');
      setServices('');
      await reload();
    });
  }

  return (
    <section aria-labelledby="maintenance-title" className={`${styles.section} ${styles.spaced}`}>
      <h2 id="maintenance-title" className={styles.h2}>
        Maintenance windows
      </h2>
      <ErrorAlert error={error} title="Could not load the maintenance windows." />
      <Loaded items={data?.windows ?? null} error={error} empty="No maintenance planned.">
        {(windows) => (
          <div className="table-wrap">
            <table className="table" aria-label="Maintenance windows">
              <thead>
                <tr>
                  <th scope="col">Title</th>
                  <th scope="col">State</th>
                  <th scope="col">From</th>
                  <th scope="col">Until</th>
                  <th scope="col">Covers</th>
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {windows.map((w) => (
                  <tr key={w.id} data-window={w.title}>
                    <td>{w.title}</td>
                    <td>
                      <span
                        className={`${styles.badge} ${w.state === 'active' ? styles['badge-acknowledged'] : ''}`}
                      >
                        {w.state}
                      </span>
                    </td>
                    <td className="nowrap">{formatDate(w.startsAt)}</td>
                    <td className="nowrap">{formatDate(w.endsAt)}</td>
                    <td>
                      {w.wholeProject
                        ? 'the whole project'
                        : [
                            w.targetIds.length ? `${w.targetIds.length} target(s)` : '',
                            w.services.length ? `services ${w.services.join(', ')}` : '',
                          ]
                            .filter(Boolean)
                            .join(', ')}
                    </td>
                    <td className="actions">
                      {canEdit ? (
                        <ConfirmButton
                          label={w.state === 'active' ? 'End now' : 'Delete'}
                          onConfirm={async () => {
                            await action.run(async () => {
                              await api(`${path}/${w.id}`, { method: 'DELETE' });
                              await reload();
                            });
                          }}
                        />
                      ) : null}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Loaded>
      {canEdit ? (
        <form onSubmit={submit} aria-label="Plan maintenance" className={styles.addForm}>
          <div className="form-row">
            <div className="field">
              <label htmlFor="mw-title">Title</label>
              <input
                id="mw-title"
                className="input"
                required
                maxLength={200}
                value={title}
                onChange={(e) => setTitle(e.target.value)}
                placeholder="database upgrade"
              />
            </div>
            <div className="field">
              <label htmlFor="mw-start">Starts</label>
              <input
                id="mw-start"
                className="input"
                type="datetime-local"
                required
                value={start}
                onChange={(e) => setStart(e.target.value)}
              />
            </div>
            <div className="field">
              <label htmlFor="mw-duration">Lasts</label>
              <select
                id="mw-duration"
                className="select"
                value={minutes}
                onChange={(e) => setMinutes(Number(e.target.value))}
              >
                {DURATIONS.map(([label, m]) => (
                  <option key={m} value={m}>
                    {label}
                  </option>
                ))}
              </select>
            </div>
          </div>
          <div className="form-row">
            <div className="field">
              <label htmlFor="mw-targets">Targets</label>
              <input
                id="mw-targets"
                className="input"
                value={targetNames}
                onChange={(e) => setTargetNames(e.target.value)}
                placeholder="shop web, payments api"
              />
            </div>
            <div className="field">
              <label htmlFor="mw-services">Services</label>
              <input
                id="mw-services"
                className="input"
                value={services}
                onChange={(e) => setServices(e.target.value)}
                placeholder="checkout-api"
              />
            </div>
          </div>
          <p className="hint">
            Names separated by commas. Leave both empty to cover every target and service of the project.
          </p>
          <ErrorAlert error={action.error} title="Could not plan the window." />
          <div>
            <button type="submit" className="btn btn-sm" disabled={action.busy}>
              Plan maintenance
            </button>
          </div>
        </form>
      ) : null}
    </section>
  );
}

const splitList = (v: string) =>
  v
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);

/** Target ids by exact name (any environment); an unknown name is an error naming it. */
async function idsOf(projectId: string, names: string[]): Promise<string[]> {
  const ids: string[] = [];
  for (const name of names) {
    const { targets } = await api<{ targets: { id: string; name: string }[] }>(
      `/projects/${encodeURIComponent(projectId)}/targets`,
      { query: { q: name, limit: 100 } },
    );
    const found = targets.filter((t) => t.name === name);
    if (found.length === 0) throw new Error(`No target is named "${name}".`);
    ids.push(...found.map((t) => t.id));
  }
  return ids;
}
