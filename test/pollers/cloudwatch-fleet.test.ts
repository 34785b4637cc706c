// The CloudWatch poller at fleet scale, against the fake through the real SDK: regions × roles, STS sessions,
// failures of one region or role, discovery by tags, sharding; and the pure parts (ARN → dimension, tag filters).
import type { MetricDatum } from '@aws-sdk/client-cloudwatch';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { formatPlan } from '../../lib/cli/plan-format.ts';
import { isConfigError, type ConfigError } from '../../lib/poller-kit/config-error.ts';
import type { Logger } from '../../lib/poller-kit/logger.ts';
import { formatPath, formatTags } from '../../lib/graphite/metric-path.ts';
import type { JobSchedule, TimeWindow } from '../../lib/poller-kit/contract.ts';
import type { Shard } from '../../lib/poller-kit/shard.ts';
import { createCloudWatchPoller } from '../../pollers/cloudwatch.ts';
import { REFRESH_BEFORE_EXPIRY_MS } from '../../pollers/cloudwatch/credentials.ts';
import { accountOfRoleArn, dimensionOf, parseArn, RESOURCE_KINDS, resourceKind } from '../../pollers/cloudwatch/resource-types.ts';
import { matchesTags, tagFilters } from '../../pollers/cloudwatch/tag-discovery.ts';
import { testContext } from '../helpers/capture-sink.ts';
import { CloudWatchFake, FAKE_ACCOUNT, FAKE_CREDENTIALS } from '../helpers/cloudwatch-fake.ts';

const NOW = Date.UTC(2026, 0, 20, 12, 0, 0) / 1000;
const LIVE: JobSchedule = { interval: 300, delay: 120, lookback: 600 };
const LIVE_WINDOW: TimeWindow = { start: NOW - 720, end: NOW - 120 };
const READER = 'arn:aws:iam::222222222222:role/graphite-reader';
const GUARDED = 'arn:aws:iam::333333333333:role/graphite-reader';
const REGIONS = ['eu-west-1', 'us-east-1'];
const ACCOUNTS = [FAKE_ACCOUNT, '222222222222', '333333333333'];
/** Every region and account has its own values: base + minute index. */
const base = (region: string, account: string) => REGIONS.indexOf(region) * 1000 + ACCOUNTS.indexOf(account) * 100;

let fake: CloudWatchFake;
/** The instance under test, a fresh one per test: its own clients, STS sessions, discovery caches and rate limits. */
let cloudwatch = createCloudWatchPoller();

function options(extra: Record<string, unknown>) {
  return cloudwatch.options.parse({
    metrics: [{ namespace: 'Fleet/App', name: 'Requests', dimensions: { Service: ['a', 'b'] }, stats: ['Sum'] }],
    ...extra,
  });
}

function recordingLog() {
  const lines: Array<{ level: string; message: string; fields?: Record<string, unknown> }> = [];
  const log: Logger = {
    debug: () => {},
    info: (message, fields) => void lines.push({ level: 'info', message, ...(fields ? { fields } : {}) }),
    warn: (message, fields) => void lines.push({ level: 'warn', message, ...(fields ? { fields } : {}) }),
    error: (message, fields) => void lines.push({ level: 'error', message, ...(fields ? { fields } : {}) }),
    child: () => log,
  } as Logger;
  return { log, lines };
}

async function poll(opts: ReturnType<typeof options>, extra: { shard?: Shard; log?: Logger; window?: TimeWindow } = {}) {
  const ctx = testContext({
    options: opts,
    window: extra.window ?? LIVE_WINDOW,
    now: NOW * 1000,
    schedule: LIVE,
    ...(extra.log ? { log: extra.log } : {}),
  });
  const withShard = extra.shard ? { ...ctx, shard: extra.shard } : ctx;
  let error: unknown;
  try {
    await cloudwatch.poll(withShard);
  } catch (e) {
    error = e;
  }
  return Object.assign(ctx, { error });
}

