// An in-memory stand-in for the Graphite writer in runner tests: keeps lines, can hold them back or drop them.
import type { Delivery, GraphiteWriter, WriterStats } from '../../lib/graphite/writer-types.ts';

/**
 * The whole GraphiteWriter interface, in memory: a line is delivered when written, unless hold() keeps lines
 * undelivered until release(); dropNext(n) drops the next n lines as a full queue would. Reserved lines
 * (self-metrics) are kept like any other line: there is no queue for them to outlive.
 */
export class MemoryWriter implements GraphiteWriter {
  readonly lines: string[] = [];
  sequence = 0;
  closed = false;
  private dropping = 0;
  private droppedTotal = 0;
  private lostTotal = 0;
  private droppedSequences = new Set<number>();
  private handedOffUpTo = 0;
  private held = false;
  private waiters: Array<() => void> = [];

  write(line: string): void {
    this.sequence++;
    if (this.dropping > 0) {
      this.dropping--;
      this.droppedTotal++;
      this.droppedSequences.add(this.sequence);
      // A dropped line has left the queue, as in the real writer.
      if (!this.held) this.handedOffUpTo = this.sequence;
      return;
    }
    this.lines.push(line);
    if (!this.held) this.handedOffUpTo = this.sequence;
  }

  writeReserved(line: string): void {
    this.write(line);
  }

  async ready(): Promise<void> {}

  async connect(): Promise<boolean> {
    return !this.closed;
  }

  /** True at once when nothing is held; else when release() comes within `timeoutMs`. */
  async flush(timeoutMs: number): Promise<boolean> {
    if (this.handedOffUpTo === this.sequence) return true;
    if (this.closed) return false;
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(this.handedOffUpTo === this.sequence), timeoutMs);
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve(this.handedOffUpTo === this.sequence);
      });
    });
  }

  /** Held lines are lost, as a real writer's queued lines are at close. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const held = this.sequence - this.handedOffUpTo;
    this.lostTotal += held;
    this.droppedTotal += held;
    for (let s = this.handedOffUpTo + 1; s <= this.sequence; s++) this.droppedSequences.add(s);
    this.handedOffUpTo = this.sequence;
    for (const wake of this.waiters.splice(0)) wake();
  }

  /** The next `n` lines are dropped, as a full queue would. */
  dropNext(n: number): void {
    this.dropping = n;
  }

  /** Lines stay "queued" (not handed off) until release(). */
  hold(): void {
    this.held = true;
  }

  release(): void {
    this.held = false;
    this.handedOffUpTo = this.sequence;
    for (const wake of this.waiters.splice(0)) wake();
  }

  /** Delivers the next `n` held lines; the rest stay held. */
  deliver(n: number): void {
    this.handedOffUpTo = Math.min(this.sequence, this.handedOffUpTo + n);
    for (const wake of this.waiters.splice(0)) wake();
  }

  private lastAsked = 0;
  async whenDelivered(sequence: number): Promise<Delivery> {
    while (this.handedOffUpTo < sequence) await new Promise<void>((r) => this.waiters.push(r));
    let dropped = 0;
    for (const s of this.droppedSequences) if (s > this.lastAsked && s <= sequence) dropped++;
    this.lastAsked = sequence;
    return { dropped };
  }

  stats(): WriterStats {
    const queued = this.sequence - this.handedOffUpTo;
    return { sent: this.lines.length, dropped: this.droppedTotal, lost: this.lostTotal, queued, reconnects: 0 };
  }

  /** `{ path: [[ts, value]] }` of the lines written, without self-metrics. */
  series(filter = (path: string) => !path.includes('.pollers.') && !path.startsWith('pollers.')): Record<string, Array<[number, number]>> {
    const out: Record<string, Array<[number, number]>> = {};
    for (const line of this.lines) {
      const [path, value, ts] = line.trim().split(' ');
      if (!filter(path!)) continue;
      (out[path!] ??= []).push([Number(ts), Number(value)]);
    }
    return out;
  }
}
