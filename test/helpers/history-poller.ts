// A test-only poller with deterministic history: one point per step, value derived from the timestamp.
import { z } from 'zod';
import { definePoller, type Poller, type TimeWindow } from '../../lib/poller-kit/contract.ts';

export interface HistoryPollerOptions {
  step?: number;
  maxWindow?: number;
  retention?: number;
  /** Windows (by start) whose poll throws, as a source error would. */
  failing?: (window: TimeWindow, attempt: number) => boolean;
  /** Simulated time each call takes, on the runner's clock (`sleep` of the fake clock). */
  work?: (window: TimeWindow) => Promise<void>;
  series?: number;
}

/** The value the history poller emits for `timestamp` in `series` i: easy to check in whisper. */
export const historyValue = (timestamp: number, series = 0) => (timestamp % 100_000) + series / 10;

export interface HistoryPoller extends Poller {
  calls: Array<TimeWindow & { mode: 'live' | 'backfill' }>;
}

export function createHistoryPoller(options: HistoryPollerOptions = {}): HistoryPoller {
  const step = options.step ?? 60;
  const calls: HistoryPoller['calls'] = [];
  const attempts = new Map<number, number>();
  const poller = definePoller({
    name: 'history',
    summary: 'deterministic history for tests',
    options: z.strictObject({}),
    schedule: { interval: step },
    history: {
      maxWindow: () => options.maxWindow ?? step * 10,
      retention: () => options.retention ?? 30 * 86400,
      step: () => step,
    },
    async poll({ window, sink, mode, signal }) {
      calls.push({ ...window, mode });
      const attempt = (attempts.get(window.start) ?? 0) + 1;
      attempts.set(window.start, attempt);
      await options.work?.(window);
      signal.throwIfAborted();
      if (options.failing?.(window, attempt)) throw new Error(`source failed for window ${window.start}`);
      for (let t = Math.ceil(window.start / step) * step; t < window.end; t += step) {
        for (let s = 0; s < (options.series ?? 1); s++) sink.emit(['history', `s${s}`], historyValue(t, s), t);
      }
    },
  }) as unknown as Poller;
  return Object.assign(poller, { calls });
}
