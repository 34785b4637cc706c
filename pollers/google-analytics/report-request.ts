// Which hours or days a report fetches for a window, as GA dates of the property's zone, and the request that asks for them.
import { startOfLocalDay, startOfLocalHour, type TimeWindow } from '../../lib/poller-kit/index.ts';
import { addDays, isoDateAt } from './ga-dates.ts';
import type { RunReportRequest } from './client.ts';
import type { ReportEntry } from './options.ts';
import { axisOf } from './report-mapping.ts';

/** GA4's Data API has no data before this date and rejects earlier start dates. */
export const EARLIEST_DATE = '2015-08-14';

/** Epoch seconds `[from, to)`: a point is written when the hour or day it describes starts in it. */
export interface PointRange {
  from: number;
  to: number;
}

/**
 * The points a report writes for a window. Backfill (and catch-up): exactly the window, so consecutive windows
 * write each point once. Live: also every hour or day overlapping the report's lookback, because GA revises
 * processed data for a day or two after the fact; Graphite overwrites the points it already has.
 */
export function pointRange(report: ReportEntry, window: TimeWindow, mode: 'live' | 'backfill', timeZone: string): PointRange {
  if (mode === 'backfill') return { from: window.start, to: window.end };
  const reach = window.end - report.lookback;
  const periodStart = report.granularity === 'hour' ? startOfLocalHour(reach, timeZone) : startOfLocalDay(reach, timeZone);
  return { from: Math.min(window.start, periodStart), to: window.end };
}

/** True when an hour (or day) of the report starts in `range`: otherwise the range holds none of its points. */
export function containsPeriodStart(report: ReportEntry, range: PointRange, timeZone: string): boolean {
  if (range.to <= range.from) return false;
  const last = report.granularity === 'hour' ? startOfLocalHour(range.to - 1, timeZone) : startOfLocalDay(range.to - 1, timeZone);
  return last >= range.from;
}

/** GA's inclusive `dateRanges` entry. */
export interface DateRange {
  startDate: string;
  endDate: string;
}

/**
 * The property-zone dates covering `range`. Before the first answer has told the property's zone, the dates are
 * widened by enough days to cover any zone on Earth (UTC−12 to UTC+14), and the points are cut to the range
 * once the answer names the zone.
 */
export function dateRangeFor(
  report: ReportEntry,
  window: TimeWindow,
  mode: 'live' | 'backfill',
  timeZone: string | undefined,
): DateRange | undefined {
  let startDate: string;
  let endDate: string;
  if (timeZone) {
    const range = pointRange(report, window, mode, timeZone);
    if (range.to <= range.from) return undefined;
    startDate = isoDateAt(range.from, timeZone);
    endDate = isoDateAt(range.to - 1, timeZone);
  } else {
    const from = mode === 'backfill' ? window.start : Math.min(window.start, window.end - report.lookback);
    if (window.end <= from) return undefined;
    startDate = addDays(isoDateAt(from, 'UTC'), -2);
    endDate = addDays(isoDateAt(window.end - 1, 'UTC'), 1);
  }
  if (endDate < EARLIEST_DATE) return undefined;
  return { startDate: startDate < EARLIEST_DATE ? EARLIEST_DATE : startDate, endDate };
}

/** One page of a report: the time axis first, then the report's dimensions, ordered so pages do not shift. */
export function reportRequest(report: ReportEntry, dates: DateRange, pageSize: number, offset: number): RunReportRequest {
  const axis = axisOf(report.granularity);
  const dimensions = [axis, ...report.dimensions];
  return {
    dateRanges: [dates],
    dimensions: dimensions.map((name) => ({ name })),
    metrics: report.metrics.map((name) => ({ name })),
    ...(report.dimensionFilter ? { dimensionFilter: report.dimensionFilter } : {}),
    orderBys: dimensions.map((dimensionName) => ({ dimension: { dimensionName } })),
    // int64 fields travel as strings in Google's JSON.
    limit: String(pageSize),
    ...(offset > 0 ? { offset: String(offset) } : {}),
    returnPropertyQuota: true,
  };
}
