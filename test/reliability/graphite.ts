// Graphite faults against a real carbon-cache: stopped mid-run, killed with SIGKILL, down when the poller starts,
// and outages beyond the queue's bound. A bin/poll.ts process runs the history test poller (one point per series
// per second, values derived from the timestamp), and every point it fetched is looked for in whisper.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it, type TestContext } from 'vitest';
import { describeCarbon, type Carbon } from '../helpers/carbon.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { WAIT_MS } from '../helpers/wait-for.ts';
import {
  choose,
  compareHistory,
  count,
  expectedPoints,
  historyConfig,
  PollerProcess,
  readWhisper,
  report,
  ROOT,
  sleep,
  startCarbon,
} from './harness.ts';

/** How long carbon is away: 30 s as the issue asks under `npm run reliability`, shorter in `npm test`. */
const OUTAGE_S = choose(8, 30);
const SERIES = 3;
const TIMEOUT = choose(240_000, 240_000);

interface JobOptions {
  series?: number;
  queueLimit?: number;
  catchUp?: string;
  selfMetrics?: boolean;
}

function startJob(carbon: Carbon, work: string, name: string, options: JobOptions = {}): PollerProcess {
  const config = historyConfig(work, name, { series: options.series ?? SERIES, catchUp: options.catchUp ?? 0 });
  return PollerProcess.start(['bin/poll.ts', 'history', '--config', config], {
    GRAPHITE_URL: carbon.url,
    GRAPHITE_PREFIX: name,
    STATE_DIR: join(work, `state-${name}`),
    POLLERS_PATH: join(ROOT, 'test', 'helpers', 'pollers'),
    // Only the data lines go through the queue, so each line is one distinct point and drops count points.
    // Self-metric lines have room of their own (the queue's reserve): a job may turn them on without changing that.
    SELF_METRICS: options.selfMetrics ? '1' : '0',
    ...(options.queueLimit ? { GRAPHITE_QUEUE_LIMIT: String(options.queueLimit) } : {}),
  });
}

/** The SIGKILL a crash or the OOM killer sends carbon-cache: its cache of unwritten points is lost with it. */
function killCarbon(carbon: Carbon): void {
  const pid = Number(readFileSync(join(carbon.dir, 'carbon-cache.pid'), 'utf8').trim());
  process.kill(pid, 'SIGKILL');
}

/** Lets the job run on after carbon is back until it has reconnected and fetched `after` more ticks, then stops it. */
async function finish(job: PollerProcess, after = 2, atLeast = 0) {
  await job.waitFor(
    () => job.logs.some((l) => l.msg === 'reconnected to graphite' || l.msg === 'connected to graphite'),
    90_000,
    'a connection to carbon',
  );
  const ticks = Math.max(job.fetchedWindows.length + after, atLeast);
  await job.waitFor(() => job.fetchedWindows.length >= ticks, WAIT_MS, `${ticks} ticks`);
  const exit = await job.stop();
  expect(exit.code, job.tail()).toBe(0);
  return job.logs.find((l) => / stopped$/.test(l.msg))!;
}

