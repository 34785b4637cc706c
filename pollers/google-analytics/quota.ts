// GA quota: when an exhausted quota returns (request-policy.ts closes a kit RequestGate until then), remaining tokens as self-metrics.
import { nextLocalMidnight, type PollStats } from '../../lib/poller-kit/index.ts';
import type { QuotaBucket } from './api-error.ts';
import type { PropertyQuota } from './client.ts';

/** Core reports (runReport, batchRunReports) and realtime reports draw on separate quotas. */
export type QuotaPool = 'core' | 'realtime';

/** GA's daily tokens return at midnight Pacific time. */
export const QUOTA_DAY_TIME_ZONE = 'America/Los_Angeles';

/**
 * The epoch second at which an exhausted quota is back: hourly quotas at the next full hour (GA: "will return in
 * under an hour"), daily tokens at the next midnight Pacific, client errors after 15 minutes, and concurrent
 * requests (other clients of the same property) after a few seconds.
 */
export function quotaReturnsAt(bucket: QuotaBucket, nowSeconds: number): number {
  switch (bucket) {
    case 'day':
      return nextLocalMidnight(nowSeconds, QUOTA_DAY_TIME_ZONE);
    case 'clientErrors':
      return nowSeconds + 15 * 60;
    case 'concurrent':
      return nowSeconds + 10;
    default:
      return (Math.floor(nowSeconds / 3600) + 1) * 3600;
  }
}

const GAUGES = [
  ['tokensPerHour', 'tokens_per_hour_remaining'],
  ['tokensPerDay', 'tokens_per_day_remaining'],
  ['tokensPerProjectPerHour', 'tokens_per_project_per_hour_remaining'],
] as const;

/**
 * Collects `propertyQuota` of a run's answers. Each answer states what remained after it, so the smallest value
 * seen is the state after the run; it is written once at the end as `quota.<name>` (core) or
 * `quota.realtime.<name>`, with the tokens the run consumed as the counter `quota[.realtime].tokens_consumed`.
 */
export class QuotaGauges {
  readonly #remaining = new Map<string, number>();
  readonly #consumed = new Map<string, number>();

  record(pool: QuotaPool, quota: PropertyQuota | undefined | null): void {
    if (!quota) return;
    const prefix = pool === 'core' ? 'quota.' : 'quota.realtime.';
    for (const [field, name] of GAUGES) {
      const remaining = quota[field]?.remaining;
      if (typeof remaining === 'number') {
        const key = prefix + name;
        this.#remaining.set(key, Math.min(remaining, this.#remaining.get(key) ?? Infinity));
      }
    }
    const consumed = quota.tokensPerHour?.consumed;
    if (typeof consumed === 'number')
      this.#consumed.set(prefix + 'tokens_consumed', (this.#consumed.get(prefix + 'tokens_consumed') ?? 0) + consumed);
  }

  flush(stats: PollStats): void {
    for (const [name, value] of this.#remaining) stats.gauge(name, value);
    for (const [name, value] of this.#consumed) stats.count(name, value);
    this.#remaining.clear();
    this.#consumed.clear();
  }
}
