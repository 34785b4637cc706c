// Several jobs in one process on a fake clock: a job that throws, hangs or sleeps on a quota never delays another's
// tick; a configuration mistake or a runner bug ends only its own job; a changed job restarts after its run.
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { JobConfig } from '../../../lib/config/job-config.ts';
import { readEnvironment } from '../../../lib/config/environment.ts';
import { ConfigError } from '../../../lib/poller-kit/config-error.ts';
import { definePoller, type PollContext, type Poller } from '../../../lib/poller-kit/contract.ts';
import { createLogger } from '../../../lib/poller-kit/logger.ts';
import { JobSet } from '../../../lib/run/job-set.ts';
import type { LoadedJob } from '../../../lib/run/open-job.ts';
import { FakeClock } from '../../helpers/fake-clock.ts';
import { MemoryWriter } from '../../helpers/memory-writer.ts';

const START = Date.UTC(2026, 0, 1, 12, 0, 0); // on a boundary of every interval below
const INTERVAL = 10;

/** A poller whose run does `body`; every run is recorded with the clock's time when it started and ended. */
function recordingPoller(
  name: string,
  clock: FakeClock,
  body: (ctx: PollContext<Record<string, never>>) => Promise<void> = async () => {},
) {
  const runs: Array<{ tick: number; startedAt: number; endedAt?: number }> = [];
  let closed = 0;
  const poller: Poller = definePoller({
    name,
    summary: 'test',
    options: z.strictObject({}),
    schedule: { interval: INTERVAL },
    async poll(ctx) {
      const run: (typeof runs)[number] = { tick: ctx.window.end * 1000, startedAt: clock.now() };
      runs.push(run);
      try {
        ctx.sink.emit([name, 'value'], 1, ctx.window.end);
        await body(ctx);
      } finally {
        run.endedAt = clock.now();
      }
    },
    close: async () => void closed++,
  });
  return { poller, runs, closed: () => closed };
}

function job(poller: Poller, name: string, extra: Partial<JobConfig> = {}): LoadedJob {
  const config: JobConfig = {
    file: `jobs/${name}.yaml`,
    job: name,
    options: {},
    schedule: { interval: INTERVAL, delay: 0, lookback: 0 },
    runTimeout: INTERVAL,
    catchUp: 0,
    ...extra,
  };
  return { poller, config, shard: undefined };
}

function setup() {
  const clock = new FakeClock({ start: START });
  const writer = new MemoryWriter();
  const logged: string[] = [];
  const log = createLogger({ write: (line) => void logged.push(line), secrets: [] });
  const set = new JobSet({ writer, environment: readEnvironment({}), log, clock, dryRun: true });
  return { clock, writer, logged, set };
}

/** The boundaries from START on, `count` of them. */
const boundaries = (count: number) => Array.from({ length: count }, (_, i) => START + i * INTERVAL * 1000);

