// The google-analytics job options: one zod schema with defaults, descriptions and the checks GA would fail later.
import { z } from 'zod';
import { duration, isValidTimeZone, templatePlaceholders } from '../../lib/poller-kit/index.ts';

/** GA's Data API limits per request (https://developers.google.com/analytics/devguides/reporting/data/v1/basics). */
export const MAX_METRICS = 10;
export const MAX_DIMENSIONS = 9;
export const MAX_ROWS_PER_REQUEST = 250_000;

// API names (`country`, `pagePath`) and custom ones (`customEvent:plan`).
const FIELD_NAME = /^[A-Za-z][A-Za-z0-9_]*(:[A-Za-z0-9_]+)?$/;
// Time axes the poller adds itself; as a path node they would make one series per hour.
const REPORT_AXES = new Set(['date', 'dateHour', 'dateHourMinute']);
const REALTIME_AXES = new Set(['minutesAgo']);

const metricList = z
  .array(z.string().regex(FIELD_NAME, 'expected a GA metric name such as activeUsers'))
  .min(1, 'expected at least one metric')
  .max(MAX_METRICS, `GA allows at most ${MAX_METRICS} metrics per request`);

function dimensionList(axes: Set<string>, axisHint: string) {
  return z
    .array(
      z
        .string()
        .regex(FIELD_NAME, 'expected a GA dimension name such as country or customEvent:plan')
        .refine((name) => !axes.has(name), `the poller adds the time axis itself (${axisHint}); remove it from dimensions`),
    )
    .max(MAX_DIMENSIONS - 1, `GA allows ${MAX_DIMENSIONS} dimensions per request, one of which is the poller's time axis`)
    .default([]);
}

/**
 * The placeholder of a dimension in a path template: its name, with the `:` of custom dimensions as `-`
 * (a template's dots separate nodes, and GA names never contain `-`).
 */
export function dimensionPlaceholder(dimension: string): string {
  return dimension.replace(':', '-');
}

const filter = z
  .record(z.string(), z.unknown())
  .optional()
  .describe(
    'A GA FilterExpression exactly as the Data API takes it ' +
      '(for example {filter: {fieldName: country, stringFilter: {value: Japan}}}), to fetch only some rows. Not set: every row.',
  );

const realtimeEntry = z.strictObject({
  metrics: metricList.describe('Realtime metric names, such as activeUsers, eventCount or screenPageViews (at most 10).'),
  dimensions: dimensionList(REALTIME_AXES, 'minutesAgo').describe(
    'Realtime dimension names whose values become path nodes, such as country, unifiedScreenName or deviceCategory (at most 8). ' +
      'None: one series per metric.',
  ),
  path: z
    .string()
    .optional()
    .describe(
      'A path template replacing the default ga4.{propertyId}.realtime.{dimensions}.{metric}. Placeholders: ' +
        '{propertyId}, {metric}, {dimensions} (one node per dimension value) and each dimension by name ({country}; ' +
        'custom ones with - for the colon: {customEvent-plan}).',
    ),
  dimensionFilter: filter,
});

const reportEntry = z.strictObject({
  name: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,100}$/, 'expected letters, digits, "_" or "-" (it becomes a Graphite node)')
    .describe('Name of the report: a node of its default path, and how logs refer to it.'),
  metrics: metricList.describe('Metric names, such as sessions, activeUsers, screenPageViews or purchaseRevenue (at most 10).'),
  dimensions: dimensionList(REPORT_AXES, 'dateHour or date').describe(
    'Dimension names whose values become path nodes, such as country, pagePath or sessionDefaultChannelGroup (at most 8). ' +
      'None: one series per metric.',
  ),
  granularity: z
    .enum(['hour', 'day'])
    .describe(
      'hour: one point per hour (GA dimension dateHour); day: one point per day (date). ' +
        'Hours and days are those of the property time zone.',
    ),
  lookback: duration()
    .default(172800)
    .describe(
      'How far back each live fetch of this report reaches: every hour or day overlapping the last lookback is fetched again and ' +
        'overwritten, because GA revises processed data for 24 to 48 hours. Backfills fetch exactly their range instead.',
    ),
  every: duration()
    .default(3600)
    .describe(
      'How often a live job fetches this report: at its first tick, then whenever this much time has passed since the last ' +
        'successful fetch. The job interval stays short for realtime; reports do not need to spend quota every minute.',
    ),
  fill: z
    .union([z.literal(0), z.literal('none')])
    .default(0)
    .describe(
      'GA leaves out rows whose metrics are all 0, so a quiet hour would be a gap. 0 (the default): ' +
        'every hour or day of the range that has ended gets a 0 where GA answered no row; ' +
        "for a report with dimensions, each dimension value seen in the answer or in the job's rows of the last 7 days " +
        '(at most 1000 per report) gets its 0s. An hour or day still under way is never filled, ' +
        'and a report GA thresholds is not filled. none: send only the rows GA answers.',
    ),
  path: z
    .string()
    .optional()
    .describe(
      'A path template replacing the default ga4.{propertyId}.{report}.{dimensions}.{metric}. Placeholders: ' +
        '{propertyId}, {report}, {metric}, {dimensions} (one node per dimension value) and each dimension by name ({country}; ' +
        'custom ones with - for the colon: {customEvent-plan}).',
    ),
  dimensionFilter: filter,
});

export type RealtimeEntry = z.output<typeof realtimeEntry>;
export type ReportEntry = z.output<typeof reportEntry>;

