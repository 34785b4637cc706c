// Start-up: wall time of whole `bin/poll.ts` processes (host --once --dry-run, cloudwatch --once on the fake,
// --list) beside Node.js with tsx doing nothing, and which SDKs each one loads.
import type { MetricDatum } from '@aws-sdk/client-cloudwatch';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { CloudWatchFake, FAKE_CREDENTIALS } from '../test/helpers/cloudwatch-fake.ts';
import { exactly, formatText, info, ms, type Figure, type Section } from './report.ts';

const ROOT = resolve(import.meta.dirname, '..');
const RUNS = 9;
const REPORT = pathToFileURL(join(ROOT, 'bench', 'child-report.ts')).href;
/** Packages that are SDKs of one source: a process that does not poll that source should not load them. */
const SDK = /^(@aws-sdk\/|@smithy\/|@googleapis\/|googleapis|google-auth-library|gaxios)/;

interface Command {
  name: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  /** The SDK packages this command may load. */
  allowed: RegExp | undefined;
}

interface Run {
  ms: number;
  code: number;
  packages: string[];
  peakRssMB: number;
}

function run(command: Command): Promise<Run> {
  const args = ['--import', 'tsx', '--import', REPORT, ...command.args];
  const started = performance.now();
  return new Promise((resolveRun) => {
    execFile(
      process.execPath,
      args,
      { cwd: ROOT, env: { ...process.env, NODE_OPTIONS: '', ...command.env }, maxBuffer: 16 << 20 },
      (error, _stdout, stderr) => {
        const elapsed = performance.now() - started;
        const packages = /packages-loaded (\[.*\])/.exec(stderr);
        const rss = /peak-rss-kb (\d+)/.exec(stderr);
        resolveRun({
          ms: elapsed,
          code: error ? Number(error.code ?? 1) : 0,
          packages: packages ? (JSON.parse(packages[1]!) as string[]) : [],
          peakRssMB: rss ? Number(rss[1]) / 1024 : NaN,
        });
      },
    );
  });
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
};

/** Seconds to import these packages in a fresh process (best of 5): what a lazy import saves a process that needs none of them. */
function importCost(packages: string[]): Promise<number> {
  const code =
    `const t = performance.now(); ${packages.map((p) => `await import(${JSON.stringify(p)});`).join(' ')} ` +
    `console.log(performance.now() - t);`;
  const once = () =>
    new Promise<number>((resolveRun) => {
      execFile(
        process.execPath,
        ['--input-type=module', '-e', code],
        { cwd: ROOT, env: { ...process.env, NODE_OPTIONS: '' } },
        (_error, stdout) => resolveRun(Number(stdout.trim())),
      );
    });
  return (async () => {
    let best = Infinity;
    for (let i = 0; i < 5; i++) best = Math.min(best, await once());
    return best;
  })();
}

