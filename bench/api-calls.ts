// API calls and dollars, counted on the honest fakes through the real SDK clients: CloudWatch GetMetricData per tick
// and per backfill, GA4 batchRunReports per tick, and what 1,000 CloudWatch metric-statistics cost a month.
import type { MetricDatum } from '@aws-sdk/client-cloudwatch';
import { pathToFileURL } from 'node:url';
import { runBackfill } from '../lib/backfill/run-backfill.ts';
import { systemClock } from '../lib/poller-kit/clock.ts';
import { GraphiteSink } from '../lib/graphite/sink.ts';
import type { GraphiteWriter } from '../lib/graphite/writer-types.ts';
import { silentLogger } from '../lib/poller-kit/logger.ts';
import type { JobContext } from '../lib/run/poll-window.ts';
import type { JobSchedule, Poller, TimeWindow } from '../lib/poller-kit/contract.ts';
import { StatsCollector } from '../lib/run/self-metrics.ts';
import { createCloudWatchPoller } from '../pollers/cloudwatch.ts';
import { SECONDS_PER_MONTH, USD_PER_1000_API_REQUESTS, USD_PER_1000_METRICS_REQUESTED } from '../pollers/cloudwatch/plan.ts';
import { createGoogleAnalyticsPoller } from '../pollers/google-analytics.ts';
import { testContext } from '../test/helpers/capture-sink.ts';
import { CloudWatchFake, FAKE_CREDENTIALS } from '../test/helpers/cloudwatch-fake.ts';
import { Ga4Fake } from '../test/helpers/ga4-fake.ts';
import { count, exactly, formatText, info, usd, type Figure, type Section } from './report.ts';

const HOUR = 3600;
const DAY = 86_400;
const LIMITS = { queries: 500, datapoints: 100_800 };
const LIVE: JobSchedule = { interval: 300, delay: 120, lookback: 600 };
/** The fake and the poller agree on "now": a whole minute, so windows are whole periods. */
const NOW = Math.floor(Date.now() / 60_000) * 60;

/** One instance for the whole bench, as one job: its clients are closed at the end. */
const cloudwatch = createCloudWatchPoller();

const ids = (n: number) => Array.from({ length: n }, (_, i) => `i-${String(i).padStart(5, '0')}`);

function cloudWatchOptions(fake: CloudWatchFake, instances: number, stats: string[] = ['Average']) {
  return cloudwatch.options.parse({
    region: 'eu-west-1',
    endpoint: fake.url,
    metrics: [{ namespace: 'AWS/EC2', name: 'CPUUtilization', dimensions: { InstanceId: ids(instances) }, stats }],
  });
}

/** The live window the runner asks for at NOW with this schedule (aligned to the tick and the 60 s step). */
function liveWindow(schedule: JobSchedule): TimeWindow {
  const tick = Math.floor(NOW / schedule.interval) * schedule.interval;
  const end = tick - schedule.delay;
  return { start: end - Math.max(schedule.lookback, schedule.interval), end };
}

interface CallCount {
  calls: number;
  metricsRequested: number;
  datapoints: number;
  /** The most datapoints any one call asked for. */
  largestCall: number;
}

function countCalls(fake: CloudWatchFake): CallCount {
  const calls = fake.getMetricDataCalls.filter((c) => !c.nextToken);
  const asked = (c: (typeof calls)[number]) => c.queries! * ((c.endTime! - c.startTime!) / 60);
  return {
    calls: calls.length,
    metricsRequested: calls.reduce((n, c) => n + c.queries!, 0),
    datapoints: calls.reduce((n, c) => n + asked(c), 0),
    largestCall: Math.max(0, ...calls.map(asked)),
  };
}

async function liveTick(
  fake: CloudWatchFake,
  options: ReturnType<typeof cloudWatchOptions>,
  schedule: JobSchedule = LIVE,
): Promise<CallCount & { points: number }> {
  fake.clearRequests();
  const ctx = testContext({ options, window: liveWindow(schedule), now: NOW * 1000, mode: 'live', schedule });
  await cloudwatch.poll(ctx);
  return { ...countCalls(fake), points: ctx.sink.points.length };
}

/** A writer whose lines go nowhere, each delivered at once. */
const NOWHERE: GraphiteWriter = {
  sequence: 0,
  write() {},
  writeReserved() {},
  ready: () => Promise.resolve(),
  connect: () => Promise.resolve(true),
  whenDelivered: () => Promise.resolve({ dropped: 0 }),
  flush: () => Promise.resolve(true),
  close: () => Promise.resolve(),
  stats: () => ({ sent: 0, dropped: 0, lost: 0, queued: 0, reconnects: 0 }),
};

