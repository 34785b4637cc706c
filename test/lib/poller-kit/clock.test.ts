// systemClock's test hook: GRAPHITE_POLLERS_TEST_NOW starts the clock at a chosen time, says so, and refuses a bad value.
import { describe, expect, it } from 'vitest';
import { createSystemClock, TEST_NOW_VARIABLE } from '../../../lib/poller-kit/clock.ts';
import { isConfigError } from '../../../lib/poller-kit/config-error.ts';
import { createLogger } from '../../../lib/poller-kit/logger.ts';
import { runCommand } from '../../helpers/run-command.ts';

const capture = () => {
  const lines: string[] = [];
  return { lines, log: createLogger({ write: (line) => lines.push(line), secrets: [], level: 'warn' }) };
};

describe('createSystemClock', () => {
  it('is the wall clock, silently, without the variable', () => {
    const { lines, log } = capture();
    const clock = createSystemClock({}, log);
    const before = Date.now();
    const now = clock.now();
    expect(now).toBeGreaterThanOrEqual(before);
    expect(now).toBeLessThanOrEqual(Date.now());
    expect(lines).toEqual([]);
  });

  it('starts at the given time and runs on from it at the real pace, with a WARN line', async () => {
    const { lines, log } = capture();
    const start = Date.parse('2026-12-04T16:30:00Z');
    const clock = createSystemClock({ [TEST_NOW_VARIABLE]: '2026-12-04T16:30:00Z' }, log);
    const first = clock.now();
    // Generous: a busy host may stall between the two calls above.
    expect(first - start).toBeGreaterThanOrEqual(0);
    expect(first - start).toBeLessThan(5_000);
    await clock.sleep(30);
    const second = clock.now();
    expect(second - first).toBeGreaterThanOrEqual(25);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      / WARN  GRAPHITE_POLLERS_TEST_NOW is set: this process's clock starts at 2026-12-04T16:30:00\.000Z, not at the real time/,
    );
  });

  it('takes an offset as well as Z', () => {
    const clock = createSystemClock({ [TEST_NOW_VARIABLE]: '2026-12-05T05:30:00+01:00' }, capture().log);
    expect(clock.now() - Date.parse('2026-12-05T04:30:00Z')).toBeLessThan(5_000);
  });

  it.each(['yesterday', '2026-12-04', '2026-12-04T16:30:00', '1764865800000', '2026-13-04T16:30:00Z'])(
    'refuses %s: a config error naming the variable',
    (value) => {
      let error: unknown;
      try {
        createSystemClock({ [TEST_NOW_VARIABLE]: value }, capture().log);
      } catch (caught) {
        error = caught;
      }
      expect(isConfigError(error)).toBe(true);
      expect((error as Error & { describe(): string }).describe()).toBe(
        `environment: GRAPHITE_POLLERS_TEST_NOW: expected an ISO time with a zone such as 2026-12-04T16:30:00Z (a test hook: ` +
          `unset it outside tests), got "${value}"`,
      );
    },
  );
});

describe('the commands with GRAPHITE_POLLERS_TEST_NOW', () => {
  it('a bad value: one line naming the variable, exit 78, no stack trace', async () => {
    const result = await runCommand(['bin/backfill.ts', 'google-analytics', '--from', '-3d'], { env: { [TEST_NOW_VARIABLE]: 'tomorrow' } });
    expect(result.code).toBe(78);
    expect(result.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(/ ERROR environment: GRAPHITE_POLLERS_TEST_NOW: expected an ISO time with a zone .* got "tomorrow"$/),
    ]);
  });
});
