/**
 * The one place a process chooses its bus: NATS when PEEP_NATS_URL is set (several replicas), the
 * in-process bus otherwise. The NATS client is loaded only then, so `peep up` does not pay for it.
 * Start-up waits a few seconds for a first NATS connection and then goes on without it: the bus
 * connects in the background and the API serves meanwhile (live streams resume once connected).
 */
import { type Bus, createMemoryBus } from './bus.js';
import type { Config } from './config.js';
import type { Logger } from './log.js';

export async function createBus(
  config: Pick<Config, 'natsUrl'>,
  log: Logger,
  opts: { waitMs?: number } = {},
): Promise<Bus> {
  const onHandlerError = (err: unknown, subject: string) => log.error({ err, subject }, 'bus handler failed');
  if (!config.natsUrl) return createMemoryBus(onHandlerError);
  const { createNatsBus } = await import('./bus-nats.js');
  const bus = createNatsBus({ url: config.natsUrl, log: log.child({ component: 'bus' }), onHandlerError });
  const waitMs = opts.waitMs ?? 5_000;
  let timer: NodeJS.Timeout | undefined;
  const ready = await Promise.race([
    bus.flush().then(() => true),
    new Promise<boolean>((r) => {
      timer = setTimeout(() => r(false), waitMs);
    }),
  ]);
  clearTimeout(timer);
  if (!ready) log.warn({ waitedMs: waitMs }, 'starting without NATS; the bus connects in the background');
  return bus;
}
