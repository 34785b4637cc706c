// The CloudWatch poller against the honest fake, through the real SDK: calls, windows, periods, paths, discovery, errors.
import type { MetricDatum } from '@aws-sdk/client-cloudwatch';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { formatPlan } from '../../lib/cli/plan-format.ts';
import { isConfigError } from '../../lib/poller-kit/config-error.ts';
import { formatPath } from '../../lib/graphite/metric-path.ts';
import type { JobSchedule, TimeWindow } from '../../lib/poller-kit/contract.ts';
import { createCloudWatchPoller } from '../../pollers/cloudwatch.ts';
import { CloudWatchFake, FAKE_CREDENTIALS } from '../helpers/cloudwatch-fake.ts';
import { testContext } from '../helpers/capture-sink.ts';
import { FakeClock } from '../helpers/fake-clock.ts';

const HOUR = 3600;
const DAY = 86400;
/** "Now" for the poller (ctx.now) and the fake alike: a whole hour. */
const NOW = Date.UTC(2026, 0, 20, 12, 0, 0) / 1000;
const LIVE: JobSchedule = { interval: 300, delay: 120, lookback: 600 };
/** The live window the runner would ask for at NOW with the default schedule: [11:48, 11:58). */
const LIVE_WINDOW: TimeWindow = { start: NOW - 120 - 600, end: NOW - 120 };

let fake: CloudWatchFake;
let clockSeconds = NOW;
/** The instance under test: a fresh one per test, with its own clients, discovery caches and rate limits. */
let cloudwatch = createCloudWatchPoller();

/** Ends the instance (its SDK clients) and starts another: nothing a test cached or slowed down carries over. */
async function freshInstance(): Promise<void> {
  await cloudwatch.close?.();
  cloudwatch = createCloudWatchPoller();
}

function options(extra: Record<string, unknown>) {
  return cloudwatch.options.parse({ region: 'eu-west-1', endpoint: fake.url, ...extra });
}

async function poll(
  opts: ReturnType<typeof options>,
  window: TimeWindow = LIVE_WINDOW,
  extra: { mode?: 'live' | 'backfill'; now?: number; signal?: AbortSignal } = {},
) {
  const ctx = testContext({
    options: opts,
    window,
    now: (extra.now ?? clockSeconds) * 1000,
    mode: extra.mode ?? 'live',
    schedule: LIVE,
    ...(extra.signal ? { signal: extra.signal } : {}),
  });
  await cloudwatch.poll(ctx);
  return ctx;
}

/** The context as the runner makes it: `now` and `sleep` on a (fake) clock, a sleep ended by the run's signal. */
function onClock<C extends { signal: AbortSignal }>(clock: FakeClock, ctx: C) {
  return Object.assign(ctx, { now: () => clock.now(), sleep: (ms: number) => clock.sleep(ms, ctx.signal) });
}

/** One value per minute for `minutes` minutes from `from`, value = f(minute index). */
function perMinute(
  metric: string,
  dims: Record<string, string>,
  from: number,
  minutes: number,
  f: (i: number) => number = (i) => i,
): MetricDatum[] {
  return Array.from({ length: minutes }, (_, i) => ({
    MetricName: metric,
    Value: f(i),
    Timestamp: new Date((from + i * 60) * 1000),
    Dimensions: Object.entries(dims).map(([Name, Value]) => ({ Name, Value })),
  }));
}

const ids = (n: number) => Array.from({ length: n }, (_, i) => `i-${String(i).padStart(4, '0')}`);

beforeAll(async () => {
  vi.stubEnv('AWS_ACCESS_KEY_ID', FAKE_CREDENTIALS.accessKeyId);
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', FAKE_CREDENTIALS.secretAccessKey);
  vi.stubEnv('AWS_SESSION_TOKEN', undefined);
  vi.stubEnv('AWS_ENDPOINT_URL', undefined);
  vi.stubEnv('AWS_ENDPOINT_URL_CLOUDWATCH', undefined);
  vi.stubEnv('AWS_REGION', undefined);
  vi.stubEnv('AWS_DEFAULT_REGION', undefined);
  vi.stubEnv('AWS_CONFIG_FILE', '/nonexistent/aws-config');
  vi.stubEnv('AWS_SHARED_CREDENTIALS_FILE', '/nonexistent/aws-credentials');
  fake = await CloudWatchFake.start({ now: () => clockSeconds * 1000 });
  const data: MetricDatum[] = [];
  // 501 instances, one CPU value per minute over the last 20 minutes (the value is the minute index).
  for (const id of ids(501)) data.push(...perMinute('CPUUtilization', { InstanceId: id }, NOW - 20 * 60, 20));
  await fake.seed('AWS/EC2', data);
});

afterAll(async () => {
  await cloudwatch.close?.();
  await fake.close();
  vi.unstubAllEnvs();
});

beforeEach(() => {
  clockSeconds = NOW;
  fake.clearRequests();
  fake.datapointsPerPage = undefined;
  fake.responseDelayMs = 0;
});

