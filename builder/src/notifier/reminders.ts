/**
 * Reminders: while an incident stays open (not acknowledged, not resolved), each enabled channel
 * with `reminder_minutes` gets a `reminder` delivery once its last opened-or-reminder delivery for
 * that incident (or the opening itself, for a channel that never got one) is that many minutes old.
 * Acknowledging stops reminders: it says someone is on it.
 *
 * The outbox rows are the record, so reminders survive restarts and are per channel. One pass runs
 * under a transaction-scoped advisory lock, so two builder replicas never enqueue the same reminder.
 * A reminder repeats the incident's newest message (same link and numbers as first sent) with type
 * `reminder` and the time of sending; an incident without any earlier message gets one built from
 * its row.
 */
import type { Bus, Clock, Db } from '@peep/pkg';
import type { IncidentMessage } from '../notify/types.js';
import { NOTIFY_WAKE, notifierRepo } from './repo.js';

/** pg_advisory_xact_lock key of the reminder pass (any constant, fixed for all peep versions). */
const REMINDER_LOCK = 0x70656570_01;

export interface ReminderOptions {
  db: Db;
  bus: Bus;
  clock: Clock;
  /** The dashboard's base URL for messages built from scratch; default none (a relative link). */
  baseUrl?: string;
  /** Most reminders enqueued per pass; default 500. */
  limit?: number;
}

/** Enqueues due reminders; returns how many. */
export async function enqueueReminders(o: ReminderOptions): Promise<number> {
  const now = o.clock.now();
  const n = await o.db.transaction(async (tx) => {
    const { rows } = await tx.query<{ locked: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS locked', [
      REMINDER_LOCK,
    ]);
    if (!rows[0]?.locked) return 0;
    const due = await notifierRepo.dueReminders(tx, now, o.limit ?? 500);
    if (due.length === 0) return 0;
    const ids = [...new Set(due.map((d) => d.incident_id))];
    const last = await notifierRepo.lastMessages(tx, ids);
    const missing = ids.filter((id) => !last.has(id));
    for (const i of await notifierRepo.incidentsForMessage(tx, missing)) {
      last.set(i.id, {
        type: 'reminder',
        incident: {
          id: i.id,
          title: i.title,
          kind: i.kind,
          subject: { type: i.subject_type, id: i.subject_id, name: i.subject_name },
          project: { id: i.project_id, slug: i.project_slug, name: i.project_name },
          environment: i.environment,
          openedAt: new Date(i.opened_at).toISOString(),
          numbers: i.numbers ?? {},
          reason: i.reason,
        },
        url: `${(o.baseUrl ?? '').replace(/\/+$/, '')}/projects/${i.project_id}/uptime/incidents/${i.number}`,
        sentAt: now.toISOString(),
      });
    }
    let count = 0;
    for (const d of due) {
      const base = last.get(d.incident_id);
      if (!base) continue; // the incident went away meanwhile
      const message: IncidentMessage = { ...base, type: 'reminder', sentAt: now.toISOString() };
      await notifierRepo.enqueue(tx, {
        channelId: d.channel_id,
        projectId: d.project_id,
        incidentId: d.incident_id,
        type: 'reminder',
        message,
        at: now,
      });
      count++;
    }
    return count;
  });
  if (n > 0) o.bus.publish(NOTIFY_WAKE, { reason: 'reminder', count: n });
  return n;
}
