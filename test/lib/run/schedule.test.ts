// The live loop on a fake clock: boundaries, drift, overruns, failures, stop, deadlines and clock jumps.
import { describe, expect, it } from 'vitest';
import {
  lastBoundary,
  nextBoundary,
  runSchedule,
  type ScheduleOptions,
  type ScheduleResult,
  type Tick,
} from '../../../lib/run/schedule.ts';
import { FakeClock } from '../../helpers/fake-clock.ts';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
// Deliberately off any boundary.
const START = Date.UTC(2024, 0, 1, 0, 0, 17, 123);
const FIRST = Date.UTC(2024, 0, 1, 0, 1);

/** A small seeded PRNG (mulberry32), so "random" run times are the same on every run of the suite. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Run {
  scheduledAt: number;
  skipped: number;
  startedAt: number;
  endedAt?: number;
  signal: AbortSignal;
}

interface Harness {
  clock: FakeClock;
  stopper: AbortController;
  runs: Run[];
  done: Promise<ScheduleResult>;
  /** Set once `done` has resolved. */
  result(): ScheduleResult | undefined;
  /** Clock time at which `done` resolved. */
  resolvedAt(): number | undefined;
}

/**
 * Starts runSchedule on a fake clock. `work(tick, index)` is what each run does after being recorded (simulate time
 * with `clock.sleep`); the record's `endedAt` is set when it returns or throws.
 */
function start(
  options: Partial<Omit<ScheduleOptions, 'run' | 'clock' | 'stop'>> & {
    work?: (tick: Tick, index: number, clock: FakeClock) => Promise<void>;
    clockStart?: number;
  } = {},
): Harness {
  const { work, clockStart, ...rest } = options;
  const clock = new FakeClock({ start: clockStart ?? START });
  const stopper = new AbortController();
  const runs: Run[] = [];
  let result: ScheduleResult | undefined;
  let resolvedAt: number | undefined;
  const done = runSchedule({
    intervalMs: MINUTE,
    ...rest,
    clock,
    stop: stopper.signal,
    async run(tick) {
      const record: Run = { scheduledAt: tick.scheduledAt, skipped: tick.skipped, startedAt: clock.now(), signal: tick.signal };
      runs.push(record);
      try {
        await work?.(tick, runs.length - 1, clock);
      } finally {
        record.endedAt = clock.now();
      }
    },
  }).then((value) => {
    result = value;
    resolvedAt = clock.now();
    return value;
  });
  return { clock, stopper, runs, done, result: () => result, resolvedAt: () => resolvedAt };
}

/** Runs the clock until `count` runs have started, then stops the loop and lets it finish. */
async function runTicks(harness: Harness, count: number): Promise<ScheduleResult> {
  await harness.clock.runUntil(() => harness.runs.length >= count && harness.runs[count - 1]!.endedAt !== undefined);
  harness.stopper.abort();
  return harness.clock.runUntilSettled(harness.done);
}

describe('nextBoundary and lastBoundary', () => {
  it('give the first boundary strictly after now and the last one at or before it', () => {
    expect(nextBoundary(START, MINUTE)).toBe(FIRST);
    expect(nextBoundary(FIRST, MINUTE)).toBe(FIRST + MINUTE);
    expect(nextBoundary(FIRST - 1, MINUTE)).toBe(FIRST);
    expect(lastBoundary(START, MINUTE)).toBe(FIRST - MINUTE);
    expect(lastBoundary(FIRST, MINUTE)).toBe(FIRST);
  });

  it('shift boundaries by the offset, which may exceed the interval or be negative', () => {
    expect(nextBoundary(START, MINUTE, 15 * SECOND)).toBe(FIRST + 15 * SECOND);
    expect(nextBoundary(START, MINUTE, 75 * SECOND)).toBe(nextBoundary(START, MINUTE, 15 * SECOND));
    expect(nextBoundary(START, MINUTE, -45 * SECOND)).toBe(nextBoundary(START, MINUTE, 15 * SECOND));
    expect(lastBoundary(START, MINUTE, 15 * SECOND)).toBe(FIRST - 45 * SECOND);
  });

  it('work for sub-second intervals', () => {
    expect(nextBoundary(1_000_050, 100)).toBe(1_000_100);
    expect(nextBoundary(1_000_100, 100)).toBe(1_000_200);
  });
});

