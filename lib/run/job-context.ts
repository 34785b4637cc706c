// What a job's windows run with (sink, counters, logger, clock), made the same way for live jobs and backfills.
import type { Clock } from '../poller-kit/clock.ts';
import type { JobConfig } from '../config/job-config.ts';
import { GraphiteSink, type SinkWriter } from '../graphite/sink.ts';
import type { Logger } from '../poller-kit/logger.ts';
import type { JobContext } from './poll-window.ts';
import type { Poller } from '../poller-kit/contract.ts';
import { StatsCollector } from './self-metrics.ts';
import type { Shard } from '../poller-kit/shard.ts';

export interface JobContextOptions {
  poller: Poller;
  /** The job as loaded (its name already the shard's, where sharded). */
  config: Pick<JobConfig, 'job' | 'options' | 'schedule'>;
  writer: SinkWriter;
  /** The process's logger: the job's lines carry `job=<name>`. */
  log: Logger;
  clock: Clock;
  fetch?: typeof globalThis.fetch | undefined;
  shard?: Shard | undefined;
  /** GRAPHITE_PREFIX and GRAPHITE_TAGS. */
  prefix?: string | undefined;
  tags?: boolean | undefined;
}

export function createJobContext(options: JobContextOptions): JobContext {
  const { poller, config } = options;
  return {
    poller,
    job: config.job,
    options: config.options,
    schedule: config.schedule,
    sink: new GraphiteSink(options.writer, { prefix: options.prefix, tags: options.tags }),
    stats: new StatsCollector(),
    log: options.log.child({ job: config.job }),
    clock: options.clock,
    fetch: options.fetch ?? globalThis.fetch,
    shard: options.shard,
  };
}