export const optionsSchema = z
  .strictObject({
    propertyId: z
      .union([
        z.string().regex(/^(properties\/)?[0-9]+$/, 'expected the numeric GA4 property ID, such as 123456789'),
        z.number().int().positive(),
      ])
      .transform((id) => String(id).replace(/^properties\//, ''))
      .describe('The GA4 property ID (a number such as 123456789; Admin > Property settings). Not the G- measurement ID.'),
    keyFile: z
      .string()
      .optional()
      .describe(
        'Path of a service account key (JSON) with read access to the property; it takes precedence over the environment. Not set: ' +
          'GOOGLE_OAUTH_ACCESS_TOKEN (a ready bearer token), else GOOGLE_APPLICATION_CREDENTIALS (a key file).',
      ),
    apiRoot: z
      .url()
      .optional()
      .describe(
        'Root URL of the Data API, for a proxy or a test server. Not set: GA4_API_ROOT_URL, else https://analyticsdata.googleapis.com/.',
      ),
    timeZone: z
      .string()
      .refine(isValidTimeZone, 'expected an IANA time zone such as America/New_York')
      .optional()
      .describe(
        "The property's time zone, used only if GA's answers do not name it " +
          "(the Data API names it in every report's metadata.timeZone). Not set: such an answer is an error.",
      ),
    realtime: z
      .array(realtimeEntry)
      .default([])
      .describe(
        'Realtime reports, fetched on every tick: each minute of the last realtimeMinutes lands at its own timestamp, ' +
          'the start of that minute.',
      ),
    realtimeMinutes: z
      .number()
      .int()
      .min(1)
      .max(60)
      .default(30)
      .describe('How many recent minutes realtime reports ask for: 30 at most for standard properties, 60 for Analytics 360.'),
    reports: z
      .array(reportEntry)
      .default([])
      .describe('Reports on processed data, with one point per hour or day of the property time zone.'),
    pageSize: z
      .number()
      .int()
      .min(1)
      .max(MAX_ROWS_PER_REQUEST)
      .default(10_000)
      .describe(
        `Rows per request; longer reports are fetched page by page with offset until GA's rowCount, ` +
          `each page starting where the rows received end (GA may answer fewer than asked) ` +
          `(GA returns at most ${MAX_ROWS_PER_REQUEST} rows per request).`,
      ),
    maxQuotaWait: duration()
      .default(3600)
      .describe(
        'The longest a run waits for exhausted GA quota to return (the next hour for hourly tokens, ' +
          'midnight Pacific time for daily tokens) before it ends with an error. A live tick also never waits past its own interval: ' +
          'later ticks skip the API until the quota returns.',
      ),
    serverErrorRetries: z
      .number()
      .int()
      .min(0)
      .max(5)
      .default(2)
      .describe(
        'Retries of a request that failed with a server error (5xx) or a lost connection, ' +
          'after 2 s, then 4 s… GA allows only 10 server errors per project and property per hour, ' +
          'so the poller also stops retrying after 5 in an hour.',
      ),
    backfillWindow: duration()
      .default(604800)
      .describe('The longest range one backfill request covers; bin/backfill.ts splits longer ranges into windows of this length.'),
  })
  .superRefine((options, ctx) => {
    if (options.realtime.length === 0 && options.reports.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['reports'], message: 'configure at least one entry in realtime or reports' });
    }
    const names = new Set<string>();
    options.reports.forEach((report, i) => {
      if (names.has(report.name))
        ctx.addIssue({ code: 'custom', path: ['reports', i, 'name'], message: `duplicate report name "${report.name}"` });
      names.add(report.name);
      checkTemplate(report, ['report'], ['reports', i, 'path'], ctx);
    });
    options.realtime.forEach((entry, i) => checkTemplate(entry, [], ['realtime', i, 'path'], ctx));
  });

/** Every placeholder a template of this entry may use. */
export function knownPlaceholders(dimensions: readonly string[], extra: readonly string[]): Set<string> {
  return new Set(['propertyId', 'metric', 'dimensions', ...extra, ...dimensions.map(dimensionPlaceholder)]);
}

function checkTemplate(
  entry: { path?: string | undefined; metrics: string[]; dimensions: string[] },
  extra: string[],
  path: (string | number)[],
  ctx: z.RefinementCtx,
): void {
  if (entry.path === undefined) return;
  const used = templatePlaceholders(entry.path);
  const known = knownPlaceholders(entry.dimensions, extra);
  const unknown = used.find((p) => !known.has(p));
  if (unknown) {
    ctx.addIssue({
      code: 'custom',
      path,
      message: `unknown placeholder {${unknown}} (known: ${[...known].map((p) => `{${p}}`).join(', ')})`,
    });
    return;
  }
  if (entry.metrics.length > 1 && !used.includes('metric')) {
    ctx.addIssue({
      code: 'custom',
      path,
      message: 'the template needs {metric}: without it every metric would be written to the same path',
    });
  }
  const missing = entry.dimensions.filter((d) => !used.includes('dimensions') && !used.includes(dimensionPlaceholder(d)));
  if (missing.length > 0) {
    ctx.addIssue({
      code: 'custom',
      path,
      message: `the template needs {dimensions} or {${dimensionPlaceholder(missing[0]!)}}: without it rows would overwrite each other`,
    });
  }
}

export type GoogleAnalyticsOptions = z.output<typeof optionsSchema>;
