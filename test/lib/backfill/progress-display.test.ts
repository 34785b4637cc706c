// The backfill's progress display: log lines without a terminal, a bar on one; both say what a run waits for.
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../lib/poller-kit/logger.ts';
import { createProgressDisplay, waitingMessage } from '../../../lib/backfill/progress-display.ts';

const WAITING = { done: 4, total: 4, datapoints: 12_000, failed: 0, queued: 12_000, waitedMs: 27_400 };

function capture() {
  const lines: string[] = [];
  return { lines, log: createLogger({ write: (line) => lines.push(line), secrets: [], now: () => 0 }) };
}

/** A stream cli-progress takes for a terminal; what it draws is kept. */
function fakeTerminal() {
  let drawn = '';
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      drawn += chunk.toString();
      done();
    },
  });
  return { stream: Object.assign(stream, { isTTY: true, columns: 300 }), drawn: () => drawn };
}

describe('progress display', () => {
  it('names what the run waits for, how much and for how long', () => {
    expect(waitingMessage(WAITING, 'tcp://graphite:2003')).toBe(
      '4/4 windows fetched, 12,000 datapoints waiting for Graphite at tcp://graphite:2003, 27s',
    );
    expect(waitingMessage({ ...WAITING, done: 1, total: 9, queued: 250_000, waitedMs: 125_000 }, 'tcp://[::1]:2003')).toBe(
      '1/9 windows fetched, 250,000 datapoints waiting for Graphite at tcp://[::1]:2003, 2m5s',
    );
  });

  it('without a terminal: one log line per call while waiting, and the next progress line a full cadence later', () => {
    let now = 0;
    const { lines, log } = capture();
    const graphite = 'tcp://graphite:2003';
    const display = createProgressDisplay({ tty: false, log, label: 'history', now: () => now, everyMs: 10_000, graphite });
    now = 10_000;
    display.waiting({ ...WAITING, done: 1, queued: 60_000, waitedMs: 10_000 });
    now = 15_000;
    display.update({ done: 2, total: 4, datapoints: 12_000, failed: 0 });
    now = 20_000;
    display.update({ done: 3, total: 4, datapoints: 12_000, failed: 0 });
    expect(lines).toEqual([
      '1970-01-01T00:00:00.000Z INFO  1/4 windows fetched, 60,000 datapoints waiting for Graphite at tcp://graphite:2003, 10s',
      '1970-01-01T00:00:00.000Z INFO  backfill progress windows=3/4 datapoints=12000 rate=600 eta_seconds=7',
    ]);
  });

  it('on a terminal: the bar says it too', () => {
    const terminal = fakeTerminal();
    const { lines, log } = capture();
    const display = createProgressDisplay({ tty: true, log, label: 'history', graphite: 'tcp://graphite:2003', stream: terminal.stream });
    display.update({ done: 4, total: 4, datapoints: 12_000, failed: 0 });
    display.waiting(WAITING);
    display.stop();
    expect(terminal.drawn()).toContain('4/4 windows | 12000 points');
    expect(terminal.drawn()).toContain('| 4/4 windows fetched, 12,000 datapoints waiting for Graphite at tcp://graphite:2003, 27s');
    expect(lines).toEqual([]);
  });
});
