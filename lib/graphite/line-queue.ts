// The writer's bounded line queue: drop-oldest, sequence numbers, and the promises that wait on it.
import type { Logger } from '../poller-kit/logger.ts';
import type { Delivery, Overflow } from './writer-types.ts';

// Drop ranges kept for `whenHandedOff` callers that ask about lines already gone; beyond this many, the
// oldest are forgotten (only a caller that never asked for a long time, then asks about old lines, notices).
const MAX_DROP_RANGES = 10_000;
// The ring starts this small and doubles (up to the queue limit) only when a burst needs it.
const INITIAL_CAPACITY = 1024;
/** What `ready()` returns when there is room: compare against it to know whether a caller will wait. */
export const RESOLVED: Promise<void> = Promise.resolve();

export interface QueueOptions {
  /** `ready()` resolves below this many queued lines (at most half the limit, the default). */
  readyLines?: number;
  /**
   * `drop-oldest` (the default) keeps the queue within its limit. `grow` never drops: for producers that wait on
   * `ready()` and can only overshoot by what they had in flight (backfills); memory is then theirs to bound.
   */
  overflow?: Overflow;
  /**
   * Room for reserved lines (self-metrics) on top of the limit. A reserved line is never dropped while a data
   * line is queued: past this room it takes a data line's place. Default 10,000.
   */
  reserveLines?: number;
}

/** Default room for reserved lines: about 800 runs of a job's self-metrics. */
export const DEFAULT_RESERVE_LINES = 10_000;

function capacity(wanted: number, limit: number, beyondLimit: boolean): number {
  return beyondLimit ? wanted : Math.min(limit, wanted);
}

/**
 * Lines waiting for a transport, in a ring buffer of strings (no per-line allocation; the ring grows by
 * doubling up to the limit and is reused, so a steady stream makes no garbage but the lines). Line N
 * (1-based, in `write` order) has sequence N; lines leave in sequence order, either taken by the transport
 * in chunks or dropped (oldest first) when the queue is full.
 */
export class LineQueue {
  /** Lines ever pushed; the last pushed line has this sequence. */
  sequence = 0;
  /** Lines handed to the transport (taken). */
  taken = 0;
  /** Lines dropped, because the queue was full or the writer closed with lines still queued. */
  dropped = 0;
  /** Lines in the last chunk returned by `take`. */
  lastTakenLines = 0;

  /** Lines given up at close (or when the destination broke): counted in `dropped` too. */
  lost = 0;

  /** Data lines queued now (reserved lines not included). */
  count = 0;
  private ring: string[];
  // Reserved lines (self-metrics): a small FIFO outside the sequence, taken before data, dropped only after it.
  private reserved: string[] = [];
  private reservedHead = 0;
  private readonly reserveLines: number;
  private head = 0;

  // whenHandedOff waiters, in call order (their sequences never decrease).
  private waitSequence: number[] = [];
  private waitResolve: Array<(delivery: Delivery) => void> = [];
  private waitHead = 0;
  private nextWait = Infinity;
  private lastCalled = 0;
  private lastSettledDrops = 0;

  // Runs of dropped sequences [from, from + count), merged when contiguous; only runs after the last
  // settled waiter are needed.
  private dropFrom: number[] = [];
  private dropCount: number[] = [];
  private dropHead = 0;

  private readyPromise: Promise<void> | undefined;
  private readyResolve: (() => void) | undefined;
  private readonly readyBelow: number;
  private readonly growWhenFull: boolean;

  private droppingSince = -1;
  // Data lines dropped (reserved lines have no sequence): what whenHandedOff counts.
  private droppedData = 0;

  readonly limit: number;
  private readonly log: Logger;

  constructor(limit: number, log: Logger, options: QueueOptions = {}) {
    this.limit = limit;
    this.log = log;
    this.readyBelow = Math.min(limit / 2, options.readyLines ?? Infinity);
    this.growWhenFull = options.overflow === 'grow';
    this.reserveLines = Math.max(0, Math.floor(options.reserveLines ?? DEFAULT_RESERVE_LINES));
    this.ring = new Array<string>(Math.min(INITIAL_CAPACITY, limit)).fill('');
  }

  /** Lines queued now, data and reserved. */
  get length(): number {
    return this.count + this.reserved.length - this.reservedHead;
  }

  /** Reserved lines queued now. */
  get reservedCount(): number {
    return this.reserved.length - this.reservedHead;
  }

  /** Appends a line, dropping the oldest when full. The hot path: keep it small. */
  push(line: string): void {
    const capacity = this.ring.length;
    if (this.count === capacity) {
      if (capacity < this.limit || this.growWhenFull) this.grow();
      else this.dropOldest();
    }
    let tail = this.head + this.count;
    if (tail >= this.ring.length) tail -= this.ring.length;
    this.ring[tail] = line;
    this.count++;
    this.sequence++;
    // Reserved lines past their own room have borrowed data room: the oldest data line makes way.
    if (this.reserved.length - this.reservedHead > this.reserveLines && !this.growWhenFull) this.makeRoom();
  }

