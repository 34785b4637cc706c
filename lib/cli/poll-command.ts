// `bin/poll.ts`: parse argv, load the poller and its job, run it live until SIGTERM (or once), flush, exit.
import { loadEnvironmentFile } from '../config/job-config.ts';
import { parseCommandLine, reportFatal } from './command-line.ts';
import { systemClock } from '../poller-kit/clock.ts';
import { formatPlan } from './plan-format.ts';
import { ConfigError } from '../poller-kit/config-error.ts';
import { environmentHelp, readEnvironment } from '../config/environment.ts';
import type { GraphiteWriter } from '../graphite/writer-types.ts';
import { createLogger, type Logger } from '../poller-kit/logger.ts';
import { loadJob, openJob } from '../run/open-job.ts';
import { logProcessWarnings } from '../run/process-warnings.ts';
import { drainWriter } from '../run/drain-writer.ts';
import { pollJobs } from './poll-jobs.ts';
import { pollerHelp, pollerList } from '../config/poller-help.ts';
import { loadPoller, pollerNames } from '../config/poller-registry.ts';
import { runPoller } from '../run/run-poller.ts';
import { formatShard } from '../poller-kit/shard.ts';
import { STOP_BUDGET } from '../run/stop-budget.ts';
import { onStopSignals } from '../run/stop-signals.ts';

const USAGE = `Usage: node --import tsx bin/poll.ts <poller> [--config FILE] [--once] [--dry-run] [--plan] [--shard i/n] [--help]
       node --import tsx bin/poll.ts --jobs DIR|FILE... [--once] [--dry-run]
       node --import tsx bin/poll.ts --list

  --config FILE  the job's YAML file (default: config/<poller>.yaml; a poller without required options runs without one)
  --once         run a single tick and exit (cron)
  --dry-run      print Graphite lines on stdout instead of sending them; keeps no state
  --plan         print what a tick costs (API calls, datapoints, money) without fetching, where the poller can tell
  --shard i/n    poll only the i-th of n shares of the job (1/3, 2/3, 3/3 on three hosts), for pollers that can split
                 their work; SHARD=i/n in the environment does the same. Each shard is its own job <job>-shard<i>of<n>
  --jobs DIR|FILE...  run several jobs in one process, on one Graphite connection: every *.yaml of DIR (not
                 *.example.yaml), or the files named. A file's name says its poller: <poller>.yaml or
                 <poller>-<anything>.yaml. SIGHUP reads them again (new jobs start, removed ones stop, changed ones restart)
  --list         every poller with its one-line summary
  --help         this text, or a poller's options with \`<poller> --help\`

${environmentHelp('poll')}`;

/** Stop within 5 s of SIGTERM: the current run gets its grace, the writer its flush (lib/run/stop-budget.ts). */
const FLUSH_MS = STOP_BUDGET.flushMs;

