// Source API faults through the honest fakes (and a proxy for what only a network does: resets, cut bodies): every
// poller runs live in real time (interval 1 s) while a fault lasts a few seconds. The loop must stay alive, runs
// never overlap, requests stay bounded per run (retries with backoff, never a storm), and every failed run shows
// in the errors self-metric.
import type { MetricDatum } from '@aws-sdk/client-cloudwatch';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../lib/poller-kit/clock.ts';
import { loadJobConfig, type JobConfig } from '../../lib/config/job-config.ts';
import { silentLogger } from '../../lib/poller-kit/logger.ts';
import type { Poller } from '../../lib/poller-kit/contract.ts';
import { runPoller } from '../../lib/run/run-poller.ts';
import { createCloudWatchPoller } from '../../pollers/cloudwatch.ts';
import { createGitHubPoller } from '../../pollers/github.ts';
import { createGoogleAnalyticsPoller } from '../../pollers/google-analytics.ts';
import httpJson from '../../pollers/http-json.ts';
import { CloudWatchFake } from '../helpers/cloudwatch-fake.ts';
import { Ga4Fake, type SeedRow } from '../helpers/ga4-fake.ts';
import { GitHubFake } from '../helpers/github-fake.ts';
import { TestHttpServer } from '../helpers/http-server.ts';
import { MemoryWriter } from '../helpers/memory-writer.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { FaultyProxy, type Fault, type ProxiedRequest } from './faulty-proxy.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { choose, FULL, report, sleep } from './harness.ts';

/** Seconds each scenario runs: clean, then the fault, then clean again (longer for pollers that back off longer). */
const BEFORE_S = 2;
const FAULT_S = choose(4, 10);
const AFTER_S = 4;

interface Measured {
  runs: number;
  /** Runs whose errors self-metric was 1. */
  failedRuns: number;
  /** runPoller's own count (runs that failed). */
  errors: number;
  maxInFlight: number;
  requests: ProxiedRequest[];
  /** Most requests any one run sent. */
  maxPerRun: number;
  /** Gaps between consecutive requests of one run (retries), ms. */
  retryGaps: number[];
  /** Datapoints written by runs after the fault ended (the loop recovered). */
  pointsAfter: number;
  /** Seconds from the end of the fault to the end of the first run that wrote points again. */
  recoveredAfterS: number | undefined;
  counters: Record<string, number>;
}

interface Scenario {
  fault: string;
  poller: string;
  injected: string;
  /** Requests one run may send at most (1, or the poller's attempts per call). */
  maxPerRun: number;
  /** Runs expected at least (default: one a second, give or take three). */
  minRuns?: number | undefined;
  /** Seconds the scenario runs on after the fault (default AFTER_S). */
  afterS?: number | undefined;
  /** The job's interval, when not 1 s. */
  interval?: number | undefined;
  start(): Promise<{ poller: Poller; config: JobConfig; proxy: FaultyProxy; begin(): void; end(): void; close(): Promise<void> }>;
}

const work = tempDir('rel-sources');
let configs = 0;
function jobConfig(poller: Poller, options: Record<string, unknown>): JobConfig {
  const file = join(work, `${poller.name}-${++configs}.yaml`);
  writeFileSync(file, JSON.stringify(options));
  return loadJobConfig(poller, { configFile: file, env: {} });
}

