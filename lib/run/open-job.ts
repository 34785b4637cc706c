// Opening a job, the same for `poll` and `backfill`: its poller, config and shard, then its writer and context.
// It never owns the process (no signals, no exit): a command, or a process running several jobs, does that.
import type { Clock } from '../poller-kit/clock.ts';
import { ConfigError } from '../poller-kit/config-error.ts';
import { graphiteTransport, type RuntimeEnvironment } from '../config/environment.ts';
import { loadJobConfig, type JobConfig } from '../config/job-config.ts';
import { createGraphiteWriter } from '../graphite/writer.ts';
import type { GraphiteWriter, GraphiteWriterOptions } from '../graphite/writer-types.ts';
import type { Logger } from '../poller-kit/logger.ts';
import type { Poller } from '../poller-kit/contract.ts';
import { closePoller, loadPoller } from '../config/poller-registry.ts';
import { createJobContext } from './job-context.ts';
import type { JobContext } from './poll-window.ts';
import { commandShard, shardJobName, type Shard } from '../poller-kit/shard.ts';

export interface JobRequest {
  /** The poller's name, as on the command line, or the poller already loaded (to print its --help first). */
  poller: string | Poller;
  /** --config; default config/<poller>.yaml. */
  configFile?: string | undefined;
  /** --shard as given; SHARD in `env` when absent. */
  shard?: string | undefined;
  env?: NodeJS.ProcessEnv;
  /** Refuse a poller without history (a backfill) before its config is read. */
  needsHistory?: boolean;
}

/** A job as loaded: nothing opened yet. */
export interface LoadedJob {
  poller: Poller;
  /** The job's config; `job` is the shard's name (`<job>-shard<i>of<n>`) when sharded. */
  config: JobConfig;
  shard: Shard | undefined;
}

/** Loads the poller, reads and checks the job's config, and picks its shard. A user's mistake is a ConfigError. */
export async function loadJob(request: JobRequest): Promise<LoadedJob> {
  const poller = typeof request.poller === 'string' ? await loadPoller(request.poller) : request.poller;
  if (request.needsHistory && !poller.history) {
    throw new ConfigError(`the ${poller.name} poller has no history (its source only tells the present), so it cannot be backfilled`, {
      file: 'command line',
    });
  }
  const loaded = loadJobConfig(poller, { configFile: request.configFile });
  const shard = commandShard(request.shard, request.env ?? process.env, poller);
  // A shard delivers only its share: its own watermark, state and self-metrics.
  return { poller, config: { ...loaded, job: shardJobName(loaded.job, shard) }, shard };
}

export interface OpenJobOptions {
  job: LoadedJob;
  environment: RuntimeEnvironment;
  log: Logger;
  /** Lines to stdout, no state. */
  dryRun?: boolean | undefined;
  /**
   * A writer shared with other jobs of the process: the job writes to it and waits on its deliveries, and leaves
   * flushing and closing it to its owner. Without one, the job opens its own from the environment.
   */
  writer?: GraphiteWriter | undefined;
  /** The queue's behaviour for a writer the job opens (a backfill's: wait instead of dropping). */
  queue?: Pick<GraphiteWriterOptions, 'readyLines' | 'overflow'> | undefined;
  clock: Clock;
  fetch?: typeof globalThis.fetch | undefined;
}

/** An open job: what its command runs (runPoller, runBackfill) and closes. */
export interface OpenJob extends LoadedJob {
  writer: GraphiteWriter;
  /** True when the job opened the writer itself (and closes it). */
  ownsWriter: boolean;
  /** Where its lines go, for log lines: GRAPHITE_URL, `stdout`, or `stdout (dry run)`. */
  graphite: string;
  /** Where watermarks and backfill progress live; undefined for a dry run (no state). */
  stateDir: string | undefined;
  /** Abort to stop the job: no new ticks or windows, the current ones finish (bounded by STOP_BUDGET). */
  stop: AbortController;
  /** The context its windows run with (sink with GRAPHITE_PREFIX and GRAPHITE_TAGS, counters, logger, clock). */
  context: JobContext;
  /**
   * Closes the writer if the job opened it (flush first: what is still queued is dropped and counted as lost),
   * then the poller (its pools, clients, timers). Call once, after the final flush.
   */
  close(): Promise<void>;
}

export function openJob(options: OpenJobOptions): OpenJob {
  const { job, environment, log, dryRun } = options;
  const ownsWriter = options.writer === undefined;
  const writer =
    options.writer ??
    createGraphiteWriter({
      url: dryRun ? '-' : environment.graphiteUrl,
      queueLimit: environment.queueLimit,
      ...graphiteTransport(environment),
      // HTTPS ingestion sends each point's interval: the job's.
      intervalSeconds: job.config.schedule.interval,
      log: log.child({ component: 'graphite' }),
      ...options.queue,
    });
  const context = createJobContext({
    ...job,
    writer,
    log,
    clock: options.clock,
    fetch: options.fetch,
    prefix: environment.prefix,
    tags: environment.tags,
  });
  return {
    ...job,
    writer,
    ownsWriter,
    graphite: dryRun ? 'stdout (dry run)' : (environment.graphiteUrl ?? 'stdout'),
    stateDir: dryRun ? undefined : environment.stateDir,
    stop: new AbortController(),
    context,
    close: async () => {
      if (ownsWriter) await writer.close();
      // After the final flush: the poller's pools and clients end with the job.
      await closePoller(job.poller, log);
    },
  };
}
