// AWS CloudWatch metrics through GetMetricData: every datapoint, late data corrected, in the fewest calls the API allows,
// over any number of regions and accounts in one job, resources found by tag, and the work splittable across hosts.
import type { ResourceTagMapping } from '@aws-sdk/client-resource-groups-tagging-api';
import {
  fanOut,
  PartialFailure,
  systemClock,
  isConfigError,
  silentLogger,
  type Logger,
  definePoller,
  type JobSchedule,
  type PollPlan,
  type PollStats,
  type Sink,
  type TimeWindow,
  templatePlaceholders,
  inShard,
  shardOf,
  type Shard,
} from '../lib/poller-kit/index.ts';
import { CloudWatchCalls, RateLimits, type CallRun } from './cloudwatch/api-calls.ts';
import { CALL_LIMITS, gcd, planCalls } from './cloudwatch/batching.ts';
import { CloudWatchClients, type CloudWatchTarget, type TargetSpec } from './cloudwatch/client.ts';
import { credentialError } from './cloudwatch/credential-errors.ts';
import { DiscoveryCache } from './cloudwatch/discovery-cache.ts';
import { discoverDimensionSets, type DimensionPairs } from './cloudwatch/discovery.ts';
import { runCall } from './cloudwatch/get-metric-data.ts';
import { cloudWatchOptions, type CloudWatchOptions } from './cloudwatch/options.ts';
import { RETENTION_SECONDS } from './cloudwatch/periods.ts';
import { planOf as planFromFigures, shardShares, type DiscoveryNote, type PlannedTarget } from './cloudwatch/plan.ts';
import { accountOfRoleArn } from './cloudwatch/resource-types.ts';
import { expandSeries, needsDiscovery, staticSeriesCount, type Series } from './cloudwatch/series.ts';
import { discoverTaggedResources } from './cloudwatch/tag-discovery.ts';
import { jobTargets, type JobTargets } from './cloudwatch/targets.ts';

export interface CloudWatchDependencies {
  /** Where AWS_REGION, AWS_ENDPOINT_URL and friends are read when a job starts its clients; process.env by default. */
  env?: NodeJS.ProcessEnv;
}

/**
 * What one poller instance (one job) keeps from run to run: its SDK clients and assumed roles (client.ts), the
 * series and resources discovery found, and the rate limits of its calls. `close()` destroys the clients.
 */
interface Instance {
  clients: CloudWatchClients;
  discovery: Discovery;
  limits: RateLimits;
  env: () => NodeJS.ProcessEnv;
}

interface Discovery {
  dimensions: DiscoveryCache<DimensionPairs[]>;
  resources: DiscoveryCache<ResourceTagMapping[]>;
}

function newInstance(env: () => NodeJS.ProcessEnv): Instance {
  const discovery = { dimensions: new DiscoveryCache<DimensionPairs[]>(), resources: new DiscoveryCache<ResourceTagMapping[]>() };
  return { clients: new CloudWatchClients(), discovery, limits: new RateLimits(), env };
}

/** How a job without `regions` finds its region: the option, the environment, then the AWS profile (asked once). */
function regionsOf(instance: Instance): (configured: string | undefined) => Promise<string> {
  return (configured) => instance.clients.resolveRegion(configured, instance.env());
}

