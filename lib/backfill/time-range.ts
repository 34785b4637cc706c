// Backfill bounds: ISO timestamps, dates (midnight in the source's time zone), `now`, `today`, `-7d`, `-36h`.
import { parseDuration } from '../poller-kit/duration.ts';
import { epochOfLocalTime, localTimeAt } from '../poller-kit/time-zone.ts';

const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/;
const RELATIVE = /^-(\d+(?:\.\d+)?\s*(?:s|m|h|d|w))$/;
const HAS_ZONE = /(Z|[+-]\d{2}:?\d{2})$/i;

/**
 * Epoch seconds for one bound, or undefined when `text` is not a time. A date alone means midnight in
 * `timeZone`; a timestamp without an offset is UTC; `-7d` counts back from now.
 */
export function parseTimeBound(text: string, nowMs: number, timeZone = 'UTC'): number | undefined {
  const value = text.trim();
  if (value === 'now') return Math.floor(nowMs / 1000);
  if (value === 'today' || value === 'yesterday') {
    const today = localTimeAt(Math.floor(nowMs / 1000), timeZone);
    const midnight = zonedMidnight(today.year, today.month, today.day, timeZone);
    return value === 'today' ? midnight : zonedMidnight(today.year, today.month, today.day - 1, timeZone);
  }
  const relative = RELATIVE.exec(value);
  if (relative) {
    const seconds = parseDuration(relative[1]!.replace(/\s+/g, ''));
    return seconds === undefined ? undefined : Math.floor(nowMs / 1000 - seconds);
  }
  const date = DATE_ONLY.exec(value);
  if (date) return zonedMidnight(Number(date[1]), Number(date[2]), Number(date[3]), timeZone);
  if (/^\d{4}-\d{2}-\d{2}T/.test(value)) {
    const ms = Date.parse(HAS_ZONE.test(value) ? value : `${value}Z`);
    return Number.isFinite(ms) ? Math.floor(ms / 1000) : undefined;
  }
  return undefined;
}

/** True when the bound's meaning depends on a time zone (dates, today, yesterday). */
export function needsTimeZone(text: string): boolean {
  const value = text.trim();
  return value === 'today' || value === 'yesterday' || DATE_ONLY.test(value);
}

/** Epoch seconds of 00:00 on a calendar date in a time zone (month 1-12; days may overflow, as in Date.UTC). */
export function zonedMidnight(year: number, month: number, day: number, timeZone: string): number {
  const date = new Date(Date.UTC(year, month - 1, day));
  return epochOfLocalTime(
    { year: date.getUTCFullYear(), month: date.getUTCMonth() + 1, day: date.getUTCDate(), hour: 0, minute: 0 },
    timeZone,
  );
}
