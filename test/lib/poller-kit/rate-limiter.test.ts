// The token bucket on a fake clock: burst, sustained rate, call order, abort.
import { describe, expect, it } from 'vitest';
import { RateLimiter } from '../../../lib/poller-kit/rate-limiter.ts';
import { FakeClock } from '../../helpers/fake-clock.ts';

describe('RateLimiter', () => {
  it('lets a burst through at once, then paces callers at the rate', async () => {
    const clock = new FakeClock();
    const limiter = new RateLimiter({ ratePerSecond: 10, burst: 3, clock });
    const start = clock.now();
    const doneAt: number[] = [];
    const calls = Array.from({ length: 6 }, () => limiter.take().then(() => doneAt.push(clock.now() - start)));
    await clock.runUntilSettled(Promise.all(calls));
    expect(doneAt).toEqual([0, 0, 0, 100, 200, 300]);
  });

  it('refills while idle, up to the burst and no further', async () => {
    const clock = new FakeClock();
    const limiter = new RateLimiter({ ratePerSecond: 2, burst: 2, clock });
    await limiter.take();
    await limiter.take();
    expect(limiter.available).toBe(0);
    await clock.advance(10_000);
    expect(limiter.available).toBe(2);
  });

  it('serves waiting callers in call order and reports how long each waited', async () => {
    const clock = new FakeClock();
    const limiter = new RateLimiter({ ratePerSecond: 1, burst: 1, clock });
    const order: string[] = [];
    const waits: number[] = [];
    const a = limiter.take().then((w) => (order.push('a'), waits.push(w)));
    const b = limiter.take().then((w) => (order.push('b'), waits.push(w)));
    const c = limiter.take().then((w) => (order.push('c'), waits.push(w)));
    await clock.runUntilSettled(Promise.all([a, b, c]));
    expect(order).toEqual(['a', 'b', 'c']);
    expect(waits).toEqual([0, 1000, 2000]);
  });

  it('rejects a waiting caller when its signal aborts and gives its token back', async () => {
    const clock = new FakeClock();
    const limiter = new RateLimiter({ ratePerSecond: 1, burst: 1, clock });
    await limiter.take();
    const controller = new AbortController();
    const waiting = limiter.take(controller.signal);
    waiting.catch(() => {});
    await clock.flush();
    controller.abort(new Error('stopping'));
    await expect(waiting).rejects.toThrow('stopping');
    await clock.advance(1000);
    expect(limiter.available).toBeCloseTo(1);
  });

  it('never waits with an aborted signal: rejects at once', async () => {
    const limiter = new RateLimiter({ ratePerSecond: 1, clock: new FakeClock() });
    await expect(limiter.take(AbortSignal.abort(new Error('gone')))).rejects.toThrow('gone');
  });

  it('reserve: spends tokens at the time the caller gives and says how long that caller must wait', () => {
    const limiter = new RateLimiter({ ratePerSecond: 2, burst: 2, clock: new FakeClock({ start: 0 }) });
    // On the caller's clock (a run's), not the limiter's: two from the burst, then 500 ms more per token.
    expect([1, 2, 3, 4].map(() => limiter.reserve(1, 10_000))).toEqual([0, 0, 500, 1000]);
    // A second later the debt is paid: the next one waits only its own 500 ms.
    expect(limiter.reserve(1, 11_000)).toBe(500);
  });

  it('release: a caller that gives up waiting hands its tokens back', () => {
    const limiter = new RateLimiter({ ratePerSecond: 1, burst: 1, clock: new FakeClock({ start: 0 }) });
    expect(limiter.reserve(1, 5_000)).toBe(0);
    expect(limiter.reserve(1, 5_000)).toBe(1000);
    limiter.release(1, 5_000);
    expect(limiter.reserve(1, 5_000)).toBe(1000);
  });

  it('refuses a rate that is not positive', () => {
    expect(() => new RateLimiter({ ratePerSecond: 0 })).toThrow(/positive/);
  });
});
