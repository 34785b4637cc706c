// The fake's STS and Tagging API, driven only through the real SDK clients: wire formats, identities, per-account and per-region data.
import { GetMetricDataCommand, ListMetricsCommand, type CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import {
  GetResourcesCommand,
  ResourceGroupsTaggingAPIClient,
  type GetResourcesCommandInput,
} from '@aws-sdk/client-resource-groups-tagging-api';
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CloudWatchFake, FAKE_ACCOUNT, FAKE_CREDENTIALS } from '../helpers/cloudwatch-fake.ts';

const T = Math.floor(Date.now() / 1000 / 3600) * 3600 - 3600;
const ROLE = 'arn:aws:iam::222222222222:role/graphite-reader';
const GUARDED = 'arn:aws:iam::333333333333:role/guarded';

let fake: CloudWatchFake;
const clients: Array<{ destroy(): void }> = [];
function sts(credentials = FAKE_CREDENTIALS, region = 'eu-west-1'): STSClient {
  const client = new STSClient({ region, endpoint: fake.url, credentials, maxAttempts: 1 });
  clients.push(client);
  return client;
}
function tagging(
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string },
  region = 'eu-west-1',
): ResourceGroupsTaggingAPIClient {
  const client = new ResourceGroupsTaggingAPIClient({ region, endpoint: fake.url, credentials, maxAttempts: 1 });
  clients.push(client);
  return client;
}
async function assume(roleArn = ROLE, extra: { ExternalId?: string } = {}) {
  const out = await sts().send(new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: 'fake-test', ...extra }));
  const c = out.Credentials!;
  return { accessKeyId: c.AccessKeyId!, secretAccessKey: c.SecretAccessKey!, sessionToken: c.SessionToken!, expiration: c.Expiration! };
}
const errorOf = (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (e: unknown) => e as { name: string; message: string; $metadata: { httpStatusCode: number } },
  );

beforeAll(async () => {
  fake = await CloudWatchFake.start();
  fake.sts.addRole(ROLE);
  fake.sts.addRole(GUARDED, { externalId: 'let-me-in' });
});
afterAll(async () => {
  for (const client of clients) client.destroy();
  await fake.close();
});

describe('STS', () => {
  it('AssumeRole: the AWS Query protocol (form-encoded POST, XML answer), signed for sts in the client region', async () => {
    const before = Date.now();
    const credentials = await assume();
    const [call] = fake.calls('AssumeRole');
    expect(call!.service).toBe('sts');
    expect(call!.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(call!.headers['x-amz-target']).toBeUndefined();
    expect(call!.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIAFAKEFAKEFAKE0000\/\d{8}\/eu-west-1\/sts\/aws4_request, /);
    expect(call!.body).toMatchObject({ Action: 'AssumeRole', Version: '2011-06-15', RoleArn: ROLE, RoleSessionName: 'fake-test' });
    expect(call!.account).toBe(FAKE_ACCOUNT);
    // The SDK parsed the XML: a session key, its token, and an Expiration as a Date an hour ahead.
    expect(credentials.accessKeyId).toMatch(/^ASIA[A-Z0-9]{16}$/);
    expect(credentials.sessionToken.length).toBeGreaterThan(100);
    expect(credentials.expiration).toBeInstanceOf(Date);
    expect(credentials.expiration.getTime() - before).toBeGreaterThan(3590_000);
    expect(credentials.expiration.getTime() - before).toBeLessThanOrEqual(3601_000); // whole seconds on the wire
  });

  it('GetCallerIdentity names the account of a key and of an assumed-role session', async () => {
    expect((await sts().send(new GetCallerIdentityCommand({}))).Account).toBe(FAKE_ACCOUNT);
    const session = await assume();
    const who = await sts(session).send(new GetCallerIdentityCommand({}));
    expect(who).toMatchObject({ Account: '222222222222', Arn: 'arn:aws:sts::222222222222:assumed-role/graphite-reader/fake-test' });
    expect(fake.calls('GetCallerIdentity').at(-1)!.headers['x-amz-security-token']).toBe(session.sessionToken);
  });

  it('refuses roles it does not know and wrong external ids with AccessDenied, as XML the SDK turns into a named error', async () => {
    for (const attempt of [assume('arn:aws:iam::999999999999:role/nobody'), assume(GUARDED), assume(GUARDED, { ExternalId: 'wrong-id' })]) {
      const error = await errorOf(attempt);
      expect(error?.name).toBe('AccessDenied');
      expect(error?.$metadata.httpStatusCode).toBe(403);
      expect(error?.message).toMatch(
        new RegExp(
          /^User: arn:aws:iam::111111111111:user\/graphite-pollers-test is not authorized to perform: /.source +
            /sts:AssumeRole on resource: arn:aws:iam::/.source,
        ),
      );
    }
    expect((await assume(GUARDED, { ExternalId: 'let-me-in' })).accessKeyId).toMatch(/^ASIA/);
  });

  it('answers ValidationError for a bad session name, InvalidClientTokenId for an unknown key', async () => {
    const bad = await errorOf(sts().send(new AssumeRoleCommand({ RoleArn: ROLE, RoleSessionName: 'has space' })));
    expect(bad?.name).toBe('ValidationError');
    const unknown = await errorOf(
      sts({ accessKeyId: 'AKIAUNKNOWNUNKNOWN00', secretAccessKey: 'x' }).send(new GetCallerIdentityCommand({})),
    );
    expect(unknown?.name).toBe('InvalidClientTokenId');
  });

  it('refuses a session past its expiry (ExpiredToken) and a session key without its token', async () => {
    fake.sts.sessionSeconds = 1;
    const session = await assume();
    fake.sts.sessionSeconds = undefined;
    const { sessionToken: _, ...withoutToken } = session;
    expect((await errorOf(sts(withoutToken).send(new GetCallerIdentityCommand({}))))?.name).toBe('InvalidClientTokenId');
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, session.expiration.getTime() - Date.now()) + 10));
    expect((await errorOf(sts(session).send(new GetCallerIdentityCommand({}))))?.name).toBe('ExpiredToken');
  });
});

