// The sink's path cache: a steady document larger than its first size stops being sanitized after a few ticks;
// paths that never repeat keep it at its first size.
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { GraphiteSink, PATH_CACHE_MAX, PATH_CACHE_START } from '../../../lib/graphite/sink.ts';

const counted = vi.hoisted(() => ({ formatPath: 0 }));
vi.mock('../../../lib/graphite/metric-path.ts', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../../lib/graphite/metric-path.ts')>();
  return {
    ...real,
    formatPath: (...args: Parameters<typeof real.formatPath>) => {
      counted.formatPath++;
      return real.formatPath(...args);
    },
  };
});

beforeEach(() => {
  counted.formatPath = 0;
});

function sinkWithLines() {
  let last = '';
  const sink = new GraphiteSink({ write: (line) => (last = line), ready: async () => {} }, { prefix: 'p' });
  return { sink, last: () => last };
}

describe('the path cache', () => {
  for (const form of ['string', 'nodes'] as const) {
    it(`a steady document of 2.4 × its first size (${form} paths): after three ticks nothing is sanitized again`, () => {
      const { sink, last } = sinkWithLines();
      const paths = Array.from({ length: Math.round(PATH_CACHE_START * 2.4) }, (_, i) =>
        form === 'string' ? `svc.host ${i % 97}.metric_${i}` : ['svc', `host ${i % 97}`, `metric_${i}`],
      );
      const perTick: number[] = [];
      for (let tick = 0; tick < 5; tick++) {
        const before = counted.formatPath;
        for (const path of paths) sink.emit(path, 1, 1000 + tick);
        perTick.push(counted.formatPath - before);
      }
      expect(perTick[0]).toBe(paths.length);
      expect(perTick.slice(3)).toEqual([0, 0]);
      expect(last()).toBe(`p.svc.host_${(paths.length - 1) % 97}.metric_${paths.length - 1} 1 1004\n`);
      expect(sink.cacheFigures().cached).toBe(paths.length);
      expect(sink.cacheFigures().limit).toBeLessThanOrEqual(PATH_CACHE_MAX);
    });
  }

  it('paths that never repeat: the cache stays at its first size, and starts over once they clearly do not come back', () => {
    const { sink } = sinkWithLines();
    let most = 0;
    for (let i = 0; i < PATH_CACHE_START + PATH_CACHE_MAX + 10; i++) {
      sink.emit(['unique', `id_${i}`], 1, 1000);
      most = Math.max(most, sink.cacheFigures().cached);
    }
    expect(most).toBe(PATH_CACHE_START);
    expect(sink.cacheFigures()).toEqual({ cached: 11, limit: PATH_CACHE_START });
  });
});
