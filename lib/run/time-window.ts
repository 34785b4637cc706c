// Time windows: the live window of a tick, and a range split into the windows a source can serve.
import type { JobSchedule, TimeWindow } from '../poller-kit/contract.ts';

const floorTo = (t: number, step: number) => Math.floor(t / step) * step;
const ceilTo = (t: number, step: number) => Math.ceil(t / step) * step;

/**
 * The window a live tick asks for: `[tick - delay - lookback, tick - delay)` with the tick aligned down to
 * the interval and both ends aligned down to `step`. A lookback shorter than one interval counts as one
 * interval, so consecutive ticks cover time without gaps.
 */
export function liveWindow(tickSeconds: number, schedule: JobSchedule, step = schedule.interval): TimeWindow {
  const aligned = floorTo(tickSeconds, schedule.interval);
  const end = floorTo(aligned - schedule.delay, step);
  const length = Math.max(schedule.lookback, schedule.interval);
  const start = Math.min(floorTo(end - length, step), end - step);
  return { start, end };
}

/**
 * Splits `[start, end)` into consecutive windows of at most `maxWindow` seconds whose boundaries are
 * multiples of `step`: the range is widened outwards to whole steps, the last window may be shorter.
 */
export function splitRange(start: number, end: number, maxWindow: number, step: number): TimeWindow[] {
  if (!(step > 0) || !(maxWindow > 0)) throw new Error(`splitRange: step (${step}) and maxWindow (${maxWindow}) must be positive`);
  const size = Math.max(step, floorTo(maxWindow, step));
  const first = floorTo(start, step);
  const last = ceilTo(end, step);
  const windows: TimeWindow[] = [];
  for (let s = first; s < last; s += size) windows.push({ start: s, end: Math.min(s + size, last) });
  return windows;
}

export function windowKey(window: TimeWindow): string {
  return `${window.start}-${window.end}`;
}

export function formatWindow(window: TimeWindow): string {
  const iso = (t: number) => new Date(t * 1000).toISOString().replace('.000Z', 'Z');
  return `[${iso(window.start)}, ${iso(window.end)})`;
}