afterEach(async () => {
  // A fresh instance: discovered series, rate limit buckets and clients must not leak between tests.
  await freshInstance();
});

describe('GetMetricData batching', () => {
  it.each([
    [1, [1]],
    [500, [500]],
    [501, [500, 1]],
  ])('%i queries in a live tick take exactly ceil(queries / 500) calls', async (n, perCall) => {
    const ctx = await poll(
      options({ metrics: [{ namespace: 'AWS/EC2', name: 'CPUUtilization', dimensions: { InstanceId: ids(n) }, stats: ['Average'] }] }),
    );
    // Calls run concurrently: compare them in size order.
    expect(
      fake
        .calls('GetMetricData')
        .map((c) => c.queries)
        .sort((a, b) => b! - a!),
    ).toEqual(perCall);
    expect(fake.calls('ListMetrics')).toEqual([]);
    // Every minute of the window for every instance: 10 points each, values = minute index since NOW-20m.
    expect(ctx.sink.points.length).toBe(n * 10);
    expect(ctx.sink.series()['cloudwatch.eu-west-1.AWS_EC2.i-0000.CPUUtilization.Average']).toEqual(
      Array.from({ length: 10 }, (_, i) => [LIVE_WINDOW.start + i * 60, 8 + i]),
    );
    expect(ctx.stats.counters).toMatchObject({ get_metric_data_calls: perCall.length, api_calls: perCall.length, metrics_requested: n });
  });

  it('splits calls so none asks for more than 100,800 datapoints, in the fewest calls', async () => {
    // 10 hours at 60 s = 600 periods per query: 500 queries would be 300,000 datapoints in one call.
    const window = { start: NOW - 10 * HOUR, end: NOW };
    await poll(options({ metrics: [{ namespace: 'AWS/EC2', name: 'CPUUtilization', dimensions: { InstanceId: ids(500) } }] }), window, {
      mode: 'backfill',
    });
    const calls = fake.calls('GetMetricData');
    expect(calls.map((c) => c.queries).sort((a, b) => b! - a!)).toEqual([168, 168, 164]);
    for (const call of calls) {
      expect(call.queries! * ((call.endTime! - call.startTime!) / 60)).toBeLessThanOrEqual(100_800);
      expect(call.nextToken).toBe(false);
    }
  });

  it('follows NextToken when CloudWatch paginates an answer', async () => {
    fake.datapointsPerPage = 7;
    const ctx = await poll(options({ metrics: [{ namespace: 'AWS/EC2', name: 'CPUUtilization', dimensions: { InstanceId: ids(3) } }] }));
    expect(fake.calls('GetMetricData').map((c) => c.nextToken)).toEqual([false, true, true, true, true]);
    expect(ctx.sink.points.length).toBe(30);
    expect(ctx.stats.counters.get_metric_data_pages).toBe(4);
  });
});

describe('pagination: every page is read, whatever its size', () => {
  it('discovers every series over ListMetrics pages (500 a page) and fetches them all', async () => {
    const ctx = await poll(
      options({ metrics: [{ namespace: 'AWS/EC2', name: 'CPUUtilization', dimensions: { InstanceId: '*' }, stats: ['Average'] }] }),
    );
    expect(fake.calls('ListMetrics')).toHaveLength(2);
    expect(ctx.stats.counters.list_metrics_calls).toBe(2);
    expect(Object.keys(ctx.sink.series())).toHaveLength(501);
    expect(ctx.sink.points.length).toBe(501 * 10);
  });

  it('follows NextToken across pages that hold fewer values than a full page, filling zeros only where CloudWatch had none', async () => {
    fake.datapointsPerPage = 3;
    const ctx = await poll(
      options({
        metrics: [{ namespace: 'AWS/EC2', name: 'CPUUtilization', dimensions: { InstanceId: ids(2) }, stats: ['Average'], fill: 0 }],
      }),
    );
    // Each page holds 3 values of the 20 asked for: every value arrives, and fill adds no 0 over a value of a later page.
    const series = ctx.sink.series()['cloudwatch.eu-west-1.AWS_EC2.i-0001.CPUUtilization.Average']!;
    expect(series).toEqual(Array.from({ length: 10 }, (_, i) => [LIVE_WINDOW.start + i * 60, 8 + i]));
    expect(ctx.sink.points.length).toBe(20);
  });
});

