// crontab.example, line by line: each command runs as cron would run it (its schedule stripped; the crontab's
// variables as the whole environment, GP/LOGS/PATH moved to temporary directories; SHELL -c), against the GA4
// and CloudWatch fakes and a real carbon-cache, and must do what its comment says. flock keeps runs apart.
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import type { MetricDatum } from '@aws-sdk/client-cloudwatch';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Carbon, describeCarbon } from '../helpers/carbon.ts';
import { CloudWatchFake, FAKE_CREDENTIALS } from '../helpers/cloudwatch-fake.ts';
import { TEST_NOW_VARIABLE } from '../../lib/poller-kit/clock.ts';
import { Ga4Fake, type SeedRow } from '../helpers/ga4-fake.ts';
import { ROOT } from '../helpers/run-command.ts';

const run = promisify(execFile);
const HOUR = 3600;
const DAY = 86400;
const CRONTAB = join(ROOT, 'crontab.example');
const TOKEN = 'cron-token';
const PROPERTY = '777';
/** The nightly GA line at 04:30 UTC on 2026-12-05: its two days hold 2026-12-04T16:00Z, where the old seed made 0 sessions. */
const OLD_BUG_NIGHT = Date.parse('2026-12-05T04:30:00Z') / 1000;

interface CronLine {
  schedule: string[];
  command: string;
}

/** The crontab as cron reads it: `NAME=value` lines set the environment; other lines are 5 fields and a command. */
function parseCrontab(text: string): { variables: Record<string, string>; lines: CronLine[] } {
  const variables: Record<string, string> = {};
  const lines: CronLine[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const variable = /^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (variable) {
      variables[variable[1]!] = variable[2]!.replace(/^"(.*)"$|^'(.*)'$/, '$1$2');
      continue;
    }
    const fields = line.split(/\s+/);
    lines.push({ schedule: fields.slice(0, 5), command: line.replace(/^(\S+\s+){5}/, '') });
  }
  return { variables, lines };
}

const FIELD = /^(\*|\d+(-\d+)?)(\/\d+)?(,(\*|\d+(-\d+)?)(\/\d+)?)*$/;
const RANGES: Array<[number, number]> = [
  [0, 59],
  [0, 23],
  [1, 31],
  [1, 12],
  [0, 7],
];

function installCheckout(): string {
  const dir = mkdtempSync(join(tmpdir(), 'gp-opt-'));
  for (const entry of ['bin', 'lib', 'pollers', 'node_modules', 'package.json', 'tsconfig.json'])
    symlinkSync(join(ROOT, entry), join(dir, entry));
  mkdirSync(join(dir, 'config'));
  return dir;
}

