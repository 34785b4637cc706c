// The fake clock itself: wake order, aborts, wall-clock jumps, and the helpers that drive awaiting code.
import { describe, expect, it } from 'vitest';
import { FakeClock } from './fake-clock.ts';

const T0 = Date.UTC(2024, 0, 1);

describe('FakeClock', () => {
  it('starts at 2024-01-01 by default, or where told', () => {
    expect(new FakeClock().now()).toBe(T0);
    expect(new FakeClock({ start: '2025-06-01T12:00:00Z' }).now()).toBe(Date.UTC(2025, 5, 1, 12));
    expect(new FakeClock({ start: new Date(5) }).now()).toBe(5);
    expect(() => new FakeClock({ start: 'yesterday-ish' })).toThrow(RangeError);
  });

  it('wakes sleepers in deadline order, ties in call order, each at its own deadline', async () => {
    const clock = new FakeClock();
    const woke: Array<[string, number]> = [];
    const sleep = (name: string, ms: number) => clock.sleep(ms).then(() => woke.push([name, clock.now() - T0]));
    void sleep('c', 300);
    void sleep('a', 100);
    void sleep('b1', 200);
    void sleep('b2', 200);
    expect(clock.pendingSleeps).toBe(4);
    expect(clock.nextWakeAt()).toBe(T0 + 100);
    await clock.advance(250);
    expect(woke).toEqual([
      ['a', 100],
      ['b1', 200],
      ['b2', 200],
    ]);
    expect(clock.now()).toBe(T0 + 250);
    await clock.advance(50);
    expect(woke.at(-1)).toEqual(['c', 300]);
    expect(clock.pendingSleeps).toBe(0);
  });

  it('lets awaiting code run between wake-ups, so sleeps started meanwhile wake within the same advance', async () => {
    const clock = new FakeClock();
    const steps: number[] = [];
    void (async () => {
      for (let i = 0; i < 5; i++) {
        await clock.sleep(10);
        await Promise.resolve();
        steps.push(clock.now() - T0);
      }
    })();
    await clock.advance(35);
    expect(steps).toEqual([10, 20, 30]);
    await clock.advance(100);
    expect(steps).toEqual([10, 20, 30, 40, 50]);
  });

  it('resolves a sleep early, without rejecting, when its signal aborts; an aborted signal resolves at once', async () => {
    const clock = new FakeClock();
    const controller = new AbortController();
    let resolved = false;
    void clock.sleep(1000, controller.signal).then(() => (resolved = true));
    controller.abort();
    await clock.flush();
    expect(resolved).toBe(true);
    expect(clock.pendingSleeps).toBe(0);
    expect(clock.now()).toBe(T0);
    await expect(clock.sleep(1000, controller.signal)).resolves.toBeUndefined();
    expect(clock.sleepCalls).toBe(2);
  });

  it('wakes zero and negative sleeps at the next advance, even advance(0), not synchronously', async () => {
    const clock = new FakeClock();
    let woke = 0;
    void clock.sleep(0).then(() => woke++);
    void clock.sleep(-5).then(() => woke++);
    void clock.sleep(Number.NaN).then(() => woke++);
    await clock.flush();
    expect(woke).toBe(0);
    await clock.advance(0);
    expect(woke).toBe(3);
  });

  it('set() jumps the wall clock both ways; pending sleeps keep the time they have left, like real timers', async () => {
    const clock = new FakeClock();
    const woke: number[] = [];
    void clock.sleep(1000).then(() => woke.push(clock.now()));
    clock.set(T0 - 5 * 3600_000);
    expect(clock.now()).toBe(T0 - 5 * 3600_000);
    await clock.advance(999);
    expect(woke).toEqual([]);
    await clock.advance(1);
    expect(woke).toEqual([T0 - 5 * 3600_000 + 1000]);
    clock.set(T0 + 3600_000);
    void clock.sleep(10).then(() => woke.push(clock.now()));
    await clock.advance(10);
    expect(woke.at(-1)).toBe(T0 + 3600_000 + 10);
  });

  it('advance() refuses to go back; advanceTo() goes to a wall-clock time', async () => {
    const clock = new FakeClock();
    await expect(clock.advance(-1)).rejects.toThrow(RangeError);
    await expect(clock.advance(Infinity)).rejects.toThrow(RangeError);
    await clock.advanceTo('2024-01-01T00:01:00Z');
    expect(clock.now()).toBe(T0 + 60_000);
  });

  it('advanceToNext() moves to the next deadline, or returns false when nothing is pending', async () => {
    const clock = new FakeClock();
    expect(await clock.advanceToNext()).toBe(false);
    void clock.sleep(Infinity);
    expect(clock.nextWakeAt()).toBeUndefined();
    expect(await clock.advanceToNext()).toBe(false);
    void clock.sleep(42);
    expect(await clock.advanceToNext()).toBe(true);
    expect(clock.now()).toBe(T0 + 42);
  });

  it('runUntil(predicate) advances sleeper by sleeper until it holds; runUntil(ms) is advance(ms)', async () => {
    const clock = new FakeClock();
    let ticks = 0;
    void (async () => {
      for (;;) {
        await clock.sleep(1000);
        ticks++;
      }
    })();
    await clock.runUntil(() => ticks === 3);
    expect(clock.now()).toBe(T0 + 3000);
    await clock.runUntil(2500);
    expect(ticks).toBe(5);
    expect(clock.now()).toBe(T0 + 5500);
  });

  it('runUntil throws on a deadlock (nothing pending) and on a loop that spins on zero sleeps', async () => {
    const clock = new FakeClock({ maxSteps: 1000 });
    await expect(clock.runUntil(() => false)).rejects.toThrow(/no sleep is pending/);
    const stop = new AbortController();
    void (async () => {
      while (!stop.signal.aborted) await clock.sleep(0);
    })();
    await expect(clock.runUntil(() => false)).rejects.toThrow(/spinning/);
    stop.abort();
    await clock.advance(0);
  });

  it('runUntilSettled drives time until a promise settles and passes its value or error through', async () => {
    const clock = new FakeClock();
    const work = async (ms: number, fail: boolean) => {
      await clock.sleep(ms);
      await clock.sleep(ms);
      if (fail) throw new Error('failed');
      return ms * 2;
    };
    await expect(clock.runUntilSettled(work(500, false))).resolves.toBe(1000);
    expect(clock.now()).toBe(T0 + 1000);
    await expect(clock.runUntilSettled(work(10, true))).rejects.toThrow('failed');
  });

  it('records every sleep request with its time and signal', async () => {
    const clock = new FakeClock();
    const signal = new AbortController().signal;
    void clock.sleep(7, signal);
    await clock.advance(7);
    void clock.sleep(3);
    expect(clock.sleepRequests).toEqual([
      { at: T0, ms: 7, signal },
      { at: T0 + 7, ms: 3, signal: undefined },
    ]);
  });
});

describe('FakeClock with real I/O in between', () => {
  it('runUntil waits for I/O in flight to lead to the next sleep instead of calling it a deadlock', async () => {
    const { writeFile, rm, mkdtemp } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = await mkdtemp(join(tmpdir(), 'fake-clock-'));
    const clock = new FakeClock();
    let ticks = 0;
    void (async () => {
      for (let i = 0; i < 3; i++) {
        await clock.sleep(1000);
        await writeFile(join(dir, `tick-${i}`), 'x'.repeat(1 << 20));
        await new Promise<void>((resolve) => setTimeout(resolve, 5));
        ticks++;
      }
    })();
    await clock.runUntil(() => ticks === 3);
    expect(clock.now()).toBe(T0 + 3000);
    await rm(dir, { recursive: true });
  });
});
