// The while-true loop of a live job: runs on absolute interval boundaries, never overlapping, until stopped.
import type { Clock } from '../poller-kit/clock.ts';

export interface Tick {
  /** Epoch ms of the boundary this run belongs to: a multiple of `intervalMs` (+ `offsetMs`). */
  scheduledAt: number;
  /** Aborted at the run's deadline (`runTimeoutMs` after it started) or when stopping (after `stopGraceMs`). */
  signal: AbortSignal;
  /** Boundaries skipped just before this run because the previous run overran or the clock jumped (0 normally). */
  skipped: number;
}

export interface ScheduleOptions {
  intervalMs: number;
  /** Ticks fall at `k * intervalMs + offsetMs`. Default 0. */
  offsetMs?: number;
  clock: Clock;
  /** SIGTERM/SIGINT: no new ticks; the current run may finish (see `stopGraceMs`). */
  stop: AbortSignal;
  /** Per-run deadline, after which the run's signal aborts (reason: a `TimeoutError` DOMException). Default `intervalMs`. */
  runTimeoutMs?: number;
  /**
   * After `stop`, how long the current run may go on before its signal aborts (reason: an `AbortError`
   * DOMException). Default 3000. `runSchedule` resolves at the latest `stopGraceMs + stopMarginMs` after
   * `stop`, even if the run ignores its signal.
   */
  stopGraceMs?: number;
  /** After the grace period, how long a run whose signal was aborted still gets to settle. Default 250. */
  stopMarginMs?: number;
  /**
   * The longest single sleep: the loop re-reads the clock at least this often, so a wall-clock jump (NTP step,
   * suspend/resume) is noticed within it. Default `min(intervalMs, 60_000)`.
   */
  maxSleepMs?: number;
  /** Run one tick right away (`scheduledAt` = the last boundary <= now), then continue on boundaries. */
  immediate?: boolean;
  /** Run exactly one tick right away (`scheduledAt` = the last boundary <= now), then resolve. */
  once?: boolean;
  run(tick: Tick): Promise<void>;
  /** Called when a run throws or rejects; the loop goes on. */
  onError?(error: unknown, tick: Tick): void;
  /** Called, before the run, when boundaries were skipped. */
  onSkipped?(count: number, tick: Tick): void;
}

export interface ScheduleResult {
  /** Runs started. */
  runs: number;
  /** Boundaries skipped (overruns, forward clock jumps). */
  skipped: number;
  /** Runs that threw or rejected. */
  errors: number;
}

/** The first boundary `k * intervalMs + offsetMs` strictly after `nowMs`. */
export function nextBoundary(nowMs: number, intervalMs: number, offsetMs = 0): number {
  return (Math.floor((nowMs - offsetMs) / intervalMs) + 1) * intervalMs + offsetMs;
}

/** The last boundary `k * intervalMs + offsetMs` at or before `nowMs`. */
export function lastBoundary(nowMs: number, intervalMs: number, offsetMs = 0): number {
  return Math.floor((nowMs - offsetMs) / intervalMs) * intervalMs + offsetMs;
}

/**
 * Calls `run` on every boundary until `stop` aborts; resolves with counts once the last run has finished (or the
 * stop grace has run out). Deadlines are recomputed from the clock after each run and each sleep, so run time does
 * not accumulate as drift and a clock jump re-aligns instead of bursting or stalling.
 */
