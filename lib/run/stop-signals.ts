// SIGTERM and SIGINT ask the process to stop cleanly; a second signal, or 4.8 s, ends it at once.
import type { Logger } from '../poller-kit/logger.ts';
import { STOP_BUDGET } from './stop-budget.ts';

const HARD_STOP_MS = STOP_BUDGET.hardStopMs;

/**
 * Calls `stop` on the first SIGTERM/SIGINT; returns a function that removes the handlers. A clean stop that has
 * not ended after 4.8 s ends with exit 1 and an ERROR line: whatever it still held (a run's datapoints, a queue
 * Graphite did not take) is lost uncounted, and the exit status must not say otherwise.
 */
export function onStopSignals(
  stop: () => void,
  hardStop: (code: number) => void = (code) => process.exit(code),
  log?: Pick<Logger, 'error'>,
): () => void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) return hardStop(signal === 'SIGINT' ? 130 : 143);
    stopping = true;
    // The clean path must fit in supervisord's/systemd's stop wait; this guard keeps the promise of 5 s.
    setTimeout(() => {
      log?.error(
        `the stop did not finish within ${HARD_STOP_MS / 1000} s: exiting now; ` +
          `what was still held (queued lines, a run's datapoints) is lost`,
      );
      hardStop(1);
    }, HARD_STOP_MS).unref();
    stop();
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
  return () => {
    process.off('SIGTERM', handler);
    process.off('SIGINT', handler);
  };
}
