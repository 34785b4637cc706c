// The live runner on a fake clock: windows per tick, self-metrics, errors, watermark and catch-up.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { JobConfig } from '../../../lib/config/job-config.ts';
import { createGraphiteWriter } from '../../../lib/graphite/writer.ts';
import { createLogger, silentLogger } from '../../../lib/poller-kit/logger.ts';
import { definePoller, type Poller } from '../../../lib/poller-kit/contract.ts';
import { runPoller } from '../../../lib/run/run-poller.ts';
import { Watermark } from '../../../lib/state/watermark.ts';
import { FakeClock } from '../../helpers/fake-clock.ts';
import { createHistoryPoller, historyValue } from '../../helpers/history-poller.ts';
import { MemoryWriter } from '../../helpers/memory-writer.ts';
import { tempDir } from '../../helpers/temp-dir.ts';

const START = Date.UTC(2026, 0, 1, 12, 0, 30); // 30 s past a minute boundary
const T0 = Date.UTC(2026, 0, 1, 12, 0, 0) / 1000;

function config(extra: Partial<JobConfig> = {}): JobConfig {
  return {
    file: undefined,
    job: 'hist',
    options: {},
    schedule: { interval: 60, delay: 0, lookback: 0 },
    runTimeout: 60,
    catchUp: 86400,
    ...extra,
  };
}

async function runFor(
  ms: number,
  setup: { poller: ReturnType<typeof createHistoryPoller>; clock: FakeClock; writer: MemoryWriter; stateDir?: string; job?: JobConfig },
) {
  const stop = new AbortController();
  const done = runPoller({
    poller: setup.poller,
    config: setup.job ?? config(),
    writer: setup.writer,
    log: silentLogger,
    stop: stop.signal,
    clock: setup.clock,
    stateDir: setup.stateDir,
  });
  await setup.clock.advance(ms);
  stop.abort();
  return setup.clock.runUntilSettled(done);
}

