// The CloudWatch poller's options: one zod schema with defaults and descriptions (config/cloudwatch.example.yaml documents it).
import { z } from 'zod';
import { duration, templatePlaceholders } from '../../lib/poller-kit/index.ts';
import { RESOURCE_KINDS, resourceKind, TAGGABLE_NAMESPACES } from './resource-types.ts';

/** CloudWatch accepts periods of 1, 5, 10, 20 and 30 s (high resolution) or any multiple of 60 s. */
export function isValidPeriod(seconds: number): boolean {
  return [1, 5, 10, 20, 30].includes(seconds) || (Number.isInteger(seconds) && seconds >= 60 && seconds % 60 === 0);
}

const period = () =>
  duration().refine(isValidPeriod, 'expected 1, 5, 10, 20 or 30 seconds, or a multiple of 60 seconds (CloudWatch accepts no other period)');

/**
 * Statistics GetMetricData accepts: the five basic ones, percentiles (p99, p99.9), and the extended ones
 * (tm99, wm99, tc99, ts99, IQM, TM(10%:90%), PR(100:2000) …).
 */
const STAT = /^(SampleCount|Average|Sum|Minimum|Maximum|IQM|(p|tm|wm|tc|ts)\d{1,2}(\.\d{1,10})?|p100|(TM|WM|TC|TS|PR)\([^()\s]*\))$/;

/** The placeholders a metric's path template may use, besides `{dim.NAME}` for its dimensions and `{tag.NAME}` for its tags. */
export const PATH_PLACEHOLDERS = ['region', 'account', 'namespace', 'metric', 'stat', 'dimensions'] as const;

const REGION = /^[a-z]{2}(-[a-z]+)+-\d+$/;
const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/\S+$/;
const region = () => z.string().regex(REGION, 'expected an AWS region such as eu-west-1');
const roleArn = () => z.string().regex(ROLE_ARN, 'expected an IAM role ARN such as arn:aws:iam::123456789012:role/graphite-reader');
const externalId = () => z.string().min(2).max(1224);

/** A tag selector's value: one value, any of a list, or '*' for any value (the key must be there). */
const tagValues = z.union([z.string().max(256), z.array(z.string().max(256)).min(1).max(20)]);

const dimensionValues = z.union([z.string().min(1).max(1024), z.array(z.string().min(1).max(1024)).min(1)]);