export async function pollCommand(argv: string[], log: Logger = createLogger()): Promise<number> {
  // Errors found after loading (a run's missing credentials) name their field; the job's file is added.
  let configFile: string | undefined;
  try {
    loadEnvironmentFile();
    logProcessWarnings(log);
    const { values, positionals } = parseArguments(argv);
    if (values.list) {
      const pollers = await Promise.all(pollerNames().map((name) => loadPoller(name)));
      process.stdout.write(pollerList(pollers) + '\n');
      return 0;
    }
    if (values.jobs && !values.help) {
      const alone = (['config', 'shard', 'plan'] as const).find((flag) => values[flag] !== undefined);
      if (alone)
        throw new ConfigError(`--${alone} is for one job; with --jobs each file is a job`, { file: 'command line', field: `--${alone}` });
      return await pollJobs({ paths: [...values.jobs, ...positionals], once: values.once, dryRun: values['dry-run'] }, log);
    }
    if (positionals.length === 0) {
      if (values.help) {
        process.stdout.write(USAGE + '\n');
        return 0;
      }
      throw new ConfigError(`no poller named; one of: ${pollerNames().join(', ')} (see --help)`, { file: 'command line' });
    }
    if (positionals.length > 1) throw new ConfigError(`one poller per process, got ${positionals.join(' ')}`, { file: 'command line' });

    const poller = await loadPoller(positionals[0]!);
    if (values.help) {
      process.stdout.write(pollerHelp(poller) + '\n');
      return 0;
    }
    const { config, shard } = await loadJob({ poller, configFile: values.config, shard: values.shard });
    configFile = config.file;
    if (values.plan) {
      if (!poller.plan)
        throw new ConfigError(`the ${poller.name} poller cannot estimate its cost (it has no plan)`, {
          file: 'command line',
          field: '--plan',
        });
      const plan = await poller.plan(config.options, config.schedule, { shard });
      process.stdout.write(formatPlan(plan).join('\n') + '\n');
      return 0;
    }
    const environment = readEnvironment();
    const job = openJob({ job: { poller, config, shard }, environment, log, dryRun: values['dry-run'], clock: systemClock });
    const { writer } = job;

    const removeSignals = onStopSignals(
      () => {
        log.info('stopping: finishing the current run and flushing');
        job.stop.abort();
      },
      undefined,
      log,
    );
    try {
      log.info(`${poller.name} started`, {
        job: config.job,
        config: config.file ?? '(none)',
        interval: config.schedule.interval,
        ...(shard ? { shard: formatShard(shard) } : {}),
        graphite: job.graphite,
      });
      // Cron's one tick: a connection first (its failure is logged before anything is fetched), not at the first line.
      if (values.once) await writer.connect();
      const result = await runPoller({
        poller,
        config,
        writer,
        log,
        stop: job.stop.signal,
        once: values.once,
        stateDir: job.stateDir,
        prefix: environment.prefix,
        tags: environment.tags,
        selfMetrics: environment.selfMetrics,
        stopGraceMs: STOP_BUDGET.runGraceMs,
        shard,
      });
      // SIGTERM keeps its 5 s budget; --once gives a slow but working Graphite the time it takes.
      const flushed =
        values.once && !job.stop.signal.aborted
          ? await drainWriter(writer, Math.max(config.runTimeout * 1000, FLUSH_MS))
          : await writer.flush(FLUSH_MS);
      // What is still queued now is dropped by close() and counted as lost.
      await writer.close();
      const stats = writer.stats();
      if (stats.lost > 0) {
        log.error('Graphite did not take every line before exit; they are lost', {
          lost: stats.lost,
          note:
            poller.history && config.catchUp > 0
              ? 'catch-up refills the datapoints at the next start'
              : 'the datapoints are gone (no catch-up for this job)',
        });
      } else if (!flushed) {
        log.warn('at exit, Graphite had not taken everything handed to its connection (down or slow): some lines may not have arrived', {
          sent: stats.sent,
        });
      }
      const { runs, errors } = result;
      log.info(`${poller.name} stopped`, { runs, errors, sent: stats.sent, dropped: stats.dropped, lost: stats.lost });
      if (result.configError) throw result.configError;
      // --once is for cron: a failed run, or datapoints that never reached Graphite, must show in its exit status.
      if (values.once) return result.errors > 0 || stats.dropped > 0 ? 1 : 0;
      // A live job's failed runs and drops are in its self-metrics; lines lost at exit can be in no self-metric,
      // so they show in the exit status (systemd marks the unit failed) besides the ERROR line.
      return stats.lost > 0 ? 1 : 0;
    } finally {
      removeSignals();
      await job.close();
    }
  } catch (error) {
    return reportFatal(error instanceof ConfigError ? error.inFile(configFile) : error, log);
  }
}

function parseArguments(argv: string[]) {
  return parseCommandLine(argv, {
    config: { type: 'string', short: 'c' },
    once: { type: 'boolean' },
    'dry-run': { type: 'boolean' },
    plan: { type: 'boolean' },
    shard: { type: 'string' },
    jobs: { type: 'string', multiple: true },
    list: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
}
