// Fan-out with partial failure: run a source's parts (regions, reports, queries, repositories) with bounded
// concurrency, keep what the parts that worked delivered, and fail the run with one combined line for the rest.
import pLimit from 'p-limit';
import { ConfigError } from './config-error.ts';

import type { PollStats } from './contract.ts';

export interface FanOutOptions<T> {
  /** Parts run at once (default 4). */
  concurrency?: number;
  /** Aborted at the run's deadline or a stop: parts not started are not started, and the abort wins. */
  signal?: AbortSignal;
  /**
   * What a part is called in the combined error ("query signups", "eu-west-1 as arn:…"). Leave it out when each
   * part's own error already names it, or when parts have no name worth a reader's time (one call of many).
   */
  label?(item: T): string;
  /** What the parts are called, plural, in the combined error ("queries", "region and account pairs"). */
  noun: string;
  /**
   * How the combined line tells the failures: `each` (default) "2 of 15 queries failed: a: …; b: …", every part
   * with its message; `first` "2 of 15 region and account pairs failed (a; b): …", the parts named and the first
   * message alone (for parts that mostly fail for one reason: a role refused in every region).
   */
  summary?: 'each' | 'first';
  /** The run's self-metrics: each failed part adds 1 to `parts_failed` (not a ConfigError, a fatal error or the abort). */
  stats?: PollStats;
  /** Called once for each failed part (count it, log it); not for a ConfigError, a fatal error or the abort. */
  onFailure?(item: T, error: unknown): void;
  /**
   * Errors that end the fan-out like a ConfigError does (parts not started are not started, the error is thrown
   * as it is), for failures every other part would meet too: a rate limit used up.
   */
  isFatal?(error: unknown): boolean;
  /**
   * False: when the signal aborts, the parts' own errors are reported (as one part's error or a PartialFailure)
   * instead of the signal's reason, for parts whose errors say what the abort cut short ("the run's deadline passed
   * while waiting for quota until 13:00"). Parts not started are still not started. Default true.
   */
  abortWins?: boolean;
}

/** The parts that failed, for callers that want more than the combined error (their own rules on top of it). */
export class PartialFailure<T = unknown> extends Error {
  readonly failures: ReadonlyArray<{ item: T; label: string | undefined; error: unknown }>;
  /** How many parts there were. */
  readonly total: number;

  constructor(message: string, failures: ReadonlyArray<{ item: T; label: string | undefined; error: unknown }>, total: number) {
    super(message, { cause: failures[0]?.error });
    this.name = 'PartialFailure';
    this.failures = failures;
    this.total = total;
  }
}

/**
 * Runs `work` for every item. Resolves when every part succeeded. Otherwise, once every started part has
 * settled: a ConfigError (or an error `isFatal` names) from any part is thrown as it is (the job's configuration
 * is wrong: exit 78); an abort throws the signal's reason; else one PartialFailure "2 of 15 queries failed: a: …; b: …".
 */
export async function fanOut<T>(
  items: readonly T[],
  work: (item: T, signal: AbortSignal | undefined) => Promise<void>,
  options: FanOutOptions<T>,
): Promise<void> {
  const limit = pLimit(Math.max(1, options.concurrency ?? 4));
  const abortWins = options.abortWins ?? true;
  const failures: Array<{ item: T; label: string | undefined; error: unknown }> = [];
  let fatal: { error: unknown } | undefined;
  await Promise.all(
    items.map((item) =>
      limit(async () => {
        if (options.signal?.aborted || fatal) return;
        try {
          await work(item, options.signal);
        } catch (error) {
          if (error instanceof ConfigError || options.isFatal?.(error)) {
            fatal ??= { error };
            return;
          }
          if (abortWins && options.signal?.aborted) return;
          failures.push({ item, label: options.label?.(item), error });
          options.stats?.count('parts_failed');
          options.onFailure?.(item, error);
        }
      }),
    ),
  );
  if (fatal) throw fatal.error;
  if (abortWins || failures.length === 0) options.signal?.throwIfAborted();
  if (failures.length === 0) return;
  throw new PartialFailure(combinedMessage(failures, items.length, options), failures, items.length);
}

function combinedMessage<T>(
  failures: ReadonlyArray<{ label: string | undefined; error: unknown }>,
  total: number,
  options: FanOutOptions<T>,
): string {
  const head = `${failures.length} of ${total} ${options.noun} failed`;
  const labels = failures.flatMap((f) => (f.label === undefined ? [] : [f.label]));
  if (options.summary === 'first') {
    return `${head}${labels.length > 0 ? ` (${labels.join('; ')})` : ''}: ${messageOf(failures[0]!.error)}`;
  }
  return `${head}: ${failures.map((f) => (f.label === undefined ? '' : `${f.label}: `) + messageOf(f.error)).join('; ')}`;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
