// Wall-clock times of an IANA time zone ↔ epoch seconds, with Intl only (a source's local days, backfill's date bounds).

/** A local calendar time in some zone: month 1–12, hour 0–23. */
export interface LocalTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let format = formatters.get(timeZone);
  if (!format) {
    // Throws RangeError for an unknown zone, which is what callers want to report.
    format = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, format);
  }
  return format;
}

/** True when `timeZone` is an IANA zone this Node.js knows. */
export function isValidTimeZone(timeZone: string): boolean {
  try {
    formatter(timeZone);
    return true;
  } catch {
    return false;
  }
}

/** The local calendar time in `timeZone` at `epochSeconds`. */
export function localTimeAt(epochSeconds: number, timeZone: string): LocalTime {
  const parts: Record<string, number> = {};
  for (const part of formatter(timeZone).formatToParts(new Date(epochSeconds * 1000))) {
    if (part.type !== 'literal') parts[part.type] = Number(part.value);
  }
  return { year: parts.year!, month: parts.month!, day: parts.day!, hour: parts.hour!, minute: parts.minute! };
}

/** Seconds the zone is ahead of UTC at `epochSeconds` (negative west of Greenwich). */
export function utcOffsetAt(epochSeconds: number, timeZone: string): number {
  const t = Math.floor(epochSeconds / 60) * 60;
  const local = localTimeAt(t, timeZone);
  return Date.UTC(local.year, local.month - 1, local.day, local.hour, local.minute) / 1000 - t;
}

/**
 * The epoch seconds at which the zone's clocks show `local`. A time that occurs twice (the hour repeated when
 * DST ends) gives its first occurrence; a time that never occurs (skipped when DST starts) gives the instant the
 * clocks jumped past it, so it still sorts between its neighbours.
 */
export function epochOfLocalTime(local: LocalTime, timeZone: string): number {
  const asIfUtc = Date.UTC(local.year, local.month - 1, local.day, local.hour, local.minute) / 1000;
  // The zone's offsets a day either side cover any transition near this time (no zone changes twice in a day).
  const offsets = new Set([utcOffsetAt(asIfUtc - 86400, timeZone), utcOffsetAt(asIfUtc, timeZone), utcOffsetAt(asIfUtc + 86400, timeZone)]);
  const matches: number[] = [];
  for (const offset of offsets) {
    const candidate = asIfUtc - offset;
    if (utcOffsetAt(candidate, timeZone) === offset) matches.push(candidate);
  }
  if (matches.length > 0) return Math.min(...matches);
  // In a gap: the earlier offset moves the time forward over the jump.
  return asIfUtc - utcOffsetAt(asIfUtc - 86400, timeZone);
}

/** Start (epoch seconds) of the zone's hour containing `epochSeconds` (half-hour zones included). */
export function startOfLocalHour(epochSeconds: number, timeZone: string): number {
  const local = localTimeAt(epochSeconds, timeZone);
  const start = epochOfLocalTime({ ...local, minute: 0 }, timeZone);
  // In the repeated hour after DST ends, the first occurrence is an hour too early for the second.
  return start <= epochSeconds && epochSeconds - start < 3600 ? start : Math.floor(epochSeconds / 60) * 60 - local.minute * 60;
}

/** Start (epoch seconds) of the zone's day containing `epochSeconds`. */
export function startOfLocalDay(epochSeconds: number, timeZone: string): number {
  const { year, month, day } = localTimeAt(epochSeconds, timeZone);
  return epochOfLocalTime({ year, month, day, hour: 0, minute: 0 }, timeZone);
}

/** The next midnight in `timeZone` strictly after `epochSeconds`. */
export function nextLocalMidnight(epochSeconds: number, timeZone: string): number {
  const { year, month, day } = localTimeAt(epochSeconds, timeZone);
  const tomorrow = new Date(Date.UTC(year, month - 1, day + 1));
  return epochOfLocalTime(
    { year: tomorrow.getUTCFullYear(), month: tomorrow.getUTCMonth() + 1, day: tomorrow.getUTCDate(), hour: 0, minute: 0 },
    timeZone,
  );
}
