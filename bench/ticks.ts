// Tick start precision of runSchedule on the real clock, beside a naive "run, then sleep(interval)" loop.
import { pathToFileURL } from 'node:url';
import { systemClock } from '../lib/poller-kit/clock.ts';
import { runSchedule } from '../lib/run/schedule.ts';
import { atMost, formatText, info, ms, type Section } from './report.ts';

const INTERVAL_MS = 100;
const MAX_RUN_MS = 80;

// Sub-millisecond wall-clock time, on the same scale as Date.now().
const preciseNow = (): number => performance.timeOrigin + performance.now();

interface Figures {
  /** Start minus the boundary it belongs to (ms), one per tick. */
  errors: number[];
  /** How much later, relative to their boundaries, the last tenth of the ticks started than the first tenth. */
  drift: number;
  skipped: number;
}

/** Tick count of the target; `npm run bench` uses it unless BENCH_TICKS says otherwise. */
export const TARGET_TICKS = 1000;

/**
 * Runs `ticks` ticks of 100 ms with random 0–80 ms runs, through runSchedule and through a naive loop at the same
 * time (side by side on one event loop, so both see the same machine), and reports start error and drift.
 */
export default async function benchTicks(ticks = TARGET_TICKS): Promise<Section> {
  const runTimes = Array.from({ length: ticks }, () => Math.random() * MAX_RUN_MS);
  const [scheduled, naive] = await Promise.all([scheduledLoop(ticks, runTimes), naiveLoop(ticks, runTimes)]);
  const sorted = (errors: number[]) => [...errors].sort((a, b) => a - b);
  const at = (values: number[], q: number) => values[Math.min(values.length - 1, Math.floor(q * values.length))] ?? 0;
  const s = sorted(scheduled.errors);
  const n = sorted(naive.errors);
  const meanRun = runTimes.reduce((a, b) => a + b, 0) / ticks;
  return {
    title: 'Ticks on time',
    method:
      `${ticks.toLocaleString('en-US')} ticks at a ${INTERVAL_MS} ms interval on the real clock, ` +
      `each run sleeping a random 0–${MAX_RUN_MS} ms (mean ${meanRun.toFixed(0)} ms). ` +
      `Start error = when the run started minus the boundary it belongs to; drift = how much later the last tenth of the ticks ` +
      `started than the first tenth, each against its own boundary (a skipped boundary is not drift; it is counted apart); ` +
      `its target is the p50 bound: the start error does not grow. The naive loop (run, then \`sleep(interval)\`, ` +
      `the same run times) ran at the same time in the same process.` +
      (ticks < TARGET_TICKS ? ` This run used ${ticks} ticks (BENCH_TICKS), fewer than the target's ${TARGET_TICKS}.` : ''),
    figures: [
      atMost('runSchedule start error p50', at(s, 0.5), 2, ms, true),
      atMost('runSchedule start error p99', at(s, 0.99), 10, ms, true),
      atMost(`runSchedule cumulative drift over ${ticks} ticks`, Math.abs(scheduled.drift), 2, ms, true),
      info('runSchedule start error max', ms(s.at(-1) ?? 0)),
      info('runSchedule ticks skipped', String(scheduled.skipped)),
      info('naive sleep start error p50 / p99', `${ms(at(n, 0.5))} / ${ms(at(n, 0.99))}`),
      info(
        `naive sleep cumulative drift over ${ticks} ticks`,
        `${(naive.drift / 1000).toFixed(1)} s (${(naive.drift / Math.max(1, ticks * 0.9)).toFixed(1)} ms per tick: ` +
          `the run time plus the timer's lag)`,
      ),
    ],
  };
}

async function scheduledLoop(ticks: number, runTimes: readonly number[]): Promise<Figures> {
  const stop = new AbortController();
  const starts: number[] = [];
  const errors: number[] = [];
  const result = await runSchedule({
    intervalMs: INTERVAL_MS,
    clock: systemClock,
    stop: stop.signal,
    async run(tick) {
      const startedAt = preciseNow();
      starts.push(startedAt);
      errors.push(startedAt - tick.scheduledAt);
      await systemClock.sleep(runTimes[starts.length - 1]!);
      if (starts.length >= ticks) stop.abort();
    },
  });
  return { errors, drift: driftOf(errors), skipped: result.skipped };
}

// What a scheduler without absolute deadlines does: every tick starts later by the run time and the timer's lag.
async function naiveLoop(ticks: number, runTimes: readonly number[]): Promise<Figures> {
  const starts: number[] = [];
  const errors: number[] = [];
  let first: number | undefined;
  for (let i = 0; i < ticks; i++) {
    const startedAt = preciseNow();
    first ??= startedAt;
    starts.push(startedAt);
    errors.push(startedAt - (first + i * INTERVAL_MS));
    await systemClock.sleep(runTimes[i]!);
    await systemClock.sleep(INTERVAL_MS);
  }
  return { errors, drift: driftOf(errors), skipped: 0 };
}

/**
 * How much later the last tenth of the ticks started, relative to their boundaries, than the first tenth: a
 * scheduler that accumulates its run times or its timer's lag drifts by that much, one that does not stays near 0.
 * Means over a tenth, so one late tick (a GC pause, a busy machine) is not mistaken for drift.
 */
function driftOf(errors: readonly number[]): number {
  if (errors.length < 2) return 0;
  const tenth = Math.max(1, Math.floor(errors.length / 10));
  const mean = (values: readonly number[]) => values.reduce((a, b) => a + b, 0) / values.length;
  return mean(errors.slice(-tenth)) - mean(errors.slice(0, tenth));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const ticks = process.argv[2] === undefined ? undefined : Number(process.argv[2]);
  if (ticks !== undefined && !(Number.isInteger(ticks) && ticks > 0)) {
    console.error(
      `usage: node --import tsx bench/ticks.ts [ticks]   (a positive integer, default ${TARGET_TICKS}; got ${process.argv[2]})`,
    );
    process.exit(2);
  }
  console.log(formatText(await benchTicks(ticks)));
}
