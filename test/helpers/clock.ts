// A clock a test moves by hand, for everything that takes a Clock.
import type { Clock } from "../../src/kernel/clock.ts";

export type ManualClock = Clock & {
  /** Moves time forward by `ms`. */
  advance(ms: number): void;
};

export function manualClock(start = Date.now()): ManualClock {
  let now = start;
  return {
    now: () => now,
    advance(ms: number) {
      now += ms;
    },
  };
}
