// The CloudWatch fake itself, driven only through the real SDK: wire format, limits, pagination, statistics, errors.
import { GetMetricDataCommand, ListMetricsCommand, type MetricDataQuery, type MetricDatum } from '@aws-sdk/client-cloudwatch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CloudWatchFake } from '../helpers/cloudwatch-fake.ts';

const NOW = Date.UTC(2026, 0, 20, 12, 0, 0);
const T = NOW / 1000 - 3600; // an hour ago, on a whole hour

const query = (id: string, metric: string, stat = 'Sum', period = 60, dims: Record<string, string> = {}): MetricDataQuery => ({
  Id: id,
  MetricStat: {
    Metric: { Namespace: 'Test', MetricName: metric, Dimensions: Object.entries(dims).map(([Name, Value]) => ({ Name, Value })) },
    Period: period,
    Stat: stat,
  },
});

describe('CloudWatch fake', () => {
  let fake: CloudWatchFake;
  beforeAll(async () => {
    fake = await CloudWatchFake.start({ now: () => NOW });
    // 1..1000 in one minute (for percentiles), then one value per minute for 10 minutes.
    const data: MetricDatum[] = Array.from({ length: 1000 }, (_, i) => ({
      MetricName: 'Latency',
      Value: i + 1,
      Timestamp: new Date((T + (i % 60)) * 1000),
    }));
    for (let m = 0; m < 10; m++)
      data.push({ MetricName: 'Requests', Value: m, Timestamp: new Date((T + m * 60) * 1000), Dimensions: [{ Name: 'Host', Value: 'a' }] });
    for (let i = 0; i < 1203; i++)
      data.push({ MetricName: 'Many', Value: 1, Timestamp: new Date(T * 1000), Dimensions: [{ Name: 'Id', Value: `id-${i}` }] });
    await fake.seed('Test', data);
  });
  afterAll(async () => fake.close());

  it('receives AWS JSON 1.0 with the target header and a SigV4 signature, PutMetricData gzip-compressed when large', () => {
    const puts = fake.calls('PutMetricData');
    expect(puts.length).toBe(3);
    for (const put of puts) {
      expect(put.headers['content-type']).toBe('application/x-amz-json-1.0');
      expect(put.headers['x-amz-target']).toBe('GraniteServiceVersion20100801.PutMetricData');
      expect(put.headers['x-amzn-query-mode']).toBe('true');
      expect(put.headers.authorization).toMatch(
        /^AWS4-HMAC-SHA256 Credential=AKIAFAKEANYSCOPE0000\/\d{8}\/us-east-1\/monitoring\/aws4_request, /,
      );
      expect(put.region).toBe('us-east-1');
      expect(put.gzip).toBe(true);
      expect(put.headers['content-encoding']).toBe('gzip');
    }
  });

  it('computes the basic statistics and nearest-rank percentiles, timestamps in epoch seconds at the period start', async () => {
    const client = fake.client();
    const out = await client.send(
      new GetMetricDataCommand({
        StartTime: new Date(T * 1000),
        EndTime: new Date((T + 60) * 1000),
        MetricDataQueries: ['Sum', 'SampleCount', 'Average', 'Minimum', 'Maximum', 'p99', 'p99.9', 'p50'].map((stat, i) =>
          query(`q${i}`, 'Latency', stat),
        ),
      }),
    );
    expect(out.MetricDataResults!.map((r) => r.Values)).toEqual([[500500], [1000], [500.5], [1], [1000], [990], [999], [500]]);
    expect(out.MetricDataResults![0]!.Timestamps).toEqual([new Date(T * 1000)]);
    expect(out.MetricDataResults![0]!.StatusCode).toBe('Complete');
    expect(out.MetricDataResults![0]!.Label).toBe('Latency');
    const get = fake.calls('GetMetricData').at(-1)!;
    expect(get.gzip).toBe(false);
    expect(get.body.StartTime).toBe(T);
  });

  it('answers newest first by default and oldest first with ScanBy TimestampAscending', async () => {
    const client = fake.client();
    const input = {
      StartTime: new Date(T * 1000),
      EndTime: new Date((T + 600) * 1000),
      MetricDataQueries: [query('a', 'Requests', 'Sum', 60, { Host: 'a' })],
    };
    const desc = await client.send(new GetMetricDataCommand(input));
    const asc = await client.send(new GetMetricDataCommand({ ...input, ScanBy: 'TimestampAscending' }));
    expect(desc.MetricDataResults![0]!.Values).toEqual([9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
    expect(asc.MetricDataResults![0]!.Values).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('buckets from the StartTime as CloudWatch rounds it (to the minute for recent data), not from the clock', async () => {
    const out = await fake.client().send(
      new GetMetricDataCommand({
        StartTime: new Date((T + 90) * 1000),
        EndTime: new Date((T + 600) * 1000),
        ScanBy: 'TimestampAscending',
        MetricDataQueries: [query('a', 'Requests', 'Sum', 300, { Host: 'a' })],
      }),
    );
    // StartTime 1.5 min past the hour rounds down to 1 min past: buckets at +60 and +360, off the 5-minute grid.
    expect(out.MetricDataResults![0]!.Timestamps!.map((d) => d.getTime() / 1000 - T)).toEqual([60, 360]);
    expect(out.MetricDataResults![0]!.Values).toEqual([1 + 2 + 3 + 4 + 5, 6 + 7 + 8 + 9]);
  });

  it('refuses more than 500 queries with the ValidationError CloudWatch answers', async () => {
    const queries = Array.from({ length: 501 }, (_, i) => query(`q${i}`, 'Many', 'Sum', 60, { Id: `id-${i}` }));
    const error = await fake
      .client()
      .send(new GetMetricDataCommand({ StartTime: new Date(T * 1000), EndTime: new Date((T + 60) * 1000), MetricDataQueries: queries }))
      .then(
        () => undefined,
        (e: unknown) => e as Error & { $metadata: { httpStatusCode: number } },
      );
    expect(error).toBeInstanceOf(Error);
    expect(error!.name).toBe('ValidationException');
    expect((error as unknown as { Code: string }).Code).toBe('ValidationError');
    expect(error!.message).toBe('The collection MetricDataQueries must not have a size greater than 500.');
    expect(error!.$metadata.httpStatusCode).toBe(400);
    const last = fake.calls('GetMetricData').at(-1)!;
    expect(last.queries).toBe(501);
    // Only PutMetricData has the SDK's request compression: this 50 KB GetMetricData body goes plain.
    expect(last.bytes).toBeGreaterThan(10_240);
    expect(last.gzip).toBe(false);
  });

  it('paginates GetMetricData with NextToken after MaxDatapoints values (100,800 at most)', async () => {
    const client = fake.client();
    const input = {
      StartTime: new Date(T * 1000),
      EndTime: new Date((T + 600) * 1000),
      MaxDatapoints: 4,
      ScanBy: 'TimestampAscending' as const,
      MetricDataQueries: [query('a', 'Requests', 'Sum', 60, { Host: 'a' })],
    };
    const pages: number[][] = [];
    let token: string | undefined;
    do {
      const out = await client.send(new GetMetricDataCommand({ ...input, NextToken: token }));
      pages.push(out.MetricDataResults![0]!.Values!);
      expect(out.MetricDataResults![0]!.StatusCode).toBe(out.NextToken ? 'PartialData' : 'Complete');
      token = out.NextToken;
    } while (token);
    expect(pages).toEqual([
      [0, 1, 2, 3],
      [4, 5, 6, 7],
      [8, 9],
    ]);
    const bad = await client.send(new GetMetricDataCommand({ ...input, NextToken: 'bm9wZQ==' })).catch((e: Error) => e);
    expect((bad as Error).name).toBe('InvalidNextToken');
  });

  it('lists metrics 500 per page with NextToken, filtered by dimension name', async () => {
    const client = fake.client();
    const sizes: number[] = [];
    let token: string | undefined;
    do {
      const out = await client.send(
        new ListMetricsCommand({ Namespace: 'Test', MetricName: 'Many', Dimensions: [{ Name: 'Id' }], NextToken: token }),
      );
      sizes.push(out.Metrics!.length);
      token = out.NextToken;
    } while (token);
    expect(sizes).toEqual([500, 500, 203]);
    const one = await client.send(new ListMetricsCommand({ Namespace: 'Test', Dimensions: [{ Name: 'Host', Value: 'a' }] }));
    expect(one.Metrics).toEqual([{ Namespace: 'Test', MetricName: 'Requests', Dimensions: [{ Name: 'Host', Value: 'a' }] }]);
  });

  it('throttles on demand the way CloudWatch does, which the SDK retries as a throttle', async () => {
    fake.throttleNext(1, 'ListMetrics');
    const error = await fake
      .client()
      .send(new ListMetricsCommand({ Namespace: 'Test' }))
      .catch((e: Error) => e);
    expect((error as Error).name).toBe('Throttling');
    expect((error as Error).message).toBe('Rate exceeded');
    const last = fake.calls('ListMetrics').at(-1)!;
    expect(last.status).toBe(400);
    expect(last.error).toBe('Throttling');
  });

  it('fails on demand with a 5xx InternalServiceFault', async () => {
    fake.failNext(1, 'GetMetricData');
    const error = await fake
      .client()
      .send(
        new GetMetricDataCommand({
          StartTime: new Date(T * 1000),
          EndTime: new Date((T + 60) * 1000),
          MetricDataQueries: [query('a', 'Latency')],
        }),
      )
      .then(
        () => undefined,
        (e: unknown) => e as Error & { $metadata: { httpStatusCode: number } },
      );
    expect((error as Error).name).toBe('InternalServiceFault');
    expect((error as { $metadata: { httpStatusCode: number } }).$metadata.httpStatusCode).toBe(500);
  });

  it('keeps old data only at the coarser periods of its age', async () => {
    const old = NOW / 1000 - 20 * 86400; // 20 days ago: 5-minute data only
    await fake.seed('Old', [{ MetricName: 'M', Value: 7, Timestamp: new Date(old * 1000) }]);
    const ask = (period: number) =>
      fake.client().send(
        new GetMetricDataCommand({
          StartTime: new Date(old * 1000),
          EndTime: new Date((old + 3600) * 1000),
          MetricDataQueries: [{ Id: 'a', MetricStat: { Metric: { Namespace: 'Old', MetricName: 'M' }, Period: period, Stat: 'Sum' } }],
        }),
      );
    expect((await ask(60)).MetricDataResults![0]!.Values).toEqual([]);
    expect((await ask(300)).MetricDataResults![0]!.Values).toEqual([7]);
  });

  it('refuses unsigned requests', async () => {
    const response = await fetch(fake.url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'GraniteServiceVersion20100801.ListMetrics' },
      body: '{}',
    });
    expect(response.status).toBe(403);
    expect(response.headers.get('x-amzn-query-error')).toBe('MissingAuthenticationToken;Sender');
  });
});
