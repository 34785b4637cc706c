// "Refuse requests until time T": an API said its quota or rate limit is used up; no request goes out before it returns.

/** Why and until when a gate is closed; `detail` is the caller's own (a quota bucket, a kind of limit). */
export interface GateClosure<D> {
  /** Epoch milliseconds at which requests may go out again. */
  readonly until: number;
  readonly reason: string;
  readonly detail: D;
}

/** A closure in force, with the time left at the moment it was checked. */
export interface ClosedGate<D> extends GateClosure<D> {
  readonly leftMs: number;
}

/**
 * One gate (one quota, one token's rate limit). Times are epoch milliseconds from the caller's clock (the poll
 * context's `now()`, fake in tests), so no timer runs: the gate opens by itself once that clock passes `until`.
 */
export class RequestGate<D = undefined> {
  #closure: GateClosure<D> | undefined;

  /**
   * Closes the gate until `untilMs`. When it is already closed until later, that closure stays: two answers
   * that overlap never shorten the wait. Returns the closure in force (the same object for as long as it lasts,
   * so a caller can tell a new closure from one it has already announced).
   */
  closeUntil(untilMs: number, reason: string, detail: D): GateClosure<D> {
    const current = this.#closure;
    if (current && current.until >= untilMs) return current;
    this.#closure = { until: untilMs, reason, detail };
    return this.#closure;
  }

  /**
   * The closure in force at `nowMs` with the time left, or undefined when requests may go out. The answer is a
   * copy; its `detail` is the closure's own object, so notes written into it last as long as the closure.
   */
  check(nowMs: number): ClosedGate<D> | undefined {
    const closure = this.#closure;
    if (!closure) return undefined;
    if (nowMs >= closure.until) {
      this.#closure = undefined;
      return undefined;
    }
    return { ...closure, leftMs: closure.until - nowMs };
  }

  /** Throws `refuse(closed)` while the gate is closed at `nowMs`; returns when requests may go out. */
  assertOpen(nowMs: number, refuse: (closed: ClosedGate<D>) => Error): void {
    const closed = this.check(nowMs);
    if (closed) throw refuse(closed);
  }
}

/** One gate per key (a property and its quota pool, a token and its API root), made on first use. */
export class RequestGates<D = undefined> {
  readonly #gates = new Map<string, RequestGate<D>>();

  for(key: string): RequestGate<D> {
    let gate = this.#gates.get(key);
    if (!gate) {
      gate = new RequestGate<D>();
      this.#gates.set(key, gate);
    }
    return gate;
  }
}
