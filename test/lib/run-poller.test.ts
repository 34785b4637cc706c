// The live runner on a fake clock: windows per tick, self-metrics, errors, watermark and catch-up.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { JobConfig } from '../../lib/config.ts';
import { silentLogger } from '../../lib/log.ts';
import { runPoller } from '../../lib/run-poller.ts';
import { Watermark } from '../../lib/watermark.ts';
import { FakeClock } from '../helpers/fake-clock.ts';
import { createHistoryPoller, historyValue } from '../helpers/history-poller.ts';
import { MemoryWriter } from '../helpers/memory-writer.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const START = Date.UTC(2026, 0, 1, 12, 0, 30); // 30 s past a minute boundary
const T0 = Date.UTC(2026, 0, 1, 12, 0, 0) / 1000;

function config(extra: Partial<JobConfig> = {}): JobConfig {
  return { file: undefined, job: 'hist', options: {}, schedule: { interval: 60, delay: 0, lookback: 0 }, runTimeout: 60, catchUp: 86400, ...extra };
}

async function runFor(ms: number, setup: { poller: ReturnType<typeof createHistoryPoller>; clock: FakeClock; writer: MemoryWriter; stateDir?: string; job?: JobConfig }) {
  const stop = new AbortController();
  const done = runPoller({ poller: setup.poller, config: setup.job ?? config(), writer: setup.writer, log: silentLogger, stop: stop.signal, clock: setup.clock, stateDir: setup.stateDir });
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
    expect(Object.keys(self)).toEqual(expect.arrayContaining(['pollers.hist.duration_ms', 'pollers.hist.writer.sent', 'pollers.hist.writer.dropped', 'pollers.hist.writer.reconnects']));
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
    expect(writer.series()['history.s0']!.map(([t]) => t - T0).sort((a, b) => a - b)).toEqual([-60, 0, 60, 120]);
    expect(new Watermark(stateDir, 'hist', 'history').read()).toBe(T0 + 180);
  });

  it('the watermark stays before a window whose points the full queue dropped', async () => {
    const clock = new FakeClock({ start: START });
    const writer = new MemoryWriter();
    const stateDir = tempDir('run');
    const stop = new AbortController();
    const done = runPoller({ poller: createHistoryPoller(), config: config(), writer, log: silentLogger, stop: stop.signal, clock, stateDir, selfMetrics: false });
    await clock.advance(1000);
    expect(new Watermark(stateDir, 'hist', 'history').read()).toBe(T0);
    writer.dropNext(1);
    await clock.advance(60_000);
    expect(new Watermark(stateDir, 'hist', 'history').read()).toBe(T0);
    stop.abort();
    await clock.runUntilSettled(done);
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
    expect(errors).toEqual(['cannot read the watermark; starting without catch-up', 'cannot write the watermark; polling goes on without it']);
  });
});

describe('runPoller and configuration mistakes found while running', () => {
  it('stops the job at the first ConfigError instead of retrying it every tick', async () => {
    const { ConfigError } = await import('../../lib/config-error.ts');
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
    expect(result.configError?.describe()).toBe('keyFile: no credentials found');
    expect(stop.signal.aborted).toBe(false);
  });

  it('a job stopped by a ConfigError writes nothing, not even self-metrics (nothing half-started)', async () => {
    const { ConfigError } = await import('../../lib/config-error.ts');
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
