// config/supervisord-jobs.example.conf under Debian's supervisor: its one program runs every job of config/jobs in
// one process into a real carbon-cache; `supervisorctl signal HUP` starts a job file added meanwhile; `supervisorctl
// stop` ends it with exit 0 within stopwaitsecs.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Carbon, carbonUnavailable, describeCarbon } from '../helpers/carbon.ts';
import { TestHttpServer } from '../helpers/http-server.ts';
import { ROOT } from '../helpers/run-command.ts';
import { pause, waitFor } from '../helpers/wait-for.ts';

const run = promisify(execFile);
const SUPERVISORD = '/usr/bin/supervisord';
const SUPERVISORCTL = '/usr/bin/supervisorctl';
const EXAMPLE = join(ROOT, 'config', 'supervisord-jobs.example.conf');

const supervisorMissing =
  existsSync(SUPERVISORD) && existsSync(SUPERVISORCTL) ? undefined : 'supervisor is not installed (apt-get install -y supervisor)';

function describeSupervisor(name: string, body: () => void): void {
  if (!supervisorMissing || carbonUnavailable) return describeCarbon(name, body);
  if (process.env.CI === 'true') describe(name, () => it('needs supervisor under CI', () => expect.fail(supervisorMissing)));
  else describe.skipIf(true)(`${name} [skipped: ${supervisorMissing}]`, body);
}

/** The example's one program section: its name and `key=value` lines (comments dropped). */
function programOf(text: string): { name: string; lines: string[] } {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith(';'));
  const sections = lines.filter((l) => /^\[.+\]$/.test(l));
  expect(sections).toEqual(['[program:graphite-pollers-jobs]']);
  return { name: 'graphite-pollers-jobs', lines: lines.slice(1) };
}

describeSupervisor('config/supervisord-jobs.example.conf under supervisord', () => {
  let carbon: Carbon;
  let api: TestHttpServer;
  let opt: string;
  let work: string;
  let conf: string;
  let supervisord: ChildProcess | undefined;
  const program = programOf(readFileSync(EXAMPLE, 'utf8'));
  const setting = (key: string) => program.lines.find((l) => l.startsWith(`${key}=`))?.slice(key.length + 1);

  const ctl = async (...args: string[]) => {
    try {
      return (await run(SUPERVISORCTL, ['-c', conf, ...args])).stdout;
    } catch (error) {
      return (error as { stdout?: string }).stdout ?? '';
    }
  };
  const supervisordLog = () => readFileSync(join(work, 'supervisord.log'), 'utf8');
  const jobsLog = () => readFileSync(join(work, 'log', 'graphite-pollers-jobs.log'), 'utf8');

  beforeAll(async () => {
    carbon = await Carbon.start();
    let hits = 0;
    api = await TestHttpServer.start((_, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ requests: ++hits }));
    });
    opt = mkdtempSync(join(tmpdir(), 'gp-opt-'));
    for (const entry of ['bin', 'lib', 'pollers', 'node_modules', 'package.json', 'tsconfig.json'])
      symlinkSync(join(ROOT, entry), join(opt, entry));
    mkdirSync(join(opt, 'config', 'jobs'), { recursive: true });
    mkdirSync(join(opt, 'state'));
    work = mkdtempSync(join(tmpdir(), 'gp-supervisor-jobs-'));
    mkdirSync(join(work, 'log'));
    writeFileSync(join(opt, '.env'), `GRAPHITE_URL=${carbon.url}\nGRAPHITE_PREFIX=svj\n`);
    writeFileSync(join(opt, 'config', 'jobs', 'host.yaml'), 'interval: 1\n');
    writeFileSync(
      join(opt, 'config', 'jobs', 'http-json-shop.yaml'),
      `url: ${api.url}/shop\nprefix: shop\ninterval: 1\ntimeout: 10\nrunTimeout: 10\n`,
    );
    writeFileSync(join(opt, 'config', 'jobs', 'http-json.example.yaml'), 'url: not a url, and not a job\n');
    const lines = program.lines
      .filter((l) => !l.startsWith('user='))
      .map((l) => {
        if (l.startsWith('command=node ')) return `command=${process.execPath} ${l.slice('command=node '.length)}`;
        if (l.startsWith('directory=')) return `directory=${opt}`;
        if (l.startsWith('stdout_logfile=')) return `stdout_logfile=${join(work, 'log')}/${l.slice(l.lastIndexOf('/') + 1)}`;
        return l;
      });
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
        '[rpcinterface:supervisor]',
        'supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface',
        '[supervisorctl]',
        `serverurl=unix://${join(work, 'supervisor.sock')}`,
        `[program:${program.name}]`,
        ...lines,
        '',
      ].join('\n'),
    );
    supervisord = spawn(SUPERVISORD, ['-n', '-c', conf], {
      env: { PATH: `${dirname(process.execPath)}:/usr/bin:/bin`, HOME: work, LANG: 'C.UTF-8' },
      stdio: 'ignore',
    });
  });

  afterAll(async () => {
    if (supervisord && supervisord.exitCode === null) {
      await ctl('shutdown');
      await Promise.race([new Promise((r) => supervisord!.once('exit', r)), pause(20_000)]);
      if (supervisord.exitCode === null) supervisord.kill('SIGKILL');
    }
    await api?.close();
    await carbon?.destroy();
    for (const dir of [opt, work]) if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('runs every job of config/jobs in one program, reloads on `signal HUP`, and stops with exit 0 in time', async () => {
    await waitFor('RUNNING', async () => /graphite-pollers-jobs\s+RUNNING/.test(await ctl('status')), { detail: supervisordLog });
    await carbon.wait('svj.shop.requests', 2);
    await carbon.wait(`svj.host.${hostname().split('.')[0]}.uptime_seconds`, 2);
    expect(jobsLog()).toMatch(/jobs starting jobs=2 /);

    writeFileSync(join(opt, 'config', 'jobs', 'http-json-orders.yaml'), `url: ${api.url}/orders\nprefix: orders\ninterval: 1\n`);
    expect(await ctl('signal', 'HUP', program.name)).toMatch(/graphite-pollers-jobs: signalled/);
    await carbon.wait('svj.orders.requests', 2);
    expect(jobsLog()).toMatch(/reload done jobs=3 added=1 changed=0 removed=0 broken=0/);

    const started = Date.now();
    const stopped = await ctl('stop', program.name);
    expect(stopped).toMatch(/graphite-pollers-jobs: stopped/);
    expect((Date.now() - started) / 1000).toBeLessThan(Number(setting('stopwaitsecs')));
    expect(supervisordLog()).toMatch(/stopped: graphite-pollers-jobs \(exit status 0\)/);
    expect(jobsLog()).toMatch(/jobs stopped jobs=3 .*lost=0/);
  }, 120_000);
});
