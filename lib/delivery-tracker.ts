// Advances a job's watermark once a window's points have all reached Graphite's socket, in window order.
import type { Logger } from './log.ts';
import type { TimeWindow } from './poller.ts';
import type { Watermark } from './watermark.ts';

/** What the tracker needs of the Graphite writer. */
export interface HandOff {
  readonly sequence: number;
  whenHandedOff(sequence: number): Promise<unknown>;
  stats(): { dropped: number };
}

export class DeliveryTracker {
  private chain: Promise<void> = Promise.resolve();
  private pending = 0;
  private stateErrorLogged = false;

  constructor(
    private readonly writer: HandOff,
    private readonly watermark: Watermark | undefined,
    /**
     * Contiguous: a window advances the watermark only when it starts at or before it, so a failed or
     * dropped window stays a gap for catch-up to fill. Sources without history advance on every delivery.
     */
    private readonly contiguous: boolean,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** The writer's drop count, to take before a window's poll starts and hand to `delivered`. */
  dropMark(): number {
    return this.writer.stats().dropped;
  }

  /**
   * Call right after a window's poll succeeded: all its lines are queued up to the writer's sequence. Once
   * they are handed off, the watermark advances, unless the queue dropped lines meanwhile (they may have
   * been this window's: it then stays a gap for catch-up).
   */
  delivered(window: TimeWindow, dropMark: number): void {
    const sequence = this.writer.sequence;
    this.pending++;
    this.chain = this.chain.then(async () => {
      await this.writer.whenHandedOff(sequence);
      this.pending--;
      const dropped = this.writer.stats().dropped - dropMark;
      if (dropped > 0) {
        this.log.warn('the full queue dropped points while this window was written; it stays a gap for catch-up', { window: `${window.start}-${window.end}`, dropped });
        return;
      }
      this.advance(window);
    });
  }

  /** Moves the watermark over a window known to be delivered. */
  advance(window: TimeWindow): void {
    const mark = this.watermark;
    if (!mark) return;
    if (this.contiguous && mark.value !== undefined && window.start > mark.value) return;
    try {
      mark.advance(window.end, this.now());
      this.stateErrorLogged = false;
    } catch (error) {
      // Polling goes on without state: say so once per outage of the state directory, not per tick.
      if (!this.stateErrorLogged) this.log.error('cannot write the watermark; polling goes on without it', { file: mark.file, error });
      this.stateErrorLogged = true;
    }
  }

  /** Windows whose lines are still queued. */
  get backlog(): number {
    return this.pending;
  }

  /** Resolves when every recorded window has been handed off. */
  settled(): Promise<void> {
    return this.chain;
  }
}
