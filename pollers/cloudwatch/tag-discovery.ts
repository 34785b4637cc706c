// Discovery of resources by their tags (Resource Groups Tagging API GetResources), cached for a TTL by the poller instance.
import type { Logger, PollStats } from '../../lib/poller-kit/index.ts';
import { dimensionOf, type ResourceKind } from './resource-types.ts';
import type { DiscoveryCache } from './discovery-cache.ts';

/** A metric entry's `tags`: key → one value, any of several, or '*' for any value (the key must be there). */
export type TagSelector = Readonly<Record<string, string | readonly string[]>>;

/** GetResources' TagFilter. */
export interface TagFilter {
  Key: string;
  Values?: string[];
}

/** What GetResources returns per resource. */
export interface ResourceTagMapping {
  ResourceARN?: string | undefined;
  Tags?: Array<{ Key?: string | undefined; Value?: string | undefined }> | undefined;
}

export interface TaggedResource {
  arn: string;
  /** The resource's CloudWatch dimension, from its ARN. */
  dimension: readonly [name: string, value: string];
  /** Every tag of the resource. */
  tags: Readonly<Record<string, string>>;
}

/**
 * The selector as GetResources' TagFilters, in key order (a stable cache key): a key with '*' (alone or in
 * its list) matches any value and is sent without Values; otherwise its values are sent, any of which matches.
 * The API ANDs the filters and ORs each filter's values.
 */
export function tagFilters(selector: TagSelector): TagFilter[] {
  return Object.keys(selector)
    .sort()
    .map((key) => {
      const raw = selector[key]!;
      const values = typeof raw === 'string' ? [raw] : [...raw];
      return values.includes('*') ? { Key: key } : { Key: key, Values: [...new Set(values)] };
    });
}

/** Whether a resource with `tags` is selected: every key of the selector present, with one of its values unless '*'. */
export function matchesTags(tags: Readonly<Record<string, string>>, selector: TagSelector): boolean {
  return tagFilters(selector).every(
    (filter) => Object.hasOwn(tags, filter.Key) && (filter.Values === undefined || filter.Values.includes(tags[filter.Key]!)),
  );
}

export interface TagDiscoveryRequest {
  kind: ResourceKind;
  selector: TagSelector;
}

export interface TagDiscoveryRun {
  /** Cache scope: the client (endpoint, region, account) the answer came from. */
  scope: string;
  ttlSeconds: number;
  /** The run's clock, epoch milliseconds. */
  now: () => number;
  /** Every page of GetResources for these filters. */
  getResources: (input: { ResourceTypeFilters: string[]; TagFilters: TagFilter[] }) => Promise<ResourceTagMapping[]>;
  log: Logger;
  stats: PollStats;
  /** The poller instance's answers (CloudWatchDiscovery.resources). */
  cache: DiscoveryCache<ResourceTagMapping[]>;
}

/**
 * The resources of `request.kind` whose tags match `request.selector`, each with its dimension and tags, in
 * dimension-value order. One GetResources walk (every page) per scope, resource type and selector serves
 * every entry asking the same (ALB and NLB entries share the load balancers' walk); answers younger than
 * the TTL come from the cache; when GetResources fails and an older answer is at hand, that one is used
 * (the failure logged and counted). ARNs of other kinds (a classic load balancer under AWS/ApplicationELB)
 * are left out, as are resources whose tags do not match (checked again here, as the answer is cached).
 */
export async function discoverTaggedResources(request: TagDiscoveryRequest, run: TagDiscoveryRun): Promise<TaggedResource[]> {
  const filters = tagFilters(request.selector);
  const key = JSON.stringify([run.scope, request.kind.type, filters]);
  const mappings = await cachedWalk(key, { ResourceTypeFilters: [request.kind.type], TagFilters: filters }, run);
  const byValue = new Map<string, TaggedResource>();
  for (const mapping of mappings) {
    const arn = mapping.ResourceARN ?? '';
    const dimension = dimensionOf(request.kind, arn);
    if (!dimension) continue;
    const tags: Record<string, string> = {};
    for (const tag of mapping.Tags ?? []) if (tag.Key !== undefined) tags[tag.Key] = tag.Value ?? '';
    if (!matchesTags(tags, request.selector)) continue;
    byValue.set(dimension[1], { arn, dimension, tags });
  }
  return [...byValue.values()].sort((a, b) => (a.dimension[1] < b.dimension[1] ? -1 : a.dimension[1] > b.dimension[1] ? 1 : 0));
}

function cachedWalk(
  key: string,
  input: { ResourceTypeFilters: string[]; TagFilters: TagFilter[] },
  run: TagDiscoveryRun,
): Promise<ResourceTagMapping[]> {
  const labels = {
    counter: 'tag_discovery',
    staleWarning: 'GetResources failed; using the resources found earlier',
    fields: { resourceType: input.ResourceTypeFilters[0] },
  };
  return run.cache.get(key, run, labels, () => run.getResources(input));
}
