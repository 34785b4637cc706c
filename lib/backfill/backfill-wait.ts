// A backfill's waits for Graphite (a full queue, the last hand-offs, the final flush): bounded, and told at a cadence.
import type { Clock } from '../poller-kit/clock.ts';

export interface WaitOptions {
  /** Stop waiting when this aborts (Ctrl-C, SIGTERM). */
  signal?: AbortSignal;
  /** Stop waiting after this long on the clock… */
  timeoutMs?: number;
  /** …in which this figure did not change (a queue's length): a slow Graphite that takes lines is waited for. */
  progress?: () => number;
}

/**
 * `wait(work)` resolves true once `work` settles, false when its signal or timeout ends the wait first. While at
 * least one wait is pending, `report` is called every `everyMs` on the clock with how long the oldest has lasted,
 * so a backfill stuck behind an unreachable Graphite says so instead of going quiet. A wait that ends within the
 * event loop's turn (a queue with room, lines already handed off) arms no timer.
 */
export class WaitReporter {
  readonly #clock: Clock;
  readonly #everyMs: number;
  readonly #report: ((waitedMs: number) => void) | undefined;
  #pending = 0;
  #ticks: AbortController | undefined;

  constructor(clock: Clock, everyMs: number, report?: (waitedMs: number) => void) {
    this.#clock = clock;
    this.#everyMs = everyMs;
    this.#report = report;
  }

  async wait(work: Promise<unknown>, options: WaitOptions = {}): Promise<boolean> {
    if (await settlesThisTurn(work)) {
      await work;
      return true;
    }
    if (this.#pending++ === 0) this.#startReports();
    const ended = new AbortController();
    const stop = options.signal ? AbortSignal.any([options.signal, ended.signal]) : ended.signal;
    try {
      return await new Promise<boolean>((resolve, reject) => {
        work.then(() => resolve(true), reject);
        void this.#deadline(stop, options).then(() => resolve(false));
      });
    } finally {
      ended.abort();
      if (--this.#pending === 0) this.#ticks?.abort();
    }
  }

  /** Resolves at the timeout (one without progress, with `progress`), or at once when `stop` aborts. */
  async #deadline(stop: AbortSignal, options: WaitOptions): Promise<void> {
    let mark = options.progress?.();
    for (;;) {
      await this.#clock.sleep(options.timeoutMs ?? Infinity, stop);
      if (stop.aborted || !options.progress) return;
      const now = options.progress();
      if (now === mark) return;
      mark = now;
    }
  }

  #startReports(): void {
    const report = this.#report;
    if (!report) return;
    const ticks = (this.#ticks = new AbortController());
    const since = this.#clock.now();
    void (async () => {
      for (;;) {
        await this.#clock.sleep(this.#everyMs, ticks.signal);
        if (ticks.signal.aborted) return;
        report(this.#clock.now() - since);
      }
    })();
  }
}

/** True when `work` settles before the event loop's next turn: every promise callback already queued runs first. */
export function settlesThisTurn(work: Promise<unknown>): Promise<boolean> {
  return new Promise((resolve) => {
    const turn = setImmediate(() => resolve(false));
    const settled = () => {
      clearImmediate(turn);
      resolve(true);
    };
    work.then(settled, settled);
  });
}
