// The 5 s a stop may take (supervisord's stopwaitsecs, systemd's TimeoutStopSec), shared out in one place.
/**
 * On SIGTERM a live job lets its current run go on for `runGraceMs`, then flushes for `flushMs`; a backfill starts
 * no new window and flushes for `backfillFlushMs`. Whatever is still going at `hardStopMs` is ended (exit 1, an
 * ERROR line), so the process is gone within `promiseMs` whatever hangs.
 */
export const STOP_BUDGET = {
  /** What the README and the supervisord/systemd examples promise: a stopped job exits within this. */
  promiseMs: 5000,
  /** A clean stop still going after this ends the process at once (lib/run/stop-signals.ts). */
  hardStopMs: 4800,
  /** How long a live job's current run may go on after the stop before its signal aborts. */
  runGraceMs: 2500,
  /** A live job's final flush after a stop. */
  flushMs: 1800,
  /** A stopped backfill's final flush (its windows are aborted at once, so the flush has the time). */
  backfillFlushMs: 3000,
} as const;
