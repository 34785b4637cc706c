// Opening a job, shared by poll and backfill: loading, sharding, its writer (its own or a shared one), its context,
// and closing in order (writer, then poller), without touching the process.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { RuntimeEnvironment } from '../../../lib/config/environment.ts';
import { ConfigError } from '../../../lib/poller-kit/config-error.ts';
import { definePoller, type Poller } from '../../../lib/poller-kit/contract.ts';
import { silentLogger } from '../../../lib/poller-kit/logger.ts';
import { loadJob, openJob } from '../../../lib/run/open-job.ts';
import { FakeClock } from '../../helpers/fake-clock.ts';
import { createHistoryPoller } from '../../helpers/history-poller.ts';
import { MemoryWriter } from '../../helpers/memory-writer.ts';

let work: string;
beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), 'gp-open-job-'));
});
afterEach(() => rmSync(work, { recursive: true, force: true }));

function environment(extra: Partial<RuntimeEnvironment> = {}): RuntimeEnvironment {
  return {
    graphiteUrl: 'tcp://127.0.0.1:65535',
    prefix: 'pre',
    queueLimit: 1000,
    tags: false,
    stateDir: work,
    selfMetrics: true,
    logLevel: 'info',
    logFormat: 'text',
    shard: undefined,
    pollersPath: [],
    ...extra,
  };
}

/** A poller that records when it is closed, into `events`. */
function closingPoller(events: string[], sharding = false): Poller {
  return definePoller({
    name: 'closing',
    summary: 'test',
    options: z.strictObject({}),
    schedule: { interval: 60 },
    sharding,
    async poll() {},
    async close() {
      events.push('poller closed');
    },
  });
}

describe('loadJob', () => {
  it('refuses a poller without history when the job needs it, as a configuration error', async () => {
    const error = await loadJob({ poller: closingPoller([]), needsHistory: true }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).describe()).toMatch(/^command line: the closing poller has no history/);
  });

  it("names a shard's job after its share, from --shard or else SHARD", async () => {
    const poller = closingPoller([], true);
    const flag = await loadJob({ poller, shard: '2/3', env: {} });
    expect(flag.config.job).toBe('closing-shard2of3');
    expect(flag.shard).toMatchObject({ count: 3 });
    const fromEnv = await loadJob({ poller, env: { SHARD: '1/2' } });
    expect(fromEnv.config.job).toBe('closing-shard1of2');
    expect((await loadJob({ poller, env: {} })).config.job).toBe('closing');
  });
});

describe('openJob', () => {
  it('with a shared writer: writes to it with the prefix, and on close leaves it open but closes the poller', async () => {
    const events: string[] = [];
    const shared = new MemoryWriter();
    const loaded = await loadJob({ poller: closingPoller(events), env: {} });
    const job = openJob({ job: loaded, environment: environment(), log: silentLogger, writer: shared, clock: new FakeClock() });
    expect(job.writer).toBe(shared);
    expect(job.ownsWriter).toBe(false);
    expect(job.stateDir).toBe(work);
    expect(job.graphite).toBe('tcp://127.0.0.1:65535');
    job.context.sink.emit(['a', 'b'], 1, 100);
    expect(shared.lines).toEqual(['pre.a.b 1 100\n']);
    await job.close();
    expect(shared.closed).toBe(false);
    expect(events).toEqual(['poller closed']);
  });

  it('with its own writer: a dry run writes to stdout and keeps no state; close ends the writer, then the poller', async () => {
    const events: string[] = [];
    const loaded = await loadJob({ poller: closingPoller(events), env: {} });
    const job = openJob({ job: loaded, environment: environment(), log: silentLogger, dryRun: true, clock: new FakeClock() });
    expect(job.ownsWriter).toBe(true);
    expect(job.graphite).toBe('stdout (dry run)');
    expect(job.stateDir).toBeUndefined();
    const close = job.writer.close.bind(job.writer);
    job.writer.close = async () => {
      events.push('writer closed');
      await close();
    };
    await job.close();
    expect(events).toEqual(['writer closed', 'poller closed']);
    // A closed writer refuses to connect.
    expect(await job.writer.connect()).toBe(false);
  });

  it("opens a backfill's queue that waits instead of dropping, and a stop that is its own, not the process's", async () => {
    const loaded = await loadJob({ poller: createHistoryPoller(), env: {}, needsHistory: true });
    const job = openJob({
      job: loaded,
      environment: environment({ graphiteUrl: undefined, queueLimit: 4 }),
      log: silentLogger,
      queue: { readyLines: 2, overflow: 'grow' },
      clock: new FakeClock(),
    });
    const signals = process.listenerCount('SIGTERM');
    for (let i = 0; i < 10; i++) job.writer.write(`x ${i} 1\n`);
    // overflow 'grow': ten lines over a limit of four, none dropped.
    expect(job.writer.stats()).toMatchObject({ dropped: 0, queued: 10 });
    expect(job.context.job).toBe('history');
    expect(job.context.clock).toBeInstanceOf(FakeClock);
    job.stop.abort();
    expect(job.stop.signal.aborted).toBe(true);
    expect(process.listenerCount('SIGTERM')).toBe(signals);
    await job.writer.flush(1000);
    await job.close();
  });
});
