// bin/poll.ts cloudwatch --once over two regions × two roles (STS AssumeRole, resources found by tag), against the AWS
// fake through the real SDK, into a real carbon-cache: one region failing costs only its own points; two shards on two
// processes deliver exactly what one unsharded process delivers.
import type { MetricDatum } from '@aws-sdk/client-cloudwatch';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Carbon, describeCarbon, type Point } from '../helpers/carbon.ts';
import { CloudWatchFake, FAKE_CREDENTIALS } from '../helpers/cloudwatch-fake.ts';
import { runCommand, type CommandResult } from '../helpers/run-command.ts';

const REGIONS = ['eu-west-1', 'eu-central-1'];
const ROLE_A = 'arn:aws:iam::222222222222:role/graphite-reader';
const ROLE_B = 'arn:aws:iam::333333333333:role/graphite-reader';
const PAIRS = REGIONS.flatMap((region) => [
  { region, account: '222222222222' },
  { region, account: '333333333333' },
]);
const SERVICES = ['s0', 's1', 's2', 's3', 's4'];
const QUEUES = ['orders', 'emails', 'refunds'];
const TEAMS = ['payments', 'comms', 'payments'];

const CONFIG = `regions: [${REGIONS.join(', ')}]
roles:
  - roleArn: ${ROLE_A}
  - roleArn: ${ROLE_B}
    externalId: fleet-integration
metrics:
  - namespace: Fleet/Web
    name: Requests
    dimensions: { Service: [${SERVICES.join(', ')}] }
    stats: [Sum]
  - namespace: AWS/SQS
    name: NumberOfMessagesSent
    tags: { env: prod, team: '*' }
    stats: [Sum]
    path: fleet.{account}.{region}.{tag.team}.{dim.QueueName}.{metric}
`;

/** Values seeded for the minute starting at `t`: different in every pair, series and minute. */
const requests = (t: number, pair: number, service: number) => ((t / 60) % 100) + service * 100 + pair * 1000;
const messages = (t: number, pair: number, queue: number) => ((t / 60) % 50) + queue * 7 + pair * 10_000;

/** Every point the job must deliver for the minutes in [from, to), by path, for the given pairs. */
function expected(from: number, to: number, pairs: number[]): Map<string, Point[]> {
  const out = new Map<string, Point[]>();
  const add = (path: string, t: number, v: number) => out.set(path, [...(out.get(path) ?? []), [t, v]]);
  for (const p of pairs) {
    const { region, account } = PAIRS[p]!;
    for (let t = from; t < to; t += 60) {
      SERVICES.forEach((service, s) => add(`cloudwatch.${account}.${region}.Fleet_Web.${service}.Requests.Sum`, t, requests(t, p, s)));
      QUEUES.forEach((queue, q) => add(`fleet.${account}.${region}.${TEAMS[q]}.${queue}.NumberOfMessagesSent`, t, messages(t, p, q)));
    }
  }
  return out;
}