/** Runs a scenario's poller live for TOTAL_S seconds, the fault between BEFORE_S and BEFORE_S + FAULT_S. */
async function run(scenario: Scenario): Promise<Measured> {
  const { poller, config, proxy, begin, end, close } = await scenario.start();
  let run = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  const pointsByRun = new Map<number, number>();
  const goodRunsAt: number[] = [];
  const wrapped: Poller = {
    ...poller,
    poll: async (context) => {
      const id = ++run;
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      let points = 0;
      const sink = {
        emit: (...args: Parameters<typeof context.sink.emit>) => (points++, context.sink.emit(...args)),
        ready: () => context.sink.ready(),
      };
      try {
        await poller.poll({ ...context, sink });
        if (points > 0) goodRunsAt.push(Date.now());
      } finally {
        inFlight--;
        pointsByRun.set(id, points);
      }
    },
  };
  proxy.tagger = () => run;
  const writer = new MemoryWriter();
  const stop = new AbortController();
  const done = runPoller({ poller: wrapped, config, writer, log: silentLogger, stop: stop.signal, clock: systemClock, stopGraceMs: 2000 });
  await sleep(BEFORE_S * 1000);
  begin();
  await sleep(FAULT_S * 1000);
  end();
  const endedAt = Date.now();
  const lastFaultyRun = run;
  await sleep((scenario.afterS ?? AFTER_S) * 1000);
  // Under npm test on a busy host the recovery may need longer than the scenario's seconds: wait for a run after
  // the fault to write points (npm run reliability keeps the exact time, and its figures).
  const wroteAfter = () => [...pointsByRun].some(([id, points]) => id > lastFaultyRun + 1 && points > 0);
  if (!FULL) await waitFor('a run after the fault that writes points', wroteAfter).catch(() => undefined);
  stop.abort();
  const result = await done;
  await close();

  const self = writer.series((path) => path.startsWith('pollers.'));
  const sum = (name: string) => (self[`pollers.${config.job}.${name}`] ?? []).reduce((n, [, v]) => n + v, 0);
  const perRun = new Map<number, ProxiedRequest[]>();
  for (const request of proxy.requests) perRun.set(request.tag ?? 0, [...(perRun.get(request.tag ?? 0) ?? []), request]);
  const retryGaps = [...perRun.values()].flatMap((requests) => requests.slice(1).map((r, i) => r.at - requests[i]!.at));
  const counters: Record<string, number> = {};
  for (const path of Object.keys(self)) {
    const name = path.slice(`pollers.${config.job}.`.length);
    if (/^(skipped_ticks|throttles|retries|server_errors|quota_waits|get_metric_data_pages|not_modified)$/.test(name))
      counters[name] = sum(name);
  }
  return {
    runs: result.runs,
    failedRuns: sum('errors'),
    errors: result.errors,
    maxInFlight,
    requests: proxy.requests,
    maxPerRun: Math.max(0, ...[...perRun.values()].map((r) => r.length)),
    retryGaps,
    pointsAfter: [...pointsByRun].filter(([id]) => id > lastFaultyRun + 1).reduce((n, [, p]) => n + p, 0),
    recoveredAfterS: goodRunsAt.filter((at) => at > endedAt).map((at) => (at - endedAt) / 1000)[0],
    counters,
  };
}

// --- The fakes: one per scenario, so scripted faults never leak into another scenario ---------------------

const TOKEN = 'ghp_reliabilityTokenNotReal000000';
const GA_TOKEN = 'ya29.reliability-token';
async function jsonApi(): Promise<TestHttpServer> {
  return TestHttpServer.start((_, response) => {
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ requests: { total: 1234, errors: 5 }, up: true }));
  });
}

async function githubFake(): Promise<GitHubFake> {
  const fake = await GitHubFake.start();
  fake.addToken(TOKEN);
  fake.addRepository('acme/widgets', { stargazers_count: 42, forks_count: 7 });
  return fake;
}

async function cloudwatchFake(): Promise<CloudWatchFake> {
  const fake = await CloudWatchFake.start();
  const now = Math.floor(Date.now() / 60_000) * 60;
  const data: MetricDatum[] = [];
  for (let t = now - 3600; t < now + 3600; t += 60)
    data.push({ MetricName: 'Requests', Value: t % 1000, Timestamp: new Date(t * 1000), Dimensions: [{ Name: 'Service', Value: 'api' }] });
  await fake.seed('Test/App', data);
  return fake;
}

async function gaFake(): Promise<Ga4Fake> {
  const fake = await Ga4Fake.start({ tokens: [GA_TOKEN] });
  const rows: SeedRow[] = [];
  const hour = Math.floor(Date.now() / 3_600_000) * 3600;
  for (let h = 1; h <= 3; h++) {
    const dateHour = new Date((hour - h * 3600) * 1000).toISOString().slice(0, 13).replace(/[-T]/g, '');
    for (const device of ['desktop', 'mobile'])
      rows.push({ dateHour, dimensions: { deviceCategory: device }, metrics: { sessions: 10 * h } });
  }
  fake.addProperty({
    id: '1000',
    timeZone: 'UTC',
    rows,
    realtime: [{ minute: Math.floor(Date.now() / 60_000) * 60 - 60, metrics: { activeUsers: 3 } }],
  });
  return fake;
}

// --- Scenarios ----------------------------------------------------------------------------------------------

type Hooks<F> = (proxy: FaultyProxy, fake: F) => { begin(): void; end(): void };

/** A fault the proxy injects while it lasts. */
function network<F>(fault: Fault | ((request: ProxiedRequest) => Fault | undefined)): Hooks<F> {
  return (proxy) => ({
    begin: () => (proxy.fault = typeof fault === 'function' ? fault : () => fault),
    end: () => (proxy.fault = undefined),
  });
}

