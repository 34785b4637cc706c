// bin/poll.ts end to end into a real carbon-cache: host --once lands in whisper; an http-json job at 1 s
// keeps every second's datapoint while carbon is stopped for several seconds and restarted.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Carbon, describeCarbon } from '../helpers/carbon.ts';
import { TestHttpServer } from '../helpers/http-server.ts';
import { runCommand, ROOT } from '../helpers/run-command.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describeCarbon('bin/poll.ts into a real carbon-cache', () => {
  let carbon: Carbon;
  let work: string;
  beforeAll(async () => {
    carbon = await Carbon.start();
    work = tempDir('poll');
  });
  afterAll(async () => {
    await carbon?.destroy();
  });

  it('host --once lands in whisper, with its self-metrics', async () => {
    const before = Math.floor(Date.now() / 1000);
    const result = await runCommand(['bin/poll.ts', 'host', '--once'], {
      env: { GRAPHITE_URL: carbon.url, STATE_DIR: join(work, 'state-host'), GRAPHITE_PREFIX: 'it' },
    });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe('');
    await carbon.flush();
    const name = hostname().split('.')[0];
    const total = await carbon.fetch(`it.host.${name}.memory.total_bytes`, before - 120);
    expect(total).toHaveLength(1);
    expect(total[0]![1]).toBeGreaterThan(0);
    expect(await carbon.fetch('it.pollers.host.datapoints', before - 120)).toEqual([[total[0]![0], 9]]);
  });

  it('http-json at 1 s keeps every second through a carbon restart', async () => {
    let hits = 0;
    const api = await TestHttpServer.start((_, response) => {
      hits++;
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ requests: hits, healthy: true }));
    });
    const config = join(work, 'api.yaml');
    // Deadlines far above a local answer's time: a request the API counted but the job gave up on (a CPU-starved
    // host) would look like a lost point. A run that overruns skips ticks, which the job counts.
    writeFileSync(config, `url: ${api.url}/status\nprefix: it.api\ninterval: 1\ntimeout: 5\nrunTimeout: 5\n`);
    const poller = spawnPoller(['bin/poll.ts', 'http-json', '--config', config], {
      GRAPHITE_URL: carbon.url,
      STATE_DIR: join(work, 'state-api'),
    });
    try {
      await carbon.wait('it.api.requests', 3);
      await carbon.stop(); // flushes carbon's own cache first: what is tested here is our side
      await sleep(4000); // the outage
      const atRestart = hits;
      await carbon.restart();
      // Reconnected, and what was queued plus a few ticks after it delivered.
      await carbon.wait('it.api.requests', atRestart + 3);
    } finally {
      poller.kill('SIGTERM');
    }
    const code = await new Promise<number | null>((r) => poller.on('exit', (c) => r(c)));
    expect(code).toBe(0);
    await api.close();
    await carbon.flush();

    const since = Math.floor(Date.now() / 1000) - 600;
    const points = await carbon.fetch('it.api.requests', since);
    // Nothing lost: every answer the job fetched (each carries its request number) is in whisper.
    expect(points.map(([, value]) => value).sort((a, b) => a - b)).toEqual(Array.from({ length: hits }, (_, i) => i + 1));
    const seconds = points.map(([t]) => t).sort((a, b) => a - b);
    const first = seconds[0]!;
    const last = seconds.at(-1)!;
    expect(last - first).toBeGreaterThanOrEqual(8);
    // A tick on every second from the first to the last, including those while carbon was down; a machine
    // starved of CPU for over a second may skip one, and then the job says so in its self-metrics.
    const skipped = (await carbon.fetch('pollers.api.skipped_ticks', since)).reduce((sum, [, n]) => sum + n, 0);
    expect(seconds.length + skipped).toBe(last - first + 1);
    // Real time on a shared 2-core host: a starved job may skip several.
    expect(skipped).toBeLessThanOrEqual(Math.floor((last - first + 1) / 3));
    expect((await carbon.fetch('it.api.healthy', first - 1)).length).toBe(seconds.length);
  });
});

function spawnPoller(args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr!.resume();
  return child;
}
