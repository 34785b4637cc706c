// formatPlan: every poller's --plan is written by this one formatter, from the structured PollPlan.
import { expect, it } from 'vitest';
import { formatPlan, percent } from '../../../lib/cli/plan-format.ts';

it('writes summary, requests, datapoints, cost, quota, parts, notes and warnings in that order', () => {
  const call = { what: 'calls', singular: 'call' };
  const lines = formatPlan({
    warnings: ['over the limit: raise interval'],
    notes: ['history: none'],
    parts: [
      {
        title: 'per region and account pair',
        parts: [
          {
            label: 'eu-west-1',
            requests: [
              { what: 'queries', singular: 'query', perTick: 1 },
              { ...call, perTick: 1 },
            ],
          },
          {
            label: 'us-east-1',
            requests: [
              { what: 'queries', perTick: 1500 },
              { ...call, perTick: 3 },
            ],
            current: true,
          },
          { label: 'query q', notes: ['parameters none', 'history: no'] },
          { label: 'mixed', requests: [{ what: 'calls', perTick: 2, perDay: 48 }], notes: ['a note'] },
        ],
      },
    ],
    quota: [{ what: 'tokens', used: 70, limit: 40_000, per: 'hour', estimate: true, scope: 'in the busiest hour' }],
    cost: [{ amount: 1234.5, currency: 'USD', per: 'month', what: 'GetMetricData', basis: 'list price' }],
    datapoints: [{ perTick: 10_000 }],
    requests: [
      { what: 'queries', perTick: 1000, perMonth: 8_760_000, note: 'one per series' },
      { what: 'tokens', estimate: true, perHour: 1200 },
    ],
    summary: ['region eu-west-1; interval 5m'],
  });
  expect(lines).toEqual([
    'region eu-west-1; interval 5m',
    'requests: 1,000 queries per tick, 8,760,000 per month (one per series)',
    'requests: ~1,200 tokens per hour',
    'datapoints: 10,000 per tick',
    'cost: USD 1,235 per month for GetMetricData (list price)',
    'quota: ~70 of 40,000 tokens per hour (<1%), in the busiest hour',
    'per region and account pair:',
    '  eu-west-1: 1 query, 1 call per tick',
    '  us-east-1: 1,500 queries, 3 calls per tick  <- this one',
    '  query q: parameters none; history: no',
    '  mixed: 2 calls per tick, 48 per day; a note',
    'history: none',
    'warning: over the limit: raise interval',
  ]);
});

it('a plan of a summary alone is its summary; cents below 1,000', () => {
  expect(formatPlan({ summary: ['one line'] })).toEqual(['one line']);
  expect(formatPlan({ summary: [], cost: [{ amount: 87.6, currency: 'EUR', per: 'day', what: 'x', basis: 'y' }] })).toEqual([
    'cost: EUR 87.60 per day for x (y)',
  ]);
});

it('percentages: "<1%" for a share that is not nothing, 0% for nothing, rounded otherwise', () => {
  expect(percent(70, 40_000)).toBe('<1%');
  expect(percent(0, 40_000)).toBe('0%');
  expect(percent(28_800, 200_000)).toBe('14%');
  expect(percent(72, 60)).toBe('120%');
});
