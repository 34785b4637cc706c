// The prometheus poller against a fake API answering the real API's shapes: mapping, values, errors, limits, auth.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../lib/poller-kit/config-error.ts';
import { createLogger } from '../../lib/poller-kit/logger.ts';
import { formatPath } from '../../lib/graphite/metric-path.ts';
import type { JobSchedule } from '../../lib/poller-kit/contract.ts';
import { createPrometheusPoller, prometheusOptions } from '../../pollers/prometheus.ts';
import { planOf } from '../../pollers/prometheus/plan.ts';
import { formatPlan } from '../../lib/cli/plan-format.ts';

const planLines = (...args: Parameters<typeof planOf>) => formatPlan(planOf(...args));
import { parseAnswer, sampleValue } from '../../pollers/prometheus/response.ts';
import { testContext } from '../helpers/capture-sink.ts';
import { TestHttpServer } from '../helpers/http-server.ts';

const T0 = 1_796_169_600;
const STEP = 15;
const window = { start: T0, end: T0 + 4 * STEP };
const schedule: JobSchedule = { interval: STEP, delay: 0, lookback: 0 };

interface Received {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  form: Record<string, string>;
}

/** A fake /api/v1/query_range: answers by PromQL expression, records every request's form. */
class FakePrometheus {
  readonly received: Received[] = [];
  /** The answer (status, body) for a query; unknown queries get an empty matrix. */
  answers = new Map<string, { status: number; body: unknown } | ((form: Record<string, string>, response: ServerResponse) => void)>();
  readonly server: TestHttpServer;

  private constructor(server: TestHttpServer) {
    this.server = server;
  }

  static async start(): Promise<FakePrometheus> {
    const holder: { fake?: FakePrometheus } = {};
    const server = await TestHttpServer.start(async (request, response) => {
      let text = '';
      for await (const chunk of request) text += String(chunk);
      const form = Object.fromEntries(new URLSearchParams(text));
      holder.fake!.received.push({ method: request.method ?? '', path: request.url ?? '', headers: request.headers, form });
      const answer = holder.fake!.answers.get(form.query ?? '') ?? { status: 200, body: matrix([]) };
      if (typeof answer === 'function') return answer(form, response);
      response.writeHead(answer.status, { 'content-type': 'application/json' });
      response.end(JSON.stringify(answer.body));
    });
    holder.fake = new FakePrometheus(server);
    return holder.fake;
  }

  get url(): string {
    return this.server.url;
  }
}

function matrix(result: unknown[], extra: Record<string, unknown> = {}) {
  return { status: 'success', data: { resultType: 'matrix', result }, ...extra };
}

/** Samples at the window's four steps. */
function values(...list: string[]): Array<[number, string]> {
  return list.map((v, i) => [T0 + i * STEP, v]);
}

let fake: FakePrometheus;
beforeEach(async () => {
  fake = await FakePrometheus.start();
});
afterEach(async () => {
  await fake.server.close();
});

function options(extra: Record<string, unknown> = {}) {
  return prometheusOptions.parse({ url: fake.url, queries: [{ name: 'up', query: 'up', path: '{name}.{label.instance}' }], ...extra });
}

function logLines() {
  const lines: string[] = [];
  return { lines, log: createLogger({ write: (line) => lines.push(line), secrets: [], level: 'debug' }) };
}