/** A cloudwatch poller with its own clients, caches and rate limits; the runner makes one per job. */
export function createCloudWatchPoller(dependencies: CloudWatchDependencies = {}) {
  const instance = newInstance(() => dependencies.env ?? process.env);
  return definePoller({
    name: 'cloudwatch',
    summary: 'AWS CloudWatch metrics (ELB/ALB, RDS, SQS, Lambda, billing, custom) through GetMetricData, over regions and accounts',
    options: cloudWatchOptions,
    // CloudWatch publishes most AWS metrics within one to three minutes and may still revise the last few
    // minutes after that: the window ends 2 minutes back and reaches 10 minutes back, so every period is
    // read twice or more and corrected in Graphite. A 5-minute interval keeps 1-minute resolution (the period)
    // for a fifth of the cost of polling every minute, as GetMetricData bills per metric requested.
    schedule: { interval: 300, delay: 120, lookback: 600 },
    sharding: true,

    history: {
      retention: () => RETENTION_SECONDS,
      // Windows on the finest period's grid: coarser periods are fetched by every window they overlap.
      step: (options) => periodsOf(options).reduce(gcd),
      maxWindow: (options) => maxWindow(options),
    },

    async poll({ options, window, sink, signal, log, stats, mode, now, sleep, shard }) {
      const job = await jobTargets(options, regionsOf(instance));
      const calls: CallRun = { signal, stats, now: () => now(), sleep: (ms) => sleep(ms) };
      const recentlyActive = mode === 'live' && options.recentlyActiveOnly;
      const run: TargetRun = { options, job, window, sink, log, calls, instance, shard, recentlyActive };
      // Region and account pairs side by side, each with its own clients, rate limits and calls; on abort, the
      // pairs still queued are not started.
      let series = 0;
      try {
        await fanOut(
          job.specs,
          async (spec) => {
            const fetched = await pollTarget(spec, run); // (not `series += await …`: that adds to the value before the wait)
            series += fetched;
          },
          {
            concurrency: options.targetConcurrency,
            signal,
            stats,
            noun: 'region and account pairs',
            label: labelOf,
            // Pairs mostly fail for one reason (a role's trust policy, a region not enabled): name them, quote it once.
            summary: 'first',
          },
        );
      } catch (error) {
        if (!(error instanceof PartialFailure)) throw error;
        const failures = error.failures as PartialFailure<TargetSpec>['failures'];
        // Credentials missing or refused for every pair: nothing the job asks for can be read until someone sets
        // them, so the job stops with one line saying what to set (exit 78) instead of failing every window again.
        // When only some pairs are refused (a region not enabled, one role's trust policy), the others carry on.
        const refused = failures.map(({ item: spec, error: e }) =>
          credentialError(e, { region: spec.region, role: spec.role, roleField: spec.role?.field }),
        );
        if (failures.length === job.specs.length && refused.every(Boolean)) throw refused[0]!;
        if (job.specs.length === 1) throw failures[0]!.error;
        // One pair failing does not cost the others their datapoints: they have all delivered by now. Each failure
        // gets its line and its count; the run then fails once, so the runner logs and counts it (and catch-up or
        // a backfill fetches the window again).
        for (const { item: spec, error: e } of failures) {
          log.warn(`${labelOf(spec)} failed; the other regions and accounts delivered`, { error: (e as Error)?.message ?? String(e) });
        }
        stats.count('target_errors', failures.length);
        throw error;
      } finally {
        stats.gauge('series', series);
      }
    },

    async plan(options, schedule: JobSchedule, context) {
      // --plan runs outside any job: its clients, caches and limits are its own, closed when it is done.
      const own = newInstance(instance.env);
      try {
        return await planOf(options, schedule, context?.shard, own);
      } finally {
        own.clients.close();
      }
    },

    close() {
      instance.clients.close();
    },
  });
}

export default createCloudWatchPoller;

