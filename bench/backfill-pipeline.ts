// Backpressure instead of loss: 10,000,000 datapoints from a test source through the real `bin/backfill.ts`
// (runBackfill, GraphiteSink, the TCP writer) into a deliberately slow loopback server, in a child process whose
// peak RSS is all that is measured.
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { BACKFILL_NODE_FLAGS, BACKFILL_QUEUE } from '../lib/cli/backfill-command.ts';
import { DEFAULT_QUEUE_LIMIT } from '../lib/graphite/writer.ts';
import { atMost, count, exactly, formatText, info, megabytes, perSecond, seconds, type Figure, type Section } from './report.ts';

const ROOT = resolve(import.meta.dirname, '..');
const TOTAL = 10_000_000;
const STEP = 60;
/** The slow server reads this many bytes per second: well below what the producer makes (about 5x carbon's rate). */
const SINK_BYTES_PER_SECOND = 24_000_000;
const RSS_LIMIT_MB = 150;

/** How the test source hands out a window's points, like one kind of real poller (bench/pollers/bench-source.ts). */
export interface Scenario {
  name: string;
  /** What it stands for. */
  like: string;
  /** Options of the bench-source poller. */
  source: { series: number; windowSeconds: number; pageSize: number; pagesInFlight: number; latencyMs: number };
  /** bin/backfill.ts --concurrency. */
  concurrency: number;
  /** Part of the target (the others are stress cases, reported beside it). */
  target: boolean;
  /** The server reads as fast as it can instead of SINK_BYTES_PER_SECOND: the pipeline's own ceiling. */
  fastServer?: boolean;
  /** Why this stress case may go over the target's memory. */
  over?: string;
}

export const SCENARIOS: Scenario[] = [
  {
    name: 'windows',
    like:
      '1,000 series x 10,000 minutes; each one-hour window (60,000 points) is emitted at once, as a source without pages does; ' +
      '4 windows at a time (the default --concurrency)',
    source: { series: 1000, windowSeconds: 3600, pageSize: 0, pagesInFlight: 1, latencyMs: 5 },
    concurrency: 4,
    target: true,
  },
  {
    name: 'pages in flight',
    like:
      'CloudWatch at its limits: 2,000 series, 100,500-point pages (500 queries x 201 minutes), 4 calls of a window in flight ' +
      "(the poller's concurrency) x 4 windows, 20 ms per call",
    source: { series: 2000, windowSeconds: 201 * STEP, pageSize: 100_500, pagesInFlight: 4, latencyMs: 20 },
    concurrency: 4,
    target: false,
    over:
      'the 16 calls in flight bring up to 1.6 M lines at once; the queue keeps them (overflow grow) ' +
      'where drop-oldest lost 60% of the points and failed 24 of 25 windows',
  },
  {
    name: 'one window',
    like:
      'all 10,000,000 points in a single window, in 10,000-point pages with ready() between them ' +
      '(the gate between windows never comes into play)',
    source: { series: 1000, windowSeconds: 10_000 * STEP, pageSize: 10_000, pagesInFlight: 1, latencyMs: 0 },
    concurrency: 1,
    target: false,
  },
  {
    name: 'windows, fast server',
    like: 'the first scenario into a server that reads as fast as it can: what the backfill process itself can do (CPU-bound)',
    source: { series: 1000, windowSeconds: 3600, pageSize: 0, pagesInFlight: 1, latencyMs: 5 },
    concurrency: 4,
    target: false,
    fastServer: true,
  },
];

interface Outcome {
  code: number;
  peakRssMB: number;
  waits: { count: number; ms: number };
  summary: string;
  seconds: number;
  stderr: string;
}

