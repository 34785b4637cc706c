// GA's date formats: `dateHour` and `date` (local to the property) to epoch seconds, and `YYYY-MM-DD` for dateRanges.
import { epochOfLocalTime, localTimeAt } from '../../lib/poller-kit/index.ts';

const DATE_HOUR = /^(\d{4})(\d{2})(\d{2})(\d{2})$/;
const DATE = /^(\d{4})(\d{2})(\d{2})$/;

/** GA's `dateHour` (`2026031102`, local to the property) → epoch seconds of the start of that hour. */
export function dateHourToEpoch(dateHour: string, timeZone: string): number | undefined {
  const m = DATE_HOUR.exec(dateHour);
  if (!m) return undefined;
  return epochOfLocalTime({ year: +m[1]!, month: +m[2]!, day: +m[3]!, hour: +m[4]!, minute: 0 }, timeZone);
}

/** GA's `date` (`20260311`, local to the property) → epoch seconds of that day's midnight (or first instant). */
export function dateToEpoch(date: string, timeZone: string): number | undefined {
  const m = DATE.exec(date);
  if (!m) return undefined;
  return epochOfLocalTime({ year: +m[1]!, month: +m[2]!, day: +m[3]!, hour: 0, minute: 0 }, timeZone);
}

/** `YYYY-MM-DD` of the zone's calendar day containing `epochSeconds`: GA's dateRanges format. */
export function isoDateAt(epochSeconds: number, timeZone: string): string {
  const { year, month, day } = localTimeAt(epochSeconds, timeZone);
  return `${String(year).padStart(4, '0')}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
}

/** `YYYY-MM-DD` moved by `days` calendar days. */
export function addDays(isoDate: string, days: number): string {
  const [y, m, d] = isoDate.split('-').map(Number) as [number, number, number];
  return new Date(Date.UTC(y, m - 1, d + days)).toISOString().slice(0, 10);
}
