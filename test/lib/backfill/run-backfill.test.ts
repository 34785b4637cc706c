// The backfill runner apart from any real source: exact windows, concurrency bound, resume, failures.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runBackfill, type BackfillOptions, type WaitingState } from '../../../lib/backfill/run-backfill.ts';
import { BackfillProgress } from '../../../lib/backfill/progress-records.ts';
import { systemClock } from '../../../lib/poller-kit/clock.ts';
import { GraphiteSink } from '../../../lib/graphite/sink.ts';
import { silentLogger } from '../../../lib/poller-kit/logger.ts';
import type { JobContext } from '../../../lib/run/poll-window.ts';
import { StatsCollector } from '../../../lib/run/self-metrics.ts';
import { FakeClock } from '../../helpers/fake-clock.ts';
import { createHistoryPoller, historyValue, type HistoryPollerOptions } from '../../helpers/history-poller.ts';
import { MemoryWriter } from '../../helpers/memory-writer.ts';
import { tempDir } from '../../helpers/temp-dir.ts';

const DAY = Date.UTC(2026, 0, 10) / 1000;

/** A writer whose queue stays "full": ready() waits until open(). */
class FullQueueWriter extends MemoryWriter {
  private opened = false;
  private openers: Array<() => void> = [];
  readyCalls = 0;

  override ready(): Promise<void> {
    this.readyCalls++;
    return this.opened ? Promise.resolve() : new Promise((resolve) => this.openers.push(resolve));
  }

  open(): void {
    this.opened = true;
    for (const resolve of this.openers.splice(0)) resolve();
  }
}

/** A Graphite that takes lines only when the test says so, a few at a time. */
class TrickleWriter extends MemoryWriter {
  constructor() {
    super();
    this.hold();
  }

  take(lines: number): void {
    this.deliver(lines);
  }
}

type TestWriter = MemoryWriter | TrickleWriter;

function setup<W extends TestWriter = MemoryWriter>(pollerOptions: HistoryPollerOptions = {}, writer: W = new MemoryWriter() as W) {
  const poller = createHistoryPoller(pollerOptions);
  const job: JobContext = {
    poller,
    job: 'hist',
    options: {},
    schedule: { interval: 60, delay: 0, lookback: 0 },
    sink: new GraphiteSink(writer),
    stats: new StatsCollector(),
    log: silentLogger,
    clock: systemClock,
    fetch: globalThis.fetch,
  };
  const run = (extra: Partial<BackfillOptions> = {}) =>
    runBackfill({
      job,
      writer,
      range: { start: DAY, end: DAY + 3600 },
      maxWindow: 600,
      step: 60,
      concurrency: 4,
      stop: new AbortController().signal,
      clock: systemClock,
      ...extra,
    });
  return { poller, writer, run };
}

