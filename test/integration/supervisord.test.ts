// config/supervisord.example.conf under Debian's supervisor: every program of the example runs from a copy of the
// checkout's layout (its `directory`, .env and config/ moved to a temporary directory, supervisord on a private
// socket) into a real carbon-cache; `supervisorctl stop` ends each with exit 0 in time, and every tick an
// http-json job at interval 1 fetched before the stop is in whisper. A job with a broken config exits 78 and ends
// FATAL after startretries, never looping; a program that exits 78 once RUNNING is not restarted.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Carbon, carbonUnavailable, describeCarbon } from '../helpers/carbon.ts';
import { CloudWatchFake, FAKE_CREDENTIALS } from '../helpers/cloudwatch-fake.ts';
import { TestHttpServer } from '../helpers/http-server.ts';
import { ROOT } from '../helpers/run-command.ts';
import { pause, waitFor as waitUntil } from '../helpers/wait-for.ts';

const run = promisify(execFile);
const SUPERVISORD = '/usr/bin/supervisord';
const SUPERVISORCTL = '/usr/bin/supervisorctl';
const EXAMPLE = join(ROOT, 'config', 'supervisord.example.conf');

type Section = { name: string; lines: string[] };

/** The example as sections of `key=value` lines (comments dropped, order kept). */
function parseIni(text: string): Section[] {
  const sections: Section[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith(';') || line.startsWith('#')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) sections.push({ name: header[1]!, lines: [] });
    else sections.at(-1)!.lines.push(line);
  }
  return sections;
}

const setting = (section: Section, key: string) => section.lines.find((l) => l.startsWith(`${key}=`))?.slice(key.length + 1);

/**
 * A stand-in for /opt/graphite-pollers: the checkout's code through symlinks, its own .env, config/ and state/,
 * so the example's relative commands run unchanged and nothing is written into the checkout.
 */
function installCheckout(): string {
  const dir = mkdtempSync(join(tmpdir(), 'gp-opt-'));
  for (const entry of ['bin', 'lib', 'pollers', 'node_modules', 'package.json', 'tsconfig.json'])
    symlinkSync(join(ROOT, entry), join(dir, entry));
  mkdirSync(join(dir, 'config'));
  mkdirSync(join(dir, 'state'));
  return dir;
}

const supervisorMissing =
  existsSync(SUPERVISORD) && existsSync(SUPERVISORCTL) ? undefined : 'supervisor is not installed (apt-get install -y supervisor)';

function describeSupervisor(name: string, body: () => void): void {
  if (!supervisorMissing || carbonUnavailable) return describeCarbon(name, body);
  if (process.env.CI === 'true') {
    describe(name, () => it('needs supervisor under CI', () => expect.fail(supervisorMissing)));
  } else describe.skipIf(true)(`${name} [skipped: ${supervisorMissing}]`, body);
}