/** `account/region` → GetMetricData calls answered there. */
function callsByScope(): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const call of fake.getMetricDataCalls) (out[`${call.account}/${call.region}`] ??= []).push(call.queries!);
  for (const list of Object.values(out)) list.sort((a, b) => b - a);
  return out;
}

beforeAll(async () => {
  vi.stubEnv('AWS_ACCESS_KEY_ID', FAKE_CREDENTIALS.accessKeyId);
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', FAKE_CREDENTIALS.secretAccessKey);
  vi.stubEnv('AWS_SESSION_TOKEN', undefined);
  vi.stubEnv('AWS_ENDPOINT_URL_CLOUDWATCH', undefined);
  vi.stubEnv('AWS_REGION', undefined);
  vi.stubEnv('AWS_DEFAULT_REGION', undefined);
  vi.stubEnv('AWS_CONFIG_FILE', '/nonexistent/aws-config');
  vi.stubEnv('AWS_SHARED_CREDENTIALS_FILE', '/nonexistent/aws-credentials');
  fake = await CloudWatchFake.start({ now: () => NOW * 1000 });
  // One endpoint for CloudWatch, STS and the Tagging API, as with LocalStack.
  vi.stubEnv('AWS_ENDPOINT_URL', fake.url);
  fake.sts.addRole(READER);
  fake.sts.addRole(GUARDED, { externalId: 'fleet-external-id' });
  for (const region of REGIONS) {
    for (const account of ACCOUNTS) {
      const data: MetricDatum[] = [];
      for (const service of ['a', 'b']) {
        for (let m = 0; m < 20; m++)
          data.push({
            MetricName: 'Requests',
            Value: base(region, account) + m,
            Timestamp: new Date((NOW - 1200 + m * 60) * 1000),
            Dimensions: [{ Name: 'Service', Value: service }],
          });
      }
      await fake.seed('Fleet/App', data, { region, account });
    }
  }
});

afterAll(async () => {
  await cloudwatch.close?.();
  await fake.close();
  vi.unstubAllEnvs();
});

beforeEach(() => fake.clearRequests());

afterEach(async () => {
  vi.useRealTimers();
  await cloudwatch.close?.();
  cloudwatch = createCloudWatchPoller();
});