describe('windows, periods and timestamps', () => {
  it('asks for the window aligned to the period and stamps each value at its period start', async () => {
    const ctx = await poll(
      options({
        metrics: [{ namespace: 'AWS/EC2', name: 'CPUUtilization', dimensions: { InstanceId: 'i-0007' }, stats: ['Maximum'], period: 300 }],
      }),
      {
        start: NOW - 20 * 60,
        end: NOW,
      },
    );
    const [call] = fake.calls('GetMetricData');
    expect([call!.startTime, call!.endTime]).toEqual([NOW - 1200, NOW]);
    expect(call!.body.ScanBy).toBe('TimestampAscending');
    // Maximum of minute indexes 0-4, 5-9, 10-14, 15-19.
    expect(ctx.sink.series()['cloudwatch.eu-west-1.AWS_EC2.i-0007.CPUUtilization.Maximum']).toEqual([
      [NOW - 1200, 4],
      [NOW - 900, 9],
      [NOW - 600, 14],
      [NOW - 300, 19],
    ]);
  });

  it('fetches every period a window overlaps: consecutive windows never skip one, a straddling one is fetched by both', async () => {
    const opts = options({
      metrics: [{ namespace: 'AWS/EC2', name: 'CPUUtilization', dimensions: { InstanceId: 'i-0001' }, period: 300 }],
    });
    // Windows on a 60 s step that do not fall on the 5-minute grid.
    const a = await poll(opts, { start: NOW - 1200 + 120, end: NOW - 480 });
    const b = await poll(opts, { start: NOW - 480, end: NOW });
    expect(fake.calls('GetMetricData').map((c) => [c.startTime! - NOW, c.endTime! - NOW])).toEqual([
      [-1200, -300],
      [-600, 0],
    ]);
    // Average of the minute indexes 0-4, 5-9, 10-14, 15-19.
    expect(a.sink.points.map((p) => [p.timestamp - NOW, p.value])).toEqual([
      [-1200, 2],
      [-900, 7],
      [-600, 12],
    ]);
    expect(b.sink.points.map((p) => [p.timestamp - NOW, p.value])).toEqual([
      [-600, 12],
      [-300, 17],
    ]);
  });

  describe('by the age of the window (retention tiers)', () => {
    const at = (age: number) => NOW - age;
    beforeAll(async () => {
      const data: MetricDatum[] = [];
      for (const age of [10 * DAY, 20 * DAY, 100 * DAY, 500 * DAY]) data.push(...perMinute('Aged', { Age: 'x' }, at(age), 120, () => 1));
      await fake.seed('Custom/Aged', data);
    });
    const aged = () => options({ metrics: [{ namespace: 'Custom/Aged', name: 'Aged', dimensions: { Age: 'x' }, stats: ['Sum'] }] });

    it.each([
      [10 * DAY, 60, 60, 1],
      [20 * DAY, 300, 13, 5],
      [100 * DAY, 3600, 2, 60],
    ])('%i s old: period %i', async (age, period, count, value) => {
      // A window of one hour starting 7 minutes past: StartTime is rounded down to the period.
      const window = { start: at(age) + 420, end: at(age) + 420 + HOUR };
      const ctx = await poll(aged(), window, { mode: 'backfill' });
      const [call] = fake.calls('GetMetricData');
      const query = (call!.body.MetricDataQueries as Array<{ MetricStat: { Period: number } }>)[0]!;
      expect(query.MetricStat.Period).toBe(period);
      expect(call!.startTime! % period).toBe(0);
      expect(call!.startTime).toBe(Math.floor(window.start / period) * period);
      expect(call!.endTime).toBe(Math.ceil(window.end / period) * period);
      const points = ctx.sink.points;
      expect(points.every((p) => p.timestamp % period === 0 && p.timestamp >= window.start - period && p.timestamp < window.end)).toBe(
        true,
      );
      expect(points.length).toBe(count);
      expect(points[0]!.value).toBe(value);
    });

    it('asks nothing for data older than CloudWatch keeps (455 days)', async () => {
      const ctx = await poll(aged(), { start: at(500 * DAY), end: at(500 * DAY) + HOUR }, { mode: 'backfill' });
      expect(fake.calls('GetMetricData')).toEqual([]);
      expect(ctx.sink.points).toEqual([]);
    });

    it('splits a window that crosses the 15-day boundary: 300 s before it, 60 s after', async () => {
      const window = { start: NOW - 15 * DAY - 2 * HOUR, end: NOW - 15 * DAY + 2 * HOUR };
      await poll(aged(), window, { mode: 'backfill' });
      const calls = fake
        .calls('GetMetricData')
        .map((c) => [(c.body.MetricDataQueries as Array<{ MetricStat: { Period: number } }>)[0]!.MetricStat.Period, c.startTime, c.endTime])
        .sort((a, b) => a[1]! - b[1]!);
      expect(calls).toHaveLength(2);
      expect(calls[0]![0]).toBe(300);
      expect(calls[1]![0]).toBe(60);
      expect(calls[0]![2]).toBe(calls[1]![1]);
      expect(calls[1]![1]! % HOUR).toBe(0);
    });
  });
});