describe('per-account, per-region CloudWatch data', () => {
  const read = (client: CloudWatchClient) =>
    client.send(
      new GetMetricDataCommand({
        StartTime: new Date(T * 1000),
        EndTime: new Date((T + 60) * 1000),
        MetricDataQueries: [{ Id: 'q', MetricStat: { Metric: { Namespace: 'Scoped', MetricName: 'M' }, Period: 60, Stat: 'Sum' } }],
      }),
    );

  beforeAll(async () => {
    const datum = (value: number) => [{ MetricName: 'M', Value: value, Timestamp: new Date(T * 1000) }];
    await fake.seed('Scoped', datum(1), { region: 'eu-west-1', account: '222222222222' });
    await fake.seed('Scoped', datum(2), { region: 'us-east-1', account: '222222222222' });
    await fake.seed('Scoped', datum(3), { region: 'eu-west-1' });
  });

  it('answers each account and region its own series: region from the credential scope, account from the key or session', async () => {
    const session = await assume();
    expect((await read(fake.client('eu-west-1', session))).MetricDataResults![0]!.Values).toEqual([1]);
    expect((await read(fake.client('us-east-1', session))).MetricDataResults![0]!.Values).toEqual([2]);
    expect((await read(fake.client('eu-west-1'))).MetricDataResults![0]!.Values).toEqual([3]);
    expect((await read(fake.client('ap-south-1'))).MetricDataResults![0]!.Values).toEqual([]);
    const last = fake.calls('GetMetricData').at(-4)!;
    expect([last.account, last.region, last.headers['x-amz-security-token']]).toEqual(['222222222222', 'eu-west-1', session.sessionToken]);
    const listed = await fake.client('us-east-1', session).send(new ListMetricsCommand({ Namespace: 'Scoped' }));
    expect(listed.Metrics).toHaveLength(1);
  });

  it('answers a region not enabled for an account as AWS does: InvalidClientTokenId, not retried', async () => {
    fake.denyRegion('ap-east-1', FAKE_ACCOUNT);
    const error = await errorOf(read(fake.client('ap-east-1')));
    expect(error?.name).toBe('InvalidClientTokenId');
    expect(error?.$metadata.httpStatusCode).toBe(403);
    fake.allowRegion('ap-east-1', FAKE_ACCOUNT);
  });
});

