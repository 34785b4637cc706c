// One call of a poller over one window, the same for live ticks, catch-up and backfill: timed, errors caught.
import { setMaxListeners } from 'node:events';
import type { Clock } from '../poller-kit/clock.ts';
import type { GraphiteSink } from '../graphite/sink.ts';
import type { Logger } from '../poller-kit/logger.ts';
import type { JobSchedule, Poller, TimeWindow } from '../poller-kit/contract.ts';
import type { StatsCollector } from './self-metrics.ts';
import type { Shard } from '../poller-kit/shard.ts';

/** Everything about a job that does not change from one window to the next. */
export interface JobContext {
  poller: Poller;
  job: string;
  options: Record<string, unknown>;
  schedule: JobSchedule;
  sink: GraphiteSink;
  stats: StatsCollector;
  log: Logger;
  clock: Clock;
  fetch: typeof globalThis.fetch;
  /** This process's share of a job split with --shard (pollers declaring `sharding` only). */
  shard?: Shard | undefined;
}

export interface WindowResult {
  ok: boolean;
  datapoints: number;
  invalid: number;
  durationMs: number;
  error?: unknown;
}

export async function pollWindow(
  job: JobContext,
  window: TimeWindow,
  mode: 'live' | 'backfill',
  signal: AbortSignal,
): Promise<WindowResult> {
  // A poller may hand the run's signal to hundreds of concurrent requests (5,000 CloudWatch queries): that many
  // listeners on one signal is by design here, not a leak worth Node's MaxListenersExceededWarning.
  setMaxListeners(0, signal);
  const started = job.clock.now();
  const sink = job.sink.counting(signal);
  const figures = () => ({ datapoints: sink.datapoints, invalid: sink.invalid, durationMs: job.clock.now() - started });
  try {
    await job.poller.poll({
      options: job.options,
      window,
      sink,
      signal,
      log: job.log,
      stats: job.stats,
      job: job.job,
      mode,
      fetch: job.fetch,
      schedule: job.schedule,
      now: () => job.clock.now(),
      sleep: (ms) => job.clock.sleep(ms, signal),
      ...(job.shard ? { shard: job.shard } : {}),
    });
    // A poller that ignores its signal must not report a run that outlived its deadline as a success.
    signal.throwIfAborted();
    return { ok: true, ...figures() };
  } catch (error) {
    return { ok: false, ...figures(), error: signal.aborted && !isOwnError(error) ? abortReason(signal) : error };
  }
}

function isOwnError(error: unknown): boolean {
  return error instanceof Error && error.name !== 'AbortError' && error.name !== 'TimeoutError';
}

function abortReason(signal: AbortSignal): Error {
  const reason = signal.reason as unknown;
  return reason instanceof Error ? reason : new Error('run aborted');
}

/** The one log line for a failed window. */
export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error as { cause?: unknown }).cause;
    const extra = cause instanceof Error && cause.message && !error.message.includes(cause.message) ? ` (${cause.message})` : '';
    return `${error.message}${extra}`.replace(/[\r\n]+/g, ' ');
  }
  return String(error);
}
