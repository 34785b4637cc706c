// A Clock whose time moves only when a test says so: sleepers wake in deadline order, awaiting code runs between them.
import type { Clock } from '../../lib/poller-kit/clock.ts';

export interface FakeClockOptions {
  /** The wall-clock time to start at (epoch ms, a Date or an ISO string). Default 2024-01-01T00:00:00.000Z. */
  start?: number | Date | string;
  /**
   * How many event-loop turns (`setImmediate`) to let pass after each wake-up, so that code awaiting the
   * sleep, and whatever it awaits in turn, has reached its next `sleep` before time moves on. Default 3.
   */
  settleTurns?: number;
  /** `runUntil` gives up (throws) after this many wake-ups, which catches loops that spin. Default 1,000,000. */
  maxSteps?: number;
  /**
   * When `runUntil`'s condition is false and no sleep is pending, how long (real ms) to wait for real I/O in flight
   * (a file write, a local socket) to lead to a sleep or to the condition, before calling it a deadlock. Default 100.
   */
  idleWaitMs?: number;
}

export interface SleepRequest {
  /** Wall-clock time of the call. */
  at: number;
  /** The duration asked for, as given. */
  ms: number;
  signal: AbortSignal | undefined;
}

interface Sleeper {
  /** Monotonic deadline: like real timers, a sleep is not shortened or stretched by a wall-clock jump. */
  due: number;
  seq: number;
  wake: () => void;
}

export class FakeClock implements Clock {
  /** Every `sleep` call, in order (for asserting there is no spin or no hours-long sleep). */
  readonly sleepRequests: SleepRequest[] = [];

  #monotonic = 0;
  #wallOffset: number;
  #seq = 0;
  #sleepers: Sleeper[] = [];
  readonly #settleTurns: number;
  readonly #maxSteps: number;
  readonly #idleWaitMs: number;

  constructor(options: FakeClockOptions = {}) {
    this.#wallOffset = toEpochMs(options.start ?? Date.UTC(2024, 0, 1));
    this.#settleTurns = options.settleTurns ?? 3;
    this.#maxSteps = options.maxSteps ?? 1_000_000;
    this.#idleWaitMs = options.idleWaitMs ?? 100;
  }

  now(): number {
    return this.#monotonic + this.#wallOffset;
  }

  /**
   * Resolves once time has been advanced by `ms` (0, negative or NaN: at the next advance, even `advance(0)`),
   * or as soon as `signal` aborts. Never rejects. `Infinity` sleeps until aborted.
   */
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    this.sleepRequests.push({ at: this.now(), ms, signal });
    if (signal?.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const sleeper: Sleeper = {
        due: this.#monotonic + (ms > 0 ? ms : 0),
        seq: this.#seq++,
        wake: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = () => {
        this.#remove(sleeper);
        sleeper.wake();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#insert(sleeper);
    });
  }

  /** Sleeps not yet resolved. */
  get pendingSleeps(): number {
    return this.#sleepers.length;
  }

  /** Number of `sleep` calls so far. */
  get sleepCalls(): number {
    return this.sleepRequests.length;
  }

  /** Wall-clock time at which the earliest pending sleep wakes, or undefined when none will (none, or only `Infinity`). */
  nextWakeAt(): number | undefined {
    const first = this.#sleepers[0];
    return first && Number.isFinite(first.due) ? first.due + this.#wallOffset : undefined;
  }

