// An honest CloudWatch on a local port: the AWS JSON 1.0 wire format the SDK really speaks, CloudWatch's limits and errors.
//
// What @aws-sdk/client-cloudwatch 3.x sends (read in its dist-cjs and @aws-sdk/core's AwsJson1_0Protocol, and
// seen on the wire): `POST /`, `Content-Type: application/x-amz-json-1.0`, `X-Amz-Target:
// GraniteServiceVersion20100801.<Operation>`, `x-amzn-query-mode: true` (the model is awsQueryCompatible),
// a SigV4 `Authorization` header with the credential scope `<date>/<region>/monitoring/aws4_request`,
// timestamps as epoch seconds (numbers, possibly fractional). Only PutMetricData has the request-compression
// plugin: its bodies of 10,240 bytes or more go gzip-compressed (`Content-Encoding: gzip`); GetMetricData and
// ListMetrics bodies are never compressed, whatever their size.
//
// Errors follow the awsQueryCompatible JSON protocol: an HTTP status, a body `{"__type": "<shape id>",
// "message": "…"}`, and the header `x-amzn-query-error: <Query code>;<Sender|Receiver>`, from which the SDK
// takes the error's name (throttling therefore surfaces as `Throttling`, which its retry strategy treats as a
// throttle, as it does `ThrottlingException`).
//
// The same port also answers STS (AssumeRole, GetCallerIdentity: aws-sts-fake.ts) and the Resource Groups
// Tagging API (GetResources: aws-tagging-fake.ts), told apart by the service in the SigV4 credential scope,
// so one AWS_ENDPOINT_URL serves all three as it would LocalStack. Data is kept per account and region: the
// region is the credential scope's, the account that of the access key (a key of the account, or an
// assumed-role session the fake issued). Data seeded with seed() without a scope is seen from every account
// and region.
import { createHash } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { CloudWatchClient, PutMetricDataCommand, type MetricDatum } from '@aws-sdk/client-cloudwatch';
import { AwsError, credentialScope, invalidToken, sendJson, sendXml, type FakeService } from './aws-protocol-fake.ts';
import { StsFake, stsErrorXml, type FakeIdentity } from './aws-sts-fake.ts';
import { TaggingFake } from './aws-tagging-fake.ts';

/** The account of FAKE_CREDENTIALS. */
export const FAKE_ACCOUNT = '111111111111';
export const FAKE_CREDENTIALS = { accessKeyId: 'AKIAFAKEFAKEFAKE0000', secretAccessKey: 'fake-secret-key-for-tests-only' };
/** The key seed() uses without a scope: what it stores is seen from every account and region. */
const UNSCOPED_CREDENTIALS = { accessKeyId: 'AKIAFAKEANYSCOPE0000', secretAccessKey: 'fake-secret-key-for-tests-only' };

/** Where data lives: one account in one region. */
export interface FakeScope {
  region: string;
  /** Default: FAKE_ACCOUNT. */
  account?: string;
}

const LIMITS = { queriesPerCall: 500, datapointsPerCall: 100_800, listMetricsPage: 500, putMetricData: 1000 } as const;
const HOUR = 3600;
const DAY = 86400;

export interface FakeRequest {
  /** The signing name of the credential scope: monitoring (CloudWatch), tagging, sts. */
  service?: FakeService;
  operation: string;
  status: number;
  /** The error code answered (`Throttling`, `ValidationError` …), when not 200. */
  error?: string;
  /** Number of MetricDataQueries (GetMetricData). */
  queries?: number;
  startTime?: number;
  endTime?: number;
  nextToken?: boolean;
  /** The region of the SigV4 credential scope. */
  region?: string;
  /** The account of the access key that signed (undefined for the seeding key and refused keys). */
  account?: string;
  accessKeyId?: string;
  gzip: boolean;
  bytes: number;
  headers: IncomingHttpHeaders;
  body: Record<string, unknown>;
}

export interface CloudWatchFakeOptions {
  /** The fake's clock (epoch ms): retention tiers, RecentlyActive and StartTime rounding are relative to it. */
  now?: () => number;
}

interface Sample {
  timestamp: number;
  /** Raw values with their counts (Value, or Values/Counts). */
  values?: Array<[value: number, count: number]>;
  /** A pre-aggregated statistic set (StatisticValues): no percentiles can come from it. */
  set?: { SampleCount: number; Sum: number; Minimum: number; Maximum: number };
}

