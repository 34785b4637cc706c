// `bin/poll.ts --jobs DIR|FILE…`: every job of a directory (or list) in one process, on one Graphite writer.
import { systemClock, type Clock } from '../poller-kit/clock.ts';
import { ConfigError, EXIT_CONFIG } from '../poller-kit/config-error.ts';
import { graphiteTransport, readEnvironment } from '../config/environment.ts';
import { createGraphiteWriter } from '../graphite/writer.ts';
import type { Logger } from '../poller-kit/logger.ts';
import { drainWriter } from '../run/drain-writer.ts';
import { listJobFiles, readJobFile, type JobFile } from '../run/job-directory.ts';
import { JobSet } from '../run/job-set.ts';
import { loadJob, type LoadedJob } from '../run/open-job.ts';
import { pollerNames } from '../config/poller-registry.ts';
import { STOP_BUDGET } from '../run/stop-budget.ts';
import { onStopSignals } from '../run/stop-signals.ts';

export interface PollJobsOptions {
  /** Directories and files, as given after --jobs. */
  paths: string[];
  once?: boolean | undefined;
  dryRun?: boolean | undefined;
  clock?: Clock;
}

/**
 * Runs every job of `paths` until SIGTERM (or one tick each with --once). Every file is read and validated
 * before anything starts: a broken one is one line naming it, and exit 78. SIGHUP reads the paths again.
 * The exit status: 78 when a job stopped on a configuration mistake found while running; 1 when lines were
 * lost at exit, a job ended on a bug, or (--once) a run failed or points were dropped; else 0.
 */
export async function pollJobs(options: PollJobsOptions, log: Logger): Promise<number> {
  const { paths, once, dryRun } = options;
  const environment = readEnvironment();
  const files = listJobFiles(paths);
  const jobs: Array<{ file: JobFile; loaded: LoadedJob }> = [];
  const broken: ConfigError[] = [];
  const names = pollerNames();
  for (const path of files) {
    try {
      const file = readJobFile(path, names);
      const loaded = await loadJob({ poller: file.poller, configFile: path });
      const taken = jobs.find((other) => other.loaded.config.job === loaded.config.job);
      if (taken)
        throw new ConfigError(
          `the job name "${loaded.config.job}" is already ${taken.file.file}'s (a job's name keys its state and self-metrics)`,
          { file: path, field: 'job' },
        );
      jobs.push({ file, loaded });
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      broken.push(error.inFile(path));
    }
  }
  if (broken.length > 0) {
    // Every broken file at once: fixing them one start at a time would be slow.
    for (const error of broken) log.error(error.describe());
    return EXIT_CONFIG;
  }

  const writer = createGraphiteWriter({
    url: dryRun ? '-' : environment.graphiteUrl,
    queueLimit: environment.queueLimit,
    ...graphiteTransport(environment),
    // One writer for every job: HTTPS ingestion's per-point interval is the shortest job's, at most 60 (jobs added by
    // a reload keep it; Graphite's HTTP API uses it only as a hint for the series' resolution).
    intervalSeconds: Math.min(60, ...jobs.map((job) => job.loaded.config.schedule.interval)),
    log: log.child({ component: 'graphite' }),
  });
  const set = new JobSet({ writer, environment, log, clock: options.clock ?? systemClock, dryRun, once });
  const graphite = dryRun ? 'stdout (dry run)' : (environment.graphiteUrl ?? 'stdout');
  log.info('jobs starting', { jobs: jobs.length, paths: paths.join(' '), graphite });

  let stopped = false;
  let stop!: () => void;
  const stopRequested = new Promise<void>((resolve) => (stop = resolve));
  const removeSignals = onStopSignals(
    () => {
      log.info('stopping: every job finishes its current run, then the queue is flushed');
      stopped = true;
      set.stopAll();
      stop();
    },
    undefined,
    log,
  );
  const reloads = new Reloads(() =>
    reload(paths, set, log).catch((error: unknown) => {
      // Not a file's mistake (those are handled per file): the jobs keep running as they were.
      const stack = error instanceof Error ? error.stack : undefined;
      log.error(
        `reload failed: ${error instanceof Error ? error.message : String(error)} (every job keeps running as it was)`,
        stack ? { stack } : undefined,
      );
    }),
  );
  const onHangup = () => {
    if (once) log.warn('SIGHUP ignored: --once runs the jobs as they were read');
    else reloads.request();
  };
  process.on('SIGHUP', onHangup);
  // Signal handlers do not keep node alive: with every job stopped on an error, the process still waits for a
  // SIGHUP (a fixed file) or SIGTERM, as a supervisor expects of a running service.
  const alive = once ? undefined : setInterval(() => {}, 2 ** 30);
  try {
    if (once) await writer.connect();
    for (const { file, loaded } of jobs) set.start(file.file, file.text, loaded);
    if (!once) await stopRequested;
    clearInterval(alive);
    await reloads.settled();
    await set.idle();
    // SIGTERM keeps its 5 s budget; --once gives a slow but working Graphite the time it takes.
    const longestRun = Math.max(...jobs.map((job) => job.loaded.config.runTimeout)) * 1000;
    const flushed =
      once && !stopped ? await drainWriter(writer, Math.max(longestRun, STOP_BUDGET.flushMs)) : await writer.flush(STOP_BUDGET.flushMs);
    // What is still queued now is dropped by close() and counted as lost.
    await writer.close();
    await set.close();
    const stats = writer.stats();
    if (stats.lost > 0) {
      log.error('Graphite did not take every line before exit; they are lost', {
        lost: stats.lost,
        note: 'catch-up refills them at the next start for the jobs whose poller has history and catchUp > 0; for the others they are gone',
      });
    } else if (!flushed) {
      log.warn('at exit, Graphite had not taken everything handed to its connection (down or slow): some lines may not have arrived', {
        sent: stats.sent,
      });
    }
    const outcomes = set.outcomes();
    const sum = (pick: (o: (typeof outcomes)[number]) => number) => outcomes.reduce((total, o) => total + pick(o), 0);
    const configErrors = outcomes.filter((o) => o.configError).length;
    const crashed = outcomes.filter((o) => o.crashed !== undefined).length;
    const errors = sum((o) => o.errors);
    log.info('jobs stopped', {
      jobs: outcomes.length,
      runs: sum((o) => o.runs),
      errors,
      ...(configErrors ? { stopped_on_config_error: configErrors } : {}),
      ...(crashed ? { ended_on_bug: crashed } : {}),
      sent: stats.sent,
      dropped: stats.dropped,
      lost: stats.lost,
    });
    if (configErrors > 0) return EXIT_CONFIG;
    // --once is for cron: a failed run, or datapoints that never reached Graphite, must show in its exit status.
    if (once) return errors > 0 || crashed > 0 || stats.dropped > 0 ? 1 : 0;
    return stats.lost > 0 || crashed > 0 ? 1 : 0;
  } finally {
    clearInterval(alive);
    removeSignals();
    process.off('SIGHUP', onHangup);
  }
}