describe('runSchedule: timing', () => {
  it('runs 10,000 ticks of 60 s exactly on their boundaries whatever the run time: zero drift', async () => {
    const random = seeded(20240101);
    const harness = start({ work: (_tick, _i, clock) => clock.sleep(Math.floor(random() * MINUTE * 0.9)) });
    const result = await runTicks(harness, 10_000);

    expect(result).toEqual({ runs: 10_000, skipped: 0, errors: 0 });
    const offBoundary = harness.runs.filter((run, i) => run.scheduledAt !== FIRST + i * MINUTE || run.startedAt !== run.scheduledAt);
    expect(offBoundary).toEqual([]);
    expect(harness.runs.every((run) => run.scheduledAt % MINUTE === 0 && run.skipped === 0 && !run.signal.aborted)).toBe(true);
    // The last tick starts exactly 9,999 intervals after the first: nothing accumulated.
    expect(harness.runs.at(-1)!.startedAt - harness.runs[0]!.startedAt).toBe(9_999 * MINUTE);
    // The loop never asked for a zero, negative or longer-than-an-interval sleep.
    expect(harness.clock.sleepRequests.filter((s) => s.ms > MINUTE)).toEqual([]);
  });

  it('runs 1 s ticks on each second', async () => {
    const random = seeded(7);
    const harness = start({ intervalMs: SECOND, work: (_tick, _i, clock) => clock.sleep(Math.floor(random() * 900)) });
    await runTicks(harness, 3600);
    const first = nextBoundary(START, SECOND);
    expect(harness.runs.map((run) => run.startedAt - first)).toEqual(Array.from({ length: 3600 }, (_, i) => i * SECOND));
    expect(harness.runs.every((run) => run.scheduledAt === run.startedAt)).toBe(true);
  });

  it('ticks at k * interval + offset', async () => {
    const harness = start({ offsetMs: 15 * SECOND, work: (_tick, _i, clock) => clock.sleep(20 * SECOND) });
    await runTicks(harness, 5);
    expect(harness.runs.map((run) => new Date(run.startedAt).toISOString())).toEqual([
      '2024-01-01T00:01:15.000Z',
      '2024-01-01T00:02:15.000Z',
      '2024-01-01T00:03:15.000Z',
      '2024-01-01T00:04:15.000Z',
      '2024-01-01T00:05:15.000Z',
    ]);
  });

  it('after an overrun, runs on the next boundary, counts the skipped ones and keeps its phase', async () => {
    const skippedCalls: Array<[number, number]> = [];
    const harness = start({
      offsetMs: 15 * SECOND,
      onSkipped: (count, tick) => skippedCalls.push([count, tick.scheduledAt]),
      work: async (_tick, i, clock) => {
        await clock.sleep(i === 1 ? 2.5 * MINUTE : 10 * SECOND);
      },
    });
    const result = await runTicks(harness, 5);
    const first = nextBoundary(START, MINUTE, 15 * SECOND);

    expect(harness.runs.map((run) => [(run.scheduledAt - first) / MINUTE, run.skipped])).toEqual([
      [0, 0],
      [1, 0],
      [4, 2],
      [5, 0],
      [6, 0],
    ]);
    expect(harness.runs.every((run) => run.startedAt === run.scheduledAt)).toBe(true);
    expect(skippedCalls).toEqual([[2, first + 4 * MINUTE]]);
    expect(result).toEqual({ runs: 5, skipped: 2, errors: 0 });
    // The overrunning run's signal was aborted at its deadline (one interval by default), though it went on.
    expect(harness.runs[1]!.signal.aborted).toBe(true);
    expect((harness.runs[1]!.signal.reason as DOMException).name).toBe('TimeoutError');
  });

  it('a run that ends exactly on the next boundary skips it (the run overran)', async () => {
    const harness = start({ work: (_tick, i, clock) => clock.sleep(i === 0 ? MINUTE : 0) });
    await runTicks(harness, 2);
    expect(harness.runs.map((run) => [run.scheduledAt - FIRST, run.skipped])).toEqual([
      [0, 0],
      [2 * MINUTE, 1],
    ]);
  });

  it('never overlaps two runs, whatever they do', async () => {
    const random = seeded(99);
    let active = 0;
    let maxActive = 0;
    const harness = start({
      onError: () => {},
      work: async (tick, _i, clock) => {
        active++;
        maxActive = Math.max(maxActive, active);
        try {
          const r = random();
          await clock.sleep(Math.floor(random() * 3 * MINUTE), r < 0.5 ? tick.signal : undefined);
          if (r > 0.8) throw new Error('boom');
        } finally {
          active--;
        }
      },
    });
    const result = await runTicks(harness, 1000);
    expect(maxActive).toBe(1);
    for (let i = 1; i < harness.runs.length; i++) {
      expect(harness.runs[i]!.startedAt).toBeGreaterThanOrEqual(harness.runs[i - 1]!.endedAt!);
      expect(harness.runs[i]!.scheduledAt).toBeGreaterThan(harness.runs[i - 1]!.scheduledAt);
    }
    expect(result.skipped).toBeGreaterThan(0);
    expect(result.errors).toBeGreaterThan(0);
    expect(harness.runs.every((run) => run.scheduledAt % MINUTE === 0 && run.startedAt === run.scheduledAt)).toBe(true);
  });

  it('never asks for a zero or negative sleep, nor one longer than an interval', async () => {
    const random = seeded(3);
    // Run times that often end exactly on a boundary, or a whole number of intervals later.
    const harness = start({ work: (_tick, _i, clock) => clock.sleep(Math.floor(random() * 4) * MINUTE) });
    await runTicks(harness, 500);
    const loopSleeps = harness.clock.sleepRequests.filter((s) => s.signal === harness.stopper.signal);
    expect(loopSleeps.length).toBeGreaterThanOrEqual(500);
    expect(loopSleeps.filter((s) => !(s.ms > 0 && s.ms <= MINUTE))).toEqual([]);
  });
});

