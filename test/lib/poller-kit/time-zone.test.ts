// GA's local dates and hours → epoch seconds across DST changes, with Intl only.
import { describe, expect, it } from 'vitest';
import { nextLocalMidnight, startOfLocalDay, startOfLocalHour } from '../../../lib/poller-kit/time-zone.ts';
import { dateHourToEpoch, dateToEpoch, isoDateAt } from '../../../pollers/google-analytics/ga-dates.ts';
import { quotaReturnsAt } from '../../../pollers/google-analytics/quota.ts';

const utc = (iso: string) => Date.parse(iso) / 1000;
const NEW_YORK = 'America/New_York';
const BERLIN = 'Europe/Berlin';

describe('dateHour to epoch', () => {
  it('puts each hour of a winter day at the start of that hour, five hours behind UTC in New York', () => {
    expect(dateHourToEpoch('2026010100', NEW_YORK)).toBe(utc('2026-01-01T05:00:00Z'));
    expect(dateHourToEpoch('2026010123', NEW_YORK)).toBe(utc('2026-01-02T04:00:00Z'));
  });

  it('follows New York into daylight saving time on 8 March 2026 (no 02 hour that day)', () => {
    const hours = ['00', '01', '03', '04'].map((h) => dateHourToEpoch(`20260308${h}`, NEW_YORK));
    expect(hours).toEqual([
      utc('2026-03-08T05:00:00Z'),
      utc('2026-03-08T06:00:00Z'),
      utc('2026-03-08T07:00:00Z'),
      utc('2026-03-08T08:00:00Z'),
    ]);
    // A day of 23 hours: hours 01 and 03 are one real hour apart.
    expect(dateHourToEpoch('2026030803', NEW_YORK)! - dateHourToEpoch('2026030801', NEW_YORK)!).toBe(3600);
  });

  it('puts the repeated 01 hour of 1 November 2026 at its first occurrence (EDT)', () => {
    expect(dateHourToEpoch('2026110100', NEW_YORK)).toBe(utc('2026-11-01T04:00:00Z'));
    expect(dateHourToEpoch('2026110101', NEW_YORK)).toBe(utc('2026-11-01T05:00:00Z'));
    // 02 is EST again: two real hours after 01 began.
    expect(dateHourToEpoch('2026110102', NEW_YORK)).toBe(utc('2026-11-01T07:00:00Z'));
  });

  it('handles Europe/Berlin on both switch days of 2026', () => {
    expect(dateHourToEpoch('2026032901', BERLIN)).toBe(utc('2026-03-29T00:00:00Z'));
    expect(dateHourToEpoch('2026032903', BERLIN)).toBe(utc('2026-03-29T01:00:00Z'));
    expect(dateHourToEpoch('2026102502', BERLIN)).toBe(utc('2026-10-25T00:00:00Z'));
    expect(dateHourToEpoch('2026102503', BERLIN)).toBe(utc('2026-10-25T02:00:00Z'));
  });

  it('handles zones with half-hour offsets', () => {
    expect(dateHourToEpoch('2026010100', 'Asia/Kolkata')).toBe(utc('2025-12-31T18:30:00Z'));
  });

  it('rejects values that are not a dateHour', () => {
    expect(dateHourToEpoch('(other)', NEW_YORK)).toBeUndefined();
    expect(dateHourToEpoch('20260101', NEW_YORK)).toBeUndefined();
  });
});

describe('date to epoch and back', () => {
  it('gives local midnight, whatever the day length', () => {
    expect(dateToEpoch('20260308', NEW_YORK)).toBe(utc('2026-03-08T05:00:00Z'));
    expect(dateToEpoch('20260309', NEW_YORK)).toBe(utc('2026-03-09T04:00:00Z'));
    expect(dateToEpoch('20261101', NEW_YORK)).toBe(utc('2026-11-01T04:00:00Z'));
    expect(dateToEpoch('20261102', NEW_YORK)).toBe(utc('2026-11-02T05:00:00Z'));
  });

  it('names the local calendar day of an instant', () => {
    expect(isoDateAt(utc('2026-01-01T04:59:59Z'), NEW_YORK)).toBe('2025-12-31');
    expect(isoDateAt(utc('2026-01-01T05:00:00Z'), NEW_YORK)).toBe('2026-01-01');
    expect(isoDateAt(utc('2026-01-01T05:00:00Z'), 'Pacific/Kiritimati')).toBe('2026-01-01');
  });

  it('finds the start of the local hour and day of an instant', () => {
    expect(startOfLocalHour(utc('2026-11-01T06:30:00Z'), NEW_YORK)).toBe(utc('2026-11-01T06:00:00Z'));
    expect(startOfLocalHour(utc('2026-01-01T19:10:00Z'), 'Asia/Kolkata')).toBe(utc('2026-01-01T18:30:00Z'));
    expect(startOfLocalDay(utc('2026-03-08T20:00:00Z'), NEW_YORK)).toBe(utc('2026-03-08T05:00:00Z'));
  });

  it('finds the next midnight Pacific time, when GA returns daily tokens', () => {
    expect(nextLocalMidnight(utc('2026-03-08T10:00:00Z'), 'America/Los_Angeles')).toBe(utc('2026-03-09T07:00:00Z'));
    expect(quotaReturnsAt('day', utc('2026-01-15T12:00:00Z'))).toBe(utc('2026-01-16T08:00:00Z'));
    expect(quotaReturnsAt('hour', utc('2026-01-15T12:34:56Z'))).toBe(utc('2026-01-15T13:00:00Z'));
  });
});
