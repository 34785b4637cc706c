// Google Analytics 4: realtime minutes and hourly/daily reports from the Data API (v1beta), revised data re-fetched, within quota.
import { fanOut, isConfigError, definePoller, PartialFailure, type PollContext, type PollStats } from '../lib/poller-kit/index.ts';
import { classifyError } from './google-analytics/api-error.ts';
import { runBatch } from './google-analytics/batching.ts';
import { ClientFactory, type Ga4Client, type RunRealtimeReportRequest, type RunReportResponse } from './google-analytics/client.ts';
import { optionsSchema, type GoogleAnalyticsOptions, type RealtimeEntry, type ReportEntry } from './google-analytics/options.ts';
import { completePeriods, RecentDimensions } from './google-analytics/fill.ts';
import { fetchAllPages } from './google-analytics/pagination.ts';
import { planRequests } from './google-analytics/plan.ts';
import { QuotaGauges } from './google-analytics/quota.ts';
import { fillReport, mapRealtimeRows, mapReportRows, type RowNotes } from './google-analytics/report-mapping.ts';
import { containsPeriodStart, dateRangeFor, pointRange, reportRequest, type DateRange } from './google-analytics/report-request.ts';
import { RequestPolicy, type RunContext } from './google-analytics/request-policy.ts';
import { isValidTimeZone } from '../lib/poller-kit/index.ts';

/** GA keeps aggregated report data for years (the retention setting limits explorations, not reports). */
const RETENTION_SECONDS = 10 * 365 * 86_400;

export interface GoogleAnalyticsDependencies {
  /** Where credentials and GA4_API_ROOT_URL are read; process.env by default. */
  env?: NodeJS.ProcessEnv;
}

type Context = PollContext<GoogleAnalyticsOptions>;

/**
 * A google-analytics poller with its own caches (auth clients, time zones, quota state): the runner makes one per job.
 * Its waits (quota, retry backoff) run on the poll context's `sleep`: the runner's clock, ended by the run's deadline.
 */