interface StoredSeries {
  namespace: string;
  metricName: string;
  dimensions: Array<{ Name: string; Value: string }>;
  samples: Sample[];
  receivedAt: number;
}

interface Fault {
  operation?: string;
  remaining: number;
  status: number;
  queryCode: string;
  fault: 'Sender' | 'Receiver';
  type: string;
  message: string;
}

/** A CloudWatch error: its Query code (x-amzn-query-error), its JSON shape id (__type), the status. */
class ApiError extends AwsError {
  constructor(status: number, queryCode: string, type: string, message: string, fault?: 'Sender' | 'Receiver') {
    super(status, queryCode, message, { jsonType: type, ...(fault ? { fault } : {}) });
  }
}

const validation = (message: string) => new ApiError(400, 'ValidationError', 'com.amazonaws.cloudwatch#ValidationException', message);
const invalidValue = (message: string) =>
  new ApiError(400, 'InvalidParameterValue', 'com.amazonaws.cloudwatch#InvalidParameterValueException', message);

export class CloudWatchFake {
  readonly requests: FakeRequest[] = [];
  now: () => number;
  /**
   * Makes GetMetricData paginate after this many values even below MaxDatapoints, as CloudWatch may on large
   * answers, so tests can check that a client follows NextToken. Undefined: only MaxDatapoints (100,800) applies.
   */
  datapointsPerPage: number | undefined;
  /** Milliseconds to wait before answering each request (slow-API and deadline tests). */
  responseDelayMs = 0;
  /** The STS of the fake: identities, roles, sessions. */
  readonly sts = new StsFake();
  /** The Tagging API of the fake: tagged resources per account and region. */
  readonly tagging = new TaggingFake();
  /** `account/region` → series; '' holds what the seeding key stored, seen from everywhere. */
  readonly #stores = new Map<string, Map<string, StoredSeries>>();
  readonly #denied = new Set<string>();
  readonly #accountKeys = new Map<string, { accessKeyId: string; secretAccessKey: string }>();
  readonly #faults: Fault[] = [];
  readonly #server: Server;
  readonly #clients: CloudWatchClient[] = [];

  private constructor(server: Server, options: CloudWatchFakeOptions) {
    this.#server = server;
    this.now = options.now ?? Date.now;
    this.sts.addKey(FAKE_CREDENTIALS.accessKeyId, FAKE_CREDENTIALS.secretAccessKey, FAKE_ACCOUNT);
    this.sts.addKey(UNSCOPED_CREDENTIALS.accessKeyId, UNSCOPED_CREDENTIALS.secretAccessKey, FAKE_ACCOUNT, { unscoped: true });
  }

  static async start(options: CloudWatchFakeOptions = {}): Promise<CloudWatchFake> {
    let fake: CloudWatchFake | undefined;
    const server = createServer((request, response) => void fake!.#handle(request, response));
    fake = new CloudWatchFake(server, options);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return fake;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  /** Requests of one operation (all when omitted), answered or not. */
  calls(operation?: string): FakeRequest[] {
    return operation ? this.requests.filter((r) => r.operation === operation) : this.requests;
  }

  /** Answered GetMetricData calls (status 200). */
  get getMetricDataCalls(): FakeRequest[] {
    return this.requests.filter((r) => r.operation === 'GetMetricData' && r.status === 200);
  }

  clearRequests(): void {
    this.requests.length = 0;
  }

  /** The next `times` requests (of `operation`, or any) are throttled: HTTP 400, Throttling / ThrottlingException, "Rate exceeded". */
  throttleNext(times = 1, operation?: string): void {
    this.#faults.push({
      ...(operation ? { operation } : {}),
      remaining: times,
      status: 400,
      queryCode: 'Throttling',
      fault: 'Sender',
      type: 'com.amazon.coral.availability#ThrottlingException',
      message: 'Rate exceeded',
    });
  }

