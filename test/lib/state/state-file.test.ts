// State files: written atomically, and a failed write (a full disk) leaves neither a torn file nor a temporary one;
// their directory is made one level at a time, with one clear error when it cannot be (never a spin).
import * as fs from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ensureDirectory, readJsonState, writeJsonState } from '../../../lib/state/state-file.ts';
import { tempDir } from '../../helpers/temp-dir.ts';

const failing = vi.hoisted(() => ({
  writes: false,
  /** mkdirSync of this path throws this code. */
  mkdir: undefined as { path: string; code: string } | undefined,
  mkdirCalls: [] as unknown[][],
}));
vi.mock('node:fs', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs')>();
  return {
    ...real,
    mkdirSync: (...args: Parameters<typeof real.mkdirSync>) => {
      failing.mkdirCalls.push(args);
      const fault = failing.mkdir;
      if (fault && args[0] === fault.path) throw Object.assign(new Error(`${fault.code}: mkdir '${fault.path}'`), { code: fault.code });
      return real.mkdirSync(...args);
    },
    writeSync: (...args: Parameters<typeof real.writeSync>) => {
      if (failing.writes) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      return real.writeSync(...(args as [number, string]));
    },
  };
});

afterEach(() => {
  failing.writes = false;
  failing.mkdir = undefined;
  failing.mkdirCalls.length = 0;
});

describe('writeJsonState', () => {
  it('replaces the file with the new content', () => {
    const file = join(tempDir('state'), 'job.watermark.json');
    writeJsonState(file, { deliveredUntil: 1 });
    writeJsonState(file, { deliveredUntil: 2 });
    expect(readJsonState(file)).toEqual({ deliveredUntil: 2 });
    expect(fs.readdirSync(join(file, '..'))).toEqual(['job.watermark.json']);
  });

  it('on a full disk: throws, keeps the old content, and leaves no temporary file', () => {
    const dir = tempDir('state');
    const file = join(dir, 'job.watermark.json');
    writeJsonState(file, { deliveredUntil: 1 });
    failing.writes = true;
    expect(() => writeJsonState(file, { deliveredUntil: 2 })).toThrow(/ENOSPC/);
    expect(() => writeJsonState(file, { deliveredUntil: 3 })).toThrow(/ENOSPC/);
    failing.writes = false;
    expect(readJsonState(file)).toEqual({ deliveredUntil: 1 });
    expect(fs.readdirSync(dir)).toEqual(['job.watermark.json']);
  });
});

describe('ensureDirectory', () => {
  it('creates every missing level, one plain mkdir each, and accepts a directory that exists', () => {
    const base = tempDir('state-dir');
    const target = join(base, 'a', 'b', 'c');
    ensureDirectory(target);
    ensureDirectory(target);
    expect(fs.statSync(target).isDirectory()).toBe(true);
    // Never `recursive: true`, which spins forever on Node 20 where a parent answers ENOENT.
    expect(failing.mkdirCalls).toEqual([[join(base, 'a')], [join(base, 'a', 'b')], [target]]);
  });

  it.runIf(fs.existsSync('/proc/self'))('a directory under /proc: one clear ENOENT error at once', () => {
    expect(() => ensureDirectory('/proc/nope/state')).toThrow(
      'cannot create the directory /proc/nope: its parent exists but takes no new directories ' +
        '(a pseudo file system such as /proc or /sys) (ENOENT)',
    );
    expect(failing.mkdirCalls).toEqual([['/proc/nope']]);
  });

  it('a regular file in the way: ENOTDIR naming it', () => {
    const base = tempDir('state-dir');
    fs.writeFileSync(join(base, 'state'), 'not a directory\n');
    let error: NodeJS.ErrnoException | undefined;
    try {
      ensureDirectory(join(base, 'state', 'jobs'));
    } catch (caught) {
      error = caught as NodeJS.ErrnoException;
    }
    const file = join(base, 'state');
    expect(error?.message).toBe(`cannot create the directory ${join(file, 'jobs')}: ${file} is not a directory (ENOTDIR)`);
    expect(error?.code).toBe('ENOTDIR');
    expect(failing.mkdirCalls).toEqual([]);
  });

  it.each([
    ['EACCES', 'permission denied (the user running the poller may not write its parent)'],
    ['EROFS', 'read-only file system'],
  ])('%s from mkdir: one line naming the level that failed, through writeJsonState too', (code, reason) => {
    const base = tempDir('state-dir');
    failing.mkdir = { path: join(base, 'state'), code };
    expect(() => writeJsonState(join(base, 'state', 'jobs', 'job.watermark.json'), {})).toThrow(
      `cannot create the directory ${join(base, 'state')}: ${reason} (${code})`,
    );
    expect(fs.readdirSync(base)).toEqual([]);
  });
});
