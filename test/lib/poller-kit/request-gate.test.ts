// RequestGate: "refuse requests until time T" on the caller's clock, shared by GA's quota and GitHub's rate limit.
import { expect, it } from 'vitest';
import { RequestGate, RequestGates } from '../../../lib/poller-kit/request-gate.ts';

it('is open until closed, closed until T with the time left, and open again from T on', () => {
  const gate = new RequestGate<string>();
  expect(gate.check(1000)).toBeUndefined();
  gate.closeUntil(5000, 'quota used up', 'hour');
  expect(gate.check(1000)).toEqual({ until: 5000, reason: 'quota used up', detail: 'hour', leftMs: 4000 });
  expect(gate.check(4999)?.leftMs).toBe(1);
  expect(gate.check(5000)).toBeUndefined();
  // Once open, it stays open: the clock going back (a fake clock, a test) does not revive an expired closure.
  expect(gate.check(1000)).toBeUndefined();
});

it('an overlapping closure never shortens the wait, and the one in force is the same object while it lasts', () => {
  const gate = new RequestGate<string>();
  const first = gate.closeUntil(10_000, 'daily tokens', 'day');
  expect(gate.closeUntil(6000, 'hourly tokens', 'hour')).toBe(first);
  expect(gate.check(7000)?.reason).toBe('daily tokens');
  const later = gate.closeUntil(20_000, 'retry-after 20 s', 'wait');
  expect(later).not.toBe(first);
  expect(gate.check(15_000)).toMatchObject({ reason: 'retry-after 20 s', detail: 'wait', leftMs: 5000 });
});

it("assertOpen throws the caller's error while closed, with the reason and time left", () => {
  const gate = new RequestGate<undefined>();
  expect(() => gate.assertOpen(0, () => new Error('never'))).not.toThrow();
  gate.closeUntil(60_000, 'rate limit used up', undefined);
  expect(() => gate.assertOpen(30_000, (closed) => new Error(`${closed.reason}; ${closed.leftMs / 1000} s left`))).toThrow(
    'rate limit used up; 30 s left',
  );
  expect(() => gate.assertOpen(60_000, () => new Error('not any more'))).not.toThrow();
});

it("notes written into a closure's detail last as long as the closure", () => {
  const gate = new RequestGate<{ waitCut?: boolean }>();
  gate.closeUntil(10_000, 'quota', {});
  gate.check(1000)!.detail.waitCut = true;
  expect(gate.check(2000)?.detail.waitCut).toBe(true);
});

it('RequestGates keeps one gate per key', () => {
  const gates = new RequestGates<undefined>();
  gates.for('property 1/core').closeUntil(5000, 'core quota', undefined);
  expect(gates.for('property 1/core')).toBe(gates.for('property 1/core'));
  expect(gates.for('property 1/realtime').check(0)).toBeUndefined();
  expect(gates.for('property 1/core').check(0)?.reason).toBe('core quota');
});
