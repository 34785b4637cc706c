// The one "has this batch of lines reached Graphite?" mechanism: watermarks and backfill progress move on its word.
import type { GraphiteWriter } from '../graphite/writer-types.ts';

/** What the ledger asks of the writer: the writer's own word on delivery (hand-off, or an acknowledgement). */
export type LedgerWriter = Pick<GraphiteWriter, 'sequence' | 'whenDelivered' | 'stats'>;

/** The writer's loss counters before an entry's lines were written (take it before the poll that makes them). */
export interface DeliveryMark {
  dropped: number;
  lost: number;
}

/** How an entry ended. */
export interface DeliveryOutcome {
  /** Every line the writer had when the entry was recorded is delivered, and nothing was dropped since its mark. */
  delivered: boolean;
  /** Lines dropped since the mark other than `lost` (a full queue; refusals, for a writer with acknowledgements). */
  overflowed: number;
  /** Lines lost since the mark because the writer closed (or its output broke) with them queued. */
  lost: number;
}

/**
 * Entries (a window's lines) settle in the order they were recorded, each once the writer says every line up to
 * the sequence it had at `record` is delivered. Any drop between an entry's mark and its delivery makes it
 * undelivered: the writer cannot say whose lines it dropped (a shared writer may drop another job's), so the
 * ledger assumes the worst and the entry is fetched again (catch-up, or the next backfill run).
 */
export class DeliveryLedger {
  private readonly writer: LedgerWriter;
  private chain: Promise<void> = Promise.resolve();
  private waiting = 0;
  private abandoned = false;

  constructor(writer: LedgerWriter) {
    this.writer = writer;
  }

  /** The writer's loss counters now: take it before the poll whose lines an entry records. */
  mark(): DeliveryMark {
    const stats = this.writer.stats();
    return { dropped: stats.dropped, lost: stats.lost };
  }

  /**
   * Call once an entry's lines are all written (they end at the writer's sequence now). `settle` runs once they
   * are delivered or dropped, after every entry recorded before it, unless `abandon()` came first.
   */
  record(mark: DeliveryMark, settle: (outcome: DeliveryOutcome) => void): void {
    const sequence = this.writer.sequence;
    this.waiting++;
    this.chain = this.chain.then(async () => {
      await this.writer.whenDelivered(sequence);
      if (this.abandoned) return;
      this.waiting--;
      const stats = this.writer.stats();
      const lost = stats.lost - mark.lost;
      const overflowed = stats.dropped - mark.dropped - lost;
      settle({ delivered: overflowed + lost <= 0, overflowed, lost });
    });
  }

  /** Entries whose delivery is still awaited. */
  get pending(): number {
    return this.waiting;
  }

  /** Resolves when every entry recorded so far has settled. */
  settled(): Promise<void> {
    return this.chain;
  }

  /** Stops waiting: entries not settled yet never settle (they stay unrecorded). Returns how many there were. */
  abandon(): number {
    this.abandoned = true;
    return this.waiting;
  }
}
