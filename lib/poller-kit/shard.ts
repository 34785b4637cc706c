// One job split across processes: `--shard i/n` (or SHARD=i/n), and a stable hash giving every work item exactly one shard.
import { createHash } from 'node:crypto';
import { ConfigError } from './config-error.ts';

/** One share of a job split `count` ways. `index` counts from 0: `--shard 1/3` is `{ index: 0, count: 3 }`. */
export interface Shard {
  readonly index: number;
  readonly count: number;
}

export const MAX_SHARDS = 1024;

/**
 * `i/n` as users write it (1-based, like vitest's and jest's `--shard`): `1/2`, `2/2`. Throws an Error saying
 * what is expected; the commands turn it into a configuration error.
 */
export function parseShard(text: string): Shard {
  const match = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  const position = match ? Number(match[1]) : NaN;
  const count = match ? Number(match[2]) : NaN;
  if (!(count >= 1 && count <= MAX_SHARDS && position >= 1 && position <= count)) {
    throw new Error(`expected i/n with 1 ≤ i ≤ n ≤ ${MAX_SHARDS}, such as 1/2 or 2/2; got "${text}"`);
  }
  return { index: position - 1, count };
}

/** `i/n`, 1-based, as parseShard reads it. */
export function formatShard(shard: Shard): string {
  return `${shard.index + 1}/${shard.count}`;
}

/**
 * The shard (0 … count-1) of a work item, from a stable hash of its key: the same on every host, process and
 * Node version (SHA-256), so processes started with `1/n` … `n/n` over the same config poll every item exactly
 * once. Keys should name what an item is (an API query's identity), not where it sits in a list, so that
 * adding one item does not move the others. Changing `count` moves items between shards; that is harmless
 * for pollers (nothing is stored per item) but every process must use the same `count`.
 */
export function shardOf(key: string, count: number): number {
  if (count <= 1) return 0;
  // 48 bits of the digest: an integer a double holds exactly, so the modulo is exact and its bias negligible.
  return createHash('sha256').update(key).digest().readUIntBE(0, 6) % count;
}

/** Whether the item `key` is this shard's; everything is when the job is not sharded. */
export function inShard(key: string, shard: Shard | undefined): boolean {
  return !shard || shard.count <= 1 || shardOf(key, shard.count) === shard.index;
}

/**
 * The job name of one shard (`cloudwatch-shard1of3`): shards have their own watermark, backfill progress and
 * self-metrics, as each delivers only its share; an unsharded job keeps its name.
 */
export function shardJobName(job: string, shard: Shard | undefined): string {
  return shard && shard.count > 1 ? `${job}-shard${shard.index + 1}of${shard.count}` : job;
}

/**
 * The shard a command runs: `--shard i/n`, else SHARD=i/n from the environment, else none. A poller that does
 * not declare `sharding` cannot split its work, so asking it to is a configuration error (it would poll
 * everything in every shard). `1/1` is the whole job.
 */
export function commandShard(
  flag: string | undefined,
  env: NodeJS.ProcessEnv,
  poller: { name: string; sharding?: boolean | undefined },
): Shard | undefined {
  const fromFlag = flag !== undefined;
  const text = fromFlag ? flag : env.SHARD?.trim() || undefined;
  if (text === undefined) return undefined;
  const where = fromFlag ? { file: 'command line', field: '--shard' } : { file: 'environment', field: 'SHARD' };
  let shard: Shard;
  try {
    shard = parseShard(text);
  } catch (error) {
    throw new ConfigError((error as Error).message, where);
  }
  if (shard.count === 1) return undefined;
  if (!poller.sharding) throw new ConfigError(`the ${poller.name} poller cannot split its work across processes`, where);
  return shard;
}