describe('resource types: ARN → CloudWatch namespace and dimension', () => {
  it.each([
    ['AWS/EC2', undefined, 'arn:aws:ec2:eu-west-1:123456789012:instance/i-0abc123def456', ['InstanceId', 'i-0abc123def456']],
    [
      'AWS/ELB',
      undefined,
      'arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/classic-web',
      ['LoadBalancerName', 'classic-web'],
    ],
    [
      'AWS/ApplicationELB',
      undefined,
      'arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188',
      ['LoadBalancer', 'app/web/50dc6c495c0c9188'],
    ],
    [
      'AWS/NetworkELB',
      undefined,
      'arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/net/edge/73e2d6bc24d8a067',
      ['LoadBalancer', 'net/edge/73e2d6bc24d8a067'],
    ],
    ['AWS/RDS', undefined, 'arn:aws:rds:eu-west-1:123456789012:db:orders-db', ['DBInstanceIdentifier', 'orders-db']],
    ['AWS/RDS', 'rds:cluster', 'arn:aws:rds:eu-west-1:123456789012:cluster:orders-aurora', ['DBClusterIdentifier', 'orders-aurora']],
    ['AWS/SQS', undefined, 'arn:aws:sqs:eu-west-1:123456789012:orders-queue.fifo', ['QueueName', 'orders-queue.fifo']],
    ['AWS/Lambda', undefined, 'arn:aws:lambda:eu-west-1:123456789012:function:resize-images', ['FunctionName', 'resize-images']],
    ['AWS/DynamoDB', undefined, 'arn:aws:dynamodb:eu-west-1:123456789012:table/orders', ['TableName', 'orders']],
    [
      'AWS/ElastiCache',
      undefined,
      'arn:aws:elasticache:eu-west-1:123456789012:cluster:sessions-0001-001',
      ['CacheClusterId', 'sessions-0001-001'],
    ],
    ['AWS/SNS', undefined, 'arn:aws-cn:sns:cn-north-1:123456789012:alerts', ['TopicName', 'alerts']],
    ['AWS/Kinesis', undefined, 'arn:aws:kinesis:eu-west-1:123456789012:stream/clicks', ['StreamName', 'clicks']],
    ['AWS/EBS', undefined, 'arn:aws:ec2:eu-west-1:123456789012:volume/vol-0abc', ['VolumeId', 'vol-0abc']],
  ])('%s (%s): %s', (namespace, type, arn, dimension) => {
    expect(dimensionOf(resourceKind(namespace, type)!, arn)).toEqual(dimension);
  });

  it('tells ELB, ALB and NLB apart by the ARN, and refuses ARNs of other kinds and services', () => {
    const alb = 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/web/50dc';
    const nlb = 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/net/edge/73e2';
    const classic = 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/classic-web';
    expect(dimensionOf(resourceKind('AWS/ELB')!, alb)).toBeUndefined();
    expect(dimensionOf(resourceKind('AWS/ApplicationELB')!, nlb)).toBeUndefined();
    expect(dimensionOf(resourceKind('AWS/NetworkELB')!, classic)).toBeUndefined();
    expect(
      dimensionOf(
        resourceKind('AWS/ApplicationELB')!,
        'arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/web/6d0ecf831eec9f09',
      ),
    ).toBeUndefined();
    expect(dimensionOf(resourceKind('AWS/Lambda')!, 'arn:aws:lambda:eu-west-1:123456789012:function:resize-images:live')).toBeUndefined();
    expect(dimensionOf(resourceKind('AWS/RDS')!, 'arn:aws:rds:eu-west-1:123456789012:cluster:orders-aurora')).toBeUndefined();
    expect(dimensionOf(resourceKind('AWS/SQS')!, 'arn:aws:sns:eu-west-1:123456789012:alerts')).toBeUndefined();
    expect(dimensionOf(resourceKind('AWS/EC2')!, 'not an arn')).toBeUndefined();
  });

  it('every kind has an example ARN that maps, and a resource type the Tagging API takes (service[:type])', () => {
    for (const [namespace, kinds] of Object.entries(RESOURCE_KINDS)) {
      for (const kind of kinds) {
        expect(kind.type, namespace).toMatch(/^[a-z0-9-]+(:[a-z-]+)?$/);
        expect(dimensionOf(kind, kind.example), `${namespace} ${kind.example}`).toBeDefined();
        expect(parseArn(kind.example)!.service).toBe(kind.type.split(':')[0]);
      }
    }
    expect(resourceKind('AWS/RDS', 'rds:nope')).toBeUndefined();
    expect(resourceKind('Custom/Thing')).toBeUndefined();
    expect(accountOfRoleArn(READER)).toBe('222222222222');
    expect(accountOfRoleArn('arn:aws-us-gov:iam::123456789012:role/path/to/reader')).toBe('123456789012');
  });
});

describe('tag filters', () => {
  it('turn a selector into GetResources TagFilters: one value, any of several, "*" for any value; keys in order', () => {
    expect(tagFilters({ team: '*', env: 'prod', tier: ['web', 'api', 'web'] })).toEqual([
      { Key: 'env', Values: ['prod'] },
      { Key: 'team' },
      { Key: 'tier', Values: ['web', 'api'] },
    ]);
    expect(tagFilters({ owner: ['alice', '*'] })).toEqual([{ Key: 'owner' }]);
    expect(tagFilters({ empty: '' })).toEqual([{ Key: 'empty', Values: [''] }]);
  });

  it('match as the Tagging API does: every key, one of its values', () => {
    const tags = { env: 'prod', team: 'payments', empty: '' };
    expect(matchesTags(tags, { env: 'prod' })).toBe(true);
    expect(matchesTags(tags, { env: 'prod', team: '*' })).toBe(true);
    expect(matchesTags(tags, { env: ['dev', 'prod'], team: ['payments'] })).toBe(true);
    expect(matchesTags(tags, { empty: '' })).toBe(true);
    expect(matchesTags(tags, { env: 'dev' })).toBe(false);
    expect(matchesTags(tags, { env: 'prod', owner: '*' })).toBe(false);
    expect(matchesTags({}, { env: '*' })).toBe(false);
    expect(matchesTags({ Env: 'prod' }, { env: 'prod' })).toBe(false);
  });
});

