// Fan-out with partial failure: run a source's parts (regions, reports, queries, repositories) with bounded
// concurrency, keep what the parts that worked delivered, and fail the run with one combined line for the rest.
import pLimit from 'p-limit';
import { ConfigError } from './config-error.ts';

export interface FanOutOptions<T> {
  /** Parts run at once (default 4). */
  concurrency?: number;
  /** Aborted at the run's deadline or a stop: parts not started are not started, and the abort wins. */
  signal?: AbortSignal;
  /** What a part is called in the combined error ("query signups", "region eu-west-1"). */
  label(item: T): string;
  /** What the parts are called, plural, in the combined error ("queries", "region/account pairs"). */
  noun: string;
  /** Called once for each failed part (count it, log it); not for a ConfigError or the abort. */
  onFailure?(item: T, error: unknown): void;
}

/** The parts that failed, for callers that want more than the combined error. */
export class PartialFailure extends Error {
  readonly failures: ReadonlyArray<{ label: string; error: unknown }>;

  constructor(message: string, failures: ReadonlyArray<{ label: string; error: unknown }>) {
    super(message, { cause: failures[0]?.error });
    this.name = 'PartialFailure';
    this.failures = failures;
  }
}

/**
 * Runs `work` for every item. Resolves when every part succeeded. Otherwise, once every started part has
 * settled: a ConfigError from any part is thrown as it is (the job's configuration is wrong: exit 78); an
 * abort throws the signal's reason; else one PartialFailure "2 of 15 queries failed: a: …; b: …".
 */
export async function fanOut<T>(items: readonly T[], work: (item: T, signal: AbortSignal | undefined) => Promise<void>, options: FanOutOptions<T>): Promise<void> {
  const limit = pLimit(Math.max(1, options.concurrency ?? 4));
  const failures: Array<{ label: string; error: unknown }> = [];
  let configError: ConfigError | undefined;
  await Promise.all(
    items.map((item) =>
      limit(async () => {
        if (options.signal?.aborted || configError) return;
        try {
          await work(item, options.signal);
        } catch (error) {
          if (error instanceof ConfigError) {
            configError ??= error;
            return;
          }
          if (options.signal?.aborted) return;
          failures.push({ label: options.label(item), error });
          options.onFailure?.(item, error);
        }
      }),
    ),
  );
  if (configError) throw configError;
  options.signal?.throwIfAborted();
  if (failures.length === 0) return;
  const parts = failures.map((f) => `${f.label}: ${messageOf(f.error)}`).join('; ');
  throw new PartialFailure(`${failures.length} of ${items.length} ${options.noun} failed: ${parts}`, failures);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
