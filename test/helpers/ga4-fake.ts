// An honest GA4 Data API (v1beta) on port 0: the three report methods over seeded rows, with GA's checks, paging, quota, auth and errors.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One hour of processed data: `dateHour` is local to the property (`2026030814`), like GA's own dimension. */
export interface SeedRow {
  dateHour: string;
  dimensions?: Record<string, string>;
  metrics: Record<string, number>;
}

/** One minute of realtime data: `minute` is the epoch second the minute starts at. */
export interface RealtimeSeedRow {
  minute: number;
  dimensions?: Record<string, string>;
  metrics: Record<string, number>;
}

export interface QuotaLimits {
  tokensPerHour: number;
  tokensPerDay: number;
  tokensPerProjectPerHour: number;
  concurrentRequests: number;
  serverErrorsPerProjectPerHour: number;
  potentiallyThresholdedRequestsPerHour: number;
}

/** GA's standard-property limits (PropertyQuota in the v1beta reference). */
export const STANDARD_LIMITS: QuotaLimits = {
  tokensPerHour: 40_000,
  tokensPerDay: 200_000,
  tokensPerProjectPerHour: 14_000,
  concurrentRequests: 10,
  serverErrorsPerProjectPerHour: 10,
  potentiallyThresholdedRequestsPerHour: 120,
};

export interface FakeProperty {
  /** The numeric property ID, as in `properties/{id}`. */
  id: string;
  /** IANA zone of the property: `date`/`dateHour` values and relative dates (`today`) are in it. */
  timeZone?: string;
  currencyCode?: string;
  rows?: SeedRow[];
  realtime?: RealtimeSeedRow[];
  /** Metric types for metricHeaders (default TYPE_INTEGER, or TYPE_FLOAT when a seeded value is fractional). */
  metricTypes?: Record<string, string>;
  /** Dimensions the property knows besides the seeded ones (rows without them answer "(not set)"). */
  extraDimensions?: string[];
  /** Leaves metadata.timeZone out of answers (the real API always sends it; some stand-ins do not). */
  omitTimeZone?: boolean;
  /** Sets metadata.subjectToThresholding on every core answer. */
  subjectToThresholding?: boolean;
  /** Sets metadata.dataLossFromOtherRow on every core answer. */
  dataLossFromOtherRow?: boolean;
  /** The token cannot read this property: 403 PERMISSION_DENIED. */
  denied?: boolean;
  /** Tokens one report request costs (default 5; realtime 2). */
  tokensPerRequest?: number;
  realtimeTokensPerRequest?: number;
  limits?: Partial<QuotaLimits>;
  /** 360 properties may ask realtime for 60 minutes; standard ones for 30. */
  analytics360?: boolean;
  /**
   * Answers at most this many rows per report request, whatever its limit, with rowCount still counting every
   * row: the real API may return fewer rows than the limit asked for, and documents only that rowCount is the total.
   */
  maxRowsPerAnswer?: number;
}

export type Ga4Method = 'runReport' | 'batchRunReports' | 'runRealtimeReport';

export interface LoggedRequest {
  method: Ga4Method | 'unknown';
  propertyId: string;
  path: string;
  authorization: string | undefined;
  body: Record<string, unknown> | undefined;
  status: number;
  /** Fake-clock time the request arrived (epoch ms). */
  at: number;
}

export interface ScriptedFailure {
  status: 400 | 401 | 403 | 429 | 500 | 503;
  /** Only requests of this method fail (default: any). */
  method?: Ga4Method;
  /** How many requests fail (default 1). */
  times?: number;
  /** GA's message (default: the documented one for the status). */
  message?: string;
}

export interface Ga4FakeOptions {
  /** Bearer tokens accepted (default ['test-token']). */
  tokens?: string[];
  /** The fake's clock (epoch ms): realtime minutes, relative dates and quota hours follow it. */
  now?: () => number;
  /** A path prefix the API is served under (a proxy's), e.g. '/ga'. */
  basePath?: string;
  /** Milliseconds each answer takes, so concurrency can be observed. */
  latencyMs?: number;
}

