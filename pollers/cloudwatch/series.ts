// From the `metrics` config to the series to fetch: names × dimension sets (given or discovered) × statistics, each with its path.
import type { CloudWatchOptions, MetricEntry } from './options.ts';
import type { DimensionPairs, DiscoveryRequest } from './discovery.ts';
import { seriesPath } from './paths.ts';

/** One GetMetricData query: a metric, a dimension set, a statistic, a period, and where its values go. */
export interface Series {
  namespace: string;
  metric: string;
  stat: string;
  /** Dimensions in path order. */
  dimensions: DimensionPairs;
  /** The configured period (seconds); older windows may fetch a coarser one. */
  period: number;
  /** Send 0 for periods without a datapoint. */
  fill: boolean;
  /** Graphite paths (as nodes) the values go to: usually one, several when config entries overlap. */
  paths: string[][];
}

export type Discover = (request: DiscoveryRequest) => Promise<DimensionPairs[]>;

/**
 * Every series the config asks for. Dimensions given as values are multiplied out (a list of three load
 * balancers gives three series) without any API call; `'*'` asks ListMetrics (through `discover`), keeping
 * only series whose dimension names are exactly the configured ones (ListMetrics also returns series
 * with more dimensions, per availability zone for instance) and whose values match the listed ones.
 * Identical queries from overlapping entries are fetched once and sent to every path.
 */
export async function expandSeries(options: CloudWatchOptions, region: string, discover: Discover, recentlyActive: boolean): Promise<Series[]> {
  // Discovery of every entry at once (ListMetrics is rate-limited anyway); series are then built in config order.
  const wanted = options.metrics.flatMap((entry, index) => (entry.names ?? [entry.name!]).map((metric) => ({ entry, index, metric })));
  const sets = await Promise.all(wanted.map(({ entry, metric }) => dimensionSets(entry, metric, discover, recentlyActive)));

  const byQuery = new Map<string, Series>();
  wanted.forEach(({ entry, index, metric }, i) => {
    for (const dimensions of sets[i]!) {
      for (const stat of entry.stats) {
        const period = entry.period ?? options.period;
        const path = seriesPath({ region, namespace: entry.namespace, metric, stat, dimensions }, entry.path, `metrics[${index}].path`);
        const key = JSON.stringify([entry.namespace, metric, [...dimensions].sort(byName), stat, period]);
        const known = byQuery.get(key);
        if (known) {
          known.paths.push(path);
          known.fill ||= entry.fill === 0;
        } else {
          byQuery.set(key, { namespace: entry.namespace, metric, stat, dimensions, period, fill: entry.fill === 0, paths: [path] });
        }
      }
    }
  });
  return [...byQuery.values()];
}

/** The number of series known without discovery, and whether some entries need discovery. */
export function staticSeriesCount(options: CloudWatchOptions): { count: number; discovered: number } {
  let count = 0;
  let discovered = 0;
  for (const entry of options.metrics) {
    const names = (entry.names ?? [entry.name!]).length;
    if (needsDiscovery(entry)) {
      discovered += names;
      continue;
    }
    const combinations = Object.values(entry.dimensions as Record<string, string | string[]>).reduce((n, v) => n * (Array.isArray(v) ? v.length : 1), 1);
    count += names * combinations * entry.stats.length;
  }
  return { count, discovered };
}

export function needsDiscovery(entry: MetricEntry): boolean {
  return entry.dimensions === '*' || Object.values(entry.dimensions).some((value) => value === '*');
}

async function dimensionSets(entry: MetricEntry, metric: string, discover: Discover, recentlyActive: boolean): Promise<DimensionPairs[]> {
  const base = { namespace: entry.namespace, metric, recentlyActive };
  if (entry.dimensions === '*') {
    // Every dimension set of the metric: names are not configured, so they are put in name order.
    const sets = await discover({ ...base, filter: [] });
    return sets.map((set) => [...set].sort(byName));
  }
  const configured = Object.entries(entry.dimensions);
  if (!needsDiscovery(entry)) return cartesian(configured);

  const filter = configured.map(([Name, value]) => (typeof value === 'string' && value !== '*' ? { Name, Value: value } : { Name }));
  const sets = await discover({ ...base, filter });
  const wanted = new Map(configured.map(([name, value]) => [name, value === '*' ? undefined : new Set(typeof value === 'string' ? [value] : value)]));
  const out: DimensionPairs[] = [];
  for (const set of sets) {
    if (set.length !== wanted.size) continue;
    const values = new Map(set);
    if (values.size !== wanted.size) continue;
    let matches = true;
    for (const [name, allowed] of wanted) {
      const value = values.get(name);
      if (value === undefined || (allowed && !allowed.has(value))) matches = false;
    }
    if (matches) out.push(configured.map(([name]) => [name, values.get(name)!] as const));
  }
  return out;
}

/** `{ A: [a1, a2], B: b }` → `[[A,a1],[B,b]]`, `[[A,a2],[B,b]]`: config order kept. */
function cartesian(configured: Array<[string, string | string[]]>): DimensionPairs[] {
  let sets: DimensionPairs[] = [[]];
  for (const [name, value] of configured) {
    const values = typeof value === 'string' ? [value] : value;
    sets = sets.flatMap((set) => values.map((v) => [...set, [name, v] as const]));
  }
  return sets;
}

function byName(a: readonly [string, string], b: readonly [string, string]): number {
  return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
}