const metricEntry = z
  .strictObject({
    namespace: z
      .string()
      .min(1)
      .max(255)
      .describe('The CloudWatch namespace, for example AWS/ELB, AWS/RDS, AWS/SQS, AWS/Lambda, AWS/Billing or a custom one.'),
    name: z.string().min(1).max(255).optional().describe('The metric name, for example RequestCount. Give either name or names.'),
    names: z
      .array(z.string().min(1).max(255))
      .min(1)
      .optional()
      .describe('Several metric names sharing the same namespace, dimensions, stats and path, instead of name.'),
    dimensions: z
      .union([z.literal('*'), z.record(z.string().min(1).max(255), dimensionValues)])
      .default({})
      .describe(
        'Which series of the metric: a map from dimension name to one value, a list of values, or "*" for every value ListMetrics finds. ' +
          'A series is matched on exactly these dimension names, as CloudWatch identifies a metric by its whole dimension set. ' +
          'The map alone set to "*" takes every dimension set the metric has; {} (the default) is the series without dimensions.',
      ),
    stats: z
      .array(
        z
          .string()
          .regex(
            STAT,
            'expected SampleCount, Average, Sum, Minimum, Maximum, a percentile such as p99 or p99.9, ' +
              'or an extended statistic such as tm99 or IQM',
          ),
      )
      .min(1)
      .default(['Average'])
      .describe(
        'Statistics to fetch; each one is a separate metric requested, billed as such. Percentiles such as p99.9 become the node p99_9.',
      ),
    period: period().optional().describe('The period of this metric in seconds, overriding the job-wide period.'),
    path: z
      .string()
      .min(1)
      .optional()
      .describe(
        'A path template replacing the default cloudwatch.{region}.{namespace}.{dimensions}.{metric}.{stat}; placeholders are ' +
          '{region}, {account}, {namespace} (with "/" as "_"), {metric}, {stat}, {dimensions} (one node per dimension value), ' +
          '{dim.NAME} and, with tags, {tag.KEY}.',
      ),
    fill: z
      .literal(0)
      .optional()
      .describe(
        'Set to 0 to send 0 for every period CloudWatch has no datapoint for (sparse counters such as HTTPCode_ELB_5XX); ' +
          'by default a missing period sends nothing.',
      ),
    tags: z
      .record(z.string().min(1).max(128), tagValues)
      .optional()
      .describe(
        'Select the resources by their AWS tags instead of naming them, through the Resource Groups Tagging API: ' +
          'a map from tag key to a value, a list of values (any of them), or "*" (any value, the key must be there); ' +
          "every key must match. The resource's dimension " +
          "(InstanceId, LoadBalancer, QueueName …) comes from its ARN; {tag.KEY} puts a tag's value in the path.",
      ),
    resourceType: z
      .string()
      .optional()
      .describe('With tags, for namespaces measuring several kinds of resource: which one (rds:cluster rather than rds:db, the default).'),
  })
  .superRefine((metric, ctx) => {
    if ((metric.name === undefined) === (metric.names === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'expected exactly one of name or names', path: ['name'] });
    }
    const configured = metric.dimensions === '*' ? undefined : Object.keys(metric.dimensions);
    if (configured && configured.length > 30) {
      ctx.addIssue({ code: 'custom', message: 'expected at most 30 dimensions (the CloudWatch limit)', path: ['dimensions'] });
    }
    // With tags, the resource's own dimension comes from its ARN, besides the configured ones.
    let dimensionNames = configured;
    const tagKeys = metric.tags ? Object.keys(metric.tags) : [];
    if (metric.tags !== undefined) {
      const kind = resourceKind(metric.namespace, metric.resourceType);
      if (!RESOURCE_KINDS[metric.namespace]) {
        ctx.addIssue({
          code: 'custom',
          message: `tags select resources of ${TAGGABLE_NAMESPACES.join(', ')}; not of ${metric.namespace}`,
          path: ['tags'],
        });
      } else if (!kind) {
        const types = RESOURCE_KINDS[metric.namespace]!.map((k) => k.type).join(', ');
        ctx.addIssue({ code: 'custom', message: `expected a resource type of ${metric.namespace}: ${types}`, path: ['resourceType'] });
      }
      if (tagKeys.length === 0 || tagKeys.length > 50) {
        ctx.addIssue({ code: 'custom', message: "expected 1 to 50 tag keys (the Tagging API's limit)", path: ['tags'] });
      }
      if (metric.dimensions === '*' || Object.values(metric.dimensions).some((value) => value === '*')) {
        ctx.addIssue({
          code: 'custom',
          message: 'with tags, dimensions may only add fixed values (no "*"): the resources come from their tags',
          path: ['dimensions'],
        });
      } else if (kind) {
        if (configured!.includes(kind.dimension)) {
          ctx.addIssue({
            code: 'custom',
            message: `${kind.dimension} comes from the tagged resources' ARNs; leave it out of dimensions`,
            path: ['dimensions'],
          });
        }
        dimensionNames = [kind.dimension, ...configured!];
      }
    } else if (metric.resourceType !== undefined) {
      ctx.addIssue({ code: 'custom', message: 'resourceType only applies with tags', path: ['resourceType'] });
    }
    if (metric.path !== undefined) {
      for (const placeholder of templatePlaceholders(metric.path)) {
        const dimension = placeholder.startsWith('dim.') ? placeholder.slice(4) : undefined;
        const tag = placeholder.startsWith('tag.') ? placeholder.slice(4) : undefined;
        const known =
          dimension !== undefined
            ? dimensionNames?.includes(dimension)
            : tag !== undefined
              ? tagKeys.includes(tag)
              : (PATH_PLACEHOLDERS as readonly string[]).includes(placeholder);
        if (!known) {
          const hint =
            dimension !== undefined
              ? dimensionNames
                ? `this metric's dimensions are ${dimensionNames.join(', ') || 'none'}`
                : 'with dimensions "*" the dimension names are not known in advance: use {dimensions}'
              : tag !== undefined
                ? tagKeys.length > 0
                  ? `this metric selects by the tags ${tagKeys.join(', ')}`
                  : '{tag.NAME} needs tags: { NAME: ... } on the metric'
                : `known placeholders: ${PATH_PLACEHOLDERS.map((p) => `{${p}}`).join(', ')}, {dim.NAME}, {tag.NAME}`;
          ctx.addIssue({ code: 'custom', message: `unknown placeholder {${placeholder}} (${hint})`, path: ['path'] });
        }
      }
    }
  });

