// Discovery of dimension values with ListMetrics, cached for a TTL by the poller instance so a tick rarely pays for it.
import type { Metric } from '@aws-sdk/client-cloudwatch';
import type { Logger, PollStats } from '../../lib/poller-kit/index.ts';
import type { DiscoveryCache } from './discovery-cache.ts';

export type DimensionPairs = Array<readonly [name: string, value: string]>;

export interface DiscoveryRequest {
  namespace: string;
  metric: string;
  /** Dimension filter: a name alone matches any value. Empty: every dimension set of the metric. */
  filter: Array<{ Name: string; Value?: string }>;
  /** Only series with data in the last 3 hours (ListMetrics RecentlyActive=PT3H). */
  recentlyActive: boolean;
}

export interface DiscoveryRun {
  /** Cache scope: the client (endpoint, region, account) the answer came from. */
  scope: string;
  ttlSeconds: number;
  /** The run's clock, epoch milliseconds. */
  now: () => number;
  listMetrics: (input: {
    Namespace: string;
    MetricName: string;
    Dimensions?: Array<{ Name: string; Value?: string }>;
    RecentlyActive?: 'PT3H';
  }) => Promise<Metric[]>;
  log: Logger;
  stats: PollStats;
  /** The poller instance's answers (CloudWatchDiscovery.dimensions). */
  cache: DiscoveryCache<DimensionPairs[]>;
}

/**
 * The dimension sets of `request.metric` that ListMetrics lists (every page), each as name/value pairs in
 * ListMetrics' order. Answers younger than the TTL (by the run's clock) come from the cache; concurrent
 * runs asking the same question share one ListMetrics walk. When ListMetrics fails and an older answer is
 * at hand, that answer is used (and the failure logged and counted) rather than losing the tick.
 */
export async function discoverDimensionSets(request: DiscoveryRequest, run: DiscoveryRun): Promise<DimensionPairs[]> {
  const key = JSON.stringify([run.scope, request.namespace, request.metric, request.filter, request.recentlyActive]);
  return run.cache.get(
    key,
    run,
    {
      counter: 'discovery',
      staleWarning: 'ListMetrics failed; using the series discovered earlier',
      fields: { namespace: request.namespace, metric: request.metric },
    },
    async () => {
      const metrics = await run.listMetrics({
        Namespace: request.namespace,
        MetricName: request.metric,
        ...(request.filter.length > 0 ? { Dimensions: request.filter } : {}),
        ...(request.recentlyActive ? { RecentlyActive: 'PT3H' as const } : {}),
      });
      return metrics.map((metric) => (metric.Dimensions ?? []).map((d) => [d.Name ?? '', d.Value ?? ''] as const));
    },
  );
}
