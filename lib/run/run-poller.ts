// A live job: catch-up since the watermark, then ticks on the schedule, self-metrics after every run.
import { catchUpLimits, catchUpWindows, clippedGap } from './catch-up.ts';
import { systemClock, type Clock } from '../poller-kit/clock.ts';
import type { JobConfig } from '../config/job-config.ts';
import { ConfigError } from '../poller-kit/config-error.ts';
import { DeliveryTracker } from '../state/delivery-tracker.ts';
import type { GraphiteWriter } from '../graphite/writer-types.ts';
import { createJobContext } from './job-context.ts';
import type { Logger } from '../poller-kit/logger.ts';
import { describeError, pollWindow, type WindowResult } from './poll-window.ts';
import type { Poller } from '../poller-kit/contract.ts';
import { runBackfill } from '../backfill/run-backfill.ts';
import { runSchedule, type Tick } from './schedule.ts';
import type { Shard } from '../poller-kit/shard.ts';
import { emitSelfMetrics, WriterDeltas } from './self-metrics.ts';
import { formatWindow, liveWindow } from './time-window.ts';
import { Watermark } from '../state/watermark.ts';

export interface RunPollerOptions {
  poller: Poller;
  config: JobConfig;
  /** The job's writer; one writer may serve several jobs (the job neither flushes nor closes it). */
  writer: GraphiteWriter;
  log: Logger;
  /** Aborted on SIGTERM/SIGINT: no new ticks, the current run finishes (bounded). */
  stop: AbortSignal;
  clock?: Clock;
  fetch?: typeof globalThis.fetch;
  /** Where watermarks live; undefined keeps no state (dry runs). */
  stateDir?: string;
  prefix?: string;
  tags?: boolean;
  selfMetrics?: boolean;
  once?: boolean;
  /** How long a run may go on after `stop` before its signal aborts. */
  stopGraceMs?: number;
  /** This process's share of a job split with --shard; the caller gives the job its shard's name. */
  shard?: Shard | undefined;
}

export interface RunPollerResult {
  runs: number;
  errors: number;
  skipped: number;
  /** A configuration mistake found while running (missing credentials, a bad template): the job stopped. */
  configError?: ConfigError;
}

