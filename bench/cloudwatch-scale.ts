// CloudWatch at fleet scale: one `bin/poll.ts cloudwatch --once` over 5 regions × 3 accounts × 2,000 metrics against the
// honest AWS fake (through the real SDK, STS sessions included), into a TCP line counter: wall time, peak RSS, calls.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { MetricDatum } from '@aws-sdk/client-cloudwatch';
import { CloudWatchFake, FAKE_CREDENTIALS } from '../test/helpers/cloudwatch-fake.ts';

const ROOT = resolve(import.meta.dirname, '..');
const REGIONS = ['us-east-1', 'us-west-2', 'eu-west-1', 'eu-central-1', 'ap-southeast-2'];
const ACCOUNTS = ['210000000001', '210000000002', '210000000003'];
const METRICS = 2000;
const INTERVAL_SECONDS = 60;

export interface ScaleFigures {
  pairs: number;
  queries: number;
  /** Wall time of the whole `--once` process: Node and tsx start-up, STS, every call, the flush to the socket. */
  wallMs: number;
  /** The run itself, as the job's duration_ms self-metric reports it. */
  runMs: number;
  peakRssMb: number;
  getMetricDataCalls: number;
  /** GetMetricData calls per region and account: min and max over the pairs. */
  callsPerPair: [number, number];
  expectedCallsPerPair: number;
  assumeRoleCalls: number;
  datapoints: number;
  linesReceived: number;
  exitCode: number | null;
  /** The same job as two processes with --shard 1/2 and 2/2 at once. */
  shards: { wallMs: number[]; peakRssMb: number[]; queries: number; calls: number; exitCodes: Array<number | null> };
}

function rssMb(stderr: string): number {
  return Number(/BENCH_MAXRSS_KB (\d+)/.exec(stderr)?.[1] ?? NaN) / 1024;
}

