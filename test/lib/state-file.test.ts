// State files: written atomically, and a failed write (a full disk) leaves neither a torn file nor a temporary one.
import * as fs from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { readJsonState, writeJsonState } from '../../lib/state-file.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const failing = vi.hoisted(() => ({ writes: false }));
vi.mock('node:fs', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs')>();
  return {
    ...real,
    writeSync: (...args: Parameters<typeof real.writeSync>) => {
      if (failing.writes) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      return real.writeSync(...(args as [number, string]));
    },
  };
});

afterEach(() => {
  failing.writes = false;
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