export function createGoogleAnalyticsPoller(dependencies: GoogleAnalyticsDependencies = {}) {
  const env = () => dependencies.env ?? process.env;
  const clients = new ClientFactory();
  const policy = new RequestPolicy();
  const timeZones = new Map<string, string>(); // property → IANA zone, from GA's answers
  const lastFetch = new Map<string, number>(); // job/report → window end of its last complete live fetch
  const noted = new Set<string>(); // notes already logged, so each is logged once per report
  const recentDimensions = new RecentDimensions(); // job/report → dimension values with rows lately, for fill

  const noteOnce = (ctx: Context, key: string, message: string) => {
    if (noted.has(`${ctx.job}/${key}`)) return;
    noted.add(`${ctx.job}/${key}`);
    ctx.log.warn(message);
  };

  const rememberTimeZone = (ctx: Context | undefined, propertyId: string, zone: string | null | undefined): string | undefined => {
    if (zone && isValidTimeZone(zone)) {
      const known = timeZones.get(propertyId);
      if (known && known !== zone) ctx?.log.warn(`property ${propertyId} changed its time zone from ${known} to ${zone}`);
      timeZones.set(propertyId, zone);
    }
    return timeZones.get(propertyId);
  };

  const runContext = (ctx: Context): RunContext => ({
    signal: ctx.signal,
    stats: ctx.stats,
    log: ctx.log,
    mode: ctx.mode,
    interval: ctx.schedule.interval,
    now: () => ctx.now(),
    sleep: (ms) => ctx.sleep(ms),
  });

  async function pollRealtime(ctx: Context, client: Ga4Client, entry: RealtimeEntry, index: number, gauges: QuotaGauges): Promise<void> {
    const { options } = ctx;
    const what = `realtime[${index}]`;
    const request: RunRealtimeReportRequest = {
      dimensions: ['minutesAgo', ...entry.dimensions].map((name) => ({ name })),
      metrics: entry.metrics.map((name) => ({ name })),
      minuteRanges: [{ startMinutesAgo: options.realtimeMinutes - 1, endMinutesAgo: 0 }],
      ...(entry.dimensionFilter ? { dimensionFilter: entry.dimensionFilter } : {}),
      limit: String(options.pageSize),
      returnPropertyQuota: true,
    };
    let sentAt = 0;
    const response = await policy.send(what, client.propertyId, 'realtime', options, runContext(ctx), (signal) => {
      sentAt = ctx.now();
      return client.runRealtimeReport(request, signal);
    });
    // minutesAgo counts from GA's clock at the moment it answered: the middle of the round trip is our best guess.
    const answeredAt = (sentAt + ctx.now()) / 2 / 1000;
    gauges.record('realtime', response.propertyQuota);
    const received = response.rows?.length ?? 0;
    ctx.stats.count('rows', received);
    const notes = mapRealtimeRows(
      response,
      entry,
      { propertyId: client.propertyId, answeredAt, field: `realtime[${index}]` },
      (path, value, timestamp) => ctx.sink.emit(path, value, timestamp),
    );
    logNotes(ctx, what, notes);
    // Realtime reports have no offset to page with: the only remedy for a cut answer is a larger limit.
    const rowCount = Number(response.rowCount ?? 0);
    if (rowCount > received)
      noteOnce(ctx, `${what}/cut`, `${what}: GA has ${rowCount} rows but answered ${received}; raise pageSize to get them all`);
    await ctx.sink.ready();
  }

  function logNotes(ctx: Context, what: string, notes: RowNotes): void {
    if (notes.otherRow)
      noteOnce(
        ctx,
        `${what}/other`,
        `${what}: GA rolled some rows into "(other)" (too many distinct values); they are written as GA returns them`,
      );
    if (notes.thresholded) {
      noteOnce(
        ctx,
        `${what}/thresholded`,
        `${what}: GA applies thresholding to this report; rows below its privacy thresholds are missing from GA's answer`,
      );
    }
    if (notes.badTime > 0) noteOnce(ctx, `${what}/time`, `${what}: ${notes.badTime} rows without a readable time value were skipped`);
  }

  async function pollReports(ctx: Context, client: Ga4Client, reports: ReportEntry[], gauges: QuotaGauges): Promise<Error[]> {
    const { options, window, mode } = ctx;
    const propertyId = client.propertyId;
    const field = (report: ReportEntry) => `reports[${options.reports.indexOf(report)}]`;
    // Dates are fixed before the first page, so every page of a report asks for the same rows.
    // Only a zone GA has named makes dates exact; until then they are widened (dateRangeFor).
    const timeZone = timeZones.get(propertyId);
    const dates = new Map<ReportEntry, DateRange>();
    for (const report of reports) {
      // A backfill window in which no hour or day starts has no point to write: no request (catch-up after a
      // failed tick asks for one-interval windows).
      if (timeZone && mode === 'backfill' && !containsPeriodStart(report, pointRange(report, window, mode, timeZone), timeZone)) continue;
      const range = dateRangeFor(report, window, mode, timeZone);
      if (range) dates.set(report, range);
    }
    // What each report's answers held, for fill: `${combination}@${timestamp}` of every row, and whether GA thresholded it.
    const rowsOf = new Map<ReportEntry, { had: Set<string>; thresholded: boolean }>(
      [...dates.keys()].map((r) => [r, { had: new Set(), thresholded: false }]),
    );
    const memoryKey = (report: ReportEntry) => JSON.stringify([ctx.job, report.name, report.dimensions, report.dimensionFilter ?? null]);
    const result = await fetchAllPages<ReportEntry>({
      reports: [...dates.keys()],
      pageSize: options.pageSize,
      request: (report, offset, limit) => reportRequest(report, dates.get(report)!, limit, offset),
      fetchBatch: (pages) => {
        const names = pages.map((p) => `${p.report.name}${p.offset ? `@${p.offset}` : ''}`).join(', ');
        return policy.send(`batchRunReports [${names}]`, propertyId, 'core', options, runContext(ctx), (signal) =>
          runBatch(
            pages.map((p) => p.request),
            (requests) => client.batchRunReports(requests, signal),
          ),
        );
      },
      onPage: async ({ report }, response: RunReportResponse) => {
        gauges.record('core', response.propertyQuota);
        ctx.stats.count('rows', response.rows?.length ?? 0);
        const timeZone = rememberTimeZone(ctx, propertyId, response.metadata?.timeZone) ?? options.timeZone;
        if (!timeZone)
          throw new Error(`report ${report.name}: GA's answer does not name the property's time zone (metadata.timeZone); set timeZone`);
        const { from, to } = pointRange(report, window, mode, timeZone);
        const rows = rowsOf.get(report)!;
        const seen = (combination: string, timestamp: number) => {
          rows.had.add(`${combination}@${timestamp}`);
          if (report.dimensions.length > 0) recentDimensions.remember(memoryKey(report), combination, timestamp);
        };
        const notes = mapReportRows(
          response,
          report,
          { propertyId, timeZone, from, to, field: field(report), seen },
          (path, value, timestamp) => ctx.sink.emit(path, value, timestamp),
        );
        rows.thresholded ||= notes.thresholded;
        logNotes(ctx, `report ${report.name}`, notes);
        await ctx.sink.ready();
      },
    });
    // Only a report every page of which arrived is filled: a 0 must never stand for a row that was not read.
    for (const report of result.complete) {
      const rows = rowsOf.get(report)!;
      const zone = timeZones.get(propertyId) ?? options.timeZone;
      if (report.fill === 'none' || rows.thresholded || !zone) continue;
      const { from, to } = pointRange(report, window, mode, zone);
      const periods = completePeriods(report.granularity, from, to, zone, Math.floor(ctx.now() / 1000));
      const combinations =
        report.dimensions.length === 0
          ? ['[]']
          : [
              ...new Set([
                ...[...rows.had].map((key) => key.slice(0, key.lastIndexOf('@'))),
                ...recentDimensions.recent(memoryKey(report), from, to),
              ]),
            ];
      const filled = fillReport(
        report,
        { propertyId, field: field(report) },
        periods,
        combinations,
        (c, t) => rows.had.has(`${c}@${t}`),
        (path, value, timestamp) => ctx.sink.emit(path, value, timestamp),
      );
      if (filled > 0) ctx.stats.count('filled', filled);
      await ctx.sink.ready();
    }
    if (mode === 'live')
      for (const report of reports)
        if (!result.failures.some((f) => f.reports.includes(report))) lastFetch.set(`${ctx.job}/${report.name}`, window.end);
    return result.failures.map(({ reports: failed, error }) => {
      if (isConfigError(error)) return error;
      const reason = classifyError(error, `reports ${failed.map((r) => r.name).join(', ')}`);
      return reason;
    });
  }

  /** Live ticks fetch a report at first, then once `every` has passed since its last complete fetch. */
  const isDue = (ctx: Context, report: ReportEntry): boolean => {
    const last = lastFetch.get(`${ctx.job}/${report.name}`);
    return last === undefined || ctx.window.end - last >= report.every || ctx.window.end < last;
  };

  return definePoller({
    name: 'google-analytics',
    summary: 'Google Analytics 4 realtime minutes and hourly or daily reports, through the GA4 Data API',
    options: optionsSchema,
    // Realtime needs a tick a minute (GA keeps 30 minutes); reports pace themselves with their own `every`.
    schedule: { interval: 60, delay: 0, lookback: 0 },
    history: {
      maxWindow: (options) => options.backfillWindow,
      retention: () => RETENTION_SECONDS,
      // No step: windows follow the job's interval. Points are kept by the start of their hour or day, so any
      // window boundaries (and zones such as UTC+5:30) partition them exactly.
      async timeZone(options, { fetch, signal }) {
        const known = timeZones.get(options.propertyId);
        if (known) return known;
        const client = clients.create(options, env(), fetch);
        const metric = options.reports[0]?.metrics[0] ?? 'activeUsers';
        let response: RunReportResponse;
        try {
          response = await client.runReport(
            { dateRanges: [{ startDate: 'today', endDate: 'today' }], metrics: [{ name: metric }], limit: '1', returnPropertyQuota: true },
            signal,
          );
        } catch (error) {
          throw classifyError(error, `asking property ${options.propertyId} for its time zone`);
        }
        const zone = rememberTimeZone(undefined, options.propertyId, response.metadata?.timeZone) ?? options.timeZone;
        if (!zone)
          throw new Error(`property ${options.propertyId}: GA's answer does not name a time zone (metadata.timeZone); set timeZone`);
        return zone;
      },
    },

    async poll(ctx) {
      const { options } = ctx;
      const client = clients.create(options, env(), ctx.fetch);
      const gauges = new QuotaGauges();
      // The parts: each realtime entry (live only: realtime covers only the last minutes, it has no history), and
      // the reports due, fetched together in batches (a batch's failure fails its reports, the others deliver).
      type Part = { realtime: RealtimeEntry; index: number } | { reports: ReportEntry[] };
      const parts: Part[] = ctx.mode === 'live' ? options.realtime.map((entry, index) => ({ realtime: entry, index })) : [];
      const due = ctx.mode === 'backfill' ? options.reports : options.reports.filter((report) => isDue(ctx, report));
      if (due.length > 0) parts.push({ reports: due });
      try {
        await fanOut(
          parts,
          async (part) => {
            if ('realtime' in part) return pollRealtime(ctx, client, part.realtime, part.index, gauges);
            const errors = await pollReports(ctx, client, part.reports, gauges);
            const config = errors.find(isConfigError);
            if (config) throw config;
            if (errors.length > 0) throw new BatchFailures(errors);
          },
          {
            // Every part at once: the property's limiter (request-policy.ts) keeps GA's 10 requests in flight.
            concurrency: Math.max(1, parts.length),
            signal: ctx.signal,
            noun: 'GA requests',
            label: (part) => ('realtime' in part ? `realtime[${part.index}]` : 'reports'),
            // A request cut by the run's deadline says what it was waiting for: that is the line the runner logs.
            abortWins: false,
          },
        );
      } catch (error) {
        throw error instanceof PartialFailure ? requestsError(error, ctx.stats) : error;
      } finally {
        gauges.flush(ctx.stats);
      }
    },

    plan: (options, schedule) => planRequests(options, schedule),
  });
}

