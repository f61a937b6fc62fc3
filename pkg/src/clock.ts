/** Time, injected where it matters (sessions, schedulers, windows) so tests can be exact. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };
