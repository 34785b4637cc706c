// The stop budget: every part of a clean stop fits before the hard stop, and the hard stop before the promise.
import { expect, it } from 'vitest';
import { STOP_BUDGET } from '../../../lib/run/stop-budget.ts';

it("a live job's grace and flush, and a backfill's flush, end before the hard stop, which ends before 5 s", () => {
  const { promiseMs, hardStopMs, runGraceMs, flushMs, backfillFlushMs } = STOP_BUDGET;
  expect(promiseMs).toBe(5000);
  expect(runGraceMs + flushMs).toBeLessThan(hardStopMs);
  expect(backfillFlushMs).toBeLessThan(hardStopMs);
  // Room for the process to exit after the hard stop fires.
  expect(promiseMs - hardStopMs).toBeGreaterThanOrEqual(100);
});
