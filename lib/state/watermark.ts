// Per job: the end of the last window whose points were all handed to Graphite's socket.
import { join } from 'node:path';
import { readJsonState, writeJsonState } from './state-file.ts';

interface WatermarkFile {
  job: string;
  poller: string;
  /** Epoch seconds: every window ending at or before this was delivered. */
  deliveredUntil: number;
  updatedAt: string;
}

export class Watermark {
  readonly file: string;
  private current: number | undefined;
  /** When the file was last written (epoch ms), undefined before the first successful write. */
  private writtenAt: number | undefined;
  private unwritten = false;
  /**
   * Write the file at most this often (0: on every advance). For a job without catch-up the file only says
   * when it last delivered: an fsync per tick is most of such a job's work, and a staler file costs nothing.
   */
  writeEveryMs: number;

  private readonly job: string;
  private readonly poller: string;

  constructor(
    directory: string,
    job: string,
    poller: string,
    writeEveryMs = 0,
  ) {
    this.job = job;
    this.poller = poller;
    this.writeEveryMs = writeEveryMs;
    this.file = join(directory, `${job}.watermark.json`);
  }

  /** The stored watermark (epoch seconds), or undefined for a job that never delivered. */
  read(): number | undefined {
    const state = readJsonState<WatermarkFile>(this.file);
    this.current = typeof state?.deliveredUntil === 'number' ? state.deliveredUntil : undefined;
    return this.current;
  }

  get value(): number | undefined {
    return this.current;
  }

  /**
   * Moves the watermark forward (never back) and stores it atomically: at once the first time, then at most every
   * `writeEveryMs` (a failed write is tried again at the next advance).
   */
  advance(deliveredUntil: number, now = Date.now()): void {
    if (this.current !== undefined && deliveredUntil <= this.current) return;
    this.current = deliveredUntil;
    this.unwritten = true;
    if (this.writtenAt !== undefined && now - this.writtenAt < this.writeEveryMs) return;
    this.flush(now);
  }

  /** Stores a value that advance() held back. */
  flush(now = Date.now()): void {
    if (!this.unwritten || this.current === undefined) return;
    const state: WatermarkFile = {
      job: this.job,
      poller: this.poller,
      deliveredUntil: this.current,
      updatedAt: new Date(now).toISOString(),
    };
    writeJsonState(this.file, state);
    this.unwritten = false;
    this.writtenAt = now;
  }
}