interface Options<F> {
  maxPerRun?: number;
  minRuns?: number;
  afterS?: number;
  options?: Record<string, unknown>;
  prepare?(fake: F): void;
}

function scenario<F extends { close(): Promise<void> }>(
  pollerName: string,
  fault: string,
  injected: string,
  hooks: Hooks<F>,
  setup: {
    fake: () => Promise<F>;
    target: (fake: F) => string;
    poller: () => Poller;
    options: (proxyUrl: string) => Record<string, unknown>;
  },
  extra: Options<F> = {},
): Scenario {
  return {
    fault,
    poller: pollerName,
    injected,
    maxPerRun: extra.maxPerRun ?? 1,
    minRuns: extra.minRuns,
    afterS: extra.afterS,
    interval: extra.options?.interval as number | undefined,
    async start() {
      const fake = await setup.fake();
      extra.prepare?.(fake);
      const proxy = await FaultyProxy.start(setup.target(fake));
      const poller = setup.poller();
      const config = jobConfig(poller, { ...setup.options(proxy.url), ...extra.options });
      return {
        poller,
        config,
        proxy,
        ...hooks(proxy, fake),
        close: async () => {
          await poller.close?.();
          await proxy.close();
          await fake.close();
        },
      };
    },
  };
}

const HTTP_JSON = {
  fake: jsonApi,
  target: (f: TestHttpServer) => f.url,
  poller: () => httpJson,
  options: (url: string) => ({ url: `${url}/status.json`, interval: 1, timeout: 5 }),
};
const GITHUB = {
  fake: githubFake,
  target: (f: GitHubFake) => f.apiRoot,
  poller: () => createGitHubPoller(),
  options: (url: string) => ({ repositories: ['acme/widgets'], token: TOKEN, apiRoot: url, interval: 1, timeout: 5 }),
};
let regions = 0;
const CLOUDWATCH = {
  fake: cloudwatchFake,
  target: (f: CloudWatchFake) => f.url,
  poller: () => createCloudWatchPoller(),
  // A region per scenario: each gets its own SDK client and rate limiter, as separate accounts would.
  options: (url: string) => ({
    region: ['eu-west-1', 'eu-west-2', 'eu-west-3', 'eu-central-1', 'us-east-2', 'us-west-1', 'us-west-2', 'ap-south-1'][regions++ % 8],
    endpoint: url,
    interval: 1,
    metrics: [{ namespace: 'Test/App', name: 'Requests', dimensions: { Service: 'api' }, stats: ['Sum'] }],
  }),
};
const GA = {
  fake: gaFake,
  target: (f: Ga4Fake) => f.url,
  poller: () => createGoogleAnalyticsPoller({ env: { GA4_API_ROOT_URL: '', GOOGLE_OAUTH_ACCESS_TOKEN: GA_TOKEN } }),
  // runTimeout 10 s: a run may sit out GA's retry backoff (2 s, then 4 s) past the 1 s interval; ticks are skipped meanwhile.
  options: (url: string) => ({
    propertyId: '1000',
    apiRoot: `${url}/`,
    interval: 1,
    runTimeout: 10,
    pageSize: 2,
    realtime: [{ metrics: ['activeUsers'] }],
    reports: [{ name: 'traffic', metrics: ['sessions'], dimensions: ['deviceCategory'], granularity: 'hour', every: 1, lookback: '4h' }],
  }),
};

// A run cut at its 1 s deadline ends just after the next boundary: that tick is skipped, so slow answers halve the runs.
const SLOW = { minRuns: BEFORE_S + AFTER_S + FAULT_S / 2 - 2 };

// GA's own retries wait 2 s, then 4 s, and a 429 blocks the property for 10 s: runs take longer, ticks are skipped.
const GA_EXTRA = { maxPerRun: 8, minRuns: 4, afterS: 14 };