describe('Tagging API GetResources', () => {
  const acct = '444444444444';
  const arn = (resource: string, region = 'eu-west-1', service = 'ec2') => `arn:aws:${service}:${region}:${acct}:${resource}`;

  beforeAll(() => {
    for (let i = 0; i < 5; i++)
      fake.tagging.tagResource(arn(`instance/i-${i}`), { env: i < 4 ? 'prod' : 'dev', team: i % 2 ? 'web' : 'data' });
    fake.tagging.tagResource(arn('instance/i-9', 'us-east-1'), { env: 'prod', team: 'web' });
    fake.tagging.tagResource(arn('volume/vol-1'), { env: 'prod', team: 'web' });
    fake.tagging.tagResource(arn('orders', 'eu-west-1', 'sqs'), { env: 'prod' });
    fake.tagging.tagResource(arn('loadbalancer/app/web/123', 'eu-west-1', 'elasticloadbalancing'), { env: 'prod' });
  });

  async function getAll(input: GetResourcesCommandInput, region = 'eu-west-1') {
    const client = tagging(fake.credentialsFor(acct), region);
    const pages = [];
    let token: string | undefined;
    do {
      const page = await client.send(new GetResourcesCommand({ ...input, ...(token ? { PaginationToken: token } : {}) }));
      pages.push(page);
      token = page.PaginationToken || undefined;
    } while (token);
    return { pages, arns: pages.flatMap((p) => p.ResourceTagMappingList!.map((m) => m.ResourceARN)) };
  }

  it('speaks AWS JSON 1.1 with X-Amz-Target ResourceGroupsTaggingAPI_20170126.GetResources, signed for tagging', async () => {
    await getAll({ ResourceTypeFilters: ['sqs'] });
    const [call] = fake.calls('GetResources');
    expect(call!.service).toBe('tagging');
    expect(call!.headers['content-type']).toBe('application/x-amz-json-1.1');
    expect(call!.headers['x-amz-target']).toBe('ResourceGroupsTaggingAPI_20170126.GetResources');
    expect(call!.headers.authorization).toMatch(/\/eu-west-1\/tagging\/aws4_request, /);
    expect(call!.body).toEqual({ ResourceTypeFilters: ['sqs'] });
  });

  it('pages by ResourcesPerPage, the last page with an empty PaginationToken', async () => {
    const { pages, arns } = await getAll({ ResourceTypeFilters: ['ec2:instance'], ResourcesPerPage: 2 });
    expect(pages.map((p) => p.ResourceTagMappingList!.length)).toEqual([2, 2, 1]);
    expect(pages.at(-1)!.PaginationToken).toBe('');
    expect(arns).toEqual([0, 1, 2, 3, 4].map((i) => arn(`instance/i-${i}`)));
    expect(pages[0]!.ResourceTagMappingList![0]!.Tags).toEqual([
      { Key: 'env', Value: 'prod' },
      { Key: 'team', Value: 'data' },
    ]);
  });

  it('ANDs tag filters, ORs their values, and a filter without values matches any value of its key', async () => {
    const only = async (input: GetResourcesCommandInput) =>
      (await getAll({ ResourceTypeFilters: ['ec2:instance'], ...input })).arns.map((a) => a!.split('/')[1]);
    expect(
      await only({
        TagFilters: [
          { Key: 'env', Values: ['prod'] },
          { Key: 'team', Values: ['web'] },
        ],
      }),
    ).toEqual(['i-1', 'i-3']);
    expect(
      await only({
        TagFilters: [
          { Key: 'env', Values: ['prod', 'dev'] },
          { Key: 'team', Values: ['data'] },
        ],
      }),
    ).toEqual(['i-0', 'i-2', 'i-4']);
    expect(await only({ TagFilters: [{ Key: 'team' }] })).toEqual(['i-0', 'i-1', 'i-2', 'i-3', 'i-4']);
    expect(await only({ TagFilters: [{ Key: 'owner' }] })).toEqual([]);
  });

  it('filters by service or service:type, and answers only the caller account in the request region', async () => {
    expect((await getAll({ TagFilters: [{ Key: 'env', Values: ['prod'] }] })).arns).toHaveLength(7);
    expect((await getAll({ ResourceTypeFilters: ['ec2'] })).arns).toHaveLength(6);
    expect((await getAll({ ResourceTypeFilters: ['elasticloadbalancing:loadbalancer'] })).arns).toEqual([
      arn('loadbalancer/app/web/123', 'eu-west-1', 'elasticloadbalancing'),
    ]);
    expect((await getAll({ ResourceTypeFilters: ['ec2:instance'] }, 'us-east-1')).arns).toEqual([arn('instance/i-9', 'us-east-1')]);
    const other = await tagging(FAKE_CREDENTIALS).send(new GetResourcesCommand({ ResourceTypeFilters: ['ec2:instance'] }));
    expect(other.ResourceTagMappingList).toEqual([]);
  });

  it('answers InvalidParameterException past its limits and for a token of another request', async () => {
    const client = tagging(fake.credentialsFor(acct));
    const error = async (input: GetResourcesCommandInput) => (await errorOf(client.send(new GetResourcesCommand(input))))?.name;
    expect(await error({ ResourcesPerPage: 101 })).toBe('InvalidParameterException');
    expect(await error({ TagFilters: Array.from({ length: 51 }, (_, i) => ({ Key: `k${i}` })) })).toBe('InvalidParameterException');
    expect(await error({ TagFilters: [{ Key: 'k', Values: Array.from({ length: 21 }, (_, i) => `v${i}`) }] })).toBe(
      'InvalidParameterException',
    );
    expect(await error({ ResourceARNList: [arn('instance/i-1')], TagFilters: [{ Key: 'env' }] })).toBe('InvalidParameterException');
    const first = await client.send(new GetResourcesCommand({ ResourceTypeFilters: ['ec2:instance'], ResourcesPerPage: 1 }));
    expect(await error({ ResourceTypeFilters: ['sqs'], PaginationToken: first.PaginationToken! })).toBe('InvalidParameterException');
  });

  it('throttles in its own dialect: ThrottledException, which the SDK retries as a throttle', async () => {
    fake.throttleNext(1, 'GetResources');
    const client = new ResourceGroupsTaggingAPIClient({
      region: 'eu-west-1',
      endpoint: fake.url,
      credentials: fake.credentialsFor(acct),
      maxAttempts: 2,
    });
    clients.push(client);
    const out = await client.send(new GetResourcesCommand({ ResourceTypeFilters: ['sqs'] }));
    expect(out.ResourceTagMappingList).toHaveLength(1);
    expect(
      fake
        .calls('GetResources')
        .slice(-2)
        .map((c) => [c.status, c.error]),
    ).toEqual([
      [400, 'Throttling'],
      [200, undefined],
    ]);
  });
});
