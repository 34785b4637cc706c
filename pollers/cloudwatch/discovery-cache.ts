// A poller instance's cache of discovery answers (ListMetrics, GetResources): a TTL on the run's clock, one walk
// shared by concurrent asks, and the older answer kept when a refresh fails.
import type { Logger, PollStats } from '../../lib/poller-kit/index.ts';

export interface CacheRun {
  ttlSeconds: number;
  /** The run's clock, epoch milliseconds. */
  now: () => number;
  log: Logger;
  stats: PollStats;
}

export interface CacheLabels {
  /** Prefix of the counters `<counter>_cache_hits`, `_refreshes`, `_errors`. */
  counter: string;
  /** The warning logged when a refresh fails and the older answer is used. */
  staleWarning: string;
  fields: Record<string, unknown>;
}

export class DiscoveryCache<T> {
  private readonly answers = new Map<string, { fetchedAt: number; value: T }>();
  private readonly inFlight = new Map<string, Promise<T>>();

  async get(key: string, run: CacheRun, labels: CacheLabels, fetch: () => Promise<T>): Promise<T> {
    const cached = this.answers.get(key);
    if (cached && run.now() - cached.fetchedAt < run.ttlSeconds * 1000) {
      run.stats.count(`${labels.counter}_cache_hits`);
      return cached.value;
    }
    const pending = this.inFlight.get(key);
    if (pending) return pending;
    const walk = (async () => {
      try {
        const value = await fetch();
        this.answers.set(key, { fetchedAt: run.now(), value });
        run.stats.count(`${labels.counter}_refreshes`);
        return value;
      } catch (error) {
        if (!cached) throw error;
        run.stats.count(`${labels.counter}_errors`);
        run.log.warn(labels.staleWarning, { ...labels.fields, error });
        return cached.value;
      } finally {
        this.inFlight.delete(key);
      }
    })();
    this.inFlight.set(key, walk);
    return walk;
  }

  clear(): void {
    this.answers.clear();
    this.inFlight.clear();
  }
}
