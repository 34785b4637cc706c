// The wall clock jumps forward and back (NTP steps, a suspended VM, an operator): the live loop, on a fake clock at
// the runner level, re-aligns to the interval, never spins, never sleeps for hours, and catch-up fills the hole a
// forward jump leaves.
import { describe, expect, it } from 'vitest';
import type { JobConfig } from '../../lib/config/job-config.ts';
import { silentLogger } from '../../lib/poller-kit/logger.ts';
import { runPoller } from '../../lib/run/run-poller.ts';
import { FakeClock } from '../helpers/fake-clock.ts';
import { createHistoryPoller } from '../helpers/history-poller.ts';
import { MemoryWriter } from '../helpers/memory-writer.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { report } from './harness.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** Wall-clock jumps on the runner's fake clock. */
export function clockJumps(): void {
  describe('the wall clock jumps', () => {
    it('forward and back: the loop re-aligns, never spins nor sleeps for hours, and catch-up fills a forward jump', async ({ task }) => {
      const clock = new FakeClock({ start: '2026-01-01T12:00:30Z' });
      const poller = createHistoryPoller({ maxWindow: 600 });
      // Each call with the monotonic time it happened at (the wall clock minus the jumps so far).
      let jumped = 0;
      const calls: Array<{ mode: string; start: number; end: number; mono: number }> = [];
      const poll = poller.poll.bind(poller);
      poller.poll = async (context) => {
        calls.push({ mode: context.mode, start: context.window.start, end: context.window.end, mono: clock.now() - jumped });
        return poll(context);
      };
      const writer = new MemoryWriter();
      const config: JobConfig = {
        file: undefined,
        job: 'clock',
        options: {},
        schedule: { interval: 60, delay: 0, lookback: 0 },
        runTimeout: 60,
        catchUp: 2 * DAY,
      };
      const stop = new AbortController();
      const done = runPoller({ poller, config, writer, log: silentLogger, stop: stop.signal, clock, stateDir: tempDir('rel-clock') });

      const segmentMs = 10 * MINUTE;
      await clock.advance(segmentMs);
      const jumps: Array<[label: string, ms: number]> = [
        ['+1 h', HOUR],
        ['−1 h', -HOUR],
        ['+1 day', DAY],
        ['−1 day', -DAY],
        ['−30 s', -30_000],
        ['+90 s', 90_000],
      ];
      const seen: Array<{ label: string; firstRunAfterS: number; liveRuns: number; catchUp: number; skipped: number }> = [];
      for (const [label, ms] of jumps) {
        const from = clock.now() - jumped;
        const selfBefore = writer.series((p) => p.endsWith('.skipped_ticks'))['pollers.clock.skipped_ticks']?.length ?? 0;
        clock.set(clock.now() + ms);
        jumped += ms;
        await clock.advance(segmentMs);
        const after = calls.filter((c) => c.mono > from);
        const live = after.filter((c) => c.mode === 'live');
        const skipped = (writer.series((p) => p.endsWith('.skipped_ticks'))['pollers.clock.skipped_ticks'] ?? [])
          .slice(selfBefore)
          .reduce((n, [, v]) => n + v, 0);
        seen.push({
          label,
          firstRunAfterS: (live[0]!.mono - from) / 1000,
          liveRuns: live.length,
          catchUp: after.filter((c) => c.mode === 'backfill').length,
          skipped,
        });
      }
      stop.abort();
      await clock.runUntilSettled(done);

      const longestSleep = Math.max(...clock.sleepRequests.map((s) => s.ms));
      const minutes = (segmentMs * (jumps.length + 1)) / MINUTE;
      const liveWindows = calls.filter((c) => c.mode === 'live').map((c) => `${c.start}-${c.end}`);
      report(
        {
          section: 'Poller process',
          fault: 'wall clock jumps forward and back',
          injected:
            `${jumps.map(([label]) => label).join(', ')}, 10 min apart, on the fake clock that drives a live job ` +
            `(interval 60 s, history, catchUp 48 h)`,
          expected:
            'next run ≤ 120 s after each jump (noticed within the longest sleep, 60 s, then the next boundary); ' +
            '≤ 1 run per interval; no sleep > 60 s; forward gaps caught up',
          observed:
            seen
              .map(
                (s) =>
                  `${s.label}: next run after ${s.firstRunAfterS.toFixed(0)} s, ` +
                  `${s.liveRuns} runs in 10 min${s.skipped ? `, ${s.skipped} ticks skipped` : ''}` +
                  `${s.catchUp ? `, ${s.catchUp} catch-up windows` : ''}`,
              )
              .join('; ') + `; longest sleep ${longestSleep / 1000} s, ${clock.sleepCalls} sleeps in ${minutes} min`,
        },
        task,
      );
      for (const s of seen) {
        expect(s.firstRunAfterS, s.label).toBeLessThanOrEqual(120);
        expect(s.liveRuns, s.label).toBeLessThanOrEqual(11);
        expect(s.liveRuns, s.label).toBeGreaterThanOrEqual(9);
      }
      expect(longestSleep).toBeLessThanOrEqual(60_000);
      // No spin: a handful of sleeps per simulated minute (the tick wait, its run deadline, a re-read of the clock).
      expect(clock.sleepCalls / minutes).toBeLessThan(6);
      // Small steps back never run a window twice in a row; a forward jump's hole is fetched again.
      expect(seen.find((s) => s.label === '+1 h')!.catchUp).toBeGreaterThanOrEqual(6);
      expect(seen.find((s) => s.label === '+1 h')!.skipped).toBeGreaterThan(0);
      for (let i = 1; i < liveWindows.length; i++) expect(liveWindows[i]).not.toBe(liveWindows[i - 1]);
    });
  });
}
