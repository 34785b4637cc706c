// Advances a job's watermark once a window's points have all been delivered to Graphite, in window order.
import type { Logger } from '../poller-kit/logger.ts';
import type { TimeWindow } from '../poller-kit/contract.ts';
import { formatWindow } from '../run/time-window.ts';
import { DeliveryLedger, type DeliveryMark, type LedgerWriter } from './delivery-ledger.ts';
import type { Watermark } from './watermark.ts';

/** The watermark's side of the delivery ledger: a live job's windows, in the order they were polled. */
export class DeliveryTracker {
  private readonly ledger: DeliveryLedger;
  private readonly watermark: Watermark | undefined;
  /**
   * Contiguous: a window advances the watermark only when it starts at or before it, so a failed or
   * dropped window stays a gap for catch-up to fill. Sources without history advance on every delivery.
   */
  private readonly contiguous: boolean;
  private readonly log: Logger;
  private readonly now: () => number;
  private stateErrorLogged = false;
  private gapWarned = false;

  constructor(writer: LedgerWriter, watermark: Watermark | undefined, contiguous: boolean, log: Logger, now: () => number = Date.now) {
    this.ledger = new DeliveryLedger(writer);
    this.watermark = watermark;
    this.contiguous = contiguous;
    this.log = log;
    this.now = now;
  }

  /** The writer's drop count, to take before a window's poll starts and hand to `delivered`. */
  dropMark(): DeliveryMark {
    return this.ledger.mark();
  }

  /**
   * Call right after a window's poll succeeded: all its lines are queued up to the writer's sequence. Once
   * they are delivered, the watermark advances, unless lines were dropped meanwhile (they may have been this
   * window's): it then stays a gap, which catch-up fills for a source with history.
   */
  delivered(window: TimeWindow, mark: DeliveryMark): void {
    this.ledger.record(mark, ({ delivered, overflowed, lost }) => {
      if (delivered) {
        this.gapWarned = false;
        this.advance(window);
        return;
      }
      // Lines lost at exit are reported by the exit summary; a source without history has no catch-up to promise,
      // and the queue already said it is dropping. Once per outage, not once per tick.
      if (overflowed > 0 && this.contiguous && !this.gapWarned) {
        this.gapWarned = true;
        const gap =
          'points were dropped (a full queue) or refused (by an https:// endpoint) while this window was written; ' +
          'it stays a gap for catch-up';
        this.log.warn(gap, { window: formatWindow(window), dropped: overflowed });
      } else {
        this.log.debug('points of this window were dropped; the watermark stays before it', {
          window: formatWindow(window),
          dropped: overflowed,
          lost,
        });
      }
    });
  }

  /** Gives up the gap before `window.end` (the caller said it is left for a backfill): the watermark moves over it. */
  skip(window: TimeWindow): void {
    const mark = this.watermark;
    if (!mark || mark.value === undefined || mark.value > window.start) return;
    this.store(mark, window.end);
  }

  /** Moves the watermark over a window known to be delivered. */
  advance(window: TimeWindow): void {
    const mark = this.watermark;
    if (!mark) return;
    if (this.contiguous && mark.value !== undefined && window.start > mark.value) return;
    this.store(mark, window.end);
  }

  private store(mark: Watermark, until: number): void {
    try {
      mark.advance(until, this.now());
      this.stateErrorLogged = false;
    } catch (error) {
      // Polling goes on without state: say so once per outage of the state directory, not per tick.
      if (!this.stateErrorLogged) this.log.error('cannot write the watermark; polling goes on without it', { file: mark.file, error });
      this.stateErrorLogged = true;
    }
  }

  /** Windows whose lines are not delivered yet. */
  get backlog(): number {
    return this.ledger.pending;
  }

  /** Resolves when every recorded window has settled. */
  settled(): Promise<void> {
    return this.ledger.settled();
  }
}
