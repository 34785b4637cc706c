// --plan for GA4: request counts and token estimates per tick and per day, against the standard quotas.
import { describe, expect, it } from 'vitest';
import { createGoogleAnalyticsPoller } from '../../pollers/google-analytics.ts';
import { reportCost } from '../../pollers/google-analytics/plan.ts';
import { formatPlan } from '../../lib/cli/plan-format.ts';

const poller = createGoogleAnalyticsPoller();

const schedule = { interval: 60, delay: 0, lookback: 0 };
const reports = (count: number, extra: Record<string, unknown> = {}) =>
  Array.from({ length: count }, (_, i) => ({ name: `r${i}`, metrics: ['sessions'], granularity: 'hour', ...extra }));

async function plan(input: Record<string, unknown>, interval = 60): Promise<string[]> {
  return formatPlan(await poller.plan!(poller.options.parse({ propertyId: 123, ...input }), { ...schedule, interval }));
}

describe('google-analytics plan', () => {
  it('counts realtime calls per tick and per day with their share of the realtime quota', async () => {
    const lines = await plan({ realtime: [{ metrics: ['activeUsers'] }, { metrics: ['activeUsers'], dimensions: ['country'] }] });
    expect(lines[0]).toMatch(/^property 123, every 1m: /);
    expect(lines.slice(1)).toEqual([
      'requests: 2 runRealtimeReport calls per tick, 2,880 per day (realtime)',
      'requests: ~20 realtime tokens per tick, ~1,200 per hour, ~28,800 per day',
      'quota: ~28,800 of 200,000 realtime tokens per day (14%)',
      'quota: ~1,200 of 40,000 realtime tokens per hour (3%)',
    ]);
  });

  it('batches reports by five and paces them by their every', async () => {
    const lines = await plan({ reports: [...reports(6), { name: 'daily', metrics: ['sessions'], granularity: 'day', every: '6h' }] });
    expect(lines.slice(1, 7)).toEqual([
      'requests: 2 batchRunReports calls per tick (for 7 reports, per tick when all are due: the first tick, then as their every passes)',
      'requests: ~52 batchRunReports calls per day',
      'requests: ~70 report tokens per tick, ~1,480 per day',
      'quota: ~1,480 of 200,000 tokens per day (<1%)',
      'quota: ~70 of 40,000 tokens per hour (<1%), in the busiest hour',
      'quota: ~70 of 14,000 tokens per hour (<1%), per project, in the busiest hour',
    ]);
    expect(lines).toContain('  r0: every 1h, 49 hours per fetch → 49 rows (one more request per 10,000 rows)');
    expect(lines).toContain('  daily: every 6h, 3 days per fetch → 3 rows (one more request per 10,000 rows)');
    expect(lines.at(-1)).toBe(
      'backfill: 2 batchRunReports calls per 7d window (more for long reports): ~10 calls and ~350 tokens per 30 days of history',
    );
  });

  it('never plans a report more often than the job ticks', () => {
    const options = poller.options.parse({ propertyId: 1, reports: reports(5, { every: '1m' }) });
    expect(reportCost(options.reports, 3600)).toEqual({ batchCallsPerDay: 24, reportRequestsPerDay: 120, reportRequestsPeakHour: 5 });
    expect(reportCost(options.reports, 60)).toEqual({ batchCallsPerDay: 1440, reportRequestsPerDay: 7200, reportRequestsPeakHour: 300 });
  });

  it('warns when the reports would spend more than the daily tokens', async () => {
    const lines = await plan({ reports: reports(30, { every: '1m' }) });
    expect(lines.some((l) => l.startsWith("warning: the reports would spend more than a standard property's daily tokens"))).toBe(true);
  });
});