describe('paths', () => {
  beforeAll(async () => {
    await fake.seed('AWS/ApplicationELB', [
      ...perMinute('TargetResponseTime', { LoadBalancer: 'app/web/123', AvailabilityZone: 'eu-west-1a' }, NOW - 600, 10, () => 0.25),
      ...perMinute(
        'TargetResponseTime',
        { LoadBalancer: 'evil.lb name\nx 1 2\n', AvailabilityZone: 'eu-west-1a' },
        NOW - 600,
        10,
        () => 0.5,
      ),
    ]);
  });

  it('default: cloudwatch.<region>.<namespace>.<dimension values in config order>.<metric>.<stat>, p99.9 as p99_9', async () => {
    const ctx = await poll(
      options({
        metrics: [
          {
            namespace: 'AWS/ApplicationELB',
            name: 'TargetResponseTime',
            dimensions: { LoadBalancer: 'app/web/123', AvailabilityZone: 'eu-west-1a' },
            stats: ['Average', 'p99.9'],
          },
        ],
      }),
    );
    expect(ctx.sink.points[0]!.nodes).toEqual([
      'cloudwatch',
      'eu-west-1',
      'AWS_ApplicationELB',
      'app/web/123',
      'eu-west-1a',
      'TargetResponseTime',
      'Average',
    ]);
    expect(ctx.sink.paths().map((p) => formatPath(ctx.sink.points.find((q) => q.path === p)!.nodes!))).toEqual([
      'cloudwatch.eu-west-1.AWS_ApplicationELB.app_web_123.eu-west-1a.TargetResponseTime.Average',
      'cloudwatch.eu-west-1.AWS_ApplicationELB.app_web_123.eu-west-1a.TargetResponseTime.p99_9',
    ]);
  });

  it('templates: {region} {namespace} {metric} {stat} {dimensions} {dim.NAME}', async () => {
    const ctx = await poll(
      options({
        metrics: [
          {
            namespace: 'AWS/ApplicationELB',
            name: 'TargetResponseTime',
            dimensions: { LoadBalancer: 'app/web/123', AvailabilityZone: 'eu-west-1a' },
            path: 'aws.{region}.alb.{dim.AvailabilityZone}.{dimensions}.{metric}_{stat}',
          },
        ],
      }),
    );
    expect(ctx.sink.points[0]!.nodes).toEqual([
      'aws',
      'eu-west-1',
      'alb',
      'eu-west-1a',
      'app/web/123',
      'eu-west-1a',
      'TargetResponseTime_Average',
    ]);
  });

  it('a dimension value with dots, spaces and newlines stays one node, in the default path and in templates', async () => {
    for (const path of [undefined, 'elb.{dim.LoadBalancer}.{metric}']) {
      const ctx = await poll(
        options({
          metrics: [
            {
              namespace: 'AWS/ApplicationELB',
              name: 'TargetResponseTime',
              dimensions: { LoadBalancer: '*', AvailabilityZone: 'eu-west-1a' },
              ...(path ? { path } : {}),
            },
          ],
        }),
      );
      const evil = ctx.sink.points.find((p) => p.nodes!.includes('evil.lb name\nx 1 2\n'))!;
      const line = formatPath(evil.nodes!);
      expect(line.split('.')).toHaveLength(evil.nodes!.length);
      expect(line).not.toMatch(/\s/);
      expect(line).toContain('.evil_lb_name_x_1_2_.');
      await freshInstance();
    }
  });
});

