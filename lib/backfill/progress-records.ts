// A backfill's record of finished windows under STATE_DIR, so a re-run after Ctrl-C, a crash or kill -9 resumes.
import { join } from 'node:path';
import type { TimeWindow } from '../poller-kit/contract.ts';
import { readJsonState, removeState, writeJsonState } from '../state/state-file.ts';
import { windowKey } from '../run/time-window.ts';

interface ProgressFile {
  /** The command's range as typed (`-7d..now`): the same command resumes, another one starts over. */
  command: string;
  range: TimeWindow;
  startedAt: string;
  updatedAt: string;
  complete: boolean;
  done: string[];
}

/** An unfinished record older than this is stale: the next run of the command starts over. */
export const RESUME_WITHIN_MS = 24 * 3600 * 1000;

export class BackfillProgress {
  private state: ProgressFile | undefined;
  private readonly done = new Set<string>();

  readonly file: string;
  private readonly now: () => number;

  constructor(file: string, now: () => number) {
    this.file = file;
    this.now = now;
  }

  static forJob(stateDir: string, job: string, now: () => number): BackfillProgress {
    return new BackfillProgress(join(stateDir, `${job}.backfill.json`), now);
  }

  /**
   * The range to run: the stored one when the same command was interrupted recently (its windows already
   * done are then skipped), else `fresh` with no window done.
   */
  begin(command: string, fresh: TimeWindow, restart: boolean): { range: TimeWindow; resumed: boolean; alreadyDone: number } {
    const stored = restart ? undefined : readJsonState<ProgressFile>(this.file);
    const recent = stored && this.now() - Date.parse(stored.updatedAt) < RESUME_WITHIN_MS;
    if (stored && !stored.complete && stored.command === command && recent && Array.isArray(stored.done)) {
      this.state = stored;
      for (const key of stored.done) this.done.add(key);
      return { range: stored.range, resumed: true, alreadyDone: this.done.size };
    }
    const at = new Date(this.now()).toISOString();
    this.state = { command, range: fresh, startedAt: at, updatedAt: at, complete: false, done: [] };
    // Written with the first finished window, so a run stopped by its configuration leaves no state behind;
    // an older record is forgotten now, as this run starts over.
    if (restart || stored) this.remove();
    return { range: fresh, resumed: false, alreadyDone: 0 };
  }

  isDone(window: TimeWindow): boolean {
    return this.done.has(windowKey(window));
  }

  /** Records a window whose points all reached Graphite's socket; written atomically at once. */
  markDone(window: TimeWindow): void {
    this.done.add(windowKey(window));
    this.save();
  }

  finish(complete: boolean): void {
    if (!this.state) return;
    this.state.complete = complete;
    this.save();
  }

  private save(): void {
    if (!this.state) return;
    this.state.done = [...this.done];
    this.state.updatedAt = new Date(this.now()).toISOString();
    writeJsonState(this.file, this.state);
  }

  remove(): void {
    removeState(this.file);
  }
}