const ERROR_STATUS: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  429: 'RESOURCE_EXHAUSTED',
  500: 'INTERNAL',
  503: 'UNAVAILABLE',
};

export const MESSAGES = {
  missingCredentials:
    'Request is missing required authentication credential. Expected OAuth 2 access token, ' +
    'login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.',
  invalidCredentials:
    'Request had invalid authentication credentials. Expected OAuth 2 access token, ' +
    'login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.',
  permission:
    'User does not have sufficient permissions for this property. ' +
    'To learn more about Property ID, see https://developers.google.com/analytics/devguides/reporting/data/v1/property-id.',
  tokensPerHour:
    'Exhausted property tokens per hour. These quota tokens will return in under an hour. ' +
    'To learn more, see https://developers.google.com/analytics/devguides/reporting/data/v1/quotas',
  tokensPerDay:
    'Exhausted property tokens per day. These quota tokens will return in under 24 hours. ' +
    'To learn more, see https://developers.google.com/analytics/devguides/reporting/data/v1/quotas',
  tokensPerProjectPerHour:
    'Exhausted property tokens for a project per hour. These quota tokens will return in under an hour. ' +
    'To learn more, see https://developers.google.com/analytics/devguides/reporting/data/v1/quotas',
  concurrent: 'Exhausted concurrent requests quota.',
  internal: 'Internal error encountered.',
  unavailable: 'The service is currently unavailable.',
  invalid: 'Request contains an invalid argument.',
};

const SCHEMA_HINT =
  'For a list of valid dimensions and metrics, see https://developers.google.com/analytics/devguides/reporting/data/v1/api-schema';
const REALTIME_HINT =
  'For a list of valid dimensions and metrics, see https://developers.google.com/analytics/devguides/reporting/data/v1/realtime-api-schema';

// Fields of the request messages (protobuf JSON rejects any other).
const RUN_REPORT_FIELDS = new Set([
  'property',
  'dimensions',
  'metrics',
  'dateRanges',
  'dimensionFilter',
  'metricFilter',
  'offset',
  'limit',
  'metricAggregations',
  'orderBys',
  'currencyCode',
  'cohortSpec',
  'keepEmptyRows',
  'returnPropertyQuota',
  'comparisons',
]);
const REALTIME_FIELDS = new Set([
  'dimensions',
  'metrics',
  'dimensionFilter',
  'metricFilter',
  'limit',
  'metricAggregations',
  'orderBys',
  'returnPropertyQuota',
  'minuteRanges',
]);
const TIME_DIMENSIONS = new Set(['date', 'dateHour', 'hour', 'year', 'month', 'day']);
const MAX_ROWS = 250_000;
const DEFAULT_LIMIT = 10_000;

class ApiError extends Error {
  readonly status: number;

  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

interface QuotaUse {
  hourKey: number;
  hour: number;
  dayKey: string;
  day: number;
}

export class Ga4Fake {
  readonly requests: LoggedRequest[] = [];
  readonly properties = new Map<string, FakeProperty>();
  /** Most requests in flight at once, per property. */
  readonly maxInFlight = new Map<string, number>();
  readonly #inFlight = new Map<string, number>();
  readonly #failures: Array<ScriptedFailure & { left: number }> = [];
  readonly #quota = new Map<string, QuotaUse>();
  readonly #tokens: Set<string>;
  readonly #now: () => number;
  readonly #basePath: string;
  readonly #latencyMs: number;

  private readonly server: Server;

  private constructor(server: Server, options: Ga4FakeOptions) {
    this.server = server;
    this.#tokens = new Set(options.tokens ?? ['test-token']);
    this.#now = options.now ?? Date.now;
    this.#basePath = (options.basePath ?? '').replace(/\/+$/, '');
    this.#latencyMs = options.latencyMs ?? 0;
  }

  static async start(options: Ga4FakeOptions = {}): Promise<Ga4Fake> {
    let fake!: Ga4Fake;
    const server = createServer((req, res) => void fake.handle(req, res));
    fake = new Ga4Fake(server, options);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return fake;
  }

