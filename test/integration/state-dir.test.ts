// A STATE_DIR that cannot be created (under /proc, where Node 20's recursive mkdir spins forever, deaf to SIGTERM):
// the commands finish promptly with one clear error line instead of hanging.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, runCommand } from '../helpers/run-command.ts';
import { tempDir } from '../helpers/temp-dir.ts';

/** Long enough for tsx to start on a busy 2-core host; the old code never finished at all. */
const KILL_AFTER_MS = 40_000;
const STATE_DIR = '/proc/nope';
const REASON = 'cannot create the directory /proc/nope: its parent exists but takes no new directories';

const errorLines = (stderr: string) => stderr.split('\n').filter((line) => / ERROR /.test(line));

describe.runIf(existsSync('/proc/self'))(`STATE_DIR=${STATE_DIR}`, () => {
  it(
    'poll.ts host --once: polls, says once that the watermark cannot be written, exits',
    async () => {
      const result = await runCommand(['bin/poll.ts', 'host', '--once'], {
        env: { STATE_DIR, GRAPHITE_URL: '-', SELF_METRICS: '0' },
        timeoutMs: KILL_AFTER_MS,
      });
      expect(result.signal, 'killed: the command hung').toBeNull();
      expect(result.code, result.stderr).toBe(0);
      const errors = errorLines(result.stderr);
      expect(errors, result.stderr).toHaveLength(1);
      expect(errors[0]).toContain('cannot write the watermark; polling goes on without it');
      expect(errors[0]).toContain(`${REASON} (a pseudo file system such as /proc or /sys) (ENOENT)`);
      expect(result.stdout).toMatch(/^host\./m);
    },
    KILL_AFTER_MS + 10_000,
  );

  it(
    'backfill.ts: every window sent, one line saying that progress cannot be recorded, exits',
    async () => {
      const config = join(tempDir('state-dir'), 'history.yaml');
      // Five whole hours ending at least an hour ago: five windows of the history poller, whatever the date.
      const from = (Math.floor(Date.now() / 3_600_000) - 6) * 3600;
      const iso = (seconds: number) => new Date(seconds * 1000).toISOString();
      writeFileSync(config, 'maxWindow: 3600\n');
      const result = await runCommand(
        ['bin/backfill.ts', 'history', '--from', iso(from), '--to', iso(from + 5 * 3600), '--config', config],
        {
          env: { STATE_DIR, GRAPHITE_URL: '-', POLLERS_PATH: join(ROOT, 'test/helpers/pollers') },
          timeoutMs: KILL_AFTER_MS,
        },
      );
      expect(result.signal, 'killed: the command hung').toBeNull();
      expect(result.code, result.stderr).toBe(0);
      const errors = errorLines(result.stderr);
      expect(errors, result.stderr).toHaveLength(1);
      expect(errors[0]).toContain('cannot record backfill progress; an interrupted run would fetch its windows again');
      expect(errors[0]).toContain(REASON);
      expect(result.stderr).toContain('backfill done: 5 windows (0 already done, 5 fetched, 0 failed), 300 datapoints');
    },
    KILL_AFTER_MS + 10_000,
  );
});
