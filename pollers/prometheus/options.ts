// The prometheus poller's options: one schema for defaults, validation, --help and the example's documentation.
import { z } from 'zod';
import {
  DEFAULT_MAX_RESPONSE_BYTES,
  byteSize,
  duration,
  blockedPortMessage,
  fetchBlockedPort,
  templatePlaceholders,
} from '../../lib/poller-kit/index.ts';

/** Prometheus's own limit: a range query of more points per series is refused ("exceeded maximum resolution"). */
export const MAX_POINTS_PER_SERIES = 11_000;

/** Prometheus's default `--query.max-samples`: samples one query may hold in memory at once. */
export const PROMETHEUS_MAX_SAMPLES = 50_000_000;

/** A label name as Prometheus allows it. */
const LABEL_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Long enough for any Thanos or Mimir bucket; beyond it a typo (`1000y`) is refused. */
const MAX_RETENTION = 20 * 366 * 86400;

const nodes = z.string().regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, 'expected dot-separated nodes of letters, digits, "_" or "-"');

/** A path template may use {name} and {label.NAME}; its own text must be valid nodes, so only labels are sanitized. */
function checkTemplate(template: string, ctx: z.RefinementCtx): void {
  for (const placeholder of templatePlaceholders(template)) {
    if (placeholder === 'name') continue;
    const label = /^label\.(.+)$/.exec(placeholder)?.[1];
    if (label === undefined || !LABEL_NAME.test(label)) {
      const message = `unknown placeholder {${placeholder}}: expected {name} or {label.NAME} (a label of the result: {label.instance})`;
      ctx.addIssue({ code: 'custom', message });
    }
  }
  const literal = template.replace(/\{[^{}]*\}/g, 'x');
  if (!/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(literal)) {
    const message = 'expected dot-separated nodes of letters, digits, "_", "-" and placeholders such as {label.instance}';
    ctx.addIssue({ code: 'custom', message });
  }
}

export const queryOptions = z.strictObject({
  name: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/, 'expected letters, digits, "_" or "-" (it is a path node and names the query in logs)')
    .describe('Names the query in logs and errors, and fills {name} in its path.'),
  query: z.string().trim().min(1, 'expected a PromQL expression').describe('The PromQL expression, evaluated at every step of the window.'),
  path: z
    .string()
    .default('{name}')
    .superRefine(checkTemplate)
    .describe(
      'Path of each resulting series under prefix: {name} and {label.NAME} (e.g. {label.instance}); ' +
        'each label value stays one node (dots, spaces, newlines become "_").',
    ),
  tags: z
    .union([z.boolean(), z.array(z.string().regex(LABEL_NAME, 'expected a label name'))])
    .default(false)
    .describe(
      'With GRAPHITE_TAGS=1, labels sent as Graphite tags (name;label=value): true for all (but __name__), or a list of label names.',
    ),
  maxSeries: z.number().int().min(1).optional().describe("Overrides the job's maxSeries for this query."),
});

export type QueryOptions = z.output<typeof queryOptions>;

export const prometheusOptions = z
  .strictObject({
    url: z
      .url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' })
      .refine(
        (url) => !/^https?:\/\/[^/]*@/.test(url),
        'expected no user:password@ in the URL: use basicAuth (with ${PROMETHEUS_PASSWORD})',
      )
      .refine((url) => fetchBlockedPort(url) === undefined, { error: (issue) => blockedPortMessage(String(issue.input)) })
      .describe(
        "The Prometheus-compatible HTTP API's root, where /api/v1/query_range is: http://prometheus:9090, " +
          "a Thanos Query's address, http://mimir:8080/prometheus, http://victoriametrics:8428.",
      ),
    prefix: nodes.default('prometheus').describe("Path under which every query's series go: <prefix>.<path>."),
    queries: z
      .array(queryOptions)
      .min(1, 'expected at least one query')
      .refine((list) => new Set(list.map((q) => q.name)).size === list.length, 'two queries have the same name')
      .describe('The PromQL queries; each is one query_range request per window.'),
    bearerToken: z
      .string()
      .optional()
      .describe('Sent as "Authorization: Bearer"; write ${PROMETHEUS_TOKEN:-} so it stays in the environment or .env. Empty means none.'),
    basicAuth: z
      .strictObject({
        username: z.string().min(1, 'expected a user name').describe('The user name.'),
        password: z.string().describe('The password: write ${PROMETHEUS_PASSWORD}.'),
      })
      .optional()
      .describe('HTTP basic authentication (username, password), for a Prometheus behind a proxy or with web.yml basic_auth_users.'),
    headers: z
      .record(z.string(), z.string())
      .default({})
      .describe('More request headers, e.g. X-Scope-OrgID for Mimir or Cortex tenants; values may use ${ENV_VAR}.'),
    maxSeries: z
      .number()
      .int()
      .min(1)
      .default(1000)
      .describe(
        'At most this many series per query and request are sent: the first in the order of their labels, so the same ones ' +
          'from window to window. The rest are counted in prometheus.series_capped and logged once, so a careless ' +
          '{__name__=~".+"} cannot flood Graphite.',
      ),
    partialResponse: z
      .boolean()
      .optional()
      .describe(
        'Thanos: sent as partial_response. false makes a query fail when a store is down; ' +
          'true accepts partial data (logged once and counted as warnings).',
      ),
    maxWindow: duration({ max: 30 * 86400 })
      .refine((s) => s >= 1, 'expected at least 1 second')
      .default(86400)
      .describe(
        'The longest window one poll covers: backfill and catch-up split their range into windows of it and resume by them. ' +
          'Within a window each query is one request, or several when the window holds more than 11,000 steps.',
      ),
    retention: duration({ max: MAX_RETENTION })
      .refine((s) => s > 0, 'expected more than 0 seconds')
      .default(15 * 86400)
      .describe(
        "How far back the server keeps data (Prometheus's --storage.tsdb.retention.time, 15d by default): " +
          'backfill and catch-up never ask for older.',
      ),
    timeout: duration()
      .refine((s) => s > 0, 'expected more than 0 seconds')
      .default(30)
      .describe("Seconds one request may take (also sent as the query's timeout) before its query counts as failed."),
    concurrency: z.number().int().min(1).max(32).default(4).describe('Queries requested at once.'),
    maxResponseBytes: byteSize()
      .refine((bytes) => bytes > 0, 'expected more than 0 bytes')
      .default(4 * DEFAULT_MAX_RESPONSE_BYTES)
      .describe('The largest answer read, in bytes or with a unit ("16MiB", "256MiB"); past it the query fails and the rest is not read.'),
  })
  .refine((options) => !(options.basicAuth && options.bearerToken), {
    path: ['bearerToken'],
    message: 'expected either bearerToken or basicAuth, not both',
  });

export type PrometheusOptions = z.output<typeof prometheusOptions>;
