// What a job costs before it runs: queries and calls per tick, metrics requested per month, the estimated bill.
import { formatDuration, type JobSchedule, type PlanRate, type PollPlan, type TimeWindow } from '../../lib/poller-kit/index.ts';
import { planCalls } from './batching.ts';
import type { CloudWatchOptions } from './options.ts';
import type { Series } from './series.ts';

/**
 * GetMetricData list price, USD per 1,000 metrics requested (us-east-1, aws.amazon.com/cloudwatch/pricing,
 * checked in 2026; most regions charge the same, a few more). Each query of each call is one metric requested,
 * whatever the number of datapoints it returns: that is why a longer interval (with a lookback covering it)
 * keeps the full resolution for a fraction of the cost.
 */
export const USD_PER_1000_METRICS_REQUESTED = 0.01;
/** ListMetrics and the other "API requests": USD per 1,000 requests beyond the free tier's 1,000,000 a month. */
export const USD_PER_1000_API_REQUESTS = 0.01;
/** AWS prices a month as 730 hours. */
export const SECONDS_PER_MONTH = 730 * 3600;

export interface PlanFigures {
  queriesPerTick: number;
  callsPerTick: number;
  datapointsPerTick: number;
  ticksPerMonth: number;
  metricsRequestedPerMonth: number;
  usdPerMonth: number;
  /** The same series fetched on every period (interval = period), for comparison. */
  usdPerMonthAtPeriodInterval: number;
}

/** The live window of a tick, placed at a fixed recent time (only its length and alignment matter here). */
export function tickWindow(schedule: JobSchedule, nowSeconds: number): TimeWindow {
  const end = Math.floor((nowSeconds - schedule.delay) / 60) * 60;
  return { start: end - Math.max(schedule.lookback, schedule.interval), end };
}

export function planFigures(series: readonly Series[], options: CloudWatchOptions, schedule: JobSchedule): PlanFigures {
  const now = 400 * 86400; // any time: the window is recent relative to it, so the configured periods apply
  const calls = planCalls(series, tickWindow(schedule, now), now);
  const queriesPerTick = calls.reduce((n, call) => n + call.queries.length, 0);
  const datapointsPerTick = calls.reduce(
    (n, call) => n + call.queries.reduce((m, q) => m + (call.endTime - call.startTime) / q.period, 0),
    0,
  );
  const ticksPerMonth = SECONDS_PER_MONTH / schedule.interval;
  const metricsRequestedPerMonth = queriesPerTick * ticksPerMonth;
  const usd = (metrics: number) => (metrics / 1000) * USD_PER_1000_METRICS_REQUESTED;
  const finestPeriod = Math.min(options.period, ...options.metrics.map((m) => m.period ?? options.period));
  return {
    queriesPerTick,
    callsPerTick: calls.length,
    datapointsPerTick,
    ticksPerMonth,
    metricsRequestedPerMonth,
    usdPerMonth: usd(metricsRequestedPerMonth),
    usdPerMonthAtPeriodInterval: usd(queriesPerTick * (SECONDS_PER_MONTH / finestPeriod)),
  };
}

export interface DiscoveryNote {
  /** ListMetrics requests one refresh of every discovered entry takes (all region and account pairs). */
  listMetricsPerRefresh: number;
  /** GetResources requests one refresh of every entry with tags takes. */
  getResourcesPerRefresh: number;
  /** Why discovery failed, if it did: those series are then left out of the figures. */
  failed?: string;
  /** Metric names with '*' dimensions. */
  entries: number;
  /** Metric names selected by tags. */
  tagged: number;
}

/** One region and account pair of the plan, with its series (all shards'). */
export interface PlannedTarget {
  label: string;
  region: string;
  series: readonly Series[];
}

/** Per-pair figures added up: calls never mix pairs, so the job's calls are the sum of each pair's. */
export function jobFigures(targets: readonly PlannedTarget[], options: CloudWatchOptions, schedule: JobSchedule): PlanFigures {
  const each = targets.map((t) => planFigures(t.series, options, schedule));
  const sum = (pick: (f: PlanFigures) => number) => each.reduce((n, f) => n + pick(f), 0);
  return {
    queriesPerTick: sum((f) => f.queriesPerTick),
    callsPerTick: sum((f) => f.callsPerTick),
    datapointsPerTick: sum((f) => f.datapointsPerTick),
    ticksPerMonth: SECONDS_PER_MONTH / schedule.interval,
    metricsRequestedPerMonth: sum((f) => f.metricsRequestedPerMonth),
    usdPerMonth: sum((f) => f.usdPerMonth),
    usdPerMonthAtPeriodInterval: sum((f) => f.usdPerMonthAtPeriodInterval),
  };
}

export interface ShardShare {
  /** 0-based. */
  index: number;
  queriesPerTick: number;
  callsPerTick: number;
}

/** Queries and calls per tick of each of `count` shards, when `inShard(series)` says which series a shard polls. */
export function shardShares(
  targets: readonly PlannedTarget[],
  options: CloudWatchOptions,
  schedule: JobSchedule,
  count: number,
  shardOfSeries: (target: PlannedTarget, series: Series) => number,
): ShardShare[] {
  const shares: ShardShare[] = Array.from({ length: count }, (_, index) => ({ index, queriesPerTick: 0, callsPerTick: 0 }));
  for (const target of targets) {
    const split: Series[][] = Array.from({ length: count }, () => []);
    for (const s of target.series) split[shardOfSeries(target, s)]!.push(s);
    split.forEach((series, index) => {
      if (series.length === 0) return;
      const f = planFigures(series, options, schedule);
      shares[index]!.queriesPerTick += f.queriesPerTick;
      shares[index]!.callsPerTick += f.callsPerTick;
    });
  }
  return shares;
}