describeCarbon('cloudwatch fleet jobs into a real carbon-cache', () => {
  let carbon: Carbon;
  let fake: CloudWatchFake;
  let work: string;
  let config: string;
  const env = (extra: Record<string, string> = {}) => ({
    GRAPHITE_URL: carbon.url,
    STATE_DIR: join(work, 'state'),
    AWS_ENDPOINT_URL: fake.url,
    AWS_ACCESS_KEY_ID: FAKE_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: FAKE_CREDENTIALS.secretAccessKey,
    AWS_SESSION_TOKEN: '',
    AWS_REGION: '',
    AWS_PROFILE: '',
    AWS_CONFIG_FILE: join(work, 'no-aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(work, 'no-aws-credentials'),
    SHARD: '',
    ...extra,
  });
  const poll = (extra: Record<string, string> = {}, args: string[] = []) =>
    runCommand(['bin/poll.ts', 'cloudwatch', '--once', '--config', config, ...args], { env: env(extra) });

  beforeAll(async () => {
    carbon = await Carbon.start({ retentions: '60s:30d' });
    fake = await CloudWatchFake.start();
    work = mkdtempSync(join(tmpdir(), 'gp-cloudwatch-fleet-'));
    config = join(work, 'fleet.yaml');
    writeFileSync(config, CONFIG);
    fake.sts.addRole(ROLE_A);
    fake.sts.addRole(ROLE_B, { externalId: 'fleet-integration' });

    const now = Math.floor(Date.now() / 60_000) * 60;
    for (const [p, { region, account }] of PAIRS.entries()) {
      const data: MetricDatum[] = [];
      const sqs: MetricDatum[] = [];
      for (let t = now - 40 * 60; t < now; t += 60) {
        SERVICES.forEach((service, s) =>
          data.push({
            MetricName: 'Requests',
            Value: requests(t, p, s),
            Timestamp: new Date((t + 7) * 1000),
            Dimensions: [{ Name: 'Service', Value: service }],
          }),
        );
        QUEUES.forEach((queue, q) =>
          sqs.push({
            MetricName: 'NumberOfMessagesSent',
            Value: messages(t, p, q),
            Timestamp: new Date((t + 11) * 1000),
            Dimensions: [{ Name: 'QueueName', Value: queue }],
          }),
        );
        // A queue without the tags has data too, and must not be read.
        sqs.push({
          MetricName: 'NumberOfMessagesSent',
          Value: 1,
          Timestamp: new Date(t * 1000),
          Dimensions: [{ Name: 'QueueName', Value: 'untagged' }],
        });
      }
      await fake.seed('Fleet/Web', data, { region, account });
      await fake.seed('AWS/SQS', sqs, { region, account });
      QUEUES.forEach((queue, q) => fake.tagging.tagResource(`arn:aws:sqs:${region}:${account}:${queue}`, { env: 'prod', team: TEAMS[q]! }));
      fake.tagging.tagResource(`arn:aws:sqs:${region}:${account}:untagged`, { env: 'dev' });
    }
  });
  afterAll(async () => {
    await fake?.close();
    await carbon?.destroy();
  });

  /** The one window every GetMetricData call of the last run asked for. */
  function window(): { start: number; end: number } {
    const ranges = new Set(fake.getMetricDataCalls.map((c) => `${c.startTime}-${c.endTime}`));
    expect([...ranges]).toHaveLength(1);
    const [start, end] = [...ranges][0]!.split('-').map(Number) as [number, number];
    return { start, end };
  }

  /** Everything in whisper under `prefix.` (without it), self-metrics left out, within [from, to). */
  async function delivered(prefix: string, from: number, to: number): Promise<Map<string, Point[]>> {
    await carbon.flush();
    const out = new Map<string, Point[]>();
    for (const [name, points] of await carbon.dump(from - 3600, to + 3600)) {
      if (!name.startsWith(`${prefix}.`) || name.startsWith(`${prefix}.pollers.`)) continue;
      out.set(
        name.slice(prefix.length + 1),
        points.filter(([t]) => t >= from && t < to),
      );
    }
    return out;
  }

  /**
   * Waits (up to 46 s: those tests have a longer timeout) until --once runs started now and a few seconds later ask for the
   * same 5-minute window.
   */
  async function awayFromTickBoundary(): Promise<void> {
    const left = 300 - ((Date.now() / 1000) % 300);
    if (left < 45) await new Promise((resolve) => setTimeout(resolve, (left + 1) * 1000));
  }

  it('two regions × two roles: the pair whose region fails is logged and counted, every datapoint of the others arrives', async () => {
    fake.denyRegion('eu-central-1', '333333333333');
    fake.clearRequests();
    let result: CommandResult;
    try {
      result = await poll({ GRAPHITE_PREFIX: 'failing' });
    } finally {
      fake.allowRegion('eu-central-1', '333333333333');
    }
    // --once reports the failed run in its exit status; the run's error is logged once, after the others delivered.
    expect(result.code, result.stderr).toBe(1);
    const errors = result.stderr.split('\n').filter((line) => /run failed/.test(line));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain(`1 of 4 region and account pairs failed (eu-central-1 as ${ROLE_B})`);
    expect(errors[0]).toContain('The security token included in the request is invalid.');
    expect(
      result.stderr
        .split('\n')
        .filter((line) => line.includes(`eu-central-1 as ${ROLE_B} failed; the other regions and accounts delivered`)),
    ).toHaveLength(1);

    // Each role assumed once for both regions; one GetResources and one GetMetricData per healthy pair.
    expect(
      fake
        .calls('AssumeRole')
        .map((c) => c.body.RoleArn)
        .sort(),
    ).toEqual([ROLE_A, ROLE_B]);
    expect(fake.getMetricDataCalls.map((c) => `${c.account}/${c.region}:${c.queries}`).sort()).toEqual([
      '222222222222/eu-central-1:8',
      '222222222222/eu-west-1:8',
      '333333333333/eu-west-1:8',
    ]);

    const { start, end } = window();
    expect(end - start).toBe(600);
    const want = expected(start, end, [0, 1, 2]);
    const got = await delivered('failing', start, end);
    expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
    for (const [path, points] of want) expect(got.get(path), path).toEqual(points);
    for (const path of got.keys()) expect(path).not.toContain('333333333333.eu-central-1');
    // The failure is counted in the job's self-metrics, and the run as failed.
    const self = await carbon.dump(start - 3600, end + 3600);
    expect(self.get('failing.pollers.fleet.target_errors')?.map(([, v]) => v)).toEqual([1]);
    expect(self.get('failing.pollers.fleet.errors')?.map(([, v]) => v)).toEqual([1]);
  });

  it('two shards on two processes together deliver exactly the set one unsharded process delivers', async () => {
    await awayFromTickBoundary();
    fake.clearRequests();
    const whole = await poll({ GRAPHITE_PREFIX: 'whole' });
    expect(whole.code, whole.stderr).toBe(0);
    const { start, end } = window();
    const wholeQueries = fake.getMetricDataCalls.reduce((n, c) => n + c.queries!, 0);
    expect(wholeQueries).toBe(4 * 8);

    fake.clearRequests();
    // One shard from the flag, the other from the environment, side by side.
    const [first, second] = await Promise.all([
      poll({ GRAPHITE_PREFIX: 'sharded' }, ['--shard', '1/2']),
      poll({ GRAPHITE_PREFIX: 'sharded', SHARD: '2/2' }),
    ]);
    expect(first.code, first.stderr).toBe(0);
    expect(second.code, second.stderr).toBe(0);
    expect(window()).toEqual({ start, end });
    expect(first.stderr).toMatch(/shard=1\/2|"shard":"1\/2"/);
    expect(second.stderr).toMatch(/shard=2\/2|"shard":"2\/2"/);
    // Every query once: the shards' queries add up to the unsharded run's.
    expect(fake.getMetricDataCalls.reduce((n, c) => n + c.queries!, 0)).toBe(wholeQueries);

    const unsharded = await delivered('whole', start, end);
    const sharded = await delivered('sharded', start, end);
    expect(unsharded.size).toBe(4 * (SERVICES.length + QUEUES.length));
    expect([...sharded.keys()].sort()).toEqual([...unsharded.keys()].sort());
    for (const [path, points] of unsharded) expect(sharded.get(path), path).toEqual(points);
    expect(unsharded).toEqual(expected(start, end, [0, 1, 2, 3]));

    // Each shard is its own job: its own self-metrics (and state), so neither overwrites the other's.
    const self = await carbon.dump(start - 3600, end + 3600);
    const datapoints = (job: string) => self.get(`sharded.pollers.${job}.datapoints`)?.at(-1)?.[1] ?? 0;
    expect(datapoints('fleet-shard1of2')).toBeGreaterThan(0);
    expect(datapoints('fleet-shard2of2')).toBeGreaterThan(0);
    expect(datapoints('fleet-shard1of2') + datapoints('fleet-shard2of2')).toBe(self.get('whole.pollers.fleet.datapoints')?.at(-1)?.[1]);
  }, 120_000);

  it('with GRAPHITE_TAGS=1, the selected AWS tags become the Graphite tags of the series found by tag', async () => {
    await awayFromTickBoundary();
    fake.clearRequests();
    const result = await poll({ GRAPHITE_PREFIX: 'tagged', GRAPHITE_TAGS: '1' });
    expect(result.code, result.stderr).toBe(0);
    const { start, end } = window();
    await carbon.flush();
    const want = expected(start, end, [1]).get('fleet.333333333333.eu-west-1.payments.refunds.NumberOfMessagesSent')!;
    const got = await carbon.fetchTagged(
      'tagged.fleet.333333333333.eu-west-1.payments.refunds.NumberOfMessagesSent;env=prod;team=payments',
      start - 3600,
      end,
    );
    expect(got.filter(([t]) => t >= start && t < end)).toEqual(want);
    // Series named in the config have no tags to give: plain paths, as before.
    expect(await carbon.fetch('tagged.cloudwatch.333333333333.eu-west-1.Fleet_Web.s0.Requests.Sum', start - 3600, end)).not.toEqual([]);
  }, 120_000);
});