const scenarios: Scenario[] = [
  scenario(
    'http-json',
    '5xx burst',
    `every GET answers 503 for ${FAULT_S} s`,
    network({ kind: 'status', status: 503, body: '{"error":"unavailable"}' }),
    HTTP_JSON,
  ),
  scenario(
    'http-json',
    'throttling storm',
    `every GET answers 429 (Retry-After: 1) for ${FAULT_S} s`,
    network({ kind: 'status', status: 429, body: '{"error":"slow down"}', headers: { 'retry-after': '1' } }),
    HTTP_JSON,
  ),
  scenario(
    'http-json',
    'responses slower than the interval',
    `every answer takes 2.5 s (interval and run deadline 1 s) for ${FAULT_S} s`,
    network({ kind: 'slow', ms: 2500 }),
    HTTP_JSON,
    SLOW,
  ),
  scenario(
    'http-json',
    'connection resets',
    `every connection reset before an answer for ${FAULT_S} s`,
    network({ kind: 'reset' }),
    HTTP_JSON,
  ),
  scenario(
    'http-json',
    'truncated bodies',
    `every body cut in half, then the connection reset, for ${FAULT_S} s`,
    network({ kind: 'truncate' }),
    HTTP_JSON,
  ),
  scenario(
    'http-json',
    'malformed bodies',
    `every body is half a JSON document for ${FAULT_S} s`,
    network({ kind: 'malformed' }),
    HTTP_JSON,
  ),
  scenario(
    'github',
    'throttling storm',
    `the fake's secondary rate limit: 403 with retry-after ${FAULT_S + 1} s`,
    (_, fake: GitHubFake) => ({ begin: () => fake.secondaryLimit({ retryAfter: FAULT_S + 1 }), end: () => fake.clearSecondaryLimit() }),
    GITHUB,
  ),
  scenario(
    'github',
    '5xx burst',
    `every request answers 502 for ${FAULT_S} s`,
    network({ kind: 'status', status: 502, body: '{"message":"Server Error"}' }),
    GITHUB,
  ),
  scenario('github', 'connection resets', `every connection reset for ${FAULT_S} s`, network({ kind: 'reset' }), GITHUB),
  scenario('github', 'truncated bodies', `every body cut in half for ${FAULT_S} s`, network({ kind: 'truncate' }), GITHUB),
  scenario(
    'cloudwatch',
    'throttling storm',
    `every call answers Throttling "Rate exceeded" (400, as the fake and CloudWatch do) for ${FAULT_S} s; interval 3 s`,
    network({
      kind: 'status',
      status: 400,
      body: '{"__type":"com.amazon.coral.availability#ThrottlingException","message":"Rate exceeded"}',
      headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-query-error': 'Throttling;Sender' },
    }),
    CLOUDWATCH,
    // After throttles the SDK's adaptive retry mode sends at 0.5 requests/s, and its waits for a send token ignore
    // the run's deadline: at a 1 s interval, calls of aborted runs queue up for tokens faster than they come, and
    // the job may not recover for a long time. At 3 s (CloudWatch jobs run every minute or five) it does.
    { maxPerRun: 5, afterS: 16, minRuns: 5, options: { interval: 3 } },
  ),
  scenario(
    'cloudwatch',
    '5xx burst',
    'the fake answers 12 GetMetricData calls in a row with 500 InternalServiceFault',
    (_, fake: CloudWatchFake) => ({ begin: () => fake.failNext(12, 'GetMetricData', 500), end: () => undefined }),
    CLOUDWATCH,
    { maxPerRun: 5 },
  ),
  scenario(
    'cloudwatch',
    'responses slower than the interval',
    `every answer takes 2.5 s (interval and run deadline 1 s) for ${FAULT_S} s`,
    network({ kind: 'slow', ms: 2500 }),
    CLOUDWATCH,
    { ...SLOW, maxPerRun: 5 },
  ),
  scenario('cloudwatch', 'connection resets', `every connection reset for ${FAULT_S} s`, network({ kind: 'reset' }), CLOUDWATCH, {
    maxPerRun: 5,
  }),
  scenario(
    'cloudwatch',
    'malformed bodies',
    `every answer is half a JSON document for ${FAULT_S} s`,
    network({ kind: 'malformed' }),
    CLOUDWATCH,
    { maxPerRun: 5 },
  ),
  scenario(
    'cloudwatch',
    'pages missing mid-pagination',
    `GetMetricData answers 15 values in pages of 4; every request for a later page (NextToken) is reset for ${FAULT_S} s`,
    network((request) => (request.body.includes('NextToken') ? { kind: 'reset' } : undefined)),
    CLOUDWATCH,
    { maxPerRun: 12, options: { lookback: '15m', delay: 0 }, prepare: (fake) => (fake.datapointsPerPage = 4) },
  ),
  scenario(
    'google-analytics',
    'throttling storm',
    `every request answers 429 RESOURCE_EXHAUSTED "Exhausted concurrent requests quota." for ${FAULT_S} s`,
    network({
      kind: 'status',
      status: 429,
      body: '{"error":{"code":429,"message":"Exhausted concurrent requests quota.","status":"RESOURCE_EXHAUSTED"}}',
    }),
    GA,
    GA_EXTRA,
  ),
  scenario(
    'google-analytics',
    '5xx burst',
    'the fake answers 6 requests in a row with 500 INTERNAL',
    (_, fake: Ga4Fake) => ({ begin: () => void fake.fail({ status: 500, times: 6 }), end: () => undefined }),
    GA,
    GA_EXTRA,
  ),
  scenario(
    'google-analytics',
    'responses slower than the interval',
    `every answer takes 2.5 s for ${FAULT_S} s (run deadline 10 s, interval 1 s)`,
    network({ kind: 'slow', ms: 2500 }),
    GA,
    GA_EXTRA,
  ),
  scenario('google-analytics', 'connection resets', `every connection reset for ${FAULT_S} s`, network({ kind: 'reset' }), GA, GA_EXTRA),
  scenario(
    'google-analytics',
    'malformed bodies',
    `every answer is half a JSON document for ${FAULT_S} s`,
    network({ kind: 'malformed' }),
    GA,
    GA_EXTRA,
  ),
  scenario(
    'google-analytics',
    'pages missing mid-pagination',
    `reports answer 6 rows in pages of 2; every request for a later page (offset) is reset for ${FAULT_S} s`,
    network((request) => (/"offset"/.test(request.body) ? { kind: 'reset' } : undefined)),
    GA,
    GA_EXTRA,
  ),
];