/**
 * SIGHUP: the paths read again. A new file starts a job, a file gone stops its job after its run, a changed file
 * restarts its job; a file that is broken now is one line and changes nothing (its old job, if any, keeps running).
 */
async function reload(paths: string[], set: JobSet, log: Logger): Promise<void> {
  log.info('SIGHUP: reading the job files again');
  let files: string[];
  try {
    files = listJobFiles(paths, { reload: true });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    log.error(`${error.describe()} (reload: every job keeps running as it was)`);
    return;
  }
  const counts = { added: 0, changed: 0, removed: 0, broken: 0 };
  const listed = new Set(files);
  for (const key of set.keys) {
    if (listed.has(key)) continue;
    log.info('job file removed: its job stops after its current run', { config: key });
    set.remove(key);
    counts.removed++;
  }
  const names = pollerNames();
  for (const path of files) {
    const running = set.text(path);
    try {
      const file = readJobFile(path, names);
      if (file.text === running) continue;
      const loaded = await loadJob({ poller: file.poller, configFile: path });
      const owner = set.fileOfJob(loaded.config.job);
      if (owner !== undefined && owner !== path) {
        throw new ConfigError(`the job name "${loaded.config.job}" is already ${owner}'s (a job's name keys its state and self-metrics)`, {
          file: path,
          field: 'job',
        });
      }
      if (running === undefined) log.info('job file added: starting its job', { job: loaded.config.job, config: path });
      else log.info('job file changed: its job restarts after its current run', { job: loaded.config.job, config: path });
      set.start(path, file.text, loaded);
      counts[running === undefined ? 'added' : 'changed']++;
    } catch (error) {
      counts.broken++;
      const what = running === undefined ? 'not started' : 'its job keeps running as it was';
      if (error instanceof ConfigError) log.error(`${error.inFile(path).describe()} (reload: ${what})`);
      else log.error(`reload: cannot load ${path}: ${error instanceof Error ? error.message : String(error)} (${what})`);
    }
  }
  log.info('reload done', { jobs: set.keys.length, ...counts });
}

/** One reload at a time; a SIGHUP during one asks for one more after it (the files may have changed again). */
class Reloads {
  private readonly run: () => Promise<void>;
  private current: Promise<void> | undefined;
  private again = false;

  constructor(run: () => Promise<void>) {
    this.run = run;
  }

  request(): void {
    if (this.current) {
      this.again = true;
      return;
    }
    this.current = (async () => {
      do {
        this.again = false;
        await this.run();
      } while (this.again);
      this.current = undefined;
    })();
  }

  settled(): Promise<void> {
    return this.current ?? Promise.resolve();
  }
}
