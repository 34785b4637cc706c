// Small JSON state files under STATE_DIR, written atomically (write a temporary file, fsync, rename).
import { mkdirSync, openSync, readFileSync, renameSync, writeSync, fsyncSync, closeSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/** STATE_DIR, default `./state`. */
export function stateDir(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.STATE_DIR || 'state');
}

export function readJsonState<T>(file: string): T | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    return JSON.parse(text) as T;
  } catch {
    // A torn file cannot come from our rename-based writes; treat foreign garbage as no state.
    return undefined;
  }
}

/** Replaces `file` with `value` so that a crash at any moment leaves either the old or the new content. */
export function writeJsonState(file: string, value: unknown): void {
  mkdirSync(dirname(file), { recursive: true });
  const temporary = join(dirname(file), `.${process.pid}.${Date.now()}.tmp`);
  const fd = openSync(temporary, 'w', 0o600);
  try {
    try {
      writeSync(fd, JSON.stringify(value) + '\n');
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, file);
  } catch (error) {
    // A full disk fails the write: leave no temporary file behind (one per tick would use up the inodes too).
    rmSync(temporary, { force: true });
    throw error;
  }
}

export function removeState(file: string): void {
  rmSync(file, { force: true });
}