describe('regions × roles in one job', () => {
  const fleet = (extra: Record<string, unknown> = {}) =>
    options({ regions: REGIONS, roles: ['default', { roleArn: READER }, { roleArn: GUARDED, externalId: 'fleet-external-id' }], ...extra });

  it('reads each region with each role: a client each, paths cloudwatch.<account>.<region>…, ceil(queries/500) calls a pair', async () => {
    const ctx = await poll(fleet());
    expect(ctx.error).toBeUndefined();
    // 2 regions × 3 accounts × 2 series, 10 minutes each.
    expect(ctx.sink.paths()).toHaveLength(12);
    for (const region of REGIONS) {
      for (const account of ACCOUNTS) {
        expect(ctx.sink.series()[`cloudwatch.${account}.${region}.Fleet_App.a.Requests.Sum`], `${account} ${region}`).toEqual(
          Array.from({ length: 10 }, (_, i) => [LIVE_WINDOW.start + i * 60, base(region, account) + 8 + i]),
        );
      }
    }
    const byScope = callsByScope();
    expect(Object.keys(byScope).sort()).toEqual(ACCOUNTS.flatMap((a) => REGIONS.map((r) => `${a}/${r}`)).sort());
    for (const calls of Object.values(byScope)) expect(calls).toEqual([2]);
    expect(ctx.stats.gauges.series).toBe(12);
  });

  it('assumes each role once for all its regions, and asks GetCallerIdentity once for the default account', async () => {
    await poll(fleet());
    await poll(fleet());
    const assumed = fake.calls('AssumeRole').map((c) => [c.body.RoleArn, c.body.ExternalId, c.body.RoleSessionName, c.status]);
    expect(assumed.sort()).toEqual([
      [READER, undefined, 'graphite-pollers', 200],
      [GUARDED, 'fleet-external-id', 'graphite-pollers', 200],
    ]);
    expect(fake.calls('GetCallerIdentity')).toHaveLength(1);
    // STS is asked in the job's first region.
    expect(fake.calls('AssumeRole').every((c) => c.region === 'eu-west-1')).toBe(true);
  });

  it('renews an assumed session before it expires, not after', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.UTC(2026, 5, 1, 12, 0, 0));
    const job = options({ regions: ['eu-west-1'], roles: [{ roleArn: READER }] });
    await poll(job);
    expect(fake.calls('AssumeRole')).toHaveLength(1);
    // 3600 s sessions: still good with more than 5 minutes left.
    vi.setSystemTime(Date.now() + 3600_000 - REFRESH_BEFORE_EXPIRY_MS - 60_000);
    await poll(job);
    expect(fake.calls('AssumeRole')).toHaveLength(1);
    // Within 5 minutes of the end: renewed before the next call, which is signed with the new session.
    vi.setSystemTime(Date.now() + 2 * 60_000);
    const ctx = await poll(job);
    expect(ctx.error).toBeUndefined();
    expect(fake.calls('AssumeRole')).toHaveLength(2);
    const keys = fake.calls('GetMetricData').map((c) => c.accessKeyId);
    expect(keys[0]).toBe(keys[1]);
    expect(keys[2]).not.toBe(keys[1]);
    expect(fake.calls('GetMetricData').every((c) => c.status === 200)).toBe(true);
  });

  it('a region failing is logged and counted while the others deliver; the run then fails once, naming it', async () => {
    fake.denyRegion('us-east-1', '222222222222');
    try {
      const { log, lines } = recordingLog();
      const ctx = await poll(fleet({ maxAttempts: 1 }), { log });
      // Every other pair delivered all of its points.
      expect(ctx.sink.paths()).toHaveLength(10);
      expect(ctx.sink.points).toHaveLength(100);
      expect(ctx.sink.paths().some((p) => p.startsWith('cloudwatch.222222222222.us-east-1.'))).toBe(false);
      expect(String((ctx.error as Error).message)).toBe(
        `1 of 6 region and account pairs failed (us-east-1 as ${READER}): 1 of 1 GetMetricData calls failed: ` +
          `The security token included in the request is invalid.`,
      );
      expect(ctx.stats.counters.target_errors).toBe(1);
      expect(ctx.stats.counters.parts_failed).toBe(1);
      expect(lines.filter((l) => l.level === 'warn').map((l) => l.message)).toEqual([
        `us-east-1 as ${READER} failed; the other regions and accounts delivered`,
      ]);
    } finally {
      fake.allowRegion('us-east-1', '222222222222');
    }
  });

  it('a role that cannot be assumed fails its pairs only', async () => {
    const ctx = await poll(
      fleet({ roles: ['default', { roleArn: READER }, { roleArn: GUARDED, externalId: 'wrong-external-id' }], maxAttempts: 1 }),
    );
    expect(ctx.sink.paths()).toHaveLength(8);
    expect((ctx.error as Error).message).toMatch(
      new RegExp(
        `^2 of 6 region and account pairs failed \\(eu-west-1 as ${GUARDED}; us-east-1 as ${GUARDED}\\): .*cannot assume ${GUARDED}: ` +
          `User: .* is not authorized to perform: sts:AssumeRole`,
      ),
    );
    expect(ctx.stats.counters.target_errors).toBe(2);
    expect(ctx.stats.counters.parts_failed).toBe(2);
  });

  it('a role no pair can assume stops the job: a ConfigError naming its roles[i].roleArn and the trust policy', async () => {
    const ctx = await poll(fleet({ roles: [{ roleArn: GUARDED, externalId: 'wrong-external-id' }], maxAttempts: 1 }));
    expect(isConfigError(ctx.error)).toBe(true);
    expect((ctx.error as ConfigError).describe()).toMatch(
      new RegExp(
        `^roles\\[0\\]\\.roleArn: the credentials of AWS_ACCESS_KEY_ID may not assume ${GUARDED} \\(AccessDenied: .*\\): ` +
          `allow them in the role's trust policy`,
      ),
    );
    expect(ctx.sink.points).toEqual([]);
  });

  it('regions none of which takes the credentials stop the job; one region refusing them does not (above)', async () => {
    fake.denyRegion('eu-west-1', '222222222222');
    fake.denyRegion('us-east-1', '222222222222');
    try {
      const ctx = await poll(fleet({ roles: [{ roleArn: READER }], maxAttempts: 1 }));
      expect((ctx.error as ConfigError).describe()).toMatch(
        new RegExp(
          /^roles\[0\]\.roleArn: AWS refused the session of .* in (eu-west-1|us-east-1) \(or \1 is not enabled for the account\): /.source +
            /InvalidClientTokenId/.source,
        ),
      );
    } finally {
      fake.allowRegion('eu-west-1', '222222222222');
      fake.allowRegion('us-east-1', '222222222222');
    }
  });

  it('keeps single-region configs as they were: cloudwatch.<region>… and no STS call', async () => {
    const ctx = await poll(options({ region: 'eu-west-1' }));
    expect(ctx.error).toBeUndefined();
    expect(ctx.sink.paths()).toEqual(['cloudwatch.eu-west-1.Fleet_App.a.Requests.Sum', 'cloudwatch.eu-west-1.Fleet_App.b.Requests.Sum']);
    expect(fake.calls().filter((c) => c.service !== 'monitoring')).toEqual([]);
    // The old single-role keys still work, and {account} comes from the role's ARN.
    const role = await poll(
      options({
        region: 'us-east-1',
        roleArn: READER,
        metrics: [
          {
            namespace: 'Fleet/App',
            name: 'Requests',
            dimensions: { Service: 'a' },
            stats: ['Sum'],
            path: 'aws.{account}.{region}.{dim.Service}',
          },
        ],
      }),
    );
    expect(role.sink.paths()).toEqual(['aws.222222222222.us-east-1.a']);
    expect(role.sink.points[0]!.value).toBe(base('us-east-1', '222222222222') + 8);
  });

  it('refuses region with regions and roleArn with roles (ConfigError naming the field)', async () => {
    for (const [extra, field] of [
      [{ region: 'eu-west-1', regions: REGIONS }, 'regions'],
      [{ region: 'eu-west-1', roleArn: READER, roles: ['default'] }, 'roles'],
      [{ region: 'eu-west-1', externalId: 'x-id' }, 'externalId'],
    ] as const) {
      const ctx = await poll(options(extra));
      expect(isConfigError(ctx.error), JSON.stringify(extra)).toBe(true);
      expect((ctx.error as { where: { field: string } }).where.field).toBe(field);
    }
  });
});

