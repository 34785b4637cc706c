// Durations in configs: a number of seconds, or a string with a unit (`30s`, `5m`, `48h`, `7d`).
import { z } from 'zod';

const UNIT_SECONDS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400, w: 604800 };
const DURATION = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$/;

/** Seconds in `value`, or undefined when it is not a duration. */
export function parseDuration(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const match = DURATION.exec(value);
  if (!match) return undefined;
  return Number(match[1]) * UNIT_SECONDS[match[2] ?? 's']!;
}

/**
 * The longest duration an option takes unless it says otherwise: a year. Beyond it a typo (`100000d`, `1e20`)
 * would put a live window before 1970 and send points stamped then; no source keeps more history.
 */
export const MAX_DURATION = 366 * 86400;

/**
 * A zod schema for a duration option: accepts `90`, `'90s'`, `'5m'`…, yields seconds, at most `max` (default
 * MAX_DURATION).
 */
export function duration({ max = MAX_DURATION }: { max?: number } = {}) {
  return z.union([z.number(), z.string()]).transform((value, ctx) => {
    const seconds = parseDuration(value);
    if (seconds === undefined) {
      ctx.addIssue({ code: 'custom', message: `expected a duration such as 60, "30s", "5m", "48h" or "7d", got ${JSON.stringify(value)}` });
      return z.NEVER;
    }
    if (seconds > max) {
      ctx.addIssue({ code: 'custom', message: `expected a duration of at most ${formatDuration(max)}, got ${JSON.stringify(value)}` });
      return z.NEVER;
    }
    return seconds;
  });
}

/** `90` → `1m30s`, for messages and --plan output. */
export function formatDuration(seconds: number): string {
  if (seconds === 0) return '0s';
  const parts: string[] = [];
  let rest = Math.round(seconds);
  for (const [unit, size] of [
    ['d', 86400],
    ['h', 3600],
    ['m', 60],
    ['s', 1],
  ] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  return parts.join('') || `${seconds}s`;
}