  /** The root URL to give the client (GA4_API_ROOT_URL), with the base path if any. */
  get url(): string {
    const { port } = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${port}${this.#basePath}/`;
  }

  addProperty(property: FakeProperty): this {
    this.properties.set(property.id, property);
    return this;
  }

  /** The next matching request(s) fail with `status` and GA's error body. */
  fail(failure: ScriptedFailure): this {
    this.#failures.push({ ...failure, left: failure.times ?? 1 });
    return this;
  }

  /** Uses up a property's hourly or daily tokens, so the next request gets 429 RESOURCE_EXHAUSTED. */
  exhaust(propertyId: string, which: 'hour' | 'day', pool: 'core' | 'realtime' = 'core'): this {
    const property = this.#property(propertyId);
    const use = this.#use(propertyId, pool);
    const limits = this.#limits(property);
    if (which === 'hour') use.hour = limits.tokensPerHour;
    else use.day = limits.tokensPerDay;
    return this;
  }

  /** Requests of one method (default: every request). */
  calls(method?: Ga4Method): LoggedRequest[] {
    return method ? this.requests.filter((r) => r.method === method) : this.requests;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections?.();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const at = this.#now();
    const url = new URL(req.url ?? '/', 'http://fake');
    const entry: LoggedRequest = {
      method: 'unknown',
      propertyId: '',
      path: url.pathname,
      authorization: req.headers.authorization,
      body: undefined,
      status: 0,
      at,
    };
    this.requests.push(entry);
    let inFlightKey: string | undefined;
    try {
      const raw = await readBody(req);
      const route = new RegExp(`^${escape(this.#basePath)}/v1beta/properties/([^/:]+):(runReport|batchRunReports|runRealtimeReport)$`).exec(
        url.pathname,
      );
      if (!route) throw new ApiError(404, `The requested URL ${url.pathname} was not found on this server.`);
      if (req.method !== 'POST') throw new ApiError(404, `The requested URL ${url.pathname} was not found on this server (expected POST).`);
      entry.method = route[2] as Ga4Method;
      entry.propertyId = decodeURIComponent(route[1]!);
      this.#checkAuthorization(req.headers.authorization);
      let body: Record<string, unknown>;
      try {
        body = raw.length === 0 ? {} : (JSON.parse(raw) as Record<string, unknown>);
      } catch {
        throw new ApiError(400, 'Invalid JSON payload received. Unexpected token.');
      }
      entry.body = body;
      if (!/^[0-9]+$/.test(entry.propertyId))
        throw new ApiError(400, `Invalid property ID: ${entry.propertyId}. A numeric Property ID is required.`);
      const property = this.properties.get(entry.propertyId);
      if (!property || property.denied) throw new ApiError(403, MESSAGES.permission);

      inFlightKey = entry.propertyId;
      const inFlight = (this.#inFlight.get(inFlightKey) ?? 0) + 1;
      this.#inFlight.set(inFlightKey, inFlight);
      this.maxInFlight.set(inFlightKey, Math.max(inFlight, this.maxInFlight.get(inFlightKey) ?? 0));
      if (this.#latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, this.#latencyMs));
      if (inFlight > this.#limits(property).concurrentRequests) throw new ApiError(429, MESSAGES.concurrent);

      const scripted = this.#failures.find((f) => f.left > 0 && (!f.method || f.method === entry.method));
      if (scripted) {
        scripted.left--;
        throw new ApiError(scripted.status, scripted.message ?? defaultMessage(scripted.status));
      }

      let answer: unknown;
      if (entry.method === 'runReport') {
        answer = { ...this.#runReport(property, body, 'request'), kind: 'analyticsData#runReport' };
      } else if (entry.method === 'batchRunReports') {
        answer = this.#batch(property, body);
      } else {
        answer = this.#realtime(property, body);
      }
      entry.status = 200;
      send(res, 200, answer);
    } catch (error) {
      const status = error instanceof ApiError ? error.status : 500;
      const message = error instanceof ApiError ? error.message : MESSAGES.internal;
      entry.status = status;
      send(res, status, { error: { code: status, message, status: ERROR_STATUS[status] ?? 'UNKNOWN' } });
    } finally {
      if (inFlightKey) this.#inFlight.set(inFlightKey, (this.#inFlight.get(inFlightKey) ?? 1) - 1);
    }
  }

  #checkAuthorization(header: string | undefined): void {
    if (!header) throw new ApiError(401, MESSAGES.missingCredentials);
    const match = /^Bearer (.+)$/.exec(header);
    if (!match || !this.#tokens.has(match[1]!)) throw new ApiError(401, MESSAGES.invalidCredentials);
  }

  #property(id: string): FakeProperty {
    const property = this.properties.get(id);
    if (!property) throw new Error(`Ga4Fake: no property ${id}`);
    return property;
  }

  #limits(property: FakeProperty): QuotaLimits {
    const base = property.analytics360 ? scale(STANDARD_LIMITS, 10) : STANDARD_LIMITS;
    return { ...base, ...property.limits };
  }

  #use(propertyId: string, pool: 'core' | 'realtime'): QuotaUse {
    const key = `${propertyId}/${pool}`;
    const now = this.#now();
    const hourKey = Math.floor(now / 3_600_000);
    // Daily tokens return at midnight Pacific time.
    const dayKey = localDate(now, 'America/Los_Angeles');
    let use = this.#quota.get(key);
    if (!use) {
      use = { hourKey, hour: 0, dayKey, day: 0 };
      this.#quota.set(key, use);
    }
    if (use.hourKey !== hourKey) Object.assign(use, { hourKey, hour: 0 });
    if (use.dayKey !== dayKey) Object.assign(use, { dayKey, day: 0 });
    return use;
  }

  /** Charges one request's tokens, or throws 429 when a quota is used up; returns the PropertyQuota after it. */
  #charge(property: FakeProperty, pool: 'core' | 'realtime'): Record<string, { consumed: number; remaining: number }> {
    const use = this.#use(property.id, pool);
    const limits = this.#limits(property);
    if (use.day >= limits.tokensPerDay) throw new ApiError(429, MESSAGES.tokensPerDay);
    if (use.hour >= limits.tokensPerHour) throw new ApiError(429, MESSAGES.tokensPerHour);
    const cost = pool === 'core' ? (property.tokensPerRequest ?? 5) : (property.realtimeTokensPerRequest ?? 2);
    use.hour += cost;
    use.day += cost;
    const status = (consumed: number, limit: number, used: number) => ({ consumed, remaining: Math.max(0, limit - used) });
    return {
      tokensPerDay: status(cost, limits.tokensPerDay, use.day),
      tokensPerHour: status(cost, limits.tokensPerHour, use.hour),
      concurrentRequests: status(0, limits.concurrentRequests, 0),
      serverErrorsPerProjectPerHour: status(0, limits.serverErrorsPerProjectPerHour, 0),
      potentiallyThresholdedRequestsPerHour: status(0, limits.potentiallyThresholdedRequestsPerHour, 0),
      tokensPerProjectPerHour: status(cost, limits.tokensPerProjectPerHour, Math.min(use.hour, limits.tokensPerProjectPerHour)),
    };
  }

  #batch(property: FakeProperty, body: Record<string, unknown>): unknown {
    unknownFields(body, new Set(['requests']), 'request');
    const requests = body.requests;
    if (!Array.isArray(requests) || requests.length === 0) throw new ApiError(400, 'requests: at least one request is required.');
    if (requests.length > 5) throw new ApiError(400, `Batch request contains ${requests.length} requests; the maximum is 5.`);
    // Every request is checked before any is answered: one bad request fails the batch.
    requests.forEach((request, i) => this.#validateReport(property, request as Record<string, unknown>, `requests[${i}]`));
    const reports = requests.map((request, i) => ({
      ...this.#runReport(property, request as Record<string, unknown>, `requests[${i}]`),
      kind: 'analyticsData#runReport',
    }));
    return { reports, kind: 'analyticsData#batchRunReports' };
  }

  #validateReport(property: FakeProperty, body: Record<string, unknown>, where: string): void {
    if (!body || typeof body !== 'object') throw new ApiError(400, `${where}: expected an object.`);
    unknownFields(body, RUN_REPORT_FIELDS, where);
    if (body.property !== undefined && body.property !== `properties/${property.id}`) {
      throw new ApiError(400, `${where}.property: requests in a batch must be for the batch's property (properties/${property.id}).`);
    }
    const dimensions = names(body.dimensions, 'dimensions', where);
    const metrics = names(body.metrics, 'metrics', where);
    if (metrics.length === 0) throw new ApiError(400, 'At least one metric is required.');
    if (metrics.length > 10) throw new ApiError(400, `Requested ${metrics.length} metrics; only 10 are allowed.`);
    if (dimensions.length > 9) throw new ApiError(400, `Requested ${dimensions.length} dimensions; only 9 are allowed.`);
    const known = this.#knownDimensions(property);
    for (const d of dimensions)
      if (!TIME_DIMENSIONS.has(d) && !known.has(d)) throw new ApiError(400, `Field ${d} is not a valid dimension. ${SCHEMA_HINT}`);
    const knownMetrics = this.#knownMetrics(property);
    for (const m of metrics) if (!knownMetrics.has(m)) throw new ApiError(400, `Field ${m} is not a valid metric. ${SCHEMA_HINT}`);
    const ranges = body.dateRanges;
    if (!Array.isArray(ranges) || ranges.length === 0) throw new ApiError(400, 'dateRanges: at least one date range is required.');
    if (ranges.length > 1) throw new ApiError(400, 'The fake answers one date range only (GA would add a dateRange column).');
    this.#dates(property, ranges[0] as Record<string, unknown>);
    integer(body.limit, 'limit', 1);
    integer(body.offset, 'offset', 0);
  }

