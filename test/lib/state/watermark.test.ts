// The watermark file: moved forward only, written at once by default, or at most every writeEveryMs when coalesced.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Watermark } from '../../../lib/state/watermark.ts';
import { tempDir } from '../../helpers/temp-dir.ts';

const T = Date.UTC(2026, 0, 1);
const stored = (dir: string) => new Watermark(dir, 'job', 'p').read();

describe('Watermark', () => {
  it('writes every advance by default, and never moves back', () => {
    const dir = tempDir('watermark');
    const mark = new Watermark(dir, 'job', 'p');
    mark.advance(100, T);
    mark.advance(110, T + 1);
    expect(stored(dir)).toBe(110);
    mark.advance(105, T + 2);
    expect(stored(dir)).toBe(110);
    expect(mark.value).toBe(110);
  });

  it('coalesced: the first advance is written at once, the next ones at most every writeEveryMs; flush writes the rest', () => {
    const dir = tempDir('watermark');
    const mark = new Watermark(dir, 'job', 'p', 60_000);
    mark.advance(100, T);
    expect(stored(dir)).toBe(100);
    mark.advance(110, T + 10_000);
    mark.advance(120, T + 59_999);
    expect(stored(dir)).toBe(100);
    expect(mark.value).toBe(120);
    mark.advance(130, T + 60_000);
    expect(stored(dir)).toBe(130);
    mark.advance(140, T + 70_000);
    mark.flush(T + 71_000);
    expect(stored(dir)).toBe(140);
  });

  it('coalesced: a failed write is tried again at the next advance, not a period later', () => {
    const dir = tempDir('watermark');
    const blocked = join(dir, 'state');
    writeFileSync(blocked, 'a file where the directory should be');
    const mark = new Watermark(blocked, 'job', 'p', 60_000);
    expect(() => mark.advance(100, T)).toThrow(/ENOTDIR|not a directory/);
    rmSync(blocked);
    mkdirSync(blocked);
    mark.advance(110, T + 1000);
    expect(stored(blocked)).toBe(110);
  });
});
