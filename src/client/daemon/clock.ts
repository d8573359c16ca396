// The time source and timers the scheduler runs on, behind an interface so tests can drive
// hours of schedule in milliseconds; the system clock is the only implementation in production.

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Calls `callback` once after about `delayMilliseconds`; may wake early, never needs to be exact. */
  setTimer(delayMilliseconds: number, callback: () => void): unknown;
  clearTimer(handle: unknown): void;
}

/** setTimeout overflows past 2^31-1 ms (about 24.8 days) and fires at once; longer waits wake early and re-arm (the scheduler itself wakes every minute: scheduler.ts wakeAt). */
const LONGEST_TIMER_MILLISECONDS = 2 ** 31 - 1;

export const systemClock: Clock = Object.freeze({
  now: () => Date.now(),
  setTimer: (delayMilliseconds: number, callback: () => void) =>
    setTimeout(callback, Math.min(Math.max(0, delayMilliseconds), LONGEST_TIMER_MILLISECONDS)),
  clearTimer: (handle: unknown) => clearTimeout(handle as NodeJS.Timeout),
});
