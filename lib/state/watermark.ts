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

  private readonly job: string;
  private readonly poller: string;

  constructor(
    directory: string,
    job: string,
    poller: string,
  ) {
    this.job = job;
    this.poller = poller;
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

  /** Moves the watermark forward (never back) and stores it atomically. */
  advance(deliveredUntil: number, now = Date.now()): void {
    if (this.current !== undefined && deliveredUntil <= this.current) return;
    this.current = deliveredUntil;
    const state: WatermarkFile = { job: this.job, poller: this.poller, deliveredUntil, updatedAt: new Date(now).toISOString() };
    writeJsonState(this.file, state);
  }
}
