// config/google-analytics.example.yaml is the option reference: it must load, and name every option with its default.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatPlan } from '../../lib/cli/plan-format.ts';
import { loadJobConfig } from '../../lib/config/job-config.ts';
import { documentOptions } from '../../lib/config/job-options.ts';
import { createGoogleAnalyticsPoller } from '../../pollers/google-analytics.ts';
import { ROOT } from '../helpers/run-command.ts';

const poller = createGoogleAnalyticsPoller();

const EXAMPLE = join(ROOT, 'config', 'google-analytics.example.yaml');

describe('google-analytics example config', () => {
  it('loads as a job config', () => {
    const config = loadJobConfig(poller, { configFile: EXAMPLE, env: {} });
    expect(config.options).toMatchObject({ propertyId: '123456789', pageSize: 10_000 });
    expect(config.schedule).toEqual({ interval: 60, delay: 0, lookback: 0 });
    expect((config.options.reports as unknown[]).length).toBe(3);
  });

  it('documents every option with its default', () => {
    const text = readFileSync(EXAMPLE, 'utf8');
    for (const option of documentOptions(poller)) {
      expect(text, option.key).toMatch(new RegExp(`^#? ?${option.key}:`, 'm'));
    }
    const shown = (key: string) => new RegExp(`^# ${key}: (.*)$`, 'm').exec(text)?.[1];
    expect(shown('pageSize')).toBe('10000');
    expect(shown('maxQuotaWait')).toBe('1h');
    expect(shown('serverErrorRetries')).toBe('2');
    expect(shown('backfillWindow')).toBe('7d');
    expect(shown('realtimeMinutes')).toBe('30');
    expect(shown('interval')).toBe(String(poller.schedule.interval));
  });

  it('plans its own example', async () => {
    const config = loadJobConfig(poller, { configFile: EXAMPLE, env: {} });
    const plan = await poller.plan!(poller.options.parse(config.options), config.schedule);
    const text = formatPlan(plan).join('\n');
    expect(text).toMatch(/every 1m: /);
    expect(text).toMatch(/requests: 2 runRealtimeReport calls per tick/);
    expect(text).toMatch(/requests: 1 batchRunReports call per tick \(for 3 reports/);
  });
});