  /** The next `times` requests (of `operation`, or any) fail with a server error (InternalServiceFault, 500 by default). */
  failNext(times = 1, operation?: string, status = 500): void {
    this.#faults.push({
      ...(operation ? { operation } : {}),
      remaining: times,
      status,
      queryCode: status === 503 ? 'ServiceUnavailable' : 'InternalServiceError',
      fault: 'Receiver',
      type: status === 503 ? 'com.amazon.coral.availability#ServiceUnavailableException' : 'com.amazonaws.cloudwatch#InternalServiceFault',
      message: status === 503 ? 'Service Unavailable' : 'Internal service error',
    });
  }

  /** A real SDK client aimed at the fake (for seeding, and for tests of the fake itself): FAKE_CREDENTIALS unless others are given. */
  client(region = 'us-east-1', credentials: { accessKeyId: string; secretAccessKey: string } = FAKE_CREDENTIALS): CloudWatchClient {
    const client = new CloudWatchClient({ region, endpoint: this.url, credentials, maxAttempts: 1 });
    this.#clients.push(client);
    return client;
  }

  /** A long-term access key of `account` (registered on first use): what a test signs with to act as that account. */
  credentialsFor(account: string): { accessKeyId: string; secretAccessKey: string } {
    if (account === FAKE_ACCOUNT) return FAKE_CREDENTIALS;
    let credentials = this.#accountKeys.get(account);
    if (!credentials) {
      credentials = { accessKeyId: `AKIA${account}FAKE`, secretAccessKey: 'fake-secret-key-for-tests-only' };
      this.sts.addKey(credentials.accessKeyId, credentials.secretAccessKey, account);
      this.#accountKeys.set(account, credentials);
    }
    return credentials;
  }

  /**
   * Seeds through PutMetricData with the real SDK, 1,000 datums per call (the API's limit): into one account
   * and region when `scope` is given, else where every account and region sees it.
   */
  async seed(namespace: string, data: MetricDatum[], scope?: FakeScope): Promise<void> {
    const client = scope
      ? this.client(scope.region, this.credentialsFor(scope.account ?? FAKE_ACCOUNT))
      : this.client('us-east-1', UNSCOPED_CREDENTIALS);
    for (let i = 0; i < data.length; i += LIMITS.putMetricData) {
      await client.send(new PutMetricDataCommand({ Namespace: namespace, MetricData: data.slice(i, i + LIMITS.putMetricData) }));
    }
  }

  /** Requests of `account` (or any) to `region` answer what AWS answers for a region not enabled: InvalidClientTokenId. */
  denyRegion(region: string, account?: string): void {
    this.#denied.add(`${account ?? '*'}/${region}`);
  }

  allowRegion(region: string, account?: string): void {
    this.#denied.delete(`${account ?? '*'}/${region}`);
  }

  /** Every series stored, for assertions. */
  listSeries(): Array<{
    scope: string;
    namespace: string;
    metricName: string;
    dimensions: Array<{ Name: string; Value: string }>;
    samples: number;
  }> {
    return [...this.#stores.entries()].flatMap(([scope, store]) =>
      [...store.values()].map((s) => ({
        scope,
        namespace: s.namespace,
        metricName: s.metricName,
        dimensions: s.dimensions,
        samples: s.samples.length,
      })),
    );
  }

  async close(): Promise<void> {
    for (const client of this.#clients) client.destroy();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  // --- HTTP ------------------------------------------------------------------------------------------

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks);
    const gzip = request.headers['content-encoding'] === 'gzip';
    const target = String(request.headers['x-amz-target'] ?? '');
    const operation = target.includes('.') ? target.slice(target.indexOf('.') + 1) : target || '(none)';
    const entry: FakeRequest = { operation, status: 200, gzip, bytes: raw.length, headers: request.headers, body: {} };
    this.requests.push(entry);
    if (this.responseDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.responseDelayMs));
    if (response.destroyed) return;
    let service: FakeService = 'monitoring';
    try {
      if (request.method !== 'POST' || request.url !== '/')
        throw new ApiError(
          404,
          'UnknownOperation',
          'com.amazon.coral.service#UnknownOperationException',
          `${request.method} ${request.url}`,
        );
      const scope = credentialScope(request.headers);
      service = entry.service = scope.service;
      entry.region = scope.region;
      entry.accessKeyId = scope.accessKeyId;
      const identity = this.sts.identify(scope, request.headers);
      if (!identity.unscoped) entry.account = identity.account;
      if (service === 'sts') {
        const text = raw.toString('utf8');
        entry.operation = new URLSearchParams(text).get('Action') ?? '(none)';
        entry.body = Object.fromEntries(new URLSearchParams(text));
        if (request.headers['content-type'] !== 'application/x-www-form-urlencoded') {
          throw new AwsError(400, 'InvalidAction', `unexpected Content-Type ${request.headers['content-type']}`);
        }
        this.#injectFault(entry.operation, service);
        sendXml(response, 200, this.sts.handle(text, identity).xml);
        return;
      }
      if (this.#denied.has(`*/${scope.region}`) || this.#denied.has(`${identity.account}/${scope.region}`)) throw invalidToken();
      if (!scope.signedHeaders.includes('x-amz-target'))
        throw new ApiError(
          403,
          'IncompleteSignature',
          'com.amazon.coral.service#IncompleteSignatureException',
          'x-amz-target is not signed',
        );
      const [contentType, prefix] =
        service === 'tagging'
          ? ['application/x-amz-json-1.1', 'ResourceGroupsTaggingAPI_20170126.']
          : ['application/x-amz-json-1.0', 'GraniteServiceVersion20100801.'];
      if (request.headers['content-type'] !== contentType || !target.startsWith(prefix)) {
        throw new ApiError(
          400,
          'UnknownOperation',
          'com.amazon.coral.service#UnknownOperationException',
          `unexpected Content-Type ${request.headers['content-type']} or X-Amz-Target ${target} for ${service}`,
        );
      }
      const body = JSON.parse((gzip ? gunzipSync(raw) : raw).toString('utf8') || '{}') as Record<string, unknown>;
      entry.body = body;
      this.#injectFault(operation, service);
      if (service === 'tagging') {
        if (operation !== 'GetResources')
          throw new AwsError(400, 'UnknownOperationException', `operation ${operation} is not implemented by the fake`);
        sendJson(response, 200, this.tagging.getResources(body, identity.account, scope.region), '1.1');
        return;
      }
      const store = this.#store(identity, scope.region);
      let output: unknown;
      switch (operation) {
        case 'PutMetricData':
          output = this.#putMetricData(body, store);
          break;
        case 'ListMetrics':
          output = this.#listMetrics(body, this.#visible(identity, scope.region));
          break;
        case 'GetMetricData':
          output = this.#getMetricData(body, entry, this.#visible(identity, scope.region));
          break;
        default:
          throw new ApiError(
            400,
            'UnknownOperation',
            'com.amazon.coral.service#UnknownOperationException',
            `operation ${operation} is not implemented by the fake`,
          );
      }
      sendJson(response, 200, output ?? {}, '1.0');
    } catch (error) {
      const e =
        error instanceof AwsError
          ? error
          : new ApiError(500, 'InternalServiceError', 'com.amazonaws.cloudwatch#InternalServiceFault', String(error));
      entry.status = e.status;
      entry.error = e.code;
      if (service === 'sts') sendXml(response, e.status, stsErrorXml(e));
      else if (service === 'tagging') sendJson(response, e.status, { __type: e.jsonType, Message: e.message }, '1.1');
      else
        sendJson(response, e.status, { __type: e.jsonType, message: e.message }, '1.0', { 'x-amzn-query-error': `${e.code};${e.fault}` });
    }
  }

  /** Where a caller's PutMetricData goes: its account and region, or everywhere for the seeding key. */
  #store(identity: FakeIdentity, region: string): Map<string, StoredSeries> {
    const key = identity.unscoped ? '' : `${identity.account}/${region}`;
    let store = this.#stores.get(key);
    if (!store) this.#stores.set(key, (store = new Map()));
    return store;
  }

  /** What a caller sees: its account and region's series, then those seeded for everyone. */
  #visible(identity: FakeIdentity, region: string): Array<Map<string, StoredSeries>> {
    const own = identity.unscoped ? undefined : this.#stores.get(`${identity.account}/${region}`);
    const everyone = this.#stores.get('');
    return [own, everyone].filter((store): store is Map<string, StoredSeries> => store !== undefined);
  }

  #injectFault(operation: string, service: FakeService): void {
    const fault = this.#faults.find((f) => f.remaining > 0 && (f.operation === undefined || f.operation === operation));
    if (!fault) return;
    fault.remaining--;
    // Each service names the same trouble its own way.
    if (service === 'tagging') {
      throw new AwsError(fault.status, fault.queryCode, fault.message, {
        jsonType: fault.queryCode === 'Throttling' ? 'ThrottledException' : 'InternalServiceException',
        fault: fault.fault,
      });
    }
    throw new ApiError(fault.status, fault.queryCode, fault.type, fault.message, fault.fault);
  }

  // --- PutMetricData ---------------------------------------------------------------------------------

  #putMetricData(body: Record<string, unknown>, store: Map<string, StoredSeries>): unknown {
    const namespace = requireString(body, 'Namespace');
    const data = (body.MetricData ?? []) as Array<Record<string, unknown>>;
    if (data.length > LIMITS.putMetricData)
      throw invalidValue(`The collection MetricData must not have a size greater than ${LIMITS.putMetricData}.`);
    // Unlike CloudWatch (two weeks back at most), any timestamp is accepted, so tests can seed history.
    for (const datum of data) {
      const metricName = requireString(datum, 'MetricName');
      const dimensions = ((datum.Dimensions ?? []) as Array<{ Name: string; Value: string }>).map((d) => ({
        Name: d.Name,
        Value: d.Value,
      }));
      const key = seriesKey(namespace, metricName, dimensions);
      let series = store.get(key);
      if (!series) store.set(key, (series = { namespace, metricName, dimensions, samples: [], receivedAt: 0 }));
      series.receivedAt = this.now();
      const timestamp = typeof datum.Timestamp === 'number' ? datum.Timestamp : this.now() / 1000;
      if (typeof datum.Value === 'number') series.samples.push({ timestamp, values: [[datum.Value, 1]] });
      if (Array.isArray(datum.Values)) {
        const counts = (datum.Counts ?? []) as number[];
        series.samples.push({ timestamp, values: (datum.Values as number[]).map((v, i) => [v, counts[i] ?? 1]) });
      }
      if (datum.StatisticValues) series.samples.push({ timestamp, set: datum.StatisticValues as Sample['set'] });
    }
    return {};
  }

  // --- ListMetrics -----------------------------------------------------------------------------------

  #listMetrics(body: Record<string, unknown>, stores: Array<Map<string, StoredSeries>>): unknown {
    const filter = (body.Dimensions ?? []) as Array<{ Name: string; Value?: string }>;
    if (filter.length > 10) throw invalidValue('The collection Dimensions must not have a size greater than 10.');
    const now = this.now();
    const matching = stores
      .flatMap((store) => [...store.values()])
      .filter(
        (s) =>
          (body.Namespace === undefined || s.namespace === body.Namespace) &&
          (body.MetricName === undefined || s.metricName === body.MetricName) &&
          filter.every((f) => s.dimensions.some((d) => d.Name === f.Name && (f.Value === undefined || d.Value === f.Value))) &&
          // Metrics without new data for two weeks are not listed; RecentlyActive=PT3H keeps the last three hours.
          now - s.receivedAt <= (body.RecentlyActive === 'PT3H' ? 3 * HOUR : 14 * DAY) * 1000,
      );
    const offset = readToken(body.NextToken, fingerprint(body));
    const page = matching.slice(offset, offset + LIMITS.listMetricsPage);
    const next = offset + page.length < matching.length ? makeToken(offset + page.length, fingerprint(body)) : undefined;
    return {
      Metrics: page.map((s) => ({ Namespace: s.namespace, MetricName: s.metricName, Dimensions: s.dimensions })),
      ...(next ? { NextToken: next } : {}),
    };
  }

  // --- GetMetricData ---------------------------------------------------------------------------------

  #getMetricData(body: Record<string, unknown>, entry: FakeRequest, stores: Array<Map<string, StoredSeries>>): unknown {
    const queries = (body.MetricDataQueries ?? []) as Array<Record<string, unknown>>;
    entry.queries = queries.length;
    entry.nextToken = body.NextToken !== undefined;
    if (queries.length === 0) throw validation('The collection MetricDataQueries must not be empty.');
    if (queries.length > LIMITS.queriesPerCall)
      throw validation(`The collection MetricDataQueries must not have a size greater than ${LIMITS.queriesPerCall}.`);
    const ids = new Set<string>();
    for (const q of queries) {
      const id = requireString(q, 'Id');
      if (!/^[a-z][a-zA-Z0-9_]*$/.test(id))
        throw validation(`The value ${id} for parameter MetricDataQueries.member.Id is invalid: it must start with a lowercase letter.`);
      if (ids.has(id)) throw validation('The values for parameter id in MetricDataQueries are not unique.');
      ids.add(id);
    }
    const start = requireNumber(body, 'StartTime');
    const end = requireNumber(body, 'EndTime');
    entry.startTime = start;
    entry.endTime = end;
    if (!(start < end)) throw validation('The parameter StartTime must be less than the parameter EndTime.');
    const maxDatapoints = Math.min(
      body.MaxDatapoints === undefined ? LIMITS.datapointsPerCall : Number(body.MaxDatapoints),
      LIMITS.datapointsPerCall,
      this.datapointsPerPage ?? Infinity,
    );
    if (!(maxDatapoints >= 1)) throw invalidValue('The parameter MaxDatapoints must be greater than 0.');
    const descending = (body.ScanBy ?? 'TimestampDescending') === 'TimestampDescending';
    const nowSeconds = this.now() / 1000;

    const results = queries.map((q) => {
      const stat = q.MetricStat as
        | {
            Metric: { Namespace: string; MetricName: string; Dimensions?: Array<{ Name: string; Value: string }> };
            Period: number;
            Stat: string;
          }
        | undefined;
      if (!stat) throw invalidValue('The fake answers MetricStat queries only (no Expression).');
      const period = stat.Period;
      if (!([1, 5, 10, 20, 30].includes(period) || (Number.isInteger(period) && period >= 60 && period % 60 === 0))) {
        throw invalidValue('The parameter MetricDataQueries.member.MetricStat.Period must be 1, 5, 10, 20, 30, or a multiple of 60.');
      }
      if (!isSupportedStat(stat.Stat))
        throw invalidValue(`The fake computes SampleCount, Average, Sum, Minimum, Maximum and pNN only, not ${stat.Stat}.`);
      const key = seriesKey(stat.Metric.Namespace, stat.Metric.MetricName, stat.Metric.Dimensions ?? []);
      const series = stores.map((store) => store.get(key)).find((found) => found !== undefined);
      const points = series ? aggregate(series, roundStart(start, period, nowSeconds), end, period, stat.Stat, nowSeconds) : [];
      if (descending) points.reverse();
      return {
        id: q.Id as string,
        label: (q.Label as string | undefined) ?? stat.Metric.MetricName,
        returnData: q.ReturnData !== false,
        points,
      };
    });

    // Pages hold at most MaxDatapoints values over all queries, in query order, then in ScanBy order.
    const shown = results.filter((r) => r.returnData);
    const total = shown.reduce((n, r) => n + r.points.length, 0);
    const offset = readToken(body.NextToken, fingerprint(body));
    const pageEnd = Math.min(total, offset + maxDatapoints);
    let position = 0;
    const MetricDataResults = shown.map((r) => {
      const from = Math.max(0, offset - position);
      const to = Math.max(0, Math.min(r.points.length, pageEnd - position));
      position += r.points.length;
      const slice = r.points.slice(from, Math.max(from, to));
      return {
        Id: r.id,
        Label: r.label,
        Timestamps: slice.map(([t]) => t),
        Values: slice.map(([, v]) => v),
        StatusCode: to < r.points.length ? 'PartialData' : 'Complete',
      };
    });
    return { MetricDataResults, Messages: [], ...(pageEnd < total ? { NextToken: makeToken(pageEnd, fingerprint(body)) } : {}) };
  }
}