describe('discovery by tags', () => {
  const acct = '222222222222';
  const queues = Array.from({ length: 150 }, (_, i) => `queue-${String(i).padStart(3, '0')}`);

  beforeAll(async () => {
    const data: MetricDatum[] = [];
    queues.forEach((queue, i) => {
      fake.tagging.tagResource(`arn:aws:sqs:eu-west-1:${acct}:${queue}`, {
        env: i < 120 ? 'prod' : 'dev',
        team: i % 3 === 0 ? 'payments' : 'search',
        'cost centre': 'x.y z',
      });
      for (let m = 0; m < 20; m++)
        data.push({
          MetricName: 'ApproximateAgeOfOldestMessage',
          Value: i,
          Timestamp: new Date((NOW - 1200 + m * 60) * 1000),
          Dimensions: [{ Name: 'QueueName', Value: queue }],
        });
    });
    // An untagged queue has data but is not selected; a topic is of another kind.
    data.push({
      MetricName: 'ApproximateAgeOfOldestMessage',
      Value: 9,
      Timestamp: new Date((NOW - 600) * 1000),
      Dimensions: [{ Name: 'QueueName', Value: 'untagged' }],
    });
    fake.tagging.tagResource(`arn:aws:sns:eu-west-1:${acct}:alerts`, { env: 'prod', team: 'payments' });
    fake.tagging.tagResource(`arn:aws:elasticloadbalancing:eu-west-1:${acct}:loadbalancer/app/web/50dc6c495c0c9188`, {
      env: 'prod',
      team: 'search',
    });
    fake.tagging.tagResource(`arn:aws:elasticloadbalancing:eu-west-1:${acct}:loadbalancer/classic-web`, { env: 'prod', team: 'search' });
    await fake.seed('AWS/SQS', data, { region: 'eu-west-1', account: acct });
  });

  const sqs = (extra: Record<string, unknown> = {}) =>
    options({
      region: 'eu-west-1',
      roleArn: READER,
      metrics: [
        {
          namespace: 'AWS/SQS',
          name: 'ApproximateAgeOfOldestMessage',
          tags: { env: 'prod', team: '*' },
          stats: ['Maximum'],
          path: 'sqs.{account}.{tag.team}.{dim.QueueName}.{metric}',
          ...extra,
        },
      ],
    });

  it('finds the tagged resources with GetResources (every page), their dimension from the ARN, tag values in paths', async () => {
    const ctx = await poll(sqs());
    expect(ctx.error).toBeUndefined();
    const calls = fake.calls('GetResources');
    expect(calls.map((c) => c.body)).toEqual([
      { ResourceTypeFilters: ['sqs'], TagFilters: [{ Key: 'env', Values: ['prod'] }, { Key: 'team' }], ResourcesPerPage: 100 },
      expect.objectContaining({ PaginationToken: expect.any(String) }),
    ]);
    expect(calls.every((c) => c.account === acct && c.region === 'eu-west-1')).toBe(true);
    expect(ctx.sink.paths()).toHaveLength(120);
    expect(ctx.sink.series()['sqs.222222222222.payments.queue-003.ApproximateAgeOfOldestMessage']).toEqual(
      Array.from({ length: 10 }, (_, i) => [LIVE_WINDOW.start + i * 60, 3]),
    );
    expect(ctx.sink.paths()).toContain('sqs.222222222222.search.queue-001.ApproximateAgeOfOldestMessage');
    // 120 queries: one GetMetricData call; no ListMetrics at all.
    expect(fake.getMetricDataCalls.map((c) => c.queries)).toEqual([120]);
    expect(fake.calls('ListMetrics')).toEqual([]);
  });

  it('writes the selected tags as Graphite tags (used in tag mode), sanitized by lib like any value', async () => {
    const ctx = await poll(sqs({ tags: { env: 'prod', 'cost centre': '*' }, path: undefined }));
    const point = ctx.sink.points.find((p) => p.path === 'cloudwatch.eu-west-1.AWS_SQS.queue-003.ApproximateAgeOfOldestMessage.Maximum')!;
    expect(point.tags).toEqual({ env: 'prod', 'cost centre': 'x.y z' });
    expect(formatPath(point.nodes!) + formatTags(point.tags)).toBe(
      'cloudwatch.eu-west-1.AWS_SQS.queue-003.ApproximateAgeOfOldestMessage.Maximum;cost_centre=x.y_z;env=prod',
    );
  });

  it('reuses the resources found for discoveryTtl', async () => {
    await poll(sqs());
    const again = await poll(sqs());
    expect(fake.calls('GetResources')).toHaveLength(2);
    expect(again.stats.counters.tag_discovery_cache_hits).toBe(1);
    expect(again.sink.paths()).toHaveLength(120);
  });

  it('tells load balancer kinds apart: an ALB entry takes the ALB, not the classic one', async () => {
    const ctx = await poll(
      options({
        region: 'eu-west-1',
        roleArn: READER,
        metrics: [{ namespace: 'AWS/ApplicationELB', name: 'RequestCount', tags: { team: 'search' }, stats: ['Sum'] }],
      }),
    );
    expect(fake.calls('GetResources')[0]!.body.ResourceTypeFilters).toEqual(['elasticloadbalancing:loadbalancer']);
    expect(fake.getMetricDataCalls[0]!.body.MetricDataQueries).toEqual([
      expect.objectContaining({
        MetricStat: expect.objectContaining({
          Metric: {
            Namespace: 'AWS/ApplicationELB',
            MetricName: 'RequestCount',
            Dimensions: [{ Name: 'LoadBalancer', Value: 'app/web/50dc6c495c0c9188' }],
          },
        }),
      }),
    ]);
    expect(ctx.error).toBeUndefined();
  });

  it('--plan finds the tagged resources with GetResources alone and counts their queries', async () => {
    const text = formatPlan(await cloudwatch.plan!(sqs(), LIVE)).join('\n');
    expect(text).toContain('requests: 120 queries per tick, ');
    expect(text).toMatch(/discovery by tags: 1 metric name\(s\), 2 GetResources request\(s\) per refresh every 15m/);
    expect(fake.calls('GetMetricData')).toEqual([]);
    expect(fake.calls('GetResources')).toHaveLength(2);
  });

  it('validates tags at config time: known namespaces, resource types, {tag.KEY} of selected keys, no "*" dimensions', () => {
    const issues = (metric: Record<string, unknown>) =>
      cloudwatch.options
        .safeParse({ metrics: [{ namespace: 'AWS/SQS', name: 'X', tags: { env: 'prod' }, ...metric }] })
        .error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    expect(issues({})).toBeUndefined();
    expect(issues({ namespace: 'Custom/Thing' })![0]).toMatch(
      /^metrics\.0\.tags: tags select resources of AWS\/EC2, .*; not of Custom\/Thing$/,
    );
    expect(issues({ namespace: 'AWS/RDS', resourceType: 'rds:snapshot' })).toEqual([
      'metrics.0.resourceType: expected a resource type of AWS/RDS: rds:db, rds:cluster',
    ]);
    expect(issues({ path: 'x.{tag.owner}' })).toEqual([
      'metrics.0.path: unknown placeholder {tag.owner} (this metric selects by the tags env)',
    ]);
    expect(issues({ path: 'x.{tag.env}.{dim.QueueName}.{account}' })).toBeUndefined();
    expect(issues({ dimensions: { QueueName: 'q' } })).toEqual([
      "metrics.0.dimensions: QueueName comes from the tagged resources' ARNs; leave it out of dimensions",
    ]);
    expect(issues({ dimensions: '*' })![0]).toMatch(/^metrics\.0\.dimensions: with tags, dimensions may only add fixed values/);
    expect(issues({ tags: {} })).toEqual(["metrics.0.tags: expected 1 to 50 tag keys (the Tagging API's limit)"]);
    expect(issues({ tags: undefined, resourceType: 'sqs' })).toEqual(['metrics.0.resourceType: resourceType only applies with tags']);
  });
});