/** A loopback server that reads at most `bytesPerSecond` (a token bucket per connection), counting lines. */
async function slowServer(bytesPerSecond: number): Promise<{ port: number; lines(): number; bytes(): number; close(): Promise<void> }> {
  let lines = 0;
  let bytes = 0;
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    const opened = performance.now();
    let consumed = 0;
    socket.on('data', (data: Buffer) => {
      for (let at = data.indexOf(10); at !== -1; at = data.indexOf(10, at + 1)) lines++;
      consumed += data.length;
      bytes += data.length;
      // Ahead of the allowed rate: stop reading until the time those bytes were worth has passed.
      if (bytesPerSecond === Infinity) return;
      const aheadMs = (consumed / bytesPerSecond) * 1000 - (performance.now() - opened);
      if (aheadMs > 1) {
        socket.pause();
        setTimeout(() => socket.resume(), aheadMs);
      }
    });
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    lines: () => lines,
    bytes: () => bytes,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}

/** Runs `bin/backfill.ts bench-source` over exactly TOTAL points into the server, with the peak-RSS preload. */
function runBackfillCommand(port: number, scenario: Scenario, work: string): Promise<Outcome> {
  const config = join(work, `${scenario.name.replace(/\W+/g, '-')}.yaml`);
  writeFileSync(
    config,
    Object.entries(scenario.source)
      .map(([key, value]) => `${key}: ${value}`)
      .join('\n') + '\n',
  );
  const minutes = TOTAL / scenario.source.series;
  const end = Math.floor(Date.now() / 1000 / 86_400) * 86_400 - 86_400;
  const start = end - minutes * STEP;
  const iso = (seconds: number) => new Date(seconds * 1000).toISOString();
  // Launched as `npm run backfill` launches it: its V8 flags on the node line.
  const args = [
    '--import',
    'tsx',
    ...BACKFILL_NODE_FLAGS,
    '--import',
    pathToFileURL(join(ROOT, 'bench', 'child-report.ts')).href,
    join(ROOT, 'bin', 'backfill.ts'),
    'bench-source',
    '--from',
    iso(start),
    '--to',
    iso(end),
    '--config',
    config,
    '--concurrency',
    String(scenario.concurrency),
  ];
  const env = {
    ...process.env,
    GRAPHITE_URL: `tcp://127.0.0.1:${port}`,
    STATE_DIR: join(work, 'state'),
    POLLERS_PATH: join(ROOT, 'bench', 'pollers'),
    LOG_FORMAT: 'json',
    LOG_LEVEL: 'info',
    NODE_OPTIONS: '',
  };
  const began = performance.now();
  return new Promise((resolveRun) => {
    execFile(process.execPath, args, { cwd: ROOT, env, maxBuffer: 64 << 20 }, (error, _stdout, stderr) => {
      const peak = /peak-rss-kb (\d+)/.exec(stderr);
      const waits = /bench-source-waits (\{.*\})/.exec(stderr);
      const summary = stderr
        .split('\n')
        .map((line) =>
          /"msg":"backfill (?:done|finished|interrupted)[^"]*?(\d+) windows \(\d+ already done, (\d+) fetched, (\d+) failed/.exec(line),
        )
        .find(Boolean);
      resolveRun({
        code: error ? Number(error.code ?? 1) : 0,
        peakRssMB: peak ? Number(peak[1]) / 1024 : NaN,
        waits: waits ? (JSON.parse(waits[1]!) as Outcome['waits']) : { count: 0, ms: 0 },
        summary: summary ? `${summary[2]} of ${summary[1]} windows fetched, ${summary[3]} failed` : 'no summary line',
        seconds: (performance.now() - began) / 1000,
        stderr,
      });
    });
  });
}

/** The RSS of the same command doing no work (--help), to show what the pipeline itself adds. */
function idleRss(): Promise<number> {
  return new Promise((resolveRun) => {
    const report = pathToFileURL(join(ROOT, 'bench', 'child-report.ts')).href;
    const args = ['--import', 'tsx', ...BACKFILL_NODE_FLAGS, '--import', report, join(ROOT, 'bin', 'backfill.ts'), '--help'];
    execFile(process.execPath, args, { cwd: ROOT, env: { ...process.env, NODE_OPTIONS: '' } }, (_error, _stdout, stderr) => {
      resolveRun(Number(/peak-rss-kb (\d+)/.exec(stderr)?.[1] ?? NaN) / 1024);
    });
  });
}

