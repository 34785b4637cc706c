// The delivery ledger: entries settle in order once the writer says their lines are delivered, and any drop since
// an entry's mark leaves it undelivered.
import { describe, expect, it } from 'vitest';
import { DeliveryLedger, type DeliveryOutcome } from '../../../lib/state/delivery-ledger.ts';
import { MemoryWriter } from '../../helpers/memory-writer.ts';

/** Lets the ledger's promise chain run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

function write(writer: MemoryWriter, lines: number): void {
  for (let i = 0; i < lines; i++) writer.write(`a.b ${i} 100\n`);
}

describe('DeliveryLedger', () => {
  it('settles an entry only once the writer says its lines are delivered, in record order', async () => {
    const writer = new MemoryWriter();
    writer.hold();
    const ledger = new DeliveryLedger(writer);
    const order: string[] = [];
    const first = ledger.mark();
    write(writer, 3);
    ledger.record(first, (o) => order.push(`first ${o.delivered}`));
    const second = ledger.mark();
    write(writer, 2);
    ledger.record(second, (o) => order.push(`second ${o.delivered}`));
    await settle();
    expect(order).toEqual([]);
    expect(ledger.pending).toBe(2);
    // Two lines delivered: not yet all of the first entry's three.
    writer.deliver(2);
    await settle();
    expect(order).toEqual([]);
    writer.deliver(1);
    await settle();
    expect(order).toEqual(['first true']);
    expect(ledger.pending).toBe(1);
    writer.release();
    await ledger.settled();
    expect(order).toEqual(['first true', 'second true']);
    expect(ledger.pending).toBe(0);
  });

  it('follows the writer, not a queue: lines handed on but not acknowledged keep the entry waiting', async () => {
    // A writer with acknowledgements: its queue is empty (nothing queued to send), delivery comes with the ack.
    const writer = new MemoryWriter();
    writer.hold();
    const ledger = new DeliveryLedger(writer);
    let outcome: DeliveryOutcome | undefined;
    const mark = ledger.mark();
    write(writer, 4);
    ledger.record(mark, (o) => (outcome = o));
    await settle();
    expect(outcome).toBeUndefined();
    writer.release();
    await ledger.settled();
    expect(outcome).toEqual({ delivered: true, overflowed: 0, lost: 0 });
  });

  it('an entry during which lines were dropped is undelivered, with the overflow counted', async () => {
    const writer = new MemoryWriter();
    const ledger = new DeliveryLedger(writer);
    const outcomes: DeliveryOutcome[] = [];
    const mark = ledger.mark();
    writer.dropNext(2);
    write(writer, 5);
    ledger.record(mark, (o) => outcomes.push(o));
    // The next entry's mark is after the drops: it is delivered.
    const next = ledger.mark();
    write(writer, 1);
    ledger.record(next, (o) => outcomes.push(o));
    await ledger.settled();
    expect(outcomes).toEqual([
      { delivered: false, overflowed: 2, lost: 0 },
      { delivered: true, overflowed: 0, lost: 0 },
    ]);
  });

  it('lines lost at close make an entry undelivered, counted as lost, not as overflow', async () => {
    const writer = new MemoryWriter();
    writer.hold();
    const ledger = new DeliveryLedger(writer);
    let outcome: DeliveryOutcome | undefined;
    const mark = ledger.mark();
    write(writer, 3);
    ledger.record(mark, (o) => (outcome = o));
    await writer.close();
    await ledger.settled();
    expect(outcome).toEqual({ delivered: false, overflowed: 0, lost: 3 });
  });

  it('abandon() says how many entries were still waiting, and they never settle', async () => {
    const writer = new MemoryWriter();
    writer.hold();
    const ledger = new DeliveryLedger(writer);
    const settled: number[] = [];
    for (const n of [1, 2]) {
      const mark = ledger.mark();
      write(writer, 1);
      ledger.record(mark, () => settled.push(n));
    }
    expect(ledger.abandon()).toBe(2);
    writer.release();
    await ledger.settled();
    expect(settled).toEqual([]);
  });
});
