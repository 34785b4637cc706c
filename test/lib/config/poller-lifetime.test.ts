// Pollers with a lifetime: a file exporting a factory gives each job its own instance; the commands close it after
// the final flush; a poll's sleep runs on the runner's clock and ends with the run.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { z } from 'zod';
import { FakeClock } from '../../helpers/fake-clock.ts';
import { pollCommand } from '../../../lib/cli/poll-command.ts';
import { closePoller, loadPoller } from '../../../lib/config/poller-registry.ts';
import { definePoller } from '../../../lib/poller-kit/contract.ts';
import { pollWindow, type JobContext } from '../../../lib/run/poll-window.ts';
import { GraphiteSink } from '../../../lib/graphite/sink.ts';
import { StatsCollector } from '../../../lib/run/self-metrics.ts';
import { silentLogger } from '../../../lib/poller-kit/logger.ts';
import { MemoryWriter } from '../../helpers/memory-writer.ts';

const DIR = resolve(import.meta.dirname, '..', '..', 'fixtures', 'lifetime-pollers');
let work: string;
let saved: NodeJS.ProcessEnv;

beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), 'gp-lifetime-'));
  saved = { ...process.env };
  process.env.LIFETIME_LOG = join(work, 'events');
  process.env.POLLERS_PATH = DIR;
});
afterEach(() => {
  process.env = saved;
  rmSync(work, { recursive: true, force: true });
});

const events = () => readFileSync(join(work, 'events'), 'utf8').trim().split('\n');

it('a factory export gives a new instance on every load', async () => {
  const a = await loadPoller('lifetime', [DIR]);
  const b = await loadPoller('lifetime', [DIR]);
  expect(a).not.toBe(b);
  const made = events().filter((e) => e.startsWith('create'));
  expect(made).toHaveLength(2);
  expect(new Set(made).size).toBe(2);
});

it('poll --once closes its instance once, after the run', async () => {
  process.env.STATE_DIR = join(work, 'state');
  process.env.SELF_METRICS = '0';
  delete process.env.GRAPHITE_URL;
  const code = await pollCommand(['lifetime', '--once', '--dry-run'], silentLogger);
  expect(code).toBe(0);
  const mine = events();
  const instance = mine[0]!.split(' ')[1];
  expect(mine).toEqual([`create ${instance}`, `poll ${instance}`, `close ${instance}`]);
});

it('closePoller reports a failing close in one line instead of throwing', async () => {
  const lines: string[] = [];
  const poller = definePoller({
    name: 'broken-close',
    summary: 'x',
    options: z.strictObject({}),
    schedule: { interval: 60 },
    async poll() {},
    close() {
      throw new Error('pool already ended');
    },
  });
  await closePoller(poller, { error: (message) => lines.push(message) });
  expect(lines).toEqual(['closing the broken-close poller failed: pool already ended']);
});

it("a poll's sleep waits on the runner's clock and ends early when the run is aborted", async () => {
  const clock = new FakeClock({ start: 1_000_000 });
  const poller = await loadPoller('lifetime', [DIR]);
  const writer = new MemoryWriter();
  const job: JobContext = {
    poller,
    job: 'lifetime',
    options: { sleepMs: 30_000 },
    schedule: { interval: 60, delay: 0, lookback: 0 },
    sink: new GraphiteSink(writer),
    stats: new StatsCollector(),
    log: silentLogger,
    clock,
    fetch: globalThis.fetch,
  };
  const run = new AbortController();
  const result = pollWindow(job, { start: 940, end: 1000 }, 'live', run.signal);
  await clock.advance(29_999);
  expect(writer.lines).toHaveLength(0);
  await clock.advance(1);
  expect((await result).ok).toBe(true);
  expect(writer.lines).toHaveLength(1);

  const aborted = new AbortController();
  const second = pollWindow(job, { start: 1000, end: 1060 }, 'live', aborted.signal);
  aborted.abort(new Error('deadline'));
  const outcome = await second;
  expect(outcome.ok).toBe(false);
  expect((outcome.error as Error).message).toBe('deadline');
});
