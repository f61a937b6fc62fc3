/**
 * The hour-of-week baseline: 168 slots (0 = Monday 00:00–01:00 UTC), each keeping, for the last few
 * weeks, the median of that hour's values (the metric's transformed values: ln(1 + ms) or the rate)
 * and a running within-hour spread. A slot's expectation is the lower median of its weekly medians
 * (with two weeks the smaller one), so a single bad week does not make an incident "usual"; its spread
 * is the running scaled MAD of its hours. Patterns shorter than about half an hour inside an hour do
 * not move an hour's median and so are not learned. Slots are in UTC: a pattern tied to local time
 * moves by one slot at a daylight-saving change and is relearned within `seasonMinWeeks` weeks.
 *
 * Size: at most 168 × (seasonWeeks + 1) numbers (840 at the default 4 weeks).
 */
import { lowerMedian, medianMad } from './robust.js';

export interface SeasonSlot {
  /** Weekly medians of this hour, oldest first. */
  m: number[];
  /** Running scaled MAD of the values within this hour (half-life of one week). */
  s: number;
}

export type Season = (SeasonSlot | null)[];

export const HOUR_MS = 3_600_000;
/** Hours are counted from the Unix epoch, a Thursday; +72 makes slot 0 Monday 00:00 UTC. */
const MONDAY_OFFSET = 72;
/** An hour with fewer points than this says too little about itself to be learned. */
export const MIN_HOUR_POINTS = 10;

export function hourOfWeek(hourIndex: number): number {
  return (((hourIndex + MONDAY_OFFSET) % 168) + 168) % 168;
}

export function emptySeason(): Season {
  return Array.from({ length: 168 }, () => null);
}

/**
 * Folds a finished hour's values into its slot. Returns a new array when the slot changes (the
 * caller's state stays untouched); `round` keeps stored numbers short.
 */
export function learnHour(
  season: Season,
  hourIndex: number,
  values: readonly number[],
  weeks: number,
  round: (x: number) => number,
): Season {
  if (values.length < MIN_HOUR_POINTS) return season;
  const { median, mad } = medianMad(values);
  const i = hourOfWeek(hourIndex);
  const old = season[i];
  const next = season.slice();
  next[i] = {
    m: [...(old?.m ?? []), round(median)].slice(-weeks),
    s: round(old ? (old.s + mad) / 2 : mad),
  };
  return next;
}

/** The expectation of hour-of-week slot `slot` when it has at least `minWeeks` weeks, else null. */
export function slotExpectation(season: Season, slot: number, minWeeks: number): number | null {
  const s = season[slot];
  return s && s.m.length >= minWeeks ? lowerMedian(s.m) : null;
}

export interface SeasonalExpectation {
  expected: number;
  spread: number;
}

/**
 * The expectations for time t from slots with at least `minWeeks` weeks: its own hour, and within a
 * quarter of an hour of a boundary the neighbouring hour too (a job starting at 01:50 one week and
 * 02:05 the next is still the same job).
 */
export function seasonalExpectations(season: Season, t: number, minWeeks: number): SeasonalExpectation[] {
  const h = Math.floor(t / HOUR_MS);
  const minute = Math.floor((t - h * HOUR_MS) / 60_000);
  const hours = [h];
  if (minute < 15) hours.push(h - 1);
  else if (minute >= 45) hours.push(h + 1);
  const out: SeasonalExpectation[] = [];
  for (const hh of hours) {
    const slot = season[hourOfWeek(hh)];
    if (slot && slot.m.length >= minWeeks) out.push({ expected: lowerMedian(slot.m), spread: slot.s });
  }
  return out;
}