  /**
   * Appends a reserved line (a self-metric): outside the sequence, taken before any data line, and dropped only
   * when no data line is left to drop in its place.
   */
  pushReserved(line: string): void {
    const held = this.reserved.length - this.reservedHead;
    if (held >= this.reserveLines) {
      if (this.growWhenFull) this.dropReserved(held - this.reserveLines + 1);
      else if (this.count + held >= this.limit + this.reserveLines) {
        if (this.count > 0) this.dropOldest();
        else this.dropReserved(1);
      }
    }
    this.reserved.push(line);
  }

  private makeRoom(): void {
    while (this.count > 0 && this.count + this.reserved.length - this.reservedHead > this.limit + this.reserveLines) this.dropOldest();
  }

  private dropReserved(n: number): void {
    this.noteDropping();
    this.takeReserved(n);
    this.dropped += n;
  }

  private takeReserved(n: number): string {
    const end = this.reservedHead + n;
    const text = n === 1 ? this.reserved[this.reservedHead]! : this.reserved.slice(this.reservedHead, end).join('');
    if (end >= this.reserved.length) {
      this.reserved = [];
      this.reservedHead = 0;
    } else if (end > 1024 && end * 2 > this.reserved.length) {
      this.reserved = this.reserved.slice(end);
      this.reservedHead = 0;
    } else {
      this.reserved.fill('', this.reservedHead, end);
      this.reservedHead = end;
    }
    return text;
  }

  /**
   * Drops every queued line, data and reserved, as lost (the writer closed, or its destination broke):
   * counted in `dropped` and in `lost`. Returns how many.
   */
  lose(): number {
    const reserved = this.reserved.length - this.reservedHead;
    const total = this.count + reserved;
    if (reserved > 0) {
      this.takeReserved(reserved);
      this.dropped += reserved;
    }
    this.lost += total;
    this.drop();
    return total;
  }

  private grow(): void {
    const old = this.ring;
    const ring = new Array<string>(capacity(old.length * 2, this.limit, this.growWhenFull)).fill('');
    for (let i = 0, at = this.head; i < this.count; i++) {
      ring[i] = old[at]!;
      if (++at === old.length) at = 0;
    }
    this.ring = ring;
    this.head = 0;
  }

  /**
   * Removes and returns the oldest lines joined into one string of about `maxChars` UTF-16 units (at least
   * one whole line), reserved lines first; `lastTakenLines` says how many. Call only when `length > 0`.
   */
  take(maxChars: number): string {
    let count = 0;
    let chars = 0;
    const reserved = this.reserved;
    for (let at = this.reservedHead; at < reserved.length && chars < maxChars; at++) {
      chars += reserved[at]!.length;
      count++;
    }
    const ring = this.ring;
    const capacity = ring.length;
    let at = this.head;
    let data = 0;
    while (data < this.count && chars < maxChars) {
      chars += ring[at]!.length;
      data++;
      if (++at === capacity) at = 0;
    }
    return this.takeLines(count + data);
  }

  /** The line `offset` places after the oldest (0 = oldest, reserved lines first), if queued. */
  lineAt(offset: number): string | undefined {
    const reserved = this.reserved.length - this.reservedHead;
    if (offset < reserved) return this.reserved[this.reservedHead + offset];
    offset -= reserved;
    if (offset >= this.count) return undefined;
    const at = this.head + offset;
    return this.ring[at < this.ring.length ? at : at - this.ring.length];
  }

  /** Removes and returns the `count` oldest lines joined (`count` >= 1, at most `length`), reserved lines first. */
  takeLines(count: number): string {
    const reserved = Math.min(count, this.reserved.length - this.reservedHead);
    if (reserved === 0) return this.takeData(count);
    const head = this.takeReserved(reserved);
    this.taken += reserved;
    this.lastTakenLines = count;
    if (count === reserved) return head;
    const text = head + this.takeData(count - reserved);
    this.lastTakenLines = count;
    return text;
  }

  private takeData(count: number): string {
    const ring = this.ring;
    const capacity = ring.length;
    const start = this.head;
    const end = start + count;
    let text: string;
    if (end <= capacity) {
      text = count === 1 ? ring[start]! : ring.slice(start, end).join('');
      ring.fill('', start, end);
    } else {
      text = ring.slice(start).join('') + ring.slice(0, end - capacity).join('');
      ring.fill('', start);
      ring.fill('', 0, end - capacity);
    }
    this.head = end < capacity ? end : end - capacity;
    this.count -= count;
    this.taken += count;
    this.lastTakenLines = count;
    this.afterRemove();
    return text;
  }

  private dropOldest(): void {
    this.noteDropping();
    this.drop(1);
  }

  private noteDropping(): void {
    if (this.droppingSince < 0) {
      this.droppingSince = this.dropped;
      this.log.warn('graphite queue full, dropping the oldest lines', { queue_limit: this.limit });
    }
  }

