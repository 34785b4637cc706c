// History for any poller that has it: a range split into the source's windows, run with bounded concurrency,
// each window recorded once its points were delivered to Graphite (the delivery ledger), so an interrupted run resumes.
import pLimit from 'p-limit';
import { WaitReporter } from './backfill-wait.ts';
import { backoffDelay } from '../poller-kit/backoff.ts';
import type { Clock } from '../poller-kit/clock.ts';
import { ConfigError } from '../poller-kit/config-error.ts';
import { deadline } from '../poller-kit/deadline.ts';
import { describeError, pollWindow, type JobContext } from '../run/poll-window.ts';
import type { TimeWindow } from '../poller-kit/contract.ts';
import { formatWindow, splitRange } from '../run/time-window.ts';
import type { GraphiteWriter } from '../graphite/writer-types.ts';
import { DeliveryLedger } from '../state/delivery-ledger.ts';

export interface BackfillState {
  done: number;
  total: number;
  datapoints: number;
  failed: number;
}

/** A backfill held up by Graphite: lines it fetched are still queued (or the queue is too full to fetch more). */
export interface WaitingState extends BackfillState {
  /** Lines (datapoints) in the writer's queue now. */
  queued: number;
  /** How long the wait has lasted. */
  waitedMs: number;
}

export interface BackfillEvents {
  /** Called after each window: done so far, datapoints so far. */
  onWindow?(state: BackfillState): void;
  /** Called every `waitingEveryMs` while the run waits for Graphite: for room in the queue, or for the last deliveries. */
  onWaiting?(state: WaitingState): void;
}

export interface BackfillOptions extends BackfillEvents {
  job: JobContext;
  writer: GraphiteWriter;
  range: TimeWindow;
  maxWindow: number;
  step: number;
  concurrency: number;
  stop: AbortSignal;
  clock: Clock;
  /** Windows an earlier, interrupted run finished: skipped. */
  isDone?(window: TimeWindow): boolean;
  /** A window whose points were all delivered to Graphite (none dropped meanwhile): record it. */
  onDelivered?(window: TimeWindow): void;
  /** Attempts per window before it counts as failed (source errors are often transient). */
  attempts?: number;
  /** Deadline of one attempt. */
  windowTimeoutMs?: number;
  /** Wait until every fetched point is delivered before resolving (default true). */
  awaitDelivery?: boolean;
  /**
   * How long, after the last window, that wait may go on while Graphite takes none of the queued lines (default:
   * until it ends or a stop); windows whose points Graphite has not taken then are counted in `undelivered` and
   * not recorded. A slow Graphite that keeps taking lines is waited for.
   */
  deliveryTimeoutMs?: number;
  /** Cadence of onWaiting (default 10 s). */
  waitingEveryMs?: number;
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
  /** Windows fetched whose points were not all delivered when the wait for them ended: not recorded. */
  undelivered: number;
  /** The wait for the last deliveries ended after `deliveryTimeoutMs` in which Graphite took nothing. */
  deliveryTimedOut: boolean;
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
    undelivered: 0,
    deliveryTimedOut: false,
  };
  // Windows are recorded in completion order once delivered; once the run has stopped waiting, late ones are not.
  const ledger = new DeliveryLedger(writer);
  const state = (): BackfillState => ({
    done: summary.alreadyDone + summary.fetched,
    total: windows.length,
    datapoints: summary.datapoints,
    failed: summary.failed.length,
  });
  const report = () => options.onWindow?.(state());
  const onWaiting = options.onWaiting;
  const tell = onWaiting && ((waitedMs: number) => onWaiting({ ...state(), queued: writer.stats().queued, waitedMs }));
  const waits = new WaitReporter(clock, options.waitingEveryMs ?? 10_000, tell);

  const runOne = async (window: TimeWindow): Promise<void> => {
    if (stop.aborted) {
      summary.notStarted++;
      return;
    }
    // Backpressure: a full queue makes the backfill wait instead of dropping what it fetched (a stop ends the wait).
    if (!(await waits.wait(job.sink.ready(), { signal: stop }))) {
      summary.notStarted++;
      return;
    }
    const mark = ledger.mark();
    for (let attempt = 1; attempt <= attempts; attempt++) {
      // deadline(), not AbortSignal.any with AbortSignal.timeout: on Node 20 a collected timeout never fires.
      const ms = options.windowTimeoutMs;
      const windowDeadline = ms ? deadline(stop, ms, `window exceeded its ${ms} ms deadline`) : undefined;
      const result = await pollWindow(job, window, 'backfill', windowDeadline?.signal ?? stop);
      windowDeadline?.clear();
      summary.datapoints += result.datapoints;
      if (result.ok) {
        ledger.record(mark, ({ delivered }) => {
          // Any drop while this window was in flight may have hit its lines: then it is not recorded.
          if (delivered) options.onDelivered?.(window);
          else {
            job.log.warn('points were dropped while this window was written; it is not recorded and runs again next time', {
              window: formatWindow(window),
            });
            summary.failed.push(window);
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
      job.log[last ? 'error' : 'warn'](`window failed${last ? '' : ', retrying'}: ${describeError(result.error)}`, {
        window: formatWindow(window),
        attempt,
      });
      if (!last) await clock.sleep(backoffDelay(attempt - 1, 1000, Infinity, Math.random, { factor: 4, jitter: 0 }), stop); // 1s, 4s, 16s
    }
    summary.failed.push(window);
    report();
  };

  await Promise.all(pending.map((window) => limit(() => runOne(window))));
  // Wait until what was fetched is delivered; a stop or the timeout cuts this short (unrecorded windows run next time).
  if (options.awaitDelivery !== false) {
    const queued = () => writer.stats().queued;
    const delivered = await waits.wait(ledger.settled(), { signal: stop, timeoutMs: options.deliveryTimeoutMs, progress: queued });
    summary.undelivered = ledger.abandon();
    summary.deliveryTimedOut = !delivered && !stop.aborted;
  }
  if (configError) throw configError;
  summary.interrupted = stop.aborted;
  summary.apiCalls = job.stats.take().counters.get('api_calls') ?? 0;
  summary.durationMs = clock.now() - started;
  summary.failed.sort((a, b) => a.start - b.start);
  return summary;
}
