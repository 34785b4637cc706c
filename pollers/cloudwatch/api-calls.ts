// GetMetricData, ListMetrics and the Tagging API's GetResources through the SDK: process-wide rate limits, the run's abort signal, and every attempt counted.
import {
  GetMetricDataCommand,
  ListMetricsCommand,
  type GetMetricDataCommandInput,
  type GetMetricDataCommandOutput,
  type ListMetricsCommandInput,
  type Metric,
} from '@aws-sdk/client-cloudwatch';
import { GetResourcesCommand, type ResourceTagMapping } from '@aws-sdk/client-resource-groups-tagging-api';
import { type PollStats, type RateLimiter, sharedRateLimiter } from '../../lib/poller-kit/index.ts';
import type { CloudWatchTarget } from './client.ts';

export interface CallSettings {
  getMetricDataRate: number;
  listMetricsRate: number;
  getResourcesRate: number;
}

/** GetResources' largest page: fewest calls. */
const RESOURCES_PER_PAGE = 100;

// Error names the SDK gives throttling answers (CloudWatch's JSON protocol answers `Throttling` in the
// x-amzn-query-error header and `ThrottlingException` in the body's __type).
const THROTTLING = new Set(['Throttling', 'ThrottlingException', 'ThrottledException', 'TooManyRequestsException', 'RequestLimitExceeded', 'RequestThrottled']);

export function isThrottle(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number }; $retryable?: { throttling?: boolean } };
  return THROTTLING.has(e?.name ?? '') || e?.$metadata?.httpStatusCode === 429 || e?.$retryable?.throttling === true;
}

/**
 * The API calls of one run. Before each call it takes a token from the limiter shared by every job of the
 * process for that operation, region and account; the SDK (adaptive retry mode) retries throttles and 5xx
 * with backoff; a middleware inside the retry loop counts each attempt, so throttles that a retry absorbed
 * still show in the self-metrics.
 */
export class CloudWatchCalls {
  readonly #target: CloudWatchTarget;
  readonly #signal: AbortSignal;
  readonly #stats: PollStats;
  readonly #getMetricDataLimiter: RateLimiter;
  readonly #listMetricsLimiter: RateLimiter;
  readonly #getResourcesLimiter: RateLimiter;

  constructor(target: CloudWatchTarget, settings: CallSettings, run: { signal: AbortSignal; stats: PollStats }) {
    this.#target = target;
    this.#signal = run.signal;
    this.#stats = run.stats;
    this.#getMetricDataLimiter = sharedRateLimiter(`cloudwatch.GetMetricData.${target.quotaKey}`, { ratePerSecond: settings.getMetricDataRate });
    this.#listMetricsLimiter = sharedRateLimiter(`cloudwatch.ListMetrics.${target.quotaKey}`, { ratePerSecond: settings.listMetricsRate });
    this.#getResourcesLimiter = sharedRateLimiter(`tagging.GetResources.${target.quotaKey}`, { ratePerSecond: settings.getResourcesRate });
  }

  async getMetricData(input: GetMetricDataCommandInput): Promise<GetMetricDataCommandOutput> {
    await this.#throttle(this.#getMetricDataLimiter);
    this.#stats.count('get_metric_data_calls');
    // Billing counts metrics requested, not calls nor datapoints.
    this.#stats.count('metrics_requested', input.MetricDataQueries?.length ?? 0);
    return this.#target.client.send(this.#counted(new GetMetricDataCommand(input)), { abortSignal: this.#signal });
  }

  /** Every metric ListMetrics returns for `input`, following NextToken page by page. */
  async listMetrics(input: ListMetricsCommandInput): Promise<Metric[]> {
    const metrics: Metric[] = [];
    let nextToken: string | undefined;
    do {
      await this.#throttle(this.#listMetricsLimiter);
      this.#stats.count('list_metrics_calls');
      const page = await this.#target.client.send(this.#counted(new ListMetricsCommand({ ...input, NextToken: nextToken })), { abortSignal: this.#signal });
      metrics.push(...(page.Metrics ?? []));
      nextToken = page.NextToken;
    } while (nextToken);
    return metrics;
  }

  /** Every resource GetResources returns for `input` (Tagging API), following PaginationToken page by page. */
  async getResources(input: { ResourceTypeFilters: string[]; TagFilters: Array<{ Key: string; Values?: string[] }> }): Promise<ResourceTagMapping[]> {
    const mappings: ResourceTagMapping[] = [];
    let token: string | undefined;
    do {
      await this.#throttle(this.#getResourcesLimiter);
      this.#stats.count('get_resources_calls');
      const command = new GetResourcesCommand({ ...input, ResourcesPerPage: RESOURCES_PER_PAGE, ...(token ? { PaginationToken: token } : {}) });
      const page = await this.#target.tagging().send(this.#counted(command), { abortSignal: this.#signal });
      mappings.push(...(page.ResourceTagMappingList ?? []));
      // The last page answers an empty PaginationToken.
      token = page.PaginationToken || undefined;
    } while (token);
    return mappings;
  }

  async #throttle(limiter: RateLimiter): Promise<void> {
    const waited = await limiter.take(this.#signal);
    if (waited > 0) this.#stats.count('rate_limit_wait_ms', waited);
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
          else if (((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode ?? 0) >= 500) stats.count('server_errors');
          throw error;
        }
      },
      // The deserialize step runs inside the SDK's retry loop: once per attempt, with the parsed error.
      { step: 'deserialize', priority: 'high', name: 'graphitePollersAttemptCounter' },
    );
    return command;
  }
}
