// V8 flags belong on the launch line: every way this project starts a backfill carries them, and no command sets
// flags or exits the process itself at run time.
import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BACKFILL_NODE_FLAGS } from '../../../lib/cli/backfill-command.ts';

const ROOT = resolve(import.meta.dirname, '..', '..', '..');
const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');

/** The `node …` part before `bin/backfill.ts` on each line of `text` that starts a backfill. */
function backfillLaunches(text: string): string[] {
  return text
    .split('\n')
    .filter((line) => /^[^#;]*\bnode\b[^#;]*bin\/backfill\.ts/.test(line))
    .map((line) => line.slice(line.lastIndexOf('node ', line.indexOf('bin/backfill.ts')), line.indexOf('bin/backfill.ts')));
}

describe('a backfill is launched with its V8 flags', () => {
  it('by npm run backfill', () => {
    const scripts = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts;
    expect(backfillLaunches(scripts.backfill!)).toEqual([`node --import tsx ${BACKFILL_NODE_FLAGS.join(' ')} `]);
  });

  it('by its shebang', () => {
    expect(read('bin/backfill.ts').split('\n')[0]).toBe(`#!/usr/bin/env -S node --import tsx ${BACKFILL_NODE_FLAGS.join(' ')}`);
  });

  it('by every example that starts one (cron, supervisord, systemd, the README)', () => {
    const files = ['crontab.example', 'config/supervisord.example.conf', 'config/graphite-poller@.service', 'README.md'];
    const launches = files.flatMap((file) => backfillLaunches(read(file)).map((launch) => ({ file, launch })));
    // crontab.example starts two.
    expect(launches.filter((l) => l.file === 'crontab.example')).toHaveLength(2);
    for (const { file, launch } of launches) {
      for (const flag of BACKFILL_NODE_FLAGS) expect(launch, `${file}: ${launch}`).toContain(flag);
    }
  });
});

it('no command sets V8 flags or ends the process at run time', () => {
  const sources = readdirSync(join(ROOT, 'bin')).map((file) => `bin/${file}`);
  sources.push(...readdirSync(join(ROOT, 'lib', 'cli')).map((file) => `lib/cli/${file}`));
  for (const file of sources) {
    const code = read(file);
    expect(code, file).not.toMatch(/setFlagsFromString\(/);
    expect(code, file).not.toMatch(/process\.exit\(/);
  }
});
