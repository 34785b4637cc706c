// The writer's bounded line queue: drop-oldest, sequence numbers, and the promises that wait on it.
import type { Logger } from './log.ts';

/** How many lines were dropped since the previous `whenHandedOff` call settled. */
export interface HandOff {
  dropped: number;
}

// Drop ranges kept for `whenHandedOff` callers that ask about lines already gone; beyond this many, the
// oldest are forgotten (only a caller that never asked for a long time, then asks about old lines, notices).
const MAX_DROP_RANGES = 10_000;
// The ring starts this small and doubles (up to the queue limit) only when a burst needs it.
const INITIAL_CAPACITY = 1024;
/** What `ready()` returns when there is room: compare against it to know whether a caller will wait. */
export const RESOLVED: Promise<void> = Promise.resolve();

/** What a full queue does with one more line. */
export type Overflow = 'drop-oldest' | 'grow';

export interface QueueOptions {
  /** `ready()` resolves below this many queued lines (at most half the limit, the default). */
  readyLines?: number;
  /**
   * `drop-oldest` (the default) keeps the queue within its limit. `grow` never drops: for producers that wait on
   * `ready()` and can only overshoot by what they had in flight (backfills); memory is then theirs to bound.
   */
  overflow?: Overflow;
}

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

  /** Lines queued now. */
  length = 0;
  private ring: string[];
  private head = 0;

  // whenHandedOff waiters, in call order (their sequences never decrease).
  private waitSequence: number[] = [];
  private waitResolve: Array<(handOff: HandOff) => void> = [];
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

  constructor(
    readonly limit: number,
    private readonly log: Logger,
    options: QueueOptions = {},
  ) {
    this.readyBelow = Math.min(limit / 2, options.readyLines ?? Infinity);
    this.growWhenFull = options.overflow === 'grow';
    this.ring = new Array<string>(Math.min(INITIAL_CAPACITY, limit)).fill('');
  }

  /** Appends a line, dropping the oldest when full. The hot path: keep it small. */
  push(line: string): void {
    const capacity = this.ring.length;
    if (this.length === capacity) {
      if (capacity < this.limit || this.growWhenFull) this.grow();
      else this.dropOldest();
    }
    let tail = this.head + this.length;
    if (tail >= this.ring.length) tail -= this.ring.length;
    this.ring[tail] = line;
    this.length++;
    this.sequence++;
  }

  private grow(): void {
    const old = this.ring;
    const ring = new Array<string>(capacity(old.length * 2, this.limit, this.growWhenFull)).fill('');
    for (let i = 0, at = this.head; i < this.length; i++) {
      ring[i] = old[at]!;
      if (++at === old.length) at = 0;
    }
    this.ring = ring;
    this.head = 0;
  }

  /**
   * Removes and returns the oldest lines joined into one string of about `maxChars` UTF-16 units (at least
   * one whole line); `lastTakenLines` says how many. Call only when `length > 0`.
   */
  take(maxChars: number): string {
    const ring = this.ring;
    const capacity = ring.length;
    let at = this.head;
    let count = 0;
    let chars = 0;
    while (count < this.length && chars < maxChars) {
      chars += ring[at]!.length;
      count++;
      if (++at === capacity) at = 0;
    }
    return this.takeLines(count);
  }

  /** The line `offset` places after the oldest (0 = oldest), if queued. */
  lineAt(offset: number): string | undefined {
    if (offset >= this.length) return undefined;
    const at = this.head + offset;
    return this.ring[at < this.ring.length ? at : at - this.ring.length];
  }

  /** Removes and returns the `count` oldest lines joined (`count` >= 1, at most `length`). */
  takeLines(count: number): string {
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
    this.length -= count;
    this.taken += count;
    this.lastTakenLines = count;
    this.afterRemove();
    return text;
  }

  private dropOldest(): void {
    if (this.droppingSince < 0) {
      this.droppingSince = this.dropped;
      this.log.warn('graphite queue full, dropping the oldest lines', { queue_limit: this.limit });
    }
    this.drop(1);
  }

  /** Drops the `count` oldest lines (all of them by default), counting them. */
  drop(count = this.length): void {
    const n = Math.min(count, this.length);
    if (n <= 0) return;
    const from = this.sequence - this.length + 1;
    const last = this.dropFrom.length - 1;
    if (last >= this.dropHead && this.dropFrom[last]! + this.dropCount[last]! === from) {
      this.dropCount[last]! += n;
    } else {
      this.dropFrom.push(from);
      this.dropCount.push(n);
      if (this.dropFrom.length - this.dropHead > MAX_DROP_RANGES) this.dropHead++;
    }
    this.dropped += n;
    const ring = this.ring;
    for (let i = 0, at = this.head; i < n; i++) {
      ring[at] = '';
      if (++at === ring.length) at = 0;
    }
    this.head = (this.head + n) % ring.length;
    this.length -= n;
    this.afterRemove();
  }

  /** Resolves when the queue holds fewer than half of `limit` lines. */
  ready(): Promise<void> {
    if (this.length < this.readyBelow) return RESOLVED;
    if (!this.readyPromise) this.readyPromise = new Promise<void>((resolve) => (this.readyResolve = resolve));
    return this.readyPromise;
  }

  /** Resolves once every line with a sequence up to `sequence` has left the queue (taken or dropped). */
  whenHandedOff(sequence: number): Promise<HandOff> {
    // Sequences never go backwards for the settling logic: an older one settles with the previous call.
    const at = Math.max(sequence, this.lastCalled);
    this.lastCalled = at;
    const promise = new Promise<HandOff>((resolve) => {
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
    const headSequence = this.sequence - this.length + 1;
    if (this.nextWait < headSequence) this.settle();
    if (this.length < this.readyBelow) {
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
    const headSequence = this.sequence - this.length + 1;
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
    return this.dropped - after;
  }
}
