// GetMetricData, ListMetrics and the Tagging API's GetResources through the SDK: the instance's rate limits, retries with
// backoff on the run's clock, the run's abort signal, and every attempt counted.
import {
  GetMetricDataCommand,
  ListMetricsCommand,
  type GetMetricDataCommandInput,
  type GetMetricDataCommandOutput,
  type ListMetricsCommandInput,
  type Metric,
} from '@aws-sdk/client-cloudwatch';
import { GetResourcesCommand, type ResourceTagMapping } from '@aws-sdk/client-resource-groups-tagging-api';
import { type PollStats, RateLimiter } from '../../lib/poller-kit/index.ts';
import type { CloudWatchTarget } from './client.ts';
import { isRetryable, isThrottle, retryDelay } from './retries.ts';

export interface CallSettings {
  getMetricDataRate: number;
  listMetricsRate: number;
  getResourcesRate: number;
  /** Attempts per call, the first included. */
  maxAttempts: number;
}

/** What one run lends to its calls: its abort signal, its self-metrics, and the runner's clock. */
export interface CallRun {
  signal: AbortSignal;
  stats: PollStats;
  /** Epoch milliseconds on the runner's clock. */
  now(): number;
  /** The poll context's sleep: on the runner's clock, over when the run's signal aborts. */
  sleep(ms: number): Promise<void>;
}

/** GetResources' largest page: fewest calls. */
const RESOURCES_PER_PAGE = 100;

/**
 * The rate limiters of one poller instance, one per operation, region and account (AWS's quotas are per account
 * and region): every run of the job, and every window of a backfill, draws from the same buckets.
 */
export class RateLimits {
  readonly #limiters = new Map<string, RateLimiter>();

  get(key: string, ratePerSecond: number, run: CallRun): RateLimiter {
    let limiter = this.#limiters.get(key);
    if (!limiter) {
      // Calls pass their own run's time (reserve, release): the limiter's clock only dates its creation.
      const { now, sleep } = run;
      this.#limiters.set(key, (limiter = new RateLimiter({ ratePerSecond, clock: { now, sleep } })));
    }
    return limiter;
  }
}

/**
 * The API calls of one run. Before each call it takes a token from the instance's limiter for that operation,
 * region and account, waiting on the run's clock. Throttles, 5xx and lost connections are retried here, up to
 * `maxAttempts` in all, after a backoff with jitter on the run's clock (`sleep`), so a wait ends with the run's
 * deadline; a middleware counts each attempt, so throttles that a retry absorbed still show in the self-metrics.
 */
export class CloudWatchCalls {
  readonly #target: CloudWatchTarget;
  readonly #run: CallRun;
  readonly #signal: AbortSignal;
  readonly #stats: PollStats;
  readonly #maxAttempts: number;
  readonly #getMetricDataLimiter: RateLimiter;
  readonly #listMetricsLimiter: RateLimiter;
  readonly #getResourcesLimiter: RateLimiter;

  constructor(target: CloudWatchTarget, settings: CallSettings, run: CallRun, limits: RateLimits) {
    this.#target = target;
    this.#run = run;
    this.#signal = run.signal;
    this.#stats = run.stats;
    this.#maxAttempts = settings.maxAttempts;
    this.#getMetricDataLimiter = limits.get(`cloudwatch.GetMetricData.${target.quotaKey}`, settings.getMetricDataRate, run);
    this.#listMetricsLimiter = limits.get(`cloudwatch.ListMetrics.${target.quotaKey}`, settings.listMetricsRate, run);
    this.#getResourcesLimiter = limits.get(`tagging.GetResources.${target.quotaKey}`, settings.getResourcesRate, run);
  }