async function planOf(options: CloudWatchOptions, schedule: JobSchedule, shard: Shard | undefined, instance: Instance): Promise<PollPlan> {
  const { discovered, tagged } = staticSeriesCount(options);
  const note: DiscoveryNote = { entries: discovered, tagged, listMetricsPerRefresh: 0, getResourcesPerRefresh: 0 };
  const targets: PlannedTarget[] = [];
  if (discovered === 0 && tagged === 0) {
    // Everything is named in the config: no API call at all, not even for the region.
    for (const spec of await planSpecs(options, instance)) {
      const account = spec.role ? accountOfRoleArn(spec.role.roleArn) : '<account>';
      const series = await expandSeries(options, {
        region: spec.region,
        account,
        accountInDefaultPath: options.roles !== undefined,
        discover: none,
        discoverTagged: none,
        recentlyActive: false,
      });
      targets.push({ label: labelOf(spec), region: spec.region, series });
    }
  } else {
    // Discovery is the only way to know how many series '*' and tags stand for: ListMetrics and GetResources, no datapoints.
    const stats = countingStats();
    const job = await jobTargets(options, regionsOf(instance));
    const signal = AbortSignal.timeout(60_000);
    // --plan runs outside any job, so there is no run clock to use: the wall clock dates the cache and times the waits.
    const run: CallRun = { signal, stats, now: () => systemClock.now(), sleep: (ms) => systemClock.sleep(ms, signal) };
    for (const spec of job.specs) {
      const target = instance.clients.target(spec, job.settings, instance.env());
      let series: Series[];
      try {
        const calls = new CloudWatchCalls(target, options, run, instance.limits);
        const account = spec.role ? accountOfRoleArn(spec.role.roleArn) : '<account>';
        const paths = { account, accountInDefaultPath: job.multiAccount };
        const seriesRun = { log: silentLogger, stats, now: run.now, discovery: instance.discovery };
        series = await seriesOf(options, target, calls, seriesRun, options.recentlyActiveOnly, paths);
      } catch (error) {
        if (isConfigError(error)) throw error;
        const refused =
          job.specs.length === 1
            ? credentialError(error, { region: spec.region, role: spec.role, roleField: spec.role?.field })
            : undefined;
        if (refused) throw refused;
        note.failed ??= job.specs.length === 1 ? (error as Error).message : `${labelOf(spec)}: ${(error as Error).message}`;
        const known = { ...options, metrics: options.metrics.filter((entry) => !needsDiscovery(entry) && entry.tags === undefined) };
        series =
          known.metrics.length > 0
            ? await expandSeries(known, {
                region: spec.region,
                account: '<account>',
                accountInDefaultPath: job.multiAccount,
                discover: none,
                discoverTagged: none,
                recentlyActive: false,
              })
            : [];
      }
      targets.push({ label: labelOf(spec), region: spec.region, series });
    }
    note.listMetricsPerRefresh = stats.counters.list_metrics_calls ?? 0;
    note.getResourcesPerRefresh = stats.counters.get_resources_calls ?? 0;
  }
  const shards =
    shard && shard.count > 1
      ? {
          current: shard.index,
          shares: shardShares(targets, options, schedule, shard.count, (target, s) => shardOf(queryKey(target.label, s), shard.count)),
        }
      : undefined;
  return planFromFigures(targets, options, schedule, { discovery: note, ...(shards ? { shards } : {}) });
}

interface TargetRun {
  options: CloudWatchOptions;
  job: JobTargets;
  window: TimeWindow;
  sink: Sink;
  log: Logger;
  /** The run's signal, stats and clock, as the API calls use them. */
  calls: CallRun;
  instance: Instance;
  shard: Shard | undefined;
  recentlyActive: boolean;
}

/**
 * One region read with one identity: its series (configured, discovered, found by tag), this shard's share
 * of them, packed into ceil(queries / 500) GetMetricData calls. Returns the number of series it fetched.
 */
async function pollTarget(spec: TargetSpec, run: TargetRun): Promise<number> {
  const { options, window, sink, log, instance } = run;
  const { signal, stats } = run.calls;
  const target = instance.clients.target(spec, run.job.settings, instance.env());
  const calls = new CloudWatchCalls(target, options, run.calls, instance.limits);
  const account = needsAccount(options, run.job) ? await target.account(signal) : undefined;
  const paths = { account, accountInDefaultPath: run.job.multiAccount };
  const seriesRun = { log, stats, now: run.calls.now, discovery: instance.discovery };
  const all = await seriesOf(options, target, calls, seriesRun, run.recentlyActive, paths);
  const label = labelOf(spec);
  const series = run.shard ? all.filter((s) => inShard(queryKey(label, s), run.shard)) : all;

  const planned = planCalls(series, window, Math.floor(run.calls.now() / 1000));
  if (planned.length === 0) {
    log.debug('nothing to fetch in this window', { target: label, series: series.length, window: `${window.start}-${window.end}` });
    return series.length;
  }
  // One failed call does not cost the others their datapoints; the run still fails, so the runner logs and counts
  // it (and a backfill retries the window). On abort, calls still queued are not started (the SDK aborts those in flight).
  const callRun: Parameters<typeof runCall>[1] = { getMetricData: (input) => calls.getMetricData(input), sink, stats, log };
  await fanOut(planned, async (call) => void (await runCall(call, callRun)), {
    concurrency: options.concurrency,
    signal,
    noun: 'GetMetricData calls',
    summary: 'first',
  });
  return series.length;
}

