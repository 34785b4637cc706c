// The jobs of one `--jobs` process: each its own loop (schedule, window, state, self-metrics), all on one writer.
import type { Clock } from '../poller-kit/clock.ts';
import type { ConfigError } from '../poller-kit/config-error.ts';
import type { RuntimeEnvironment } from '../config/environment.ts';
import type { GraphiteWriter } from '../graphite/writer-types.ts';
import type { Logger } from '../poller-kit/logger.ts';
import { openJob, type LoadedJob, type OpenJob } from './open-job.ts';
import { runPoller } from './run-poller.ts';
import { formatShard } from '../poller-kit/shard.ts';
import { STOP_BUDGET } from './stop-budget.ts';

export interface JobSetOptions {
  /** The process's one writer: every job writes to it; its owner flushes and closes it once, after idle(). */
  writer: GraphiteWriter;
  /** GRAPHITE_PREFIX, GRAPHITE_TAGS, SELF_METRICS and STATE_DIR, the same for every job of the process. */
  environment: RuntimeEnvironment;
  log: Logger;
  clock: Clock;
  fetch?: typeof globalThis.fetch | undefined;
  dryRun?: boolean | undefined;
  once?: boolean | undefined;
  /** How long a stopped job's current run may go on (default the stop budget's). */
  stopGraceMs?: number | undefined;
}

/** How a job's loop ended. */
export interface JobOutcome {
  job: string;
  file: string | undefined;
  runs: number;
  errors: number;
  /** A configuration mistake a run found (missing credentials, a bad template): this job stopped, the others not. */
  configError?: ConfigError | undefined;
  /** The runner itself threw (a bug, not a failed run, which the loop survives): this job ended. */
  crashed?: unknown;
}

interface Entry {
  /** The job file: what tells jobs apart across reloads. */
  key: string;
  /** The file's content this entry runs. */
  text: string;
  job: OpenJob;
  done: Promise<JobOutcome>;
  outcome: JobOutcome | undefined;
}

/**
 * Jobs are independent async loops on one event loop: a run that throws, hangs until its deadline or sleeps on a
 * quota holds up only its own loop. (A poller that blocks the event loop itself, with synchronous work, holds up
 * every job: that cannot be isolated within one process.)
 */
export class JobSet {
  private readonly options: JobSetOptions;
  private readonly entries = new Map<string, Entry>();
  /** Every job's lifetime, removed ones' included, until it has ended and its poller is closed. */
  private readonly living = new Set<Promise<unknown>>();
  private stopping = false;

  constructor(options: JobSetOptions) {
    this.options = options;
  }

  /** The job files of the jobs running (or ended, until removed), in start order. */
  get keys(): string[] {
    return [...this.entries.keys()];
  }

  /** The content the job of `key` runs, or undefined when there is no such job. */
  text(key: string): string | undefined {
    return this.entries.get(key)?.text;
  }

  /** The file whose job is named `job` (names are state files and Graphite nodes: they must not be shared). */
  fileOfJob(job: string): string | undefined {
    for (const entry of this.entries.values()) if (entry.job.config.job === job) return entry.key;
    return undefined;
  }

  /**
   * Starts the job of `key`; a job already there (a changed file) is stopped first and the new one starts once its
   * run has ended, so the two never tick at once on the same watermark. Ignored once stopAll() was called.
   */
  start(key: string, text: string, loaded: LoadedJob): void {
    if (this.stopping) return;
    const { environment, log } = this.options;
    const previous = this.entries.get(key);
    const job = openJob({
      job: loaded,
      environment,
      log,
      dryRun: this.options.dryRun,
      writer: this.options.writer,
      clock: this.options.clock,
    });
    const entry: Entry = { key, text, job, outcome: undefined, done: undefined as unknown as Promise<JobOutcome> };
    const before = previous ? this.retire(previous) : Promise.resolve();
    entry.done = before.then(() => this.run(entry));
    this.entries.set(key, entry);
    this.track(entry.done);
  }

  /** Stops the job of `key` after its current run (bounded by the stop grace) and closes its poller. */
  remove(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    this.track(this.retire(entry));
  }

  /** Every job stops after its current run; no job starts any more. */
  stopAll(): void {
    this.stopping = true;
    for (const entry of this.entries.values()) entry.job.stop.abort();
  }

  /** Resolves once no job is running (with --once: when each has run its tick; else only after stopAll). */
  async idle(): Promise<void> {
    while (this.living.size > 0) await Promise.allSettled([...this.living]);
  }

  /** How the current jobs' loops ended, those that have. */
  outcomes(): JobOutcome[] {
    return [...this.entries.values()].flatMap((entry) => (entry.outcome ? [entry.outcome] : []));
  }

  /** Closes the current jobs' pollers (their pools, clients, timers): call once, after the writer's final flush. */
  async close(): Promise<void> {
    await Promise.all([...this.entries.values()].map((entry) => entry.job.close()));
  }

  private track(lifetime: Promise<unknown>): void {
    const settled: Promise<unknown> = lifetime.then(
      () => this.living.delete(settled),
      () => this.living.delete(settled),
    );
    this.living.add(settled);
  }

  private async retire(entry: Entry): Promise<void> {
    entry.job.stop.abort();
    await entry.done;
    // Its lines are in the shared writer already: the poller's clients can go now.
    await entry.job.close();
  }

  private async run(entry: Entry): Promise<JobOutcome> {
    const { job } = entry;
    const { poller, config, shard } = job;
    const { environment, log } = this.options;
    const fields = { job: config.job, config: config.file ?? '(none)' };
    let outcome: JobOutcome = { job: config.job, file: config.file, runs: 0, errors: 0 };
    if (job.stop.signal.aborted) return (entry.outcome = outcome);
    log.info(`${poller.name} started`, { ...fields, interval: config.schedule.interval, ...(shard ? { shard: formatShard(shard) } : {}) });
    try {
      const result = await runPoller({
        poller,
        config,
        writer: job.writer,
        log,
        stop: job.stop.signal,
        once: this.options.once,
        clock: this.options.clock,
        fetch: this.options.fetch,
        stateDir: job.stateDir,
        prefix: environment.prefix,
        tags: environment.tags,
        selfMetrics: environment.selfMetrics,
        stopGraceMs: this.options.stopGraceMs ?? STOP_BUDGET.runGraceMs,
        shard,
      });
      outcome = { ...outcome, runs: result.runs, errors: result.errors, configError: result.configError?.inFile(config.file) };
      if (outcome.configError) {
        log.error(`${outcome.configError.describe()} (the job ${config.job} stopped; the other jobs go on)`, { job: config.job });
      }
      log.info(`${poller.name} stopped`, { ...fields, runs: result.runs, errors: result.errors });
    } catch (error) {
      // A bug in the runner, not in a run (the loop survives those): this job ends, the process and the others do not.
      const stack = error instanceof Error ? error.stack : undefined;
      log.error(`the job ${config.job} ended on an error: ${error instanceof Error ? error.message : String(error)}`, {
        ...fields,
        ...(stack ? { stack } : {}),
      });
      outcome = { ...outcome, crashed: error };
    }
    entry.outcome = outcome;
    return outcome;
  }
}