  #runReport(property: FakeProperty, body: Record<string, unknown>, where: string) {
    this.#validateReport(property, body, where);
    const quota = this.#charge(property, 'core');
    const dimensions = names(body.dimensions, 'dimensions', where);
    const metrics = names(body.metrics, 'metrics', where);
    const [startDate, endDate] = this.#dates(property, (body.dateRanges as Record<string, unknown>[])[0]!);
    const filter = body.dimensionFilter as FilterExpression | undefined;
    const groups = new Map<string, { values: string[]; sums: number[] }>();
    for (const row of property.rows ?? []) {
      const date = `${row.dateHour.slice(0, 4)}-${row.dateHour.slice(4, 6)}-${row.dateHour.slice(6, 8)}`;
      if (date < startDate || date > endDate) continue;
      const value = (name: string) => timeValue(row.dateHour, name) ?? row.dimensions?.[name] ?? '(not set)';
      if (filter && !matches(filter, value)) continue;
      const values = dimensions.map(value);
      const key = JSON.stringify(values);
      let group = groups.get(key);
      if (!group) groups.set(key, (group = { values, sums: metrics.map(() => 0) }));
      metrics.forEach((m, i) => (group!.sums[i]! += row.metrics[m] ?? 0));
    }
    let rows = [...groups.values()].filter((g) => body.keepEmptyRows === true || g.sums.some((s) => s !== 0));
    rows = sortRows(rows, dimensions, body.orderBys);
    return this.#answer(property, dimensions, metrics, rows, body, quota, true);
  }