describe('runSchedule: failures', () => {
  it('keeps going after runs that throw, reject or whose onError throws, and reports each', async () => {
    const errors: Array<[string, number]> = [];
    const clock = new FakeClock({ start: START });
    const stopper = new AbortController();
    const scheduled: number[] = [];
    let n = 0;
    const done = runSchedule({
      intervalMs: MINUTE,
      clock,
      stop: stopper.signal,
      // Not async: the first call throws synchronously.
      run(tick) {
        scheduled.push(tick.scheduledAt);
        n++;
        if (n === 1) throw new Error('sync boom');
        if (n === 2) return Promise.reject(new Error('async boom'));
        if (n === 3) return Promise.reject('not even an Error');
        if (n === 5) stopper.abort();
        return Promise.resolve();
      },
      onError(error, tick) {
        errors.push([error instanceof Error ? error.message : String(error), tick.scheduledAt]);
        if (errors.length === 2) throw new Error('a broken onError');
      },
    });
    const result = await clock.runUntilSettled(done);
    expect(result).toEqual({ runs: 5, skipped: 0, errors: 3 });
    expect(scheduled).toEqual([0, 1, 2, 3, 4].map((i) => FIRST + i * MINUTE));
    expect(errors).toEqual([
      ['sync boom', FIRST],
      ['async boom', FIRST + MINUTE],
      ['not even an Error', FIRST + 2 * MINUTE],
    ]);
  });

  it('counts runs that fail even without onError, and survives an onSkipped that throws', async () => {
    const harness = start({
      onSkipped: () => {
        throw new Error('broken onSkipped');
      },
      work: async (_tick, i, clock) => {
        if (i === 0) await clock.sleep(MINUTE + SECOND);
        if (i === 2) throw new Error('boom');
      },
    });
    const result = await runTicks(harness, 4);
    expect(result).toEqual({ runs: 4, skipped: 1, errors: 1 });
  });

  it('rejects options it cannot honour', async () => {
    const clock = new FakeClock();
    const stop = new AbortController().signal;
    const run = async () => {};
    await expect(runSchedule({ intervalMs: 0, clock, stop, run })).rejects.toThrow(/intervalMs/);
    await expect(runSchedule({ intervalMs: Number.NaN, clock, stop, run })).rejects.toThrow(RangeError);
    await expect(runSchedule({ intervalMs: MINUTE, runTimeoutMs: -1, clock, stop, run })).rejects.toThrow(/runTimeoutMs/);
    await expect(runSchedule({ intervalMs: MINUTE, stopGraceMs: -1, clock, stop, run })).rejects.toThrow(/stopGraceMs/);
    await expect(runSchedule({ intervalMs: MINUTE, offsetMs: Infinity, clock, stop, run })).rejects.toThrow(/offsetMs/);
  });
});

