// config/graphite-poller@.service: `systemd-analyze verify` accepts it (and is shown to reject a broken copy), and
// its ExecStart runs the way systemd would run an instance — specifiers, EnvironmentFile, StateDirectory as
// STATE_DIR, a bare environment, KillSignal — into a real carbon-cache, exiting 0 within TimeoutStopSec; a
// broken job exits with the status RestartPreventExitStatus names. No systemd manager runs here (no PID 1
// systemd in a container), so starting the unit itself is left to systemd; everything it would execute is run.
import { execFile, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Carbon, describeCarbon } from '../helpers/carbon.ts';
import { TestHttpServer } from '../helpers/http-server.ts';
import { ROOT } from '../helpers/run-command.ts';

const run = promisify(execFile);
const UNIT = join(ROOT, 'config', 'graphite-poller@.service');
const SYSTEMD_ANALYZE = '/usr/bin/systemd-analyze';
/** Where systemd looks up a command given without a path (systemd.service(5), "Command lines"). */
const SYSTEMD_SEARCH_PATH = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin'];

/** The unit's settings: `Section.Key` → values in order (repeated keys accumulate, as systemd's do). */
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

/** systemd's specifiers this unit uses: %i (instance), %S (state directory root), %C (cache root), %%. */
function specifiers(value: string, instance: string, stateRoot: string): string {
  const roots: Record<string, string> = { i: instance, S: stateRoot, C: join(stateRoot, 'cache'), '%': '%' };
  return value.replace(/%([iSC%])/g, (_, s: string) => roots[s]!);
}

/** An EnvironmentFile as systemd reads it: KEY=VALUE lines, `#`/`;` comments, optional quotes. */
function parseEnvironmentFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const m = /^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (m) out[m[1]!] = m[2]!.replace(/^"(.*)"$|^'(.*)'$/, '$1$2');
  }
  return out;
}

/** ExecStart's words after systemd's variable expansion: `${VAR}` is one argument, `$VAR` splits on whitespace. */
function expandCommand(line: string, env: Record<string, string>): string[] {
  const words: string[] = [];
  for (const word of line.split(/\s+/).filter(Boolean)) {
    const whole = /^\$([A-Za-z_][A-Za-z0-9_]*)$/.exec(word);
    if (whole) words.push(...(env[whole[1]!] ?? '').split(/\s+/).filter(Boolean));
    else words.push(word.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => env[name] ?? ''));
  }
  return words;
}

function installCheckout(): string {
  const dir = mkdtempSync(join(tmpdir(), 'gp-opt-'));
  for (const entry of ['bin', 'lib', 'pollers', 'node_modules', 'package.json', 'tsconfig.json'])
    symlinkSync(join(ROOT, entry), join(dir, entry));
  mkdirSync(join(dir, 'config'));
  return dir;
}

const unit = parseUnit(readFileSync(UNIT, 'utf8'));
const one = (key: string) => {
  const values = unit.get(key);
  if (!values || values.length !== 1) throw new Error(`${key}: expected one value in ${UNIT}, got ${JSON.stringify(values)}`);
  return values[0]!;
};

describe('config/graphite-poller@.service: the unit file', () => {
  it('has the restart, stop and hardening settings the README promises', () => {
    expect(one('Service.Restart')).toBe('on-failure');
    expect(one('Service.RestartPreventExitStatus')).toBe('78');
    expect(one('Service.KillSignal')).toBe('SIGTERM');
    // The job promises to be gone 5 s after SIGTERM; systemd must wait longer before SIGKILL.
    expect(Number(one('Service.TimeoutStopSec'))).toBeGreaterThan(5);
    expect(one('Service.NoNewPrivileges')).toBe('yes');
    expect(one('Service.ProtectSystem')).toBe('strict');
    expect(one('Service.PrivateTmp')).toBe('yes');
    expect(one('Service.StateDirectory')).toBe('graphite-pollers');
    expect(unit.get('Service.Environment')).toContain('STATE_DIR=%S/graphite-pollers');
    expect(one('Service.EnvironmentFile')).toBe('/etc/graphite-pollers/%i.env');
    expect(one('Service.ExecStart')).toMatch(/^node --import tsx bin\/poll\.ts \$\{POLLER\} --config config\/%i\.yaml$/);
    expect(unit.get('Service.MemoryDenyWriteExecute')).toBeUndefined();
  });
});

