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
  const error = await run.then(() => undefined, (e: unknown) => e);
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
  ).then(() => undefined, (e: unknown) => e);
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
  ).then(() => undefined, (e: unknown) => e);
  expect((error as Error).message).toBe('deadline');
  expect(started).toEqual([1]);
});

it('resolves when every part succeeded, and with no parts at all', async () => {
  await expect(fanOut([1, 2], async () => {}, { label, noun: 'parts' })).resolves.toBeUndefined();
  await expect(fanOut([], async () => {}, { label, noun: 'parts' })).resolves.toBeUndefined();
});
