// Graphite paths of CloudWatch series: the default naming and `path` templates, always as a list of nodes.
import { ConfigError, renderPathTemplate } from '../../lib/poller-kit/index.ts';

export interface SeriesName {
  region: string;
  namespace: string;
  metric: string;
  stat: string;
  /** Dimensions in path order: the config's order, or sorted by name when the names were discovered. */
  dimensions: ReadonlyArray<readonly [name: string, value: string]>;
  /** The account read, when known: the {account} placeholder. */
  account?: string | undefined;
  /** Jobs reading several accounts (`roles`) name the account in the default path, after `cloudwatch`. */
  accountInDefaultPath?: boolean;
  /** The tags of the resource, for metrics selected by tag: the {tag.KEY} placeholders. */
  tags?: Readonly<Record<string, string>> | undefined;
}

/** `p99.9` → `p99_9`: a statistic is one node. */
export function statNode(stat: string): string {
  return stat.replace(/\./g, '_');
}

/** `AWS/ELB` → `AWS_ELB`. */
export function namespaceNode(namespace: string): string {
  return namespace.replace(/\//g, '_');
}

/**
 * The series' path as nodes: `cloudwatch.<region>.<namespace>.<dimension values…>.<metric>.<stat>` by default
 * (`cloudwatch.<account>.<region>…` for jobs with `roles`), or the metric's template filled in. Nodes come from AWS
 * (dimension values are anything a user tagged or named a resource), so they are returned as an array: the sink
 * sanitizes each as exactly one node, and a value with dots, spaces or newlines can never add a node or a line.
 */
export function seriesPath(name: SeriesName, template: string | undefined, field = 'path'): string[] {
  const values = name.dimensions.map(([, value]) => value);
  if (template === undefined) {
    const account = name.accountInDefaultPath && name.account !== undefined ? [name.account] : [];
    return ['cloudwatch', ...account, name.region, namespaceNode(name.namespace), ...values, name.metric, statNode(name.stat)];
  }
  const placeholders: Record<string, string | readonly string[]> = {
    region: name.region,
    ...(name.account !== undefined ? { account: name.account } : {}),
    namespace: namespaceNode(name.namespace),
    metric: name.metric,
    stat: statNode(name.stat),
    dimensions: values,
  };
  for (const [dimension, value] of name.dimensions) placeholders[`dim.${dimension}`] = value;
  for (const [key, value] of Object.entries(name.tags ?? {})) placeholders[`tag.${key}`] = value;
  try {
    return renderPathTemplate(template, placeholders);
  } catch (error) {
    throw new ConfigError((error as Error).message, { field });
  }
}