/** Every poller through its fake while an API fault lasts (AWS credentials: see reliability.test.ts). */
export function sourceFaults(): void {
  describe('source API faults: the loop stays alive, runs never overlap, no request storm, errors counted', () => {
    // Every scenario at once (each has its own fake, proxy and job): the file takes as long as the longest one.
    const results = new Map<Scenario, Measured>();
    beforeAll(async () => {
      await Promise.all(scenarios.map(async (s) => results.set(s, await run(s))));
    }, 240_000);

    for (const scenario of scenarios)
      it(`${scenario.poller}: ${scenario.fault}`, ({ task }) => {
        const m = results.get(scenario)!;
        const faulty = m.requests.filter((r) => r.fault).length;
        const gaps =
          m.retryGaps.length > 0 ? `; gaps between a run's requests ${Math.min(...m.retryGaps)}–${Math.max(...m.retryGaps)} ms` : '';
        const counters = Object.entries(m.counters)
          .filter(([, v]) => v > 0)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ');
        const seconds = BEFORE_S + FAULT_S + (scenario.afterS ?? AFTER_S);
        report(
          {
            section: 'Source APIs',
            fault: `${scenario.poller}: ${scenario.fault}`,
            injected: scenario.injected,
            expected:
              `runs for ${seconds} s at ${scenario.interval ?? 1} s, never 2 at once, ` +
              `≤ ${scenario.maxPerRun} request${scenario.maxPerRun > 1 ? 's' : ''} per run, ` +
              `errors self-metric = failed runs, points again after`,
            observed:
              `${m.runs} runs, at most ${m.maxInFlight} at once; ${m.requests.length} requests ` +
              `(${faulty} faulted by the proxy), ≤ ${m.maxPerRun} per run${gaps}; ` +
              `${m.errors} failed = errors ${m.failedRuns}${counters ? ` (${counters})` : ''}; ` +
              `points again ${m.recoveredAfterS?.toFixed(1) ?? 'never'} s after the fault`,
          },
          task,
        );
        // One run a second in real time: exact under npm run reliability; under npm test, on a shared 2-core host where
        // every scenario's poller shares this event loop, half of it still shows the loop alive.
        const minRuns = scenario.minRuns ?? seconds - 3;
        expect(m.runs).toBeGreaterThanOrEqual(choose(Math.ceil(minRuns / 2), minRuns));
        expect(m.maxInFlight).toBe(1);
        expect(m.maxPerRun).toBeLessThanOrEqual(scenario.maxPerRun);
        // The fault reached the poller: runs failed, or its own retries absorbed it, or slow runs skipped ticks.
        expect(m.errors + (m.counters.retries ?? 0) + (m.counters.throttles ?? 0) + (m.counters.skipped_ticks ?? 0)).toBeGreaterThan(0);
        expect(m.failedRuns).toBe(m.errors);
        expect(m.pointsAfter).toBeGreaterThan(0);
      });
  });
}
