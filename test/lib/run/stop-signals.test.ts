// The stop guard: a clean stop first, a second signal or an overrun ends the process, and an overrun never exits 0.
import { afterEach, expect, it, vi } from 'vitest';
import { onStopSignals } from '../../../lib/run/stop-signals.ts';

let remove: (() => void) | undefined;
afterEach(() => {
  remove?.();
  vi.useRealTimers();
});

it('the first SIGTERM asks for a clean stop; one that overruns 4.8 s ends with exit 1 and an ERROR line', () => {
  vi.useFakeTimers();
  const stop = vi.fn();
  const exits: number[] = [];
  const errors: string[] = [];
  remove = onStopSignals(stop, (code) => exits.push(code), { error: (message: string) => errors.push(message) });
  process.emit('SIGTERM', 'SIGTERM');
  expect(stop).toHaveBeenCalledTimes(1);
  vi.advanceTimersByTime(4799);
  expect(exits).toEqual([]);
  vi.advanceTimersByTime(1);
  expect(exits).toEqual([1]);
  expect(errors).toHaveLength(1);
  expect(errors[0]).toMatch(/did not finish within 4\.8 s.*lost/);
});

it('a second signal ends the process at once with the signal exit code', () => {
  vi.useFakeTimers();
  const exits: number[] = [];
  remove = onStopSignals(
    () => {},
    (code) => exits.push(code),
  );
  process.emit('SIGINT', 'SIGINT');
  process.emit('SIGINT', 'SIGINT');
  expect(exits).toEqual([130]);
});
