// --once's final wait: as long as Graphite keeps taking lines (up to a budget), not longer once it stops taking them.
import type { GraphiteWriter } from '../graphite/writer-types.ts';

/** How long without a line taken counts as Graphite down or stalled. */
const IDLE_MS = 3000;
const SLICE_MS = 250;

/**
 * Waits until the writer has handed everything to Graphite, for as long as Graphite keeps taking lines, at most
 * `budgetMs`; gives up after IDLE_MS in which nothing was taken (Graphite down, or stalled). True if flushed.
 */
export async function drainWriter(writer: GraphiteWriter, budgetMs: number): Promise<boolean> {
  const deadline = performance.now() + budgetMs;
  let sent = writer.stats().sent;
  let progressAt = performance.now();
  for (;;) {
    const left = deadline - performance.now();
    if (left <= 0) return false;
    if (await writer.flush(Math.min(left, SLICE_MS))) return true;
    const now = writer.stats().sent;
    if (now !== sent) {
      sent = now;
      progressAt = performance.now();
    } else if (performance.now() - progressAt >= IDLE_MS) {
      return false;
    }
  }
}