describe('discovery', () => {
  beforeAll(async () => {
    const data: MetricDatum[] = [];
    for (let i = 0; i < 1203; i++) data.push(...perMinute('NumberOfMessagesSent', { QueueName: `queue-${i}` }, NOW - 600, 10, () => i));
    data.push(...perMinute('NumberOfMessagesSent', { QueueName: 'queue-0', Extra: 'more' }, NOW - 600, 10));
    await fake.seed('AWS/SQS', data);
    await fake.seed('Custom/Multi', [
      ...perMinute('Jobs', { Zeta: 'z', Alpha: 'a' }, NOW - 600, 10),
      ...perMinute('Jobs', {}, NOW - 600, 10),
    ]);
  });
  const sqs = (extra: Record<string, unknown> = {}) =>
    options({
      metrics: [{ namespace: 'AWS/SQS', name: 'NumberOfMessagesSent', dimensions: { QueueName: '*' }, stats: ['Sum'] }],
      ...extra,
    });

  it('lists every page of ListMetrics, keeps only the configured dimension set, then ceil(queries / 500) calls', async () => {
    const ctx = await poll(sqs());
    expect(fake.calls('ListMetrics').map((c) => c.body.NextToken !== undefined)).toEqual([false, true, true]);
    expect(fake.calls('ListMetrics')[0]!.body).toMatchObject({
      Namespace: 'AWS/SQS',
      MetricName: 'NumberOfMessagesSent',
      Dimensions: [{ Name: 'QueueName' }],
      RecentlyActive: 'PT3H',
    });
    // 1,203 queues; the series with the extra dimension is not one of them.
    expect(
      fake
        .calls('GetMetricData')
        .map((c) => c.queries)
        .sort((a, b) => b! - a!),
    ).toEqual([500, 500, 203]);
    expect(ctx.sink.paths()).toHaveLength(1203);
    // Seeded over [NOW-10m, NOW-1m]: the window [NOW-12m, NOW-2m) holds 8 of those minutes.
    expect(ctx.sink.series()['cloudwatch.eu-west-1.AWS_SQS.queue-42.NumberOfMessagesSent.Sum']).toEqual(
      Array.from({ length: 8 }, (_, i) => [NOW - 600 + i * 60, 42]),
    );
    expect(ctx.stats.gauges.series).toBe(1203);
  });

  it('reuses the discovered series until the TTL has passed on the run clock', async () => {
    const opts = sqs({ discoveryTtl: '15m' });
    await poll(opts);
    expect(fake.calls('ListMetrics')).toHaveLength(3);
    clockSeconds = NOW + 15 * 60 - 1;
    const cached = await poll(opts, LIVE_WINDOW);
    expect(fake.calls('ListMetrics')).toHaveLength(3);
    expect(cached.stats.counters.discovery_cache_hits).toBe(1);
    clockSeconds = NOW + 15 * 60;
    await poll(opts, LIVE_WINDOW);
    expect(fake.calls('ListMetrics')).toHaveLength(6);
  });

  it('uses the series discovered earlier when ListMetrics fails', async () => {
    const opts = sqs({ discoveryTtl: 60, maxAttempts: 1 });
    await poll(opts);
    clockSeconds = NOW + 120;
    fake.failNext(1, 'ListMetrics');
    const ctx = await poll(opts, LIVE_WINDOW);
    expect(ctx.stats.counters.discovery_errors).toBe(1);
    expect(ctx.sink.paths()).toHaveLength(1203);
  });

  it('lists every series, not only recently active ones, in backfills', async () => {
    await poll(sqs(), { start: NOW - 3600, end: NOW }, { mode: 'backfill' });
    expect(fake.calls('ListMetrics')[0]!.body.RecentlyActive).toBeUndefined();
  });

  it('with dimensions "*", takes every dimension set, values in dimension-name order', async () => {
    const ctx = await poll(options({ metrics: [{ namespace: 'Custom/Multi', name: 'Jobs', dimensions: '*', stats: ['Sum'] }] }));
    expect(fake.calls('ListMetrics')[0]!.body.Dimensions).toBeUndefined();
    expect(ctx.sink.paths()).toEqual(['cloudwatch.eu-west-1.Custom_Multi.Jobs.Sum', 'cloudwatch.eu-west-1.Custom_Multi.a.z.Jobs.Sum']);
  });

  it('matches a list of values among the discovered ones', async () => {
    const ctx = await poll(
      options({
        metrics: [
          {
            namespace: 'AWS/SQS',
            names: ['NumberOfMessagesSent'],
            dimensions: { QueueName: ['queue-1', 'queue-2', 'missing'] },
            stats: ['Sum'],
          },
        ],
      }),
    );
    // A list without '*' needs no discovery: three queries, one of which has no data.
    expect(fake.calls('ListMetrics')).toEqual([]);
    expect(fake.calls('GetMetricData').map((c) => c.queries)).toEqual([3]);
    expect(ctx.sink.paths()).toEqual([
      'cloudwatch.eu-west-1.AWS_SQS.queue-1.NumberOfMessagesSent.Sum',
      'cloudwatch.eu-west-1.AWS_SQS.queue-2.NumberOfMessagesSent.Sum',
    ]);
  });
});

describe('missing data and fill', () => {
  beforeAll(async () => {
    await fake.seed('Custom/Sparse', [
      { MetricName: 'Errors', Value: 3, Timestamp: new Date((LIVE_WINDOW.start + 120) * 1000) },
      { MetricName: 'Errors', Value: 4, Timestamp: new Date((LIVE_WINDOW.start + 300) * 1000) },
    ]);
  });

  it('sends nothing for periods without data', async () => {
    const ctx = await poll(options({ metrics: [{ namespace: 'Custom/Sparse', name: 'Errors', stats: ['Sum'] }] }));
    expect(ctx.sink.series()).toEqual({
      'cloudwatch.eu-west-1.Custom_Sparse.Errors.Sum': [
        [LIVE_WINDOW.start + 120, 3],
        [LIVE_WINDOW.start + 300, 4],
      ],
    });
  });

  it('with fill: 0, sends 0 for every other period of the window', async () => {
    const ctx = await poll(options({ metrics: [{ namespace: 'Custom/Sparse', name: 'Errors', stats: ['Sum'], fill: 0 }] }));
    expect(ctx.sink.series()['cloudwatch.eu-west-1.Custom_Sparse.Errors.Sum']).toEqual(
      Array.from({ length: 10 }, (_, i) => [LIVE_WINDOW.start + i * 60, i === 2 ? 3 : i === 5 ? 4 : 0]),
    );
  });

  it('never throws for a metric without any data', async () => {
    const ctx = await poll(options({ metrics: [{ namespace: 'Nothing/Here', name: 'Nope', dimensions: { X: '*' } }] }));
    expect(ctx.sink.points).toEqual([]);
    expect(fake.calls('GetMetricData')).toEqual([]);
  });
});