describe('runSchedule: deadlines and stopping', () => {
  it('aborts the run signal at runTimeoutMs with a TimeoutError; the loop goes on at the next boundary', async () => {
    const harness = start({
      runTimeoutMs: 10 * SECOND,
      // A well-behaved run: its work gives up when the signal aborts.
      work: (tick, _i, clock) => clock.sleep(50 * SECOND, tick.signal),
    });
    const result = await runTicks(harness, 3);
    expect(result).toEqual({ runs: 3, skipped: 0, errors: 0 });
    for (const [i, run] of harness.runs.entries()) {
      expect(run.scheduledAt).toBe(FIRST + i * MINUTE);
      expect(run.endedAt).toBe(run.startedAt + 10 * SECOND);
      expect((run.signal.reason as DOMException).name).toBe('TimeoutError');
    }
  });

  it('leaves the signal alone when the run finishes in time, and leaves no timer pending', async () => {
    const harness = start({ work: (_tick, _i, clock) => clock.sleep(59 * SECOND) });
    await runTicks(harness, 3);
    expect(harness.runs.some((run) => run.signal.aborted)).toBe(false);
    expect(harness.clock.pendingSleeps).toBe(0);
  });

  it('stop during a sleep: resolves at once, without another run', async () => {
    const harness = start({ work: (_tick, _i, clock) => clock.sleep(5 * SECOND) });
    await harness.clock.runUntil(() => harness.runs.length === 1);
    await harness.clock.advance(30 * SECOND);
    const stoppedAt = harness.clock.now();
    harness.stopper.abort();
    await harness.clock.flush();
    expect(harness.result()).toEqual({ runs: 1, skipped: 0, errors: 0 });
    expect(harness.resolvedAt()).toBe(stoppedAt);
    expect(harness.clock.pendingSleeps).toBe(0);
  });

  it('stop during a run: the run finishes undisturbed within the grace period, and no new run starts', async () => {
    const harness = start({ work: (_tick, _i, clock) => clock.sleep(20 * SECOND) });
    await harness.clock.runUntil(() => harness.runs.length === 1);
    await harness.clock.advance(18 * SECOND);
    harness.stopper.abort();
    const result = await harness.clock.runUntilSettled(harness.done);
    expect(result).toEqual({ runs: 1, skipped: 0, errors: 0 });
    expect(harness.runs[0]!.endedAt).toBe(FIRST + 20 * SECOND);
    expect(harness.runs[0]!.signal.aborted).toBe(false);
    expect(harness.resolvedAt()).toBe(FIRST + 20 * SECOND);
    await harness.clock.advance(10 * MINUTE);
    expect(harness.runs).toHaveLength(1);
  });

  it('stop during a long run: its signal aborts after stopGraceMs with an AbortError, and a run heeding it ends there', async () => {
    const harness = start({ stopGraceMs: 5 * SECOND, work: (tick, _i, clock) => clock.sleep(50 * SECOND, tick.signal) });
    await harness.clock.runUntil(() => harness.runs.length === 1);
    await harness.clock.advance(10 * SECOND);
    harness.stopper.abort();
    await harness.clock.runUntilSettled(harness.done);
    const run = harness.runs[0]!;
    expect((run.signal.reason as DOMException).name).toBe('AbortError');
    expect(run.endedAt).toBe(FIRST + 15 * SECOND);
    expect(harness.resolvedAt()).toBe(FIRST + 15 * SECOND);
  });

  it('a run that ignores its signal and never settles: runSchedule still resolves stopGraceMs + margin after stop', async () => {
    let aborted: number | undefined;
    const harness = start({
      work: (tick, _i, clock) => {
        tick.signal.addEventListener('abort', () => (aborted = clock.now()));
        return new Promise<void>(() => {});
      },
    });
    await harness.clock.runUntil(() => harness.runs.length === 1);
    await harness.clock.advance(5 * SECOND);
    const stoppedAt = harness.clock.now();
    harness.stopper.abort();
    const result = await harness.clock.runUntilSettled(harness.done);
    expect(result).toEqual({ runs: 1, skipped: 0, errors: 0 });
    // Default grace 3000 ms, margin 250 ms. The run's deadline (one interval) has not come yet.
    expect(aborted).toBe(stoppedAt + 3000);
    expect(harness.resolvedAt()).toBe(stoppedAt + 3250);
    expect((harness.runs[0]!.signal.reason as DOMException).name).toBe('AbortError');
  });

  it('stopGraceMs 0: the run signal aborts as soon as stop does', async () => {
    const harness = start({ stopGraceMs: 0, stopMarginMs: 0, work: (tick, _i, clock) => clock.sleep(MINUTE, tick.signal) });
    await harness.clock.runUntil(() => harness.runs.length === 1);
    await harness.clock.advance(SECOND);
    harness.stopper.abort();
    await harness.clock.runUntilSettled(harness.done);
    expect(harness.runs[0]!.endedAt).toBe(FIRST + SECOND);
    expect(harness.resolvedAt()).toBe(FIRST + SECOND);
  });

  it('does nothing when stop is already aborted', async () => {
    const clock = new FakeClock();
    const stopper = new AbortController();
    stopper.abort();
    let runs = 0;
    const result = await runSchedule({ intervalMs: MINUTE, clock, stop: stopper.signal, once: true, run: async () => void runs++ });
    expect(result).toEqual({ runs: 0, skipped: 0, errors: 0 });
    expect(runs).toBe(0);
  });
});

