// GA leaves out rows whose metrics are all 0: the hours and days of a report that had none, and the dimension values recently seen.
import { localTimeAt, nextLocalMidnight, startOfLocalDay, startOfLocalHour } from '../../lib/poller-kit/index.ts';
import { dateHourToEpoch } from './ga-dates.ts';

/** How long a dimension combination is remembered after its last row (data time): it gets 0s for that long. */
export const FILL_MEMORY_SECONDS = 7 * 86_400;
/** At most this many combinations are remembered per report (the most recently seen are kept). */
export const FILL_MEMORY_SIZE = 1000;

/**
 * Start of every hour (dateHour) or day (date) of the property's zone that starts in `[from, to)` and has ended by
 * `completeBy`: a period still under way (or in the future) is never filled, its row may still come. After DST ends
 * GA counts the repeated local hour as one dateHour, placed at its first occurrence: the second occurrence is no
 * period of its own; the hour skipped when DST starts has no dateHour at all.
 */
export function completePeriods(granularity: 'hour' | 'day', from: number, to: number, timeZone: string, completeBy: number): number[] {
  const starts: number[] = [];
  if (granularity === 'day') {
    let start = startOfLocalDay(from, timeZone);
    if (start < from) start = nextLocalMidnight(start, timeZone);
    for (; start < to; start = nextLocalMidnight(start, timeZone)) {
      if (nextLocalMidnight(start, timeZone) > completeBy) break;
      starts.push(start);
    }
    return starts;
  }
  let hour = startOfLocalHour(from, timeZone);
  if (hour < from) hour = startOfLocalHour(hour + 3600, timeZone);
  const hours: number[] = [];
  // One more than needed: the start of the next dateHour ends the last one.
  for (; hours.length === 0 || hours[hours.length - 1]! < to; hour = startOfLocalHour(hour + 3600, timeZone)) {
    const local = localTimeAt(hour, timeZone);
    const dateHour = `${local.year}${pad(local.month)}${pad(local.day)}${pad(local.hour)}`;
    if (dateHourToEpoch(dateHour, timeZone) === hour) hours.push(hour);
  }
  for (let i = 0; i + 1 < hours.length; i++) if (hours[i]! < to && hours[i + 1]! <= completeBy) starts.push(hours[i]!);
  return starts;
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

/**
 * The dimension combinations each report of a job has had rows for lately, by the data time of their last row:
 * a combination quiet for a while still gets its 0s, for FILL_MEMORY_SECONDS. Bounded: FILL_MEMORY_SIZE per report.
 */
export class RecentDimensions {
  readonly #reports = new Map<string, Map<string, number>>();

  /** Records that `combination` (JSON of its values) had a row at `at`. */
  remember(report: string, combination: string, at: number): void {
    let seen = this.#reports.get(report);
    if (!seen) this.#reports.set(report, (seen = new Map()));
    const last = seen.get(combination);
    if (last === undefined || at > last) seen.set(combination, at);
    if (seen.size > FILL_MEMORY_SIZE * 1.25) prune(seen);
  }

  /** Combinations whose last row is within FILL_MEMORY_SECONDS of `[from, to)`. */
  recent(report: string, from: number, to: number): string[] {
    const seen = this.#reports.get(report);
    if (!seen) return [];
    if (seen.size > FILL_MEMORY_SIZE) prune(seen);
    // Forget what is long past any window a job still asks for (a backfill walks its range in order).
    const newest = Math.max(...seen.values());
    for (const [combination, at] of seen) if (at < newest - 4 * FILL_MEMORY_SECONDS) seen.delete(combination);
    const near = ([, at]: [string, number]) => at >= from - FILL_MEMORY_SECONDS && at < to + FILL_MEMORY_SECONDS;
    return [...seen].filter(near).map(([combination]) => combination);
  }
}

/** Keeps the FILL_MEMORY_SIZE most recently seen combinations. */
function prune(seen: Map<string, number>): void {
  const kept = [...seen].sort((a, b) => b[1] - a[1]).slice(0, FILL_MEMORY_SIZE);
  seen.clear();
  for (const [combination, at] of kept) seen.set(combination, at);
}