export const cloudWatchOptions = z.strictObject({
  region: region()
    .optional()
    .describe("The AWS region to read, for example eu-west-1. Defaults to AWS_REGION, AWS_DEFAULT_REGION or the profile's region."),
  roleArn: roleArn()
    .optional()
    .describe('An IAM role to assume (through STS) with the default credentials, for reading another account. Optional.'),
  externalId: externalId().optional().describe("The external ID the role's trust policy requires, if any. Only with roleArn."),
  regions: z
    .array(region())
    .min(1)
    .optional()
    .describe(
      'Several regions read by this one job, instead of region: every region is read with every role (or the default credentials). ' +
        '{region} tells them apart in paths.',
    ),
  roles: z
    .array(z.union([z.literal('default'), z.strictObject({ roleArn: roleArn(), externalId: externalId().optional() })]))
    .min(1)
    .optional()
    .describe(
      'Several accounts read by this one job, instead of roleArn: a list of { roleArn, externalId } to assume through STS, ' +
        'and "default" for the credentials of the process itself. Each is read in every region. ' +
        'The default path then starts cloudwatch.{account}.{region}.',
    ),
  roleSessionName: z
    .string()
    .regex(/^[\w+=,.@-]{2,64}$/, 'expected 2 to 64 letters, digits or +=,.@_-')
    .default('graphite-pollers')
    .describe('The session name of the assumed role, as it appears in CloudTrail.'),
  endpoint: z
    .url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' })
    .optional()
    .describe(
      'A CloudWatch endpoint URL replacing the regional one (VPC endpoint, test server). ' +
        'AWS_ENDPOINT_URL_CLOUDWATCH and AWS_ENDPOINT_URL work too.',
    ),
  period: period()
    .default(60)
    .describe(
      'The period of every datapoint in seconds, unless a metric sets its own. Older data comes at coarser periods: ' +
        '300 s past 15 days, 3600 s past 63 days.',
    ),
  metrics: z
    .array(metricEntry)
    .min(1)
    .describe('The metrics to fetch: a list of { namespace, name or names, dimensions, tags, resourceType, stats, period, path, fill }.'),
  discoveryTtl: duration()
    .default(900)
    .describe(
      'How long the series found by ListMetrics for "*" dimensions, and the resources found by their tags, ' +
        'are reused before they are asked for again.',
    ),
  recentlyActiveOnly: z
    .boolean()
    .default(true)
    .describe(
      'On live ticks, discover only series with data in the last 3 hours (ListMetrics RecentlyActive), ' +
        'so idle resources cost nothing. Backfills always list every series.',
    ),
  concurrency: z
    .number()
    .int()
    .min(1)
    .max(50)
    .default(4)
    .describe('GetMetricData calls of one window in flight at once, per region and account.'),
  targetConcurrency: z
    .number()
    .int()
    .min(1)
    .max(100)
    .default(8)
    .describe('Region and account pairs (regions × roles) read at once; each has its own clients, rate limits and calls.'),
  getMetricDataRate: z
    .number()
    .positive()
    .default(25)
    .describe(
      'GetMetricData calls per second, at most, for this job in each region and account, all its runs together ' +
        '(AWS allows 50 per account and region).',
    ),
  listMetricsRate: z
    .number()
    .positive()
    .default(10)
    .describe('ListMetrics calls per second, at most, for this job in each region and account, all its runs together (AWS allows 25).'),
  getResourcesRate: z
    .number()
    .positive()
    .default(5)
    .describe(
      'Tagging API GetResources calls per second, at most, for this job in each region and account, all its runs together ' +
        '(for metrics with tags).',
    ),
  maxAttempts: z
    .number()
    .int()
    .min(1)
    .max(20)
    .default(5)
    .describe(
      "Attempts per API call (retries wait an exponential backoff with jitter, ended by the run's deadline) " +
        'before a throttled or failing call fails the run.',
    ),
});

export type CloudWatchOptions = z.output<typeof cloudWatchOptions>;
export type MetricEntry = CloudWatchOptions['metrics'][number];
export type RoleEntry = NonNullable<CloudWatchOptions['roles']>[number];
