// The time, as an argument: modules that expire things take a Clock, so tests
// move time by hand instead of waiting for it.

export type Clock = { now(): number };

export const systemClock: Clock = { now: () => Date.now() };
