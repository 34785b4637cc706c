// Sends one Data API call under GA's rules: ≤10 at once per property, waits for exhausted quota, bounded 5xx retries.
import pLimit, { type LimitFunction } from 'p-limit';
import { backoffDelay, formatDuration, RequestGates, type GateClosure, type Logger, type PollStats } from '../../lib/poller-kit/index.ts';
import { classifyError, Ga4ApiError, type QuotaBucket } from './api-error.ts';
import { quotaReturnsAt, type QuotaPool } from './quota.ts';

/** Standard properties allow 10 concurrent requests (Analytics 360: 50); more would only earn 429s. */
export const MAX_CONCURRENT_REQUESTS = 10;
/** GA allows 10 server errors per project and property per hour; retries stop at half of that. */
export const SERVER_ERROR_BUDGET_PER_HOUR = 5;
/** First retry after 2 s, then 4 s, 8 s… (exact, as the option's description says), up to 64 s at the 5 retries allowed. */
export const RETRY_BASE_MS = 2000;
const RETRY_MAX_MS = 64_000;
/** A request that keeps meeting exhausted quota after this many waits gives up (the clock or GA disagree with us). */
const MAX_QUOTA_WAITS_PER_REQUEST = 3;

/** What one run lends to its requests. */
export interface RunContext {
  readonly signal: AbortSignal;
  readonly stats: PollStats;
  readonly log: Logger;
  readonly mode: 'live' | 'backfill';
  /** The job's interval (seconds): a live tick never waits longer than that for quota. */
  readonly interval: number;
  now(): number;
  /**
   * The poll context's sleep: waits `ms` on the runner's clock (fake in tests) and ends early, never rejecting,
   * when the run's signal aborts; quota waits and retry backoffs use it, so none outlives the run's deadline.
   */
  sleep(ms: number): Promise<void>;
}

export interface RequestLimits {
  /** Seconds a run may wait for quota to return. */
  maxQuotaWait: number;
  serverErrorRetries: number;
}

const BUCKET_NAMES: Record<QuotaBucket, string> = {
  day: 'tokens per day',
  hour: 'tokens per hour',
  projectHour: 'tokens per project per hour',
  concurrent: 'concurrent requests',
  clientErrors: 'client errors per 15 minutes',
  serverErrors: 'server errors per hour',
  thresholded: 'potentially thresholded requests per hour',
};

/** What GA's quota gate of a property and pool notes besides its reason and time. */
interface QuotaClosure {
  bucket: QuotaBucket;
  /** A run's deadline already cut a wait for this closure: later runs fail at once instead of waiting in vain. */
  waitCut?: boolean;
}

/** State shared by every run of a poller instance (a job): limiters, quota blocks and the server-error budget per property. */
export class RequestPolicy {
  /** Per property and pool (core and realtime reports draw on separate quotas), closed until exhausted quota returns. */
  readonly gates = new RequestGates<QuotaClosure>();
  readonly #limiters = new Map<string, LimitFunction>();
  readonly #serverErrors = new Map<string, number[]>();
  readonly #announced = new WeakSet<GateClosure<QuotaClosure>>();

  /** The limiter of a property: every request to it, from any run of this instance, passes through it. */
  limiter(propertyId: string): LimitFunction {
    let limit = this.#limiters.get(propertyId);
    if (!limit) {
      limit = pLimit(MAX_CONCURRENT_REQUESTS);
      this.#limiters.set(propertyId, limit);
    }
    return limit;
  }

