// The live loop on a fake clock: boundaries, drift, overruns, failures, stop, deadlines and clock jumps.
import { describe, expect, it } from 'vitest';
import { lastBoundary, nextBoundary, runSchedule, type ScheduleOptions, type ScheduleResult, type Tick } from '../../lib/schedule.ts';
import { FakeClock } from '../helpers/fake-clock.ts';

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
