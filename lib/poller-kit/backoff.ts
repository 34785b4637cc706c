// Retry and reconnect delays: the kit's one backoff (exponential, capped, with jitter), each caller with its own bounds.

/** How a caller's delays grow and spread; the defaults are full jitter on doubling delays. */
export interface BackoffShape {
  /** Growth per attempt (default 2: 1 s, 2 s, 4 s…). */
  factor?: number;
  /**
   * The share of the delay that is random, 0…1 (default 1, "full jitter": anywhere in [0, ceiling), so many
   * callers do not retry in lockstep). 0 gives the ceiling itself: callers whose pauses are documented as exact.
   */
  jitter?: number;
}

/**
 * The delay before retry `attempt` (counting from 0): the ceiling `min(maxMs, minMs * factor^attempt)`, of which the
 * share `jitter` is drawn at random: a delay in [ceiling * (1 - jitter), ceiling), or exactly the ceiling when jitter is 0.
 */
export function backoffDelay(
  attempt: number,
  minMs: number,
  maxMs: number,
  random: () => number = Math.random,
  shape: BackoffShape = {},
): number {
  const factor = shape.factor ?? 2;
  const jitter = Math.min(1, Math.max(0, shape.jitter ?? 1));
  // A huge attempt number must not overflow to Infinity * 0 = NaN.
  const ceiling = Math.min(maxMs, minMs * factor ** Math.min(Math.max(0, attempt), 52));
  return Math.floor(ceiling * (1 - jitter + jitter * random()));
}