  /**
   * Runs `call` (one HTTP request) and returns its answer. Exhausted quota (429) blocks the property's pool until
   * the quota returns and waits for it when the run may wait that long; server errors and lost connections are
   * retried with exponential backoff, at most `serverErrorRetries` times and within the hourly budget; every other
   * failure is thrown at once as a Ga4ApiError that quotes GA.
   */
  async send<T>(
    what: string,
    propertyId: string,
    pool: QuotaPool,
    limits: RequestLimits,
    run: RunContext,
    call: (signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    let retries = 0;
    let quotaWaits = 0;
    for (;;) {
      await this.#waitForQuota(what, propertyId, pool, limits, run);
      try {
        return await this.limiter(propertyId)(() => {
          if (run.signal.aborted) throw new Ga4ApiError(`${what}: aborted before it was sent (the run's deadline passed)`, 'aborted');
          run.stats.count('api_calls');
          return call(run.signal);
        });
      } catch (raw) {
        const error = classifyError(raw, what);
        if (error.kind === 'quota') {
          run.stats.count('throttles');
          const bucket = error.quotaBucket ?? 'hour';
          const returnsAt = quotaReturnsAt(bucket, run.now() / 1000) * 1000;
          const block = this.gates.for(`${propertyId}/${pool}`).closeUntil(returnsAt, error.message, { bucket });
          if (!this.#announced.has(block)) {
            this.#announced.add(block);
            const until = iso(block.until);
            run.log.warn(
              `GA quota exhausted (${BUCKET_NAMES[block.detail.bucket]}): ${pool} requests to property ${propertyId} wait until ${until}`,
              {
                reason: error.message,
              },
            );
          }
          if (++quotaWaits > MAX_QUOTA_WAITS_PER_REQUEST) throw error;
          continue;
        }
        if (error.retryable) {
          run.stats.count('server_errors');
          const budgetLeft = error.kind === 'server' ? this.#recordServerError(propertyId, run.now()) : true;
          if (retries < limits.serverErrorRetries && budgetLeft && !run.signal.aborted) {
            const delay = backoffDelay(retries++, RETRY_BASE_MS, RETRY_MAX_MS, Math.random, { jitter: 0 });
            run.stats.count('retries');
            run.log.warn(`${error.message}; retry ${retries} of ${limits.serverErrorRetries} in ${formatDuration(delay / 1000)}`);
            await run.sleep(delay);
            if (run.signal.aborted)
              throw new Ga4ApiError(
                `${error.message} (no retry: the run's deadline passed during the backoff)`,
                error.kind,
                error.httpStatus,
                error.apiStatus,
              );
            continue;
          }
          if (!budgetLeft) {
            throw new Ga4ApiError(
              `${error.message} (not retried: ${SERVER_ERROR_BUDGET_PER_HOUR} server errors from property ${propertyId} within the ` +
                `hour, and GA allows 10 per project and property)`,
              error.kind,
              error.httpStatus,
              error.apiStatus,
            );
          }
          if (retries > 0)
            throw new Ga4ApiError(
              `${error.message} (after ${retries} ${retries === 1 ? 'retry' : 'retries'})`,
              error.kind,
              error.httpStatus,
              error.apiStatus,
            );
        }
        throw error;
      }
    }
  }

  /** Waits while the pool is blocked, if the run may wait that long; otherwise ends the request with the reason. */
  async #waitForQuota(what: string, propertyId: string, pool: QuotaPool, limits: RequestLimits, run: RunContext): Promise<void> {
    const block = this.gates.for(`${propertyId}/${pool}`).check(run.now());
    if (!block) return;
    const { bucket } = block.detail;
    const waitSeconds = block.leftMs / 1000;
    const mayWait = run.mode === 'live' ? Math.min(limits.maxQuotaWait, run.interval) : limits.maxQuotaWait;
    const exhausted = `GA quota exhausted (${BUCKET_NAMES[bucket]}) for ${pool} requests to property ${propertyId}`;
    if (waitSeconds > mayWait || block.detail.waitCut) {
      const why = block.detail.waitCut
        ? "an earlier run's deadline already cut a wait for it"
        : run.mode === 'live' && mayWait < limits.maxQuotaWait
          ? `a live tick waits at most its interval (${formatDuration(mayWait)})`
          : `maxQuotaWait is ${formatDuration(mayWait)}`;
      const notSent = `${what}: not sent: ${exhausted} until ${iso(block.until)}, in ${formatDuration(Math.ceil(waitSeconds))}, and ${why}`;
      throw new Ga4ApiError(notSent, 'quota', 429, 'RESOURCE_EXHAUSTED', bucket);
    }
    run.stats.count('quota_waits');
    run.log.info(`${what}: waiting ${formatDuration(Math.ceil(waitSeconds))} for GA quota (${BUCKET_NAMES[bucket]})`);
    await run.sleep(block.leftMs);
    if (run.signal.aborted) {
      // Waiting again in the next run would only burn its deadline too (catch-up windows run inside live ticks).
      block.detail.waitCut = true;
      throw new Ga4ApiError(
        `${what}: not sent: the run's deadline passed while waiting for GA quota (${exhausted} until ${iso(block.until)})`,
        'aborted',
      );
    }
  }

  /** Counts a server error of the property; false once the hour's budget is spent. */
  #recordServerError(propertyId: string, nowMs: number): boolean {
    const recent = (this.#serverErrors.get(propertyId) ?? []).filter((t) => t > nowMs - 3_600_000);
    recent.push(nowMs);
    this.#serverErrors.set(propertyId, recent);
    return recent.length < SERVER_ERROR_BUDGET_PER_HOUR;
  }
}

function iso(epochMs: number): string {
  return new Date(epochMs).toISOString().replace('.000Z', 'Z');
}
