// `bin/backfill.ts`: a poller's history over a range, resumable, with progress and a summary.
import { runBackfill, type BackfillState } from '../backfill/run-backfill.ts';
import { BackfillProgress } from '../backfill/progress-records.ts';
import { WaitReporter } from '../backfill/backfill-wait.ts';
import { systemClock, type Clock } from '../poller-kit/clock.ts';
import { loadEnvironmentFile } from '../config/job-config.ts';
import { parseCommandLine, reportFatal } from './command-line.ts';
import { ConfigError } from '../poller-kit/config-error.ts';
import { deadline } from '../poller-kit/deadline.ts';
import { formatDuration, parseDuration } from '../poller-kit/duration.ts';
import { environmentHelp, readEnvironment } from '../config/environment.ts';
import { parseGraphiteUrl } from '../graphite/url.ts';
import { createLogger, type Logger } from '../poller-kit/logger.ts';
import { loadJob, openJob } from '../run/open-job.ts';
import { logProcessWarnings } from '../run/process-warnings.ts';
import { createProgressDisplay } from '../backfill/progress-display.ts';
import { STOP_BUDGET } from '../run/stop-budget.ts';
import { onStopSignals } from '../run/stop-signals.ts';
import { needsTimeZone, parseTimeBound } from '../backfill/time-range.ts';
import { formatWindow } from '../run/time-window.ts';

const USAGE = `Usage: node --import tsx bin/backfill.ts <poller> --from <ISO|date|-7d|-36h|yesterday> [--to <ISO|date|now|today>]
                                         [--config FILE] [--concurrency N] [--dry-run] [--restart] [--shard i/n]

  --from, --to     the range, half-open [from, to). An ISO timestamp is an instant (UTC unless it has an
                   offset); a date alone (2026-01-01), "today" and "yesterday" mean midnight in the source's
                   time zone (GA4: the property's; others: UTC); -7d, -36h, -90m count back from now. --to
                   defaults to now.
  --config FILE    the job's YAML file (default: config/<poller>.yaml)
  --concurrency N  windows fetched at once (default 4); the source's own rate limits still apply
  --dry-run        print Graphite lines on stdout instead of sending them; records no progress
  --restart        forget the progress of an interrupted run of the same command and start over
  --progress-every DURATION
                   without a terminal, a progress line this often (default 10s), also saying what the run
                   waits for while Graphite does not take its datapoints
  --shard i/n      fetch only the i-th of n shares of the job, for pollers that can split their work (SHARD=i/n
                   does the same); each shard keeps its own progress, as job <job>-shard<i>of<n>

An interrupted run (Ctrl-C, a crash, kill -9) resumes when the same command runs again within 24 h:
finished windows are recorded under STATE_DIR as soon as their points reach Graphite's socket.
Exit status: 0 when every window succeeded; 1 when a window failed, its datapoints did not all reach
Graphite, or the run was interrupted; 78 for configuration errors (including a poller without history).

${environmentHelp('backfill')}`;

/**
 * A backfill's producers wait on the queue instead of losing what they fetched: a window (and a page, in pollers
 * that await sink.ready() between pages) starts only while fewer than readyLines lines wait, and the lines of
 * requests already in flight are kept even past the queue limit. The overshoot is then bounded by concurrency
 * times a page (CloudWatch at its limits: 4 windows x 4 calls x 100,800 points), where drop-oldest would throw
 * away other windows' points and fail them (bench/backfill-pipeline.ts).
 */
export const BACKFILL_QUEUE = { readyLines: 50_000, overflow: 'grow' } as const;

/**
 * The V8 flags a backfill is launched with (see bin/backfill.ts): on the `node` line of its shebang, of
 * `npm run backfill` and of every example that starts it (test/lib/cli/launch-lines.test.ts checks each).
 */
export const BACKFILL_NODE_FLAGS = ['--optimize-for-size', '--semi-space-growth-factor=1'] as const;

/** After the last window: how long Graphite may take none of the queued lines, then how long the socket may take to drain. */
export const FINAL_FLUSH_MS = 120_000;

/** On a terminal the bar's "waiting for Graphite … 27s" moves every second. */
const BAR_WAITING_EVERY_MS = 1000;

export interface BackfillCommandContext {
  /** Time for the range, the retries, the progress cadence and the final wait (tests: a fake clock). */
  clock?: Clock;
}

