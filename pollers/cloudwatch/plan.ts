// What a job costs before it runs: queries and calls per tick, metrics requested per month, the estimated bill.
import { formatDuration } from '../../lib/duration.ts';
import type { JobSchedule, TimeWindow } from '../../lib/poller.ts';
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
  const datapointsPerTick = calls.reduce((n, call) => n + call.queries.reduce((m, q) => m + (call.endTime - call.startTime) / q.period, 0), 0);
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
  /** ListMetrics requests one refresh of every discovered entry takes. */
  listMetricsPerRefresh: number;
  /** Why discovery failed, if it did: those series are then left out of the figures. */
  failed?: string;
  /** Entries with '*' dimensions. */
  entries: number;
}

export function planLines(series: readonly Series[], options: CloudWatchOptions, schedule: JobSchedule, region: string, discovery: DiscoveryNote): string[] {
  const f = planFigures(series, options, schedule);
  const n = (x: number) => Math.round(x).toLocaleString('en-US');
  const usd = (x: number) => `USD ${x < 1000 ? x.toFixed(2) : n(x)}`;
  const lines = [
    `region ${region}; interval ${formatDuration(schedule.interval)}, delay ${formatDuration(schedule.delay)}, lookback ${formatDuration(schedule.lookback)}, period ${formatDuration(options.period)}`,
    `queries per tick: ${n(f.queriesPerTick)} (one per series and statistic)`,
    `GetMetricData calls per tick: ${n(f.callsPerTick)} (at most 500 queries and 100,800 datapoints per call)`,
    `datapoints per tick: ${n(f.datapointsPerTick)}`,
    `ticks per month: ${n(f.ticksPerMonth)} (730 hours / ${formatDuration(schedule.interval)})`,
    `metrics requested per month: ${n(f.metricsRequestedPerMonth)}`,
    `estimated GetMetricData cost: ${usd(f.usdPerMonth)} per month (an estimate at the list price of USD ${USD_PER_1000_METRICS_REQUESTED} per 1,000 metrics requested; check aws.amazon.com/cloudwatch/pricing for your region)`,
  ];
  if (schedule.interval !== Math.min(options.period, ...options.metrics.map((m) => m.period ?? options.period))) {
    lines.push(`  the same series fetched every period instead would cost ${usd(f.usdPerMonthAtPeriodInterval)} per month: the interval sets the cost, the period the resolution`);
  }
  if (discovery.entries > 0) {
    const every = Math.max(options.discoveryTtl, schedule.interval);
    if (discovery.failed) {
      lines.push(`discovery: ${discovery.entries} metric name(s) with "*" dimensions could not be listed (${discovery.failed}): the figures above leave their series out`);
    } else {
      lines.push(
        `discovery: ${discovery.entries} metric name(s) with "*" dimensions, ${n(discovery.listMetricsPerRefresh)} ListMetrics request(s) per refresh every ${formatDuration(every)}: ` +
          `about ${n((discovery.listMetricsPerRefresh * SECONDS_PER_MONTH) / every)} per month (USD ${USD_PER_1000_API_REQUESTS} per 1,000 beyond the free tier's 1,000,000 API requests)`,
      );
    }
  }
  return lines;
}
