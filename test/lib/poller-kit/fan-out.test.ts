// fanOut: the parts that work deliver, the rest fail the run in one line; a ConfigError or an abort wins.
import { expect, it } from 'vitest';
import { ConfigError } from '../../../lib/poller-kit/config-error.ts';
import { fanOut, PartialFailure } from '../../../lib/poller-kit/fan-out.ts';

const label = (n: number) => `part ${n}`;

it('every part runs; two failures become one line naming both, after the others delivered', async () => {
  const delivered: number[] = [];
  const counted: number[] = [];
  const run = fanOut(
    [1, 2, 3, 4, 5],
    async (n) => {
      if (n === 2 || n === 4) throw new Error(`boom ${n}`);
      delivered.push(n);
    },
    { label, noun: 'parts', onFailure: (n) => counted.push(n) },
  );
  const error = await run.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(PartialFailure);
  expect((error as Error).message).toBe('2 of 5 parts failed: part 2: boom 2; part 4: boom 4');
  expect(delivered.sort()).toEqual([1, 3, 5]);
  expect(counted.sort()).toEqual([2, 4]);
});

it('never runs more parts at once than its concurrency', async () => {
  let running = 0;
  let most = 0;
  await fanOut(
    Array.from({ length: 20 }, (_, i) => i),
    async () => {
      most = Math.max(most, ++running);
      await new Promise((resolve) => setImmediate(resolve));
      running--;
    },
    { label, noun: 'parts', concurrency: 3 },
  );
  expect(most).toBe(3);
});

it('a ConfigError from one part is thrown as it is, and parts not yet started are not started', async () => {
  const started: number[] = [];
  const wrong = new ConfigError('no credentials', { field: 'token' });
  const error = await fanOut(
    [1, 2, 3, 4],
    async (n) => {
      started.push(n);
      if (n === 1) throw wrong;
      throw new Error('other');
    },
    { label, noun: 'parts', concurrency: 1 },
  ).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBe(wrong);
  expect(started).toEqual([1]);
});

it('an abort wins over the parts it made fail, and stops parts from starting', async () => {
  const controller = new AbortController();
  const started: number[] = [];
  const error = await fanOut(
    [1, 2, 3],
    async (n, signal) => {
      started.push(n);
      controller.abort(new Error('deadline'));
      signal?.throwIfAborted();
    },
    { label, noun: 'parts', concurrency: 1, signal: controller.signal },
  ).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect((error as Error).message).toBe('deadline');
  expect(started).toEqual([1]);
});

it('resolves when every part succeeded, and with no parts at all', async () => {
  await expect(fanOut([1, 2], async () => {}, { label, noun: 'parts' })).resolves.toBeUndefined();
  await expect(fanOut([], async () => {}, { label, noun: 'parts' })).resolves.toBeUndefined();
});

const countingStats = () => {
  const counters: Record<string, number> = {};
  return { counters, count: (name: string, n = 1) => void (counters[name] = (counters[name] ?? 0) + n), gauge() {} };
};

it('counts each failed part in parts_failed, and keeps the parts in the PartialFailure with the total', async () => {
  const stats = countingStats();
  const error = await fanOut(
    [1, 2, 3],
    async (n) => {
      if (n !== 2) throw new Error(`boom ${n}`);
    },
    { label, noun: 'parts', stats },
  ).then(
    () => undefined,
    (e: unknown) => e as PartialFailure<number>,
  );
  expect(stats.counters).toEqual({ parts_failed: 2 });
  expect(error?.total).toBe(3);
  expect(error?.failures.map((f) => [f.item, f.label])).toEqual([
    [1, 'part 1'],
    [3, 'part 3'],
  ]);
});

it("summary 'first' names the failed parts and quotes the first message once; without labels, only messages", async () => {
  const fail = async (n: number) => {
    if (n > 1) throw new Error(`refused ${n}`);
  };
  const first = await fanOut([1, 2, 3], fail, { label, noun: 'pairs', summary: 'first', concurrency: 1 }).catch((e: Error) => e.message);
  expect(first).toBe('2 of 3 pairs failed (part 2; part 3): refused 2');
  const unnamed = await fanOut([1, 2, 3], fail, { noun: 'calls', summary: 'first', concurrency: 1 }).catch((e: Error) => e.message);
  expect(unnamed).toBe('2 of 3 calls failed: refused 2');
  const each = await fanOut([1, 2, 3], fail, { noun: 'repositories', concurrency: 1 }).catch((e: Error) => e.message);
  expect(each).toBe('2 of 3 repositories failed: refused 2; refused 3');
});

it('an error isFatal names ends the fan-out like a ConfigError: thrown as it is, later parts not started, not counted', async () => {
  const started: number[] = [];
  const stats = countingStats();
  const limit = new Error('rate limit used up');
  const error = await fanOut(
    [1, 2, 3],
    async (n) => {
      started.push(n);
      throw n === 1 ? new Error('not found') : limit;
    },
    { label, noun: 'parts', concurrency: 1, stats, isFatal: (e) => e === limit },
  ).catch((e: unknown) => e);
  expect(error).toBe(limit);
  expect(started).toEqual([1, 2]);
  expect(stats.counters).toEqual({ parts_failed: 1 });
});

it('abortWins false: the parts cut by the abort report their own errors, and parts not started stay so', async () => {
  const controller = new AbortController();
  const started: number[] = [];
  const error = await fanOut(
    [1, 2, 3],
    async (n) => {
      started.push(n);
      controller.abort(new Error('deadline'));
      throw new Error(`part ${n}: the deadline passed while waiting for quota until 13:00`);
    },
    { label, noun: 'parts', concurrency: 1, signal: controller.signal, abortWins: false },
  ).then(
    () => new Error('resolved'),
    (e: unknown) => e as Error,
  );
  expect(error).toBeInstanceOf(PartialFailure);
  expect(error.message).toBe('1 of 3 parts failed: part 1: part 1: the deadline passed while waiting for quota until 13:00');
  expect(started).toEqual([1]);
  // Nothing failed but the abort stopped parts: the abort's reason.
  const stopped = new AbortController();
  stopped.abort(new Error('stop'));
  await expect(fanOut([1], async () => {}, { label, noun: 'parts', signal: stopped.signal, abortWins: false })).rejects.toThrow('stop');
});