// --- CloudWatch's semantics ----------------------------------------------------------------------------

/** CloudWatch's documented rounding of StartTime by its age (and to 5/10/20/30 s for high-resolution periods). */
export function roundStart(start: number, period: number, nowSeconds: number): number {
  const age = nowSeconds - start;
  const unit = period < 60 ? period : age <= 15 * DAY ? 60 : age <= 63 * DAY ? 300 : HOUR;
  return Math.floor(start / unit) * unit;
}

/** The unit a period must be a multiple of for data starting `age` seconds ago to exist at all. */
function retainedUnit(age: number): number | undefined {
  if (age <= 3 * HOUR) return 1;
  if (age <= 15 * DAY) return 60;
  if (age <= 63 * DAY) return 300;
  if (age <= 455 * DAY) return HOUR;
  return undefined;
}

/**
 * Buckets of `period` from `start` (the rounded StartTime) up to `end`; periods CloudWatch no longer keeps at that resolution
 * yield nothing.
 */
function aggregate(
  series: StoredSeries,
  start: number,
  end: number,
  period: number,
  stat: string,
  nowSeconds: number,
): Array<[number, number]> {
  const buckets = new Map<number, Sample[]>();
  for (const sample of series.samples) {
    if (sample.timestamp < start || sample.timestamp >= end) continue;
    const bucket = start + Math.floor((sample.timestamp - start) / period) * period;
    let list = buckets.get(bucket);
    if (!list) buckets.set(bucket, (list = []));
    list.push(sample);
  }
  const out: Array<[number, number]> = [];
  for (const bucket of [...buckets.keys()].sort((a, b) => a - b)) {
    const unit = retainedUnit(nowSeconds - bucket);
    if (unit === undefined || period % unit !== 0) continue;
    const value = statistic(buckets.get(bucket)!, stat);
    if (value !== undefined) out.push([bucket, value]);
  }
  return out;
}