describe('prometheus poll', () => {
  it('sends one POST query_range per query with step = interval, start and end aligned inside the window', async () => {
    const poller = createPrometheusPoller();
    const ctx = testContext({ options: options(), window, schedule });
    await poller.poll(ctx);
    expect(fake.received).toHaveLength(1);
    const [request] = fake.received;
    expect(request!.method).toBe('POST');
    expect(request!.path).toBe('/api/v1/query_range');
    expect(request!.form).toEqual({ query: 'up', start: String(T0), end: String(T0 + 3 * STEP), step: '15', timeout: '30' });
    expect(ctx.stats.counters.api_calls).toBe(1);
  });

  it("keeps a path under the url (Mimir's /prometheus) and sends partial_response when set", async () => {
    const poller = createPrometheusPoller();
    await poller.poll(testContext({ options: options({ url: `${fake.url}/prometheus/`, partialResponse: false }), window, schedule }));
    expect(fake.received[0]!.path).toBe('/prometheus/api/v1/query_range');
    expect(fake.received[0]!.form.partial_response).toBe('false');
  });

  it('maps a matrix to one path per series, each label value one node, timestamps the evaluation times', async () => {
    const long = 'x'.repeat(1000);
    fake.answers.set('up', {
      status: 200,
      body: matrix([
        { metric: { __name__: 'up', instance: '10.0.0.1:9100' }, values: values('1', '1', '0', '1') },
        { metric: { __name__: 'up', instance: 'a.b c\nd\r\ne' }, values: values('2', '2', '2', '2') },
        { metric: { __name__: 'up', instance: long }, values: values('3', '3', '3', '3') },
        { metric: { __name__: 'up', instance: 'x 0 0\nevil.metric 1 0' }, values: values('4', '4', '4', '4') },
      ]),
    });
    const poller = createPrometheusPoller();
    const ctx = testContext({ options: options(), window, schedule });
    await poller.poll(ctx);
    const written = ctx.sink.points.map((p) => ({ path: formatPath(p.nodes!), value: p.value, timestamp: p.timestamp }));
    const paths = [...new Set(written.map((p) => p.path))];
    // Three nodes each: prefix, name, the instance — dots, spaces and newlines in a value never add a node or a line.
    for (const path of paths) {
      expect(path.split('.'), path).toHaveLength(3);
      expect(path).toMatch(/^[\p{L}\p{N}_.-]+$/u);
    }
    expect(paths).toContain('prometheus.up.10_0_0_1_9100');
    expect(paths).toContain('prometheus.up.a_b_c_d_e');
    expect(paths).toContain('prometheus.up.x_0_0_evil_metric_1_0');
    const longPath = paths.find((p) => p.startsWith('prometheus.up.xxx'))!;
    expect(Buffer.byteLength(longPath.split('.')[2]!)).toBeLessThanOrEqual(120);
    expect(written.filter((p) => p.path === 'prometheus.up.10_0_0_1_9100').map((p) => [p.timestamp, p.value])).toEqual([
      [T0, 1],
      [T0 + 15, 1],
      [T0 + 30, 0],
      [T0 + 45, 1],
    ]);
    expect(ctx.sink.points).toHaveLength(16);
  });

  it('never sends NaN, +Inf, -Inf or stale markers (NaN on the wire); counts them', async () => {
    fake.answers.set('up', {
      status: 200,
      body: matrix([
        { metric: { instance: 'a' }, values: values('NaN', '+Inf', '-Inf', '7.5') },
        { metric: { instance: 'b' }, values: values('1e3', 'Inf', 'nan', '-0') },
      ]),
    });
    const poller = createPrometheusPoller();
    const ctx = testContext({ options: options(), window, schedule });
    await poller.poll(ctx);
    expect(ctx.sink.series()).toEqual({
      'prometheus.up.a': [[T0 + 45, 7.5]],
      'prometheus.up.b': [
        [T0, 1000],
        [T0 + 45, -0],
      ],
    });
    expect(ctx.stats.counters['prometheus.non_finite']).toBe(5);
  });

  it('handles vector and scalar answers (compatible servers), and refuses a string result', async () => {
    const vector = { resultType: 'vector', result: [{ metric: { instance: 'a' }, value: [T0 + 15, '5'] }] };
    fake.answers.set('v', { status: 200, body: { status: 'success', data: vector } });
    fake.answers.set('s', { status: 200, body: { status: 'success', data: { resultType: 'scalar', result: [T0 + 30, '6'] } } });
    fake.answers.set('str', { status: 200, body: { status: 'success', data: { resultType: 'string', result: [T0, 'hello'] } } });
    const queries = [
      { name: 'v', query: 'v', path: '{name}.{label.instance}' },
      { name: 's', query: 's' },
      { name: 'str', query: 'str' },
    ];
    const poller = createPrometheusPoller();
    const ctx = testContext({ options: options({ queries }), window, schedule });
    await expect(poller.poll(ctx)).rejects.toThrow(/1 of 3 queries failed: query str: .*"string"/);
    expect(ctx.sink.series()).toEqual({ 'prometheus.v.a': [[T0 + 15, 5]], 'prometheus.s': [[T0 + 30, 6]] });
  });

  it("a query the server refuses (400 bad_data) fails its part with the API's message; the others deliver", async () => {
    fake.answers.set('good_a', { status: 200, body: matrix([{ metric: {}, values: values('1', '2', '3', '4') }]) });
    const refusal = { status: 'error', errorType: 'bad_data', error: '1:11: parse error: unclosed left parenthesis' };
    fake.answers.set('rate(x[5m]', { status: 400, body: refusal });
    fake.answers.set('good_b', { status: 200, body: matrix([{ metric: {}, values: values('5', '6', '7', '8') }]) });
    const queries = [
      { name: 'a', query: 'good_a' },
      { name: 'bad', query: 'rate(x[5m]' },
      { name: 'b', query: 'good_b' },
    ];
    const poller = createPrometheusPoller();
    const ctx = testContext({ options: options({ queries }), window, schedule });
    const error = await poller.poll(ctx).catch((e: unknown) => e as Error);
    expect(error).toBeInstanceOf(Error);
    expect(error!.message).toBe(
      '1 of 3 queries failed: query bad: the server answered 400 bad_data: 1:11: parse error: unclosed left parenthesis',
    );
    expect(Object.keys(ctx.sink.series()).sort()).toEqual(['prometheus.a', 'prometheus.b']);
    expect(ctx.sink.points).toHaveLength(8);
    expect(ctx.stats.counters['prometheus.failed_queries']).toBe(1);
    expect(ctx.stats.counters.parts_failed).toBe(1);
  });

  it('a server that is down fails with the cause named', async () => {
    const url = fake.url;
    await fake.server.close();
    const poller = createPrometheusPoller();
    const ctx = testContext({ options: prometheusOptions.parse({ url, queries: [{ name: 'up', query: 'up' }] }), window, schedule });
    await expect(poller.poll(ctx)).rejects.toThrow(/query up: POST http:\/\/127\.0\.0\.1:\d+\/api\/v1\/query_range failed: ECONNREFUSED/);
    fake = await FakePrometheus.start(); // for afterEach
  });

  it('a slow server: that query fails at its timeout, the fast one delivers', async () => {
    fake.answers.set('slow', () => {}); // never answers
    fake.answers.set('fast', { status: 200, body: matrix([{ metric: {}, values: values('1', '1', '1', '1') }]) });
    const queries = [
      { name: 'slow', query: 'slow' },
      { name: 'fast', query: 'fast' },
    ];
    const poller = createPrometheusPoller();
    const ctx = testContext({ options: options({ queries, timeout: 1 }), window, schedule });
    const started = Date.now();
    await expect(poller.poll(ctx)).rejects.toThrow(
      /1 of 2 queries failed: query slow: POST .* no complete answer within the timeout \(1 s\)/,
    );
    // Generous for a busy host: the deadline is 1 s, the point is that it is not the test's own timeout.
    expect(Date.now() - started).toBeLessThan(8000);
    expect(ctx.sink.series()).toEqual({ 'prometheus.fast': values('1', '1', '1', '1').map(([t]) => [t, 1]) });
  });

  it('an answer past maxResponseBytes fails its query', async () => {
    fake.answers.set('up', { status: 200, body: matrix([{ metric: { instance: 'a'.repeat(5000) }, values: values('1', '1', '1', '1') }]) });
    const poller = createPrometheusPoller();
    const ctx = testContext({ options: options({ maxResponseBytes: '1KiB' }), window, schedule });
    await expect(poller.poll(ctx)).rejects.toThrow(/larger than maxResponseBytes \(1 KiB\)/);
    expect(ctx.sink.points).toEqual([]);
  });

  it('an answer that is no Prometheus envelope (wrong url) is an error, not an empty result', async () => {
    fake.answers.set('up', { status: 200, body: { value: 1 } });
    const poller = createPrometheusPoller();
    await expect(poller.poll(testContext({ options: options(), window, schedule }))).rejects.toThrow(/without a Prometheus API envelope/);
  });

  it('sends the bearer token, or basic auth, and the custom headers; 401 is a ConfigError naming the field', async () => {
    const poller = createPrometheusPoller();
    const withToken = options({ bearerToken: 'tok-123', headers: { 'X-Scope-OrgID': 'tenant-1' } });
    await poller.poll(testContext({ options: withToken, window, schedule }));
    expect(fake.received[0]!.headers.authorization).toBe('Bearer tok-123');
    expect(fake.received[0]!.headers['x-scope-orgid']).toBe('tenant-1');
    await poller.poll(testContext({ options: options({ basicAuth: { username: 'reader', password: 'pa:ss' } }), window, schedule }));
    expect(fake.received[1]!.headers.authorization).toBe(`Basic ${Buffer.from('reader:pa:ss').toString('base64')}`);
    // An empty token (${PROMETHEUS_TOKEN:-} unset) sends none.
    await poller.poll(testContext({ options: options({ bearerToken: '' }), window, schedule }));
    expect(fake.received[2]!.headers.authorization).toBeUndefined();

    fake.answers.set('up', { status: 401, body: 'Unauthorized' });
    const refused = testContext({ options: options({ bearerToken: 'wrong-token' }), window, schedule });
    const error = await poller.poll(refused).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).where.field).toBe('bearerToken');
    expect((error as ConfigError).message).not.toContain('wrong-token');
  });

  it('logs a warning and an info once per poller, counts them on every poll', async () => {
    fake.answers.set('up', {
      status: 200,
      body: matrix([{ metric: { instance: 'a' }, values: values('1', '1', '1', '1') }], {
        warnings: ['No StoreAPIs matched for this query'],
        infos: ['PromQL info: metric might not be a counter'],
      }),
    });
    const poller = createPrometheusPoller();
    const { lines, log } = logLines();
    const first = testContext({ options: options(), window, schedule, log });
    await poller.poll(first);
    const second = testContext({ options: options(), window: { start: window.end, end: window.end + 60 }, schedule, log });
    await poller.poll(second);
    expect(lines.filter((l) => l.includes('No StoreAPIs matched'))).toHaveLength(1);
    expect(lines.filter((l) => l.includes('might not be a counter'))).toHaveLength(1);
    expect(first.stats.counters['prometheus.warnings']).toBe(1);
    expect(second.stats.counters['prometheus.warnings']).toBe(1);
    expect(second.stats.counters['prometheus.infos']).toBe(1);
    // The points still go: a warning does not lose the result.
    expect(second.sink.points).toHaveLength(0); // the fake's samples are in the first window only
    expect(first.sink.points).toHaveLength(4);
    // Another instance (another job) logs it again.
    const other = logLines();
    await createPrometheusPoller().poll(testContext({ options: options(), window, schedule, log: other.log }));
    expect(other.lines.filter((l) => l.includes('No StoreAPIs matched'))).toHaveLength(1);
  });

  it('caps the series per query (the first by labels, the same every window), counts and logs once', async () => {
    const series = ['d', 'b', 'a', 'c'].map((instance) => ({ metric: { instance }, values: values('1', '1', '1', '1') }));
    fake.answers.set('up', { status: 200, body: matrix(series) });
    const poller = createPrometheusPoller();
    const { lines, log } = logLines();
    const ctx = testContext({ options: options({ maxSeries: 2 }), window, schedule, log });
    await poller.poll(ctx);
    await poller.poll(ctx);
    expect(ctx.sink.paths()).toEqual(['prometheus.up.a', 'prometheus.up.b']);
    expect(ctx.stats.counters['prometheus.series_capped']).toBe(4);
    expect(lines.filter((l) => /only the first 2/.test(l))).toHaveLength(1);
    // A query's own maxSeries overrides the job's.
    const queries = [{ name: 'up', query: 'up', path: '{name}.{label.instance}', maxSeries: 3 }];
    const own = testContext({ options: options({ maxSeries: 2, queries }), window, schedule });
    await createPrometheusPoller().poll(own);
    expect(own.sink.paths()).toEqual(['prometheus.up.a', 'prometheus.up.b', 'prometheus.up.c']);
  });

  it('two series with the same path: the second is not sent, counted and named once', async () => {
    fake.answers.set('up', {
      status: 200,
      body: matrix([
        { metric: { instance: 'a.b', job: 'x' }, values: values('1', '1', '1', '1') },
        { metric: { instance: 'a b', job: 'y' }, values: values('2', '2', '2', '2') },
      ]),
    });
    const poller = createPrometheusPoller();
    const { lines, log } = logLines();
    const ctx = testContext({ options: options(), window, schedule, log });
    await poller.poll(ctx);
    // The first by labels is kept ("a b" sorts before "a.b"), the same one in every window.
    expect(ctx.sink.series()).toEqual({ 'prometheus.up.a b': values('2', '2', '2', '2').map(([t]) => [t, 2]) });
    expect(ctx.stats.counters['prometheus.path_collisions']).toBe(1);
    expect(lines.filter((l) => l.includes('same path prometheus.up.a_b'))).toHaveLength(1);
  });

  it('offers labels as tags (used with GRAPHITE_TAGS=1): all but __name__, or the listed ones', async () => {
    const series = { metric: { __name__: 'up', instance: 'a:1', job: 'node' }, values: values('1', '1', '1', '1') };
    fake.answers.set('up', { status: 200, body: matrix([series]) });
    const all = testContext({ options: options({ queries: [{ name: 'up', query: 'up', tags: true }] }), window, schedule });
    await createPrometheusPoller().poll(all);
    expect(all.sink.points[0]!.tags).toEqual({ instance: 'a:1', job: 'node' });
    expect(all.sink.points[0]!.path).toBe('prometheus.up');
    const some = testContext({ options: options({ queries: [{ name: 'up', query: 'up', tags: ['job'] }] }), window, schedule });
    await createPrometheusPoller().poll(some);
    expect(some.sink.points[0]!.tags).toEqual({ job: 'node' });
  });

  it('splits a window of more than 11,000 steps into requests Prometheus accepts', async () => {
    const poller = createPrometheusPoller();
    const ctx = testContext({ options: options(), window: { start: T0, end: T0 + 3 * 86400 }, schedule });
    await poller.poll(ctx);
    expect(fake.received.map((r) => [Number(r.form.start), Number(r.form.end)])).toEqual([
      [T0, T0 + 10_999 * 15],
      [T0 + 11_000 * 15, T0 + 17_279 * 15],
    ]);
  });
});

