// deadline(): "this signal or a timeout" that fires even when the garbage collector runs (Node 20), and leaks nothing.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { deadline, formatMs } from '../../../lib/poller-kit/deadline.ts';
import { runCommand } from '../../helpers/run-command.ts';

afterEach(() => {
  vi.useRealTimers();
});

describe('deadline', () => {
  it('aborts with a TimeoutError carrying the given message once the time has passed', () => {
    vi.useFakeTimers();
    const parent = new AbortController();
    const { signal } = deadline(parent.signal, 10_000, 'GET /x: no answer within 10 s');
    vi.advanceTimersByTime(9_999);
    expect(signal.aborted).toBe(false);
    vi.advanceTimersByTime(1);
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBeInstanceOf(DOMException);
    expect((signal.reason as DOMException).name).toBe('TimeoutError');
    expect((signal.reason as DOMException).message).toBe('GET /x: no answer within 10 s');
    expect(parent.signal.aborted).toBe(false);
  });

  it("aborts with the parent's reason when the parent aborts first, or already has", () => {
    vi.useFakeTimers();
    const parent = new AbortController();
    const { signal } = deadline(parent.signal, 10_000);
    parent.abort(new Error('stopping'));
    expect(signal.reason).toEqual(new Error('stopping'));
    // The timer is gone: nothing changes the reason later.
    vi.advanceTimersByTime(20_000);
    expect(signal.reason).toEqual(new Error('stopping'));
    expect(vi.getTimerCount()).toBe(0);

    const already = deadline(parent.signal, 10_000);
    expect(already.signal.aborted).toBe(true);
    expect(already.signal.reason).toEqual(new Error('stopping'));
    expect(vi.getTimerCount()).toBe(0);
  });

  it('works without a parent', () => {
    vi.useFakeTimers();
    const { signal } = deadline(undefined, 50);
    vi.advanceTimersByTime(50);
    expect((signal.reason as DOMException).name).toBe('TimeoutError');
  });

  it('clear() (or `using`) stops the timer and stops listening to the parent, so a long-lived parent collects nothing', () => {
    vi.useFakeTimers();
    const parent = new AbortController();
    const added = vi.spyOn(parent.signal, 'addEventListener');
    const removed = vi.spyOn(parent.signal, 'removeEventListener');
    for (let i = 0; i < 1_000; i++) deadline(parent.signal, 60_000).clear();
    {
      using scoped = deadline(parent.signal, 60_000);
      expect(scoped.signal.aborted).toBe(false);
    }
    expect(added).toHaveBeenCalledTimes(1_001);
    expect(removed).toHaveBeenCalledTimes(1_001);
    expect(removed.mock.calls.map((call) => call[1])).toEqual(added.mock.calls.map((call) => call[1]));
    expect(vi.getTimerCount()).toBe(0);

    const cleared = deadline(parent.signal, 100);
    cleared.clear();
    vi.advanceTimersByTime(1_000);
    parent.abort();
    expect(cleared.signal.aborted).toBe(false);
  });

  it('a timer that fired also stops listening to the parent', () => {
    vi.useFakeTimers();
    const parent = new AbortController();
    const removed = vi.spyOn(parent.signal, 'removeEventListener');
    deadline(parent.signal, 100);
    vi.advanceTimersByTime(100);
    expect(removed).toHaveBeenCalledTimes(1);
  });

  it("waits at most ~24.8 days instead of firing at once for longer deadlines (setTimeout's limit)", () => {
    vi.useFakeTimers();
    const { signal } = deadline(undefined, 40 * 86_400_000);
    vi.advanceTimersByTime(1_000);
    expect(signal.aborted).toBe(false);
    vi.advanceTimersByTime(2 ** 31);
    expect(signal.aborted).toBe(true);
  });

  it('formats milliseconds for messages', () => {
    expect(formatMs(200)).toBe('200 ms');
    expect(formatMs(10_000)).toBe('10 s');
    expect(formatMs(1_500)).toBe('1.5 s');
  });
});

describe('deadline in a process', () => {
  it("does not keep the process alive (its timer is unref'd)", async () => {
    const started = Date.now();
    const script = "import('./lib/poller-kit/deadline.ts').then(({ deadline }) => { deadline(undefined, 600_000); })";
    const result = await runCommand(['-e', script], { timeoutMs: 30_000 });
    expect(result.code, result.stderr).toBe(0);
    expect(Date.now() - started).toBeLessThan(25_000);
  });

  // The Node 20 bug: AbortSignal.any([signal, AbortSignal.timeout(ms)]) loses its timeout once the garbage
  // collector runs (on Node 20.20 here, 0 of 20 fired). Each mode waits on a server that never answers, 20 times,
  // collecting garbage every 5 ms; each timeout (200 ms) must fire within 5 s.
  it.each(['deadline', 'http-json', 'github'])(
    '%s: the timeout fires every time while the garbage collector runs',
    async (mode) => {
      const result = await runCommand(['--expose-gc', 'test/helpers/deadline-gc-child.ts', mode], { timeoutMs: 200_000 });
      expect(result.code, result.stderr).toBe(0);
      const outcome = JSON.parse(result.stdout) as { fired: number; lost: number };
      expect(outcome).toMatchObject({ fired: 20, lost: 0 });
    },
    240_000,
  );
});
