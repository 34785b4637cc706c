import { describe, expect, it } from 'vitest';
import { LineQueue } from '../../../lib/graphite/line-queue.ts';
import { createLogger, type Logger } from '../../../lib/poller-kit/logger.ts';

function capturingLog(): { log: Logger; messages: string[] } {
  const messages: string[] = [];
  const log = createLogger({ format: 'json', level: 'debug', secrets: [], write: (line) => messages.push(JSON.parse(line).msg) });
  return { log, messages };
}

const line = (n: number) => `a.b.c ${n} ${1_700_000_000 + n}\n`;
const lines = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => line(from + i));

/** Lets promise callbacks run, so settled-or-not is observable. */
async function settled<T>(promise: Promise<T>): Promise<{ done: boolean; value?: T }> {
  let state: { done: boolean; value?: T } = { done: false };
  void promise.then((value) => (state = { done: true, value }));
  await new Promise((resolve) => setImmediate(resolve));
  return state;
}

describe('LineQueue', () => {
  it('hands lines out in order, in chunks of whole lines, across ring wrap-around and growth', () => {
    const { log } = capturingLog();
    const queue = new LineQueue(5000, log);
    let out = '';
    let next = 1;
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 700; i++) queue.push(line(next++));
      while (queue.length > 300) out += queue.take(1000);
    }
    while (queue.length > 0) out += queue.take(1000);
    expect(out).toBe(lines(1, next - 1).join(''));
    expect(queue.taken).toBe(next - 1);
    expect(queue.dropped).toBe(0);
  });

  it('takes at least one whole line even when it is longer than the chunk size', () => {
    const queue = new LineQueue(10, capturingLog().log);
    queue.push('x'.repeat(100) + '\n');
    queue.push('y\n');
    expect(queue.take(10)).toBe('x'.repeat(100) + '\n');
    expect(queue.lastTakenLines).toBe(1);
  });

  it('drops the oldest lines when full, logging once per episode', () => {
    const { log, messages } = capturingLog();
    const queue = new LineQueue(100, log);
    for (const text of lines(1, 250)) queue.push(text);
    expect(queue.length).toBe(100);
    expect(queue.dropped).toBe(150);
    expect(queue.sequence).toBe(250);
    expect(queue.take(1e9)).toBe(lines(151, 250).join(''));
    expect(messages).toEqual(['graphite queue full, dropping the oldest lines', 'graphite queue below half again']);
  });

  it('whenHandedOff counts the drops since the previous call, including for lines long gone', async () => {
    const queue = new LineQueue(10, capturingLog().log);
    for (const text of lines(1, 5)) queue.push(text);
    queue.take(1e9); // 1..5 handed off
    for (const text of lines(6, 20)) queue.push(text); // 6..10 dropped, 11..20 queued
    queue.take(lines(11, 12).join('').length); // 11..12 handed off
    for (const text of lines(21, 24)) queue.push(text); // 13..14 dropped, 15..24 queued
    expect(await queue.whenHandedOff(3)).toEqual({ dropped: 0 });
    expect(await queue.whenHandedOff(8)).toEqual({ dropped: 3 }); // 6, 7, 8
    expect(await queue.whenHandedOff(14)).toEqual({ dropped: 4 }); // 9, 10, 13, 14
    const later = queue.whenHandedOff(22);
    expect((await settled(later)).done).toBe(false);
    queue.take(1e9);
    expect(await later).toEqual({ dropped: 0 });
  });

  it('whenHandedOff promises settle in call order, each once its lines are gone', async () => {
    const queue = new LineQueue(1000, capturingLog().log);
    for (const text of lines(1, 30)) queue.push(text);
    const order: number[] = [];
    const calls = [10, 20, 30].map((sequence) => queue.whenHandedOff(sequence).then(() => order.push(sequence)));
    queue.take(lines(1, 10).join('').length - 1); // lines 1..10: settles the first only
    await settled(Promise.resolve());
    expect(order).toEqual([10]);
    queue.take(1e9);
    await Promise.all(calls);
    expect(order).toEqual([10, 20, 30]);
  });

  it('ready() waits while the queue is at or above half its limit', async () => {
    const queue = new LineQueue(10, capturingLog().log);
    for (const text of lines(1, 4)) queue.push(text);
    expect((await settled(queue.ready())).done).toBe(true);
    queue.push(line(5));
    const ready = queue.ready();
    expect((await settled(ready)).done).toBe(false);
    queue.take(1); // one line: 4 left, below 5
    expect((await settled(ready)).done).toBe(true);
  });
});