export async function runPoller(options: RunPollerOptions): Promise<RunPollerResult> {
  const { poller, config, writer } = options;
  // A configuration mistake found by a run cannot heal by retrying: it stops the job (exit 78).
  const fatal = new AbortController();
  let configError: ConfigError | undefined;
  const stop = AbortSignal.any([options.stop, fatal.signal]);
  const stopOnConfigError = (error: unknown): boolean => {
    if (!(error instanceof ConfigError)) return false;
    configError ??= error;
    fatal.abort();
    return true;
  };
  const clock = options.clock ?? systemClock;
  const { fetch, shard, prefix, tags } = options;
  const job = createJobContext({ poller, config, writer, log: options.log, clock, fetch, shard, prefix, tags });
  const log = job.log;
  // Self-metrics use the writer's reserve: a full queue drops data before the figures that report the drops.
  const selfMetrics = job.sink.reserved();
  const step = poller.history?.step?.(config.options) ?? config.schedule.interval;
  const limits = catchUpLimits(poller, config.options, config.catchUp, config.schedule.interval);
  const watermark = options.stateDir ? openWatermark(options.stateDir, config.job, poller.name, log) : undefined;
  if (watermark && !limits) coalesceWatermark(watermark, stop, clock, log);
  const tracker = new DeliveryTracker(writer, watermark, !!limits, log, () => clock.now());
  const writerDeltas = new WriterDeltas();
  let errors = 0;

  // A gap longer than catchUp: say once what is left for a backfill, and let the watermark start where catch-up
  // does (a contiguous watermark left behind it would never move again, and catch-up would refetch forever).
  const clipGap = (liveStart: number, nowSeconds: number): void => {
    if (!limits || watermark?.value === undefined) return;
    const left = clippedGap(watermark.value, liveStart, nowSeconds, limits);
    if (!left) return;
    const iso = (t: number) => new Date(t * 1000).toISOString().replace('.000Z', 'Z');
    // What the source no longer has cannot be backfilled either: name it apart.
    const available = Math.max(left.start, Math.ceil((nowSeconds - limits.retention) / limits.step) * limits.step);
    const beyond = { start: left.start, end: Math.min(available, left.end) };
    const gone = available > left.start ? { beyond_retention: formatWindow(beyond) } : {};
    if (available >= left.end) {
      log.warn("the gap since the last delivered window reaches beyond the source's retention; that part can no longer be fetched", {
        ...gone,
        retention: limits.retention,
      });
    } else {
      const configFlag = config.file ? ` --config ${config.file}` : '';
      const command = `bin/backfill.ts ${poller.name}${configFlag} --from ${iso(available)} --to ${iso(left.end)}`;
      log.warn(`the gap since the last delivered window is longer than catch-up reaches; backfill the rest: ${command}`, {
        left_for_backfill: formatWindow({ start: available, end: left.end }),
        seconds: left.end - available,
        catch_up: limits.catchUp,
        ...gone,
      });
    }
    tracker.skip(left);
  };

  // Start-up: close the gap left while the job was down, through the backfill path, before the first tick.
  if (limits && watermark?.value !== undefined && !stop.aborted) {
    const nowSeconds = clock.now() / 1000;
    clipGap(liveWindow(nowSeconds, config.schedule, step).start, nowSeconds);
    const gap = catchUpWindows(watermark.value, liveWindow(nowSeconds, config.schedule, step).start, nowSeconds, limits);
    if (gap.length > 0) {
      log.info('catching up since the last delivered window', { from: formatWindow(gap[0]!), windows: gap.length });
      try {
        const summary = await runBackfill({
          job,
          writer,
          range: { start: gap[0]!.start, end: gap.at(-1)!.end },
          maxWindow: limits.maxWindow,
          step: limits.step,
          // One at a time, oldest first: the watermark only moves over a contiguous delivered prefix.
          concurrency: 1,
          attempts: 1,
          windowTimeoutMs: Math.max(config.runTimeout * 1000, 60_000),
          stop,
          clock,
          onDelivered: (window) => tracker.advance(window),
          // Live ticks must not wait for a Graphite that is down: the watermark moves when it takes the points.
          awaitDelivery: false,
        });
        log.info('catch-up done', {
          windows: summary.fetched,
          of: summary.windows,
          failed: summary.failed.length,
          datapoints: summary.datapoints,
        });
      } catch (error) {
        if (!stopOnConfigError(error)) throw error;
      }
    }
  }

  const run = async (tick: Tick): Promise<void> => {
    const tickSeconds = Math.floor(tick.scheduledAt / 1000);
    const window = liveWindow(tickSeconds, config.schedule, step);
    let figures = { durationMs: 0, datapoints: 0, invalid: 0, errors: 0 };
    const add = (r: WindowResult) => {
      figures = {
        durationMs: figures.durationMs + r.durationMs,
        datapoints: figures.datapoints + r.datapoints,
        invalid: figures.invalid + r.invalid,
        errors: figures.errors + (r.ok ? 0 : 1),
      };
    };

    // A gap that opened while running (a failed run, points dropped during a long Graphite outage):
    // fill one window of it per tick, oldest first, once the writer has caught up.
    // The writer has caught up when nothing is queued: the start-up catch-up's lines are not the tracker's,
    // and until they are handed off its windows still look like a gap (they would be fetched twice).
    if (limits && watermark?.value !== undefined && tracker.backlog === 0 && writer.stats().queued === 0) {
      clipGap(window.start, clock.now() / 1000);
      const gap = catchUpWindows(watermark.value, window.start, clock.now() / 1000, limits)[0];
      if (gap) {
        const mark = tracker.dropMark();
        const filled = await pollWindow(job, gap, 'backfill', tick.signal);
        add(filled);
        if (filled.ok) tracker.delivered(gap, mark);
        else
          log.warn(`catch-up window failed; it stays a gap and is tried again: ${describeError(filled.error)}`, {
            window: formatWindow(gap),
          });
      }
    }

    const mark = tracker.dropMark();
    const result = await pollWindow(job, window, 'live', tick.signal);
    add(result);
    if (result.ok) {
      tracker.delivered(window, mark);
      log.debug('run done', { window: formatWindow(window), datapoints: result.datapoints, ms: result.durationMs });
    } else {
      // A run stopped by a configuration mistake failed too: the summary's errors= must not read 0 beside exit 78.
      errors++;
      if (!stopOnConfigError(result.error)) log.error(`run failed: ${describeError(result.error)}`, { window: formatWindow(window) });
    }

    // A run that stops the job for its configuration writes nothing: the job never really started.
    if (options.selfMetrics !== false && !configError) {
      const lag = watermark?.value !== undefined ? Math.max(0, Math.round(clock.now() / 1000 - watermark.value)) : undefined;
      emitSelfMetrics(
        selfMetrics,
        config.job,
        tickSeconds,
        {
          duration_ms: Math.round(figures.durationMs),
          datapoints: figures.datapoints,
          errors: figures.errors,
          skipped_ticks: tick.skipped,
          invalid_values: figures.invalid,
          lag_seconds: lag,
        },
        writerDeltas.next(writer.stats()),
        job.stats.take(),
      );
    }
  };

  const outcome = await runSchedule({
    intervalMs: config.schedule.interval * 1000,
    clock,
    stop,
    runTimeoutMs: config.runTimeout * 1000,
    stopGraceMs: options.stopGraceMs,
    immediate: true,
    once: options.once,
    run,
    onError: (error) => {
      errors++;
      log.error(`run failed: ${describeError(error)}`);
    },
    onSkipped: (count) => log.warn('ticks skipped (the previous run overran, or the clock jumped forward)', { skipped: count }),
  });
  return { runs: outcome.runs, errors, skipped: outcome.skipped, configError };
}

/** How often a job without catch-up writes its watermark while it runs. */
export const WATERMARK_WITHOUT_CATCH_UP_MS = 10 * 60_000;

/**
 * Without catch-up the watermark only says when the job last delivered (and its lag after a restart): write it at
 * the first delivery, then every WATERMARK_WITHOUT_CATCH_UP_MS, and on every delivery once the job stops.
 */
function coalesceWatermark(watermark: Watermark, stop: AbortSignal, clock: Clock, log: Logger): void {
  watermark.writeEveryMs = WATERMARK_WITHOUT_CATCH_UP_MS;
  stop.addEventListener(
    'abort',
    () => {
      watermark.writeEveryMs = 0;
      try {
        watermark.flush(clock.now());
      } catch (error) {
        log.error('cannot write the watermark; polling goes on without it', { file: watermark.file, error });
      }
    },
    { once: true },
  );
}

function openWatermark(directory: string, job: string, poller: string, log: Logger): Watermark | undefined {
  const watermark = new Watermark(directory, job, poller);
  try {
    watermark.read();
  } catch (error) {
    log.error('cannot read the watermark; starting without catch-up', { file: watermark.file, error });
  }
  return watermark;
}
