// bin/poll.ts end to end into a real carbon-cache: host --once lands in whisper; an http-json job at 1 s
// keeps every second's datapoint while carbon is stopped for several seconds and restarted.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer, connect, type Server } from 'node:net';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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

  it('--once waits for a slow but working Graphite to take every line (bounded by runTimeout)', async () => {
    // ~12 MB of lines through a proxy that forwards 1.5 MB/s: more than kernel buffers absorb (~4 MB) plus what a
    // fixed 1.8 s allowance at exit lets through, so only waiting while Graphite takes lines delivers them all.
    const leaves = 15_000;
    const long = (c: string) => c.repeat(190);
    const leafValues = Object.fromEntries(Array.from({ length: leaves }, (_, i) => [`k${i}_${long('x')}`, i]));
    const document = { [long('a')]: { [long('b')]: { [long('c')]: leafValues } } };
    // Its own carbon with short retentions: 15,000 small whisper files.
    const slowCarbon = await Carbon.start({ retentions: '60s:1h' });
    const api = await TestHttpServer.start(() => {});
    api.respond(200, document);
    const proxy = await throttledProxy(slowCarbon.port, 1500);
    const config = join(work, 'big.yaml');
    writeFileSync(config, `url: ${api.url}/big.json\nprefix: it.big\nmaxDatapoints: ${leaves}\nmaxDepth: 8\n`);
    try {
      const result = await runCommand(['bin/poll.ts', 'http-json', '--config', config, '--once'], {
        env: { GRAPHITE_URL: `tcp://127.0.0.1:${proxy.port}`, STATE_DIR: join(work, 'state-big'), LOG_FORMAT: 'json' },
        timeoutMs: 120_000,
      });
      expect(result.code, result.stderr.slice(-3000)).toBe(0);
      const stopped = parseLog(result.stderr).find((l) => l.msg === 'http-json stopped')!;
      expect(stopped).toMatchObject({ dropped: 0, lost: 0 });
      expect(stopped.sent).toBeGreaterThan(leaves);
      // Every line the poller sent went through the proxy to carbon...
      await waitUntil(() => proxy.lines() === stopped.sent, 30_000);
      // ...and carbon has them: the run's self-metric says how many datapoints it wrote.
      await slowCarbon.wait('pollers.big.datapoints', 1);
      expect((await slowCarbon.fetch('pollers.big.datapoints')).map(([, v]) => v)).toEqual([leaves]);
      expect(result.stderr).not.toMatch(/gap for catch-up|did not take every line/);
    } finally {
      await proxy.close();
      await api.close();
      await slowCarbon.destroy();
    }
  }, 150_000);
});

/** A TCP proxy to carbon that forwards at most `kbPerSecond`, counting the lines it forwarded. */
async function throttledProxy(targetPort: number, kbPerSecond: number) {
  let lines = 0;
  const sockets = new Set<import('node:net').Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1');
    sockets.add(client).add(upstream);
    client.on('data', (chunk: Buffer) => {
      for (const byte of chunk) if (byte === 10) lines++;
      upstream.write(chunk);
      client.pause();
      setTimeout(() => client.resume(), chunk.length / kbPerSecond);
    });
    client.on('end', () => upstream.end());
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as import('node:net').AddressInfo).port,
    lines: () => lines,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

async function waitUntil(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(50);
  }
}

// Nothing listens on port 1 (privileged, unused): a Graphite that is down.
const GRAPHITE_DOWN = 'tcp://127.0.0.1:1';
type LogEntry = Record<string, unknown> & { level: string; msg: string };
const parseLog = (stderr: string): LogEntry[] =>
  stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as LogEntry);

describe('bin/poll.ts while Graphite is down: every loss counted', () => {
  it('--once into a closed port exits 1, and its summary counts every line as lost', async () => {
    const result = await runCommand(['bin/poll.ts', 'host', '--once'], {
      env: { GRAPHITE_URL: GRAPHITE_DOWN, STATE_DIR: join(tempDir('poll-down'), 'state'), LOG_FORMAT: 'json' },
    });
    const logs = parseLog(result.stderr);
    expect(result.code, result.stderr).toBe(1);
    const stopped = logs.find((l) => l.msg === 'host stopped')!;
    // 9 host datapoints and the run's self-metrics: none reached Graphite, every one is counted.
    expect(stopped.sent).toBe(0);
    expect(stopped.lost).toBeGreaterThanOrEqual(19);
    expect(stopped.dropped).toBe(stopped.lost);
    expect(logs.find((l) => l.level === 'error')).toMatchObject({
      msg: 'Graphite did not take every line before exit; they are lost',
      lost: stopped.lost,
    });
    // A poller without history has no catch-up to promise.
    expect(result.stderr).not.toMatch(/gap for catch-up/);
  });

  it('SIGTERM while Graphite is down: the lines still queued are counted as lost in the summary', async () => {
    const work = tempDir('poll-down');
    const config = join(work, 'host.yaml');
    writeFileSync(config, 'interval: 1\n');
    const child = spawn(process.execPath, ['--import', 'tsx', 'bin/poll.ts', 'host', '--config', config], {
      cwd: ROOT,
      env: { ...process.env, GRAPHITE_URL: GRAPHITE_DOWN, STATE_DIR: join(work, 'state'), LOG_FORMAT: 'json', LOG_LEVEL: 'debug' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    const runs = () => parseLog(stderr).filter((l) => l.msg === 'run done').length;
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    await new Promise<void>((resolveRuns, reject) => {
      const timer = setTimeout(() => reject(new Error(`fewer than 3 runs within 60 s:\n${stderr}`)), 60_000);
      child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
        stderr += chunk;
        if (runs() >= 3) {
          clearTimeout(timer);
          resolveRuns();
        }
      });
    });
    child.kill('SIGTERM');
    // Lines lost at exit are in no self-metric: the exit status carries them.
    expect(await exited).toBe(1);
    const logs = parseLog(stderr);
    const stopped = logs.find((l) => l.msg === 'host stopped')!;
    const closed = logs.find((l) => /closed with lines still queued/.test(l.msg))!;
    // At least three runs of 9 datapoints (and their self-metrics) never left the queue.
    expect(stopped.lost).toBeGreaterThanOrEqual(27);
    expect(stopped.lost).toBe(closed.lines);
    expect(stopped.dropped).toBe(stopped.lost);
    expect(stopped.sent).toBe(0);
  });
});

function spawnPoller(args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr!.resume();
  return child;
}
