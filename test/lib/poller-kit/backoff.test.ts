// backoffDelay: the kit's one retry delay, each caller with its own bounds, growth and share of jitter.
import { expect, it } from 'vitest';
import { backoffDelay } from '../../../lib/poller-kit/backoff.ts';

it('full jitter by default: anywhere below a ceiling that doubles from min and stops at max', () => {
  const top = () => 0.999999;
  expect([0, 1, 2, 3, 4, 5].map((a) => backoffDelay(a, 100, 1000, top))).toEqual([99, 199, 399, 799, 999, 999]);
  expect(backoffDelay(3, 100, 1000, () => 0)).toBe(0);
  expect(backoffDelay(3, 100, 1000, () => 0.5)).toBe(400);
});

it('jitter 0 gives the ceiling itself, and the factor sets the growth', () => {
  const exact = (attempt: number, min: number, max: number, factor?: number) =>
    backoffDelay(attempt, min, max, () => 0.5, { jitter: 0, ...(factor ? { factor } : {}) });
  expect([0, 1, 2, 3].map((a) => exact(a, 1000, Infinity, 4))).toEqual([1000, 4000, 16_000, 64_000]);
  expect([0, 1, 2, 3, 4].map((a) => exact(a, 500, 2000))).toEqual([500, 1000, 2000, 2000, 2000]);
});

it('a partial jitter keeps the delay within [ceiling * (1 - jitter), ceiling)', () => {
  expect(backoffDelay(1, 1000, 10_000, () => 0, { jitter: 0.25 })).toBe(1500);
  expect(backoffDelay(1, 1000, 10_000, () => 0.999999, { jitter: 0.25 })).toBe(1999);
});

it('huge attempt numbers stay at max (no Infinity or NaN), negative ones at min', () => {
  expect(backoffDelay(10_000, 50, 20_000, () => 0.5, { jitter: 0 })).toBe(20_000);
  expect(backoffDelay(10_000, 50, 20_000, () => 0.5, { factor: 4 })).toBe(10_000);
  expect(backoffDelay(-1, 50, 20_000, () => 0.5, { jitter: 0 })).toBe(50);
});