/** Carbon stopped, killed, down at start-up; outages beyond the queue bound. */
export function graphiteFaults(): void {
  describeCarbon('graphite faults (real carbon-cache)', () => {
    it.concurrent(
      `carbon stopped for ${OUTAGE_S} s mid-run, then restarted: every point arrives`,
      async ({ task }: TestContext) => {
        const carbon = await startCarbon();
        const work = tempDir('rel-stop');
        try {
          const job = startJob(carbon, work, 'stopped');
          await carbon.wait('stopped.history.s0', 3);
          // A clean stop (carbon writes its cache first): whatever goes missing is the poller's loss.
          await carbon.stop();
          await sleep(OUTAGE_S * 1000);
          await carbon.restart();
          // A tick a second through the outage and after it; on a busy host ticks may be skipped, so wait for them.
          const stopped = await finish(job, 2, OUTAGE_S + 3);
          const reconnect = job.find('reconnected to graphite');
          const result = await compareHistory(carbon, 'stopped', SERIES, expectedPoints(job.fetchedWindows, 1));
          report(
            {
              section: 'Graphite',
              fault: `carbon stopped ${OUTAGE_S} s mid-run, then restarted`,
              injected:
                `carbon-cache stopped (its cache written first) while a job sends ${SERIES} points/s, ` +
                `restarted after ${OUTAGE_S} s; default queue`,
              expected: count(result.expected),
              observed:
                `${count(result.found)} (reconnected ${((reconnect?.down_ms as number) / 1000).toFixed(1)} s after the loss; ` +
                `dropped ${stopped.dropped})`,
            },
            task,
          );
          expect(result.missing).toEqual([]);
          expect(result.wrong).toBe(0);
          expect(stopped.dropped).toBe(0);
          expect(job.fetchedWindows.length).toBeGreaterThanOrEqual(OUTAGE_S + 3);
        } finally {
          await carbon.destroy();
        }
      },
      TIMEOUT,
    );

    it.concurrent(
      'carbon killed with SIGKILL mid-run, restarted: every point arrives (the replay re-sends what its cache lost)',
      async ({ task }: TestContext) => {
        const carbon = await startCarbon();
        const work = tempDir('rel-kill');
        const downS = choose(3, 10);
        const series = 50;
        try {
          const job = startJob(carbon, work, 'killed', { series });
          await carbon.wait('killed.history.s0', 5);
          // Just after a tick: its points are in carbon's cache, not yet in whisper (carbon writes once a second).
          await sleep(1200 - (Date.now() % 1000));
          // What the job had sent when carbon died (a window's points reach the socket as it is reported)…
          const sentBefore = expectedPoints(job.fetchedWindows, 1);
          killCarbon(carbon);
          // …and what whisper holds of it: the rest was in carbon's cache, lost with it. That loss is carbon's;
          // the writer's replay after the reconnect must repair it.
          const atKill = await compareHistory(carbon, 'killed', series, sentBefore, { flush: false });
          await sleep(downS * 1000);
          await carbon.restart();
          const stopped = await finish(job);
          const expected = expectedPoints(job.fetchedWindows, 1);
          const result = await compareHistory(carbon, 'killed', series, expected);
          const reconnect = job.find('reconnected to graphite');
          report(
            {
              section: 'Graphite',
              fault: 'carbon killed with SIGKILL mid-run',
              injected: `SIGKILL to carbon-cache while a job sends ${series} points/s, restarted ${downS} s later`,
              expected: count(result.expected),
              observed:
                `${count(result.found)}: carbon's cache lost ${count(atKill.missing.length)} of the ` +
                `${count(atKill.expected)} points sent before the kill; ` +
                `the writer re-sent its last ${count(reconnect?.replaying_lines as number)} lines after reconnecting, which restored them`,
            },
            task,
          );
          expect(result.missing).toEqual([]);
          expect(result.wrong).toBe(0);
          expect(stopped.dropped).toBe(0);
        } finally {
          await carbon.destroy();
        }
      },
      TIMEOUT,
    );

    it.concurrent(
      `carbon down when the poller starts, up ${OUTAGE_S} s later: every point arrives`,
      async ({ task }: TestContext) => {
        const carbon = await startCarbon();
        const work = tempDir('rel-down');
        try {
          await carbon.stop();
          const job = startJob(carbon, work, 'down');
          await job.waitFor(() => job.find(/^cannot connect to graphite/) !== undefined, WAIT_MS, 'the first failed connection');
          await sleep(OUTAGE_S * 1000);
          await carbon.restart();
          const stopped = await finish(job);
          const result = await compareHistory(carbon, 'down', SERIES, expectedPoints(job.fetchedWindows, 1));
          const connected = job.find('connected to graphite');
          report(
            {
              section: 'Graphite',
              fault: 'carbon down when the poller starts',
              injected: `bin/poll.ts started while nothing listens on GRAPHITE_URL; carbon-cache started ${OUTAGE_S} s later`,
              expected: count(result.expected),
              observed: `${count(result.found)} (connected after ${connected?.attempts} attempts; dropped ${stopped.dropped})`,
            },
            task,
          );
          expect(result.missing).toEqual([]);
          expect(result.wrong).toBe(0);
          expect(stopped.dropped).toBe(0);
        } finally {
          await carbon.destroy();
        }
      },
      TIMEOUT,
    );

    it.concurrent(
      'beyond the queue bound, without history: the drop counter equals exactly what is missing',
      async ({ task }: TestContext) => {
        const carbon = await startCarbon();
        const work = tempDir('rel-bound');
        const series = 5;
        const queueLimit = 20; // four seconds of this job's points
        try {
          const job = startJob(carbon, work, 'bound', { series, queueLimit, selfMetrics: true });
          await carbon.wait('bound.history.s0', 3);
          await carbon.stop();
          const atStop = job.fetchedWindows.length;
          await sleep(OUTAGE_S * 1000);
          // The outage must outlast the queue: on a busy host ticks may be skipped, so wait for twice its worth of them.
          await job.waitFor(
            () => job.fetchedWindows.length >= atStop + (2 * queueLimit) / series,
            WAIT_MS,
            'ticks enough to overflow the queue',
          );
          await carbon.restart();
          const stopped = await finish(job);
          const result = await compareHistory(carbon, 'bound', series, expectedPoints(job.fetchedWindows, 1));
          const dropped = stopped.dropped as number;
          // The self-metrics written through the outage, read back from whisper: the per-run drop counts and the
          // running total must both tell the drops the log reports.
          const first = Math.min(...job.fetchedWindows.map(([start]) => start));
          const metric = (name: string) => `bound.pollers.bound.writer.${name}`;
          const self = await readWhisper(
            carbon,
            [metric('dropped'), metric('dropped_total')],
            first - 5,
            Math.floor(Date.now() / 1000) + 5,
          );
          const perRun = [...(self.get(metric('dropped'))?.values() ?? [])].reduce((sum, n) => sum + n, 0);
          const totals = [...(self.get(metric('dropped_total')) ?? new Map<number, number>())].sort(([a], [b]) => a - b);
          const lastTotal = totals.at(-1)?.[1];
          report(
            {
              section: 'Graphite',
              fault: 'outage beyond the queue bound (no history)',
              injected: `GRAPHITE_QUEUE_LIMIT=${queueLimit} (4 s of ${series} points/s); carbon stopped ${OUTAGE_S} s`,
              expected: `${count(result.expected)}, of which ${count(result.expected - dropped)} within the bound`,
              observed:
                `${count(result.found)}; missing ${count(result.missing.length)} = drop counter ${count(dropped)}` +
                ` = writer.dropped summed in whisper ${count(perRun)} = last writer.dropped_total ${count(lastTotal ?? 0)}`,
            },
            task,
          );
          expect(dropped).toBeGreaterThan(0);
          expect(stopped.lost).toBe(0);
          expect(result.missing.length).toBe(dropped);
          expect(result.wrong).toBe(0);
          expect(perRun).toBe(dropped);
          expect(lastTotal).toBe(dropped);
        } finally {
          await carbon.destroy();
        }
      },
      TIMEOUT,
    );

    it.concurrent(
      'beyond the queue bound, with history: the watermark catch-up refills every dropped point',
      async ({ task }: TestContext) => {
        const carbon = await startCarbon();
        const work = tempDir('rel-refill');
        const series = 5;
        const queueLimit = 20;
        try {
          const job = startJob(carbon, work, 'refill', { series, queueLimit, catchUp: '1h' });
          await carbon.wait('refill.history.s0', 3);
          await carbon.stop();
          const atStop = job.fetchedWindows.length;
          await sleep(OUTAGE_S * 1000);
          // The outage must outlast the queue: on a busy host ticks may be skipped, so wait for twice its worth of them.
          await job.waitFor(
            () => job.fetchedWindows.length >= atStop + (2 * queueLimit) / series,
            WAIT_MS,
            'ticks enough to overflow the queue',
          );
          // The gap is fetched again once the queue has drained: one window longer than a tick. Counted from before the
          // restart: on a busy host the job may reconnect and refill before carbon's start script has returned.
          const backAt = job.fetchedWindows.length;
          await carbon.restart();
          await job.waitFor(() => job.fetchedWindows.slice(backAt).some(([start, end]) => end - start > 1), 90_000, 'a catch-up window');
          const stopped = await finish(job);
          const windows = job.fetchedWindows;
          const first = Math.min(...windows.map(([start]) => start));
          const last = Math.max(...windows.map(([, end]) => end));
          // Every second from the first tick to the last, not only those of windows fetched live.
          const result = await compareHistory(carbon, 'refill', series, expectedPoints([[first, last]], 1));
          const refills = windows.filter(([start, end]) => end - start > 1);
          report(
            {
              section: 'Graphite',
              fault: 'outage beyond the queue bound (source with history)',
              injected: `GRAPHITE_QUEUE_LIMIT=${queueLimit} (4 s of ${series} points/s); carbon stopped ${OUTAGE_S} s; catchUp 1h`,
              expected: count(result.expected),
              observed:
                `${count(result.found)} (drop counter ${count(stopped.dropped as number)}, ` +
                `refilled by ${refills.length} catch-up window${refills.length === 1 ? '' : 's'} of ` +
                `${refills.map(([s, e]) => `${e - s} s`).join(', ')})`,
            },
            task,
          );
          expect(stopped.dropped).toBeGreaterThan(0);
          expect(result.missing).toEqual([]);
          expect(result.wrong).toBe(0);
        } finally {
          await carbon.destroy();
        }
      },
      TIMEOUT,
    );
  });
}
