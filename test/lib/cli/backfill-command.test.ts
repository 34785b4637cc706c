// bin/backfill.ts's command in-process on a fake clock: a Graphite that never takes the lines is waited for at most
// FINAL_FLUSH_MS after the last window, said at the progress cadence, and ends in a summary that counts the loss.
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterEach, expect, it, vi } from 'vitest';
import { backfillCommand, FINAL_FLUSH_MS } from '../../../lib/cli/backfill-command.ts';
import { createLogger } from '../../../lib/poller-kit/logger.ts';
import { FakeClock } from '../../helpers/fake-clock.ts';
import { ROOT } from '../../helpers/run-command.ts';
import { tempDir } from '../../helpers/temp-dir.ts';

/** A port nothing listens on: the OS picked it for a server that is closed again. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

afterEach(() => {
  vi.unstubAllEnvs();
});

it('Graphite never takes the lines: waiting lines at the cadence, then the loss in the summary, no window recorded, exit 1', async () => {
  const port = await closedPort();
  const work = tempDir('backfill-command');
  const config = join(work, 'history.yaml');
  writeFileSync(config, 'series: 2\nmaxWindow: 3600\n');
  vi.stubEnv('GRAPHITE_URL', `tcp://127.0.0.1:${port}`);
  vi.stubEnv('STATE_DIR', join(work, 'state'));
  vi.stubEnv('POLLERS_PATH', join(ROOT, 'test/helpers/pollers'));
  // Real I/O (loading the poller, connection attempts) may take a while on a busy host before the first fake sleep.
  const clock = new FakeClock({ start: '2026-03-01T12:00:00Z', idleWaitMs: 20_000 });
  const lines: string[] = [];
  const log = createLogger({ write: (line) => lines.push(line), secrets: [], now: () => clock.now() });

  const args = ['history', '--from', '2026-03-01T06:00:00Z', '--to', '2026-03-01T10:00:00Z', '--config', config, '--progress-every', '30s'];
  const code = await clock.runUntilSettled(backfillCommand(args, log, { clock }));

  const target = `tcp://127.0.0.1:${port}`;
  const own = lines.filter((line) => !line.includes('component=graphite')).map((line) => line.replace(/^\S+ /, ''));
  expect(own.slice(1), lines.join('\n')).toEqual([
    expect.stringMatching(/^INFO {2}backfill progress windows=4\/4 datapoints=480 /),
    `INFO  4/4 windows fetched, 480 datapoints waiting for Graphite at ${target}, 30s`,
    `INFO  4/4 windows fetched, 480 datapoints waiting for Graphite at ${target}, 1m`,
    `INFO  4/4 windows fetched, 480 datapoints waiting for Graphite at ${target}, 1m30s`,
    'INFO  backfill finished with failures: 4 windows (0 already done, 4 fetched, 0 failed), ' +
      '480 datapoints (480 did not reach Graphite), 4 API calls, 2m',
    `ERROR 480 datapoints did not reach Graphite at ${target} (it took none for 2m); ` +
      '4 windows are not recorded and run again next time',
    'INFO  run the same command again to finish the rest',
  ]);
  expect(FINAL_FLUSH_MS).toBe(120_000);
  expect(code).toBe(1);
  const record = JSON.parse(readFileSync(join(work, 'state', 'history.backfill.json'), 'utf8')) as { done: string[]; complete: boolean };
  expect(record).toMatchObject({ done: [], complete: false });
});