/** A backfill of `range` through runBackfill with the poller's own windows; the points go nowhere. */
async function backfill(
  fake: CloudWatchFake,
  options: ReturnType<typeof cloudWatchOptions>,
  range: TimeWindow,
): Promise<CallCount & { windows: number; perWindowMinimum: number }> {
  fake.clearRequests();
  const history = cloudwatch.history!;
  const maxWindow = history.maxWindow(options);
  const step = history.step?.(options) ?? 60;
  const queries = options.metrics.reduce(
    (n, m) =>
      n +
      (m.dimensions === '*' ? 0 : Object.values(m.dimensions).reduce((k, v) => k * (Array.isArray(v) ? v.length : 1), 1) * m.stats.length),
    0,
  );
  const job: JobContext = {
    poller: cloudwatch as unknown as Poller,
    job: 'bench',
    options,
    schedule: LIVE,
    sink: new GraphiteSink({ write() {}, ready: () => Promise.resolve() }),
    stats: new StatsCollector(),
    log: silentLogger,
    clock: systemClock,
    fetch: globalThis.fetch,
  };
  const summary = await runBackfill({
    job,
    writer: NOWHERE,
    range,
    maxWindow,
    step,
    concurrency: 4,
    stop: new AbortController().signal,
    clock: systemClock,
  });
  if (summary.failed.length > 0) throw new Error(`CloudWatch backfill: ${summary.failed.length} windows failed`);
  // Within each window, the fewest calls the two limits allow.
  let perWindowMinimum = 0;
  for (let start = range.start; start < range.end; start += maxWindow) {
    const periods = (Math.min(range.end, start + maxWindow) - start) / 60;
    perWindowMinimum += minimumCalls(queries, periods);
  }
  return { ...countCalls(fake), windows: summary.windows, perWindowMinimum };
}

/** The fewest GetMetricData calls for `queries` series over `periods` periods: 500 queries and 100,800 datapoints a call. */
function minimumCalls(queries: number, periods: number): number {
  return Math.max(Math.ceil(queries / LIMITS.queries), Math.ceil((queries * periods) / LIMITS.datapoints));
}

