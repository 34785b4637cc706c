// bin/backfill.ts into a real carbon-cache: a range reads back complete from whisper, and a backfill killed
// with SIGKILL halfway finishes on the second run, which fetches only the windows the first had not recorded.
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Carbon, describeCarbon } from '../helpers/carbon.ts';
import { historyValue } from '../helpers/history-poller.ts';
import { ROOT, runCommand } from '../helpers/run-command.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const DAY = 86400;

function fetchedWindows(stderr: string): number[] {
  return [...stderr.matchAll(/^fetched-window (\d+) (\d+)$/gm)].map((m) => Number(m[1]));
}

describeCarbon('bin/backfill.ts into a real carbon-cache', () => {
  let carbon: Carbon;
  let work: string;
  const from = Math.floor(Date.now() / 1000 / DAY) * DAY - 3 * DAY;
  const iso = (t: number) => new Date(t * 1000).toISOString();

  beforeAll(async () => {
    // One 60 s archive for 30 days: the whole range is readable at full resolution.
    carbon = await Carbon.start({ retentions: '60s:30d' });
    work = tempDir('backfill');
  });
  afterAll(async () => {
    await carbon?.destroy();
  });

  const env = (stateDir: string, prefix: string) => ({
    GRAPHITE_URL: carbon.url,
    STATE_DIR: join(work, stateDir),
    POLLERS_PATH: join(ROOT, 'test/helpers/pollers'),
    GRAPHITE_PREFIX: prefix,
  });

  it('a range of a few thousand points reads back complete', async () => {
    const config = join(work, 'plain.yaml');
    writeFileSync(config, 'series: 3\nmaxWindow: 7200\n');
    const result = await runCommand(
      ['bin/backfill.ts', 'history', '--from', iso(from), '--to', iso(from + DAY), '--config', config, '--concurrency', '3'],
      {
        env: env('state-plain', 'plain'),
      },
    );
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/backfill done: 12 windows \(0 already done, 12 fetched, 0 failed\), 4320 datapoints, 12 API calls/);
    await carbon.flush();
    for (const series of [0, 1, 2]) {
      const points = await carbon.fetch(`plain.history.s${series}`, from - 60, from + DAY);
      expect(points).toEqual(Array.from({ length: 1440 }, (_, i) => [from + i * 60, historyValue(from + i * 60, series)]));
    }
  });

  it('killed with SIGKILL halfway, the same command finishes the rest and nothing is missing', async () => {
    const config = join(work, 'killed.yaml');
    writeFileSync(config, 'series: 2\nmaxWindow: 3600\nwindowDelayMs: 250\n');
    const args = ['bin/backfill.ts', 'history', '--from', iso(from), '--to', iso(from + DAY), '--config', config, '--concurrency', '2'];
    const environment = { ...process.env, ...env('state-killed', 'killed') };

    // First run: killed with SIGKILL once about a third of the windows are fetched.
    const first = spawn(process.execPath, ['--import', 'tsx', ...args], {
      cwd: ROOT,
      env: environment,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let firstErr = '';
    await new Promise<void>((resolve) => {
      first.stderr.setEncoding('utf8').on('data', (chunk: string) => {
        firstErr += chunk;
        if (fetchedWindows(firstErr).length >= 8 && first.exitCode === null && !first.killed) {
          first.kill('SIGKILL');
          resolve();
        }
      });
    });
    await new Promise((resolve) => first.on('exit', resolve));
    const record = JSON.parse(readFileSync(join(work, 'state-killed', 'killed.backfill.json'), 'utf8')) as {
      done: string[];
      complete: boolean;
    };
    const recorded = record.done.map((key) => Number(key.split('-')[0]));
    expect(record.complete).toBe(false);
    expect(recorded.length).toBeGreaterThan(0);
    expect(recorded.length).toBeLessThan(24);

    // Second run: the same command.
    const second = await runCommand(args, { env: env('state-killed', 'killed') });
    expect(second.code, second.stderr).toBe(0);
    expect(second.stderr).toContain(`resuming the interrupted backfill`);
    const refetched = fetchedWindows(second.stderr);
    expect(refetched.filter((start) => recorded.includes(start))).toEqual([]);
    expect(new Set([...recorded, ...refetched]).size).toBe(24);

    await carbon.flush();
    for (const series of [0, 1]) {
      const points = await carbon.fetch(`killed.history.s${series}`, from - 60, from + DAY);
      expect(points.map(([t]) => t)).toEqual(Array.from({ length: 1440 }, (_, i) => from + i * 60));
      expect(points.every(([t, v]) => v === historyValue(t, series))).toBe(true);
    }
  });
});