describe('prometheus options', () => {
  const base = { url: 'http://127.0.0.1:9090', queries: [{ name: 'up', query: 'up' }] };
  it('refuses unknown placeholders, label names Prometheus does not allow, and bad template text', () => {
    for (const path of ['{name}.{instance}', '{label.bad-name}', '{name}..x', '{name} x']) {
      const result = prometheusOptions.safeParse({ ...base, queries: [{ name: 'up', query: 'up', path }] });
      expect(result.success, path).toBe(false);
    }
    const path = 'svc.{label.job}_{label.__name__}.{name}';
    expect(prometheusOptions.safeParse({ ...base, queries: [{ name: 'up', query: 'up', path }] }).success).toBe(true);
  });
  it('refuses a token and basic auth together, two queries of one name, and credentials in the URL', () => {
    expect(prometheusOptions.safeParse({ ...base, bearerToken: 't', basicAuth: { username: 'u', password: 'p' } }).success).toBe(false);
    expect(prometheusOptions.safeParse({ ...base, queries: [base.queries[0], base.queries[0]] }).success).toBe(false);
    expect(prometheusOptions.safeParse({ ...base, url: 'http://u:p@host:9090' }).success).toBe(false);
  });
});

describe('prometheus response parsing', () => {
  it('reads values as the API writes them, refusing what is no finite number', () => {
    expect(sampleValue('42')).toBe(42);
    expect(sampleValue('1.5e-7')).toBe(1.5e-7);
    for (const text of ['NaN', '+Inf', '-Inf', 'Inf', '', ' 1', 'abc']) expect(sampleValue(text), text).toBeUndefined();
  });
  it("keeps the API's errorType and status; counts native histograms", () => {
    expect(() => parseAnswer({ status: 'error', errorType: 'execution', error: 'many-to-many matching not allowed' }, 422)).toThrow(
      '422 execution: many-to-many matching not allowed',
    );
    const data = { resultType: 'matrix', result: [{ metric: {}, histograms: [[T0, { count: '1' }]] }] };
    const answer = parseAnswer({ status: 'success', data }, 200);
    expect(answer.series[0]!.histograms).toBe(1);
  });
});

