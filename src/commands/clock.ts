/**
 * Time and ids for the write side come in from outside, so deciders stay pure and tests
 * can fix them.
 */

/** A source of the current time. */
export interface Clock {
  now(): Date;
}

/** The system clock. */
export const systemClock: Clock = { now: () => new Date() };

/** A clock that always answers the same instant (for tests). */
export function fixedClock(iso: string): Clock {
  const instant = new Date(iso);
  return { now: () => new Date(instant) };
}
