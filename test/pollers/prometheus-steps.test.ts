// Windows as query_range requests: every step of [start, end) exactly once, at most 11,000 points per request.
import { describe, expect, it } from 'vitest';
import { splitRange } from '../../lib/run/time-window.ts';
import { stepRanges, stepsIn } from '../../pollers/prometheus/steps.ts';

const T0 = 1_796_169_600; // a multiple of 86400

/** Every evaluation time the requests ask for (query_range includes both ends). */
function evaluationTimes(ranges: ReturnType<typeof stepRanges>): number[] {
  const times: number[] = [];
  for (const range of ranges) for (let t = range.start; t <= range.end; t += range.step) times.push(t);
  return times;
}

describe('stepRanges', () => {
  it("asks for the window's steps only: start included, end excluded (query_range includes its end)", () => {
    expect(stepRanges({ start: T0, end: T0 + 60 }, 15)).toEqual([{ start: T0, end: T0 + 45, step: 15, points: 4 }]);
    // One step: start = end, one evaluation.
    expect(stepRanges({ start: T0, end: T0 + 60 }, 60)).toEqual([{ start: T0, end: T0, step: 60, points: 1 }]);
  });

  it('aligns unaligned windows to multiples of the step counted from the epoch', () => {
    // [T0+10, T0+50) holds the multiples T0+15, T0+30, T0+45.
    expect(stepRanges({ start: T0 + 10, end: T0 + 50 }, 15)).toEqual([{ start: T0 + 15, end: T0 + 45, step: 15, points: 3 }]);
    // A window with no multiple of the step in it asks for nothing.
    expect(stepRanges({ start: T0 + 1, end: T0 + 14 }, 15)).toEqual([]);
  });

  it('splits a window of more than 11,000 steps into requests of at most 11,000 points, no gap, no overlap', () => {
    const window = { start: T0, end: T0 + 3 * 86400 }; // 17,280 steps of 15 s
    const ranges = stepRanges(window, 15);
    expect(ranges).toEqual([
      { start: T0, end: T0 + 10_999 * 15, step: 15, points: 11_000 },
      { start: T0 + 11_000 * 15, end: T0 + 17_279 * 15, step: 15, points: 6_280 },
    ]);
    // Prometheus refuses (end - start) / step > 11,000: every request stays within it.
    for (const r of ranges) expect((r.end - r.start) / r.step).toBeLessThanOrEqual(11_000);
    expect(evaluationTimes(ranges)).toEqual(Array.from({ length: 17_280 }, (_, i) => T0 + i * 15));
  });

  it('exactly 11,000 steps are one request; 11,001 are two', () => {
    expect(stepRanges({ start: T0, end: T0 + 11_000 * 30 }, 30)).toHaveLength(1);
    expect(stepRanges({ start: T0, end: T0 + 11_001 * 30 }, 30).map((r) => r.points)).toEqual([11_000, 1]);
  });

  it('consecutive windows (live ticks, backfill windows of any size) return each instant exactly once', () => {
    const step = 30;
    const range = { start: T0 - 7, end: T0 + 2 * 86400 + 13 };
    for (const maxWindow of [30, 90, 3600, 86400, 400_000]) {
      const windows = splitRange(range.start, range.end, maxWindow, step);
      const times = windows.flatMap((w) => evaluationTimes(stepRanges(w, step)));
      const first = Math.floor(range.start / step) * step;
      const last = Math.ceil(range.end / step) * step;
      expect(times, `maxWindow ${maxWindow}`).toEqual(Array.from({ length: (last - first) / step }, (_, i) => first + i * step));
    }
  });

  it('refuses a step that is not positive', () => {
    expect(() => stepRanges({ start: T0, end: T0 + 60 }, 0)).toThrow(/step/);
  });

  it('stepsIn counts the steps of a window (at least one)', () => {
    expect(stepsIn(86400, 15)).toBe(5760);
    expect(stepsIn(10, 60)).toBe(1);
  });
});