async function cloudWatchFigures(figures: Figure[], notes: string[]): Promise<void> {
  const saved = { ...process.env };
  Object.assign(process.env, {
    AWS_ACCESS_KEY_ID: FAKE_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: FAKE_CREDENTIALS.secretAccessKey,
    AWS_CONFIG_FILE: '/nonexistent/aws-config',
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/aws-credentials',
  });
  for (const name of [
    'AWS_SESSION_TOKEN',
    'AWS_PROFILE',
    'AWS_REGION',
    'AWS_DEFAULT_REGION',
    'AWS_ENDPOINT_URL',
    'AWS_ENDPOINT_URL_CLOUDWATCH',
  ])
    delete process.env[name];
  const fake = await CloudWatchFake.start({ now: () => NOW * 1000 });
  try {
    // 5,000 instances, one CPU value a minute for the last 20 minutes.
    const data: MetricDatum[] = [];
    for (const id of ids(5000)) {
      for (let m = 20; m > 0; m--)
        data.push({
          MetricName: 'CPUUtilization',
          Value: m,
          Timestamp: new Date((NOW - m * 60) * 1000),
          Dimensions: [{ Name: 'InstanceId', Value: id }],
        });
    }
    await fake.seed('AWS/EC2', data);

    for (const queries of [1, 500, 501, 5000]) {
      const tick = await liveTick(fake, cloudWatchOptions(fake, queries));
      figures.push(
        exactly(
          `CloudWatch live tick, ${count(queries)} ${queries === 1 ? 'query' : 'queries'}: GetMetricData calls`,
          tick.calls,
          Math.ceil(queries / LIMITS.queries),
        ),
      );
    }

    const end = Math.floor(NOW / HOUR) * HOUR - HOUR;
    const cases = [
      { queries: 1, days: 14 },
      { queries: 500, days: 7 },
      { queries: 5000, days: 1 },
    ];
    for (const { queries, days } of cases) {
      const result = await backfill(fake, cloudWatchOptions(fake, queries), { start: end - days * DAY, end });
      const periods = (days * DAY) / 60;
      const minimum = minimumCalls(queries, periods);
      const label =
        `CloudWatch backfill, ${count(queries)} ${queries === 1 ? 'query' : 'queries'} ` + `× ${days} day${days > 1 ? 's' : ''} at 60 s`;
      figures.push(exactly(`${label}: calls vs the fewest for its windows`, result.calls, result.perWindowMinimum));
      const total = exactly(`${label}: calls vs the fewest for the whole range`, result.calls, minimum);
      if (result.calls !== minimum) {
        total.margin +=
          `: ${result.windows} whole-hour windows of ${((days * DAY) / result.windows / HOUR).toFixed(0)} h, ` +
          `a full call asking for ${count(result.largestCall)} of 100,800 datapoints`;
      }
      figures.push(total);
    }
    notes.push(
      'CloudWatch backfill windows are whole hours (pollers/cloudwatch.ts `maxWindow`: ' +
        'hourly data older than 63 days then never straddles two windows), so a full call of 500 queries asks for 180 one-minute ' +
        'periods (90,000 datapoints) where 201 (100,500) would fit. Within each window the poller uses exactly the fewest calls; ' +
        'over a range of 60-second data the whole-hour grid costs the extra calls shown (and as many extra metrics requested, ' +
        "which is what is billed). Left as it is here: the CloudWatch poller is not this benchmark's to change.",
      '',
    );

    // What 1,000 metric-statistics cost: 500 instances x (Average, Maximum), counted on the fake per tick.
    const thousand = cloudWatchOptions(fake, 500, ['Average', 'Maximum']);
    const schedules: Array<{ label: string; schedule: JobSchedule }> = [
      { label: 'this poller, interval 5 min, lookback 10 min (the default)', schedule: LIVE },
      { label: 'this poller, interval 15 min, lookback 20 min', schedule: { interval: 900, delay: 120, lookback: 1200 } },
      { label: 'this poller, interval 1 min, lookback 10 min', schedule: { interval: 60, delay: 120, lookback: 600 } },
    ];
    const rows: string[] = [];
    let defaultMonthly = 0;
    for (const { label, schedule } of schedules) {
      const tick = await liveTick(fake, thousand, schedule);
      const ticksPerMonth = SECONDS_PER_MONTH / schedule.interval;
      const monthly = ((tick.metricsRequested * ticksPerMonth) / 1000) * USD_PER_1000_METRICS_REQUESTED;
      if (schedule === LIVE) defaultMonthly = monthly;
      rows.push(
        `| ${label} | GetMetricData: ${tick.calls} calls, ${count(tick.metricsRequested)} metrics requested, ` +
          `${count(tick.datapoints)} datapoints asked for | 60 s | ${count(tick.metricsRequested * ticksPerMonth)} metrics ` +
          `| **${usd(monthly)}** |`,
      );
      if (schedule === LIVE) {
        figures.push(
          info(
            '1,000 metric-statistics, this poller (5 min interval, 60 s period): per tick',
            `${tick.calls} GetMetricData calls, ${count(tick.metricsRequested)} metrics requested, ` +
              `${count(tick.datapoints)} datapoints asked for`,
          ),
        );
        figures.push(info('… per month at list price', usd(monthly)));
      }
    }
    const perMinuteTicks = SECONDS_PER_MONTH / 60;
    const telegraf = ((1000 * perMinuteTicks) / 1000) * USD_PER_1000_METRICS_REQUESTED;
    const freeRequests = 1_000_000;
    const gms = (Math.max(0, 1000 * perMinuteTicks - freeRequests) / 1000) * USD_PER_1000_API_REQUESTS;
    rows.push(
      `| Telegraf (inputs.cloudwatch: GetMetricData, interval = period = 60 s, no overlap) | GetMetricData: ` +
        `2 calls, 1,000 metrics requested, 1,000 datapoints | 60 s | ${count(1000 * perMinuteTicks)} metrics | ${usd(telegraf)} |`,
      `| cloudwatch-to-graphite, Diamond (GetMetricStatistics, one request per metric-statistic, every 60 s) ` +
        `| 1,000 GetMetricStatistics requests, 1,000 datapoints | 60 s | ${count(1000 * perMinuteTicks)} requests | ${usd(gms)} ` +
        `(after the free tier's 1,000,000 requests) |`,
    );
    figures.push(
      info(
        '… Telegraf (no overlap, 60 s) / GetMetricStatistics per metric (60 s)',
        `${usd(telegraf)} / ${usd(gms)}: ${(telegraf / defaultMonthly).toFixed(1)}x / ${(gms / defaultMonthly).toFixed(1)}x this poller's`,
      ),
    );
    notes.push(
      '**What 1,000 CloudWatch metric-statistics cost a month** (500 instances × Average and Maximum, 1-minute resolution in every row). ' +
        `List prices, us-east-1, as published on aws.amazon.com/cloudwatch/pricing when checked for this project (2026): ` +
        `GetMetricData $${USD_PER_1000_METRICS_REQUESTED} per 1,000 metrics requested, ` +
        `GetMetricStatistics $${USD_PER_1000_API_REQUESTS} per 1,000 requests after 1,000,000 free API requests a month ` +
        `(the free tier does not cover GetMetricData). ` +
        'A month is 730 hours, as AWS prices it; other regions, discounts and taxes differ, so read these as estimates. ' +
        'Our rows are counted on the fake, the others computed.',
      '',
      '| poller | per tick | resolution | per month | estimated cost a month |',
      '|---|---|---|---:|---:|',
      ...rows,
      '',
      'GetMetricData bills each query of each call once, however many datapoints it returns: ' +
        'asking every 5 minutes for the last 10 minutes at a 60 s period keeps 1-minute resolution, re-reads each minute twice ' +
        '(late CloudWatch data is corrected), and costs a fifth of polling every minute; every 15 minutes, a fifteenth. ' +
        "The price per metric is the same as GetMetricStatistics' price per request, so the saving comes from the longer interval, " +
        'which the per-metric pollers do not use (they ask for the last period on every run); ' +
        'what GetMetricData adds is 500 metrics and 100,800 datapoints per call: 2 calls a tick instead of 1,000 requests.',
    );
  } finally {
    await cloudwatch.close?.();
    await fake.close();
    for (const name of Object.keys(process.env)) if (!(name in saved)) delete process.env[name];
    Object.assign(process.env, saved);
  }
}

