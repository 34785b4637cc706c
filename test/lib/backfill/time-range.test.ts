// Backfill bounds: absolute, relative and zoned dates, DST included.
import { describe, expect, it } from 'vitest';
import { parseTimeBound, zonedMidnight } from '../../../lib/backfill/time-range.ts';

const NOW = Date.UTC(2026, 2, 10, 15, 30, 0); // 2026-03-10T15:30:00Z

describe('parseTimeBound', () => {
  it('reads now, relative durations and ISO instants', () => {
    expect(parseTimeBound('now', NOW)).toBe(NOW / 1000);
    expect(parseTimeBound('-7d', NOW)).toBe(NOW / 1000 - 7 * 86400);
    expect(parseTimeBound('-36h', NOW)).toBe(NOW / 1000 - 36 * 3600);
    expect(parseTimeBound('2026-01-01T06:00:00Z', NOW)).toBe(Date.UTC(2026, 0, 1, 6) / 1000);
    expect(parseTimeBound('2026-01-01T06:00', NOW)).toBe(Date.UTC(2026, 0, 1, 6) / 1000);
    expect(parseTimeBound('2026-01-01T06:00:00+02:00', NOW)).toBe(Date.UTC(2026, 0, 1, 4) / 1000);
  });

  it('reads a date as midnight in the given zone', () => {
    expect(parseTimeBound('2026-01-01', NOW)).toBe(Date.UTC(2026, 0, 1) / 1000);
    expect(parseTimeBound('2026-01-01', NOW, 'America/New_York')).toBe(Date.UTC(2026, 0, 1, 5) / 1000);
    expect(parseTimeBound('2026-07-01', NOW, 'Europe/Berlin')).toBe(Date.UTC(2026, 5, 30, 22) / 1000);
    expect(parseTimeBound('today', NOW, 'Asia/Tokyo')).toBe(Date.UTC(2026, 2, 10, 15) / 1000);
    expect(parseTimeBound('yesterday', NOW)).toBe(Date.UTC(2026, 2, 9) / 1000);
  });

  it('refuses what is not a time', () => {
    for (const bad of ['', 'tomorrowish', '7d', '-7 days', '2026-13-45T99', '01/02/2026'])
      expect(parseTimeBound(bad, NOW), bad).toBeUndefined();
  });
});

describe('zonedMidnight across DST', () => {
  it('finds midnight on the days clocks change', () => {
    // New York springs forward at 02:00 on 2026-03-08 and falls back on 2026-11-01: midnight is EST / EDT.
    expect(zonedMidnight(2026, 3, 8, 'America/New_York')).toBe(Date.UTC(2026, 2, 8, 5) / 1000);
    expect(zonedMidnight(2026, 3, 9, 'America/New_York')).toBe(Date.UTC(2026, 2, 9, 4) / 1000);
    expect(zonedMidnight(2026, 11, 1, 'America/New_York')).toBe(Date.UTC(2026, 10, 1, 4) / 1000);
    expect(zonedMidnight(2026, 11, 2, 'America/New_York')).toBe(Date.UTC(2026, 10, 2, 5) / 1000);
    // Santiago moves its clocks at midnight itself (local 00:00 does not exist on 2026-09-06).
    const santiago = zonedMidnight(2026, 9, 6, 'America/Santiago');
    expect([Date.UTC(2026, 8, 6, 4) / 1000, Date.UTC(2026, 8, 6, 3) / 1000]).toContain(santiago);
  });
});