describe('runPoller', () => {
  it('asks for consecutive aligned windows on every tick and writes their points', async () => {
    const clock = new FakeClock({ start: START });
    const poller = createHistoryPoller();
    const writer = new MemoryWriter();
    const result = await runFor(5 * 60_000, { poller, clock, writer });
    expect(result.runs).toBe(6); // the immediate tick plus five boundaries
    expect(poller.calls.map((c) => [c.start - T0, c.end - T0, c.mode])).toEqual([
      [-60, 0, 'live'],
      [0, 60, 'live'],
      [60, 120, 'live'],
      [120, 180, 'live'],
      [180, 240, 'live'],
      [240, 300, 'live'],
    ]);
    expect(writer.series()['history.s0']).toEqual([-60, 0, 60, 120, 180, 240].map((d) => [T0 + d, historyValue(T0 + d)]));
  });

  it('writes self-metrics per run under pollers.<job>', async () => {
    const clock = new FakeClock({ start: START });
    const writer = new MemoryWriter();
    await runFor(60_000, { poller: createHistoryPoller({ series: 3, failing: (w) => w.start === T0 }), clock, writer });
    const self = writer.series((p) => p.startsWith('pollers.'));
    expect(self['pollers.hist.datapoints']).toEqual([
      [T0, 3],
      [T0 + 60, 0],
    ]);
    expect(self['pollers.hist.errors']).toEqual([
      [T0, 0],
      [T0 + 60, 1],
    ]);
    expect(self['pollers.hist.skipped_ticks']).toHaveLength(2);
    expect(self['pollers.hist.writer.queued']).toHaveLength(2);
    expect(Object.keys(self)).toEqual(
      expect.arrayContaining([
        'pollers.hist.duration_ms',
        'pollers.hist.writer.sent',
        'pollers.hist.writer.dropped',
        'pollers.hist.writer.reconnects',
      ]),
    );
  });

  it('a failing run never stops the loop, and its window is caught up on the next tick', async () => {
    const clock = new FakeClock({ start: START });
    const poller = createHistoryPoller({ failing: (w, attempt) => w.start === T0 && attempt === 1 });
    const writer = new MemoryWriter();
    const stateDir = tempDir('run');
    const result = await runFor(3 * 60_000, { poller, clock, writer, stateDir });
    expect(result.errors).toBe(1);
    expect(poller.calls.map((c) => [c.start - T0, c.mode])).toEqual([
      [-60, 'live'],
      [0, 'live'], // fails
      [0, 'backfill'], // the gap, filled before the next live window
      [60, 'live'],
      [120, 'live'],
    ]);
    expect(
      writer
        .series()
        ['history.s0']!.map(([t]) => t - T0)
        .sort((a, b) => a - b),
    ).toEqual([-60, 0, 60, 120]);
    expect(new Watermark(stateDir, 'hist', 'history').read()).toBe(T0 + 180);
  });

  it('the watermark stays before a window whose points the full queue dropped', async () => {
    const clock = new FakeClock({ start: START });
    const writer = new MemoryWriter();
    const stateDir = tempDir('run');
    const stop = new AbortController();
    const done = runPoller({
      poller: createHistoryPoller(),
      config: config(),
      writer,
      log: silentLogger,
      stop: stop.signal,
      clock,
      stateDir,
      selfMetrics: false,
    });
    await clock.advance(1000);
    expect(new Watermark(stateDir, 'hist', 'history').read()).toBe(T0);
    writer.dropNext(1);
    await clock.advance(60_000);
    expect(new Watermark(stateDir, 'hist', 'history').read()).toBe(T0);
    stop.abort();
    await clock.runUntilSettled(done);
  });

  it('without catch-up the watermark is written at the first delivery, then every 10 minutes, and when the job stops', async () => {
    const clock = new FakeClock({ start: START });
    const writer = new MemoryWriter();
    const stateDir = tempDir('run');
    const stop = new AbortController();
    const job = config({ catchUp: 0 });
    const done = runPoller({
      poller: createHistoryPoller(),
      config: job,
      writer,
      log: silentLogger,
      stop: stop.signal,
      clock,
      stateDir,
      selfMetrics: false,
    });
    const stored = () => new Watermark(stateDir, 'hist', 'history').read();
    await clock.advance(1000);
    expect(stored()).toBe(T0);
    await clock.advance(3 * 60_000);
    expect(stored()).toBe(T0);
    // The first write was at 12:00:31: the tick at 12:10 is not yet a whole period later, the one at 12:11 is.
    await clock.advance(7 * 60_000);
    expect(stored()).toBe(T0);
    await clock.advance(60_000);
    expect(stored()).toBe(T0 + 660);
    await clock.advance(60_000);
    expect(stored()).toBe(T0 + 660);
    stop.abort();
    await clock.runUntilSettled(done);
    expect(stored()).toBe(T0 + 720);
  });

  it('after downtime, catches up from the watermark before ticking live', async () => {
    const clock = new FakeClock({ start: START });
    const stateDir = tempDir('run');
    new Watermark(stateDir, 'hist', 'history').advance(T0 - 3600); // down for an hour
    const poller = createHistoryPoller({ maxWindow: 600 });
    const writer = new MemoryWriter();
    await runFor(1000, { poller, clock, writer, stateDir });
    const backfill = poller.calls.filter((c) => c.mode === 'backfill');
    expect(backfill.map((c) => [c.start - T0, c.end - T0])).toEqual([
      [-3600, -3000],
      [-3000, -2400],
      [-2400, -1800],
      [-1800, -1200],
      [-1200, -600],
      [-600, -60],
    ]);
    const times = writer.series()['history.s0']!.map(([t]) => t);
    expect(times).toEqual(Array.from({ length: 60 }, (_, i) => T0 - 3600 + i * 60));
    expect(new Watermark(stateDir, 'hist', 'history').read()).toBe(T0);
  });

  it('the first tick does not fetch the start-up catch-up again while its points still wait for Graphite', async () => {
    const clock = new FakeClock({ start: START });
    const stateDir = tempDir('run');
    new Watermark(stateDir, 'hist', 'history').advance(T0 - 600);
    const poller = createHistoryPoller({ maxWindow: 3600 });
    const writer = new MemoryWriter();
    writer.hold(); // Graphite not connected yet: nothing is handed off
    const stop = new AbortController();
    const done = runPoller({ poller, config: config(), writer, log: silentLogger, stop: stop.signal, clock, stateDir, selfMetrics: false });
    await clock.advance(1000);
    writer.release();
    await clock.advance(2 * 60_000);
    stop.abort();
    await clock.runUntilSettled(done);
    expect(poller.calls.map((c) => [c.start - T0, c.end - T0, c.mode])).toEqual([
      [-600, -60, 'backfill'],
      [-60, 0, 'live'],
      [0, 60, 'live'],
      [60, 120, 'live'],
    ]);
    expect(new Watermark(stateDir, 'hist', 'history').read()).toBe(T0 + 120);
  });

  it('catch-up never reaches further back than catchUp', async () => {
    const clock = new FakeClock({ start: START });
    const stateDir = tempDir('run');
    new Watermark(stateDir, 'hist', 'history').advance(T0 - 10 * 86400);
    const poller = createHistoryPoller({ maxWindow: 3600 });
    await runFor(1000, { poller, clock, writer: new MemoryWriter(), stateDir, job: config({ catchUp: 7200 }) });
    const first = poller.calls.find((c) => c.mode === 'backfill')!;
    expect(first.start).toBeGreaterThanOrEqual(START / 1000 - 7200);
  });

  it('an unwritable state directory is logged and polling goes on', async () => {
    const clock = new FakeClock({ start: START });
    const file = join(tempDir('run'), 'not-a-dir');
    writeFileSync(file, 'x');
    const errors: string[] = [];
    const log = { ...silentLogger, child: () => log, error: (m: string) => errors.push(m) };
    const writer = new MemoryWriter();
    const stop = new AbortController();
    const done = runPoller({ poller: createHistoryPoller(), config: config(), writer, log, stop: stop.signal, clock, stateDir: file });
    await clock.advance(3 * 60_000);
    stop.abort();
    const result = await clock.runUntilSettled(done);
    expect(result.runs).toBe(4);
    expect(writer.series()['history.s0']).toHaveLength(4);
    expect(errors).toEqual([
      'cannot read the watermark; starting without catch-up',
      'cannot write the watermark; polling goes on without it',
    ]);
  });
});