/** The series of one region and account: configured ones, '*' dimensions through ListMetrics and tags through GetResources, both cached. */
function seriesOf(
  options: CloudWatchOptions,
  target: CloudWatchTarget,
  calls: CloudWatchCalls,
  run: { log: Logger; stats: PollStats; now: () => number; discovery: Discovery },
  recentlyActive: boolean,
  paths: { account: string | undefined; accountInDefaultPath: boolean },
): Promise<Series[]> {
  const cache = { scope: target.cacheKey, ttlSeconds: options.discoveryTtl, now: run.now, log: run.log, stats: run.stats };
  const { dimensions, resources } = run.discovery;
  return expandSeries(options, {
    region: target.region,
    ...paths,
    recentlyActive,
    discover: (request) =>
      discoverDimensionSets(request, { ...cache, cache: dimensions, listMetrics: (input) => calls.listMetrics(input) }),
    discoverTagged: (request) =>
      discoverTaggedResources(request, { ...cache, cache: resources, getResources: (input) => calls.getResources(input) }),
  });
}

/**
 * What a query is, for sharding: the region and identity read, and the metric, dimensions, statistic and
 * period asked. The same on every host that runs the same config (no account lookup, no position in a list),
 * so `--shard 1/n` … `n/n` split the queries with none left out and none fetched twice.
 */
function queryKey(label: string, series: Series): string {
  const dimensions = [...series.dimensions].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return JSON.stringify([label, series.namespace, series.metric, dimensions, series.stat, series.period]);
}

function labelOf(spec: TargetSpec): string {
  return spec.role ? `${spec.region} as ${spec.role.roleArn}` : `${spec.region} (default credentials)`;
}

/** Whether paths need the account id: jobs with `roles` name it in the default path; any template may use {account}. */
function needsAccount(options: CloudWatchOptions, job: JobTargets): boolean {
  return (
    job.multiAccount || options.metrics.some((entry) => entry.path !== undefined && templatePlaceholders(entry.path).includes('account'))
  );
}

/** The pairs a plan shows without asking AWS anything: a missing region is shown as <region>. */
async function planSpecs(options: CloudWatchOptions, instance: Instance): Promise<TargetSpec[]> {
  try {
    return (await jobTargets(options, regionsOf(instance))).specs;
  } catch (error) {
    if (!isConfigError(error) || (error as { where?: { field?: string } }).where?.field !== 'region') throw error;
    const roles = options.roles?.map((r) => (r === 'default' ? undefined : r)) ?? [
      options.roleArn !== undefined ? { roleArn: options.roleArn } : undefined,
    ];
    return roles.map((role) => ({ region: '<region>', role }));
  }
}

const none = async (): Promise<never[]> => [];

const HOUR = 3600;

function periodsOf(options: CloudWatchOptions): number[] {
  return [options.period, ...options.metrics.map((m) => m.period ?? options.period)];
}

/**
 * The longest window a backfill asks for: as many periods as let one full call (500 queries, or fewer when
 * the config has fewer series) stay within 100,800 datapoints, at the finest configured period, in whole
 * hours when that is at least an hour (hourly data older than 63 days then never straddles two windows).
 * Entries with '*' dimensions or tags count as a full call, since their number is known only after discovery.
 * Larger windows would not save calls (the poller would split them anyway), smaller ones would waste them.
 */
function maxWindow(options: CloudWatchOptions): number {
  const { count, discovered, tagged } = staticSeriesCount(options);
  const perCall = discovered + tagged > 0 ? CALL_LIMITS.queries : Math.max(1, Math.min(CALL_LIMITS.queries, count));
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
