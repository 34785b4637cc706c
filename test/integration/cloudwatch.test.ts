// bin/poll.ts cloudwatch --once and bin/backfill.ts cloudwatch, against the CloudWatch fake through the real SDK
// (AWS_ENDPOINT_URL), into a real carbon-cache: every seeded datapoint read back from whisper, in the fewest calls.
import type { MetricDatum } from '@aws-sdk/client-cloudwatch';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Carbon, describeCarbon } from '../helpers/carbon.ts';
import { CloudWatchFake, FAKE_CREDENTIALS } from '../helpers/cloudwatch-fake.ts';
import { runCommand } from '../helpers/run-command.ts';

const HOUR = 3600;
const SERVICES = ['api', 'web.front end']; // the second one is one node, sanitized: web_front_end

const CONFIG = `region: eu-west-1
metrics:
  - namespace: Test/App
    name: Requests
    dimensions: { Service: '*' }
    stats: [Sum]
  - namespace: Test/App
    name: Latency
    dimensions: { Service: api }
    stats: [Average, p99.9]
  - namespace: Test/App
    name: Errors
    stats: [Sum]
    fill: 0
`;

/** What is seeded for the minute starting at `t` (epoch seconds, whole minute), and what CloudWatch must answer. */
const requests = (t: number, service: number) => ((t / 60) % 1000) + service * 10_000;
const latencies = (t: number) => Array.from({ length: 10 }, (_, i) => ((t / 60) % 100) * 10 + i + 1);
const hasError = (t: number) => (t / 60) % 7 === 0;

function seedMinutes(from: number, to: number): MetricDatum[] {
  const data: MetricDatum[] = [];
  for (let t = from; t < to; t += 60) {
    SERVICES.forEach((service, s) =>
      data.push({
        MetricName: 'Requests',
        Value: requests(t, s),
        Timestamp: new Date((t + 5) * 1000),
        Dimensions: [{ Name: 'Service', Value: service }],
      }),
    );
    latencies(t).forEach((value, i) =>
      data.push({
        MetricName: 'Latency',
        Value: value,
        Timestamp: new Date((t + i * 5) * 1000),
        Dimensions: [{ Name: 'Service', Value: 'api' }],
      }),
    );
    if (hasError(t)) data.push({ MetricName: 'Errors', Value: 2, Timestamp: new Date((t + 30) * 1000) });
  }
  return data;
}

/** Every point the job must deliver for the minutes in [from, to), by whisper path. */
function expected(from: number, to: number): Record<string, Array<[number, number]>> {
  const out: Record<string, Array<[number, number]>> = {};
  const add = (path: string, t: number, v: number) => (out[path] ??= []).push([t, v]);
  for (let t = from; t < to; t += 60) {
    add('cloudwatch.eu-west-1.Test_App.api.Requests.Sum', t, requests(t, 0));
    add('cloudwatch.eu-west-1.Test_App.web_front_end.Requests.Sum', t, requests(t, 1));
    const l = latencies(t);
    add('cloudwatch.eu-west-1.Test_App.api.Latency.Average', t, l.reduce((a, b) => a + b) / l.length);
    add('cloudwatch.eu-west-1.Test_App.api.Latency.p99_9', t, Math.max(...l));
    add('cloudwatch.eu-west-1.Test_App.Errors.Sum', t, hasError(t) ? 2 : 0);
  }
  return out;
}

