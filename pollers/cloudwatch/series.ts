// From the `metrics` config to the series to fetch: names × dimension sets (given or discovered) × statistics, each with its path.
import type { MetricTags } from '../../lib/poller-kit/index.ts';
import type { CloudWatchOptions, MetricEntry } from './options.ts';
import type { DimensionPairs, DiscoveryRequest } from './discovery.ts';
import { seriesPath } from './paths.ts';
import { resourceKind } from './resource-types.ts';
import type { TagDiscoveryRequest, TaggedResource } from './tag-discovery.ts';

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
  /** Graphite tags of each path (by index), for series selected by tag; written only in tag mode. */
  pathTags?: Array<MetricTags | undefined>;
}

export type Discover = (request: DiscoveryRequest) => Promise<DimensionPairs[]>;
export type DiscoverTagged = (request: TagDiscoveryRequest) => Promise<TaggedResource[]>;

/** What one region and account's series are expanded with. */
export interface SeriesContext {
  region: string;
  /** The account read, when known (always when a path needs it). */
  account?: string | undefined;
  accountInDefaultPath?: boolean;
  /** ListMetrics, for '*' dimensions. */
  discover: Discover;
  /** GetResources, for metrics with tags. */
  discoverTagged: DiscoverTagged;
  recentlyActive: boolean;
}

/** One dimension set of an entry, with the tags of its resource when the entry selects by tag. */
interface DimensionSet {
  dimensions: DimensionPairs;
  resourceTags?: Readonly<Record<string, string>>;
  graphiteTags?: MetricTags;
}

/**
 * Every series the config asks for. Dimensions given as values are multiplied out (a list of three load
 * balancers gives three series) without any API call; `'*'` asks ListMetrics (through `discover`), keeping
 * only series whose dimension names are exactly the configured ones (ListMetrics also returns series
 * with more dimensions, per availability zone for instance) and whose values match the listed ones.
 * Identical queries from overlapping entries are fetched once and sent to every path.
 */
export async function expandSeries(options: CloudWatchOptions, context: SeriesContext): Promise<Series[]> {
  const { region, account, accountInDefaultPath } = context;
  // Discovery of every entry at once (the APIs are rate-limited anyway); series are then built in config order.
  const wanted = options.metrics.flatMap((entry, index) => (entry.names ?? [entry.name!]).map((metric) => ({ entry, index, metric })));
  const sets = await Promise.all(wanted.map(({ entry, metric }) => dimensionSets(entry, metric, context)));

  const byQuery = new Map<string, Series>();
  wanted.forEach(({ entry, index, metric }, i) => {
    for (const { dimensions, resourceTags, graphiteTags } of sets[i]!) {
      for (const stat of entry.stats) {
        const period = entry.period ?? options.period;
        const name = { region, account, accountInDefaultPath, namespace: entry.namespace, metric, stat, dimensions, tags: resourceTags };
        const path = seriesPath(name, entry.path, `metrics[${index}].path`);
        const key = JSON.stringify([entry.namespace, metric, [...dimensions].sort(byName), stat, period]);
        const known = byQuery.get(key);
        if (known) {
          known.paths.push(path);
          known.fill ||= entry.fill === 0;
          if (graphiteTags || known.pathTags) {
            known.pathTags ??= new Array<MetricTags | undefined>(known.paths.length - 1).fill(undefined);
            known.pathTags.push(graphiteTags);
          }
        } else {
          byQuery.set(key, {
            namespace: entry.namespace,
            metric,
            stat,
            dimensions,
            period,
            fill: entry.fill === 0,
            paths: [path],
            ...(graphiteTags ? { pathTags: [graphiteTags] } : {}),
          });
        }
      }
    }
  });
  return [...byQuery.values()];
}

/**
 * The number of series known without discovery, the metric names whose dimensions ListMetrics must find
 * ('*'), and those whose resources GetResources must find (tags).
 */
export function staticSeriesCount(options: CloudWatchOptions): { count: number; discovered: number; tagged: number } {
  let count = 0;
  let discovered = 0;
  let tagged = 0;
  for (const entry of options.metrics) {
    const names = (entry.names ?? [entry.name!]).length;
    if (entry.tags !== undefined) {
      tagged += names;
      continue;
    }
    if (needsDiscovery(entry)) {
      discovered += names;
      continue;
    }
    const combinations = Object.values(entry.dimensions as Record<string, string | string[]>).reduce(
      (n, v) => n * (Array.isArray(v) ? v.length : 1),
      1,
    );
    count += names * combinations * entry.stats.length;
  }
  return { count, discovered, tagged };
}

/** Entries whose dimensions ListMetrics finds ('*'). Entries with tags are found by GetResources instead. */
export function needsDiscovery(entry: MetricEntry): boolean {
  return entry.tags === undefined && (entry.dimensions === '*' || Object.values(entry.dimensions).some((value) => value === '*'));
}

async function dimensionSets(entry: MetricEntry, metric: string, context: SeriesContext): Promise<DimensionSet[]> {
  const plain = (sets: DimensionPairs[]): DimensionSet[] => sets.map((dimensions) => ({ dimensions }));
  if (entry.tags !== undefined) return taggedSets(entry, context);
  const base = { namespace: entry.namespace, metric, recentlyActive: context.recentlyActive };
  if (entry.dimensions === '*') {
    // Every dimension set of the metric: names are not configured, so they are put in name order.
    const sets = await context.discover({ ...base, filter: [] });
    return plain(sets.map((set) => [...set].sort(byName)));
  }
  const configured = Object.entries(entry.dimensions);
  if (!needsDiscovery(entry)) return plain(cartesian(configured));

  const filter = configured.map(([Name, value]) => (typeof value === 'string' && value !== '*' ? { Name, Value: value } : { Name }));
  const sets = await context.discover({ ...base, filter });
  const wanted = new Map(
    configured.map(([name, value]) => [name, value === '*' ? undefined : new Set(typeof value === 'string' ? [value] : value)]),
  );
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
  return plain(out);
}

/**
 * An entry with tags: one dimension set per tagged resource (its own dimension first, then the configured
 * fixed ones multiplied out), with the resource's tags for {tag.KEY}, and the selector's keys as Graphite tags.
 */
async function taggedSets(entry: MetricEntry, context: SeriesContext): Promise<DimensionSet[]> {
  const kind = resourceKind(entry.namespace, entry.resourceType)!;
  const selector = entry.tags!;
  const resources = await context.discoverTagged({ kind, selector });
  const extra = cartesian(Object.entries(entry.dimensions as Record<string, string | string[]>));
  const keys = Object.keys(selector).sort();
  return resources.flatMap((resource) => {
    const graphiteTags = Object.fromEntries(
      keys.filter((key) => Object.hasOwn(resource.tags, key)).map((key) => [key, resource.tags[key]!]),
    );
    return extra.map((set) => ({ dimensions: [resource.dimension, ...set], resourceTags: resource.tags, graphiteTags }));
  });
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
