// History for any poller that has it: a range split into the source's windows, run with bounded concurrency,
// each window recorded once its points reached Graphite's socket, so an interrupted run resumes.
import pLimit from 'p-limit';
import type { Clock } from './clock.ts';
import { ConfigError } from './config-error.ts';
import { deadline } from './deadline.ts';
import { describeError, pollWindow, type JobContext } from './poll-window.ts';
import type { TimeWindow } from './poller.ts';
import { formatWindow, splitRange } from './time-window.ts';
import type { WriterFigures } from './self-metrics.ts';

/** What backfill needs of the Graphite writer. */
export interface BackfillWriter {
  readonly sequence: number;
  whenHandedOff(sequence: number): Promise<unknown>;
  stats(): Pick<WriterFigures, 'dropped'>;
}

export interface BackfillEvents {
  /** Called after each window: done so far, datapoints so far. */
  onWindow?(state: { done: number; total: number; datapoints: number; failed: number }): void;
}

export interface BackfillOptions extends BackfillEvents {
  job: JobContext;
  writer: BackfillWriter;
  range: TimeWindow;
  maxWindow: number;
  step: number;
  concurrency: number;
  stop: AbortSignal;
  clock: Clock;
  /** Windows an earlier, interrupted run finished: skipped. */
  isDone?(window: TimeWindow): boolean;
  /** A window whose points all reached Graphite's socket (none dropped meanwhile): record it. */
  onDelivered?(window: TimeWindow): void;
  /** Attempts per window before it counts as failed (source errors are often transient). */
  attempts?: number;
  /** Deadline of one attempt. */
  windowTimeoutMs?: number;
  /** Wait until the socket has taken every fetched point before resolving (default true). */
  awaitDelivery?: boolean;
}

export interface BackfillSummary {
  windows: number;
  /** Windows skipped because an earlier, interrupted run had finished them. */
  alreadyDone: number;
  fetched: number;
  failed: TimeWindow[];
  /** Windows not started because of a stop (Ctrl-C, SIGTERM). */
  notStarted: number;
  datapoints: number;
  apiCalls: number;
  durationMs: number;
  interrupted: boolean;
}

export async function runBackfill(options: BackfillOptions): Promise<BackfillSummary> {
  const { job, writer, clock } = options;
  // A configuration mistake (missing credentials…) fails every window alike: stop at the first one.
  const fatal = new AbortController();
  let configError: ConfigError | undefined;
  const stop = AbortSignal.any([options.stop, fatal.signal]);
  const started = clock.now();
  const windows = splitRange(options.range.start, options.range.end, options.maxWindow, options.step);
  const pending = windows.filter((w) => !options.isDone?.(w));
  const limit = pLimit(Math.max(1, options.concurrency));
  const attempts = options.attempts ?? 3;
  const summary: BackfillSummary = {
    windows: windows.length,
    alreadyDone: windows.length - pending.length,
    fetched: 0,
    failed: [],
    notStarted: 0,
    datapoints: 0,
    apiCalls: 0,
    durationMs: 0,
    interrupted: false,
  };
  // Hand-off waits are chained so the writer is asked about increasing sequences, in completion order.
  let handOffs: Promise<void> = Promise.resolve();
  const report = () => options.onWindow?.({ done: summary.alreadyDone + summary.fetched, total: windows.length, datapoints: summary.datapoints, failed: summary.failed.length });

  const runOne = async (window: TimeWindow): Promise<void> => {
    if (stop.aborted) {
      summary.notStarted++;
      return;
    }
    // Backpressure: a full queue makes the backfill wait instead of dropping what it fetched.
    await job.sink.ready();
    const droppedBefore = writer.stats().dropped;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      // deadline(), not AbortSignal.any with AbortSignal.timeout: on Node 20 a collected timeout never fires.
      const ms = options.windowTimeoutMs;
      const windowDeadline = ms ? deadline(stop, ms, `window exceeded its ${ms} ms deadline`) : undefined;
      const result = await pollWindow(job, window, 'backfill', windowDeadline?.signal ?? stop);
      windowDeadline?.clear();
      summary.datapoints += result.datapoints;
      if (result.ok) {
        const sequence = writer.sequence;
        handOffs = handOffs.then(async () => {
          await writer.whenHandedOff(sequence);
          // Any drop while this window was in flight may have hit its lines: then it is not recorded.
          if (writer.stats().dropped !== droppedBefore) {
            job.log.warn('points were dropped while this window was written; it is not recorded and runs again next time', { window: formatWindow(window) });
            summary.failed.push(window);
          } else {
            options.onDelivered?.(window);
          }
        });
        summary.fetched++;
        report();
        return;
      }
      if (result.error instanceof ConfigError) {
        configError ??= result.error;
        fatal.abort();
      }
      if (stop.aborted) {
        summary.notStarted++;
        return;
      }
      const last = attempt === attempts;
      job.log[last ? 'error' : 'warn'](`window failed${last ? '' : ', retrying'}: ${describeError(result.error)}`, { window: formatWindow(window), attempt });
      if (!last) await clock.sleep(1000 * 4 ** (attempt - 1), stop);
    }
    summary.failed.push(window);
    report();
  };

  await Promise.all(pending.map((window) => limit(() => runOne(window))));
  // Wait for the socket to take what was fetched; a stop cuts this short (unrecorded windows run next time).
  if (options.awaitDelivery !== false) await Promise.race([handOffs, new Promise<void>((resolve) => (stop.aborted ? resolve() : stop.addEventListener('abort', () => resolve(), { once: true })))]);
  if (configError) throw configError;
  summary.interrupted = stop.aborted;
  summary.apiCalls = job.stats.take().counters.get('api_calls') ?? 0;
  summary.durationMs = clock.now() - started;
  summary.failed.sort((a, b) => a.start - b.start);
  return summary;
}
