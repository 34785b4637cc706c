// bin/poll.ts --jobs end to end: a broken file refuses the start (78, named); SIGHUP adds, removes, restarts and
// refuses jobs in a running child; jobs share ONE connection through a carbon restart with every job's lines and
// self-metrics intact; each job catches up its own gap after the process was down.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Watermark } from '../../lib/state/watermark.ts';
import { Carbon, describeCarbon } from '../helpers/carbon.ts';
import { historyValue } from '../helpers/history-poller.ts';
import { TestHttpServer } from '../helpers/http-server.ts';
import { ROOT, runCommand } from '../helpers/run-command.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { pause, waitFor } from '../helpers/wait-for.ts';

const POLLERS_PATH = join(ROOT, 'test', 'helpers', 'pollers');

/** A child `bin/poll.ts` whose stdout and stderr are kept, with its exit code. */
function spawnJobs(args: string[], env: NodeJS.ProcessEnv) {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'bin/poll.ts', ...args], {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: 'info', POLLERS_PATH, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, stdout: () => stdout, stderr: () => stderr };
}

describe('bin/poll.ts --jobs: start-up and reload', () => {
  it('refuses to start with exit 78 and one line per broken file, naming it; nothing runs', async () => {
    const dir = tempDir('jobs-broken');
    writeFileSync(join(dir, 'history.yaml'), 'step: 1\ninterval: 1\n');
    writeFileSync(join(dir, 'history-typo.yaml'), 'intervall: 1\n');
    writeFileSync(join(dir, 'orders.yaml'), 'url: http://127.0.0.1:65535/\n');
    const result = await runCommand(['bin/poll.ts', '--jobs', dir, '--dry-run'], { env: { POLLERS_PATH } });
    expect(result.code).toBe(78);
    expect(result.stdout).toBe('');
    const errors = result.stderr.split('\n').filter((line) => / ERROR /.test(line));
    expect(errors).toHaveLength(2);
    expect(errors[0]).toContain(`${join(dir, 'history-typo.yaml')}: unknown option "intervall"; did you mean "interval"?`);
    expect(errors[1]).toContain(`${join(dir, 'orders.yaml')}: its name does not say which poller runs it`);
    expect(result.stderr).not.toMatch(/started|at .*\.ts:\d+/);
    // A flag for one job is refused with --jobs, as a command-line mistake.
    const flag = await runCommand(['bin/poll.ts', '--jobs', dir, '--config', join(dir, 'history.yaml')], { env: { POLLERS_PATH } });
    expect(flag.code).toBe(78);
    expect(flag.stderr.trim()).toMatch(/ERROR command line: --config: --config is for one job; with --jobs each file is a job$/);
  });

  it('--once --dry-run runs each job of a list of files once, to stdout, and exits 1 when one run failed', async () => {
    const dir = tempDir('jobs-once');
    writeFileSync(join(dir, 'history-a.yaml'), 'step: 60\n');
    writeFileSync(join(dir, 'history-b.yaml'), 'step: 60\nseries: 2\n');
    const ok = await runCommand(
      ['bin/poll.ts', '--jobs', join(dir, 'history-a.yaml'), join(dir, 'history-b.yaml'), '--once', '--dry-run'],
      { env: { POLLERS_PATH } },
    );
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/^pollers\.history-a\.datapoints 1 \d+$/m);
    expect(ok.stdout).toMatch(/^pollers\.history-b\.datapoints 2 \d+$/m);
    expect(ok.stdout.match(/^history\.s1 /gm)).toHaveLength(1);
    // A job whose source is down: --once says so in its status, the other jobs' lines are still there.
    writeFileSync(join(dir, 'http-json-down.yaml'), 'url: http://127.0.0.1:65535/\ntimeout: 5\n');
    const failed = await runCommand(['bin/poll.ts', '--jobs', dir, '--once', '--dry-run'], { env: { POLLERS_PATH } });
    expect(failed.code, failed.stderr).toBe(1);
    expect(failed.stderr).toMatch(/ERROR run failed: .*job=http-json-down/);
    expect(failed.stdout).toMatch(/^pollers\.history-a\.datapoints 1 \d+$/m);
    expect(failed.stdout).toMatch(/^pollers\.http-json-down\.errors 1 \d+$/m);
  });

  it('SIGHUP: a new file starts its job, a removed one stops, a changed one restarts, a broken one keeps its job', async () => {
    const dir = tempDir('jobs-reload');
    for (const name of ['a', 'b', 'c']) writeFileSync(join(dir, `history-${name}.yaml`), 'step: 1\ninterval: 1\n');
    const jobs = spawnJobs(['--jobs', dir, '--dry-run'], {});
    try {
      // Self-metrics name the job: `pollers.<job>.datapoints <n> <t>` on stdout (a dry run).
      const ticks = (job: string, from = 0) =>
        [
          ...jobs
            .stdout()
            .slice(from)
            .matchAll(new RegExp(`^pollers\\.${job}\\.datapoints (\\d+) `, 'gm')),
        ].map((m) => Number(m[1]));
      await waitFor('every job ticking', () => ['history-a', 'history-b', 'history-c'].every((job) => ticks(job).length >= 2), {
        detail: jobs.stderr,
      });

      writeFileSync(join(dir, 'history-d.yaml'), 'step: 1\ninterval: 1\n');
      rmSync(join(dir, 'history-b.yaml'));
      writeFileSync(join(dir, 'history-c.yaml'), 'step: 1\ninterval: 1\nseries: 3\n');
      writeFileSync(join(dir, 'history-a.yaml'), 'step: 1\ninterval: soon\n');
      jobs.child.kill('SIGHUP');
      await waitFor('the reload', () => /reload done/.test(jobs.stderr()), { detail: jobs.stderr });
      const log = jobs.stderr();
      expect(log).toMatch(/reload done jobs=3 added=1 changed=1 removed=1 broken=1/);
      const broken = log.split('\n').filter((line) => / ERROR /.test(line));
      expect(broken).toEqual([expect.stringContaining(`${join(dir, 'history-a.yaml')}: interval: `)]);
      expect(broken[0]).toMatch(/\(reload: its job keeps running as it was\)$/);

      const after = jobs.stdout().length;
      await waitFor(
        'the jobs after the reload',
        () => ticks('history-d', after).length >= 2 && ticks('history-c', after).includes(3) && ticks('history-a', after).length >= 2,
        {
          detail: jobs.stderr,
        },
      );
      // b stopped for good after its run; c runs its new file (3 series), once restarted.
      await waitFor('b stopped', () => /history stopped job=history-b/.test(jobs.stderr()), { detail: jobs.stderr });
      const stoppedAt = jobs.stdout().length;
      await pause(1500); // nothing may tick: no condition to wait on
      expect(ticks('history-b', stoppedAt)).toEqual([]);
      expect(log.match(/history started job=history-c/g)).toHaveLength(2);
      expect(log.match(/history started job=history-a/g)).toHaveLength(1);

      // Fixed, it restarts with the new content at the next SIGHUP.
      writeFileSync(join(dir, 'history-a.yaml'), 'step: 1\ninterval: 1\nseries: 2\n');
      jobs.child.kill('SIGHUP');
      await waitFor('a fixed', () => ticks('history-a', after).includes(2), { detail: jobs.stderr });
    } finally {
      jobs.child.kill('SIGTERM');
    }
    expect(await jobs.exited, jobs.stderr()).toBe(0);
    expect(jobs.stderr()).toMatch(/jobs stopped jobs=3 /);
  }, 60_000);
});