  async getMetricData(input: GetMetricDataCommandInput): Promise<GetMetricDataCommandOutput> {
    await this.#throttle(this.#getMetricDataLimiter);
    this.#stats.count('get_metric_data_calls');
    // Billing counts metrics requested, not calls nor datapoints.
    this.#stats.count('metrics_requested', input.MetricDataQueries?.length ?? 0);
    return this.#retried(() => this.#target.client.send(this.#counted(new GetMetricDataCommand(input)), { abortSignal: this.#signal }));
  }

  /** Every metric ListMetrics returns for `input`, following NextToken page by page. */
  async listMetrics(input: ListMetricsCommandInput): Promise<Metric[]> {
    const metrics: Metric[] = [];
    let nextToken: string | undefined;
    do {
      await this.#throttle(this.#listMetricsLimiter);
      this.#stats.count('list_metrics_calls');
      const command = () => this.#counted(new ListMetricsCommand({ ...input, NextToken: nextToken }));
      const page = await this.#retried(() => this.#target.client.send(command(), { abortSignal: this.#signal }));
      metrics.push(...(page.Metrics ?? []));
      nextToken = page.NextToken;
    } while (nextToken);
    return metrics;
  }

  /** Every resource GetResources returns for `input` (Tagging API), following PaginationToken page by page. */
  async getResources(input: {
    ResourceTypeFilters: string[];
    TagFilters: Array<{ Key: string; Values?: string[] }>;
  }): Promise<ResourceTagMapping[]> {
    const mappings: ResourceTagMapping[] = [];
    let token: string | undefined;
    do {
      await this.#throttle(this.#getResourcesLimiter);
      this.#stats.count('get_resources_calls');
      const pageInput = { ...input, ResourcesPerPage: RESOURCES_PER_PAGE, ...(token ? { PaginationToken: token } : {}) };
      const command = () => this.#counted(new GetResourcesCommand(pageInput));
      const page = await this.#retried(() => this.#target.tagging().send(command(), { abortSignal: this.#signal }));
      mappings.push(...(page.ResourceTagMappingList ?? []));
      // The last page answers an empty PaginationToken.
      token = page.PaginationToken || undefined;
    } while (token);
    return mappings;
  }

  /** Takes a token, waiting on the run's clock; an aborted run gives the token back and ends with the abort. */
  async #throttle(limiter: RateLimiter): Promise<void> {
    this.#signal.throwIfAborted();
    const waitMs = limiter.reserve(1, this.#run.now());
    if (waitMs === 0) return;
    const started = this.#run.now();
    await this.#run.sleep(waitMs);
    if (this.#signal.aborted) {
      limiter.release(1, this.#run.now());
      this.#signal.throwIfAborted();
    }
    const waited = Math.max(0, this.#run.now() - started);
    if (waited > 0) this.#stats.count('rate_limit_wait_ms', waited);
  }

  /** `send` (one attempt, a fresh command each time), again after a backoff while the error is one a retry may heal. */
  async #retried<T>(send: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await send();
      } catch (error) {
        if (attempt >= this.#maxAttempts || !isRetryable(error) || this.#signal.aborted) throw error;
        await this.#run.sleep(retryDelay(error, attempt - 1));
        // The run's deadline passed during the backoff: no more attempts.
        this.#signal.throwIfAborted();
      }
    }
  }

  #counted<C extends GetMetricDataCommand | ListMetricsCommand | GetResourcesCommand>(command: C): C {
    const stats = this.#stats;
    // The commands share the SDK's middleware stack type apart from their input and output shapes.
    const stack = command.middlewareStack as unknown as GetMetricDataCommand['middlewareStack'];
    stack.add(
      (next) => async (args) => {
        stats.count('api_calls');
        try {
          return await next(args);
        } catch (error) {
          if (isThrottle(error)) stats.count('throttles');
          else if (((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode ?? 0) >= 500)
            stats.count('server_errors');
          throw error;
        }
      },
      // The deserialize step sees the parsed error of each attempt.
      { step: 'deserialize', priority: 'high', name: 'graphitePollersAttemptCounter' },
    );
    return command;
  }
}