function isSupportedStat(stat: string): boolean {
  return ['SampleCount', 'Average', 'Sum', 'Minimum', 'Maximum'].includes(stat) || /^p(\d{1,2}(\.\d+)?|100)$/.test(stat);
}

/** One statistic over a bucket's samples; percentiles by nearest rank over raw values, none from statistic sets. */
function statistic(samples: Sample[], stat: string): number | undefined {
  let count = 0;
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  const raw: Array<[number, number]> = [];
  let hasSets = false;
  for (const s of samples) {
    for (const [value, n] of s.values ?? []) {
      count += n;
      sum += value * n;
      min = Math.min(min, value);
      max = Math.max(max, value);
      raw.push([value, n]);
    }
    if (s.set) {
      hasSets = true;
      count += s.set.SampleCount;
      sum += s.set.Sum;
      min = Math.min(min, s.set.Minimum);
      max = Math.max(max, s.set.Maximum);
    }
  }
  if (count === 0) return undefined;
  switch (stat) {
    case 'SampleCount':
      return count;
    case 'Sum':
      return sum;
    case 'Average':
      return sum / count;
    case 'Minimum':
      return min;
    case 'Maximum':
      return max;
  }
  if (hasSets) return undefined;
  const p = Number(stat.slice(1));
  raw.sort((a, b) => a[0] - b[0]);
  // Rounded first: 99.9 / 100 * 1000 is 999.0000000000001 in floating point.
  const rank = Math.max(1, Math.ceil(Number(((p / 100) * count).toFixed(9))));
  let seen = 0;
  for (const [value, n] of raw) {
    seen += n;
    if (seen >= rank) return value;
  }
  return raw[raw.length - 1]![0];
}

