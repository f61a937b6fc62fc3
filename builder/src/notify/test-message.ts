/**
 * The message behind a channel's "send test" action: an example incident in the channel's project,
 * typed `test` so both renderers say it is a test and receivers can ignore it.
 */
import type { IncidentMessage, Instant } from './types.js';

export function testMessage(p: {
  project: { id: string; slug: string; name: string };
  environment?: string;
  /** Where the button leads: the project's page or the channel's settings. */
  url: string;
  sentAt: Instant;
}): IncidentMessage {
  const sent = p.sentAt instanceof Date ? p.sentAt.getTime() : Date.parse(p.sentAt);
  return {
    type: 'test',
    incident: {
      id: 'test',
      title: 'example.com is down (example)',
      kind: 'down',
      severity: 'critical',
      subject: { type: 'target', id: 'test', name: 'example.com' },
      project: p.project,
      environment: p.environment ?? 'prod',
      openedAt: new Date(sent - 3 * 60_000).toISOString(),
      numbers: { 'Failed checks': 3, 'Last status': 503, 'Last error': 'HTTP 503' },
      reason: 'Example: 3 checks in a row failed with HTTP 503.',
    },
    url: p.url,
    sentAt: p.sentAt,
  };
}
