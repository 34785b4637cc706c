// CloudWatch's retention tiers: which period a window's age allows, and how a window splits where the tier changes.
import type { TimeWindow } from '../../lib/poller-kit/index.ts';

const HOUR = 3600;
const DAY = 86400;

/**
 * What CloudWatch keeps (GetMetricData reference): periods under 60 s for 3 hours, 60 s for 15 days, 300 s
 * for 63 days, 3600 s for 455 days. A StartTime of a given age is rounded down by the API to the tier's unit,
 * and a period there must be a multiple of that unit.
 */
export const RETENTION_TIERS = [
  { maxAge: 3 * HOUR, unit: 1 },
  { maxAge: 15 * DAY, unit: 60 },
  { maxAge: 63 * DAY, unit: 300 },
  { maxAge: 455 * DAY, unit: 3600 },
] as const;

export const RETENTION_SECONDS = 455 * DAY;

/**
 * Safety margin on every tier boundary: a StartTime just inside a tier when the request is built may be past it
 * when CloudWatch reads it (a slow retry, a clock a little off). Erring towards the coarser tier costs a few
 * minutes of resolution at the boundary; erring the other way returns nothing for those periods.
 */
export const TIER_MARGIN = 600;

/** The tier unit for data starting at `startTime` as seen at `now` (epoch seconds); undefined once it is older than CloudWatch keeps. */
export function tierUnit(startTime: number, now: number): number | undefined {
  const age = now - startTime + TIER_MARGIN;
  return RETENTION_TIERS.find((tier) => age <= tier.maxAge)?.unit;
}

/**
 * The period to request: the configured one when the tier allows it, otherwise the smallest multiple of the
 * tier's unit that is not finer than the configured one (60 s configured, 20 days old → 300 s).
 */
export function periodFor(configured: number, unit: number): number {
  return configured <= unit ? unit : Math.ceil(configured / unit) * unit;
}

export interface TierSegment extends TimeWindow {
  /** The tier unit of the whole segment (that of its oldest second). */
  unit: number;
}

/**
 * `window` split where CloudWatch's resolution changes, each part with the unit its oldest second allows,
 * oldest first; the part older than CloudWatch's retention is dropped. Boundaries are whole hours, so every
 * period of every tier tiles its segment.
 */
export function tierSegments(window: TimeWindow, now: number): TierSegment[] {
  const cuts = RETENTION_TIERS.map((tier) => Math.ceil((now - tier.maxAge + TIER_MARGIN) / HOUR) * HOUR);
  const points = [window.start, ...cuts.filter((cut) => cut > window.start && cut < window.end), window.end].sort((a, b) => a - b);
  const segments: TierSegment[] = [];
  for (let i = 0; i + 1 < points.length; i++) {
    const start = points[i]!;
    const end = points[i + 1]!;
    const unit = tierUnit(start, now);
    if (unit === undefined || start >= end) continue;
    segments.push({ start, end, unit });
  }
  return segments;
}

/**
 * StartTime and EndTime of a request for every period that overlaps `[start, end)`: StartTime rounded down
 * and EndTime rounded up to the period. CloudWatch's own rounding of StartTime (by its age) then changes
 * nothing, and its buckets, which start at StartTime, fall on the period grid, so a value's timestamp is its
 * period's start. A period longer than the window, or straddling two windows, is fetched by each window it
 * overlaps (whisper keeps the last write, so the later, more complete value wins) and never skipped.
 */
export function alignedRange(start: number, end: number, period: number): { startTime: number; endTime: number } {
  return { startTime: Math.floor(start / period) * period, endTime: Math.ceil(end / period) * period };
}