describe('runPoller and configuration mistakes found while running', () => {
  it('stops the job at the first ConfigError instead of retrying it every tick', async () => {
    const { ConfigError } = await import('../../../lib/poller-kit/config-error.ts');
    const clock = new FakeClock({ start: START });
    const poller = createHistoryPoller();
    poller.poll = async () => {
      throw new ConfigError('no credentials found', { field: 'keyFile' });
    };
    const stop = new AbortController();
    const done = runPoller({ poller, config: config(), writer: new MemoryWriter(), log: silentLogger, stop: stop.signal, clock });
    await clock.advance(5 * 60_000);
    const result = await clock.runUntilSettled(done);
    expect(result.runs).toBe(1);
    // The run failed: the summary line's errors= counts it beside the exit 78.
    expect(result.errors).toBe(1);
    expect(result.configError?.describe()).toBe('keyFile: no credentials found');
    expect(stop.signal.aborted).toBe(false);
  });

  it('a job stopped by a ConfigError writes nothing, not even self-metrics (nothing half-started)', async () => {
    const { ConfigError } = await import('../../../lib/poller-kit/config-error.ts');
    const clock = new FakeClock({ start: START });
    const poller = createHistoryPoller();
    poller.poll = async () => {
      throw new ConfigError('cannot read the key file /nonexistent (ENOENT)', { field: 'keyFile' });
    };
    const writer = new MemoryWriter();
    const done = runPoller({ poller, config: config(), writer, log: silentLogger, stop: new AbortController().signal, clock });
    const result = await clock.runUntilSettled(done);
    expect(result.configError).toBeDefined();
    expect(writer.sequence).toBe(0);
  });
});

