// No line of the project's TypeScript is longer than Prettier's printWidth: Prettier does not break strings, comments or regexes.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/run-command.ts';

const { printWidth } = JSON.parse(readFileSync(join(ROOT, '.prettierrc.json'), 'utf8')) as { printWidth: number };

/** The .ts files git knows of (tracked, and new ones not ignored), relative to the root. */
function projectTsFiles(): string[] {
  const listed = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard', '--', '*.ts'], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  return [...new Set(listed.split('\0'))].filter((file) => file !== '' && existsSync(join(ROOT, file))).sort();
}

/** `file:line (n characters)` for each line longer than `limit` characters (code points, as an editor counts them). */
function longLines(file: string, text: string, limit: number): string[] {
  return text.split('\n').flatMap((line, i) => {
    const length = [...line.replace(/\r$/, '')].length;
    return length > limit ? [`${file}:${i + 1} (${length} characters)`] : [];
  });
}

describe(`lines of at most ${printWidth} characters`, () => {
  it('finds a long line and names it by file and line number', () => {
    expect(longLines('x.ts', `short\n${'é'.repeat(141)}\n${'a'.repeat(140)}\r\n`, 140)).toEqual(['x.ts:2 (141 characters)']);
  });

  it('every .ts file of lib, pollers, bin, test and bench (and vitest.config.ts) keeps to printWidth', () => {
    const files = projectTsFiles();
    for (const dir of ['lib/', 'pollers/', 'bin/', 'test/', 'bench/']) {
      expect(
        files.some((file) => file.startsWith(dir)),
        `no .ts file found under ${dir}`,
      ).toBe(true);
    }
    expect(files).toContain('vitest.config.ts');
    const offenders = files.flatMap((file) => longLines(file, readFileSync(join(ROOT, file), 'utf8'), printWidth));
    expect(offenders, `split long strings with +, rewrap comments, name long regexes (${offenders.length} lines)`).toEqual([]);
  });
});
