// AWS CloudWatch metrics through GetMetricData: every datapoint, late data corrected, in the fewest calls the API allows.
import pLimit from 'p-limit';
import { isConfigError } from '../lib/config-error.ts';
import { silentLogger, type Logger } from '../lib/log.ts';
import { definePoller, type JobSchedule, type PollStats } from '../lib/poller.ts';
import { CloudWatchCalls } from './cloudwatch/api-calls.ts';
import { CALL_LIMITS, gcd, planCalls } from './cloudwatch/batching.ts';
import { cloudWatchTarget, type CloudWatchTarget } from './cloudwatch/client.ts';
import { discoverDimensionSets } from './cloudwatch/discovery.ts';
import { runCall } from './cloudwatch/get-metric-data.ts';
import { cloudWatchOptions, type CloudWatchOptions } from './cloudwatch/options.ts';
import { RETENTION_SECONDS } from './cloudwatch/periods.ts';
import { planLines, type DiscoveryNote } from './cloudwatch/plan.ts';
import { expandSeries, needsDiscovery, staticSeriesCount, type Series } from './cloudwatch/series.ts';

export default definePoller({
  name: 'cloudwatch',
  summary: 'AWS CloudWatch metrics (ELB/ALB, RDS, SQS, Lambda, billing, custom) through GetMetricData',
  options: cloudWatchOptions,
  // CloudWatch publishes most AWS metrics within one to three minutes and may still revise the last few
  // minutes after that: the window ends 2 minutes back and reaches 10 minutes back, so every period is
  // read twice or more and corrected in Graphite. A 5-minute interval keeps 1-minute resolution (the period)
  // for a fifth of the cost of polling every minute, as GetMetricData bills per metric requested.
  schedule: { interval: 300, delay: 120, lookback: 600 },

  history: {
    retention: () => RETENTION_SECONDS,
    // Windows on the finest period's grid: coarser periods are fetched by every window they overlap.
    step: (options) => periodsOf(options).reduce(gcd),
    maxWindow: (options) => maxWindow(options),
  },

  async poll({ options, window, sink, signal, log, stats, mode, now }) {
    const target = await cloudWatchTarget(options);
    const calls = new CloudWatchCalls(target, options, { signal, stats });
    const series = await seriesOf(options, target, calls, { log, stats, now }, mode === 'live' && options.recentlyActiveOnly);
    stats.gauge('series', series.length);

    const planned = planCalls(series, window, Math.floor(now() / 1000));
    if (planned.length === 0) {
      log.debug('nothing to fetch in this window', { series: series.length, window: `${window.start}-${window.end}` });
      return;
    }
    // On abort, calls still queued are rejected at once (the SDK aborts those in flight).
    const limit = pLimit({ concurrency: options.concurrency, rejectOnClear: true });
    const clear = () => limit.clearQueue();
    signal.addEventListener('abort', clear, { once: true });
    const outcomes = await Promise.allSettled(
      planned.map((call) => limit(() => runCall(call, { getMetricData: (input) => calls.getMetricData(input), sink, stats, log }))),
    );
    signal.removeEventListener('abort', clear);

    // One failed call does not cost the others their datapoints; the run still fails, so the runner logs
    // and counts it (and a backfill retries the window).
    const failures = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected').map((o) => o.reason as unknown);
    if (failures.length > 0) {
      const first = failures[0];
      if (isConfigError(first) || signal.aborted) throw first;
      throw new Error(`${failures.length} of ${planned.length} GetMetricData calls failed: ${(first as Error)?.message ?? String(first)}`, { cause: first });
    }
  },

  async plan(options, schedule: JobSchedule) {
    const { discovered } = staticSeriesCount(options);
    const note: DiscoveryNote = { entries: discovered, listMetricsPerRefresh: 0 };
    let region = options.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? '<region>';
    let series: Series[];
    if (discovered === 0) {
      series = await expandSeries(options, region, async () => [], false);
    } else {
      // Discovery is the only way to know how many series '*' stands for: ListMetrics, no datapoints.
      const stats = countingStats();
      try {
        const target = await cloudWatchTarget(options);
        region = target.region;
        const calls = new CloudWatchCalls(target, options, { signal: AbortSignal.timeout(30_000), stats });
        // --plan runs outside any job, so there is no run clock to use: the wall clock dates the cache.
        series = await seriesOf(options, target, calls, { log: silentLogger, stats, now: () => Date.now() }, options.recentlyActiveOnly);
      } catch (error) {
        if (isConfigError(error)) throw error;
        note.failed = (error as Error).message;
        const known = { ...options, metrics: options.metrics.filter((entry) => !needsDiscovery(entry)) };
        series = known.metrics.length > 0 ? await expandSeries(known, region, async () => [], false) : [];
      }
      note.listMetricsPerRefresh = stats.counters.list_metrics_calls ?? 0;
    }
    return { lines: planLines(series, options, schedule, region, note) };
  },
});

/** The series of this run: configured ones, and '*' dimensions resolved through the discovery cache. */
function seriesOf(
  options: CloudWatchOptions,
  target: CloudWatchTarget,
  calls: CloudWatchCalls,
  run: { log: Logger; stats: PollStats; now: () => number },
  recentlyActive: boolean,
): Promise<Series[]> {
  const discover = (request: Parameters<typeof discoverDimensionSets>[0]) =>
    discoverDimensionSets(request, {
      scope: target.cacheKey,
      ttlSeconds: options.discoveryTtl,
      now: run.now,
      listMetrics: (input) => calls.listMetrics(input),
      log: run.log,
      stats: run.stats,
    });
  return expandSeries(options, target.region, discover, recentlyActive);
}

const HOUR = 3600;

function periodsOf(options: CloudWatchOptions): number[] {
  return [options.period, ...options.metrics.map((m) => m.period ?? options.period)];
}

/**
 * The longest window a backfill asks for: as many periods as let one full call (500 queries, or fewer when
 * the config has fewer series) stay within 100,800 datapoints, at the finest configured period, in whole
 * hours when that is at least an hour (hourly data older than 63 days then never straddles two windows).
 * Entries with '*' dimensions count as a full call, since their number is known only after discovery.
 * Larger windows would not save calls (the poller would split them anyway), smaller ones would waste them.
 */
function maxWindow(options: CloudWatchOptions): number {
  const { count, discovered } = staticSeriesCount(options);
  const perCall = discovered > 0 ? CALL_LIMITS.queries : Math.max(1, Math.min(CALL_LIMITS.queries, count));
  const periods = periodsOf(options);
  const step = periods.reduce(gcd);
  const seconds = Math.min(RETENTION_SECONDS, Math.floor(CALL_LIMITS.datapoints / perCall) * Math.min(...periods));
  const unit = seconds >= HOUR && HOUR % step === 0 ? HOUR : step;
  return Math.max(step, Math.floor(seconds / unit) * unit);
}

function countingStats(): PollStats & { counters: Record<string, number> } {
  const counters: Record<string, number> = {};
  return { counters, count: (name, n = 1) => void (counters[name] = (counters[name] ?? 0) + n), gauge() {} };
}