describe('runPoller and the losses it reports', () => {
  function capturingLog() {
    const entries: Array<Record<string, unknown> & { level: string; msg: string }> = [];
    const log = createLogger({ format: 'json', level: 'debug', secrets: [], write: (line) => entries.push(JSON.parse(line)) });
    return { log, entries };
  }

  /** Emits `lines` points per run, awaiting sink.ready() (without a signal, as pollers do) after each. */
  function floodPoller(lines: number): Poller {
    return definePoller({
      name: 'flood',
      summary: 'many lines per run',
      options: z.strictObject({}),
      schedule: { interval: 60 },
      async poll({ window, sink }) {
        for (let i = 0; i < lines; i++) {
          sink.emit(['flood', `s${i}`], i, window.start);
          await sink.ready();
        }
      },
    });
  }

  it('a run waiting on a full queue (Graphite down) ends at its deadline', async () => {
    const clock = new FakeClock({ start: START });
    const { log, entries } = capturingLog();
    // Nothing listens on port 1: the queue fills and ready() would wait for Graphite forever.
    const writer = createGraphiteWriter({ url: 'tcp://127.0.0.1:1', queueLimit: 10, log: silentLogger });
    const stop = new AbortController();
    const job = { ...config({ job: 'flood', catchUp: 0, runTimeout: 5 }) };
    const done = runPoller({ poller: floodPoller(100), config: job, writer, log, stop: stop.signal, clock, selfMetrics: false });
    try {
      await clock.advance(4000);
      expect(entries.filter((e) => e.level === 'error')).toEqual([]);
      await clock.advance(1500);
      expect(entries.filter((e) => e.level === 'error').map((e) => e.msg)).toEqual(['run failed: run exceeded its 5000 ms deadline']);
      // The loop goes on: the next tick runs (and times out the same way).
      await clock.advance(60_000);
      expect(entries.filter((e) => e.level === 'error')).toHaveLength(2);
    } finally {
      stop.abort();
      await clock.runUntilSettled(done);
      await writer.close();
    }
  });

  it('self-metrics survive a tiny queue during an outage, and writer.dropped_total tells the whole loss', async () => {
    const clock = new FakeClock({ start: START });
    // A Graphite that takes nothing: a stream nobody reads (its first chunk stays in it).
    const output = new PassThrough({ highWaterMark: 1 });
    const writer = createGraphiteWriter({ url: '-', stdout: output, queueLimit: 20, log: silentLogger });
    const stop = new AbortController();
    const job = config({ job: 'tiny', catchUp: 0, schedule: { interval: 1, delay: 0, lookback: 0 }, runTimeout: 1 });
    const poller = createHistoryPoller({ series: 10, step: 1 });
    const done = runPoller({ poller, config: job, writer, log: silentLogger, stop: stop.signal, clock });
    await clock.advance(45_000);
    stop.abort();
    const result = await clock.runUntilSettled(done);
    let text = '';
    output.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
    expect(await writer.flush(10_000)).toBe(true);
    const stats = writer.stats();
    expect(stats.dropped).toBeGreaterThan(300); // 10 points a second into a 20-line queue for 45 s
    const values = (name: string) =>
      text
        .split('\n')
        .filter((l) => l.startsWith(`pollers.tiny.${name} `))
        .map((l) => Number(l.split(' ')[1]));
    // Every run's self-metrics arrived...
    expect(values('datapoints')).toHaveLength(result.runs);
    // ...so the per-run drop counts add up to every drop, and the running total's last value is that too.
    expect(values('writer.dropped').reduce((a, b) => a + b, 0)).toBe(stats.dropped);
    expect(values('writer.dropped_total').at(-1)).toBe(stats.dropped);
    expect(stats.lost).toBe(0);
    await writer.close();
  });

  it('a gap longer than catchUp: one warning naming the range left for a backfill; the watermark moves on', async () => {
    const clock = new FakeClock({ start: START });
    const stateDir = tempDir('run');
    new Watermark(stateDir, 'hist', 'history').advance(T0 - 10 * 86400);
    const poller = createHistoryPoller({ maxWindow: 3600 });
    const { log, entries } = capturingLog();
    const stop = new AbortController();
    const writer = new MemoryWriter();
    const done = runPoller({ poller, config: config({ catchUp: 7200 }), writer, log, stop: stop.signal, clock, stateDir });
    await clock.advance(5 * 60_000);
    stop.abort();
    await clock.runUntilSettled(done);
    const warns = entries.filter((e) => e.level === 'warn');
    expect(warns).toHaveLength(1);
    expect(warns[0]!.msg).toBe(
      'the gap since the last delivered window is longer than catch-up reaches; backfill the rest: ' +
        'bin/backfill.ts history --from 2025-12-22T12:00:00Z --to 2026-01-01T10:01:00Z',
    );
    expect(warns[0]!.left_for_backfill).toBe('[2025-12-22T12:00:00Z, 2026-01-01T10:01:00Z)');
    // Catch-up fetched what catchUp allows once, and the watermark follows the live ticks again.
    expect(poller.calls.filter((c) => c.mode === 'backfill').map((c) => [c.start - T0, c.end - T0])).toEqual([
      [-7140, -3540],
      [-3540, -60],
    ]);
    expect(new Watermark(stateDir, 'hist', 'history').read()).toBe(T0 + 300);
  });

  it('a job without history logs no "gap for catch-up" warning per tick while the queue drops', async () => {
    const clock = new FakeClock({ start: START });
    const { log, entries } = capturingLog();
    const writer = new MemoryWriter();
    const stop = new AbortController();
    const poller = { ...createHistoryPoller(), history: undefined };
    const done = runPoller({ poller, config: config({ catchUp: 0 }), writer, log, stop: stop.signal, clock, stateDir: tempDir('run') });
    for (let tick = 0; tick < 5; tick++) {
      writer.dropNext(1);
      await clock.advance(60_000);
    }
    stop.abort();
    await clock.runUntilSettled(done);
    expect(writer.stats().dropped).toBe(5);
    expect(entries.filter((e) => /gap for catch-up/.test(e.msg))).toEqual([]);
  });

  it('a job with history warns once per outage that dropped windows stay a gap for catch-up', async () => {
    const clock = new FakeClock({ start: START });
    const { log, entries } = capturingLog();
    const writer = new MemoryWriter();
    const stop = new AbortController();
    const poller = createHistoryPoller();
    const done = runPoller({
      poller,
      config: config(),
      writer,
      log,
      stop: stop.signal,
      clock,
      stateDir: tempDir('run'),
      selfMetrics: false,
    });
    await clock.advance(1000);
    // Five minutes in which the queue drops every line.
    writer.dropNext(1_000_000);
    await clock.advance(5 * 60_000);
    stop.abort();
    await clock.runUntilSettled(done);
    expect(writer.stats().dropped).toBeGreaterThanOrEqual(5);
    expect(entries.filter((e) => /gap for catch-up/.test(e.msg))).toHaveLength(1);
  });
});

describe('runPoller and a gap beyond the source retention', () => {
  it('names the part the source no longer has apart from the part a backfill can fetch', async () => {
    const clock = new FakeClock({ start: START });
    const stateDir = tempDir('run');
    new Watermark(stateDir, 'hist', 'history').advance(T0 - 10 * 86400);
    const entries: Array<Record<string, unknown>> = [];
    const log = createLogger({ format: 'json', level: 'info', secrets: [], write: (line) => entries.push(JSON.parse(line)) });
    const poller = createHistoryPoller({ maxWindow: 3600, retention: 3 * 86400 });
    const stop = new AbortController();
    const writer = new MemoryWriter();
    const done = runPoller({ poller, config: config({ catchUp: 7200 }), writer, log, stop: stop.signal, clock, stateDir });
    await clock.advance(1000);
    stop.abort();
    await clock.runUntilSettled(done);
    const warns = entries.filter((e) => e.level === 'warn');
    expect(warns).toHaveLength(1);
    expect(warns[0]).toMatchObject({
      left_for_backfill: '[2025-12-29T12:01:00Z, 2026-01-01T10:01:00Z)',
      beyond_retention: '[2025-12-22T12:00:00Z, 2025-12-29T12:01:00Z)',
    });
  });
});
