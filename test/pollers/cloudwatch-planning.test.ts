// Pure parts of the CloudWatch poller: retention tiers, aligned ranges, call packing, paths, plan figures.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { loadJobConfig } from '../../lib/config/job-config.ts';
import { jobSchema } from '../../lib/config/job-options.ts';
import { createCloudWatchPoller } from '../../pollers/cloudwatch.ts';
import { isConfigError } from '../../lib/poller-kit/config-error.ts';
import { planCalls, type CallLimits } from '../../pollers/cloudwatch/batching.ts';
import { cloudWatchOptions } from '../../pollers/cloudwatch/options.ts';
import { seriesPath, statNode } from '../../pollers/cloudwatch/paths.ts';
import { alignedRange, periodFor, tierSegments, tierUnit, TIER_MARGIN } from '../../pollers/cloudwatch/periods.ts';
import { planFigures } from '../../pollers/cloudwatch/plan.ts';
import type { Series } from '../../pollers/cloudwatch/series.ts';

const HOUR = 3600;
const DAY = 86400;
const NOW = 1_800_000_000; // a whole hour

const series = (n: number, period = 60): Series[] =>
  Array.from({ length: n }, (_, i) => ({
    namespace: 'N',
    metric: 'M',
    stat: 'Sum',
    dimensions: [['Id', String(i)]],
    period,
    fill: false,
    paths: [['p', String(i)]],
  }));

describe('retention tiers', () => {
  it('gives the unit by age, with a margin towards the coarser tier at each boundary', () => {
    expect(tierUnit(NOW - 60, NOW)).toBe(1);
    expect(tierUnit(NOW - 3 * HOUR + TIER_MARGIN, NOW)).toBe(1);
    expect(tierUnit(NOW - 3 * HOUR, NOW)).toBe(60);
    expect(tierUnit(NOW - 15 * DAY + TIER_MARGIN, NOW)).toBe(60);
    expect(tierUnit(NOW - 15 * DAY + TIER_MARGIN - 1, NOW)).toBe(300);
    expect(tierUnit(NOW - 63 * DAY, NOW)).toBe(3600);
    expect(tierUnit(NOW - 455 * DAY + TIER_MARGIN, NOW)).toBe(3600);
    expect(tierUnit(NOW - 455 * DAY, NOW)).toBeUndefined();
  });

  it('never asks a period finer than the tier allows, nor coarser than needed', () => {
    expect(periodFor(60, 60)).toBe(60);
    expect(periodFor(10, 1)).toBe(10);
    expect(periodFor(10, 60)).toBe(60);
    expect(periodFor(60, 300)).toBe(300);
    expect(periodFor(600, 300)).toBe(600);
    expect(periodFor(120, 300)).toBe(300);
    expect(periodFor(420, 300)).toBe(600);
    expect(periodFor(300, 3600)).toBe(3600);
  });

  it('splits a window at whole hours where the tier changes, oldest first, dropping what is past retention', () => {
    const window = { start: NOW - 456 * DAY, end: NOW };
    const segments = tierSegments(window, NOW);
    expect(segments.map((s) => s.unit)).toEqual([3600, 300, 60, 1]);
    expect(segments.every((s) => s.start % HOUR === 0 && (s.end % HOUR === 0 || s.end === window.end))).toBe(true);
    for (let i = 1; i < segments.length; i++) expect(segments[i]!.start).toBe(segments[i - 1]!.end);
    expect(segments[0]!.start).toBeGreaterThan(NOW - 455 * DAY);
    expect(tierSegments({ start: NOW - 2 * HOUR, end: NOW }, NOW)).toEqual([{ start: NOW - 2 * HOUR, end: NOW, unit: 1 }]);
  });

  it('rounds StartTime down and EndTime up to the period: every period a window overlaps, none skipped', () => {
    expect(alignedRange(NOW + 420, NOW + 420 + HOUR, 300)).toEqual({ startTime: NOW + 300, endTime: NOW + 4200 });
    expect(alignedRange(NOW + 420, NOW + 420 + HOUR, 3600)).toEqual({ startTime: NOW, endTime: NOW + 7200 });
    expect(alignedRange(NOW + 60, NOW + 120, 300)).toEqual({ startTime: NOW, endTime: NOW + 300 });
    expect(alignedRange(NOW, NOW + 600, 60)).toEqual({ startTime: NOW, endTime: NOW + 600 });
    // Consecutive windows: the straddling period [300, 600) is in both, nothing falls between.
    expect([alignedRange(NOW, NOW + 420, 300), alignedRange(NOW + 420, NOW + 900, 300)]).toEqual([
      { startTime: NOW, endTime: NOW + 600 },
      { startTime: NOW + 300, endTime: NOW + 900 },
    ]);
  });
});

