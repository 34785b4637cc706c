// A test-only poller with deterministic history, loadable by bin/*.ts through POLLERS_PATH=test/helpers/pollers.
import { z } from 'zod';
import { definePoller } from '../../../lib/poller-kit/contract.ts';
import { historyValue } from '../history-poller.ts';

export default definePoller({
  name: 'history',
  summary: 'Deterministic history for tests: one point per step per series, value from the timestamp',
  options: z.strictObject({
    step: z.number().int().min(1).default(60).describe('Seconds between points.'),
    maxWindow: z.number().int().min(1).default(3600).describe('Largest window one call may be asked for.'),
    series: z.number().int().min(1).default(1).describe('Number of series (history.s0, history.s1 …).'),
    windowDelayMs: z.number().min(0).default(0).describe('Real time each call takes, so a test can kill a run midway.'),
    failWindowStart: z.number().int().optional().describe('A window starting at this epoch second fails.'),
  }),
  schedule: { interval: 60 },
  history: {
    maxWindow: (o) => o.maxWindow,
    retention: () => 400 * 86400,
    step: (o) => o.step,
  },
  async poll({ options, window, sink, signal, stats }) {
    stats.count('api_calls');
    if (options.windowDelayMs > 0) await new Promise((r) => setTimeout(r, options.windowDelayMs));
    signal.throwIfAborted();
    if (window.start === options.failWindowStart) throw new Error('the source answered 500 for this window');
    for (let t = Math.ceil(window.start / options.step) * options.step; t < window.end; t += options.step) {
      for (let s = 0; s < options.series; s++) sink.emit(['history', `s${s}`], historyValue(t, s), t);
    }
    // The test reads which windows were fetched from stderr (LOG_LEVEL=debug).
    process.stderr.write(`fetched-window ${window.start} ${window.end}\n`);
  },
});
