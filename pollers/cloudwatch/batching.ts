// Packing a window's queries into the fewest GetMetricData calls: at most 500 queries and 100,800 datapoints each.
import type { TimeWindow } from '../../lib/poller-kit/index.ts';
import { alignedRange, periodFor, tierSegments, type TierSegment } from './periods.ts';
import type { Series } from './series.ts';

/** GetMetricData's documented limits per call. */
export const CALL_LIMITS = { queries: 500, datapoints: 100_800 } as const;
export type CallLimits = { queries: number; datapoints: number };

export interface PlannedQuery {
  series: Series;
  /** The period requested, which the window's age may have made coarser than the configured one. */
  period: number;
}

/** One GetMetricData call: a time range aligned to every period in it, and its queries. */
export interface PlannedCall {
  startTime: number;
  endTime: number;
  queries: PlannedQuery[];
}

/**
 * The calls that fetch `window` for `series`. The window is split where CloudWatch's resolution changes
 * (tierSegments); within a part, the queries whose aligned range is the same share calls, packed in order up
 * to 500 queries and 100,800 datapoints per call. A query that alone exceeds the datapoint limit (only with
 * limits smaller than CloudWatch's) has its range cut in time first. A live window of Q queries at one
 * period therefore costs exactly ceil(Q / 500) calls.
 */
export function planCalls(
  series: readonly Series[],
  window: TimeWindow,
  nowSeconds: number,
  limits: CallLimits = CALL_LIMITS,
): PlannedCall[] {
  const calls: PlannedCall[] = [];
  for (const segment of mergeSamePeriods(tierSegments(window, nowSeconds), series)) {
    const groups = new Map<string, PlannedCall>();
    for (const s of series) {
      const period = periodFor(s.period, segment.unit);
      const range = alignedRange(segment.start, segment.end, period);
      const key = `${range.startTime}-${range.endTime}`;
      let group = groups.get(key);
      if (!group) groups.set(key, (group = { ...range, queries: [] }));
      group.queries.push({ series: s, period });
    }
    for (const group of groups.values()) {
      for (const part of splitInTime(group, limits.datapoints)) calls.push(...packQueries(part, limits));
    }
  }
  return calls;
}

/**
 * Joins neighbouring segments in which every series gets the same period (a window crossing the 3-hour
 * boundary matters only to periods under 60 s), so a tier boundary costs a call only where it changes
 * something. The joined segment keeps the older, coarser unit.
 */
function mergeSamePeriods(segments: TierSegment[], series: readonly Series[]): TierSegment[] {
  const merged: TierSegment[] = [];
  for (const segment of segments) {
    const previous = merged.at(-1);
    if (
      previous &&
      previous.end === segment.start &&
      series.every((s) => periodFor(s.period, previous.unit) === periodFor(s.period, segment.unit))
    ) {
      merged[merged.length - 1] = { ...previous, end: segment.end };
    } else {
      merged.push(segment);
    }
  }
  return merged;
}

export function datapointsOf(query: PlannedQuery, call: { startTime: number; endTime: number }): number {
  return Math.ceil((call.endTime - call.startTime) / query.period);
}

/** Greedy packing in order: a new call when the next query would pass either limit. */
function packQueries(group: PlannedCall, limits: CallLimits): PlannedCall[] {
  const calls: PlannedCall[] = [];
  let current: PlannedCall | undefined;
  let points = 0;
  for (const query of group.queries) {
    const n = datapointsOf(query, group);
    if (!current || current.queries.length >= limits.queries || points + n > limits.datapoints) {
      current = { startTime: group.startTime, endTime: group.endTime, queries: [] };
      calls.push(current);
      points = 0;
    }
    current.queries.push(query);
    points += n;
  }
  return calls;
}

/** Cuts a group's range into consecutive ranges in which even its finest query fits the datapoint limit. */
function splitInTime(group: PlannedCall, maxDatapoints: number): PlannedCall[] {
  const periods = group.queries.map((q) => q.period);
  const finest = Math.min(...periods);
  if ((group.endTime - group.startTime) / finest <= maxDatapoints) return [group];
  const unit = periods.reduce(lcm);
  const length = Math.max(unit, Math.floor((maxDatapoints * finest) / unit) * unit);
  const parts: PlannedCall[] = [];
  for (let start = group.startTime; start < group.endTime; start += length) {
    parts.push({ startTime: start, endTime: Math.min(start + length, group.endTime), queries: group.queries });
  }
  return parts;
}

export function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

export function lcm(a: number, b: number): number {
  return (a / gcd(a, b)) * b;
}
