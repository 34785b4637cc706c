// The GA4 poller against the Data API fake, through the real @googleapis/analyticsdata client and a bearer token.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../lib/poller-kit/config-error.ts';
import { createLogger } from '../../lib/poller-kit/logger.ts';
import { formatPath } from '../../lib/graphite/metric-path.ts';
import type { TimeWindow } from '../../lib/poller-kit/contract.ts';
import { createGoogleAnalyticsPoller } from '../../pollers/google-analytics.ts';
import { fetchAllPages } from '../../pollers/google-analytics/pagination.ts';
import { Ga4Fake, MESSAGES, type FakeProperty, type SeedRow } from '../helpers/ga4-fake.ts';
import { testContext } from '../helpers/capture-sink.ts';
import { FakeClock } from '../helpers/fake-clock.ts';

const TOKEN = 'test-token';
const utc = (iso: string) => Date.parse(iso) / 1000;

/** `count` consecutive local hours from `first` (YYYYMMDDHH), each with `metrics(i)`. */
function hours(
  first: string,
  count: number,
  metrics: (i: number) => Record<string, number>,
  dimensions?: (i: number) => Record<string, string>,
): SeedRow[] {
  const start = Date.UTC(+first.slice(0, 4), +first.slice(4, 6) - 1, +first.slice(6, 8), +first.slice(8, 10));
  return Array.from({ length: count }, (_, i) => {
    const d = new Date(start + i * 3_600_000);
    const dateHour = d.toISOString().slice(0, 13).replace(/[-T]/g, '');
    return { dateHour, metrics: metrics(i), ...(dimensions ? { dimensions: dimensions(i) } : {}) };
  });
}

interface Harness {
  fake: Ga4Fake;
  poller: ReturnType<typeof createGoogleAnalyticsPoller>;
  clock: { now: number };
  sleeps: number[];
  logs: string[];
  run(
    input: Record<string, unknown>,
    how?: { window?: TimeWindow; mode?: 'live' | 'backfill'; interval?: number; signal?: AbortSignal },
  ): Promise<ReturnType<typeof testContext>>;
}

const fakes: Ga4Fake[] = [];
afterEach(async () => {
  await Promise.all(fakes.splice(0).map((f) => f.close()));
});

async function harness(
  properties: FakeProperty[],
  setup: {
    start?: string;
    latencyMs?: number;
    env?: NodeJS.ProcessEnv;
    basePath?: string;
    sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  } = {},
): Promise<Harness> {
  const clock = { now: Date.parse(setup.start ?? '2026-03-09T12:00:00Z') };
  const fake = await Ga4Fake.start({ now: () => clock.now, latencyMs: setup.latencyMs, basePath: setup.basePath });
  fakes.push(fake);
  for (const p of properties) fake.addProperty(p);
  const sleeps: number[] = [];
  const logs: string[] = [];
  const poller = createGoogleAnalyticsPoller({ env: setup.env ?? { GOOGLE_OAUTH_ACCESS_TOKEN: TOKEN, GA4_API_ROOT_URL: fake.url } });
  // The context's sleep: time moves by exactly the sleep, nothing really waits.
  const sleep =
    setup.sleep ??
    (async (ms: number) => {
      sleeps.push(ms);
      clock.now += ms;
    });
  const log = createLogger({ write: (line) => logs.push(line), secrets: [], format: 'text', level: 'debug', now: () => clock.now });
  return {
    fake,
    poller,
    clock,
    sleeps,
    logs,
    async run(input, how = {}) {
      const options = poller.options.parse(input);
      const end = Math.floor(clock.now / 60_000) * 60;
      const interval = how.interval ?? 60;
      const base = testContext({
        options,
        window: how.window ?? { start: end - interval, end },
        mode: how.mode ?? 'live',
        log,
        signal: how.signal,
        schedule: { interval, delay: 0, lookback: 0 },
      });
      const ctx = { ...base, now: () => clock.now, sleep };
      await poller.poll(ctx);
      return base;
    },
  };
}

// Tests of other matters count the rows GA answers: fill: none. The fill tests below use the default (0).
const report = (name: string, extra: Record<string, unknown> = {}) => ({
  name,
  metrics: ['sessions'],
  granularity: 'hour',
  fill: 'none',
  ...extra,
});

describe('wire format and the client', () => {
  it('sends POST /v1beta/properties/{id}:batchRunReports with a bearer token and the documented request shape', async () => {
    const h = await harness([{ id: '123', timeZone: 'America/New_York', rows: hours('2026030800', 24, (i) => ({ sessions: i })) }]);
    await h.run({ propertyId: 123, reports: [report('visits', { dimensions: [] })] });
    const [call] = h.fake.calls();
    expect(call).toMatchObject({
      method: 'batchRunReports',
      path: '/v1beta/properties/123:batchRunReports',
      authorization: `Bearer ${TOKEN}`,
      status: 200,
    });
    const request = (call!.body as { requests: Array<Record<string, unknown>> }).requests[0]!;
    expect(request).toMatchObject({
      dimensions: [{ name: 'dateHour' }],
      metrics: [{ name: 'sessions' }],
      limit: '10000',
      returnPropertyQuota: true,
    });
    expect(request.offset).toBeUndefined();
  });

  it('keeps a proxy path prefix of apiRoot', async () => {
    const h = await harness([{ id: '7', rows: hours('2026030800', 2, () => ({ sessions: 1 })) }], { basePath: '/ga' });
    const ctx = await h.run({ propertyId: '7', reports: [report('r')] });
    expect(h.fake.calls()[0]!.path).toBe('/ga/v1beta/properties/7:batchRunReports');
    expect(ctx.sink.points).toHaveLength(2);
  });

  it('the googleapis client itself does not retry POST on 503 or 429 (so the poller must)', async () => {
    const { analyticsdata, auth } = await import('@googleapis/analyticsdata');
    const h = await harness([{ id: '1', rows: [] }]);
    h.fake.fail({ status: 503 }).fail({ status: 429 });
    const client = new auth.OAuth2();
    client.setCredentials({ access_token: TOKEN });
    const api = analyticsdata({ version: 'v1beta', auth: client });
    const body = {
      requestBody: { metrics: [{ name: 'sessions' }], dateRanges: [{ startDate: 'today', endDate: 'today' }] },
      property: 'properties/1',
    };
    // Default options: the client's own retry setting is on.
    await expect(api.properties.runReport(body, { rootUrl: h.fake.url })).rejects.toMatchObject({ status: 503 });
    await expect(api.properties.runReport(body, { rootUrl: h.fake.url })).rejects.toMatchObject({ status: 429 });
    expect(h.fake.calls('runReport')).toHaveLength(2);
  });
});

