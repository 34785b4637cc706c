// What every plaintext Graphite writer shares: the bounded queue, sequences, ready/whenDelivered/flush and stats.
import type { Delivery, GraphiteWriter, WriterStats } from './writer-types.ts';
import { LineQueue, RESOLVED, type QueueOptions } from './line-queue.ts';
import type { Logger } from '../poller-kit/logger.ts';

/**
 * A transport subclass moves lines from `queue` to its destination. `write` only appends to the queue and,
 * when `idle` is set, calls `wake()` once (to schedule a pump, re-arm a timer...): the hot path stays a
 * push and a flag test.
 */
export abstract class QueuedWriter implements GraphiteWriter {
  protected readonly queue: LineQueue;
  /** When set, the next `write` calls `wake()`; the subclass clears it when nothing more is needed. */
  protected idle = false;
  /** Queue length at which `write` calls `wake()` even when not idle (a transport ready to pump now). */
  protected eagerLength = Infinity;
  protected closed = false;
  protected reconnects = 0;
  private flushWaiters: Array<(flushed: boolean) => void> = [];

  protected readonly log: Logger;

  constructor(queueLimit: number, log: Logger, queueOptions: QueueOptions = {}) {
    this.log = log;
    this.queue = new LineQueue(queueLimit, log, queueOptions);
  }

  write(line: string): void {
    this.queue.push(line);
    if (this.idle || this.queue.length >= this.eagerLength) this.wake();
  }

  writeReserved(line: string): void {
    this.queue.pushReserved(line);
    if (this.idle || this.queue.length >= this.eagerLength) this.wake();
  }

  get sequence(): number {
    return this.queue.sequence;
  }

  ready(signal?: AbortSignal): Promise<void> {
    if (this.closed) return RESOLVED;
    const ready = this.queue.ready(signal);
    if (ready !== RESOLVED) this.onWait();
    return ready;
  }

  connect(): Promise<boolean> {
    return Promise.resolve(!this.closed);
  }

  /** Plaintext has no acknowledgement: a line is delivered once it left the queue for the socket (or stream). */
  whenDelivered(sequence: number): Promise<Delivery> {
    const delivery = this.queue.whenHandedOff(sequence);
    if (this.queue.hasWaiters) this.onWait();
    return delivery;
  }

  stats(): WriterStats {
    const queue = this.queue;
    return { sent: queue.taken, dropped: queue.dropped, lost: queue.lost, queued: queue.length, reconnects: this.reconnects };
  }

  flush(timeoutMs: number): Promise<boolean> {
    if (this.isFlushed()) return Promise.resolve(true);
    if (this.closed) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const done = (flushed: boolean) => {
        clearTimeout(timer);
        this.flushWaiters = this.flushWaiters.filter((waiter) => waiter !== done);
        resolve(flushed);
      };
      // Not unref'd: the caller awaits this flush, so the process should live until it settles.
      const timer = setTimeout(() => done(this.isFlushed()), Math.max(0, timeoutMs));
      this.flushWaiters.push(done);
      this.onWait();
      this.hurry();
    });
  }

  abstract close(): Promise<void>;

  /** Everything queued has been handed off and the destination holds nothing unwritten. */
  protected abstract isFlushed(): boolean;

  /** Called by `write` while `idle` is set. */
  protected abstract wake(): void;

  /** Someone now awaits delivery (ready, whenDelivered, flush): a transport may keep the process alive for it. */
  protected onWait(): void {}

  /** A flush has begun (usually at shutdown, with a short timeout): a transport should not sit out a long backoff. */
  protected hurry(): void {}

  /** True while a flush is pending. */
  protected get flushing(): boolean {
    return this.flushWaiters.length > 0;
  }

  /** True while a ready, whenDelivered or flush promise is pending. */
  protected get awaited(): boolean {
    return this.queue.hasWaiters || this.flushWaiters.length > 0;
  }

  /** Subclasses call this whenever the flushed state may have become true; `closing` settles every waiter. */
  protected settleFlushes(closing = false): void {
    if (this.flushWaiters.length === 0) return;
    const flushed = this.isFlushed();
    if (flushed || closing) for (const done of [...this.flushWaiters]) done(flushed);
  }

  /** Drops what is still queued when closing (counted as lost), saying so once. */
  protected dropQueuedOnClose(): void {
    const left = this.queue.length;
    if (left > 0) {
      this.log.warn('graphite writer closed with lines still queued; they are lost', { lines: left });
      this.queue.lose();
    }
  }
}
