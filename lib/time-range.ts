// Backfill bounds: ISO timestamps, dates (midnight in the source's time zone), `now`, `today`, `-7d`, `-36h`.
import { parseDuration } from './duration.ts';

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
    const today = zonedDate(nowMs, timeZone);
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

/** Calendar date of an instant in a time zone. */
export function zonedDate(ms: number, timeZone: string): { year: number; month: number; day: number } {
  const parts = new Intl.DateTimeFormat('en-US', { timeZone, year: 'numeric', month: 'numeric', day: 'numeric' }).formatToParts(ms);
  const get = (type: string) => Number(parts.find((p) => p.type === type)!.value);
  return { year: get('year'), month: get('month'), day: get('day') };
}

/** Offset of `timeZone` from UTC at an instant, in seconds (east positive). */
export function zoneOffsetSeconds(ms: number, timeZone: string): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
  }).formatToParts(ms);
  const get = (type: string) => Number(parts.find((p) => p.type === type)!.value);
  const asUtc = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'));
  return Math.round((asUtc - Math.floor(ms / 1000) * 1000) / 1000);
}

/** Epoch seconds of 00:00 on a calendar date in a time zone (month 1-12; days may overflow, as in Date.UTC). */
export function zonedMidnight(year: number, month: number, day: number, timeZone: string): number {
  const naive = Date.UTC(year, month - 1, day) / 1000;
  // Two passes settle the offset on both sides of a DST change.
  let guess = naive - zoneOffsetSeconds(naive * 1000, timeZone);
  guess = naive - zoneOffsetSeconds(guess * 1000, timeZone);
  return guess;
}

export function isValidTimeZone(timeZone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
    return true;
  } catch {
    return false;
  }
}
