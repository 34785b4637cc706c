// Shard assignment: parsing `i/n`, and a hash that is stable, complete and disjoint.
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { systemClock } from '../../../lib/poller-kit/clock.ts';
import { isConfigError } from '../../../lib/poller-kit/config-error.ts';
import { GraphiteSink } from '../../../lib/graphite/sink.ts';
import { silentLogger } from '../../../lib/poller-kit/logger.ts';
import { pollWindow } from '../../../lib/run/poll-window.ts';
import { definePoller, type PollContext } from '../../../lib/poller-kit/contract.ts';
import { StatsCollector } from '../../../lib/run/self-metrics.ts';
import {
  commandShard,
  formatShard,
  inShard,
  MAX_SHARDS,
  parseShard,
  shardJobName,
  shardOf,
  type Shard,
} from '../../../lib/poller-kit/shard.ts';
import { MemoryWriter } from '../../helpers/memory-writer.ts';

const keys = Array.from({ length: 10_000 }, (_, i) =>
  JSON.stringify(['eu-west-1', 'AWS/EC2', 'CPUUtilization', [['InstanceId', `i-${i}`]], 'Average', 60]),
);

describe('parseShard', () => {
  it('reads i/n, 1-based, into a 0-based index', () => {
    expect(parseShard('1/2')).toEqual({ index: 0, count: 2 });
    expect(parseShard('2/2')).toEqual({ index: 1, count: 2 });
    expect(parseShard(' 3 / 7 ')).toEqual({ index: 2, count: 7 });
    expect(parseShard('1/1')).toEqual({ index: 0, count: 1 });
    expect(formatShard(parseShard('3/7'))).toBe('3/7');
  });

  it.each(['0/2', '3/2', '1/0', '2', 'a/b', '-1/2', '1.5/2', '', `1/${MAX_SHARDS + 1}`])('refuses %j, saying what it expects', (text) => {
    expect(() => parseShard(text)).toThrow(/^expected i\/n with 1 ≤ i ≤ n ≤ 1024, such as 1\/2 or 2\/2; got "/);
  });
});

describe('shardOf', () => {
  it('is stable: the same key always lands on the same shard (pinned values: a change would reshuffle running fleets)', () => {
    expect(['a', 'b', 'c', 'd', 'e', 'f'].map((k) => shardOf(k, 5))).toEqual(PINNED);
  });

  it.each([2, 3, 5, 16])('is complete and disjoint over %i shards, and roughly even', (count) => {
    const owners = keys.map((key) => Array.from({ length: count }, (_, index) => index).filter((index) => inShard(key, { index, count })));
    // Every key in exactly one shard.
    expect(owners.every((o) => o.length === 1)).toBe(true);
    const sizes = Array.from({ length: count }, (_, index) => owners.filter((o) => o[0] === index).length);
    expect(sizes.reduce((a, b) => a + b)).toBe(keys.length);
    for (const size of sizes) expect(Math.abs(size - keys.length / count)).toBeLessThan((keys.length / count) * 0.1);
  });

  it('puts everything in the one shard when the job is not split', () => {
    expect(keys.every((k) => inShard(k, undefined) && inShard(k, { index: 0, count: 1 }) && shardOf(k, 1) === 0)).toBe(true);
  });

  it('does not depend on the other keys: adding items leaves the others where they were', () => {
    const before = keys.slice(0, 100).map((k) => shardOf(k, 4));
    const after = [...keys.slice(0, 100), 'new item'].map((k) => shardOf(k, 4)).slice(0, 100);
    expect(after).toEqual(before);
  });
});

describe('shardJobName', () => {
  it('gives each shard its own job name (state files, self-metrics), and leaves an unsplit job alone', () => {
    expect(shardJobName('cloudwatch', { index: 1, count: 3 })).toBe('cloudwatch-shard2of3');
    expect(shardJobName('cloudwatch', { index: 0, count: 1 })).toBe('cloudwatch');
    expect(shardJobName('cloudwatch', undefined)).toBe('cloudwatch');
  });
});

// SHA-256 of each letter, first 48 bits, modulo 5.
describe('commandShard', () => {
  const splittable = { name: 'cloudwatch', sharding: true };

  it('takes --shard, else SHARD from the environment, else none; 1/1 is the whole job', () => {
    expect(commandShard('2/3', { SHARD: '1/2' }, splittable)).toEqual({ index: 1, count: 3 });
    expect(commandShard(undefined, { SHARD: '1/2' }, splittable)).toEqual({ index: 0, count: 2 });
    expect(commandShard(undefined, { SHARD: ' ' }, splittable)).toBeUndefined();
    expect(commandShard(undefined, {}, splittable)).toBeUndefined();
    expect(commandShard('1/1', {}, { name: 'host' })).toBeUndefined();
  });

  it('reports a bad value, or a poller that cannot split its work, as a configuration error naming where it came from', () => {
    const error = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        return isConfigError(e) ? e.describe() : `not a ConfigError: ${String(e)}`;
      }
      return undefined;
    };
    expect(error(() => commandShard('3/2', {}, splittable))).toBe(
      'command line: --shard: expected i/n with 1 ≤ i ≤ n ≤ 1024, such as 1/2 or 2/2; got "3/2"',
    );
    expect(error(() => commandShard(undefined, { SHARD: 'half' }, splittable))).toMatch(/^environment: SHARD: expected i\/n/);
    expect(error(() => commandShard('1/2', {}, { name: 'host' }))).toBe(
      'command line: --shard: the host poller cannot split its work across processes',
    );
  });
});

describe('the shard reaches the poller', () => {
  it("pollWindow hands the job's shard to poll (and nothing when the job is not split)", async () => {
    const seen: Array<Shard | undefined> = [];
    const poller = definePoller({
      name: 'split',
      summary: 'records its shard',
      options: z.strictObject({}),
      schedule: { interval: 60 },
      sharding: true,
      async poll(ctx: PollContext<object>) {
        seen.push(ctx.shard);
      },
    });
    const job = {
      poller,
      job: 'split-shard2of3',
      options: {},
      schedule: { interval: 60, delay: 0, lookback: 0 },
      sink: new GraphiteSink(new MemoryWriter()),
      stats: new StatsCollector(),
      log: silentLogger,
      clock: systemClock,
      fetch: globalThis.fetch,
    };
    const window = { start: 0, end: 60 };
    await pollWindow({ ...job, shard: { index: 1, count: 3 } }, window, 'live', new AbortController().signal);
    await pollWindow(job, window, 'live', new AbortController().signal);
    expect(seen).toEqual([{ index: 1, count: 3 }, undefined]);
  });
});

const PINNED = [4, 3, 2, 0, 2, 0];