describe('JobSet: each job is its own loop', () => {
  it('jobs that throw, hang past their deadline, ignore their signal or sleep on a quota never delay the on-time job', async () => {
    const { clock, writer, set } = setup();
    const onTime = recordingPoller('ontime', clock);
    const throws = recordingPoller('throws', clock, async () => {
      throw new Error('the source answered 500');
    });
    // A request that hangs until the run's deadline aborts it (30 s: three of the on-time job's intervals).
    const hangs = recordingPoller(
      'hangs',
      clock,
      (ctx) => new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason))),
    );
    // A run that never settles, whatever its signal says.
    const stuck = recordingPoller('stuck', clock, () => new Promise(() => {}));
    // A quota wait on the runner's clock: 25 s, within its 60 s deadline.
    const quota = recordingPoller('quota', clock, (ctx) => ctx.sleep(25_000));
    set.start('jobs/throws.yaml', 't', job(throws.poller, 'throws'));
    set.start('jobs/hangs.yaml', 'h', job(hangs.poller, 'hangs', { runTimeout: 30 }));
    set.start('jobs/stuck.yaml', 's', job(stuck.poller, 'stuck'));
    set.start('jobs/quota.yaml', 'q', job(quota.poller, 'quota', { runTimeout: 60 }));
    set.start('jobs/ontime.yaml', 'o', job(onTime.poller, 'ontime'));

    await clock.advance(60_000);
    // Seven boundaries from 12:00:00 to 12:01:00, each run started exactly at its boundary.
    expect(onTime.runs.map((r) => r.startedAt)).toEqual(boundaries(7));
    expect(onTime.runs.map((r) => r.tick)).toEqual(boundaries(7));
    // The thrower keeps ticking on its own boundaries too.
    expect(throws.runs.map((r) => r.startedAt)).toEqual(boundaries(7));
    // The others ran on their own terms: the hung one ends at its deadline and skips the boundaries it overran.
    expect(hangs.runs.map((r) => r.startedAt)).toEqual([START, START + 40_000]);
    expect(hangs.runs[0]!.endedAt).toBe(START + 30_000);
    expect(stuck.runs).toHaveLength(1);
    expect(quota.runs.map((r) => r.startedAt)).toEqual([START, START + 30_000, START + 60_000]);
    // Every on-time window's point is in the shared writer, with the job's self-metrics.
    const series = writer.series(() => true);
    expect(series['ontime.value']!.map(([t]) => t * 1000)).toEqual(boundaries(7));
    expect(series['pollers.ontime.errors']!.map(([, v]) => v)).toEqual([0, 0, 0, 0, 0, 0, 0]);
    expect(series['pollers.throws.errors']!.map(([, v]) => v)).toEqual([1, 1, 1, 1, 1, 1, 1]);

    set.stopAll();
    await clock.runUntilSettled(set.idle());
    const outcomes = new Map(set.outcomes().map((o) => [o.job, o]));
    expect(outcomes.get('ontime')).toMatchObject({ runs: 7, errors: 0 });
    expect(outcomes.get('throws')).toMatchObject({ runs: 7, errors: 7 });
    expect(outcomes.get('hangs')!.errors).toBeGreaterThanOrEqual(2);
    await set.close();
    expect([onTime, throws, hangs, stuck, quota].map((p) => p.closed())).toEqual([1, 1, 1, 1, 1]);
  });

  it('a configuration mistake found by a run stops that job only, logged once, and its outcome says so', async () => {
    const { clock, set, logged } = setup();
    const onTime = recordingPoller('ontime', clock);
    const misconfigured = recordingPoller('creds', clock, async () => {
      throw new ConfigError('no credentials found (set AWS_PROFILE)', { field: 'profile' });
    });
    set.start('jobs/creds.yaml', 'c', job(misconfigured.poller, 'creds'));
    set.start('jobs/ontime.yaml', 'o', job(onTime.poller, 'ontime'));
    await clock.advance(30_000);
    expect(misconfigured.runs).toHaveLength(1);
    expect(onTime.runs.map((r) => r.startedAt)).toEqual(boundaries(4));
    const errors = logged.filter((line) => / ERROR /.test(line));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/jobs\/creds\.yaml: profile: no credentials found .*the job creds stopped; the other jobs go on/);
    set.stopAll();
    await clock.runUntilSettled(set.idle());
    expect(set.outcomes().find((o) => o.job === 'creds')!.configError).toBeInstanceOf(ConfigError);
    expect(set.outcomes().find((o) => o.job === 'ontime')!.configError).toBeUndefined();
  });

  it('a runner bug ends that job only, with its stack logged', async () => {
    const { clock, set, logged } = setup();
    const onTime = recordingPoller('ontime', clock);
    const broken = recordingPoller('broken', clock);
    // An interval of 0 cannot come from a validated file: the schedule refuses it, as any bug in the runner would throw.
    set.start('jobs/broken.yaml', 'b', job(broken.poller, 'broken', { schedule: { interval: 0, delay: 0, lookback: 0 } }));
    set.start('jobs/ontime.yaml', 'o', job(onTime.poller, 'ontime'));
    await clock.advance(20_000);
    expect(onTime.runs).toHaveLength(3);
    expect(logged.join('\n')).toMatch(/ERROR the job broken ended on an error: runSchedule: intervalMs .* stack=/);
    set.stopAll();
    await clock.runUntilSettled(set.idle());
    expect(set.outcomes().find((o) => o.job === 'broken')!.crashed).toBeInstanceOf(RangeError);
  });

  it('a changed job restarts only after its current run has ended; a removed one stops after its run and closes its poller', async () => {
    const { clock, set } = setup();
    const slow = recordingPoller('slow', clock, (ctx) => ctx.sleep(2000));
    const changed = recordingPoller('slow', clock);
    const other = recordingPoller('other', clock, (ctx) => ctx.sleep(1000));
    set.start('jobs/slow.yaml', 'v1', job(slow.poller, 'slow'));
    set.start('jobs/other.yaml', 'o', job(other.poller, 'other'));
    await clock.advance(10_500); // the second runs are in flight
    set.start('jobs/slow.yaml', 'v2', job(changed.poller, 'slow'));
    set.remove('jobs/other.yaml');
    expect(set.text('jobs/slow.yaml')).toBe('v2');
    expect(set.keys).toEqual(['jobs/slow.yaml']);
    await clock.advance(20_000);
    // The old version's run in flight finished (not aborted: it ended within the stop grace) before the new one began.
    expect(slow.runs).toHaveLength(2);
    expect(slow.runs[1]!.endedAt).toBe(START + 12_000);
    expect(slow.closed()).toBe(1);
    expect(changed.runs[0]!.startedAt).toBeGreaterThanOrEqual(slow.runs[1]!.endedAt!);
    expect(changed.runs.map((r) => r.tick)).toEqual([START + 10_000, START + 20_000, START + 30_000]);
    expect(other.runs).toHaveLength(2);
    expect(other.runs[1]!.endedAt).toBe(START + 11_000);
    expect(other.closed()).toBe(1);
    set.stopAll();
    await clock.runUntilSettled(set.idle());
    await set.close();
    expect(changed.closed()).toBe(1);
    expect(slow.closed()).toBe(1);
  });
});