describe('throttling and errors', () => {
  const one = () => options({ metrics: [{ namespace: 'AWS/EC2', name: 'CPUUtilization', dimensions: { InstanceId: 'i-0001' } }] });

  it('retries throttled calls (SDK adaptive mode) and counts every throttle and attempt', async () => {
    fake.throttleNext(2, 'GetMetricData');
    const ctx = await poll(one());
    expect(ctx.sink.points).toHaveLength(10);
    expect(ctx.stats.counters).toMatchObject({ throttles: 2, api_calls: 3, get_metric_data_calls: 1 });
    expect(fake.calls('GetMetricData').map((c) => c.status)).toEqual([400, 400, 200]);
  });

  it('retries 5xx answers and counts them', async () => {
    fake.failNext(1, 'GetMetricData', 503);
    const ctx = await poll(one());
    expect(ctx.sink.points).toHaveLength(10);
    expect(ctx.stats.counters).toMatchObject({ server_errors: 1, api_calls: 2 });
  });

  it('fails the run, not the process, when throttling outlasts the attempts; other calls still deliver', async () => {
    fake.throttleNext(2, 'GetMetricData');
    const opts = options({
      maxAttempts: 2,
      concurrency: 1,
      metrics: [{ namespace: 'AWS/EC2', name: 'CPUUtilization', dimensions: { InstanceId: ids(501) } }],
    });
    const ctx = testContext({ options: opts, window: LIVE_WINDOW, now: NOW * 1000, schedule: LIVE });
    await expect(cloudwatch.poll(ctx)).rejects.toThrow(/1 of 2 GetMetricData calls failed: Rate exceeded/);
    expect(ctx.sink.points).toHaveLength(10);
    expect(ctx.stats.counters.throttles).toBe(2);
  });

  it("shares one rate limit between the runs of a job, waiting on the run's clock", async () => {
    const metrics = [{ namespace: 'AWS/EC2', name: 'CPUUtilization', dimensions: { InstanceId: ids(501) } }];
    const opts = options({ getMetricDataRate: 2, metrics });
    const clock = new FakeClock({ start: NOW * 1000 });
    const started = clock.now();
    const [a, b] = [1, 2].map(() => onClock(clock, testContext({ options: opts, window: LIVE_WINDOW, now: NOW * 1000, schedule: LIVE })));
    await clock.runUntilSettled(Promise.all([cloudwatch.poll(a!), cloudwatch.poll(b!)]));
    // Four calls at 2 per second with a burst of 2: the last two wait about 0.5 s and 1 s.
    expect(clock.now() - started).toBeGreaterThanOrEqual(900);
    expect((a!.stats.counters.rate_limit_wait_ms ?? 0) + (b!.stats.counters.rate_limit_wait_ms ?? 0)).toBeGreaterThanOrEqual(1400);
    expect(fake.calls('GetMetricData')).toHaveLength(4);
  });

  it('keeps its own rate limits: another instance (another job) has buckets of its own', async () => {
    const metrics = [{ namespace: 'AWS/EC2', name: 'CPUUtilization', dimensions: { InstanceId: ids(501) } }];
    const opts = options({ getMetricDataRate: 2, metrics });
    const clock = new FakeClock({ start: NOW * 1000 });
    const other = createCloudWatchPoller();
    try {
      const [a, b] = [1, 2].map(() => onClock(clock, testContext({ options: opts, window: LIVE_WINDOW, now: NOW * 1000, schedule: LIVE })));
      await clock.runUntilSettled(Promise.all([cloudwatch.poll(a!), other.poll(b!)]));
      // Two calls each, within each instance's burst of 2: nobody waited.
      expect(clock.now()).toBe(NOW * 1000);
      expect(clock.sleepCalls).toBe(0);
      expect([a!.stats.counters.rate_limit_wait_ms, b!.stats.counters.rate_limit_wait_ms]).toEqual([undefined, undefined]);
      expect(fake.calls('GetMetricData')).toHaveLength(4);
    } finally {
      await other.close?.();
    }
  });

  it("waits its retry backoff on the run's clock, with jitter, from 1 s for throttles", async () => {
    fake.throttleNext(2, 'GetMetricData');
    const sleeps: number[] = [];
    const sleep = async (ms: number) => void sleeps.push(ms);
    const ctx = testContext({ options: one(), window: LIVE_WINDOW, now: NOW * 1000, schedule: LIVE, sleep });
    await cloudwatch.poll(ctx);
    expect(ctx.sink.points).toHaveLength(10);
    expect(sleeps).toHaveLength(2);
    expect(sleeps[0]).toBeGreaterThanOrEqual(0);
    expect(sleeps[0]).toBeLessThan(1000);
    expect(sleeps[1]).toBeLessThan(2000);
  });

  it("ends a throttling backoff at the run's deadline: no wait outlives the run", async () => {
    // Seven throttles, all used up by the time the deadline passes (none is left over for the next test).
    fake.throttleNext(7, 'GetMetricData');
    const random = vi.spyOn(Math, 'random').mockReturnValue(0.5);
    try {
      const clock = new FakeClock({ start: NOW * 1000 });
      const controller = new AbortController();
      // The run's deadline, 30 s on the run's clock; backoffs of 0.5, 1, 2, 4, 8, 10 and 10 s reach it in the 7th.
      void clock.sleep(30_000).then(() => controller.abort(new Error('run deadline')));
      const opts = options({ maxAttempts: 20, metrics: one().metrics });
      const { signal } = controller;
      const ctx = onClock(clock, testContext({ options: opts, window: LIVE_WINDOW, now: NOW * 1000, schedule: LIVE, signal }));
      await expect(clock.runUntilSettled(cloudwatch.poll(ctx))).rejects.toThrow('run deadline');
      expect(clock.now() - NOW * 1000).toBe(30_000);
      expect(ctx.stats.counters.throttles).toBe(7);
    } finally {
      random.mockRestore();
    }
  });

  it('stops at once when the run is aborted mid-way: the call in flight is cancelled, the queued ones never sent', async () => {
    fake.responseDelayMs = 500;
    const controller = new AbortController();
    const opts = options({
      concurrency: 1,
      metrics: [{ namespace: 'AWS/EC2', name: 'CPUUtilization', dimensions: { InstanceId: ids(501) } }],
    });
    const started = Date.now();
    setTimeout(() => controller.abort(new Error('run deadline')), 100);
    await expect(poll(opts, LIVE_WINDOW, { signal: controller.signal })).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(450);
    expect(fake.calls('GetMetricData')).toHaveLength(1);
  });

  it('passes the run signal to the SDK: an aborted run stops', async () => {
    const controller = new AbortController();
    controller.abort(new Error('deadline'));
    await expect(poll(one(), LIVE_WINDOW, { signal: controller.signal })).rejects.toThrow();
    expect(fake.calls('GetMetricData')).toEqual([]);
  });
});