describe('prometheus --plan', () => {
  it('says requests per tick and per backfill day and points per request, against the limits', () => {
    const queries = ['a', 'b', 'c'].map((name) => ({ name, query: name }));
    const options = prometheusOptions.parse({ url: 'http://127.0.0.1:9090', queries });
    const lines = planLines(options, { interval: 15, delay: 0, lookback: 180 });
    expect(lines.slice(0, 3)).toEqual([
      '3 queries, step 15s (the interval), every 15s, window 3m',
      'requests: 3 requests per tick, 17,280 per day (query_range)',
      'datapoints: 12 per tick (per series of each query)',
    ]);
    expect(lines[3]).toBe(
      'backfill and catch-up: windows of 1d (maxWindow), 1 request(s) per query and window, 3 requests per backfill day, ' +
        'up to 5760 points per series per request',
    );
    expect(lines[4]).toMatch(/^limits: 11,000 points per series per request .* at maxSeries 1000, a request holds up to 5,760,000 samples/);
    const big = planLines({ ...options, maxWindow: 30 * 86400, maxSeries: 10_000 }, { interval: 5, delay: 0, lookback: 0 });
    expect(big[3]).toMatch(/windows of 30d \(maxWindow\), 48 request\(s\) per query and window, 5 requests per backfill day, up to 11000/);
    expect(big.some((l) => /^warning: over the limit: .*too many samples/.test(l))).toBe(true);
  });
});
