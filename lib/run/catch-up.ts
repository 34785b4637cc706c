// Which past windows a live job must fetch again to close the gap since its watermark.
import type { Poller, TimeWindow } from '../poller-kit/contract.ts';
import { splitRange } from './time-window.ts';

export interface CatchUpLimits {
  /** The job's `catchUp` option: the longest gap (seconds) filled automatically; 0 = never. */
  catchUp: number;
  /** The source's retention (seconds): older data no longer exists there. */
  retention: number;
  maxWindow: number;
  step: number;
}

export function catchUpLimits(
  poller: Poller,
  options: Record<string, unknown>,
  catchUp: number,
  interval: number,
): CatchUpLimits | undefined {
  const history = poller.history;
  if (!history || catchUp <= 0) return undefined;
  return {
    catchUp,
    retention: history.retention(options),
    maxWindow: history.maxWindow(options),
    step: history.step?.(options) ?? interval,
  };
}

/**
 * The windows between the watermark and the start of the live window, oldest first, never reaching further
 * back than `catchUp` or the source's retention. Empty when there is no gap.
 */
export function catchUpWindows(watermark: number | undefined, liveStart: number, nowSeconds: number, limits: CatchUpLimits): TimeWindow[] {
  if (watermark === undefined || watermark >= liveStart) return [];
  const oldest = nowSeconds - Math.min(limits.catchUp, limits.retention);
  const start = Math.max(watermark, oldest);
  if (start >= liveStart) return [];
  // Round the start up to a step so the first window does not reach before the bound.
  const aligned = Math.ceil(start / limits.step) * limits.step;
  const from = watermark >= oldest ? Math.floor(watermark / limits.step) * limits.step : aligned;
  return splitRange(from, liveStart, limits.maxWindow, limits.step).filter((w) => w.start < liveStart);
}

/**
 * The older part of the gap that catch-up leaves out (`catchUp` or the source's retention is shorter than the gap):
 * `[watermark, first window catch-up fetches)`, or undefined when catch-up covers the whole gap. A backfill fills it.
 */
export function clippedGap(
  watermark: number | undefined,
  liveStart: number,
  nowSeconds: number,
  limits: CatchUpLimits,
): TimeWindow | undefined {
  if (watermark === undefined || watermark >= liveStart) return undefined;
  const oldest = nowSeconds - Math.min(limits.catchUp, limits.retention);
  if (watermark >= oldest) return undefined;
  const first = catchUpWindows(watermark, liveStart, nowSeconds, limits)[0];
  return { start: watermark, end: first ? first.start : liveStart };
}