/** One `bin/poll.ts cloudwatch --once` process (optionally one shard), timed; its stderr ends with its peak RSS. */
async function runOnce(
  config: string,
  work: string,
  endpoint: string,
  port: number,
  shard?: string,
): Promise<{ code: number | null; stderr: string; wallMs: number }> {
  // The child reports its own peak RSS (getrusage) as it exits.
  const rssHook =
    'data:text/javascript,process.on("exit",()=>process.stderr.write("\\nBENCH_MAXRSS_KB "+process.resourceUsage().maxRSS+"\\n"))';
  const started = performance.now();
  const args = [
    '--import',
    'tsx',
    '--import',
    rssHook,
    'bin/poll.ts',
    'cloudwatch',
    '--once',
    '--config',
    config,
    ...(shard ? ['--shard', shard] : []),
  ];
  const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((done, fail) => {
    const child = spawn(process.execPath, args, {
      cwd: ROOT,
      env: {
        ...process.env,
        GRAPHITE_URL: `tcp://127.0.0.1:${port}`,
        GRAPHITE_PREFIX: '',
        STATE_DIR: join(work, 'state'),
        AWS_ENDPOINT_URL: endpoint,
        AWS_ACCESS_KEY_ID: FAKE_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: FAKE_CREDENTIALS.secretAccessKey,
        AWS_SESSION_TOKEN: '',
        AWS_REGION: '',
        AWS_PROFILE: '',
        AWS_CONFIG_FILE: join(work, 'none'),
        AWS_SHARED_CREDENTIALS_FILE: join(work, 'none'),
        SHARD: '',
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
    child.on('error', fail);
    child.on('close', (exit) => done({ code: exit, stderr: err }));
  });
  return { code, stderr, wallMs: performance.now() - started };
}

/** A Graphite stand-in that counts plaintext lines and keeps the job's self-metrics. */
async function lineCounter(): Promise<{ server: Server; port: number; lines: () => number; selfMetrics: Map<string, number> }> {
  let lines = 0;
  const selfMetrics = new Map<string, number>();
  const server = createServer((socket) => {
    let tail = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      const text = tail + chunk;
      const cut = text.lastIndexOf('\n');
      tail = text.slice(cut + 1);
      for (let i = text.indexOf('\n'); i !== -1 && i <= cut; i = text.indexOf('\n', i + 1)) lines++;
      if (text.includes('pollers.')) {
        for (const line of text.slice(0, cut).split('\n')) {
          const m = /^pollers\.[^.]+\.(\S+) (\S+) \d+$/.exec(line);
          if (m) selfMetrics.set(m[1]!, Number(m[2]));
        }
      }
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return { server, port: (server.address() as AddressInfo).port, lines: () => lines, selfMetrics };
}

export default async function benchCloudWatchScale(): Promise<ScaleFigures> {
  const fake = await CloudWatchFake.start();
  const counter = await lineCounter();
  const work = mkdtempSync(join(tmpdir(), 'gp-bench-cloudwatch-'));
  try {
    const roles = ACCOUNTS.map((account) => `arn:aws:iam::${account}:role/graphite-reader`);
    for (const role of roles) fake.sts.addRole(role);
    // 15 minutes of one value a minute for every series: the live window (10 minutes) is full.
    const now = Math.floor(Date.now() / 60_000) * 60;
    const services = Array.from({ length: METRICS }, (_, i) => `svc-${String(i).padStart(4, '0')}`);
    const seeding = Date.now();
    await Promise.all(
      REGIONS.flatMap((region) =>
        ACCOUNTS.map(async (account) => {
          const data: MetricDatum[] = [];
          for (let t = now - 15 * 60; t < now; t += 60) {
            for (const service of services)
              data.push({
                MetricName: 'Requests',
                Value: t % 997,
                Timestamp: new Date(t * 1000),
                Dimensions: [{ Name: 'Service', Value: service }],
              });
          }
          await fake.seed('Bench/App', data, { region, account });
        }),
      ),
    );
    console.error(`seeded ${REGIONS.length * ACCOUNTS.length * METRICS} series in ${((Date.now() - seeding) / 1000).toFixed(1)} s`);

    const config = join(work, 'fleet.yaml');
    writeFileSync(
      config,
      [
        `regions: [${REGIONS.join(', ')}]`,
        'roles:',
        ...roles.map((role) => `  - roleArn: ${role}`),
        `interval: ${INTERVAL_SECONDS}`,
        'lookback: 10m',
        'metrics:',
        '  - namespace: Bench/App',
        '    name: Requests',
        `    dimensions: { Service: [${services.join(', ')}] }`,
        '    stats: [Sum]',
        '',
      ].join('\n'),
    );
    fake.clearRequests();

    const run = (shard?: string) => runOnce(config, work, fake.url, counter.port, shard);
    const whole = await run();
    if (whole.code !== 0) console.error(whole.stderr);
    const wallMs = whole.wallMs;
    const code = whole.code;
    const stderr = whole.stderr;
    const perPairCalls = fake.getMetricDataCalls.slice();
    const assumeRoleCalls = fake.calls('AssumeRole').length;
    const runMs = counter.selfMetrics.get('duration_ms') ?? NaN;
    const datapoints = counter.selfMetrics.get('datapoints') ?? NaN;
    const linesReceived = counter.lines();

    // The same job split over two processes side by side (--shard 1/2 and 2/2), as on two hosts.
    fake.clearRequests();
    const shards = await Promise.all([run('1/2'), run('2/2')]);
    const shardQueries = fake.getMetricDataCalls.reduce((n, c) => n + (c.queries ?? 0), 0);
    const shardCalls = fake.getMetricDataCalls.length;

    const perPair = new Map<string, number>();
    for (const call of perPairCalls)
      perPair.set(`${call.account}/${call.region}`, (perPair.get(`${call.account}/${call.region}`) ?? 0) + 1);
    const counts = [...perPair.values()];
    return {
      pairs: REGIONS.length * ACCOUNTS.length,
      queries: perPairCalls.reduce((n, c) => n + (c.queries ?? 0), 0),
      wallMs,
      runMs,
      peakRssMb: rssMb(stderr),
      getMetricDataCalls: perPairCalls.length,
      callsPerPair: [Math.min(...counts), Math.max(...counts)],
      expectedCallsPerPair: Math.ceil(METRICS / 500),
      assumeRoleCalls,
      datapoints,
      linesReceived,
      exitCode: code,
      shards: {
        wallMs: shards.map((r) => r.wallMs),
        peakRssMb: shards.map((r) => rssMb(r.stderr)),
        queries: shardQueries,
        calls: shardCalls,
        exitCodes: shards.map((r) => r.code),
      },
    };
  } finally {
    counter.server.close();
    await fake.close();
    rmSync(work, { recursive: true, force: true });
  }
}

export function formatScaleFigures(f: ScaleFigures): string {
  const n = (x: number) => x.toLocaleString('en-US');
  return [
    `${REGIONS.length} regions × ${ACCOUNTS.length} accounts (STS roles) × ${n(METRICS)} metrics: ` +
      `${f.pairs} region and account pairs, ${n(f.queries)} queries`,
    `--once wall time: ${(f.wallMs / 1000).toFixed(2)} s (process start to exit; the run itself: ` +
      `${(f.runMs / 1000).toFixed(2)} s) — interval ${INTERVAL_SECONDS} s: ${f.wallMs < INTERVAL_SECONDS * 1000 ? 'within' : 'OVER'}`,
    `peak RSS of the poller process: ${f.peakRssMb.toFixed(0)} MB`,
    `GetMetricData calls: ${f.getMetricDataCalls} (per region and account: ${f.callsPerPair[0]}–${f.callsPerPair[1]}; ` +
      `ceil(${n(METRICS)} / 500) = ${f.expectedCallsPerPair}); AssumeRole calls: ${f.assumeRoleCalls}`,
    `datapoints delivered: ${n(f.datapoints)} (${n(f.linesReceived)} lines received with self-metrics); exit code ${f.exitCode}`,
    `as two shards side by side (--shard 1/2, 2/2): ` +
      `wall ${f.shards.wallMs.map((ms) => (ms / 1000).toFixed(2) + ' s').join(' and ')}, ` +
      `peak RSS ${f.shards.peakRssMb.map((mb) => mb.toFixed(0) + ' MB').join(' and ')}, ` +
      `${n(f.shards.queries)} queries in ${f.shards.calls} GetMetricData calls in all; exit codes ${f.shards.exitCodes.join(', ')}`,
  ].join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const figures = await benchCloudWatchScale();
  console.log(formatScaleFigures(figures));
  // The figures are only worth quoting when the run did what it should: every call in the minimum, every query once over the shards.
  const sound =
    figures.exitCode === 0 &&
    figures.callsPerPair.every((n) => n === figures.expectedCallsPerPair) &&
    figures.shards.exitCodes.every((code) => code === 0) &&
    figures.shards.queries === figures.queries;
  process.exitCode = sound ? 0 : 1;
}