  #realtime(property: FakeProperty, body: Record<string, unknown>) {
    unknownFields(body, REALTIME_FIELDS, 'request');
    const dimensions = names(body.dimensions, 'dimensions', 'request');
    const metrics = names(body.metrics, 'metrics', 'request');
    if (metrics.length === 0) throw new ApiError(400, 'At least one metric is required.');
    const known = new Set(['minutesAgo', ...this.#knownDimensions(property, 'realtime')]);
    for (const d of dimensions) if (!known.has(d)) throw new ApiError(400, `Field ${d} is not a valid dimension. ${REALTIME_HINT}`);
    const knownMetrics = this.#knownMetrics(property, 'realtime');
    for (const m of metrics) if (!knownMetrics.has(m)) throw new ApiError(400, `Field ${m} is not a valid metric. ${REALTIME_HINT}`);
    const maxMinutes = property.analytics360 ? 59 : 29;
    const ranges = (body.minuteRanges as Array<Record<string, unknown>> | undefined) ?? [{}];
    if (!Array.isArray(ranges) || ranges.length !== 1)
      throw new ApiError(400, 'The fake answers one minute range only (GA would add a dateRange column).');
    const start = integer(ranges[0]!.startMinutesAgo, 'startMinutesAgo', 0) ?? 29;
    const end = integer(ranges[0]!.endMinutesAgo, 'endMinutesAgo', 0) ?? 0;
    if (start > maxMinutes) throw new ApiError(400, `startMinutesAgo must be at most ${maxMinutes} for this property.`);
    if (end > start) throw new ApiError(400, 'endMinutesAgo cannot be greater than startMinutesAgo.');
    integer(body.limit, 'limit', 1);
    const quota = this.#charge(property, 'realtime');
    const nowMinute = Math.floor(this.#now() / 60_000);
    const filter = body.dimensionFilter as FilterExpression | undefined;
    const groups = new Map<string, { values: string[]; sums: number[] }>();
    for (const row of property.realtime ?? []) {
      const minutesAgo = nowMinute - Math.floor(row.minute / 60);
      if (minutesAgo < end || minutesAgo > start) continue;
      const value = (name: string) =>
        name === 'minutesAgo' ? String(minutesAgo).padStart(2, '0') : (row.dimensions?.[name] ?? '(not set)');
      if (filter && !matches(filter, value)) continue;
      const values = dimensions.map(value);
      const key = JSON.stringify(values);
      let group = groups.get(key);
      if (!group) groups.set(key, (group = { values, sums: metrics.map(() => 0) }));
      metrics.forEach((m, i) => (group!.sums[i]! += row.metrics[m] ?? 0));
    }
    const rows = sortRows(
      [...groups.values()].filter((g) => g.sums.some((s) => s !== 0)),
      dimensions,
      body.orderBys,
    );
    // Realtime answers have no metadata (RunRealtimeReportResponse).
    return {
      ...this.#answer(property, dimensions, metrics, rows, { ...body, offset: undefined }, quota, false),
      kind: 'analyticsData#runRealtimeReport',
    };
  }

  #answer(
    property: FakeProperty,
    dimensions: string[],
    metrics: string[],
    rows: Array<{ values: string[]; sums: number[] }>,
    body: Record<string, unknown>,
    quota: Record<string, unknown>,
    withMetadata: boolean,
  ) {
    const limit = Math.min(
      integer(body.limit, 'limit', 1) ?? DEFAULT_LIMIT,
      MAX_ROWS,
      (withMetadata && property.maxRowsPerAnswer) || MAX_ROWS,
    );
    const offset = integer(body.offset, 'offset', 0) ?? 0;
    const page = rows.slice(offset, offset + limit);
    const types = metrics.map(
      (m) => property.metricTypes?.[m] ?? (rows.some((r) => !Number.isInteger(r.sums[metrics.indexOf(m)])) ? 'TYPE_FLOAT' : 'TYPE_INTEGER'),
    );
    const answer: Record<string, unknown> = {
      dimensionHeaders: dimensions.map((name) => ({ name })),
      metricHeaders: metrics.map((name, i) => ({ name, type: types[i] })),
    };
    // Proto3 JSON leaves out empty lists and zero counts: an answer without rows has neither rows nor rowCount.
    if (page.length > 0) {
      answer.rows = page.map((r) => ({
        dimensionValues: r.values.map((value) => ({ value })),
        metricValues: r.sums.map((s) => ({ value: String(s) })),
      }));
    }
    if (rows.length > 0) answer.rowCount = rows.length;
    if (withMetadata) {
      answer.metadata = {
        currencyCode: property.currencyCode ?? 'USD',
        ...(property.omitTimeZone ? {} : { timeZone: property.timeZone ?? 'America/Los_Angeles' }),
        ...(property.subjectToThresholding ? { subjectToThresholding: true } : {}),
        ...(property.dataLossFromOtherRow ? { dataLossFromOtherRow: true } : {}),
      };
    }
    if (body.returnPropertyQuota === true) answer.propertyQuota = quota;
    return answer;
  }

  #knownDimensions(property: FakeProperty, pool: 'core' | 'realtime' = 'core'): Set<string> {
    const known = new Set(property.extraDimensions ?? []);
    for (const row of pool === 'core' ? (property.rows ?? []) : (property.realtime ?? []))
      for (const d of Object.keys(row.dimensions ?? {})) known.add(d);
    return known;
  }

