// A window [start, end) as query_range requests: the evaluation times inside it, at most 11,000 per request.
import type { TimeWindow } from '../../lib/poller-kit/index.ts';
import { MAX_POINTS_PER_SERIES } from './options.ts';

/** One query_range request: Prometheus evaluates at start, start + step, … up to end, both ends included. */
export interface StepRange {
  readonly start: number;
  readonly end: number;
  readonly step: number;
  /** Evaluation times in it: (end - start) / step + 1. */
  readonly points: number;
}

/**
 * The requests that return every multiple of `step` in the half-open window [start, end) exactly once: the
 * first is the window's first multiple of step, the last one step before the end's (query_range includes its
 * end, the window does not). Times are multiples of the step counted from the epoch, as a live tick, a catch-up
 * window and a backfill window all align them, so the same instant always gets the same timestamp. A window of
 * more than `maxPoints` steps is cut into consecutive requests of at most `maxPoints` evaluation times each.
 */
export function stepRanges(window: TimeWindow, step: number, maxPoints = MAX_POINTS_PER_SERIES): StepRange[] {
  if (!(step > 0) || !(maxPoints >= 1)) throw new Error(`stepRanges: step (${step}) and maxPoints (${maxPoints}) must be positive`);
  const first = Math.ceil(window.start / step) * step;
  const last = Math.ceil(window.end / step) * step - step;
  const ranges: StepRange[] = [];
  for (let start = first; start <= last; start += maxPoints * step) {
    const end = Math.min(last, start + (maxPoints - 1) * step);
    ranges.push({ start, end, step, points: Math.round((end - start) / step) + 1 });
  }
  return ranges;
}

/** Evaluation times a window of `seconds` holds at `step` (what --plan counts). */
export function stepsIn(seconds: number, step: number): number {
  return Math.max(1, Math.ceil(seconds / step));
}
