// A token-bucket rate limiter, and a process-wide registry so every job calling one API shares one bucket.
import { systemClock, type Clock } from './clock.ts';

export interface RateLimiterOptions {
  /** Tokens added per second: the sustained rate of requests. */
  ratePerSecond: number;
  /** The most tokens the bucket holds: how many requests may go at once after a quiet spell. Default: one second's worth (at least 1). */
  burst?: number;
  clock?: Clock;
}

/**
 * A token bucket that hands out tokens in call order. A caller that finds the bucket empty reserves its
 * tokens anyway (the balance goes negative) and sleeps until the refill has paid the debt, so waiting
 * callers are served first come, first served and never spin.
 */
export class RateLimiter {
  readonly #clock: Clock;
  #rate: number;
  #burst: number;
  #tokens: number;
  #updatedAt: number;

  constructor(options: RateLimiterOptions) {
    if (!(options.ratePerSecond > 0)) throw new Error(`rate limiter: ratePerSecond must be positive, got ${options.ratePerSecond}`);
    this.#clock = options.clock ?? systemClock;
    this.#rate = options.ratePerSecond;
    this.#burst = Math.max(1, options.burst ?? options.ratePerSecond);
    this.#tokens = this.#burst;
    this.#updatedAt = this.#clock.now();
  }

  get ratePerSecond(): number {
    return this.#rate;
  }

  /** Tokens available now (negative while callers are waiting). */
  get available(): number {
    this.#refill();
    return this.#tokens;
  }

  /**
   * Waits until `tokens` may be spent, then spends them. Resolves with the milliseconds waited (0 when a
   * token was there). Rejects with the signal's reason when `signal` aborts, giving the reservation back.
   */
  async take(signal?: AbortSignal, tokens = 1): Promise<number> {
    signal?.throwIfAborted();
    const waitMs = this.reserve(tokens);
    if (waitMs === 0) return 0;
    const started = this.#clock.now();
    await this.#clock.sleep(waitMs, signal);
    if (signal?.aborted) {
      this.release(tokens);
      throw signal.reason;
    }
    return Math.max(0, this.#clock.now() - started);
  }

  /**
   * Spends `tokens` now and returns how long (ms) the caller must wait before using them: 0 when they were there.
   * For a caller that waits on a clock of its own (a poll context's `sleep`, which ends with its run); `nowMs` is
   * the time on that clock. A caller that gives up waiting hands the tokens back with `release`.
   */
  reserve(tokens = 1, nowMs = this.#clock.now()): number {
    this.#refill(nowMs);
    this.#tokens -= tokens;
    return this.#tokens >= 0 ? 0 : Math.ceil((-this.#tokens / this.#rate) * 1000);
  }

  /** Gives back tokens reserved but not used (the caller's run was aborted while it waited). */
  release(tokens = 1, nowMs = this.#clock.now()): void {
    this.#refill(nowMs);
    this.#tokens = Math.min(this.#burst, this.#tokens + tokens);
  }

  #refill(now = this.#clock.now()): void {
    const elapsed = Math.max(0, now - this.#updatedAt) / 1000;
    this.#updatedAt = now;
    this.#tokens = Math.min(this.#burst, this.#tokens + elapsed * this.#rate);
  }
}