async function ga4Figures(figures: Figure[]): Promise<void> {
  const fake = await Ga4Fake.start();
  try {
    const hour = new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000 - 3_600_000).toISOString();
    fake.addProperty({
      id: '123',
      timeZone: 'UTC',
      rows: [{ dateHour: hour.slice(0, 13).replace(/[-T]/g, ''), metrics: { sessions: 1 } }],
    });
    for (const reports of [1, 5, 6, 12]) {
      // A fresh poller each time: its first tick fetches every report.
      const poller = createGoogleAnalyticsPoller({ env: { GOOGLE_OAUTH_ACCESS_TOKEN: 'test-token', GA4_API_ROOT_URL: fake.url } });
      const options = poller.options.parse({
        propertyId: '123',
        reports: Array.from({ length: reports }, (_, i) => ({ name: `r${i}`, metrics: ['sessions'], granularity: 'hour' })),
      });
      fake.requests.length = 0;
      const end = Math.floor(Date.now() / 60_000) * 60;
      await poller.poll(
        testContext({
          options,
          window: { start: end - 60, end },
          mode: 'live',
          now: end * 1000,
          schedule: { interval: 60, delay: 0, lookback: 0 },
        }),
      );
      const batches = fake.calls('batchRunReports').length;
      const others = fake.calls().length - batches;
      const figure = exactly(
        `GA4 live tick, ${reports} report${reports > 1 ? 's' : ''}: batchRunReports requests`,
        batches,
        Math.ceil(reports / 5),
      );
      if (others > 0) figure.margin = `${figure.margin}; and ${others} other requests`;
      figures.push(figure);
    }
  } finally {
    await fake.close();
  }
}

export default async function benchApiCalls(): Promise<Section> {
  const figures: Figure[] = [];
  const notes: string[] = [];
  await cloudWatchFigures(figures, notes);
  await ga4Figures(figures);
  return {
    title: 'API efficiency',
    method:
      'Calls counted by the honest fakes (test/helpers/cloudwatch-fake.ts, ga4-fake.ts: ' +
      'the wire formats, limits and errors of the real APIs) as the real pollers make them through the real SDK clients ' +
      '(@aws-sdk/client-cloudwatch, @googleapis/analyticsdata). A live tick is one `poll` over the window the runner asks for; ' +
      "a backfill goes through `runBackfill` with the poller's own windows, 4 at a time. " +
      'A call that followed a NextToken counts once (none did here).',
    figures,
    notes,
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const section = await benchApiCalls();
  console.log(formatText(section));
  for (const note of section.notes ?? []) console.log(note);
}