describe('runSchedule: clock jumps', () => {
  it('forward by hours during a sleep: re-aligns to the next boundary, counts the skipped ones, no catch-up burst', async () => {
    const harness = start({ work: (_tick, _i, clock) => clock.sleep(SECOND) });
    await harness.clock.runUntil(() => harness.runs.length === 1);
    await harness.clock.advance(10 * SECOND);
    harness.clock.set(harness.clock.now() + 3 * HOUR + 30 * SECOND);
    await runTicks(harness, 3);
    // The pending 49 s sleep ends at FIRST + 3 h + 60 s + 30 s by the new clock: boundaries up to FIRST + 3 h + 1 min
    // passed unseen, so it waits for FIRST + 3 h + 2 min.
    expect(harness.runs.map((run) => [(run.scheduledAt - FIRST) / MINUTE, run.skipped, run.startedAt - run.scheduledAt])).toEqual([
      [0, 0, 0],
      [182, 181, 0],
      [183, 0, 0],
    ]);
    expect(harness.result()!.skipped).toBe(181);
  });

  it('forward by less than an interval during a sleep: runs the due tick late rather than skip it', async () => {
    const harness = start({ work: (_tick, _i, clock) => clock.sleep(SECOND) });
    await harness.clock.runUntil(() => harness.runs.length === 1);
    await harness.clock.advance(10 * SECOND);
    harness.clock.set(harness.clock.now() + 20 * SECOND);
    await runTicks(harness, 3);
    expect(harness.runs.map((run) => [(run.scheduledAt - FIRST) / MINUTE, run.skipped, run.startedAt - run.scheduledAt])).toEqual([
      [0, 0, 0],
      [1, 0, 20 * SECOND],
      [2, 0, 0],
    ]);
  });

  it('forward during a run: the next run is on the next boundary of the new time', async () => {
    const harness = start({
      work: async (_tick, i, clock) => {
        await clock.sleep(SECOND);
        if (i === 0) clock.set(clock.now() + HOUR);
      },
    });
    await runTicks(harness, 2);
    expect(harness.runs.map((run) => [(run.scheduledAt - FIRST) / MINUTE, run.skipped])).toEqual([
      [0, 0],
      [61, 60],
    ]);
  });

  it('back by hours during a sleep: notices within one slice, runs within the interval after, never sleeps long or spins', async () => {
    const harness = start({ work: (_tick, _i, clock) => clock.sleep(SECOND) });
    await harness.clock.runUntil(() => harness.runs.length === 1);
    await harness.clock.advance(10 * SECOND);
    const jumpAt = harness.clock.now();
    harness.clock.set(jumpAt - 5 * HOUR);
    const callsBefore = harness.clock.sleepCalls;
    const monotonicBefore = harness.clock.now();
    await harness.clock.runUntil(() => harness.runs.length === 2);

    const run = harness.runs[1]!;
    // The pending sleep (49 s left) ends at FIRST + 60 s - 5 h, itself a boundary; the next one after it runs.
    expect(run.scheduledAt).toBe(FIRST - 5 * HOUR + 2 * MINUTE);
    expect(run.startedAt).toBe(run.scheduledAt);
    expect(run.skipped).toBe(0);
    expect(run.startedAt - monotonicBefore).toBeLessThanOrEqual(2 * MINUTE);
    // The sleep pending at the jump, then one of at most an interval: no hours-long sleep, no spin.
    const after = harness.clock.sleepRequests.slice(callsBefore).filter((s) => s.signal === harness.stopper.signal);
    expect(after.length).toBeLessThanOrEqual(2);
    expect(after.every((s) => s.ms > 0 && s.ms <= MINUTE)).toBe(true);

    await runTicks(harness, 4);
    expect(harness.runs.slice(1).map((r) => r.scheduledAt - run.scheduledAt)).toEqual([0, MINUTE, 2 * MINUTE]);
  });

  it('back by hours during a run: the next run comes within one interval of clock progression', async () => {
    let jumpedTo = 0;
    const harness = start({
      work: async (_tick, i, clock) => {
        await clock.sleep(SECOND);
        if (i === 0) clock.set((jumpedTo = clock.now() - 5 * HOUR));
      },
    });
    await runTicks(harness, 3);
    expect(harness.runs[1]!.scheduledAt).toBe(nextBoundary(jumpedTo, MINUTE));
    expect(harness.runs[1]!.startedAt - jumpedTo).toBeLessThanOrEqual(MINUTE);
    expect(harness.runs[2]!.scheduledAt - harness.runs[1]!.scheduledAt).toBe(MINUTE);
  });

  it('back by a few seconds just after a run: waits for the following boundary instead of running the same one twice', async () => {
    const harness = start({
      work: async (_tick, i, clock) => {
        if (i === 0) clock.set(clock.now() - 2 * SECOND);
      },
    });
    await runTicks(harness, 3);
    expect(harness.runs.map((run) => run.scheduledAt - FIRST)).toEqual([0, MINUTE, 2 * MINUTE]);
    expect(harness.runs.map((run) => run.skipped)).toEqual([0, 0, 0]);
  });

  it('with a long interval, sleeps in slices (maxSleepMs) so a jump is noticed early', async () => {
    const harness = start({ intervalMs: HOUR, maxSleepMs: MINUTE });
    await harness.clock.runUntil(() => harness.runs.length === 1);
    const loopSleeps = harness.clock.sleepRequests.filter((s) => s.signal === harness.stopper.signal);
    expect(loopSleeps.every((s) => s.ms <= MINUTE)).toBe(true);
    // Jump forward by 30 min mid-hour: the next run is still on the hour by the new clock, not 30 min late.
    await harness.clock.advance(10 * MINUTE);
    harness.clock.set(harness.clock.now() + 30 * MINUTE);
    await harness.clock.runUntil(() => harness.runs.length === 2);
    expect(harness.runs[1]!.startedAt).toBe(harness.runs[0]!.scheduledAt + HOUR);
  });
});

