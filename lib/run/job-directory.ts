// The job files a `--jobs` process runs, and each one's poller: `<poller>.yaml` or `<poller>-<anything>.yaml`.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { ConfigError } from '../poller-kit/config-error.ts';

/** A job file as read: its path (the key that tells jobs apart across reloads), its poller and its text. */
export interface JobFile {
  file: string;
  poller: string;
  /** The file's content: a reload restarts a job whose content changed. */
  text: string;
}

const JOB_FILE = /\.ya?ml$/;
/** Templates beside the jobs (config/*.example.yaml) and editor leftovers are not jobs. */
const NOT_A_JOB = /^\.|\.example\.ya?ml$/;

/**
 * The job files named on the command line, in order: a directory stands for its `*.yaml` and `*.yml` files
 * (sorted, not recursive; `*.example.yaml` and hidden files left out), a file for itself. A path that does not
 * exist, or a directory without a job, is a ConfigError naming it; on a reload, a file named on the command line
 * that is gone, or an emptied directory, just has no jobs (they stop).
 */
export function listJobFiles(paths: readonly string[], { reload = false }: { reload?: boolean } = {}): string[] {
  const files: string[] = [];
  for (const path of paths) {
    let isDirectory: boolean;
    try {
      isDirectory = statSync(path).isDirectory();
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      // A directory that vanished is more likely a mistake (a deploy half done) than a wish to stop every job.
      if (reload && code === 'ENOENT' && JOB_FILE.test(path)) continue;
      throw new ConfigError(code === 'ENOENT' ? 'no such file or directory' : `cannot read it (${code ?? 'error'})`, {
        file: path,
        field: '--jobs',
      });
    }
    if (!isDirectory) {
      files.push(path);
      continue;
    }
    const inside = readdirSync(path)
      .filter((name) => JOB_FILE.test(name) && !NOT_A_JOB.test(name))
      .sort()
      .map((name) => join(path, name))
      // Not recursive: a subdirectory (even one named like a job file) is no job; a symlink to a file is.
      .filter((file) => !isDirectoryPath(file));
    if (inside.length === 0 && !reload) throw new ConfigError('no job files (*.yaml) in this directory', { file: path, field: '--jobs' });
    files.push(...inside);
  }
  // The same file named twice (a directory and one of its files) is one job.
  return [...new Set(files)];
}

/**
 * The poller a job file belongs to, from its name: `http-json.yaml` and `http-json-shop.yaml` are http-json jobs.
 * Poller names may contain "-": the longest poller name that fits wins. None fitting is a ConfigError.
 */
export function pollerOfFile(file: string, pollers: readonly string[]): string {
  const stem = basename(file, extname(file));
  const fits = pollers.filter((name) => stem === name || stem.startsWith(`${name}-`)).sort((a, b) => b.length - a.length);
  if (fits[0]) return fits[0];
  const how = 'name it <poller>.yaml or <poller>-<anything>.yaml';
  throw new ConfigError(`its name does not say which poller runs it: ${how}, where <poller> is one of ${pollers.join(', ')}`, { file });
}

/** Reads one job file and picks its poller; a file that cannot be read or named is a ConfigError naming it. */
export function readJobFile(file: string, pollers: readonly string[]): JobFile {
  const poller = pollerOfFile(file, pollers);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ConfigError(code === 'ENOENT' ? 'file not found' : `cannot read the file (${code ?? 'error'})`, { file });
  }
  return { file, poller, text };
}

function isDirectoryPath(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    // A dangling symlink: listed, so reading it says what is wrong.
    return false;
  }
}