// --- Wire helpers --------------------------------------------------------------------------------------

function seriesKey(namespace: string, metricName: string, dimensions: ReadonlyArray<{ Name: string; Value: string }>): string {
  const dims = [...dimensions].map((d) => [d.Name, d.Value]).sort((a, b) => (a[0]! < b[0]! ? -1 : a[0]! > b[0]! ? 1 : 0));
  return JSON.stringify([namespace, metricName, dims]);
}

/** A pagination token tied to the request it continues (everything but NextToken). */
function fingerprint(body: Record<string, unknown>): string {
  const { NextToken: _, ...rest } = body;
  return createHash('sha256').update(JSON.stringify(rest)).digest('hex').slice(0, 16);
}

function makeToken(offset: number, print: string): string {
  return Buffer.from(JSON.stringify({ offset, print })).toString('base64');
}

function readToken(token: unknown, print: string): number {
  if (token === undefined) return 0;
  try {
    const parsed = JSON.parse(Buffer.from(String(token), 'base64').toString('utf8')) as { offset: number; print: string };
    if (parsed.print === print && Number.isInteger(parsed.offset) && parsed.offset >= 0) return parsed.offset;
  } catch {
    // fall through
  }
  throw new ApiError(400, 'InvalidNextToken', 'com.amazonaws.cloudwatch#InvalidNextToken', 'The service returned an invalid next token.');
}

function requireString(body: Record<string, unknown>, field: string): string {
  const value = body[field];
  if (typeof value !== 'string' || value === '')
    throw new ApiError(
      400,
      'MissingParameter',
      'com.amazonaws.cloudwatch#MissingRequiredParameterException',
      `The parameter ${field} is required.`,
    );
  return value;
}

function requireNumber(body: Record<string, unknown>, field: string): number {
  const value = body[field];
  if (typeof value !== 'number' || !Number.isFinite(value))
    throw new ApiError(
      400,
      'MissingParameter',
      'com.amazonaws.cloudwatch#MissingRequiredParameterException',
      `The parameter ${field} is required.`,
    );
  return value;
}
