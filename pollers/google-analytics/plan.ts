// --plan: requests and estimated quota tokens per tick and per day, against a standard GA4 property's quotas.
import { formatDuration, type JobSchedule, type PollPlan } from '../../lib/poller-kit/index.ts';
import { BATCH_LIMIT } from './batching.ts';
import type { GoogleAnalyticsOptions, ReportEntry } from './options.ts';
import { MAX_CONCURRENT_REQUESTS } from './request-policy.ts';

/** Standard property quotas (Analytics 360: ten times as much); realtime requests draw on a separate set. */
export const STANDARD_QUOTA = { tokensPerHour: 40_000, tokensPerDay: 200_000, tokensPerProjectPerHour: 14_000 };
/** GA does not publish a request's price; "most requests consume fewer than 10 tokens", so plan with 10. */
export const TOKENS_PER_REQUEST = 10;

const DAY = 86_400;

function number(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** Periods (hours or days) one live fetch of a report covers: its lookback, plus the period it starts in. */
export function periodsPerFetch(report: ReportEntry): number {
  const period = report.granularity === 'hour' ? 3600 : DAY;
  return Math.ceil(report.lookback / period) + 1;
}

export interface ReportCost {
  /** batchRunReports calls per day for first pages. */
  batchCallsPerDay: number;
  /** Report requests (each report in a batch is charged) per day. */
  reportRequestsPerDay: number;
  /** The busiest hour's report requests: all reports fall due together at the full hour. */
  reportRequestsPeakHour: number;
}

/** Reports that fall due at the same ticks share batches: group by their effective period. */
export function reportCost(reports: readonly ReportEntry[], interval: number): ReportCost {
  const groups = new Map<number, number>();
  for (const report of reports) {
    const every = Math.max(report.every, interval);
    groups.set(every, (groups.get(every) ?? 0) + 1);
  }
  let batchCallsPerDay = 0;
  let reportRequestsPerDay = 0;
  let reportRequestsPeakHour = 0;
  for (const [every, count] of groups) {
    const fetchesPerDay = DAY / every;
    batchCallsPerDay += Math.ceil(count / BATCH_LIMIT) * fetchesPerDay;
    reportRequestsPerDay += count * fetchesPerDay;
    reportRequestsPeakHour += count * Math.max(1, 3600 / every);
  }
  return { batchCallsPerDay, reportRequestsPerDay, reportRequestsPeakHour };
}

export function planRequests(options: GoogleAnalyticsOptions, schedule: JobSchedule): PollPlan {
  const { interval } = schedule;
  const ticksPerDay = DAY / interval;
  const plan: PollPlan = {
    summary: [
      `property ${options.propertyId}, every ${formatDuration(interval)}: standard-property quotas (Analytics 360: ten times more); ` +
        `at most ${MAX_CONCURRENT_REQUESTS} requests in flight; estimates assume ${TOKENS_PER_REQUEST} tokens per report request ` +
        '(GA: "most requests consume fewer than 10"), the real figure is written as quota.tokens_consumed',
    ],
    requests: [],
    quota: [],
    parts: [],
    notes: [],
    warnings: [],
  };
  const requests = plan.requests!;
  const quota = plan.quota!;

  if (options.realtime.length > 0) {
    const perTick = options.realtime.length;
    const perDay = perTick * ticksPerDay;
    const perHour = perTick * Math.max(1, 3600 / interval);
    requests.push(
      { what: 'runRealtimeReport calls', singular: 'runRealtimeReport call', perTick, perDay, note: 'realtime' },
      {
        what: 'realtime tokens',
        estimate: true,
        perTick: perTick * TOKENS_PER_REQUEST,
        perHour: perHour * TOKENS_PER_REQUEST,
        perDay: perDay * TOKENS_PER_REQUEST,
      },
    );
    quota.push(
      { what: 'realtime tokens', estimate: true, used: perDay * TOKENS_PER_REQUEST, limit: STANDARD_QUOTA.tokensPerDay, per: 'day' },
      { what: 'realtime tokens', estimate: true, used: perHour * TOKENS_PER_REQUEST, limit: STANDARD_QUOTA.tokensPerHour, per: 'hour' },
    );
    if (perDay * TOKENS_PER_REQUEST > STANDARD_QUOTA.tokensPerDay) {
      plan.warnings!.push(
        "realtime would spend more than a standard property's daily realtime tokens; lengthen the interval or merge entries",
      );
    }
  }

  if (options.reports.length > 0) {
    const count = options.reports.length;
    const cost = reportCost(options.reports, interval);
    const batches = Math.ceil(count / BATCH_LIMIT);
    const perDay = cost.reportRequestsPerDay * TOKENS_PER_REQUEST;
    const peakHour = cost.reportRequestsPeakHour * TOKENS_PER_REQUEST;
    const due = 'per tick when all are due: the first tick, then as their every passes';
    requests.push(
      {
        what: 'batchRunReports calls',
        singular: 'batchRunReports call',
        perTick: batches,
        note: `for ${count} report${count > 1 ? 's' : ''}, ${due}`,
      },
      { what: 'batchRunReports calls', estimate: true, perDay: cost.batchCallsPerDay },
      { what: 'report tokens', estimate: true, perTick: count * TOKENS_PER_REQUEST, perDay },
    );
    quota.push(
      { what: 'tokens', estimate: true, used: perDay, limit: STANDARD_QUOTA.tokensPerDay, per: 'day' },
      { what: 'tokens', estimate: true, used: peakHour, limit: STANDARD_QUOTA.tokensPerHour, per: 'hour', scope: 'in the busiest hour' },
      {
        what: 'tokens',
        estimate: true,
        used: peakHour,
        limit: STANDARD_QUOTA.tokensPerProjectPerHour,
        per: 'hour',
        scope: 'per project, in the busiest hour',
      },
    );
    plan.parts!.push({
      title: 'reports',
      parts: options.reports.map((report) => {
        const periods = periodsPerFetch(report);
        const unit = report.granularity === 'hour' ? 'hours' : 'days';
        const per = report.dimensions.length > 0 ? ` per combination of ${report.dimensions.join(', ')}` : '';
        return {
          label: report.name,
          notes: [
            `every ${formatDuration(Math.max(report.every, interval))}, ${periods} ${unit} per fetch → ${periods} rows${per} ` +
              `(one more request per ${number(options.pageSize)} rows)`,
          ],
        };
      }),
    });
    if (perDay > STANDARD_QUOTA.tokensPerDay) {
      plan.warnings!.push("the reports would spend more than a standard property's daily tokens; raise their every or merge reports");
    }
    const windowsPer30Days = Math.ceil((30 * DAY) / options.backfillWindow);
    plan.notes!.push(
      `backfill: ${batches} batchRunReports call${batches > 1 ? 's' : ''} per ${formatDuration(options.backfillWindow)} window ` +
        `(more for long reports): ~${number(windowsPer30Days * batches)} calls and ` +
        `~${number(windowsPer30Days * count * TOKENS_PER_REQUEST)} tokens per 30 days of history`,
    );
  }
  return plan;
}