export async function runSchedule(options: ScheduleOptions): Promise<ScheduleResult> {
  const { clock, stop, intervalMs } = options;
  const offsetMs = options.offsetMs ?? 0;
  const runTimeoutMs = options.runTimeoutMs ?? intervalMs;
  const stopGraceMs = options.stopGraceMs ?? 3000;
  const stopMarginMs = options.stopMarginMs ?? 250;
  const maxSleepMs = options.maxSleepMs ?? Math.min(intervalMs, 60_000);
  positive('intervalMs', intervalMs);
  finite('offsetMs', offsetMs);
  positive('runTimeoutMs', runTimeoutMs);
  nonNegative('stopGraceMs', stopGraceMs);
  nonNegative('stopMarginMs', stopMarginMs);
  positive('maxSleepMs', maxSleepMs);

  const result: ScheduleResult = { runs: 0, skipped: 0, errors: 0 };

  const runTick = async (scheduledAt: number, skipped: number): Promise<void> => {
    const controller = new AbortController();
    const tick: Tick = { scheduledAt, signal: controller.signal, skipped };
    const report = (error: unknown) => {
      if (options.onError)
        callSafely(
          () => options.onError!(error, tick),
          () => {},
        );
    };
    result.runs++;
    if (skipped > 0) {
      result.skipped += skipped;
      if (options.onSkipped) callSafely(() => options.onSkipped!(skipped, tick), report);
    }

    // Aborted when the run settles: ends the deadline and stop watchers (and their timers) with it.
    const settled = new AbortController();
    const running = (async () => {
      try {
        await options.run(tick);
      } catch (error) {
        result.errors++;
        report(error);
      } finally {
        settled.abort();
      }
    })();

    void (async () => {
      await clock.sleep(timer(runTimeoutMs), settled.signal);
      if (!settled.signal.aborted) controller.abort(new DOMException(`run exceeded its ${runTimeoutMs} ms deadline`, 'TimeoutError'));
    })();

    const abandoned = (async () => {
      if (!(await abortedFirst(stop, settled.signal))) return;
      await clock.sleep(timer(stopGraceMs), settled.signal);
      if (settled.signal.aborted) return;
      controller.abort(new DOMException('stopping', 'AbortError'));
      await clock.sleep(timer(stopMarginMs), settled.signal);
    })();

    // Normally the run settles first; when stopping, a run that ignores its signal is left behind.
    await Promise.race([running, abandoned]);
    settled.abort();
  };

  // The boundary to wait for, seen from `now`, when `expected` is the one after the last run.
  const targetFrom = (now: number, expected: number): number => {
    const target = nextBoundary(now, intervalMs, offsetMs);
    // The clock stepped back a little (to less than an interval before the last run): wait for the boundary after
    // the last run rather than run one twice. Further back, re-align as a fresh start would: never wait for hours.
    return target < expected && now >= expected - 2 * intervalMs ? expected : target;
  };

  // The boundary to run next, once its time has come; undefined when stopped first.
  const waitForBoundary = async (expected: number): Promise<number | undefined> => {
    let target = targetFrom(clock.now(), expected);
    for (;;) {
      if (stop.aborted) return undefined;
      const now = clock.now();
      if (now < target) {
        // The same target after an early wake-up or a slice; recomputed, so a backward jump is noticed a slice
        // later at most. Never a zero or negative sleep: target > now.
        target = targetFrom(now, expected);
        await clock.sleep(timer(Math.min(Math.ceil(target - now), maxSleepMs)), stop);
        continue;
      }
      // On time, or late by less than an interval (a slow timer): run it. Later than that, the clock jumped
      // forward past whole boundaries: wait for the next one instead of running late or catching up.
      if (now - target < intervalMs) return target;
      target = targetFrom(now, expected);
    }
  };

  if (stop.aborted) return { ...result };

  if (options.once) {
    await runTick(lastBoundary(clock.now(), intervalMs, offsetMs), 0);
    return { ...result };
  }

  // The boundary that should run next if nothing overruns: what lies between it and the one that runs is skipped.
  let expected: number;
  if (options.immediate) {
    const first = lastBoundary(clock.now(), intervalMs, offsetMs);
    await runTick(first, 0);
    expected = first + intervalMs;
  } else {
    expected = nextBoundary(clock.now(), intervalMs, offsetMs);
  }

  for (;;) {
    const scheduledAt = await waitForBoundary(expected);
    if (scheduledAt === undefined) break;
    const skipped = Math.max(0, Math.round((scheduledAt - expected) / intervalMs));
    await runTick(scheduledAt, skipped);
    expected = scheduledAt + intervalMs;
  }
  return { ...result };
}

// Node's setTimeout fires after 1 ms when given more than 2^31-1 ms (~24.8 days): cap every sleep below that.
const MAX_TIMER_MS = 2 ** 31 - 1;
function timer(ms: number): number {
  return Math.min(ms, MAX_TIMER_MS);
}

// Resolves true when `signal` aborts, false when `unless` aborts first; leaves no listener behind.
function abortedFirst(signal: AbortSignal, unless: AbortSignal): Promise<boolean> {
  if (unless.aborted) return Promise.resolve(false);
  if (signal.aborted) return Promise.resolve(true);
  return new Promise<boolean>((resolve) => {
    const finish = (value: boolean) => () => {
      signal.removeEventListener('abort', onSignal);
      unless.removeEventListener('abort', onUnless);
      resolve(value);
    };
    const onSignal = finish(true);
    const onUnless = finish(false);
    signal.addEventListener('abort', onSignal, { once: true });
    unless.addEventListener('abort', onUnless, { once: true });
  });
}

// A callback that throws must not stop the loop.
function callSafely(callback: () => void, onThrow: (error: unknown) => void): void {
  try {
    callback();
  } catch (error) {
    try {
      onThrow(error);
    } catch {
      // Nothing left to tell.
    }
  }
}

function finite(name: string, value: number): void {
  if (!Number.isFinite(value)) throw new RangeError(`runSchedule: ${name} must be a finite number, got ${value}`);
}

function positive(name: string, value: number): void {
  if (!(Number.isFinite(value) && value > 0)) throw new RangeError(`runSchedule: ${name} must be a number > 0, got ${value}`);
}

function nonNegative(name: string, value: number): void {
  if (!(Number.isFinite(value) && value >= 0)) throw new RangeError(`runSchedule: ${name} must be a number >= 0, got ${value}`);
}