export default async function benchBackfillPipeline(): Promise<Section> {
  const figures: Figure[] = [];
  const notes: string[] = ['Scenarios:'];
  let lineBytes = 36;
  const work = mkdtempSync(join(tmpdir(), 'gp-bench-backfill-'));
  try {
    const idle = await idleRss();
    for (const scenario of SCENARIOS) {
      const server = await slowServer(scenario.fastServer ? Infinity : SINK_BYTES_PER_SECOND);
      try {
        const outcome = await runBackfillCommand(server.port, scenario, work);
        if (outcome.code !== 0)
          notes.push(`- ${scenario.name} exited ${outcome.code}: ${outcome.stderr.split('\n').slice(-6).join(' / ')}`);
        // The command flushed and closed before it exited: what the server has not read yet is in the kernel.
        for (let i = 0; i < 200 && server.lines() < TOTAL; i++) await new Promise((r) => setTimeout(r, 50));
        const received = server.lines();
        if (received > 0) lineBytes = server.bytes() / received;
        const label = (what: string) => `${scenario.name}: ${what}`;
        const over = outcome.peakRssMB >= RSS_LIMIT_MB ? ` (${scenario.over ?? `over ${RSS_LIMIT_MB} MB`})` : '';
        const rss = scenario.target
          ? atMost(label('peak RSS of the backfill process'), outcome.peakRssMB, RSS_LIMIT_MB, megabytes, true)
          : info(label('peak RSS of the backfill process'), `${megabytes(outcome.peakRssMB)}${over}`);
        const waited =
          scenario.source.pageSize > 0
            ? `${count(outcome.waits.count)} times, ${seconds(outcome.waits.ms / 1000)} in all (concurrent waits add up)`
            : 'between windows, in runBackfill (the source has no pages)';
        figures.push(
          rss,
          exactly(label('lines received (zero drops)'), received, TOTAL),
          info(label('producer waited on ready()'), waited),
          info(
            label('throughput'),
            `${perSecond(TOTAL / outcome.seconds)} (${seconds(outcome.seconds)} including start-up; ${outcome.summary})`,
          ),
        );
        notes.push(`- **${scenario.name}**${scenario.target ? ' (the target)' : ''}: ${scenario.like}.`);
      } finally {
        await server.close();
      }
    }
    notes.push(
      '',
      `The same command doing nothing (\`bin/backfill.ts --help\`, Node.js with tsx's loader thread) peaks at ${megabytes(idle)}.`,
    );
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return {
    title: 'Backpressure instead of loss in backfills',
    method:
      `${TOTAL.toLocaleString('en-US')} datapoints from a test source (bench/pollers/bench-source.ts, loaded through POLLERS_PATH) ` +
      'through the real `bin/backfill.ts` — `runBackfill`, `GraphiteSink`, the TCP writer with the default queue limit ' +
      `(${count(DEFAULT_QUEUE_LIMIT)} lines; a backfill waits below ${count(BACKFILL_QUEUE.readyLines)}, ` +
      `overflow \`${BACKFILL_QUEUE.overflow}\`) — into a loopback server that reads at most ${SINK_BYTES_PER_SECOND / 1e6} MB/s, ` +
      `far below what the source makes, so the producer must wait on ` +
      "`sink.ready()`. The backfill runs in a child process; its peak RSS is the kernel's high-water mark (VmHWM) " +
      `read at exit by a preloaded module. The server (in the parent) counts the lines it read; ` +
      `at ${SINK_BYTES_PER_SECOND / 1e6} MB/s it takes about ${perSecond(SINK_BYTES_PER_SECOND / lineBytes, 'lines/s')} of these ` +
      `${lineBytes.toFixed(0)}-byte lines, the pace a waiting producer is held to. ` +
      'bin/backfill.ts is launched with V8 flags that collect early (`--optimize-for-size`, no young-generation growth); ' +
      'without them, the same "windows" run ' +
      'peaked at 260–320 MB and the fast-server run made about 2.3 M points/s (measured when the setting was chosen).',
    figures,
    notes,
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(formatText(await benchBackfillPipeline()));
}