describe('packing queries into GetMetricData calls', () => {
  const live = { start: NOW - 720, end: NOW - 120 };

  it.each([
    [1, 1],
    [500, 1],
    [501, 2],
    [1000, 2],
    [5000, 10],
  ])('%i queries of a live window: %i calls', (n, calls) => {
    const planned = planCalls(series(n), live, NOW);
    expect(planned).toHaveLength(calls);
    expect(planned.every((c) => c.queries.length <= 500)).toBe(true);
    expect(planned.reduce((m, c) => m + c.queries.length, 0)).toBe(n);
  });

  it('keeps every call within the datapoint limit by splitting queries first', () => {
    const planned = planCalls(series(500), { start: NOW - 24 * HOUR, end: NOW }, NOW);
    // 1,440 periods per query: 70 queries per call.
    expect(planned.map((c) => c.queries.length)).toEqual([70, 70, 70, 70, 70, 70, 70, 10]);
  });

  it('cuts the time range when one query alone exceeds the datapoint limit', () => {
    const limits: CallLimits = { queries: 500, datapoints: 100 };
    const planned = planCalls(series(3), { start: NOW - 8 * HOUR, end: NOW - 8 * HOUR + 220 * 60 }, NOW, limits);
    // 220 periods per query, 100 at most per call: 100-period ranges, one query each.
    expect(planned.map((c) => [(c.endTime - c.startTime) / 60, c.queries.length])).toEqual([
      [100, 1],
      [100, 1],
      [100, 1],
      [100, 1],
      [100, 1],
      [100, 1],
      [20, 3],
    ]);
  });

  it('gives mixed periods one call when their aligned ranges coincide, and coarser periods to old windows', () => {
    const mixed = [...series(2, 60), ...series(2, 300)];
    expect(planCalls(mixed, { start: NOW - 900, end: NOW }, NOW)).toHaveLength(1);
    const old = planCalls(mixed, { start: NOW - 30 * DAY, end: NOW - 30 * DAY + HOUR }, NOW);
    expect(old).toHaveLength(1);
    expect(old[0]!.queries.map((q) => q.period)).toEqual([300, 300, 300, 300]);
  });

  it('spends no extra call on the 3-hour boundary when no period is under a minute', () => {
    expect(planCalls(series(10), { start: NOW - 10 * HOUR, end: NOW }, NOW)).toHaveLength(1);
    const highRes = planCalls(series(10, 10), { start: NOW - 4 * HOUR, end: NOW }, NOW);
    expect(highRes.map((c) => c.queries[0]!.period)).toEqual([60, 10]);
  });
});

describe('paths', () => {
  const name = {
    region: 'eu-west-1',
    namespace: 'AWS/ELB',
    metric: 'Latency',
    stat: 'p99.9',
    dimensions: [['LoadBalancerName', 'web.prod'] as const, ['AvailabilityZone', 'eu-west-1a'] as const],
  };

  it('default path, node by node', () => {
    expect(seriesPath(name, undefined)).toEqual(['cloudwatch', 'eu-west-1', 'AWS_ELB', 'web.prod', 'eu-west-1a', 'Latency', 'p99_9']);
    expect(statNode('p99.99')).toBe('p99_99');
  });

  it('templates expand {dimensions} to one node per value and keep a value with dots in one node', () => {
    expect(seriesPath(name, 'elb.{dim.LoadBalancerName}.{metric}.{stat}')).toEqual(['elb', 'web.prod', 'Latency', 'p99_9']);
    expect(seriesPath(name, '{namespace}.{dimensions}.{metric}')).toEqual(['AWS_ELB', 'web.prod', 'eu-west-1a', 'Latency']);
  });

  it('an unknown placeholder met at run time is a ConfigError naming the field', () => {
    let error: unknown;
    try {
      seriesPath(name, 'x.{dim.Missing}', 'metrics[3].path');
    } catch (e) {
      error = e;
    }
    expect(isConfigError(error)).toBe(true);
    expect((error as { describe(): string }).describe()).toBe(
      'metrics[3].path: unknown placeholder {dim.Missing} in path template "x.{dim.Missing}"',
    );
  });
});

describe('plan figures', () => {
  const options = cloudWatchOptions.parse({ metrics: [{ namespace: 'N', name: 'M' }] });

  it('counts metrics requested per month and prices them', () => {
    const f = planFigures(series(1000), options, { interval: 300, delay: 120, lookback: 600 });
    expect(f).toMatchObject({
      queriesPerTick: 1000,
      callsPerTick: 2,
      datapointsPerTick: 10_000,
      ticksPerMonth: 8760,
      metricsRequestedPerMonth: 8_760_000,
    });
    expect(f.usdPerMonth).toBeCloseTo(87.6, 9);
    expect(f.usdPerMonthAtPeriodInterval).toBeCloseTo(438, 9);
  });

  it('a lookback shorter than the interval still covers the interval', () => {
    expect(planFigures(series(1), options, { interval: 600, delay: 0, lookback: 0 }).datapointsPerTick).toBe(10);
  });
});

describe('config/cloudwatch.example.yaml', () => {
  // Nothing here polls: the instance's clients are never made.
  const cloudwatch = createCloudWatchPoller();
  const file = fileURLToPath(new URL('../../config/cloudwatch.example.yaml', import.meta.url));
  const text = readFileSync(file, 'utf8');

  it('is a valid job config as it stands', () => {
    const config = loadJobConfig(cloudwatch, { configFile: file, env: {} });
    expect(config.schedule).toEqual({ interval: 300, delay: 120, lookback: 600 });
    expect((config.options as { metrics: unknown[] }).metrics.length).toBeGreaterThan(0);
  });

  it('documents every option, and each commented default is the schema default', () => {
    for (const key of Object.keys(cloudwatch.options.shape)) expect(text, key).toMatch(new RegExp(`^#? ?${key}:`, 'm'));
    const shape = jobSchema(cloudwatch).shape as Record<string, z.ZodType>;
    const checked: string[] = [];
    for (const [, key, raw] of text.matchAll(/^# (\w+): (.+)$/gm)) {
      const schema = shape[key!];
      if (!schema || !(schema instanceof z.ZodDefault)) continue;
      expect(schema.parse(undefined), key).toEqual(schema.parse(parseYaml(raw!)));
      checked.push(key!);
    }
    expect(checked.sort()).toEqual(
      [
        'catchUp',
        'concurrency',
        'delay',
        'discoveryTtl',
        'getMetricDataRate',
        'getResourcesRate',
        'interval',
        'listMetricsRate',
        'lookback',
        'maxAttempts',
        'period',
        'recentlyActiveOnly',
        'roleSessionName',
        'targetConcurrency',
      ].sort(),
    );
  });
});