/** The failed batches of the reports part: each is one failed request, counted and named on its own. */
class BatchFailures extends Error {
  readonly errors: Error[];

  constructor(errors: Error[]) {
    super(errors.map((e) => e.message).join('; '));
    this.errors = errors;
  }
}

/**
 * The failed requests (realtime entries, report batches), each counted in `parts_failed`, as the runner's one line:
 * one request's own error, or several with those that failed for the same reason named together.
 */
function requestsError(failure: PartialFailure, stats: PollStats): Error {
  const errors = failure.failures.flatMap(({ error, label }) =>
    error instanceof BatchFailures ? error.errors : [asError(error, label ?? 'reports')],
  );
  stats.count('parts_failed', errors.length);
  return errors.length === 1 ? errors[0]! : combinedError(errors);
}

/** One error for the runner's one log line: requests that failed for the same reason are named together. */
function combinedError(errors: Error[]): Error {
  const byReason = new Map<string, string[]>();
  for (const error of errors) {
    // Messages read "<request>: <reason>".
    const at = error.message.indexOf(': ');
    const [what, reason] = at > 0 ? [error.message.slice(0, at), error.message.slice(at + 2)] : ['', error.message];
    byReason.set(reason, [...(byReason.get(reason) ?? []), what]);
  }
  const parts = [...byReason].map(([reason, whats]) => (whats.some(Boolean) ? `${whats.filter(Boolean).join(', ')}: ${reason}` : reason));
  return new Error(`${errors.length} GA requests failed: ${parts.join('; ')}`);
}

function asError(error: unknown, what: string): Error {
  if (isConfigError(error)) return error;
  return classifyError(error, what);
}

export default createGoogleAnalyticsPoller;