describe('configuration', () => {
  it('reaches the endpoint in AWS_ENDPOINT_URL without an endpoint option', async () => {
    vi.stubEnv('AWS_ENDPOINT_URL', fake.url);
    try {
      const ctx = await poll(
        cloudwatch.options.parse({
          region: 'ap-southeast-2',
          metrics: [{ namespace: 'AWS/EC2', name: 'CPUUtilization', dimensions: { InstanceId: 'i-0001' } }],
        }),
      );
      expect(ctx.sink.points).toHaveLength(10);
      expect(fake.calls('GetMetricData')[0]!.region).toBe('ap-southeast-2');
      expect(ctx.sink.paths()[0]).toBe('cloudwatch.ap-southeast-2.AWS_EC2.i-0001.CPUUtilization.Average');
    } finally {
      vi.stubEnv('AWS_ENDPOINT_URL', undefined);
    }
  });

  it('takes the region from AWS_REGION when the config has none', async () => {
    vi.stubEnv('AWS_REGION', 'us-west-2');
    try {
      const ctx = await poll(
        cloudwatch.options.parse({
          endpoint: fake.url,
          metrics: [{ namespace: 'AWS/EC2', name: 'CPUUtilization', dimensions: { InstanceId: 'i-0001' } }],
        }),
      );
      expect(fake.calls('GetMetricData')[0]!.region).toBe('us-west-2');
      expect(ctx.sink.paths()[0]).toMatch(/^cloudwatch\.us-west-2\./);
    } finally {
      vi.stubEnv('AWS_REGION', undefined);
    }
  });

  it('throws a ConfigError naming the field when no region is set anywhere', async () => {
    const error = await poll(cloudwatch.options.parse({ endpoint: fake.url, metrics: [{ namespace: 'X', name: 'Y' }] })).catch(
      (e: unknown) => e,
    );
    expect(isConfigError(error)).toBe(true);
    expect((error as { where: { field: string } }).where.field).toBe('region');
  });

  it('refuses, at validation, a template with an unknown placeholder, a metric without a name, an invalid period', () => {
    const bad = (metric: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
      cloudwatch.options
        .safeParse({ metrics: [{ namespace: 'AWS/ELB', name: 'RequestCount', ...metric }], ...extra })
        .error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    expect(bad({ path: 'x.{dim.LoadBalancerName}.{metric}' })).toEqual([
      "metrics.0.path: unknown placeholder {dim.LoadBalancerName} (this metric's dimensions are none)",
    ]);
    expect(bad({ path: 'x.{oops}' })![0]).toMatch(/^metrics\.0\.path: unknown placeholder \{oops\}/);
    expect(bad({ name: undefined })).toEqual(['metrics.0.name: expected exactly one of name or names']);
    expect(bad({ period: 90 })![0]).toMatch(/^metrics\.0\.period: expected 1, 5, 10, 20 or 30 seconds, or a multiple of 60/);
    expect(bad({ stats: ['Median'] })![0]).toMatch(/^metrics\.0\.stats\.0: expected SampleCount/);
    expect(bad({}, { period: '5m' })).toBeUndefined();
  });
});

describe('history and plan', () => {
  const withSeries = (n: number, extra: Record<string, unknown> = {}) =>
    cloudwatch.options.parse({
      region: 'eu-west-1',
      metrics: [{ namespace: 'AWS/EC2', name: 'CPUUtilization', dimensions: { InstanceId: ids(n) } }],
      ...extra,
    });

  it('declares 455 days of retention, a step of the finest period, windows sized to the datapoint limit', () => {
    const history = cloudwatch.history!;
    expect(history.retention(withSeries(1))).toBe(455 * DAY);
    expect(history.step!(withSeries(1))).toBe(60);
    expect(history.step!(cloudwatch.options.parse({ metrics: [{ namespace: 'A', name: 'B', period: '6h' }] }))).toBe(60);
    expect(history.step!(cloudwatch.options.parse({ period: 300, metrics: [{ namespace: 'A', name: 'B', period: 900 }] }))).toBe(300);
    expect(history.step!(cloudwatch.options.parse({ metrics: [{ namespace: 'A', name: 'B', period: 10 }] }))).toBe(10);
    // One series: 100,800 periods of 60 s fit one call (70 days); 500 series: 201 periods each, so 3 whole hours.
    expect(history.maxWindow(withSeries(1))).toBe(100_800 * 60);
    expect(history.maxWindow(withSeries(500))).toBe(3 * HOUR);
    expect(history.maxWindow(withSeries(2000))).toBe(3 * HOUR);
    expect(history.maxWindow(cloudwatch.options.parse({ metrics: [{ namespace: 'A', name: 'B', dimensions: { X: '*' } }] }))).toBe(
      3 * HOUR,
    );
  });

  it('plans calls, metrics requested and the estimated monthly cost without fetching datapoints', async () => {
    const plan = await cloudwatch.plan!(withSeries(1000), LIVE);
    const text = formatPlan(plan).join('\n');
    expect(text).toContain('requests: 1,000 queries per tick, ');
    expect(text).toContain('requests: 2 GetMetricData calls per tick (');
    expect(text).toContain('datapoints: 10,000 per tick');
    expect(text).toContain('ticks per month: 8,760');
    expect(text).toContain(' queries per tick, 8,760,000 per month (one per series and statistic; each is one metric requested');
    expect(text).toContain('cost: USD 87.60 per month for GetMetricData (an estimate');
    // Polling every minute instead keeps the same resolution for five times the cost.
    expect(text).toContain('cost: USD 438.00 per month for the same series fetched every period instead');
    // The structure the formatter writes from.
    expect(plan.requests![0]).toMatchObject({ what: 'queries', perTick: 1000, perMonth: 8_760_000 });
    expect(plan.cost![0]).toMatchObject({ currency: 'USD', per: 'month', what: 'GetMetricData' });
    expect(plan.cost![0]!.amount).toBeCloseTo(87.6, 6);
    expect(fake.requests).toEqual([]);
  });

  it('says so in the plan when discovery fails, and counts the other series', async () => {
    fake.failNext(1, 'ListMetrics');
    const opts = options({
      maxAttempts: 1,
      metrics: [
        { namespace: 'AWS/Lambda', name: 'Invocations', dimensions: { FunctionName: '*' } },
        { namespace: 'AWS/EC2', name: 'CPUUtilization', dimensions: { InstanceId: ['i-1', 'i-2'] } },
      ],
    });
    const text = formatPlan(await cloudwatch.plan!(opts, LIVE)).join('\n');
    expect(text).toContain('requests: 2 queries per tick, ');
    expect(text).toContain('discovery: 1 metric name(s) with "*" dimensions could not be listed (Internal service error)');
  });

  it('discovers "*" dimensions for the plan with ListMetrics only', async () => {
    await fake.seed(
      'AWS/Lambda',
      ['a', 'b', 'c'].flatMap((f) => perMinute('Invocations', { FunctionName: f }, NOW - 600, 1)),
    );
    fake.clearRequests();
    const opts = options({
      metrics: [{ namespace: 'AWS/Lambda', name: 'Invocations', dimensions: { FunctionName: '*' }, stats: ['Sum', 'Maximum'] }],
    });
    const lines = formatPlan(await cloudwatch.plan!(opts, LIVE));
    expect(lines.join('\n')).toContain('requests: 6 queries per tick, ');
    expect(lines.join('\n')).toMatch(
      /discovery: 1 metric name\(s\) with "\*" dimensions, 1 ListMetrics request\(s\) per refresh every 15m/,
    );
    expect(fake.calls('GetMetricData')).toEqual([]);
  });
});
