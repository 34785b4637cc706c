// An in-memory stand-in for the Graphite writer in runner tests: keeps lines, can hold them back or drop them.
import type { JobWriter } from '../../lib/run/run-poller.ts';

export class MemoryWriter implements JobWriter {
  readonly lines: string[] = [];
  sequence = 0;
  private dropping = 0;
  private droppedTotal = 0;
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

  async ready(): Promise<void> {}

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

  private lastAsked = 0;
  async whenHandedOff(sequence: number): Promise<{ dropped: number }> {
    while (this.handedOffUpTo < sequence) await new Promise<void>((r) => this.waiters.push(r));
    let dropped = 0;
    for (const s of this.droppedSequences) if (s > this.lastAsked && s <= sequence) dropped++;
    this.lastAsked = sequence;
    return { dropped };
  }

  stats() {
    return { sent: this.lines.length, dropped: this.droppedTotal, queued: this.sequence - this.handedOffUpTo, reconnects: 0 };
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
