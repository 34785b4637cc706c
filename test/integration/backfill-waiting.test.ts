// bin/backfill.ts against a Graphite that accepts nothing (a closed port): it says at its progress cadence what it
// waits for instead of going quiet after the last window, and a SIGTERM ends the wait with the loss counted.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { ROOT } from '../helpers/run-command.ts';
import { tempDir } from '../helpers/temp-dir.ts';

/** A port nothing listens on: the OS picked it for a server that is closed again. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Generous: tsx starts slowly on a busy 2-core host. */
const WAIT_MS = 45_000;

it(
  'logs what it waits for at --progress-every while Graphite takes nothing; SIGTERM: exit 1, the loss counted',
  async () => {
    const port = await closedPort();
    const work = tempDir('backfill-waiting');
    const config = join(work, 'history.yaml');
    writeFileSync(config, 'series: 3\nmaxWindow: 3600\n');
    // Four whole hours ending at least an hour ago: four windows, whatever the date.
    const from = (Math.floor(Date.now() / 3_600_000) - 5) * 3600;
    const iso = (seconds: number) => new Date(seconds * 1000).toISOString();
    const range = ['--from', iso(from), '--to', iso(from + 4 * 3600)];
    const args = ['bin/backfill.ts', 'history', ...range, '--config', config, '--progress-every', '200ms'];
    const child = spawn(process.execPath, ['--import', 'tsx', ...args], {
      cwd: ROOT,
      env: {
        ...process.env,
        LOG_LEVEL: 'info',
        GRAPHITE_URL: `tcp://127.0.0.1:${port}`,
        STATE_DIR: join(work, 'state'),
        POLLERS_PATH: join(ROOT, 'test/helpers/pollers'),
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const killer = setTimeout(() => child.kill('SIGKILL'), WAIT_MS);
    let stderr = '';
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    const waiting = `4/4 windows fetched, 720 datapoints waiting for Graphite at tcp://127.0.0.1:${port}, `;
    try {
      // Two waiting lines in a row: the wait is told again and again, not once.
      const told = await new Promise<boolean>((resolve) => {
        child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
          stderr += chunk;
          if (stderr.split(waiting).length > 2) resolve(true);
        });
        void exited.then(() => resolve(false));
      });
      expect(told, stderr).toBe(true);
      child.kill('SIGTERM');
      const code = await exited;
      const lines = stderr.split('\n');
      const progress = lines.findIndex((line) => line.includes('backfill progress windows=4/4 datapoints=720'));
      const firstWaiting = lines.findIndex((line) => line.includes(waiting));
      expect(progress, stderr).toBeGreaterThanOrEqual(0);
      expect(firstWaiting, stderr).toBeGreaterThan(progress);
      expect(lines[firstWaiting]).toMatch(new RegExp(` INFO  ${waiting.replaceAll('.', '\\.')}\\d+s$`));
      expect(stderr).toContain('backfill interrupted: 4 windows (0 already done, 4 fetched, 0 failed), 720 datapoints (720 did not reach');
      expect(stderr).toContain(`ERROR 720 datapoints did not reach Graphite at tcp://127.0.0.1:${port} before exit; 4 windows are not`);
      expect(code, stderr).toBe(1);
    } finally {
      clearTimeout(killer);
      child.kill('SIGKILL');
    }
  },
  WAIT_MS + 15_000,
);