describeCarbon('bin/poll.ts --jobs into a real carbon-cache', () => {
  let carbon: Carbon;
  beforeAll(async () => {
    carbon = await Carbon.start();
  });
  afterAll(async () => {
    await carbon?.destroy();
  });

  it('every job writes on ONE connection, and keeps every tick and self-metric through a carbon restart', async () => {
    const proxy = await CountingProxy.start(carbon.port);
    let hits = 0;
    const api = await TestHttpServer.start((_, response) => {
      hits++;
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ requests: hits }));
    });
    const dir = tempDir('jobs-shared');
    const state = tempDir('jobs-shared-state');
    // Generous deadlines: a run given up on a starved host would look like a lost point.
    for (const name of ['a', 'b', 'c'])
      writeFileSync(
        join(dir, `http-json-${name}.yaml`),
        `url: ${api.url}/${name}\nprefix: mj.${name}\ninterval: 1\ntimeout: 5\nrunTimeout: 5\n`,
      );
    const jobs = spawnJobs(['--jobs', dir], { GRAPHITE_URL: `tcp://127.0.0.1:${proxy.port}`, STATE_DIR: state });
    try {
      for (const name of ['a', 'b', 'c']) await carbon.wait(`mj.${name}.requests`, 3);
      expect(proxy.connections).toBe(1);
      await carbon.stop();
      await pause(3000); // the outage
      const atRestart = hits;
      await carbon.restart();
      await waitFor(
        'ticks after the restart',
        async () => {
          await carbon.flush();
          const counts = await Promise.all(
            ['a', 'b', 'c'].map(async (name) => (await carbon.fetch(`mj.${name}.requests`, Math.floor(Date.now() / 1000) - 600)).length),
          );
          return counts.reduce((sum, n) => sum + n, 0) >= atRestart + 6;
        },
        { detail: jobs.stderr },
      );
    } finally {
      jobs.child.kill('SIGTERM');
    }
    expect(await jobs.exited, jobs.stderr()).toBe(0);
    await api.close();
    await proxy.close();
    // One connection before the outage and one after: never one per job.
    expect(proxy.upstreams).toBe(2);
    expect(proxy.mostAtOnce).toBe(1);
    await carbon.flush();
    const since = Math.floor(Date.now() / 1000) - 600;
    const all: number[] = [];
    for (const name of ['a', 'b', 'c']) {
      const points = await carbon.fetch(`mj.${name}.requests`, since);
      all.push(...points.map(([, v]) => v));
      const seconds = points.map(([t]) => t).sort((x, y) => x - y);
      // The job's self-metrics are there for each of its ticks, and its ticks for every second (or counted as skipped).
      const datapoints = await carbon.fetch(`pollers.http-json-${name}.datapoints`, since);
      expect(datapoints.map(([t]) => t).sort((x, y) => x - y)).toEqual(seconds);
      const skipped = (await carbon.fetch(`pollers.http-json-${name}.skipped_ticks`, since)).reduce((sum, [, n]) => sum + n, 0);
      expect(seconds.length + skipped).toBe(seconds.at(-1)! - seconds[0]! + 1);
    }
    // Nothing lost: every answer any job fetched (each carries its request number) is in whisper.
    expect(all.sort((x, y) => x - y)).toEqual(Array.from({ length: hits }, (_, i) => i + 1));
  }, 90_000);

  it('each job catches up its own gap after the process was down', async () => {
    const dir = tempDir('jobs-catch-up');
    const state = tempDir('jobs-catch-up-state');
    const now = Math.floor(Date.now() / 60_000) * 60;
    // history-long was down 30 minutes, history-short (its own series s1) 10: each watermark says so.
    writeFileSync(join(dir, 'history-long.yaml'), 'step: 60\n');
    writeFileSync(join(dir, 'history-short.yaml'), 'step: 60\nseries: 2\n');
    new Watermark(state, 'history-long', 'history').advance(now - 1800);
    new Watermark(state, 'history-short', 'history').advance(now - 600);
    const result = await runCommand(['bin/poll.ts', '--jobs', dir, '--once'], {
      env: { POLLERS_PATH, GRAPHITE_URL: carbon.url, STATE_DIR: state, GRAPHITE_PREFIX: 'cu' },
    });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/catching up since the last delivered window job=history-long .*windows=1/);
    expect(result.stderr).toMatch(/catching up since the last delivered window job=history-short .*windows=1/);
    await carbon.flush();
    const end = Math.floor(Date.now() / 60_000) * 60;
    const s0 = (await carbon.fetch('cu.history.s0', now - 3600)).map(([t]) => t);
    const s1 = (await carbon.fetch('cu.history.s1', now - 3600)).map(([t]) => t);
    const minutes = (from: number, to: number) => Array.from({ length: (to - from) / 60 }, (_, i) => from + i * 60);
    // s0 from history-long's gap on, s1 only from history-short's: each job filled its own.
    expect(s0).toEqual(minutes(now - 1800, end));
    expect(s1).toEqual(minutes(now - 600, end));
    expect((await carbon.fetch('cu.history.s1', now - 3600)).every(([t, v]) => v === historyValue(t, 1))).toBe(true);
    for (const job of ['history-long', 'history-short']) {
      const mark = JSON.parse(readFileSync(join(state, `${job}.watermark.json`), 'utf8')) as { deliveredUntil: number };
      expect(mark.deliveredUntil).toBe(end);
    }
  }, 60_000);
});

/** A TCP proxy in front of carbon that counts the connections it is given and those it carried through to carbon. */
class CountingProxy {
  connections = 0;
  upstreams = 0;
  mostAtOnce = 0;
  private open = 0;
  private readonly sockets = new Set<Socket>();
  private readonly server: Server;
  readonly port: number;

  private constructor(server: Server, port: number) {
    this.server = server;
    this.port = port;
  }

  static async start(target: number): Promise<CountingProxy> {
    const holder: { proxy?: CountingProxy } = {};
    const server = createServer((client) => holder.proxy!.accept(client, target));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    holder.proxy = new CountingProxy(server, (server.address() as { port: number }).port);
    return holder.proxy;
  }

  private accept(client: Socket, target: number): void {
    this.connections++;
    this.open++;
    this.mostAtOnce = Math.max(this.mostAtOnce, this.open);
    const upstream = connect(target, '127.0.0.1', () => {
      this.upstreams++;
      client.pipe(upstream);
      upstream.pipe(client);
    });
    this.sockets.add(client).add(upstream);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    let closed = false;
    client.on('close', () => {
      if (!closed) this.open--;
      closed = true;
      end();
    });
    client.on('error', end);
    upstream.on('error', end);
    upstream.on('close', end);
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