describeSupervisor('config/supervisord.example.conf under supervisord', () => {
  let carbon: Carbon;
  let cloudwatch: CloudWatchFake;
  let api: TestHttpServer;
  let opt: string;
  let work: string;
  let conf: string;
  let supervisord: ChildProcess | undefined;
  let hits = 0;
  /** Set by a test: the next request waits for it, so a run is in flight at a moment the test chooses. */
  let hold: ((hit: number) => Promise<void>) | undefined;
  const example = parseIni(readFileSync(EXAMPLE, 'utf8'));
  const programs = example.filter((s) => s.name.startsWith('program:'));
  const group = example.find((s) => s.name.startsWith('group:'))!;

  const ctl = async (...args: string[]) => {
    try {
      return (await run(SUPERVISORCTL, ['-c', conf, ...args])).stdout;
    } catch (error) {
      // `status` exits non-zero when a program is not RUNNING; its output is still the answer.
      return (error as { stdout?: string }).stdout ?? '';
    }
  };
  const states = async () => new Map([...(await ctl('status')).matchAll(/^(\S+)\s+([A-Z]+)/gm)].map((m) => [m[1]!, m[2]!]));
  const waitFor = (what: string, check: () => Promise<boolean>, timeoutMs = 90_000) =>
    waitUntil(what, check, { timeoutMs, intervalMs: 200, detail: async () => `${await ctl('status')}\n${supervisordLog()}` });
  const supervisordLog = () => readFileSync(join(work, 'supervisord.log'), 'utf8');

  beforeAll(async () => {
    carbon = await Carbon.start();
    cloudwatch = await CloudWatchFake.start();
    api = await TestHttpServer.start(async (_, response) => {
      const hit = ++hits;
      const held = hold;
      hold = undefined;
      if (held) await held(hit);
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ requests: hit, healthy: true }));
    });
    const now = Math.floor(Date.now() / 60_000) * 60;
    await cloudwatch.seed(
      'Test/App',
      Array.from({ length: 40 }, (_, i) => ({
        MetricName: 'Requests',
        Value: i + 1,
        Timestamp: new Date((now - (40 - i) * 60 + 5) * 1000),
        Dimensions: [{ Name: 'Service', Value: 'api' }],
      })),
    );

    opt = installCheckout();
    work = mkdtempSync(join(tmpdir(), 'gp-supervisor-'));
    mkdirSync(join(work, 'log'));
    // What an operator puts beside the checkout: .env for every job, one YAML per job.
    writeFileSync(
      join(opt, '.env'),
      [
        `GRAPHITE_URL=${carbon.url}`,
        'GRAPHITE_PREFIX=sv',
        `AWS_ENDPOINT_URL=${cloudwatch.url}`,
        `AWS_ACCESS_KEY_ID=${FAKE_CREDENTIALS.accessKeyId}`,
        `AWS_SECRET_ACCESS_KEY=${FAKE_CREDENTIALS.secretAccessKey}`,
        `AWS_CONFIG_FILE=${join(work, 'no-aws-config')}`,
        `AWS_SHARED_CREDENTIALS_FILE=${join(work, 'no-aws-credentials')}`,
        '',
      ].join('\n'),
    );
    writeFileSync(join(opt, 'config', 'host.yaml'), 'interval: 1\n');
    writeFileSync(
      join(opt, 'config', 'cloudwatch.yaml'),
      'region: eu-west-1\nmetrics:\n  - namespace: Test/App\n    name: Requests\n    dimensions: { Service: api }\n    stats: [Sum]\n',
    );
    // A generous run deadline: the test holds one request while supervisorctl (a python start-up, seconds on a busy
    // host) delivers SIGTERM, and that run must not time out first.
    writeFileSync(
      join(opt, 'config', 'shop-status.yaml'),
      `url: ${api.url}/status\nprefix: shop\ninterval: 1\ntimeout: 20\nrunTimeout: 20\n`,
    );
    writeFileSync(join(opt, 'config', 'broken.yaml'), 'url: not a url\n');

    // The example's programs, moved: node's full path, the temporary directory, log files under `work`, no
    // user switch (the test may not run as root). Every other setting is the example's own.
    const move = (section: Section, name = section.name) => {
      const lines = section.lines
        .filter((l) => !l.startsWith('user='))
        .map((l) => {
          if (l.startsWith('command=node ')) return `command=${process.execPath} ${l.slice('command=node '.length)}`;
          if (l.startsWith('directory=')) return `directory=${opt}`;
          if (l.startsWith('stdout_logfile=')) return `stdout_logfile=${join(work, 'log')}/${l.slice(l.lastIndexOf('/') + 1)}`;
          return l;
        });
      return [`[${name}]`, ...lines].join('\n');
    };
    const shop = programs.find((p) => setting(p, 'command')!.includes('http-json'))!;
    // startsecs is a wall-clock bet that a broken config exits sooner; on a busy 2-core host node + tsx alone can take
    // longer than the example's 5 s, and supervisor would then call the exit 78 "expected" (EXITED, the next test's
    // case) instead of retrying to FATAL. The test is about the retry policy, not about start-up speed.
    const brokenProgram = {
      name: 'program:poller-broken',
      lines: shop.lines.map((l) =>
        l.startsWith('command=')
          ? l.replace(/--config \S+/, '--config config/broken.yaml')
          : l.startsWith('startsecs=')
            ? 'startsecs=120'
            : l,
      ),
    };
    // supervisor's own semantics for the example's policy: a program that exits 78 well after startsecs.
    const exits78 = {
      name: 'program:exits-78',
      lines: shop.lines.map((l) =>
        l.startsWith('command=') ? `command=/bin/sh -c "sleep ${Number(setting(shop, 'startsecs')) + 5}; exit 78"` : l,
      ),
    };
    conf = join(work, 'supervisord.conf');
    writeFileSync(
      conf,
      [
        '[unix_http_server]',
        `file=${join(work, 'supervisor.sock')}`,
        'chmod=0700',
        '[supervisord]',
        `logfile=${join(work, 'supervisord.log')}`,
        `pidfile=${join(work, 'supervisord.pid')}`,
        `childlogdir=${join(work, 'log')}`,
        'loglevel=info',
        '[rpcinterface:supervisor]',
        'supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface',
        '[supervisorctl]',
        `serverurl=unix://${join(work, 'supervisor.sock')}`,
        ...programs.map((p) => move(p)),
        move(brokenProgram),
        move(exits78),
        `[${group.name}]`,
        ...group.lines,
        '',
      ].join('\n'),
    );
    // As under init: a bare environment, so only .env and the conf configure the jobs.
    supervisord = spawn(SUPERVISORD, ['-n', '-c', conf], {
      env: { PATH: `${dirname(process.execPath)}:/usr/bin:/bin`, HOME: work, LANG: 'C.UTF-8' },
      stdio: 'ignore',
    });
  });

  afterAll(async () => {
    if (supervisord && supervisord.exitCode === null) {
      await ctl('shutdown');
      const exited = new Promise((r) => supervisord!.once('exit', r));
      await Promise.race([exited, pause(20_000)]);
      if (supervisord.exitCode === null) supervisord.kill('SIGKILL');
    }
    await api?.close();
    await cloudwatch?.close();
    await carbon?.destroy();
    for (const dir of [opt, work]) if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('runs every program of the example, stops them through supervisorctl with exit 0, and loses no tick', async () => {
    const jobs = programs.map((p) => p.name.slice('program:'.length));
    expect(jobs).toEqual(['poller-host', 'poller-cloudwatch', 'poller-shop-status']);
    const group = (job: string) => `graphite-pollers:${job}`;
    await waitFor('every job RUNNING', async () => {
      const now = await states();
      return jobs.every((job) => now.get(group(job)) === 'RUNNING');
    });

    // Each job writes to carbon.
    const short = hostname().split('.')[0];
    await carbon.wait(`sv.host.${short}.memory.total_bytes`, 2);
    await carbon.wait('sv.cloudwatch.eu-west-1.Test_App.api.Requests.Sum', 3);
    await carbon.wait('sv.shop.requests', 4);
    await carbon.wait('sv.pollers.shop-status.datapoints', 2);

    // Stop while a run of shop-status is in flight: its request is held until the job has logged that it is
    // stopping, so the last run must finish and be flushed after SIGTERM.
    const shopLog = () => readFileSync(join(work, 'log', 'poller-shop-status.log'), 'utf8');
    let release!: () => void;
    const inFlight = new Promise<number>((resolveHit) => {
      hold = (hit) => {
        resolveHit(hit);
        return new Promise<void>((r) => (release = r));
      };
    });
    const lastHit = await inFlight;
    const started = Date.now();
    const stopping = ctl('stop', 'graphite-pollers:*');
    // Checked often: the run in flight gets the product's stop grace (2.5 s) from SIGTERM to finish.
    await waitUntil('shop-status to log that it is stopping', () => /stopping: finishing the current run/.test(shopLog()), {
      timeoutMs: 30_000,
      intervalMs: 20,
    });
    release();
    const stopped = await stopping;
    const took = (Date.now() - started) / 1000;
    for (const job of jobs) expect(stopped).toMatch(new RegExp(`${group(job)}: stopped`));
    const stopWait = Math.min(...programs.map((p) => Number(setting(p, 'stopwaitsecs'))));
    expect(took).toBeLessThan(stopWait);
    // supervisord saw each exit: status 0, not a SIGKILL after stopwaitsecs.
    for (const job of jobs) expect(supervisordLog()).toMatch(new RegExp(`stopped: ${job} \\(exit status 0\\)`));
    expect(supervisordLog()).not.toMatch(/killing .*SIGKILL/);

    // Every document fetched before the stop reached whisper, the one in flight at SIGTERM included: its
    // `requests` is the hit count, 1 … hits.
    expect(hits).toBe(lastHit);
    await carbon.flush();
    const requests = await carbon.fetch('sv.shop.requests', Math.floor(Date.now() / 1000) - 600);
    expect(requests.map(([, v]) => v).sort((a, b) => a - b)).toEqual(Array.from({ length: hits }, (_, i) => i + 1));
    // Each at its own tick's timestamp.
    expect(new Set(requests.map(([t]) => t)).size).toBe(hits);
    // The logs the example names, one line per event.
    expect(shopLog()).toMatch(/http-json started/);
    expect(shopLog()).toMatch(/http-json stopped/);
  }, 180_000);

  it('a job with a broken config exits 78 and ends FATAL after startretries, without looping', async () => {
    const broken = programs[0]!;
    const attempts = Number(setting(broken, 'startretries')) + 1;
    await waitFor('poller-broken FATAL', async () => (await states()).get('poller-broken') === 'FATAL');
    const spawned = () => [...supervisordLog().matchAll(/spawned: 'poller-broken'/g)].length;
    expect(spawned()).toBe(attempts);
    expect([...supervisordLog().matchAll(/exited: poller-broken \(exit status 78; not expected\)/g)]).toHaveLength(attempts);
    await pause(3000); // nothing may happen: no condition to wait on
    expect(spawned()).toBe(attempts);
    expect((await states()).get('poller-broken')).toBe('FATAL');
    expect(readFileSync(join(work, 'log', 'poller-broken.log'), 'utf8')).toMatch(/config\/broken\.yaml.*url/);
  }, 180_000);

  it('with the example policy, a program that exits 78 once RUNNING is EXITED and not restarted', async () => {
    await waitFor('exits-78 EXITED', async () => (await states()).get('exits-78') === 'EXITED');
    expect(supervisordLog()).toMatch(/exited: exits-78 \(exit status 78; expected\)/);
    await pause(1500); // nothing may happen: no condition to wait on
    expect([...supervisordLog().matchAll(/spawned: 'exits-78'/g)]).toHaveLength(1);
    expect((await states()).get('exits-78')).toBe('EXITED');
  }, 180_000);
});
