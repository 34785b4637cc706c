// Time as the runtime sees it: injected everywhere so tests run on a fake clock instead of the wall clock.
import { ConfigError, EXIT_CONFIG } from './config-error.ts';
import { createLogger, type Logger } from './logger.ts';

export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
  /** Resolves after `ms` (or at once when `signal` aborts; it never rejects). */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/**
 * A test hook, never for production: `GRAPHITE_POLLERS_TEST_NOW=2026-12-04T16:30:00Z` in a process's environment
 * starts `systemClock` at that time, and the clock runs on from there at the real pace. Tests that run the
 * commands as child processes (bin/poll.ts, bin/backfill.ts) use it to run them at a chosen date. Only the
 * process environment counts (it is read when this module loads, before `.env` is), and a process that has it
 * says so in a WARN line at start.
 */
export const TEST_NOW_VARIABLE = 'GRAPHITE_POLLERS_TEST_NOW';

// An ISO time with its zone: a bare date or a zone-less time would depend on the machine's TZ.
const ISO_WITH_ZONE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    // setTimeout fires after 1 ms for anything above 2^31-1 ms: clamp, callers re-check the time anyway.
    const timer = setTimeout(done, Math.min(Math.max(0, ms), 2 ** 31 - 1));
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * The wall clock, or the wall clock shifted to start at `env[TEST_NOW_VARIABLE]` (logging a WARN line);
 * throws a ConfigError when that variable is set but not an ISO time with a zone.
 */
export function createSystemClock(env: NodeJS.ProcessEnv = process.env, log: Logger = createLogger({ level: 'warn' })): Clock {
  const value = env[TEST_NOW_VARIABLE];
  if (value === undefined || value === '') return { now: () => Date.now(), sleep };
  const start = ISO_WITH_ZONE.test(value.trim()) ? Date.parse(value.trim()) : NaN;
  if (!Number.isFinite(start)) {
    const expected = 'expected an ISO time with a zone such as 2026-12-04T16:30:00Z (a test hook: unset it outside tests)';
    throw new ConfigError(`${expected}, got "${value}"`, { file: 'environment', field: TEST_NOW_VARIABLE });
  }
  const offset = start - Date.now();
  // At level warn whatever LOG_LEVEL says: a shifted clock must never go unnoticed.
  log.warn(
    `${TEST_NOW_VARIABLE} is set: this process's clock starts at ${new Date(start).toISOString()}, not at the real time ` +
      '(a test hook: unset it outside tests)',
    { component: 'clock' },
  );
  return { now: () => Date.now() + offset, sleep };
}

function systemClockOrExit(): Clock {
  try {
    return createSystemClock();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    // Module load is before any command's error handling: the usual one line and exit code, here.
    createLogger().error(error.describe());
    process.exit(EXIT_CONFIG);
  }
}

export const systemClock: Clock = systemClockOrExit();
