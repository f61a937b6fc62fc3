/**
 * Channel URLs for API responses and logs. A Slack incoming-webhook URL is a bearer secret in its
 * path (`/services/T…/B…/<token>`), and generic webhook URLs often carry tokens in the path or
 * query, so only the scheme, host, port and the start of the path are shown:
 *
 *   https://hooks.slack.com/services/T0ABCDEF/B0ABCDEF/xyz  ->  https://hooks.slack.com/services/T0…••••
 *   https://example.com/in/abcdefgh                         ->  https://example.com/in/ab…••••
 *   https://example.com/hook?token=abc                      ->  https://example.com/ho…••••
 *
 * Kept: the first path segment when more path follows it, plus two characters; never more than
 * MASK_KEEP characters nor half of the path and query, so a short secret shows little. User info
 * (`user:pass@`) is dropped. An unparseable URL is `••••`.
 */
export const MASK_KEEP = 12;
const MASK = '…••••';

export function maskUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return '••••';
  }
  const origin = `${u.protocol}//${u.host}`;
  const rest = `${u.pathname === '/' ? '' : u.pathname}${u.search}${u.hash}`;
  if (rest === '') return origin;
  const head = /^\/[^/?#]*\//.exec(rest)?.[0].length ?? 1;
  return `${origin}${rest.slice(0, Math.min(MASK_KEEP, Math.floor(rest.length / 2), head + 2))}${MASK}`;
}
