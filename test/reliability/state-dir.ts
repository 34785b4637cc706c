// The state directory unwritable or full: one clear error line, and live polling goes on (every point reaches
// carbon); once the directory can be written again, the watermark is kept again.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, it, type TestContext } from 'vitest';
import { describeCarbon } from '../helpers/carbon.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { WAIT_MS } from '../helpers/wait-for.ts';
import {
  choose,
  compareHistory,
  count,
  expectedPoints,
  historyConfig,
  PollerProcess,
  report,
  ROOT,
  sleep,
  startCarbon,
} from './harness.ts';

const RUN_S = choose(6, 20);
const SERIES = 3;

/** A tmpfs of 64 KiB filled to the last block, or why none could be mounted (mounting needs root). */
function fullFileSystem(dir: string): { filler: string; unmount: () => void } | string {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir], { stdio: 'pipe' });
  } catch (error) {
    return `cannot mount a tmpfs: ${(error as Error).message.split('\n')[0]}`;
  }
  const filler = join(dir, 'filler');
  try {
    writeFileSync(filler, Buffer.alloc(1024 * 1024));
  } catch {
    // ENOSPC: full, as wanted.
  }
  return { filler, unmount: () => execFileSync('umount', [dir], { stdio: 'pipe' }) };
}

/** The state directory unwritable or full. */
export function stateDirectoryFaults(): void {
  describeCarbon('the state directory unwritable or full (real carbon-cache)', () => {
    const unmounts: Array<() => void> = [];
    afterAll(() => {
      for (const unmount of unmounts) unmount();
    });

    async function runJob(
      task: TestContext['task'],
      kind: string,
      stateDir: string,
      injected: string,
      errorsExpected: string,
      free?: () => void,
    ) {
      const carbon = await startCarbon();
      const work = tempDir(`rel-state-${kind}`);
      try {
        const config = historyConfig(work, kind, { series: SERIES, catchUp: '1h' });
        const job = PollerProcess.start(['bin/poll.ts', 'history', '--config', config], {
          GRAPHITE_URL: carbon.url,
          GRAPHITE_PREFIX: kind,
          STATE_DIR: stateDir,
          POLLERS_PATH: join(ROOT, 'test', 'helpers', 'pollers'),
          SELF_METRICS: '0',
        });
        await job.waitFor(() => job.fetchedWindows.length >= 2, WAIT_MS, 'the first runs');
        await sleep(RUN_S * 1000);
        // Errors only: on a busy machine a run may overrun and a warning say so, which is not the fault here.
        const errorsWhileBroken = job.logs.filter((l) => l.level === 'error');
        // The directory can be written again: the next delivered window is recorded.
        let recorded: number | undefined;
        if (free) {
          free();
          const file = join(stateDir, `${kind}.watermark.json`);
          await job
            .waitFor(() => existsSync(file) && readFileSync(file, 'utf8').length > 0, WAIT_MS, 'the watermark written again')
            .catch(() => undefined);
          recorded = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { deliveredUntil: number }).deliveredUntil : undefined;
        }
        const exit = await job.stop();
        expect(exit.code, job.tail()).toBe(0);
        const result = await compareHistory(carbon, kind, SERIES, expectedPoints(job.fetchedWindows, 1));
        const stray = existsSync(stateDir) ? readdirSync(stateDir).filter((name) => name.endsWith('.tmp')) : [];
        report(
          {
            section: 'State directory',
            fault: `state directory ${kind}`,
            injected,
            expected:
              `${errorsExpected}; ${count(result.expected)} points in carbon ` +
              `(polling goes on)${free ? '; the watermark kept again once writable' : ''}`,
            observed:
              `${errorsWhileBroken.length} error line${errorsWhileBroken.length === 1 ? '' : 's'} in ${RUN_S + 2} s: ` +
              `"${errorsWhileBroken.map((l) => `${l.msg} (${String(l.error)})`).join('", "')}"; ` +
              `${count(result.found)} points in carbon` +
              `${free ? `; watermark ${recorded ? 'written again after the space came back' : 'NOT written again'}` : ''}; ` +
              `${stray.length} stray temporary files`,
          },
          task,
        );
        return { job, errorsWhileBroken, result, recorded, stray };
      } finally {
        await carbon.destroy();
      }
    }

    it.concurrent(
      'unwritable (a file where the directory should be): a clear error when read and when written, polling goes on',
      async ({ task }: TestContext) => {
        const blocker = join(tempDir('rel-state-file'), 'state');
        writeFileSync(blocker, 'not a directory\n');
        const { errorsWhileBroken, result } = await runJob(
          task,
          'unwritable',
          join(blocker, 'jobs'),
          `STATE_DIR under a regular file (ENOTDIR) for ${RUN_S} s of a job sending ${SERIES} points/s with catch-up`,
          'a clear error line when the watermark is read, one when it is first written',
        );
        expect(errorsWhileBroken.map((l) => l.msg)).toEqual([
          'cannot read the watermark; starting without catch-up',
          'cannot write the watermark; polling goes on without it',
        ]);
        expect(String(errorsWhileBroken[1]!.error)).toMatch(/ENOTDIR/);
        expect(result.missing).toEqual([]);
        expect(result.wrong).toBe(0);
      },
      choose(180_000, 180_000),
    );

    it.concurrent(
      'full (ENOSPC): one clear error, polling goes on, the watermark is kept again once there is room',
      async ({ task }: TestContext) => {
        const dir = tempDir('rel-state-full');
        const full = fullFileSystem(dir);
        if (typeof full === 'string') {
          // Without the privilege to mount, a full disk cannot be made here; say so rather than pass quietly.
          if (process.env.CI === 'true') throw new Error(full);
          console.warn(`state directory full: skipped, ${full}`);
          return;
        }
        unmounts.push(full.unmount);
        const stateDir = join(dir, 'state');
        mkdirSync(stateDir);
        const { errorsWhileBroken, result, recorded, stray } = await runJob(
          task,
          'full',
          stateDir,
          `STATE_DIR on a 64 KiB tmpfs filled to the last block (ENOSPC) for ${RUN_S} s, then the filler removed`,
          'one clear error line',
          () => rmSync(full.filler),
        );
        expect(errorsWhileBroken.map((l) => l.msg)).toEqual(['cannot write the watermark; polling goes on without it']);
        expect(String(errorsWhileBroken[0]!.error)).toMatch(/ENOSPC/);
        expect(result.missing).toEqual([]);
        expect(result.wrong).toBe(0);
        expect(recorded).toBeGreaterThan(0);
        // A failed write leaves nothing behind (a temporary file per tick would fill the inodes too).
        expect(stray).toEqual([]);
      },
      choose(180_000, 180_000),
    );
  });
}