const nodeOnSearchPath = SYSTEMD_SEARCH_PATH.some((dir) => existsSync(join(dir, 'node')));
const cannotVerify = !existsSync(SYSTEMD_ANALYZE)
  ? 'systemd-analyze is not installed (apt-get install -y systemd)'
  : !nodeOnSearchPath
    ? `node is not in systemd's command search path (${SYSTEMD_SEARCH_PATH.join(':')}), so verify would reject ExecStart=node`
    : undefined;

if (cannotVerify && process.env.CI === 'true' && !existsSync(SYSTEMD_ANALYZE)) {
  describe('systemd-analyze verify', () => it('needs systemd-analyze under CI', () => expect.fail(cannotVerify)));
}

describe.skipIf(!!cannotVerify)(`systemd-analyze verify${cannotVerify ? ` [skipped: ${cannotVerify}]` : ''}`, () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'gp-systemd-verify-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const verify = async (file: string, instance: string) => {
    try {
      const { stdout, stderr } = await run(
        SYSTEMD_ANALYZE,
        ['verify', '--man=no', '--recursive-errors=no', join(dirname(file), instance)],
        { cwd: dirname(file) },
      );
      return { code: 0, output: (stdout + stderr).trim() };
    } catch (error) {
      const e = error as { code?: number; stdout?: string; stderr?: string };
      return { code: e.code ?? 1, output: `${e.stdout ?? ''}${e.stderr ?? ''}`.trim() };
    }
  };

  it('accepts the unit, instantiated for a job, without a single warning', async () => {
    const copy = join(dir, 'ok', 'graphite-poller@.service');
    mkdirSync(join(dir, 'ok'));
    copyFileSync(UNIT, copy);
    const result = await verify(copy, 'graphite-poller@shop-status.service');
    expect(result.output).toBe('');
    expect(result.code).toBe(0);
  });

  it('would notice a mistake: an unknown key and a command that does not exist are reported', async () => {
    const copy = join(dir, 'bad', 'graphite-poller@.service');
    mkdirSync(join(dir, 'bad'));
    writeFileSync(
      copy,
      readFileSync(UNIT, 'utf8')
        .replace('NoNewPrivileges=yes', 'NoNewPrivileges=yes\nProtectSystm=strict')
        .replace('ExecStart=node ', 'ExecStart=nodejs-missing '),
    );
    const result = await verify(copy, 'graphite-poller@shop-status.service');
    expect(result.output).toMatch(/Unknown key 'ProtectSystm'/);
    expect(result.output).toMatch(/Command nodejs-missing is not executable/);
  });
});