export async function backfillCommand(argv: string[], log: Logger = createLogger(), context: BackfillCommandContext = {}): Promise<number> {
  // Errors found after loading (a run's missing credentials) name their field; the job's file is added.
  let configFile: string | undefined;
  try {
    loadEnvironmentFile();
    logProcessWarnings(log);
    const { values, positionals } = parseArguments(argv);
    if (values.help || positionals.length === 0) {
      if (!values.help) throw new ConfigError('no poller named (see --help)', { file: 'command line' });
      process.stdout.write(USAGE + '\n');
      return 0;
    }
    if (positionals.length > 1) throw new ConfigError(`one poller per run, got ${positionals.join(' ')}`, { file: 'command line' });
    const loaded = await loadJob({ poller: positionals[0]!, configFile: values.config, shard: values.shard, needsHistory: true });
    const { poller, config } = loaded;
    const history = poller.history!;
    configFile = config.file;
    const environment = readEnvironment();
    if (!values.from)
      throw new ConfigError('required, for example --from -7d or --from 2026-01-01', { file: 'command line', field: '--from' });
    const fromText = values.from;
    const toText = values.to ?? 'now';
    const concurrency = Number(values.concurrency ?? 4);
    if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) {
      throw new ConfigError('expected a whole number from 1 to 64', { file: 'command line', field: '--concurrency' });
    }

    const progressEvery = parseDuration(values['progress-every'] ?? '10s');
    if (progressEvery === undefined || progressEvery < 0.1 || progressEvery > 86400) {
      throw new ConfigError('expected a duration from 100ms to 1d, such as 10s or 1m', { file: 'command line', field: '--progress-every' });
    }

    const clock = context.clock ?? systemClock;
    let timeZone = 'UTC';
    if (history.timeZone && (needsTimeZone(fromText) || needsTimeZone(toText))) {
      timeZone = await history.timeZone(config.options, { fetch: globalThis.fetch, signal: deadline(undefined, 60_000).signal });
    }
    const from = parseTimeBound(fromText, clock.now(), timeZone);
    const to = parseTimeBound(toText, clock.now(), timeZone);
    if (from === undefined)
      throw new ConfigError(`expected an ISO time, a date, -7d or yesterday, got "${fromText}"`, { file: 'command line', field: '--from' });
    if (to === undefined)
      throw new ConfigError(`expected an ISO time, a date, now or today, got "${toText}"`, { file: 'command line', field: '--to' });
    if (from >= to)
      throw new ConfigError(`must be before --to (${new Date(to * 1000).toISOString()})`, { file: 'command line', field: '--from' });

    const nowSeconds = Math.floor(clock.now() / 1000);
    const oldest = nowSeconds - history.retention(config.options);
    let start = from;
    if (start < oldest) {
      log.warn(
        `the source keeps ${formatDuration(history.retention(config.options))} of history: ` +
          `starting at ${new Date(oldest * 1000).toISOString()} instead`,
      );
      start = oldest;
    }
    const end = Math.min(to, nowSeconds);
    if (start >= end) throw new ConfigError('the range holds no time the source still has', { file: 'command line', field: '--from' });

    const dryRun = values['dry-run'] ?? false;
    const opened = openJob({ job: loaded, environment, log, dryRun, queue: BACKFILL_QUEUE, clock });
    const { writer, stateDir } = opened;

    const progress = stateDir === undefined ? undefined : BackfillProgress.forJob(stateDir, config.job, () => clock.now());
    const command = `${poller.name} ${config.file ?? '-'} ${fromText}..${toText}`;
    const begun = progress?.begin(command, { start, end }, values.restart ?? false) ?? {
      range: { start, end },
      resumed: false,
      alreadyDone: 0,
    };
    if (begun.resumed) {
      log.info(
        `resuming the interrupted backfill of ${formatWindow(begun.range)}: ` +
          `${begun.alreadyDone} windows already done (--restart starts over)`,
      );
    }

    const step = history.step?.(config.options) ?? config.schedule.interval;
    const maxWindow = history.maxWindow(config.options);
    const stop = opened.stop;
    const removeSignals = onStopSignals(
      () => {
        log.info('stopping: no new windows; flushing what was fetched');
        stop.abort();
      },
      undefined,
      log,
    );
    const tty = !!process.stderr.isTTY && !dryRun;
    const graphite = describeGraphite(dryRun ? undefined : environment.graphiteUrl);
    const everyMs = progressEvery * 1000;
    const display = createProgressDisplay({ tty, log, label: poller.name, now: () => clock.now(), everyMs, graphite });
    // While Graphite does not take the lines, the run says so at the progress cadence instead of going quiet.
    const waitingEveryMs = tty ? BAR_WAITING_EVERY_MS : everyMs;
    let lastState: BackfillState = { done: 0, total: 0, datapoints: 0, failed: 0 };
    log.info(`backfill ${poller.name} ${formatWindow(begun.range)}`, { job: config.job, concurrency, graphite: opened.graphite });
    let progressErrorLogged = false;
    try {
      const summary = await runBackfill({
        job: opened.context,
        writer,
        range: begun.range,
        maxWindow,
        step,
        concurrency,
        stop: stop.signal,
        clock,
        windowTimeoutMs: Math.max(config.runTimeout * 1000 * 10, 300_000),
        isDone: (w) => progress?.isDone(w) ?? false,
        onDelivered: (w) => {
          try {
            progress?.markDone(w);
            progressErrorLogged = false;
          } catch (error) {
            // Once per outage of the state directory, not once per window.
            if (!progressErrorLogged) {
              const message = 'cannot record backfill progress; an interrupted run would fetch its windows again';
              log.error(message, { file: progress?.file, error });
            }
            progressErrorLogged = true;
          }
        },
        onWindow: (state) => {
          lastState = state;
          display.update(state);
        },
        deliveryTimeoutMs: FINAL_FLUSH_MS,
        waitingEveryMs,
        onWaiting: (state) => {
          lastState = state;
          display.waiting(state);
        },
      });
      // Everything was handed to the socket (or a stop cut the wait short): let the socket drain. After the final
      // wait ran out, a flush would only wait for the same again.
      let flushed = false;
      if (!summary.deliveryTimedOut) {
        const tell = (waitedMs: number) => display.waiting({ ...lastState, queued: writer.stats().queued, waitedMs });
        const flushWaits = new WaitReporter(clock, waitingEveryMs, tell);
        const flushMs = stop.signal.aborted ? STOP_BUDGET.backfillFlushMs : FINAL_FLUSH_MS;
        await flushWaits.wait(writer.flush(flushMs).then((ok) => (flushed = ok)));
      }
      display.stop();
      // What close() is about to drop: never handed to Graphite.
      const undeliveredPoints = flushed ? 0 : writer.stats().queued;
      const complete = summary.failed.length === 0 && !summary.interrupted && flushed && summary.undelivered === 0;
      try {
        progress?.finish(complete);
      } catch {
        // Already reported by markDone; the summary below still tells the truth.
      }
      const left = summary.windows - summary.alreadyDone - summary.fetched - summary.failed.length;
      log.info(
        `backfill ${complete ? 'done' : summary.interrupted ? 'interrupted' : 'finished with failures'}: ` +
          `${summary.windows} windows (${summary.alreadyDone} already done, ${summary.fetched} fetched, ` +
          `${summary.failed.length} failed${left > 0 ? `, ${left} not started` : ''}), ` +
          `${summary.datapoints} datapoints${undeliveredPoints > 0 ? ` (${undeliveredPoints} did not reach Graphite)` : ''}, ` +
          `${summary.apiCalls} API calls, ${formatDuration(summary.durationMs / 1000) || '0s'}`,
      );
      for (const window of summary.failed) log.error(`failed window ${formatWindow(window)}`);
      if (!flushed) {
        const within = summary.deliveryTimedOut ? ` (it took none for ${formatDuration(FINAL_FLUSH_MS / 1000)})` : ' before exit';
        const windows = summary.undelivered > 0 ? `; ${summary.undelivered} windows are not recorded and run again next time` : '';
        log.error(`${undeliveredPoints} datapoints did not reach Graphite at ${graphite}${within}${windows}`);
      }
      if (!complete && !dryRun) log.info('run the same command again to finish the rest');
      return complete ? 0 : 1;
    } finally {
      display.stop();
      removeSignals();
      await opened.close();
    }
  } catch (error) {
    return reportFatal(error instanceof ConfigError ? error.inFile(configFile) : error, log);
  }
}

/** Where the lines go, for messages: `tcp://host:port`, or stdout. */
function describeGraphite(url: string | undefined): string {
  const target = parseGraphiteUrl(url);
  if (target.kind === 'stdout') return 'stdout';
  if (target.kind === 'http') return target.url;
  return `${target.kind}://${target.host.includes(':') ? `[${target.host}]` : target.host}:${target.port}`;
}

/** `--from -7d` as users type it: parseArgs would take `-7d` for an option, so bind it to its flag first. */
function bindNegativeValues(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const next = argv[i + 1];
    if ((arg === '--from' || arg === '--to') && next !== undefined && /^-\d/.test(next)) {
      out.push(`${arg}=${next}`);
      i++;
    } else out.push(arg);
  }
  return out;
}

function parseArguments(argv: string[]) {
  return parseCommandLine(bindNegativeValues(argv), {
    from: { type: 'string' },
    to: { type: 'string' },
    config: { type: 'string', short: 'c' },
    concurrency: { type: 'string' },
    'dry-run': { type: 'boolean' },
    restart: { type: 'boolean' },
    shard: { type: 'string' },
    'progress-every': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
}