export default async function benchStartup(): Promise<Section> {
  const work = mkdtempSync(join(tmpdir(), 'gp-bench-startup-'));
  const fake = await CloudWatchFake.start();
  try {
    const now = Math.floor(Date.now() / 60_000) * 60;
    const data: MetricDatum[] = [];
    for (let m = 1; m <= 20; m++)
      data.push({
        MetricName: 'CPUUtilization',
        Value: m,
        Timestamp: new Date((now - m * 60) * 1000),
        Dimensions: [{ Name: 'InstanceId', Value: 'i-1' }],
      });
    await fake.seed('AWS/EC2', data);
    const config = join(work, 'cloudwatch.yaml');
    writeFileSync(
      config,
      'region: eu-west-1\nmetrics:\n  - namespace: AWS/EC2\n    name: CPUUtilization\n' +
        '    dimensions: { InstanceId: i-1 }\n    stats: [Average]\n',
    );
    const quiet = { STATE_DIR: join(work, 'state'), LOG_LEVEL: 'warn', SELF_METRICS: '0' };
    const aws = {
      AWS_ENDPOINT_URL: fake.url,
      AWS_ACCESS_KEY_ID: FAKE_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: FAKE_CREDENTIALS.secretAccessKey,
      AWS_SESSION_TOKEN: '',
      AWS_PROFILE: '',
      AWS_CONFIG_FILE: join(work, 'no-aws-config'),
      AWS_SHARED_CREDENTIALS_FILE: join(work, 'no-aws-credentials'),
    };
    const commands: Command[] = [
      { name: 'node --import tsx, empty', args: ['-e', '0'], allowed: undefined },
      { name: 'poll.ts host --once --dry-run', args: ['bin/poll.ts', 'host', '--once', '--dry-run'], env: quiet, allowed: undefined },
      {
        name: 'poll.ts cloudwatch --once --dry-run (fake)',
        args: ['bin/poll.ts', 'cloudwatch', '--once', '--dry-run', '--config', config],
        env: { ...quiet, ...aws },
        allowed: /^(@aws-sdk\/|@smithy\/)/,
      },
      { name: 'poll.ts --list', args: ['bin/poll.ts', '--list'], env: quiet, allowed: undefined },
    ];
    const times = new Map<string, number[]>(commands.map((c) => [c.name, []]));
    const last = new Map<string, Run>();
    // Rounds of every command in turn, after one warm-up round (tsx's transform cache, the disk cache).
    for (let round = -1; round < RUNS; round++) {
      for (const command of commands) {
        const result = await run(command);
        if (result.code !== 0) throw new Error(`${command.name} exited ${result.code}`);
        if (round >= 0) times.get(command.name)!.push(result.ms);
        last.set(command.name, result);
      }
    }
    const base = median(times.get(commands[0]!.name)!);
    const figures: Figure[] = [];
    for (const command of commands) {
      const value = median(times.get(command.name)!);
      const result = last.get(command.name)!;
      const extra = command === commands[0] ? '' : ` (+${ms(value - base)} over the empty process)`;
      figures.push(
        info(`${command.name}: wall time, median of ${RUNS}`, `${ms(value)}${extra}, peak RSS ${result.peakRssMB.toFixed(0)} MB`),
      );
    }
    const sdkNotes: string[] = [];
    for (const command of commands.slice(1)) {
      const sdks = last.get(command.name)!.packages.filter((p) => SDK.test(p));
      const unneeded = sdks.filter((p) => !command.allowed?.test(p));
      const figure = exactly(`${command.name}: SDK packages it does not need, loaded`, unneeded.length, 0);
      if (unneeded.length > 0) {
        const cost = await importCost(
          ['@aws-sdk/client-cloudwatch', '@aws-sdk/client-sts', '@aws-sdk/client-resource-groups-tagging-api'].filter((p) =>
            unneeded.includes(p),
          ),
        );
        figure.margin =
          `${figure.margin}: ${unneeded.filter((p) => !p.startsWith('@smithy/')).join(', ')}; ` +
          `importing the AWS clients alone takes ${ms(cost)}`;
        sdkNotes.push(command.name);
      }
      figures.push(figure);
    }
    const notes = [
      '`host` and `--list` must not load an SDK they do not use. The GA4 client loads `@googleapis/analyticsdata` on its first call ' +
        '(pollers/google-analytics/client.ts), so neither loads it. ' +
        (sdkNotes.length > 0
          ? '`--list` imports every poller for its summary line, and pollers/cloudwatch.ts still imports the AWS SDK at load time ' +
            '(pollers/cloudwatch/client.ts, api-calls.ts, credentials.ts): ' +
            'the same change there (a dynamic import in `cloudWatchTarget`, which is already async) ' +
            'would take that cost off `--list` and `--help`; it was left to the CloudWatch work in progress (issue 10), ' +
            'which owns those files.'
          : 'Nothing else is loaded that the command does not use.'),
      '',
      'Most of what remains is Node.js with tsx itself (its loader thread and the TypeScript transforms, ' +
        'cached on disk after the first run), zod and yaml. `node --import tsx bin/poll.ts` is what supervisord and systemd run; ' +
        "`npx tsx` adds npx's own start-up on top.",
    ];
    return {
      title: 'Start-up',
      method:
        `Wall time of whole processes, from spawn to exit, each run ${RUNS} times in interleaved rounds after a warm-up round; ` +
        'the median counts. The CloudWatch run polls the fake over the real SDK (one metric, one GetMetricData call). ' +
        'A preloaded module lists, at exit, the npm packages the process loaded and its peak RSS.',
      figures,
      notes,
    };
  } finally {
    await fake.close();
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const section = await benchStartup();
  console.log(formatText(section));
  for (const note of section.notes ?? []) console.log(note);
}
