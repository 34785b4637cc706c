// The backfill runner apart from any real source: exact windows, concurrency bound, resume, failures.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runBackfill, type BackfillOptions } from '../../lib/backfill.ts';
import { BackfillProgress } from '../../lib/backfill-progress.ts';
import { systemClock } from '../../lib/clock.ts';
import { GraphiteSink } from '../../lib/graphite-sink.ts';
import { silentLogger } from '../../lib/log.ts';
import type { JobContext } from '../../lib/poll-window.ts';
import { StatsCollector } from '../../lib/self-metrics.ts';
import { FakeClock } from '../helpers/fake-clock.ts';
import { createHistoryPoller, historyValue, type HistoryPollerOptions } from '../helpers/history-poller.ts';
import { MemoryWriter } from '../helpers/memory-writer.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const DAY = Date.UTC(2026, 0, 10) / 1000;

function setup(pollerOptions: HistoryPollerOptions = {}) {
  const poller = createHistoryPoller(pollerOptions);
  const writer = new MemoryWriter();
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
    runBackfill({ job, writer, range: { start: DAY, end: DAY + 3600 }, maxWindow: 600, step: 60, concurrency: 4, stop: new AbortController().signal, clock: systemClock, ...extra });
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
});