describe('LineQueue reserved lines (self-metrics)', () => {
  const self = (n: number) => `pollers.job.writer.dropped ${n} ${1_700_000_000 + n}\n`;

  it('a full queue drops data lines, never a reserved line while data is left to drop; reserved lines go first', () => {
    const { log } = capturingLog();
    const queue = new LineQueue(20, log, { reserveLines: 5 });
    // 45 ticks of an outage: 10 data lines and 3 self-metric lines each.
    for (let tick = 0; tick < 45; tick++) {
      for (let i = 0; i < 10; i++) queue.push(line(tick * 10 + i));
      for (let i = 0; i < 3; i++) queue.pushReserved(self(tick * 3 + i));
    }
    // Room is 20 + 5 lines: the 135 reserved lines took the data's room, the oldest of them went only when no data was left.
    expect(queue.length).toBe(25);
    expect(queue.reservedCount).toBe(25);
    expect(queue.count).toBe(0);
    expect(queue.dropped).toBe(450 + 135 - 25);
    const out = queue.take(Infinity);
    expect(out).toBe(Array.from({ length: 25 }, (_, i) => self(110 + i)).join(''));
    expect(queue.taken).toBe(25);
  });

  it('reserved lines within their room cost no data line, and are taken before queued data', () => {
    const { log } = capturingLog();
    const queue = new LineQueue(20, log, { reserveLines: 100 });
    for (let tick = 0; tick < 10; tick++) {
      for (let i = 0; i < 10; i++) queue.push(line(tick * 10 + i));
      for (let i = 0; i < 3; i++) queue.pushReserved(self(tick * 3 + i));
    }
    expect(queue.dropped).toBe(80); // only data beyond the limit of 20
    expect(queue.lineAt(0)).toBe(self(0));
    expect(queue.lineAt(30)).toBe(line(80));
    expect(queue.takeLines(31)).toBe([...Array.from({ length: 30 }, (_, i) => self(i)), line(80)].join(''));
    expect(queue.take(Infinity)).toBe(lines(81, 99).join(''));
    expect(queue.length).toBe(0);
  });

  it('lose() drops data and reserved lines alike, counted in dropped and in lost', async () => {
    const { log } = capturingLog();
    const queue = new LineQueue(100, log);
    for (const text of lines(1, 7)) queue.push(text);
    queue.pushReserved(self(1));
    const handOff = queue.whenHandedOff(7);
    expect(queue.lose()).toBe(8);
    expect({ dropped: queue.dropped, lost: queue.lost, length: queue.length }).toEqual({ dropped: 8, lost: 8, length: 0 });
    expect(await handOff).toEqual({ dropped: 7 });
  });
});

describe('LineQueue.ready(signal)', () => {
  it('rejects with the signal reason when it aborts before there is room', async () => {
    const { log } = capturingLog();
    const queue = new LineQueue(10, log);
    for (const text of lines(1, 10)) queue.push(text);
    const controller = new AbortController();
    const ready = queue.ready(controller.signal);
    expect((await settled(ready.catch(() => 'rejected'))).done).toBe(false);
    controller.abort(new DOMException('run exceeded its deadline', 'TimeoutError'));
    await expect(ready).rejects.toThrow('run exceeded its deadline');
    // Without an aborted signal it still waits for room, then resolves.
    const plain = queue.ready(new AbortController().signal);
    queue.take(Infinity);
    await expect(plain).resolves.toBeUndefined();
  });
});