  /** Drops the `count` oldest data lines (all of them by default), counting them. */
  drop(count = this.count): void {
    const n = Math.min(count, this.count);
    if (n <= 0) return;
    const from = this.sequence - this.count + 1;
    const last = this.dropFrom.length - 1;
    if (last >= this.dropHead && this.dropFrom[last]! + this.dropCount[last]! === from) {
      this.dropCount[last]! += n;
    } else {
      this.dropFrom.push(from);
      this.dropCount.push(n);
      if (this.dropFrom.length - this.dropHead > MAX_DROP_RANGES) this.dropHead++;
    }
    this.dropped += n;
    this.droppedData += n;
    const ring = this.ring;
    for (let i = 0, at = this.head; i < n; i++) {
      ring[at] = '';
      if (++at === ring.length) at = 0;
    }
    this.head = (this.head + n) % ring.length;
    this.count -= n;
    this.afterRemove();
  }

  /**
   * Resolves when the queue holds fewer than half of `limit` data lines; rejects with the signal's reason when
   * `signal` aborts first (a run at its deadline must not wait for Graphite).
   */
  ready(signal?: AbortSignal): Promise<void> {
    if (this.count < this.readyBelow) return RESOLVED;
    if (!this.readyPromise) this.readyPromise = new Promise<void>((resolve) => (this.readyResolve = resolve));
    return signal ? untilAborted(this.readyPromise, signal) : this.readyPromise;
  }

  /** Resolves once every line with a sequence up to `sequence` has left the queue (taken or dropped). */
  whenHandedOff(sequence: number): Promise<Delivery> {
    // Sequences never go backwards for the settling logic: an older one settles with the previous call.
    const at = Math.max(sequence, this.lastCalled);
    this.lastCalled = at;
    const promise = new Promise<Delivery>((resolve) => {
      this.waitSequence.push(at);
      this.waitResolve.push(resolve);
    });
    if (this.waitHead === this.waitSequence.length - 1) this.nextWait = at;
    this.settle();
    return promise;
  }

  /** True while a `whenHandedOff` or `ready` promise is pending. */
  get hasWaiters(): boolean {
    return this.waitHead < this.waitSequence.length || this.readyResolve !== undefined;
  }

  private afterRemove(): void {
    const headSequence = this.sequence - this.count + 1;
    if (this.nextWait < headSequence) this.settle();
    if (this.count < this.readyBelow) {
      if (this.droppingSince >= 0) {
        this.log.info('graphite queue below half again', { dropped_lines: this.dropped - this.droppingSince });
        this.droppingSince = -1;
      }
      const resolve = this.readyResolve;
      if (resolve) {
        this.readyPromise = undefined;
        this.readyResolve = undefined;
        resolve();
      }
    }
  }

  private settle(): void {
    const headSequence = this.sequence - this.count + 1;
    while (this.waitHead < this.waitSequence.length && this.waitSequence[this.waitHead]! < headSequence) {
      const at = this.waitSequence[this.waitHead]!;
      const resolve = this.waitResolve[this.waitHead]!;
      this.waitHead++;
      const drops = this.droppedUpTo(at);
      resolve({ dropped: drops - this.lastSettledDrops });
      this.lastSettledDrops = drops;
      // Runs entirely at or before a settled sequence are never asked about again.
      while (this.dropHead < this.dropFrom.length && this.dropFrom[this.dropHead]! + this.dropCount[this.dropHead]! - 1 <= at) {
        this.dropHead++;
      }
    }
    if (this.waitHead === this.waitSequence.length) {
      this.waitSequence = [];
      this.waitResolve = [];
      this.waitHead = 0;
      this.nextWait = Infinity;
    } else {
      this.nextWait = this.waitSequence[this.waitHead]!;
    }
    if (this.dropHead === this.dropFrom.length) {
      this.dropFrom = [];
      this.dropCount = [];
      this.dropHead = 0;
    } else if (this.dropHead > 1024 && this.dropHead * 2 > this.dropFrom.length) {
      this.dropFrom = this.dropFrom.slice(this.dropHead);
      this.dropCount = this.dropCount.slice(this.dropHead);
      this.dropHead = 0;
    }
  }

  /** Drops among sequences <= `at`: all drops minus the kept runs after `at`. */
  private droppedUpTo(at: number): number {
    let after = 0;
    for (let i = this.dropFrom.length - 1; i >= this.dropHead; i--) {
      const from = this.dropFrom[i]!;
      const count = this.dropCount[i]!;
      if (from > at) after += count;
      else {
        if (from + count - 1 > at) after += from + count - 1 - at;
        break;
      }
    }
    return this.droppedData - after;
  }
}

/** `promise`, or a rejection with the signal's reason if it aborts first; no listener is left behind. */
function untilAborted(promise: Promise<void>, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      },
      () => {},
    );
  });
}