  #knownMetrics(property: FakeProperty, pool: 'core' | 'realtime' = 'core'): Set<string> {
    const known = new Set(Object.keys(property.metricTypes ?? {}));
    for (const row of pool === 'core' ? (property.rows ?? []) : (property.realtime ?? []))
      for (const m of Object.keys(row.metrics)) known.add(m);
    return known;
  }

  /** `[startDate, endDate]` as YYYY-MM-DD, with `today`, `yesterday` and `NdaysAgo` in the property's zone. */
  #dates(property: FakeProperty, range: Record<string, unknown>): [string, string] {
    const zone = property.timeZone ?? 'America/Los_Angeles';
    const resolve = (value: unknown, field: string): string => {
      if (typeof value !== 'string') throw new ApiError(400, `dateRanges.${field} is required.`);
      const today = localDate(this.#now(), zone);
      if (value === 'today') return today;
      if (value === 'yesterday') return shiftDate(today, -1);
      const ago = /^(\d+)daysAgo$/.exec(value);
      if (ago) return shiftDate(today, -Number(ago[1]));
      if (!/^\d{4}-\d{2}-\d{2}$/.test(value) || Number.isNaN(Date.parse(value))) {
        throw new ApiError(400, `Invalid ${field}: ${value}. Dates must be in the format YYYY-MM-DD, NdaysAgo, yesterday, or today.`);
      }
      if (value < '2015-08-14') throw new ApiError(400, `Invalid ${field}: ${value}. Dates must be on or after 2015-08-14.`);
      return value;
    };
    const start = resolve(range.startDate, 'startDate');
    const end = resolve(range.endDate, 'endDate');
    if (start > end) throw new ApiError(400, `Invalid date range: startDate ${start} is after endDate ${end}.`);
    return [start, end];
  }
}

