// config/graphite-pollers-jobs.service: `systemd-analyze verify` accepts it, and its ExecStart runs as systemd would
// (a bare environment, StateDirectory as STATE_DIR, the optional EnvironmentFile) every job of config/jobs into a
// real carbon-cache; ExecReload's SIGHUP starts a job added meanwhile; KillSignal ends it with 0 within TimeoutStopSec.
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Carbon, describeCarbon } from '../helpers/carbon.ts';
import { TestHttpServer } from '../helpers/http-server.ts';
import { ROOT } from '../helpers/run-command.ts';
import { waitFor } from '../helpers/wait-for.ts';

const run = promisify(execFile);
const UNIT = join(ROOT, 'config', 'graphite-pollers-jobs.service');
const SYSTEMD_ANALYZE = '/usr/bin/systemd-analyze';
const SYSTEMD_SEARCH_PATH = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin'];

function parseUnit(text: string): Map<string, string[]> {
  const settings = new Map<string, string[]>();
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      section = header[1]!;
      continue;
    }
    const at = line.indexOf('=');
    const key = `${section}.${line.slice(0, at).trim()}`;
    settings.set(key, [...(settings.get(key) ?? []), line.slice(at + 1).trim()]);
  }
  return settings;
}

const unit = parseUnit(readFileSync(UNIT, 'utf8'));
const one = (key: string) => {
  const values = unit.get(key);
  if (!values || values.length !== 1) throw new Error(`${key}: expected one value in ${UNIT}, got ${JSON.stringify(values)}`);
  return values[0]!;
};

describe('config/graphite-pollers-jobs.service: the unit file', () => {
  it('runs config/jobs in one process, reloads with SIGHUP, and has the restart, stop and hardening settings of the per-job unit', () => {
    expect(one('Service.ExecStart')).toBe('node --import tsx bin/poll.ts --jobs config/jobs');
    expect(one('Service.ExecReload')).toBe('/bin/kill -HUP $MAINPID');
    expect(one('Service.Restart')).toBe('on-failure');
    expect(one('Service.RestartPreventExitStatus')).toBe('78');
    expect(one('Service.KillSignal')).toBe('SIGTERM');
    expect(Number(one('Service.TimeoutStopSec'))).toBeGreaterThan(5);
    expect(one('Service.StateDirectory')).toBe('graphite-pollers');
    expect(unit.get('Service.Environment')).toContain('STATE_DIR=%S/graphite-pollers');
    // The same hardening as the per-job unit: one list, checked line by line.
    const perJob = parseUnit(readFileSync(join(ROOT, 'config', 'graphite-poller@.service'), 'utf8'));
    for (const [key, values] of perJob) {
      if (key.startsWith('Service.') && /^Service\.(Protect|Private|Restrict|NoNew|Lock|SystemCall|Capability|UMask)/.test(key))
        expect(unit.get(key), key).toEqual(values);
    }
  });
});

const cannotVerify = !existsSync(SYSTEMD_ANALYZE)
  ? 'systemd-analyze is not installed (apt-get install -y systemd)'
  : !SYSTEMD_SEARCH_PATH.some((dir) => existsSync(join(dir, 'node')))
    ? "node is not in systemd's command search path"
    : undefined;

describe.skipIf(!!cannotVerify)(`systemd-analyze verify${cannotVerify ? ` [skipped: ${cannotVerify}]` : ''}`, () => {
  it('accepts the unit without a single warning', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gp-systemd-jobs-'));
    try {
      writeFileSync(join(dir, 'graphite-pollers-jobs.service'), readFileSync(UNIT, 'utf8'));
      const { stdout, stderr } = await run(
        SYSTEMD_ANALYZE,
        ['verify', '--man=no', '--recursive-errors=no', join(dir, 'graphite-pollers-jobs.service')],
        { cwd: dir },
      );
      expect((stdout + stderr).trim()).toBe('');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describeCarbon('config/graphite-pollers-jobs.service: ExecStart, ExecReload and stop as systemd runs them', () => {
  let carbon: Carbon;
  let api: TestHttpServer;
  let opt: string;
  let stateRoot: string;
  beforeAll(async () => {
    carbon = await Carbon.start();
    let hits = 0;
    api = await TestHttpServer.start((_, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ orders: ++hits }));
    });
    opt = mkdtempSync(join(tmpdir(), 'gp-opt-'));
    for (const entry of ['bin', 'lib', 'pollers', 'node_modules', 'package.json', 'tsconfig.json'])
      symlinkSync(join(ROOT, entry), join(opt, entry));
    mkdirSync(join(opt, 'config', 'jobs'), { recursive: true });
    stateRoot = mkdtempSync(join(tmpdir(), 'gp-var-lib-'));
    writeFileSync(join(opt, '.env'), `GRAPHITE_URL=${carbon.url}\nGRAPHITE_PREFIX=sdj\n`);
    writeFileSync(join(opt, 'config', 'jobs', 'http-json-shop.yaml'), `url: ${api.url}/shop\nprefix: shop\ninterval: 1\n`);
  });
  afterAll(async () => {
    await api?.close();
    await carbon?.destroy();
    for (const dir of [opt, stateRoot]) if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('runs every job of config/jobs, starts an added one on reload, keeps state in StateDirectory, stops with 0', async () => {
    const stateDirectory = join(stateRoot, one('Service.StateDirectory'));
    mkdirSync(stateDirectory, { recursive: true, mode: 0o700 });
    const env: Record<string, string> = { PATH: SYSTEMD_SEARCH_PATH.join(':'), LANG: 'C.UTF-8' };
    for (const assignment of unit.get('Service.Environment') ?? []) {
      const expanded = assignment.replace(/%S/g, stateRoot);
      env[expanded.slice(0, expanded.indexOf('='))] = expanded.slice(expanded.indexOf('=') + 1);
    }
    // EnvironmentFile=-…: optional, absent here.
    expect(one('Service.EnvironmentFile').startsWith('-')).toBe(true);
    const [command, ...args] = one('Service.ExecStart').split(/\s+/);
    expect(command).toBe('node');
    const cwd = one('Service.WorkingDirectory').replace(/^\/opt\/graphite-pollers/, opt);
    const child = spawn(process.execPath, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      await carbon.wait('sdj.shop.orders', 2);
      writeFileSync(join(opt, 'config', 'jobs', 'http-json-orders.yaml'), `url: ${api.url}/orders\nprefix: orders\ninterval: 1\n`);
      // ExecReload: `kill -HUP $MAINPID`.
      const [kill, signal, pid] = one('Service.ExecReload').replace('$MAINPID', String(child.pid)).split(/\s+/);
      await run(kill!, [signal!, pid!]);
      await carbon.wait('sdj.orders.orders', 2);
      await waitFor('the reload logged', () => /reload done jobs=2 added=1/.test(output), { detail: () => output });
    } finally {
      child.kill(one('Service.KillSignal') as NodeJS.Signals);
    }
    const started = Date.now();
    const code = await Promise.race([
      exited,
      new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), Number(one('Service.TimeoutStopSec')) * 1000)),
    ]);
    if (code === 'timeout') child.kill('SIGKILL');
    expect(code, output).toBe(0);
    expect((Date.now() - started) / 1000).toBeLessThan(Number(one('Service.TimeoutStopSec')));
    // Each job's watermark where systemd's StateDirectory put it.
    expect(readdirSync(stateDirectory).sort()).toEqual(
      expect.arrayContaining(['http-json-orders.watermark.json', 'http-json-shop.watermark.json']),
    );
  }, 90_000);
});