describeCarbon('crontab.example, every line run as cron runs it', () => {
  const crontab = parseCrontab(readFileSync(CRONTAB, 'utf8'));
  let carbon: Carbon;
  let cloudwatch: CloudWatchFake;
  let gp: string;
  let logs: string;
  let env: Record<string, string>;
  const now = Math.floor(Date.now() / 1000);
  const cwFrom = Math.floor(now / 60) * 60 - 14 * DAY + 60;

  const lineFor = (pattern: RegExp) => {
    const found = crontab.lines.filter((l) => pattern.test(l.command));
    expect(found, String(pattern)).toHaveLength(1);
    return found[0]!;
  };
  /** `SHELL -c command` with the crontab's variables as environment (plus HOME and LOGNAME, which cron adds). */
  const cron = async (line: CronLine, extra: Record<string, string> = {}) => {
    // Cron turns an unescaped % into a newline (the rest becomes stdin): a command must have none.
    expect(line.command.replace(/\\%/g, '')).not.toContain('%');
    try {
      await run(env.SHELL!, ['-c', line.command.replace(/\\%/g, '%')], { env: { ...env, ...extra }, cwd: env.HOME });
      return 0;
    } catch (error) {
      return (error as { code?: number }).code ?? -1;
    }
  };

  // GA: an hourly series for the 5 days up to a night's 04:30 (property in UTC), each hour's sessions from its
  // timestamp: never 0 (GA4 leaves all-zero rows out, and so does the fake) and different from its neighbours.
  const sessions = (hour: number) => 1 + ((hour / HOUR) % 1000);
  const dateHour = (t: number) => new Date(t * 1000).toISOString().slice(0, 13).replace(/[-T]/g, '');
  /** One run of the nightly line, at `at` (epoch seconds) on the commands' clock (GRAPHITE_POLLERS_TEST_NOW). */
  class GaNight {
    readonly at: number;
    readonly prefix: string;
    readonly today: number;
    readonly hours: number[];
    fake!: Ga4Fake;
    #startedAt = Date.now();
    constructor(at: number, prefix: string) {
      this.at = at;
      this.prefix = prefix;
      this.today = Math.floor(at / DAY) * DAY;
      this.hours = Array.from({ length: 5 * 24 }, (_, i) => this.today - 4 * DAY + i * HOUR).filter((h) => h < at - HOUR);
    }
    async start(): Promise<void> {
      // The fake's "today" (GA's relative dates, quotas) follows the commands' clock: from `at` when the run starts.
      this.fake = await Ga4Fake.start({ tokens: [TOKEN], now: () => this.at * 1000 + (Date.now() - this.#startedAt) });
      this.fake.addProperty({
        id: PROPERTY,
        timeZone: 'UTC',
        rows: this.hours.map((hour): SeedRow => ({
          dateHour: dateHour(hour),
          dimensions: { deviceCategory: 'desktop' },
          metrics: { sessions: sessions(hour) },
        })),
      });
    }
    /** The environment a run adds to cron's: the clock's start, and where this night's fake and series are. */
    environment(): Record<string, string> {
      this.#startedAt = Date.now();
      const start = new Date(this.at * 1000).toISOString();
      return { [TEST_NOW_VARIABLE]: start, GA4_API_ROOT_URL: this.fake.url, GRAPHITE_PREFIX: this.prefix };
    }
  }
  // As cron runs it: the last 04:30 UTC before now (a fixed time of day, so no run straddles a midnight).
  const lastNight = new GaNight(Math.floor((now - 4.5 * HOUR) / DAY) * DAY + 4.5 * HOUR, 'cron');
  const oldBugNight = new GaNight(OLD_BUG_NIGHT, 'cron_2026_12_05');
  // CloudWatch: one series at 1-minute resolution for 14 days; never 0, and no value repeats within the range.
  const requests = (t: number) => 1 + ((t / 60) % 100_000);

  beforeAll(async () => {
    // An hourly archive for 20 years keeps the fixed night of 2026-12-05 readable, however long after it this runs.
    carbon = await Carbon.start({ retentions: '60s:30d,1h:20y' });
    await lastNight.start();
    await oldBugNight.start();
    cloudwatch = await CloudWatchFake.start();
    const data: MetricDatum[] = [];
    for (let t = cwFrom; t < now - 60; t += 60)
      data.push({
        MetricName: 'Requests',
        Value: requests(t),
        Timestamp: new Date((t + 1) * 1000),
        Dimensions: [{ Name: 'Service', Value: 'api' }],
      });
    await cloudwatch.seed('Test/App', data);

    gp = installCheckout();
    logs = mkdtempSync(join(tmpdir(), 'gp-logs-'));
    // Once, as the crontab's header says: the state directory holds the lock files.
    mkdirSync(join(gp, 'state'));
    writeFileSync(
      join(gp, '.env'),
      [
        `GRAPHITE_URL=${carbon.url}`,
        'GRAPHITE_PREFIX=cron',
        `GA4_API_ROOT_URL=${lastNight.fake.url}`,
        `GOOGLE_OAUTH_ACCESS_TOKEN=${TOKEN}`,
        `AWS_ENDPOINT_URL=${cloudwatch.url}`,
        `AWS_ACCESS_KEY_ID=${FAKE_CREDENTIALS.accessKeyId}`,
        `AWS_SECRET_ACCESS_KEY=${FAKE_CREDENTIALS.secretAccessKey}`,
        `AWS_CONFIG_FILE=${join(logs, 'no-aws-config')}`,
        `AWS_SHARED_CREDENTIALS_FILE=${join(logs, 'no-aws-credentials')}`,
        '',
      ].join('\n'),
    );
    writeFileSync(
      join(gp, 'config', 'google-analytics.yaml'),
      `propertyId: ${PROPERTY}\nreports:\n  - name: traffic\n    metrics: [sessions]\n    granularity: hour\n  - name: devices\n` +
        `    metrics: [sessions]\n    dimensions: [deviceCategory]\n    granularity: day\n`,
    );
    writeFileSync(
      join(gp, 'config', 'cloudwatch.yaml'),
      'region: eu-west-1\nmetrics:\n  - namespace: Test/App\n    name: Requests\n    dimensions: { Service: api }\n    stats: [Sum]\n',
    );

    const home = mkdtempSync(join(tmpdir(), 'gp-home-'));
    env = {
      ...crontab.variables,
      GP: gp,
      LOGS: logs,
      // The node running these tests (each runtime leg tests itself), then the crontab's own PATH.
      PATH: `${dirname(process.execPath)}:${crontab.variables.PATH}`,
      HOME: home,
      LOGNAME: 'graphite-pollers',
      // Children of cron run in the machine's time zone: a TZ given to this test stands for the machine's.
      ...(process.env.TZ ? { TZ: process.env.TZ } : {}),
    };
  });
  afterAll(async () => {
    await lastNight.fake?.close();
    await oldBugNight.fake?.close();
    await cloudwatch?.close();
    await carbon?.destroy();
    for (const dir of [gp, logs, env?.HOME]) if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('is a valid crontab: every line five schedule fields in range, variables for SHELL, PATH, GP and LOGS', () => {
    expect(crontab.lines).toHaveLength(3);
    for (const { schedule } of crontab.lines) {
      schedule.forEach((field, i) => {
        expect(field).toMatch(FIELD);
        for (const n of field.match(/\d+/g) ?? []) if (!field.includes('/' + n)) expect(Number(n)).toBeGreaterThanOrEqual(RANGES[i]![0]);
        for (const n of field.match(/\d+/g) ?? []) if (!field.includes('/' + n)) expect(Number(n)).toBeLessThanOrEqual(RANGES[i]![1]);
      });
    }
    expect(Object.keys(crontab.variables).sort()).toEqual(['GP', 'LOGS', 'MAILTO', 'PATH', 'SHELL']);
    expect(existsSync(crontab.variables.SHELL!)).toBe(true);
  });

  it('every minute: host --once writes this machine to Graphite and appends to its log', async () => {
    const line = lineFor(/bin\/poll\.ts host --once/);
    expect(line.schedule).toEqual(['*', '*', '*', '*', '*']);
    expect(await cron(line)).toBe(0);
    await carbon.flush();
    const total = await carbon.fetch(`cron.host.${hostname().split('.')[0]}.memory.total_bytes`, now - 600);
    expect(total).toHaveLength(1);
    expect(readFileSync(join(logs, 'host.log'), 'utf8')).toMatch(/host started[\s\S]*host stopped/);
  });

  it('flock -n skips a run while the previous one still holds the lock', async () => {
    const line = lineFor(/bin\/poll\.ts host --once/);
    const lock = /flock -n (\S+)/.exec(line.command)![1]!;
    const holder = spawn('flock', [lock, 'sleep', '30'], { cwd: gp, stdio: 'ignore' });
    try {
      // Wait until the holder has the lock (flock -n fails while it does).
      for (
        let i = 0;
        i < 100 &&
        (await run('flock', ['-n', lock, 'true'], { cwd: gp }).then(
          () => true,
          () => false,
        ));
        i++
      )
        await new Promise((r) => setTimeout(r, 20));
      const before = readFileSync(join(logs, 'host.log'), 'utf8');
      expect(await cron(line)).toBe(1);
      expect(readFileSync(join(logs, 'host.log'), 'utf8')).toBe(before);
    } finally {
      holder.kill('SIGTERM');
    }
  });

  /** The nightly line at `night.at`: the two complete days before that day, hourly and daily, as seeded; nothing of that day. */
  const runNightly = async (night: GaNight) => {
    const line = lineFor(/bin\/backfill\.ts google-analytics/);
    expect(line.schedule).toEqual(['30', '4', '*', '*', '*']);
    expect(await cron(line, night.environment())).toBe(0);
    expect(readFileSync(join(logs, 'ga-backfill.log'), 'utf8')).toMatch(/backfill done/);
    await carbon.flush();
    const { today, at, prefix } = night;
    const hourly = new Map(await carbon.fetch(`${prefix}.ga4.${PROPERTY}.traffic.sessions`, today - 5 * DAY, at));
    for (let hour = today - 2 * DAY; hour < today; hour += HOUR) {
      expect(hourly.get(hour), new Date(hour * 1000).toISOString()).toBe(sessions(hour));
    }
    expect([...hourly.keys()].filter((t) => t >= today)).toEqual([]);
    const daily = await carbon.fetch(`${prefix}.ga4.${PROPERTY}.devices.desktop.sessions`, today - 5 * DAY, at);
    const daySum = (day: number) => night.hours.filter((h) => h >= day && h < day + DAY).reduce((sum, h) => sum + sessions(h), 0);
    expect(daily).toEqual([
      [today - 2 * DAY, daySum(today - 2 * DAY)],
      [today - DAY, daySum(today - DAY)],
    ]);
  };

  it('nightly at 04:30: the GA re-import rewrites the two complete days before today, daily and hourly', async () => {
    await runNightly(lastNight);
  });

  it('nightly at 04:30 on 2026-12-05 as well (its hour 2026-12-04T16:00Z once had 0 sessions, a row GA4 leaves out)', async () => {
    expect(oldBugNight.hours).toContain(Date.parse('2026-12-04T16:00:00Z') / 1000);
    await runNightly(oldBugNight);
  });

  it('weekly on Sunday at 05:15: the CloudWatch re-sync writes 14 days at 1-minute resolution', async () => {
    const line = lineFor(/bin\/backfill\.ts cloudwatch/);
    expect(line.schedule).toEqual(['15', '5', '*', '*', '0']);
    cloudwatch.clearRequests();
    const started = Math.floor(Date.now() / 1000);
    expect(await cron(line)).toBe(0);
    expect(readFileSync(join(logs, 'cw-backfill.log'), 'utf8')).toMatch(/backfill done/);
    await carbon.flush();
    const points = await carbon.fetch('cron.cloudwatch.eu-west-1.Test_App.api.Requests.Sum', started - 15 * DAY, started);
    // Every seeded minute from the start of the range (now - 14 d) to the last complete minute.
    const first = Math.ceil((started - 14 * DAY) / 60) * 60;
    const want: Array<[number, number]> = [];
    for (let t = Math.max(first, cwFrom); t < now - 60; t += 60) want.push([t, requests(t)]);
    expect(want.length).toBeGreaterThan(14 * 1440 - 10);
    expect(points.filter(([t]) => t >= want[0]![0]! && t <= want.at(-1)![0]!)).toEqual(want);
    // What the comment says it costs: one metric requested per metric (one query in one call here).
    const calls = cloudwatch.calls('GetMetricData');
    expect(calls.reduce((n, c) => n + (c.queries ?? 0), 0)).toBe(calls.length);
  });
});