describe('runBackfill', () => {
  it('asks for exact windows when the range divides evenly', async () => {
    const { poller, writer, run } = setup();
    const summary = await run({ concurrency: 1 });
    expect(poller.calls.map((c) => [c.start - DAY, c.end - DAY, c.mode])).toEqual(
      [0, 600, 1200, 1800, 2400, 3000].map((s) => [s, s + 600, 'backfill']),
    );
    expect(summary).toMatchObject({ windows: 6, fetched: 6, failed: [], datapoints: 60, alreadyDone: 0, interrupted: false });
    expect(writer.series()['history.s0']).toEqual(Array.from({ length: 60 }, (_, i) => [DAY + i * 60, historyValue(DAY + i * 60)]));
  });

  it('widens an uneven range to whole steps and shortens the last window', async () => {
    const { poller, run } = setup();
    await run({ range: { start: DAY + 30, end: DAY + 1290 }, concurrency: 1 });
    expect(poller.calls.map((c) => [c.start - DAY, c.end - DAY])).toEqual([
      [0, 600],
      [600, 1200],
      [1200, 1320],
    ]);
  });

  it('never runs more windows at once than the concurrency', async () => {
    let running = 0;
    let peak = 0;
    const { run } = setup({
      work: async () => {
        running++;
        peak = Math.max(peak, running);
        await new Promise((r) => setTimeout(r, 5));
        running--;
      },
    });
    await run({ range: { start: DAY, end: DAY + 86400 }, concurrency: 3 });
    expect(peak).toBe(3);
  });

  it('retries a failing window, then reports it as failed', async () => {
    const clock = new FakeClock();
    const { poller, run } = setup({ failing: (w) => w.start === DAY + 1200 });
    const summary = await clock.runUntilSettled(run({ clock, attempts: 3 }));
    expect(summary.failed).toEqual([{ start: DAY + 1200, end: DAY + 1800 }]);
    expect(summary.fetched).toBe(5);
    expect(poller.calls.filter((c) => c.start === DAY + 1200)).toHaveLength(3);
    // Backoff between attempts: 1 s, then 4 s.
    expect(clock.sleepRequests.map((r) => r.ms)).toEqual([1000, 4000]);
  });

  it('a transient failure succeeds on retry', async () => {
    const clock = new FakeClock();
    const { run } = setup({ failing: (w, attempt) => w.start === DAY && attempt === 1 });
    const summary = await clock.runUntilSettled(run({ clock }));
    expect(summary.failed).toEqual([]);
    expect(summary.fetched).toBe(6);
  });

  it('resumes after a crash: no recorded window fetched twice, none missed', async () => {
    const dir = tempDir('backfill');
    const range = { start: DAY, end: DAY + 86400 };
    const first = setup();
    const progress1 = BackfillProgress.forJob(dir, 'hist', Date.now);
    progress1.begin('cmd', range, false);
    // "Crash" after 10 windows: the stop is the closest a unit test gets to kill -9, since recorded windows
    // are only those whose lines were handed off, and the record is written at once.
    const stop = new AbortController();
    let delivered = 0;
    await first.run({
      range,
      concurrency: 2,
      stop: stop.signal,
      isDone: (w) => progress1.isDone(w),
      onDelivered: (w) => {
        progress1.markDone(w);
        if (++delivered === 10) stop.abort();
      },
    });
    const recorded = first.poller.calls.filter((c) => progress1.isDone(c)).map((c) => c.start);
    expect(recorded.length).toBeGreaterThanOrEqual(10);
    expect(recorded.length).toBeLessThan(144);

    const second = setup();
    const progress2 = BackfillProgress.forJob(dir, 'hist', Date.now);
    const begun = progress2.begin('cmd', { start: range.start + 500, end: range.end + 500 }, false);
    expect(begun).toMatchObject({ resumed: true, range, alreadyDone: recorded.length });
    const summary = await second.run({ range: begun.range, isDone: (w) => progress2.isDone(w), onDelivered: (w) => progress2.markDone(w) });
    const again = second.poller.calls.map((c) => c.start);
    expect(again.filter((s) => recorded.includes(s))).toEqual([]);
    expect(new Set([...recorded, ...again]).size).toBe(144);
    expect(summary).toMatchObject({ windows: 144, alreadyDone: recorded.length, fetched: 144 - recorded.length, failed: [] });
    progress2.finish(true);

    // A finished record does not make the next run of the same command skip anything.
    expect(BackfillProgress.forJob(dir, 'hist', Date.now).begin('cmd', range, false).resumed).toBe(false);
  });

  it('does not record a window while the queue dropped points', async () => {
    const { writer, run } = setup();
    const delivered: number[] = [];
    writer.dropNext(3);
    await run({ concurrency: 1, onDelivered: (w) => delivered.push(w.start) });
    expect(delivered).not.toContain(DAY);
    expect(delivered).toHaveLength(5);
  });

  it('writes no record before a window is done (a run stopped by its configuration leaves no state)', () => {
    const dir = tempDir('backfill');
    const progress = BackfillProgress.forJob(dir, 'hist', Date.now);
    progress.begin('cmd', { start: DAY, end: DAY + 3600 }, false);
    expect(existsSync(progress.file)).toBe(false);
    progress.markDone({ start: DAY, end: DAY + 600 });
    expect(existsSync(progress.file)).toBe(true);
  });

  it('--restart and another command start over', () => {
    const dir = tempDir('backfill');
    const range = { start: DAY, end: DAY + 3600 };
    const progress = BackfillProgress.forJob(dir, 'hist', Date.now);
    progress.begin('cmd', range, false);
    progress.markDone({ start: DAY, end: DAY + 600 });
    expect(BackfillProgress.forJob(dir, 'hist', Date.now).begin('cmd', range, true).resumed).toBe(false);
    const again = BackfillProgress.forJob(dir, 'hist', Date.now);
    again.begin('cmd', range, false);
    again.markDone({ start: DAY, end: DAY + 600 });
    expect(BackfillProgress.forJob(dir, 'hist', Date.now).begin('other', range, false).resumed).toBe(false);
  });

  describe('while Graphite does not take the lines', () => {
    const waitedFor = (states: WaitingState[]) => states.map((s) => [s.done, s.queued, s.waitedMs]);

    it('says so at its cadence after the last window, then gives up at deliveryTimeoutMs without recording a window', async () => {
      const clock = new FakeClock();
      const { writer, run } = setup();
      writer.hold();
      const waiting: WaitingState[] = [];
      const delivered: number[] = [];
      const onWaiting = (s: WaitingState) => waiting.push(s);
      const summary = await clock.runUntilSettled(
        run({ clock, deliveryTimeoutMs: 120_000, waitingEveryMs: 10_000, onWaiting, onDelivered: (w) => delivered.push(w.start) }),
      );
      // Every 10 s until the timeout: all 6 windows fetched, their 60 lines still queued.
      expect(waitedFor(waiting)).toEqual(Array.from({ length: 11 }, (_, i) => [6, 60, (i + 1) * 10_000]));
      expect(waiting[0]).toMatchObject({ total: 6, datapoints: 60, failed: 0 });
      expect(summary).toMatchObject({ fetched: 6, failed: [], interrupted: false, undelivered: 6, deliveryTimedOut: true });
      expect(clock.now() - Date.UTC(2024, 0, 1)).toBe(120_000);
      // Lines Graphite takes after the run gave up do not record their windows: the summary said they were not.
      writer.release();
      await clock.flush();
      expect(delivered).toEqual([]);
      expect(clock.pendingSleeps).toBe(0);
    });

    it('stops saying so once Graphite takes the lines, and records every window', async () => {
      const clock = new FakeClock();
      const { writer, run } = setup();
      writer.hold();
      const waiting: WaitingState[] = [];
      const delivered: number[] = [];
      const onWaiting = (s: WaitingState) => waiting.push(s);
      const onDelivered = (w: { start: number }) => delivered.push(w.start);
      const running = run({ clock, deliveryTimeoutMs: 120_000, waitingEveryMs: 10_000, onWaiting, onDelivered });
      await clock.runUntil(() => waiting.length === 3);
      writer.release();
      const summary = await clock.runUntilSettled(running);
      expect(waitedFor(waiting)).toEqual([10_000, 20_000, 30_000].map((ms) => [6, 60, ms]));
      expect(summary).toMatchObject({ fetched: 6, undelivered: 0, deliveryTimedOut: false });
      expect(delivered).toHaveLength(6);
      expect(clock.pendingSleeps).toBe(0);
    });

    it('waits for a slow Graphite as long as it keeps taking lines, then gives up after deliveryTimeoutMs of none', async () => {
      const clock = new FakeClock();
      const writer = new TrickleWriter();
      const { run } = setup({}, writer);
      const waiting: WaitingState[] = [];
      const delivered: number[] = [];
      const onWaiting = (s: WaitingState) => waiting.push(s);
      const onDelivered = (w: { start: number }) => delivered.push(w.start);
      let settled = false;
      const running = run({ clock, deliveryTimeoutMs: 120_000, waitingEveryMs: 100_000, onWaiting, onDelivered });
      void running.finally(() => (settled = true));
      // 10 of the 60 lines every 100 s, four times: longer than the timeout in all, but never 120 s without one taken.
      for (let i = 0; i < 4; i++) {
        await clock.advance(100_000);
        writer.take(10);
      }
      // A fixed 120 s bound would have given up long ago.
      expect(settled).toBe(false);
      // Then nothing: the wait ends at the first check that finds no line taken since the one before (at 480 s and 600 s).
      const summary = await clock.runUntilSettled(running);
      expect(clock.now() - Date.UTC(2024, 0, 1)).toBe(600_000);
      expect(waitedFor(waiting)).toEqual([
        [6, 60, 100_000],
        [6, 50, 200_000],
        [6, 40, 300_000],
        [6, 30, 400_000],
        [6, 20, 500_000],
      ]);
      // The first four windows (10 lines each) were taken whole: recorded; the last two are not.
      expect(delivered).toEqual([DAY, DAY + 600, DAY + 1200, DAY + 1800]);
      expect(summary).toMatchObject({ fetched: 6, undelivered: 2, deliveryTimedOut: true });
    });

    it('says so while a full queue holds the next window back, and a stop ends that wait', async () => {
      const clock = new FakeClock();
      const writer = new FullQueueWriter();
      const { poller, run } = setup({}, writer);
      const stop = new AbortController();
      const waiting: WaitingState[] = [];
      const running = run({ clock, concurrency: 2, stop: stop.signal, waitingEveryMs: 10_000, onWaiting: (s) => waiting.push(s) });
      await clock.runUntil(() => waiting.length === 2);
      // One line per wait cadence, however many producers wait (two here), and nothing fetched meanwhile.
      expect(writer.readyCalls).toBe(2);
      expect(waitedFor(waiting)).toEqual([
        [0, 0, 10_000],
        [0, 0, 20_000],
      ]);
      stop.abort();
      const summary = await clock.runUntilSettled(running);
      expect(poller.calls).toEqual([]);
      expect(summary).toMatchObject({ fetched: 0, notStarted: 6, interrupted: true });
      expect(clock.pendingSleeps).toBe(0);
    });

    it('goes on once the queue has room again, and arms no timer for a queue with room', async () => {
      const clock = new FakeClock();
      const writer = new FullQueueWriter();
      const { run } = setup({}, writer);
      const waiting: WaitingState[] = [];
      const running = run({ clock, concurrency: 1, waitingEveryMs: 10_000, onWaiting: (s) => waiting.push(s) });
      await clock.runUntil(() => waiting.length === 1);
      writer.open();
      const sleepsBefore = clock.sleepCalls;
      const summary = await clock.runUntilSettled(running);
      expect(summary).toMatchObject({ fetched: 6, undelivered: 0 });
      expect(waiting).toHaveLength(1);
      // The five later windows found room at once: no cadence timer, no timeout.
      expect(clock.sleepCalls).toBe(sleepsBefore);
    });
  });
});
