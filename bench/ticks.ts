// Tick start precision of runSchedule on the real clock, beside a naive "run, then sleep(interval)" loop.
import { pathToFileURL } from 'node:url';
import { systemClock } from '../lib/clock.ts';
import { runSchedule } from '../lib/schedule.ts';

const INTERVAL_MS = 100;
const MAX_RUN_MS = 80;

// Sub-millisecond wall-clock time, on the same scale as Date.now().
const preciseNow = (): number => performance.timeOrigin + performance.now();

interface Figures {
  /** Start minus the boundary it belongs to (ms), one per tick. */
  errors: number[];
  /** (last start - first start) - (ticks - 1) * interval: how far the loop fell behind over the whole run. */
  drift: number;
  skipped: number;
}

/** Runs `ticks` ticks of 100 ms with random 0–80 ms runs both ways and prints start error percentiles and drift. */
export default async function benchTicks(ticks = 1000): Promise<void> {
  const runTimes = Array.from({ length: ticks }, () => Math.random() * MAX_RUN_MS);
  const seconds = (ticks * INTERVAL_MS + ticks * (INTERVAL_MS + MAX_RUN_MS / 2)) / 1000;
  console.log(`ticks: ${ticks} x ${INTERVAL_MS} ms, run time 0-${MAX_RUN_MS} ms (random), real clock; about ${Math.round(seconds)} s`);

  const scheduled = await scheduledLoop(ticks, runTimes);
  console.log(format('runSchedule', scheduled));
  const naive = await naiveLoop(ticks, runTimes);
  console.log(format('naive sleep', naive));
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
  return { errors, drift: driftOf(starts), skipped: result.skipped };
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
  return { errors, drift: driftOf(starts), skipped: 0 };
}

function driftOf(starts: readonly number[]): number {
  if (starts.length < 2) return 0;
  return starts.at(-1)! - starts[0]! - (starts.length - 1) * INTERVAL_MS;
}

function format(name: string, { errors, drift, skipped }: Figures): string {
  const sorted = [...errors].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  const ms = (value: number) => `${value.toFixed(2)} ms`.padStart(12);
  return (
    `${name.padEnd(12)} start error p50 ${ms(at(0.5))}  p99 ${ms(at(0.99))}  max ${ms(sorted.at(-1) ?? 0)}` +
    `  total drift ${ms(drift)}  skipped ${skipped}`
  );
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const ticks = process.argv[2] === undefined ? undefined : Number(process.argv[2]);
  if (ticks !== undefined && !(Number.isInteger(ticks) && ticks > 0)) {
    console.error(`usage: node --import tsx bench/ticks.ts [ticks]   (a positive integer, default 1000; got ${process.argv[2]})`);
    process.exit(2);
  }
  await benchTicks(ticks);
}