describeCarbon('config/graphite-poller@.service: ExecStart run as systemd runs an instance', () => {
  let carbon: Carbon;
  let api: TestHttpServer;
  let opt: string;
  let etc: string;
  let stateRoot: string;
  let hits = 0;

  beforeAll(async () => {
    carbon = await Carbon.start();
    api = await TestHttpServer.start((_, response) => {
      const hit = ++hits;
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ orders: hit }));
    });
    opt = installCheckout();
    etc = mkdtempSync(join(tmpdir(), 'gp-etc-'));
    stateRoot = mkdtempSync(join(tmpdir(), 'gp-var-lib-'));
    writeFileSync(join(opt, '.env'), `GRAPHITE_URL=${carbon.url}\nGRAPHITE_PREFIX=sd\n`);
    writeFileSync(join(opt, 'config', 'shop-status.yaml'), `url: ${api.url}/status\nprefix: shop\ninterval: 1\n`);
    writeFileSync(join(etc, 'shop-status.env'), '# the job shop-status\nPOLLER=http-json\n');
    writeFileSync(join(opt, 'config', 'host.yaml'), '');
    writeFileSync(join(etc, 'host.env'), 'POLLER="host"\n');
    writeFileSync(join(opt, 'config', 'broken.yaml'), 'url: http://127.0.0.1:65535/\ninterval: soon\n');
    writeFileSync(join(etc, 'broken.env'), 'POLLER=http-json\n');
  });
  afterAll(async () => {
    await api?.close();
    await carbon?.destroy();
    for (const dir of [opt, etc, stateRoot]) if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** What systemd does for `systemctl start graphite-poller@<instance>`, with /etc, /opt and /var/lib moved. */
  function startInstance(instance: string) {
    const at = (path: string) => path.replace(/^\/etc\/graphite-pollers\//, `${etc}/`).replace(/^\/opt\/graphite-pollers/, opt);
    const stateDirectory = join(stateRoot, one('Service.StateDirectory'));
    mkdirSync(stateDirectory, { recursive: true, mode: 0o700 });
    const cacheDirectory = join(specifiers('%C', instance, stateRoot), one('Service.CacheDirectory'));
    mkdirSync(cacheDirectory, { recursive: true, mode: 0o700 });
    // A bare environment: systemd passes only its own defaults plus Environment= and EnvironmentFile=.
    const env: Record<string, string> = { PATH: SYSTEMD_SEARCH_PATH.join(':'), LANG: 'C.UTF-8' };
    for (const assignment of unit.get('Service.Environment') ?? []) {
      const expanded = specifiers(assignment, instance, stateRoot);
      env[expanded.slice(0, expanded.indexOf('='))] = expanded.slice(expanded.indexOf('=') + 1);
    }
    for (const file of unit.get('Service.EnvironmentFile') ?? []) {
      const path = at(specifiers(file.replace(/^-/, ''), instance, stateRoot));
      if (file.startsWith('-') && !existsSync(path)) continue;
      Object.assign(env, parseEnvironmentFile(readFileSync(path, 'utf8')));
    }
    const [command, ...args] = expandCommand(specifiers(one('Service.ExecStart'), instance, stateRoot), env);
    // `node` from systemd's search path; the node running these tests, so each runtime leg tests itself.
    expect(command).toBe('node');
    const child = spawn(process.execPath, args, { cwd: at(one('Service.WorkingDirectory')), env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    return { child, exited, env, output: () => output, stateDirectory, cacheDirectory };
  }

  /** `systemctl stop`: KillSignal, then the exit status and how long it took (SIGKILL would come at TimeoutStopSec). */
  async function stopInstance(instance: ReturnType<typeof startInstance>) {
    const started = Date.now();
    instance.child.kill(one('Service.KillSignal') as NodeJS.Signals);
    const timeout = Number(one('Service.TimeoutStopSec')) * 1000;
    const code = await Promise.race([instance.exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), timeout))]);
    if (code === 'timeout') instance.child.kill('SIGKILL');
    return { code, seconds: (Date.now() - started) / 1000 };
  }

  it('graphite-poller@shop-status runs http-json with config/shop-status.yaml, keeps state in StateDirectory, stops with 0', async () => {
    const job = startInstance('shop-status');
    expect(job.env.STATE_DIR).toBe(job.stateDirectory);
    await carbon.wait('sd.shop.orders', 3);
    const stopped = await stopInstance(job);
    expect(stopped.code, job.output()).toBe(0);
    expect(stopped.seconds).toBeLessThan(Number(one('Service.TimeoutStopSec')));
    expect(job.output()).toMatch(/http-json started.*job=shop-status/);
    // The watermark lives where systemd's StateDirectory put it, tsx's compiled files where its CacheDirectory is
    // (they outlive restarts: a cold cache keeps esbuild's service running beside the job).
    expect(readdirSync(job.stateDirectory).some((f) => f.startsWith('shop-status'))).toBe(true);
    expect(job.env.TMPDIR).toBe(job.cacheDirectory);
    expect(readdirSync(job.cacheDirectory).some((f) => f.startsWith('tsx-'))).toBe(true);
    await carbon.flush();
    const orders = await carbon.fetch('sd.shop.orders', Math.floor(Date.now() / 1000) - 600);
    expect(orders.map(([, v]) => v).sort((a, b) => a - b)).toEqual(Array.from({ length: hits }, (_, i) => i + 1));
  }, 120_000);

  it('graphite-poller@host runs with an empty config/host.yaml', async () => {
    const job = startInstance('host');
    await carbon.wait(`sd.host.${hostname().split('.')[0]}.uptime_seconds`, 1);
    expect((await stopInstance(job)).code, job.output()).toBe(0);
  }, 120_000);

  it('a broken job exits with the status RestartPreventExitStatus keeps systemd from restarting', async () => {
    const job = startInstance('broken');
    const code = await job.exited;
    expect(String(code)).toBe(one('Service.RestartPreventExitStatus'));
    expect(job.output()).toMatch(/config\/broken\.yaml: interval/);
  }, 120_000);
});