describe('batching', () => {
  const rows = hours('2026030800', 3, () => ({ sessions: 1 }));
  it.each([
    [1, [1]],
    [5, [5]],
    [6, [5, 1]],
  ])('%i reports go out in batches of %j', async (count, sizes) => {
    const h = await harness([{ id: '1', timeZone: 'UTC', rows }]);
    const ctx = await h.run({ propertyId: 1, reports: Array.from({ length: count }, (_, i) => report(`r${i}`)) });
    const batches = h.fake.calls('batchRunReports');
    expect(batches.map((c) => (c.body as { requests: unknown[] }).requests.length)).toEqual(sizes);
    expect(ctx.stats.counters.api_calls).toBe(sizes.length);
    expect(ctx.sink.points).toHaveLength(count * 3);
  });
});

describe('pagination', () => {
  it('follows offset until rowCount, batching the later pages of several reports together', async () => {
    const rows = hours('2026030700', 25, (i) => ({ sessions: i + 1, screenPageViews: 2 * (i + 1) }));
    const h = await harness([{ id: '1', timeZone: 'UTC', rows }]);
    const ctx = await h.run(
      { propertyId: 1, pageSize: 10, reports: [report('a'), report('b', { metrics: ['screenPageViews'] })] },
      { mode: 'backfill', window: { start: utc('2026-03-07T00:00:00Z'), end: utc('2026-03-08T01:00:00Z') } },
    );
    const batches = h.fake
      .calls('batchRunReports')
      .map((c) => (c.body as { requests: Array<{ offset?: string }> }).requests.map((r) => r.offset ?? '0'));
    // First pages together, then offsets 10 and 20 of both reports: 4 pages in one batch.
    expect(batches).toEqual([
      ['0', '0'],
      ['10', '10', '20', '20'],
    ]);
    const series = ctx.sink.series();
    expect(series['ga4.1.a.sessions']).toHaveLength(25);
    expect(series['ga4.1.b.screenPageViews']).toHaveLength(25);
    expect(series['ga4.1.a.sessions']![24]).toEqual([utc('2026-03-08T00:00:00Z'), 25]);
  });

  it('pages on by the rows GA answered when it answers fewer than the limit asked', async () => {
    const rows = hours('2026030700', 25, (i) => ({ sessions: i + 1 }));
    // GA hands out 7 rows per answer although the poller asks for 10: rowCount still says 25.
    const h = await harness([{ id: '1', timeZone: 'UTC', rows, maxRowsPerAnswer: 7 }]);
    const ctx = await h.run(
      { propertyId: 1, pageSize: 10, reports: [report('a')] },
      { mode: 'backfill', window: { start: utc('2026-03-07T00:00:00Z'), end: utc('2026-03-08T01:00:00Z') } },
    );
    const offsets = h.fake
      .calls('batchRunReports')
      .map((c) => (c.body as { requests: Array<{ offset?: string }> }).requests.map((r) => r.offset ?? '0'));
    // The first answer shows GA's cap: the rest is asked 7 rows at a time, from where the rows received end.
    expect(offsets).toEqual([['0'], ['7', '14', '21']]);
    const points = ctx.sink.series()['ga4.1.a.sessions']!;
    expect(points.map((p) => p[1])).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
    expect(new Set(points.map((p) => p[0])).size).toBe(25);
  });

  it('treats an answer without rows and rowCount as no rows', async () => {
    const h = await harness([{ id: '1', timeZone: 'UTC', rows: [], metricTypes: { sessions: 'TYPE_INTEGER' } }]);
    const ctx = await h.run({ propertyId: 1, reports: [report('empty')] });
    const answer = h.fake.calls()[0]!;
    expect(answer.status).toBe(200);
    expect(ctx.sink.points).toEqual([]);
  });
});

