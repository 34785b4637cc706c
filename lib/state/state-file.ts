// Small JSON state files under STATE_DIR, written atomically (write a temporary file, fsync, rename).
import { mkdirSync, openSync, readFileSync, renameSync, statSync, writeSync, fsyncSync, closeSync, rmSync } from 'node:fs';
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
  ensureDirectory(dirname(file));
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

/**
 * Creates `directory` and its missing parents, one level at a time, each with a plain mkdirSync. Not
 * `mkdirSync(…, { recursive: true })`: on Node 20 it spins forever, deaf to SIGTERM, when a parent answers ENOENT
 * although it exists (STATE_DIR=/proc/nope). Throws one-line errors that name the path and keep the code
 * (`error.code`, and in the message: ENOENT, EACCES, ENOTDIR, EROFS…).
 */
export function ensureDirectory(directory: string): void {
  const target = resolve(directory);
  // Up to the nearest ancestor that exists, then down again creating each missing level.
  const missing: string[] = [];
  for (let path = target; ; path = dirname(path)) {
    const kind = kindOf(path);
    if (kind === 'directory') break;
    if (kind === 'other') throw directoryError(`cannot create the directory ${target}: ${path} is not a directory`, 'ENOTDIR');
    missing.unshift(path);
    if (dirname(path) === path) break;
  }
  for (const path of missing) {
    try {
      mkdirSync(path);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'EIO';
      // Another process (a second replica) created it meanwhile.
      if (code === 'EEXIST' && kindOf(path) === 'directory') continue;
      throw directoryError(`cannot create the directory ${path}: ${MKDIR_REASONS[code] ?? (error as Error).message}`, code);
    }
  }
}

const MKDIR_REASONS: Record<string, string> = {
  ENOENT: 'its parent exists but takes no new directories (a pseudo file system such as /proc or /sys)',
  EACCES: 'permission denied (the user running the poller may not write its parent)',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  ENOTDIR: 'a parent is not a directory',
  EEXIST: 'a file of that name is in the way',
  ENAMETOOLONG: 'the name is too long',
  ELOOP: 'too many symbolic links',
};

/** What is at `path`: a directory, something else, or nothing (also when a parent is not a directory). */
function kindOf(path: string): 'directory' | 'other' | 'missing' {
  try {
    return statSync(path).isDirectory() ? 'directory' : 'other';
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'EIO';
    if (code === 'ENOENT' || code === 'ENOTDIR') return 'missing';
    throw directoryError(`cannot reach ${path}: ${MKDIR_REASONS[code] ?? (error as Error).message}`, code);
  }
}

function directoryError(message: string, code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${message} (${code})`), { code });
}

export function removeState(file: string): void {
  rmSync(file, { force: true });
}
