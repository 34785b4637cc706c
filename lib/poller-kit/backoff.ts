// Reconnect delays: exponential backoff with full jitter, so many pollers do not reconnect in lockstep.

/** A delay in [0, min(maxMs, minMs * 2^attempt)), attempt counting from 0. */
export function backoffDelay(attempt: number, minMs: number, maxMs: number, random: () => number): number {
  const ceiling = Math.min(maxMs, minMs * 2 ** Math.min(attempt, 52));
  return Math.floor(random() * ceiling);
}