describeCarbon('cloudwatch into a real carbon-cache', () => {
  let carbon: Carbon;
  let fake: CloudWatchFake;
  let work: string;
  let config: string;
  const env = (state: string) => ({
    GRAPHITE_URL: carbon.url,
    STATE_DIR: join(work, state),
    AWS_ENDPOINT_URL: fake.url,
    AWS_ACCESS_KEY_ID: FAKE_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: FAKE_CREDENTIALS.secretAccessKey,
    AWS_SESSION_TOKEN: '',
    AWS_REGION: '',
    AWS_PROFILE: '',
    AWS_CONFIG_FILE: join(work, 'no-aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(work, 'no-aws-credentials'),
  });

  beforeAll(async () => {
    // One 60 s archive for 30 days: every point of both runs is readable at full resolution.
    carbon = await Carbon.start({ retentions: '60s:30d' });
    fake = await CloudWatchFake.start();
    work = mkdtempSync(join(tmpdir(), 'gp-cloudwatch-'));
    config = join(work, 'cloudwatch.yaml');
    writeFileSync(config, CONFIG);
  });
  afterAll(async () => {
    await fake?.close();
    await carbon?.destroy();
  });

  async function readBack(
    paths: Record<string, Array<[number, number]>>,
    from: number,
    to: number,
  ): Promise<Record<string, Array<[number, number]>>> {
    await carbon.flush();
    const out: Record<string, Array<[number, number]>> = {};
    for (const path of Object.keys(paths)) out[path] = (await carbon.fetch(path, from - 60, to)).filter(([t]) => t >= from && t < to);
    return out;
  }

  it('poll --once delivers every datapoint of the live window in one GetMetricData call', async () => {
    const now = Math.floor(Date.now() / 1000);
    await fake.seed('Test/App', seedMinutes(Math.floor(now / 60) * 60 - 40 * 60, Math.floor(now / 60) * 60));
    fake.clearRequests();

    const result = await runCommand(['bin/poll.ts', 'cloudwatch', '--once', '--config', config], { env: env('state-once') });
    expect(result.code, result.stderr).toBe(0);

    // The window the runner asked for: 10 minutes ending 2 minutes before a 5-minute tick.
    const calls = fake.calls('GetMetricData');
    expect(calls).toHaveLength(1);
    expect(calls[0]!.queries).toBe(5);
    expect(calls[0]!.status).toBe(200);
    expect(calls[0]!.headers.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIAFAKEFAKEFAKE0000\/\d{8}\/eu-west-1\/monitoring\/aws4_request/,
    );
    const { startTime, endTime } = calls[0]!;
    expect(endTime! - startTime!).toBe(600);
    expect((endTime! + 120) % 300).toBe(0);
    expect(fake.calls('ListMetrics')).toHaveLength(1);

    const want = expected(startTime!, endTime!);
    expect(await readBack(want, startTime!, endTime!)).toEqual(want);
  });

  it('a two-hour backfill delivers every datapoint, in one GetMetricData call', async () => {
    const from = Math.floor(Date.now() / 1000 / HOUR) * HOUR - 6 * HOUR;
    const to = from + 2 * HOUR;
    await fake.seed('Test/App', seedMinutes(from - HOUR, to + HOUR));
    fake.clearRequests();
    const iso = (t: number) => new Date(t * 1000).toISOString();

    const result = await runCommand(['bin/backfill.ts', 'cloudwatch', '--from', iso(from), '--to', iso(to), '--config', config], {
      env: env('state-backfill'),
    });
    expect(result.code, result.stderr).toBe(0);

    const calls = fake.calls('GetMetricData');
    expect(calls.map((c) => [c.startTime, c.endTime, c.queries])).toEqual([[from, to, 5]]);
    // Backfills list every series ListMetrics knows, not only the recently active ones.
    expect(fake.calls('ListMetrics').map((c) => c.body.RecentlyActive)).toEqual([undefined]);

    const want = expected(from, to);
    const got = await readBack(want, from, to);
    for (const path of Object.keys(want)) expect(got[path], path).toHaveLength(120);
    expect(got).toEqual(want);
  });
});

describe('cloudwatch without usable credentials stops at once (exit 78, one line), live, --once and backfill alike', () => {
  let fake: CloudWatchFake;
  let work: string;
  let config: string;
  let roleConfig: string;
  /** No credentials anywhere: no AWS_* variables, an empty HOME (no ~/.aws), no instance metadata. */
  const emptyChain = () => ({
    HOME: mkdtempSync(join(tmpdir(), 'gp-cloudwatch-home-')),
    AWS_ENDPOINT_URL: fake.url,
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_ACCESS_KEY_ID: '',
    AWS_SECRET_ACCESS_KEY: '',
    AWS_SESSION_TOKEN: '',
    AWS_PROFILE: '',
    AWS_DEFAULT_PROFILE: '',
    AWS_REGION: '',
    AWS_DEFAULT_REGION: '',
    AWS_CONFIG_FILE: '',
    AWS_SHARED_CREDENTIALS_FILE: '',
    AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: '',
    AWS_CONTAINER_CREDENTIALS_FULL_URI: '',
    AWS_WEB_IDENTITY_TOKEN_FILE: '',
    AWS_ROLE_ARN: '',
    GRAPHITE_URL: '',
    STATE_DIR: join(work, `state-${Math.random().toString(36).slice(2)}`),
  });
  const refused = () => ({ ...emptyChain(), AWS_ACCESS_KEY_ID: 'AKIAUNKNOWNKEY000000', AWS_SECRET_ACCESS_KEY: 'not-a-secret-aws-knows' });
  const known = () => ({
    ...emptyChain(),
    AWS_ACCESS_KEY_ID: FAKE_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: FAKE_CREDENTIALS.secretAccessKey,
  });
  const week = () => [
    '--from',
    new Date(Date.now() - 7 * 86_400_000).toISOString(),
    '--to',
    new Date(Date.now() - 3_600_000).toISOString(),
  ];

  beforeAll(async () => {
    fake = await CloudWatchFake.start();
    work = mkdtempSync(join(tmpdir(), 'gp-cloudwatch-credentials-'));
    config = join(work, 'cloudwatch.yaml');
    writeFileSync(config, CONFIG);
    roleConfig = join(work, 'role.yaml');
    writeFileSync(roleConfig, `${CONFIG}roleArn: arn:aws:iam::222222222222:role/nobody-trusts-us\n`);
  });
  afterAll(async () => {
    await fake?.close();
  });

  /** Runs a command and checks the common promise: exit 78 within seconds, one error line, no call repeated. */
  async function stopsAtOnce(args: string[], env: NodeJS.ProcessEnv, line: RegExp) {
    fake.clearRequests();
    const started = Date.now();
    // A live job that did not stop would run until this kills it (exit null).
    const result = await runCommand(args, { env, timeoutMs: 40_000 });
    const elapsed = Date.now() - started;
    expect(result.code, result.stderr).toBe(78);
    // Node and tsx start in about a second; a retry of each window would take a minute and more.
    expect(elapsed).toBeLessThan(20_000);
    const errors = result.stderr.split('\n').filter((l) => /^\S+ (ERROR|FATAL) /.test(l));
    expect(errors, result.stderr).toHaveLength(1);
    expect(errors[0]).toMatch(line);
    expect(result.stderr).not.toMatch(/retry|attempt \d/i);
    expect(result.stderr.match(/Could not load credentials/g)?.length ?? 0).toBeLessThanOrEqual(1);
    return { result, requests: fake.calls() };
  }

  const NO_CREDENTIALS =
    /no AWS credentials: set AWS_PROFILE .*AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.*Could not load credentials from any providers/;
  const REFUSED = new RegExp(
    /AWS refused the credentials of AWS_ACCESS_KEY_ID in eu-west-1 .*InvalidClientTokenId: /.source +
      /The security token included in the request is invalid.*set AWS_PROFILE/.source,
  );

  it('an empty credential chain: poll --once, the live job and a week-long backfill send nothing and exit 78', async () => {
    for (const args of [
      ['bin/poll.ts', 'cloudwatch', '--once', '--config', config],
      ['bin/poll.ts', 'cloudwatch', '--config', config],
      ['bin/backfill.ts', 'cloudwatch', ...week(), '--config', config],
    ]) {
      const { requests } = await stopsAtOnce(args, emptyChain(), NO_CREDENTIALS);
      // Nothing was signed: no request reached AWS at all.
      expect(requests, args.join(' ')).toEqual([]);
    }
  }, 90_000);

  it('credentials AWS refuses: exit 78 naming the variable, each call made once at most', async () => {
    for (const args of [
      ['bin/poll.ts', 'cloudwatch', '--once', '--config', config],
      ['bin/backfill.ts', 'cloudwatch', ...week(), '--config', config],
    ]) {
      const { result, requests } = await stopsAtOnce(args, refused(), REFUSED);
      expect(result.stderr).not.toContain('not-a-secret-aws-knows');
      // The first answer stops the job: a handful of calls (the windows already under way: 4 at once by default),
      // not one per window and attempt (a week is 56 windows).
      expect(requests.length, args.join(' ')).toBeLessThanOrEqual(8);
      expect(requests.every((r) => r.status === 403)).toBe(true);
    }
  }, 90_000);

  it('a role the credentials may not assume: exit 78 naming roleArn and the trust policy', async () => {
    const { requests } = await stopsAtOnce(
      ['bin/poll.ts', 'cloudwatch', '--once', '--config', roleConfig],
      known(),
      new RegExp(
        /role\.yaml: roleArn: the credentials of AWS_ACCESS_KEY_ID may not assume arn:aws:iam::222222222222:role\/nobody-trusts-us /
          .source + /\(AccessDenied: .*\): allow them in the role's trust policy/.source,
      ),
    );
    expect(requests.map((r) => r.operation)).toEqual(['AssumeRole']);
  }, 60_000);
});