type FilterExpression = {
  andGroup?: { expressions?: FilterExpression[] };
  orGroup?: { expressions?: FilterExpression[] };
  notExpression?: FilterExpression;
  filter?: {
    fieldName?: string;
    stringFilter?: { value?: string; matchType?: string; caseSensitive?: boolean };
    inListFilter?: { values?: string[] };
  };
};

/** The part of GA's FilterExpression the fake understands: and/or/not groups, string (exact, begins, contains) and in-list filters. */
function matches(expression: FilterExpression, value: (name: string) => string): boolean {
  if (expression.andGroup) return (expression.andGroup.expressions ?? []).every((e) => matches(e, value));
  if (expression.orGroup) return (expression.orGroup.expressions ?? []).some((e) => matches(e, value));
  if (expression.notExpression) return !matches(expression.notExpression, value);
  const filter = expression.filter;
  if (!filter?.fieldName) throw new ApiError(400, 'dimensionFilter: a filter needs a fieldName.');
  const actual = value(filter.fieldName);
  if (filter.inListFilter) return (filter.inListFilter.values ?? []).includes(actual);
  const wanted = filter.stringFilter?.value ?? '';
  switch (filter.stringFilter?.matchType ?? 'EXACT') {
    case 'EXACT':
      return actual === wanted;
    case 'BEGINS_WITH':
      return actual.startsWith(wanted);
    case 'ENDS_WITH':
      return actual.endsWith(wanted);
    case 'CONTAINS':
      return actual.includes(wanted);
    default:
      throw new ApiError(400, `The fake does not implement matchType ${filter.stringFilter?.matchType}.`);
  }
}