describe('runSchedule: once and immediate', () => {
  it('once: runs one tick right away, for the last boundary, then resolves', async () => {
    const clock = new FakeClock({ start: START });
    const ticks: Array<[number, number]> = [];
    const result = await clock.runUntilSettled(
      runSchedule({
        intervalMs: MINUTE,
        clock,
        stop: new AbortController().signal,
        once: true,
        run: async (tick) => void ticks.push([tick.scheduledAt, clock.now()]),
      }),
    );
    expect(result).toEqual({ runs: 1, skipped: 0, errors: 0 });
    expect(ticks).toEqual([[FIRST - MINUTE, START]]);
    expect(clock.now()).toBe(START);
    expect(clock.pendingSleeps).toBe(0);
  });

  it('once: a failing run is counted and reported, not thrown', async () => {
    const clock = new FakeClock({ start: START });
    const errors: unknown[] = [];
    const result = await runSchedule({
      intervalMs: MINUTE,
      clock,
      stop: new AbortController().signal,
      once: true,
      run: async () => {
        throw new Error('boom');
      },
      onError: (error) => errors.push(error),
    });
    expect(result).toEqual({ runs: 1, skipped: 0, errors: 1 });
    expect(errors).toHaveLength(1);
  });

  it('immediate: runs once right away, then on boundaries', async () => {
    const harness = start({ immediate: true, offsetMs: 30 * SECOND, work: (_tick, _i, clock) => clock.sleep(5 * SECOND) });
    await runTicks(harness, 3);
    expect(
      harness.runs.map((run) => [new Date(run.scheduledAt).toISOString(), new Date(run.startedAt).toISOString(), run.skipped]),
    ).toEqual([
      ['2023-12-31T23:59:30.000Z', '2024-01-01T00:00:17.123Z', 0],
      ['2024-01-01T00:00:30.000Z', '2024-01-01T00:00:30.000Z', 0],
      ['2024-01-01T00:01:30.000Z', '2024-01-01T00:01:30.000Z', 0],
    ]);
  });

  it('immediate: a first run that overruns skips like any other', async () => {
    const harness = start({ immediate: true, work: (_tick, i, clock) => clock.sleep(i === 0 ? 2 * MINUTE : 0) });
    await runTicks(harness, 2);
    expect(harness.runs.map((run) => [run.scheduledAt - FIRST, run.skipped])).toEqual([
      [-MINUTE, 0],
      [2 * MINUTE, 2],
    ]);
  });
});