export interface PlanExtras {
  discovery: DiscoveryNote;
  /** Each shard's share, when the plan was asked for one shard (`--plan --shard i/n`), and which one. */
  shards?: { shares: ShardShare[]; current: number };
}

export function planOf(targets: readonly PlannedTarget[], options: CloudWatchOptions, schedule: JobSchedule, extras: PlanExtras): PollPlan {
  const f = jobFigures(targets, options, schedule);
  const n = (x: number) => Math.round(x).toLocaleString('en-US');
  const timing =
    `interval ${formatDuration(schedule.interval)}, delay ${formatDuration(schedule.delay)}, ` +
    `lookback ${formatDuration(schedule.lookback)}, period ${formatDuration(options.period)}`;
  const regions = [...new Set(targets.map((t) => t.region))];
  const identities = targets.length / regions.length;
  const where =
    targets.length === 1
      ? `region ${regions[0]}`
      : `regions ${regions.join(', ')} × ${n(identities)} identit${identities === 1 ? 'y' : 'ies'}: ` +
        `${n(targets.length)} region and account pairs`;
  const calls = (perTick: number): PlanRate => ({ what: 'GetMetricData calls', singular: 'GetMetricData call', perTick });
  const queries = (perTick: number): PlanRate => ({ what: 'queries', singular: 'query', perTick });
  const plan: PollPlan = {
    summary: [`${where}; ${timing}`, `ticks per month: ${n(f.ticksPerMonth)} (730 hours / ${formatDuration(schedule.interval)})`],
    requests: [
      {
        ...queries(f.queriesPerTick),
        perMonth: f.metricsRequestedPerMonth,
        note: 'one per series and statistic; each is one metric requested, as billed',
      },
      {
        ...calls(f.callsPerTick),
        note: `at most 500 queries and 100,800 datapoints per call${targets.length > 1 ? ', per region and account' : ''}`,
      },
    ],
    datapoints: [{ perTick: f.datapointsPerTick }],
    cost: [
      {
        amount: f.usdPerMonth,
        currency: 'USD',
        per: 'month',
        what: 'GetMetricData',
        basis:
          `an estimate at the list price of USD ${USD_PER_1000_METRICS_REQUESTED} per 1,000 metrics requested; ` +
          'check aws.amazon.com/cloudwatch/pricing for your region',
      },
    ],
    notes: [],
  };
  if (schedule.interval !== Math.min(options.period, ...options.metrics.map((m) => m.period ?? options.period))) {
    plan.cost!.push({
      amount: f.usdPerMonthAtPeriodInterval,
      currency: 'USD',
      per: 'month',
      what: 'the same series fetched every period instead',
      basis: 'the interval sets the cost, the period the resolution',
    });
  }
  plan.parts = [];
  if (targets.length > 1) {
    const parts = targets.map((target) => {
      const t = planFigures(target.series, options, schedule);
      return { label: target.label, requests: [queries(t.queriesPerTick), calls(t.callsPerTick)] };
    });
    plan.parts.push({ title: 'per region and account pair', parts });
  }
  const { discovery } = extras;
  const every = Math.max(options.discoveryTtl, schedule.interval);
  if (discovery.failed) {
    const what = discovery.tagged === 0 ? '"*" dimensions' : discovery.entries === 0 ? 'tags' : '"*" dimensions or tags';
    plan.notes!.push(
      `discovery: ${discovery.entries + discovery.tagged} metric name(s) with ${what} could not be listed (${discovery.failed}): ` +
        'the figures above leave their series out',
    );
  } else {
    const perMonth = (requests: number) => n((requests * SECONDS_PER_MONTH) / every);
    if (discovery.entries > 0) {
      plan.notes!.push(
        `discovery: ${discovery.entries} metric name(s) with "*" dimensions, ${n(discovery.listMetricsPerRefresh)} ListMetrics ` +
          `request(s) per refresh every ${formatDuration(every)}: about ${perMonth(discovery.listMetricsPerRefresh)} per month ` +
          `(USD ${USD_PER_1000_API_REQUESTS} per 1,000 beyond the free tier's 1,000,000 API requests)`,
      );
    }
    if (discovery.tagged > 0) {
      plan.notes!.push(
        `discovery by tags: ${discovery.tagged} metric name(s), ${n(discovery.getResourcesPerRefresh)} GetResources request(s) ` +
          `per refresh every ${formatDuration(every)}: about ${perMonth(discovery.getResourcesPerRefresh)} per month ` +
          `(the Tagging API is free)`,
      );
    }
  }
  if (extras.shards) {
    const { shares, current } = extras.shards;
    plan.parts.push({
      title:
        `shards: ${shares.length}; the figures above are the whole job's, each shard polls its share of the queries ` +
        '(the metrics requested add up; ' +
        'calls may not, as every shard rounds up per region and account; every shard still discovers everything)',
      parts: shares.map((share) => ({
        label: `shard ${share.index + 1}/${shares.length}`,
        requests: [queries(share.queriesPerTick), calls(share.callsPerTick)],
        current: share.index === current,
      })),
    });
  }
  return plan;
}