  /**
   * Moves time forward by `ms`, waking each sleeper due on the way at its own deadline, earliest first, and letting
   * awaiting code run after each; sleeps started meanwhile that fall due within `ms` wake too.
   */
  async advance(ms: number): Promise<void> {
    if (!(ms >= 0 && Number.isFinite(ms)))
      throw new RangeError(`FakeClock.advance: expected a finite duration >= 0, got ${ms} (use set() to go back)`);
    const end = this.#monotonic + ms;
    await this.flush();
    for (let steps = 0; ; steps++) {
      const first = this.#sleepers[0];
      if (!first || first.due > end) break;
      if (steps >= this.#maxSteps)
        throw new Error(`FakeClock.advance: more than ${this.#maxSteps} wake-ups within ${ms} ms: is something spinning?`);
      await this.#wakeFirst();
    }
    this.#monotonic = end;
    await this.flush();
  }

  /** Advances to the wall-clock time `wallMs` (which must not be in the past). */
  advanceTo(wallMs: number | Date | string): Promise<void> {
    return this.advance(toEpochMs(wallMs) - this.now());
  }

  /**
   * Wakes the earliest pending sleeper (and any due at the same instant), moving time to its deadline.
   * Returns false, without moving time, when nothing is pending.
   */
  async advanceToNext(): Promise<boolean> {
    await this.flush();
    const first = this.#sleepers[0];
    if (!first || !Number.isFinite(first.due)) return false;
    await this.advance(first.due - this.#monotonic);
    return true;
  }

  /**
   * Jumps the wall clock to `wallMs`, forward or back, as an NTP step or an operator would: `now()` changes,
   * pending sleeps keep the duration they have left (real timers run on a monotonic clock). Wakes nobody.
   */
  set(wallMs: number | Date | string): void {
    this.#wallOffset = toEpochMs(wallMs) - this.#monotonic;
  }

  /**
   * Keeps waking the next sleeper until `until` holds. `until` is a predicate, checked after each wake-up once
   * awaiting code has run, or a duration in ms (the same as `advance`). Throws when the predicate is still false
   * and nothing is left to wake (a deadlock), or after `maxSteps` wake-ups.
   */
  async runUntil(until: (() => boolean) | number, options: { maxSteps?: number } = {}): Promise<void> {
    if (typeof until === 'number') return this.advance(until);
    const maxSteps = options.maxSteps ?? this.#maxSteps;
    for (let steps = 0; ; steps++) {
      await this.flush();
      if (until()) return;
      if (steps >= maxSteps)
        throw new Error(`FakeClock.runUntil: condition still false after ${maxSteps} wake-ups: is something spinning?`);
      if (!(await this.advanceToNext()) && !(await this.#awaitActivity(until))) {
        throw new Error(`FakeClock.runUntil: condition still false and no sleep is pending (at ${new Date(this.now()).toISOString()})`);
      }
    }
  }

  /** Advances time sleeper by sleeper until `promise` settles; returns its value or throws its error. */
  async runUntilSettled<T>(promise: Promise<T>, options: { maxSteps?: number } = {}): Promise<T> {
    let settled = false;
    const watched = promise.then(
      (value) => ((settled = true), value),
      (error: unknown) => {
        settled = true;
        throw error;
      },
    );
    // Attach a handler now so a rejection is not reported as unhandled while time is still moving.
    watched.catch(() => {});
    await this.runUntil(() => settled, options);
    return watched;
  }

  /** Lets pending callbacks and promise chains run, without moving time. */
  async flush(): Promise<void> {
    for (let i = 0; i < this.#settleTurns; i++) await new Promise<void>((resolve) => setImmediate(resolve));
  }

  // True once `until` holds or a sleep is pending, within idleWaitMs of real time (time on this clock stands still).
  async #awaitActivity(until: () => boolean): Promise<boolean> {
    const giveUpAt = Date.now() + this.#idleWaitMs;
    while (Date.now() < giveUpAt) {
      await new Promise<void>((resolve) => setTimeout(resolve, 1));
      if (until() || this.nextWakeAt() !== undefined) return true;
    }
    return false;
  }

  async #wakeFirst(): Promise<void> {
    const sleeper = this.#sleepers.shift()!;
    if (sleeper.due > this.#monotonic) this.#monotonic = sleeper.due;
    sleeper.wake();
    await this.flush();
  }

  #insert(sleeper: Sleeper): void {
    // Sorted by deadline, then by call order; usually only a few sleepers are pending.
    let i = this.#sleepers.length;
    while (i > 0 && this.#sleepers[i - 1]!.due > sleeper.due) i--;
    this.#sleepers.splice(i, 0, sleeper);
  }

  #remove(sleeper: Sleeper): void {
    const i = this.#sleepers.indexOf(sleeper);
    if (i >= 0) this.#sleepers.splice(i, 1);
  }
}

function toEpochMs(time: number | Date | string): number {
  const ms = typeof time === 'number' ? time : typeof time === 'string' ? Date.parse(time) : time.getTime();
  if (!Number.isFinite(ms)) throw new RangeError(`FakeClock: not a time: ${String(time)}`);
  return ms;
}
