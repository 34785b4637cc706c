// Live windows and range splitting: aligned, gap-free, never more than the source allows.
import { describe, expect, it } from 'vitest';
import { catchUpWindows } from '../../../lib/run/catch-up.ts';
import { liveWindow, splitRange } from '../../../lib/run/time-window.ts';

describe('liveWindow', () => {
  it('ends at the aligned tick minus delay and reaches back lookback (at least one interval)', () => {
    expect(liveWindow(1_000_000_030, { interval: 60, delay: 0, lookback: 0 })).toEqual({ start: 999_999_960, end: 1_000_000_020 });
    expect(liveWindow(1_000_000_020, { interval: 60, delay: 120, lookback: 600 }, 60)).toEqual({ start: 999_999_300, end: 999_999_900 });
  });

  it('consecutive ticks leave no gap', () => {
    const schedule = { interval: 300, delay: 180, lookback: 0 };
    let previous = liveWindow(1_700_000_000, schedule, 60);
    for (let t = 1_700_000_300; t < 1_700_100_000; t += 300) {
      const next = liveWindow(t, schedule, 60);
      expect(next.start).toBeLessThanOrEqual(previous.end);
      previous = next;
    }
  });
});

describe('splitRange', () => {
  it('splits an evenly dividing range exactly', () => {
    expect(splitRange(0, 3600, 1200, 60)).toEqual([
      { start: 0, end: 1200 },
      { start: 1200, end: 2400 },
      { start: 2400, end: 3600 },
    ]);
  });

  it('widens to whole steps and shortens the last window', () => {
    expect(splitRange(30, 3000, 1200, 60)).toEqual([
      { start: 0, end: 1200 },
      { start: 1200, end: 2400 },
      { start: 2400, end: 3000 },
    ]);
  });

  it('never exceeds maxWindow, even when it is not a multiple of the step', () => {
    for (const w of splitRange(0, 100_000, 1000, 60)) expect(w.end - w.start).toBeLessThanOrEqual(1000);
  });
});

describe('catchUpWindows', () => {
  const limits = { catchUp: 3600, retention: 86400, maxWindow: 600, step: 60 };
  it('covers the gap from the watermark to the live window', () => {
    expect(catchUpWindows(10_000 * 60, 10_000 * 60 + 1500, 10_000 * 60 + 1600, limits).map((w) => [w.start, w.end])).toEqual([
      [600_000, 600_600],
      [600_600, 601_200],
      [601_200, 601_500],
    ]);
  });

  it('never reaches further back than catchUp or retention', () => {
    const windows = catchUpWindows(0, 1_000_000, 1_000_000, limits);
    expect(windows[0]!.start).toBeGreaterThanOrEqual(1_000_000 - 3600);
    expect(catchUpWindows(0, 1_000_000, 1_000_000, { ...limits, retention: 600 })[0]!.start).toBeGreaterThanOrEqual(1_000_000 - 600);
  });

  it('is empty without a gap or without a watermark', () => {
    expect(catchUpWindows(1000, 1000, 2000, limits)).toEqual([]);
    expect(catchUpWindows(undefined, 1000, 2000, limits)).toEqual([]);
  });
});