describe('sharding', () => {
  const many = () =>
    options({
      regions: REGIONS,
      roles: ['default', { roleArn: READER }],
      metrics: [
        {
          namespace: 'Fleet/App',
          name: 'Requests',
          dimensions: { Service: Array.from({ length: 700 }, (_, i) => (i < 2 ? ['a', 'b'][i]! : `s${i}`)) },
          stats: ['Sum', 'Maximum'],
        },
      ],
    });

  it('shards together fetch exactly what one unsharded run fetches: complete, disjoint, in ceil(share/500) calls per pair', async () => {
    const whole = await poll(many());
    const wholeQueries = fake.getMetricDataCalls.reduce((n, c) => n + c.queries!, 0);
    expect(wholeQueries).toBe(4 * 1400);
    const seen = new Map<string, number>();
    let queries = 0;
    for (let index = 0; index < 3; index++) {
      fake.clearRequests();
      const part = await poll(many(), { shard: { index, count: 3 } });
      expect(part.error).toBeUndefined();
      for (const path of part.sink.paths()) seen.set(path, (seen.get(path) ?? 0) + 1);
      const byScope = new Map<string, number[]>();
      for (const call of fake.getMetricDataCalls)
        byScope.set(`${call.account}/${call.region}`, [...(byScope.get(`${call.account}/${call.region}`) ?? []), call.queries!]);
      for (const [scope, sizes] of byScope) {
        const share = sizes.reduce((a, b) => a + b, 0);
        expect(sizes.length, scope).toBe(Math.ceil(share / 500));
        queries += share;
      }
      // Each shard takes roughly a third.
      expect(part.stats.gauges.series).toBeGreaterThan(1400 * 4 * 0.28);
      expect(part.stats.gauges.series).toBeLessThan(1400 * 4 * 0.39);
    }
    expect(queries).toBe(wholeQueries);
    expect([...seen.keys()].sort()).toEqual(whole.sink.paths());
    expect([...seen.values()].every((n) => n === 1)).toBe(true);
  });

  it("--plan shows each shard's share, adding up to the whole job", async () => {
    const text = formatPlan(await cloudwatch.plan!(many(), LIVE, { shard: { index: 1, count: 3 } })).join('\n');
    expect(text).toContain('regions eu-west-1, us-east-1 × 2 identities: 4 region and account pairs');
    expect(text).toContain('requests: 5,600 queries per tick, ');
    const shares = [...text.matchAll(/^ {2}shard (\d)\/3: ([\d,]+) queries, (\d+) GetMetricData calls? per tick(.*)$/gm)];
    expect(shares.map((m) => m[1])).toEqual(['1', '2', '3']);
    expect(shares.reduce((n, m) => n + Number(m[2]!.replace(/,/g, '')), 0)).toBe(5600);
    expect(shares[1]![4]).toBe('  <- this one');
    expect(fake.requests).toEqual([]);
  });
});