describe('pagination: answers that do not add up fail their report with one line', () => {
  /** Pages answered by `answer(offset, limit)`, one report named r (and a sound one named ok, answered by 3 rows). */
  async function page(answer: (offset: number, limit: number) => { rows: number; rowCount: number }) {
    const emitted: Array<[string, number, number]> = [];
    const result = await fetchAllPages<string>({
      reports: ['r', 'ok'],
      pageSize: 10,
      request: (report, offset, limit) => ({ offset: String(offset), limit: String(limit), dimensions: [{ name: report }] }),
      fetchBatch: async (pages) =>
        pages.map((p) => {
          const limit = Number(p.request.limit);
          const { rows, rowCount } = p.report === 'ok' ? { rows: 3, rowCount: 3 } : answer(p.offset, limit);
          return { rows: Array.from({ length: rows }, () => ({})), ...(rowCount ? { rowCount } : {}) };
        }),
      onPage: async (p, response) => void emitted.push([p.report, p.offset, response.rows?.length ?? 0]),
    });
    return { result, emitted, error: (result.failures[0]?.error as Error | undefined)?.message };
  }

  it('no rows while rowCount says more remain', async () => {
    const { result, error } = await page((offset) =>
      offset === 0 ? { rows: 10, rowCount: 30 } : offset === 10 ? { rows: 0, rowCount: 30 } : { rows: 10, rowCount: 30 },
    );
    expect(error).toBe('GA answered no rows at offset 10 while its rowCount of 30 says more remain');
    expect(result.complete).toEqual(['ok']);
    expect(result.failures.map((f) => f.reports)).toEqual([['r']]);
  });

  it('a rowCount that changes between pages', async () => {
    const { result, error } = await page((offset) => ({ rows: 10, rowCount: offset === 0 ? 20 : 25 }));
    expect(error).toMatch(/^GA's rowCount changed from 20 to 25 between pages/);
    expect(result.complete).toEqual(['ok']);
  });

  it('rows past rowCount, or more rows than the limit', async () => {
    expect((await page(() => ({ rows: 10, rowCount: 5 }))).error).toBe('GA answered 10 rows, past its rowCount of 5');
    expect((await page((offset, limit) => ({ rows: offset === 0 ? limit : limit + 1, rowCount: 30 }))).error).toBe(
      'GA answered 11 rows at offset 10 for a limit of 10',
    );
  });

  it('asks again from where a short page ended, whatever page sizes GA mixes', async () => {
    const sizes = [4, 10, 1, 10, 10];
    let call = 0;
    const { result, emitted } = await page((offset, limit) => ({
      rows: Math.min(sizes[call++ % sizes.length]!, limit, 23 - offset),
      rowCount: 23,
    }));
    expect(result.failures).toEqual([]);
    const rows = emitted.filter(([report]) => report === 'r').sort((a, b) => a[1] - b[1]);
    // Every offset of 0..22 arrived exactly once.
    let next = 0;
    for (const [, offset, count] of rows) {
      expect(offset).toBe(next);
      next += count;
    }
    expect(next).toBe(23);
  });
});

describe('reports: time axis and ranges', () => {
  it('places hours of a New York property across the March DST switch', async () => {
    const rows = hours('2026030800', 5, (i) => ({ sessions: 10 + i })).filter((r) => r.dateHour !== '2026030802');
    const h = await harness([{ id: '1', timeZone: 'America/New_York', rows }]);
    const ctx = await h.run(
      { propertyId: 1, reports: [report('visits')] },
      { mode: 'backfill', window: { start: utc('2026-03-08T05:00:00Z'), end: utc('2026-03-09T05:00:00Z') } },
    );
    expect(ctx.sink.series()['ga4.1.visits.sessions']).toEqual([
      [utc('2026-03-08T05:00:00Z'), 10],
      [utc('2026-03-08T06:00:00Z'), 11],
      [utc('2026-03-08T07:00:00Z'), 13],
      [utc('2026-03-08T08:00:00Z'), 14],
    ]);
  });

  it('writes daily points at local midnight and asks GA for the property-zone dates of a backfill window', async () => {
    const rows = [...hours('2025123100', 48, () => ({ sessions: 1 })), ...hours('2026010200', 24, () => ({ sessions: 2 }))];
    const h = await harness([{ id: '1', timeZone: 'America/New_York', rows }]);
    const window = { start: utc('2026-01-01T05:00:00Z'), end: utc('2026-01-03T05:00:00Z') };
    const first = await h.run({ propertyId: 1, reports: [report('daily', { granularity: 'day' })] }, { mode: 'backfill', window });
    const second = await h.run({ propertyId: 1, reports: [report('daily', { granularity: 'day' })] }, { mode: 'backfill', window });
    const ranges = h.fake.calls().map((c) => (c.body as { requests: Array<{ dateRanges: unknown }> }).requests[0]!.dateRanges);
    // Before GA has named the zone the dates are widened; afterwards they are exactly the window's.
    expect(ranges[0]).toEqual([{ startDate: '2025-12-30', endDate: '2026-01-04' }]);
    expect(ranges[1]).toEqual([{ startDate: '2026-01-01', endDate: '2026-01-02' }]);
    const expected = [
      [utc('2026-01-01T05:00:00Z'), 24],
      [utc('2026-01-02T05:00:00Z'), 48],
    ];
    expect(first.sink.series()['ga4.1.daily.sessions']).toEqual(expected);
    expect(second.sink.series()['ga4.1.daily.sessions']).toEqual(expected);
  });

  it('re-fetches every hour overlapping the report lookback on live ticks', async () => {
    const rows = hours('2026030600', 4 * 24, (i) => ({ sessions: i }));
    const h = await harness([{ id: '1', timeZone: 'UTC', rows }], { start: '2026-03-09T12:00:30Z' });
    const ctx = await h.run({ propertyId: 1, reports: [report('r', { lookback: '6h' })] });
    const points = ctx.sink.series()['ga4.1.r.sessions']!;
    // Window end 12:00 (the tick): the hour starting then belongs to the next tick.
    expect(points.map((p) => p[0])).toEqual(Array.from({ length: 6 }, (_, i) => utc('2026-03-09T06:00:00Z') + i * 3600));
  });

  it('fetches a report at the first tick, then once `every` has passed', async () => {
    const h = await harness([{ id: '1', timeZone: 'UTC', rows: hours('2026030900', 12, () => ({ sessions: 1 })) }]);
    const input = { propertyId: 1, reports: [report('r', { every: '1h' })] };
    await h.run(input);
    h.clock.now += 60_000;
    await h.run(input);
    h.clock.now += 59 * 60_000;
    await h.run(input);
    expect(h.fake.calls('batchRunReports')).toHaveLength(2);
  });

  it('sends nothing for a backfill window in which no hour starts (catch-up of one tick)', async () => {
    const h = await harness([{ id: '1', timeZone: 'Asia/Kolkata', rows: hours('2026030900', 24, () => ({ sessions: 1 })) }]);
    const input = { propertyId: 1, reports: [report('r')] };
    await h.run(input, { mode: 'backfill', window: { start: utc('2026-03-09T00:00:00Z'), end: utc('2026-03-09T01:00:00Z') } });
    expect(h.fake.calls()).toHaveLength(1); // the zone is learned here
    const quiet = await h.run(input, {
      mode: 'backfill',
      window: { start: utc('2026-03-09T05:00:00Z'), end: utc('2026-03-09T05:01:00Z') },
    });
    expect(h.fake.calls()).toHaveLength(1);
    expect(quiet.sink.points).toEqual([]);
    // Kolkata hours start at :30 UTC.
    const busy = await h.run(input, { mode: 'backfill', window: { start: utc('2026-03-09T05:29:00Z'), end: utc('2026-03-09T05:31:00Z') } });
    expect(h.fake.calls()).toHaveLength(2);
    expect(busy.sink.series()['ga4.1.r.sessions']).toEqual([[utc('2026-03-09T05:30:00Z'), 1]]);
  });

  it('runs only reports in backfill mode (realtime has no history)', async () => {
    const now = Date.parse('2026-03-09T12:00:00Z') / 1000;
    const h = await harness([
      {
        id: '1',
        timeZone: 'UTC',
        rows: hours('2026030800', 2, () => ({ sessions: 1 })),
        realtime: [{ minute: now - 60, metrics: { activeUsers: 3 } }],
      },
    ]);
    await h.run(
      { propertyId: 1, realtime: [{ metrics: ['activeUsers'] }], reports: [report('r')] },
      { mode: 'backfill', window: { start: utc('2026-03-08T00:00:00Z'), end: utc('2026-03-09T00:00:00Z') } },
    );
    expect(h.fake.calls().map((c) => c.method)).toEqual(['batchRunReports']);
  });

  it('uses the timeZone option only when GA does not name the zone, and fails clearly without it', async () => {
    const rows = hours('2026030800', 24, () => ({ sessions: 1 }));
    const h = await harness([{ id: '1', timeZone: 'Asia/Tokyo', omitTimeZone: true, rows }]);
    const window = { start: utc('2026-03-07T15:00:00Z'), end: utc('2026-03-08T15:00:00Z') };
    await expect(h.run({ propertyId: 1, reports: [report('r')] }, { mode: 'backfill', window })).rejects.toThrow(
      /does not name the property's time zone.*set timeZone/,
    );
    const ctx = await h.run({ propertyId: 1, timeZone: 'Asia/Tokyo', reports: [report('r')] }, { mode: 'backfill', window });
    expect(ctx.sink.series()['ga4.1.r.sessions']![0]).toEqual([utc('2026-03-07T15:00:00Z'), 1]);
    expect(ctx.sink.points).toHaveLength(24);
  });

  it('answers the time zone of the property for date-only backfill bounds, asking GA once', async () => {
    const h = await harness([{ id: '55', timeZone: 'Europe/Berlin', rows: hours('2026030800', 1, () => ({ sessions: 1 })) }]);
    const options = h.poller.options.parse({ propertyId: 55, reports: [report('r')] });
    const context = { fetch: globalThis.fetch, signal: new AbortController().signal };
    expect(await h.poller.history!.timeZone!(options, context)).toBe('Europe/Berlin');
    expect(await h.poller.history!.timeZone!(options, context)).toBe('Europe/Berlin');
    expect(h.fake.calls('runReport')).toHaveLength(1);
    // The zone learned here makes the first backfill request exact.
    await h.run(
      { propertyId: 55, reports: [report('r')] },
      { mode: 'backfill', window: { start: utc('2026-02-28T23:00:00Z'), end: utc('2026-03-01T23:00:00Z') } },
    );
    expect((h.fake.calls('batchRunReports')[0]!.body as { requests: Array<{ dateRanges: unknown }> }).requests[0]!.dateRanges).toEqual([
      { startDate: '2026-03-01', endDate: '2026-03-01' },
    ]);
  });
});

describe('fill: hours and days without activity are 0, not gaps', () => {
  const filled = (extra: Record<string, unknown> = {}) => ({ name: 'visits', metrics: ['sessions'], granularity: 'hour', ...extra });
  const backfill = (start: string, end: string) => ({ mode: 'backfill' as const, window: { start: utc(start), end: utc(end) } });

  it('a quiet hour GA leaves out becomes 0 (the fake, like GA, omits the all-zero row)', async () => {
    const rows = hours('2026030900', 6, (i) => ({ sessions: i === 3 ? 0 : 10 + i }));
    const h = await harness([{ id: '1', timeZone: 'UTC', rows }]);
    const ctx = await h.run({ propertyId: 1, reports: [filled()] }, backfill('2026-03-09T00:00:00Z', '2026-03-09T06:00:00Z'));
    expect(ctx.sink.series()['ga4.1.visits.sessions']).toEqual([
      [utc('2026-03-09T00:00:00Z'), 10],
      [utc('2026-03-09T01:00:00Z'), 11],
      [utc('2026-03-09T02:00:00Z'), 12],
      [utc('2026-03-09T03:00:00Z'), 0],
      [utc('2026-03-09T04:00:00Z'), 14],
      [utc('2026-03-09T05:00:00Z'), 15],
    ]);
    expect(ctx.stats.counters.filled).toBe(1);
    expect(ctx.stats.counters.rows).toBe(5);
    // fill: none sends only what GA answered.
    const plain = await h.run(
      { propertyId: 1, reports: [filled({ fill: 'none' })] },
      backfill('2026-03-09T00:00:00Z', '2026-03-09T06:00:00Z'),
    );
    expect(plain.sink.series()['ga4.1.visits.sessions']).toHaveLength(5);
  });

  it('fills every metric of the report, and only hours that have ended (never the hour under way)', async () => {
    const rows = hours('2026030900', 10, (i) => ({ sessions: i + 1, screenPageViews: 2 }));
    const h = await harness([{ id: '1', timeZone: 'UTC', rows }], { start: '2026-03-09T12:30:00Z' });
    const ctx = await h.run({ propertyId: 1, reports: [filled({ metrics: ['sessions', 'screenPageViews'], lookback: '6h' })] });
    // Window end 12:30: hours 06–09 had rows, 10 and 11 had none and have ended, 12 is still under way.
    for (const metric of ['sessions', 'screenPageViews']) {
      const points = ctx.sink.series()[`ga4.1.visits.${metric}`]!;
      expect(points.map((p) => p[0])).toEqual(Array.from({ length: 6 }, (_, i) => utc('2026-03-09T06:00:00Z') + i * 3600));
      expect(points.slice(4).map((p) => p[1])).toEqual([0, 0]);
    }
  });

  it('a report with dimensions fills the values seen in the answer and in earlier windows of the job, not others', async () => {
    const rows = [
      ...hours(
        '2026030800',
        24,
        () => ({ sessions: 5 }),
        () => ({ country: 'Japan' }),
      ),
      ...hours(
        '2026030810',
        1,
        () => ({ sessions: 7 }),
        () => ({ country: 'Chile' }),
      ),
      ...hours(
        '2026030900',
        6,
        (i) => ({ sessions: i === 2 ? 3 : 0 }),
        () => ({ country: 'Japan' }),
      ),
      ...hours(
        '2026030900',
        6,
        () => ({ sessions: 0 }),
        () => ({ country: 'Peru' }),
      ),
    ];
    const h = await harness([{ id: '1', timeZone: 'UTC', rows }]);
    const input = { propertyId: 1, reports: [filled({ dimensions: ['country'] })] };
    const first = await h.run(input, backfill('2026-03-08T00:00:00Z', '2026-03-09T00:00:00Z'));
    // Chile had one busy hour: the other 23 of its day are 0.
    expect(
      first.sink
        .series()
        ['ga4.1.visits.Chile.sessions']!.map((p) => p[1])
        .filter((v) => v === 0),
    ).toHaveLength(23);
    const second = await h.run(input, backfill('2026-03-09T00:00:00Z', '2026-03-09T06:00:00Z'));
    const series = second.sink.series();
    expect(series['ga4.1.visits.Japan.sessions']!.map((p) => p[1])).toEqual([0, 0, 3, 0, 0, 0]);
    // No row for Chile in this window: it is remembered from the day before.
    expect(series['ga4.1.visits.Chile.sessions']!.map((p) => p[1])).toEqual([0, 0, 0, 0, 0, 0]);
    // Peru never had a row GA answered: nothing is invented for it.
    expect(Object.keys(series).sort()).toEqual(['ga4.1.visits.Chile.sessions', 'ga4.1.visits.Japan.sessions']);
  });

  it('follows the property zone across DST: 23 hours on the March day, 24 in November (the repeated hour is one dateHour)', async () => {
    const march = hours('2026030800', 24, (i) => ({ sessions: i === 5 ? 4 : 0 }));
    const november = hours('2026110100', 24, (i) => ({ sessions: i === 1 ? 9 : 0 }));
    const h = await harness([{ id: '1', timeZone: 'America/New_York', rows: [...march, ...november] }], { start: '2026-11-05T00:00:00Z' });
    const spring = (
      await h.run({ propertyId: 1, reports: [filled()] }, backfill('2026-03-08T05:00:00Z', '2026-03-09T04:00:00Z'))
    ).sink.series()['ga4.1.visits.sessions']!;
    expect(spring).toHaveLength(23);
    // 01:00 EST is 06:00Z, the next hour is 03:00 EDT, 07:00Z: no point for the 02:00 that did not happen.
    expect(spring.slice(0, 3).map((p) => p[0])).toEqual([
      utc('2026-03-08T05:00:00Z'),
      utc('2026-03-08T06:00:00Z'),
      utc('2026-03-08T07:00:00Z'),
    ]);
    expect(spring.filter((p) => p[1] !== 0)).toEqual([[utc('2026-03-08T09:00:00Z'), 4]]);

    const autumn = (
      await h.run({ propertyId: 1, reports: [filled()] }, backfill('2026-11-01T04:00:00Z', '2026-11-02T05:00:00Z'))
    ).sink.series()['ga4.1.visits.sessions']!;
    expect(autumn).toHaveLength(24);
    // GA's dateHour 2026110101 is placed at the first 01:00 (EDT, 05:00Z); the second (EST, 06:00Z) gets no 0 over it.
    expect(autumn.find((p) => p[0] === utc('2026-11-01T05:00:00Z'))).toEqual([utc('2026-11-01T05:00:00Z'), 9]);
    expect(autumn.some((p) => p[0] === utc('2026-11-01T06:00:00Z'))).toBe(false);
    expect(autumn[2]![0]).toBe(utc('2026-11-01T07:00:00Z'));
  });

  it('daily reports fill the days that have ended, at local midnight', async () => {
    const rows = hours('2026030500', 24, () => ({ sessions: 1 }));
    const h = await harness([{ id: '1', timeZone: 'Asia/Tokyo', rows }], { start: '2026-03-08T03:00:00Z' });
    const ctx = await h.run({ propertyId: 1, reports: [filled({ granularity: 'day', lookback: '3d' })] });
    // Now is 12:00 in Tokyo on the 8th: the 5th (busy), 6th and 7th (quiet) have ended, the 8th has not.
    expect(ctx.sink.series()['ga4.1.visits.sessions']).toEqual([
      [utc('2026-03-04T15:00:00Z'), 24],
      [utc('2026-03-05T15:00:00Z'), 0],
      [utc('2026-03-06T15:00:00Z'), 0],
    ]);
  });

  it('does not fill a report GA thresholds (a missing row may be a withheld one)', async () => {
    const rows = hours('2026030900', 6, (i) => ({ sessions: i === 3 ? 0 : 1 }));
    const h = await harness([{ id: '1', timeZone: 'UTC', rows, subjectToThresholding: true }]);
    const thresholded = await h.run({ propertyId: 1, reports: [filled()] }, backfill('2026-03-09T00:00:00Z', '2026-03-09T06:00:00Z'));
    expect(thresholded.sink.points).toHaveLength(5);
  });
});

describe('realtime', () => {
  it('puts each minutesAgo at the start of its own minute, counted from the clock', async () => {
    const start = '2026-03-09T12:00:30Z';
    const minute = utc('2026-03-09T12:00:00Z');
    const realtime = [0, 1, 5, 29, 31].map((ago) => ({
      minute: minute - ago * 60,
      dimensions: { country: 'Japan' },
      metrics: { activeUsers: 100 + ago },
    }));
    const h = await harness([{ id: '9', realtime }], { start });
    const ctx = await h.run({ propertyId: 9, realtime: [{ metrics: ['activeUsers'], dimensions: ['country'] }] });
    expect(ctx.sink.series()).toEqual({
      'ga4.9.realtime.Japan.activeUsers': [
        [minute - 29 * 60, 129],
        [minute - 5 * 60, 105],
        [minute - 60, 101],
        [minute, 100],
      ],
    });
    const body = h.fake.calls('runRealtimeReport')[0]!.body!;
    expect(body).toMatchObject({
      dimensions: [{ name: 'minutesAgo' }, { name: 'country' }],
      minuteRanges: [{ startMinutesAgo: 29, endMinutesAgo: 0 }],
      returnPropertyQuota: true,
    });
    expect(ctx.stats.gauges['quota.realtime.tokens_per_hour_remaining']).toBe(40_000 - 2);
  });

  it('keeps hostile dimension values (page titles) inside one path node', async () => {
    const minute = utc('2026-03-09T12:00:00Z');
    const titles = ['Home\nga4.evil 1 0', 'Pricing. Plans & more', '..', ''];
    const realtime = titles.map((title, i) => ({ minute, dimensions: { unifiedScreenName: title }, metrics: { screenPageViews: i + 1 } }));
    const h = await harness([{ id: '9', realtime }]);
    const ctx = await h.run({
      propertyId: 9,
      realtime: [
        { metrics: ['screenPageViews'], dimensions: ['unifiedScreenName'] },
        { metrics: ['screenPageViews'], dimensions: ['unifiedScreenName'], path: 'site.{unifiedScreenName}.views' },
      ],
    });
    for (const point of ctx.sink.points) {
      expect(point.nodes).toBeDefined();
      const dotted = formatPath(point.nodes!);
      expect(dotted.split('.')).toHaveLength(point.nodes!.length);
      expect(dotted).not.toMatch(/\s/);
    }
    const nodes = ctx.sink.points.map((p) => p.nodes!);
    expect(nodes).toContainEqual(['ga4', '9', 'realtime', 'Home\nga4.evil 1 0', 'screenPageViews']);
    expect(nodes).toContainEqual(['site', 'Pricing. Plans & more', 'views']);
    expect(formatPath(['site', 'Pricing. Plans & more', 'views'])).toBe('site.Pricing_Plans_more.views');
  });

  it('logs (other) rows and thresholding once per report, and keeps the rows', async () => {
    const rows = hours(
      '2026030900',
      2,
      () => ({ sessions: 1 }),
      (i) => ({ country: i ? '(other)' : 'Japan' }),
    );
    const h = await harness([{ id: '1', timeZone: 'UTC', rows, subjectToThresholding: true, dataLossFromOtherRow: true }]);
    const input = { propertyId: 1, reports: [report('geo', { dimensions: ['country'], every: '1m' })] };
    const first = await h.run(input);
    h.clock.now += 60_000;
    await h.run(input);
    expect(first.sink.paths()).toEqual(['ga4.1.geo.(other).sessions', 'ga4.1.geo.Japan.sessions']);
    expect(h.logs.filter((l) => l.includes('"(other)"'))).toHaveLength(1);
    expect(h.logs.filter((l) => l.includes('thresholding'))).toHaveLength(1);
  });
});

describe('quota', () => {
  it('writes the remaining tokens per hour and per day as gauges', async () => {
    const h = await harness([{ id: '1', timeZone: 'UTC', rows: hours('2026030900', 2, () => ({ sessions: 1 })) }]);
    const ctx = await h.run({ propertyId: 1, reports: [report('a'), report('b')] });
    expect(ctx.stats.gauges).toMatchObject({
      'quota.tokens_per_hour_remaining': 40_000 - 10,
      'quota.tokens_per_day_remaining': 200_000 - 10,
    });
    expect(ctx.stats.counters['quota.tokens_consumed']).toBe(10);
  });

  it('waits for the next hour after 429 RESOURCE_EXHAUSTED in a backfill, then succeeds', async () => {
    const h = await harness([{ id: '1', timeZone: 'UTC', rows: hours('2026030800', 2, () => ({ sessions: 1 })) }], {
      start: '2026-03-09T12:20:00Z',
    });
    h.fake.exhaust('1', 'hour');
    const ctx = await h.run(
      { propertyId: 1, reports: [report('r')] },
      { mode: 'backfill', window: { start: utc('2026-03-08T00:00:00Z'), end: utc('2026-03-09T00:00:00Z') } },
    );
    expect(h.sleeps).toEqual([40 * 60_000]);
    expect(h.fake.calls().map((c) => c.status)).toEqual([429, 200]);
    expect(ctx.sink.points).toHaveLength(2);
    expect(ctx.stats.counters).toMatchObject({ throttles: 1, quota_waits: 1, api_calls: 2 });
  });

  it('waits for midnight Pacific when the daily tokens are gone, if maxQuotaWait allows', async () => {
    const h = await harness([{ id: '1', timeZone: 'UTC', rows: hours('2026030800', 2, () => ({ sessions: 1 })) }], {
      start: '2026-03-09T12:00:00Z',
    });
    h.fake.exhaust('1', 'day');
    const backfill = { mode: 'backfill' as const, window: { start: utc('2026-03-08T00:00:00Z'), end: utc('2026-03-09T00:00:00Z') } };
    await expect(h.run({ propertyId: 1, reports: [report('r')] }, backfill)).rejects.toThrow(
      /tokens per day.*until 2026-03-10T07:00:00Z.*maxQuotaWait is 1h/,
    );
    expect(h.sleeps).toEqual([]);
    const ctx = await h.run({ propertyId: 1, reports: [report('r')], maxQuotaWait: '24h' }, backfill);
    expect(h.sleeps).toEqual([Date.parse('2026-03-10T07:00:00Z') - Date.parse('2026-03-09T12:00:00Z')]);
    expect(ctx.sink.points).toHaveLength(2);
  });

  it('ends a live tick at once when the quota returns after its interval, and sends nothing until then', async () => {
    const h = await harness([{ id: '1', timeZone: 'UTC', rows: hours('2026030900', 2, () => ({ sessions: 1 })) }], {
      start: '2026-03-09T12:20:00Z',
    });
    h.fake.exhaust('1', 'hour');
    const input = { propertyId: 1, reports: [report('r', { every: '1m' })] };
    await expect(h.run(input)).rejects.toThrow(/tokens per hour.*until 2026-03-09T13:00:00Z.*a live tick waits at most its interval/);
    h.clock.now += 60_000;
    await expect(h.run(input)).rejects.toThrow(/not sent/);
    expect(h.fake.calls()).toHaveLength(1);
    expect(h.sleeps).toEqual([]);
    expect(h.logs.filter((l) => l.includes('GA quota exhausted'))).toHaveLength(1);
  });

  it("ends the wait with a clear error when the run's deadline passes", async () => {
    const controller = new AbortController();
    const h = await harness([{ id: '1', timeZone: 'UTC', rows: hours('2026030800', 2, () => ({ sessions: 1 })) }], {
      start: '2026-03-09T12:20:00Z',
      sleep: async () => controller.abort(),
    });
    h.fake.exhaust('1', 'hour');
    const run = h.run(
      { propertyId: 1, reports: [report('r')] },
      { mode: 'backfill', signal: controller.signal, window: { start: utc('2026-03-08T00:00:00Z'), end: utc('2026-03-09T00:00:00Z') } },
    );
    await expect(run).rejects.toThrow(/deadline passed while waiting for GA quota/);
    // The next run (a catch-up window inside a live tick, say) does not burn its deadline on the same wait.
    await expect(
      h.run(
        { propertyId: 1, reports: [report('r')] },
        { mode: 'backfill', window: { start: utc('2026-03-08T00:00:00Z'), end: utc('2026-03-09T00:00:00Z') } },
      ),
    ).rejects.toThrow(/not sent: .*an earlier run's deadline already cut a wait/);
    expect(h.fake.calls()).toHaveLength(1);
  });

  it("ends a quota wait longer than the run's deadline at the deadline, on the run's clock (480 s wait, 300 s deadline)", async () => {
    // The runner's clock and the run's 300 s deadline; the context's sleep ends when the run's signal aborts.
    const runClock = new FakeClock({ start: '2026-03-09T12:52:00Z' });
    const controller = new AbortController();
    void runClock.sleep(300_000).then(() => controller.abort(new Error('run deadline')));
    const h = await harness([{ id: '1', timeZone: 'UTC', rows: hours('2026030800', 2, () => ({ sessions: 1 })) }], {
      start: '2026-03-09T12:52:00Z',
      sleep: (ms) => runClock.sleep(ms, controller.signal),
    });
    h.fake.exhaust('1', 'hour');
    const window = { start: utc('2026-03-08T00:00:00Z'), end: utc('2026-03-09T00:00:00Z') };
    const run = h.run({ propertyId: 1, reports: [report('r')] }, { mode: 'backfill', signal: controller.signal, window });
    await expect(runClock.runUntilSettled(run)).rejects.toThrow(/deadline passed while waiting for GA quota/);
    // It asked to wait until 13:00 and stopped waiting at the deadline, not 180 s later.
    expect(runClock.sleepRequests.map((r) => r.ms)).toEqual([300_000, 480_000]);
    expect(runClock.now() - Date.parse('2026-03-09T12:52:00Z')).toBe(300_000);
    expect(h.fake.calls()).toHaveLength(1);
  });

  it('sends at most 10 requests to a property at once', async () => {
    const realtime = Array.from({ length: 14 }, () => ({ metrics: ['activeUsers'] }));
    const h = await harness([{ id: '1', realtime: [{ minute: utc('2026-03-09T11:59:00Z'), metrics: { activeUsers: 1 } }] }], {
      latencyMs: 40,
    });
    const ctx = await h.run({ propertyId: 1, realtime });
    expect(h.fake.maxInFlight.get('1')).toBe(10);
    expect(ctx.stats.counters.api_calls).toBe(14);
    expect(ctx.stats.counters.throttles).toBeUndefined();
  });
});

describe('server errors', () => {
  const property = () => ({ id: '1', timeZone: 'UTC', rows: hours('2026030800', 2, () => ({ sessions: 1 })) });
  const backfill = { mode: 'backfill' as const, window: { start: utc('2026-03-08T00:00:00Z'), end: utc('2026-03-09T00:00:00Z') } };

  it('retries 5xx with backoff and succeeds', async () => {
    const h = await harness([property()]);
    h.fake.fail({ status: 503 }).fail({ status: 500 });
    const ctx = await h.run({ propertyId: 1, reports: [report('r')] }, backfill);
    expect(h.sleeps).toEqual([2000, 4000]);
    expect(h.fake.calls().map((c) => c.status)).toEqual([503, 500, 200]);
    expect(ctx.sink.points).toHaveLength(2);
    expect(ctx.stats.counters).toMatchObject({ retries: 2, server_errors: 2, api_calls: 3 });
  });

  it('gives up after serverErrorRetries, quoting GA', async () => {
    const h = await harness([property()]);
    h.fake.fail({ status: 503, times: 5 });
    await expect(h.run({ propertyId: 1, reports: [report('r')], serverErrorRetries: 1 }, backfill)).rejects.toThrow(
      /HTTP 503 UNAVAILABLE: The service is currently unavailable\. \(after 1 retry\)/,
    );
    expect(h.fake.calls()).toHaveLength(2);
  });

  it('retries a refused connection like a server error, without spending the server-error budget', async () => {
    const h = await harness([property()]);
    const url = h.fake.url;
    await h.fake.close();
    fakes.splice(fakes.indexOf(h.fake), 1);
    const poller = createGoogleAnalyticsPoller({ env: { GOOGLE_OAUTH_ACCESS_TOKEN: TOKEN, GA4_API_ROOT_URL: url } });
    const options = poller.options.parse({ propertyId: 1, reports: [report('r')] });
    const ctx = testContext({ options, mode: 'backfill', window: backfill.window, sleep: async (ms) => void h.sleeps.push(ms) });
    await expect(poller.poll(ctx)).rejects.toThrow(/no answer from GA: .*ECONNREFUSED.*\(after 2 retries\)/);
    expect(h.sleeps).toEqual([2000, 4000]);
  });

  it('stops retrying once the hourly server-error budget is spent', async () => {
    const h = await harness([property()]);
    h.fake.fail({ status: 500, times: 100 });
    await expect(h.run({ propertyId: 1, reports: [report('r')], serverErrorRetries: 5 }, backfill)).rejects.toThrow(
      /not retried: 5 server errors/,
    );
    expect(h.fake.calls()).toHaveLength(5);
    await expect(h.run({ propertyId: 1, reports: [report('r')], serverErrorRetries: 5 }, backfill)).rejects.toThrow(/not retried/);
    expect(h.fake.calls()).toHaveLength(6);
  });
});

describe('errors GA reports', () => {
  it('403 PERMISSION_DENIED names the status and GA message', async () => {
    const h = await harness([{ id: '1', denied: true }]);
    await expect(h.run({ propertyId: 1, reports: [report('r')] })).rejects.toThrow(`HTTP 403 PERMISSION_DENIED: ${MESSAGES.permission}`);
  });

  it('400 INVALID_ARGUMENT quotes the field GA rejects', async () => {
    const h = await harness([{ id: '1', timeZone: 'UTC', rows: hours('2026030900', 1, () => ({ sessions: 1 })) }]);
    await expect(h.run({ propertyId: 1, reports: [report('r', { metrics: ['sesions'] })] })).rejects.toThrow(
      /batchRunReports \[r\]: HTTP 400 INVALID_ARGUMENT: Field sesions is not a valid metric/,
    );
  });

  it('401 for a wrong token says that tokens expire', async () => {
    const h = await harness([{ id: '1' }]);
    const poller = createGoogleAnalyticsPoller({ env: { GOOGLE_OAUTH_ACCESS_TOKEN: 'stale', GA4_API_ROOT_URL: h.fake.url } });
    const options = poller.options.parse({ propertyId: 1, realtime: [{ metrics: ['activeUsers'] }] });
    await expect(poller.poll(testContext({ options, window: { start: 0, end: 60 } }))).rejects.toThrow(
      /401 UNAUTHENTICATED.*expires after an hour/,
    );
  });

  it('names requests that failed for the same reason together, in one line', async () => {
    const h = await harness([{ id: '1', denied: true }]);
    const error = await h.run({ propertyId: 1, realtime: [{ metrics: ['activeUsers'] }], reports: [report('r')] }).catch((e: Error) => e);
    expect((error as Error).message).toBe(
      `2 GA requests failed: realtime[0], batchRunReports [r]: HTTP 403 PERMISSION_DENIED: ${MESSAGES.permission}`,
    );
    // Both failed requests are counted, as every poller counts the parts that failed.
    const end = Math.floor(h.clock.now / 60_000) * 60;
    const input = { propertyId: 1, realtime: [{ metrics: ['activeUsers'] }], reports: [report('r')] };
    const counted = testContext({ options: h.poller.options.parse(input), window: { start: end - 60, end } });
    await h.poller.poll({ ...counted, now: () => h.clock.now }).catch(() => {});
    expect(counted.stats.counters.parts_failed).toBe(2);
  });

  it('reports what did not fail: realtime points arrive when a report batch fails', async () => {
    const minute = utc('2026-03-09T12:00:00Z');
    const h = await harness([
      {
        id: '1',
        timeZone: 'UTC',
        rows: hours('2026030900', 1, () => ({ sessions: 1 })),
        realtime: [{ minute, metrics: { activeUsers: 2 } }],
      },
    ]);
    h.fake.fail({ status: 403, method: 'batchRunReports' });
    const options = h.poller.options.parse({ propertyId: 1, realtime: [{ metrics: ['activeUsers'] }], reports: [report('r')] });
    const ctx = testContext({ options, window: { start: minute - 60, end: minute }, now: minute * 1000 });
    await expect(h.poller.poll(ctx)).rejects.toThrow(/PERMISSION_DENIED/);
    expect(ctx.sink.paths()).toEqual(['ga4.1.realtime.activeUsers']);
  });
});

describe('configuration', () => {
  const base = { propertyId: '123', reports: [report('r')] };

  it('requires credentials, naming the field', async () => {
    const poller = createGoogleAnalyticsPoller({ env: {} });
    const ctx = testContext({ options: poller.options.parse(base), window: { start: 0, end: 60 } });
    const error = await poller.poll(ctx).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).describe()).toMatch(/^keyFile: no Google credentials: set keyFile .*GOOGLE_OAUTH_ACCESS_TOKEN/);
  });

  it('reports an unreadable or invalid key file as a ConfigError', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ga4-key-'));
    writeFileSync(join(dir, 'bad.json'), 'not json');
    writeFileSync(join(dir, 'partial.json'), JSON.stringify({ type: 'service_account' }));
    const poll = (options: Record<string, unknown>, env: NodeJS.ProcessEnv = {}) => {
      const poller = createGoogleAnalyticsPoller({ env });
      return poller.poll(testContext({ options: poller.options.parse({ ...base, ...options }), window: { start: 0, end: 60 } })).then(
        () => new ConfigError('expected a ConfigError'),
        (e: unknown) => e as ConfigError,
      );
    };
    expect((await poll({ keyFile: join(dir, 'missing.json') })).describe()).toMatch(
      /^keyFile: cannot read the key file .*missing\.json \(ENOENT\)/,
    );
    expect((await poll({ keyFile: join(dir, 'bad.json') })).describe()).toMatch(/^keyFile: the key file .* is not JSON/);
    expect((await poll({ keyFile: join(dir, 'partial.json') })).describe()).toMatch(/lacks client_email or private_key/);
    expect((await poll({}, { GOOGLE_APPLICATION_CREDENTIALS: join(dir, 'nope.json') })).describe()).toMatch(
      /^GOOGLE_APPLICATION_CREDENTIALS: cannot read/,
    );
  });

  it('signs in with a service account key: a JWT for the analytics.readonly scope, then the bearer token it buys', async () => {
    const { privateKey } = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
      publicKeyEncoding: { type: 'spki', format: 'pem' },
    });
    const dir = mkdtempSync(join(tmpdir(), 'ga4-sa-'));
    const keyFile = join(dir, 'key.json');
    writeFileSync(
      keyFile,
      JSON.stringify({
        type: 'service_account',
        client_email: 'poller@project.iam.gserviceaccount.com',
        private_key: privateKey,
        private_key_id: 'k1',
      }),
    );
    const fake = await Ga4Fake.start({ tokens: ['sa-token'] });
    fakes.push(fake);
    fake.addProperty({ id: '5', timeZone: 'UTC', rows: hours('2026030900', 1, () => ({ sessions: 7 })) });
    const grants: Array<Record<string, unknown>> = [];
    // Google's token endpoint, offline: the client's own token request goes through the run's fetch.
    const fetch: typeof globalThis.fetch = async (input, init) => {
      const url = input instanceof Request ? input.url : String(input);
      if (!url.startsWith('https://oauth2.googleapis.com/token')) return globalThis.fetch(input, init);
      const form = new URLSearchParams(String(init?.body));
      grants.push({
        grant_type: form.get('grant_type'),
        ...JSON.parse(Buffer.from(form.get('assertion')!.split('.')[1]!, 'base64url').toString()),
      });
      return new Response(JSON.stringify({ access_token: 'sa-token', expires_in: 3600, token_type: 'Bearer' }), {
        headers: { 'content-type': 'application/json' },
      });
    };
    const poller = createGoogleAnalyticsPoller({ env: { GA4_API_ROOT_URL: fake.url, GOOGLE_OAUTH_ACCESS_TOKEN: 'ignored: keyFile wins' } });
    const options = poller.options.parse({ propertyId: 5, keyFile, reports: [report('r')] });
    const ctx = testContext({
      options,
      window: { start: utc('2026-03-09T00:00:00Z'), end: utc('2026-03-09T01:00:00Z') },
      mode: 'backfill',
      fetch,
    });
    await poller.poll(ctx);
    expect(grants).toEqual([
      expect.objectContaining({
        grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
        iss: 'poller@project.iam.gserviceaccount.com',
        scope: 'https://www.googleapis.com/auth/analytics.readonly',
      }),
    ]);
    expect(fake.calls()[0]!.authorization).toBe('Bearer sa-token');
    expect(ctx.sink.points).toHaveLength(1);
  });

  it('validates options before any request', () => {
    const { options } = createGoogleAnalyticsPoller();
    const issue = (input: Record<string, unknown>) => {
      const result = options.safeParse(input);
      return result.success ? undefined : `${result.error.issues[0]!.path.join('.')}: ${result.error.issues[0]!.message}`;
    };
    expect(issue({ propertyId: '123' })).toBe('reports: configure at least one entry in realtime or reports');
    expect(issue({ propertyId: 'G-ABC123', reports: [report('r')] })).toMatch(/^propertyId: /);
    expect(issue({ ...base, reports: [report('r', { path: 'x.{pageTitle}.{metric}' })] })).toMatch(
      /^reports.0.path: unknown placeholder \{pageTitle\}/,
    );
    expect(issue({ ...base, reports: [report('r', { metrics: ['a', 'b'], path: 'x.y' })] })).toMatch(/needs \{metric\}/);
    expect(issue({ ...base, reports: [report('r', { dimensions: ['country'], path: 'x.{metric}' })] })).toMatch(
      /needs \{dimensions\} or \{country\}/,
    );
    expect(issue({ ...base, reports: [report('r', { dimensions: ['dateHour'] })] })).toMatch(/adds the time axis itself/);
    expect(issue({ ...base, reports: [report('r'), report('r')] })).toMatch(/duplicate report name/);
    expect(issue({ ...base, reports: [report('r', { granularity: 'week' })] })).toMatch(/^reports.0.granularity/);
    expect(
      issue({ ...base, reports: [report('r', { dimensions: ['customEvent:plan'], path: 'x.{customEvent-plan}.{metric}' })] }),
    ).toBeUndefined();
    expect(options.parse({ propertyId: 'properties/42', ...{ reports: base.reports } }).propertyId).toBe('42');
    expect(options.parse({ propertyId: 42, reports: base.reports })).toMatchObject({
      propertyId: '42',
      pageSize: 10_000,
      maxQuotaWait: 3600,
      serverErrorRetries: 2,
      backfillWindow: 604_800,
      realtimeMinutes: 30,
    });
    expect(options.parse(base).reports[0]).toMatchObject({ lookback: 172_800, every: 3600, dimensions: [] });
  });

  it('fills custom-dimension placeholders in path templates', async () => {
    const rows = hours(
      '2026030900',
      1,
      () => ({ sessions: 3 }),
      () => ({ 'customEvent:plan': 'pro.yearly' }),
    );
    const h = await harness([{ id: '1', timeZone: 'UTC', rows }]);
    const ctx = await h.run({
      propertyId: 1,
      reports: [report('r', { dimensions: ['customEvent:plan'], path: 'plans.{customEvent-plan}.{report}_{metric}' })],
    });
    expect(ctx.sink.points[0]!.nodes).toEqual(['plans', 'pro.yearly', 'r_sessions']);
  });
});