function sortRows(rows: Array<{ values: string[]; sums: number[] }>, dimensions: string[], orderBys: unknown) {
  const order = Array.isArray(orderBys)
    ? (orderBys as Array<{ dimension?: { dimensionName?: string }; desc?: boolean }>)
        .filter((o) => o.dimension?.dimensionName)
        .map((o) => ({ index: dimensions.indexOf(o.dimension!.dimensionName!), desc: o.desc === true }))
        .filter((o) => o.index >= 0)
    : [];
  // Without orderBys the fake still answers in one stable order, so pages never overlap.
  const keys = [...order, ...dimensions.map((_, index) => ({ index, desc: false }))];
  return [...rows].sort((a, b) => {
    for (const { index, desc } of keys) {
      const c = a.values[index]! < b.values[index]! ? -1 : a.values[index]! > b.values[index]! ? 1 : 0;
      if (c !== 0) return desc ? -c : c;
    }
    return 0;
  });
}

function timeValue(dateHour: string, name: string): string | undefined {
  switch (name) {
    case 'dateHour':
      return dateHour;
    case 'date':
      return dateHour.slice(0, 8);
    case 'hour':
      return dateHour.slice(8, 10);
    case 'year':
      return dateHour.slice(0, 4);
    case 'month':
      return dateHour.slice(4, 6);
    case 'day':
      return dateHour.slice(6, 8);
    default:
      return undefined;
  }
}

function names(list: unknown, field: string, where: string): string[] {
  if (list === undefined) return [];
  if (!Array.isArray(list)) throw new ApiError(400, `${where}.${field}: expected a list.`);
  return list.map((item, i) => {
    const name = (item as { name?: unknown })?.name;
    if (typeof name !== 'string' || name === '') throw new ApiError(400, `${where}.${field}[${i}].name is required.`);
    return name;
  });
}

/** An int64/int32 field: Google's JSON accepts a number or a decimal string. */
function integer(value: unknown, field: string, min: number): number | undefined {
  if (value === undefined || value === null) return undefined;
  const n =
    typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : typeof value === 'number' && Number.isInteger(value) ? value : NaN;
  if (Number.isNaN(n)) throw new ApiError(400, `Invalid value at '${field}', "${String(value)}"`);
  if (n < min) throw new ApiError(400, min === 1 ? `${field} must be positive.` : `${field} must be non-negative.`);
  return n;
}

function unknownFields(body: Record<string, unknown>, known: Set<string>, where: string): void {
  for (const key of Object.keys(body)) {
    if (!known.has(key)) throw new ApiError(400, `Invalid JSON payload received. Unknown name "${key}" at '${where}': Cannot find field.`);
  }
}

function defaultMessage(status: number): string {
  switch (status) {
    case 401:
      return MESSAGES.invalidCredentials;
    case 403:
      return MESSAGES.permission;
    case 429:
      return MESSAGES.tokensPerHour;
    case 500:
      return MESSAGES.internal;
    case 503:
      return MESSAGES.unavailable;
    default:
      return MESSAGES.invalid;
  }
}

function localDate(epochMs: number, timeZone: string): string {
  // en-CA formats as YYYY-MM-DD.
  return new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date(epochMs));
}

function shiftDate(date: string, days: number): string {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  return new Date(Date.UTC(y, m - 1, d + days)).toISOString().slice(0, 10);
}

function scale(limits: QuotaLimits, factor: number): QuotaLimits {
  return Object.fromEntries(
    Object.entries(limits).map(([k, v]) => [k, k === 'potentiallyThresholdedRequestsPerHour' ? v : v * factor]),
  ) as unknown as QuotaLimits;
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body, null, 2);
  res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
