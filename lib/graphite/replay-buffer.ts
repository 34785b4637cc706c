// The chunks most recently handed to a TCP socket, re-sent after a reconnect: carbon never acknowledges.

/** A chunk of whole lines as written to the socket. */
export interface ReplayChunk {
  text: string;
  lines: number;
}

/**
 * Chunks handed to the socket within the last `maxAgeMs`, bounded by `maxLines` lines (plus at most the
 * one chunk that straddles the bound, so the bound is always covered). Ages count only while connected:
 * a connection lost for a minute still replays the last seconds before it was lost.
 * Whatever their age or number of lines, the newest `minChars` characters are always kept: a peer that
 * stopped reading leaves that much unread in kernel buffers however long ago it was written (at a few
 * lines a second, 4 MB there are hours of traffic), and a connection destroyed then loses it.
 */
export class ReplayBuffer {
  private texts: string[] = [];
  private lineCounts: number[] = [];
  private times: number[] = [];
  private head = 0;
  /** Lines held. */
  lines = 0;
  /** Characters held. */
  private chars = 0;

  private readonly maxAgeMs: number;
  private readonly maxLines: number;
  private readonly minChars: number;

  constructor(maxAgeMs: number, maxLines: number, minChars = 0) {
    this.maxAgeMs = maxAgeMs;
    this.maxLines = maxLines;
    this.minChars = minChars;
  }

  add(text: string, lines: number, now: number): void {
    if (this.minChars <= 0 && (this.maxLines <= 0 || this.maxAgeMs <= 0)) return;
    this.texts.push(text);
    this.lineCounts.push(lines);
    this.times.push(now);
    this.lines += lines;
    this.chars += text.length;
    const oldest = now - this.maxAgeMs;
    while (
      this.head < this.texts.length - 1 &&
      this.chars - this.texts[this.head]!.length >= this.minChars &&
      (this.times[this.head]! < oldest || this.lines - this.lineCounts[this.head]! >= this.maxLines)
    ) {
      this.lines -= this.lineCounts[this.head]!;
      this.chars -= this.texts[this.head]!.length;
      this.texts[this.head] = '';
      this.head++;
    }
    if (this.head > 256 && this.head * 2 > this.texts.length) {
      this.texts = this.texts.slice(this.head);
      this.lineCounts = this.lineCounts.slice(this.head);
      this.times = this.times.slice(this.head);
      this.head = 0;
    }
  }

  /** When the oldest chunk held was handed to the socket (epoch ms), undefined when empty. */
  oldestTime(): number | undefined {
    return this.head < this.times.length ? this.times[this.head] : undefined;
  }

  /** Drops the chunks handed to the socket before `time` (epoch ms). */
  dropOlderThan(time: number): void {
    while (this.head < this.texts.length && this.times[this.head]! < time) {
      this.lines -= this.lineCounts[this.head]!;
      this.chars -= this.texts[this.head]!.length;
      this.texts[this.head] = '';
      this.head++;
    }
    if (this.head === this.texts.length) this.clear();
  }

  /** Empties the buffer, returning its chunks oldest first. */
  takeAll(): ReplayChunk[] {
    const out: ReplayChunk[] = [];
    for (let i = this.head; i < this.texts.length; i++) out.push({ text: this.texts[i]!, lines: this.lineCounts[i]! });
    this.clear();
    return out;
  }

  /** Puts back chunks that a lost connection never got to replay (newer than anything held). */
  restore(chunks: readonly ReplayChunk[], now: number): void {
    for (const chunk of chunks) {
      this.texts.push(chunk.text);
      this.lineCounts.push(chunk.lines);
      this.times.push(now);
      this.lines += chunk.lines;
      this.chars += chunk.text.length;
    }
  }

  clear(): void {
    this.texts = [];
    this.lineCounts = [];
    this.times = [];
    this.head = 0;
    this.lines = 0;
    this.chars = 0;
  }
}
