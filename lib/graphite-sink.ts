// The Sink pollers emit into: sanitizes paths, adds the prefix and tags, formats lines for the writer.
import { formatPath, formatTags, formatValue } from './metric-path.ts';
import type { MetricPath, MetricTags, Sink } from './poller.ts';

/** What the sink needs of a writer (the Graphite writer, or a test's capture). */
export interface LineWriter {
  write(line: string): void;
  ready(): Promise<void>;
}

export interface GraphiteSinkOptions {
  /** GRAPHITE_PREFIX: prepended to every path (dotted; each node sanitized). */
  prefix?: string;
  /** GRAPHITE_TAGS: write Graphite 1.1 tagged series `path;k=v` when a datapoint has tags. */
  tags?: boolean;
}

const CACHE_LIMIT = 50_000;

export class GraphiteSink implements Sink {
  // Paths repeat on every tick: remember their sanitized form instead of running the regexes again.
  private readonly cache = new Map<string, string>();

  constructor(
    private readonly writer: LineWriter,
    private readonly options: GraphiteSinkOptions = {},
  ) {}

  emit(path: MetricPath, value: number, timestamp: number, tags?: MetricTags): void {
    this.write(path, value, timestamp, tags);
  }

  /** Like emit; false when the datapoint was refused (NaN, ±Infinity, a bad timestamp). */
  write(path: MetricPath, value: number, timestamp: number, tags?: MetricTags): boolean {
    const formatted = formatValue(value);
    if (formatted === undefined || !Number.isFinite(timestamp) || timestamp < 0) return false;
    let name = this.pathOf(path);
    if (tags && this.options.tags) name += formatTags(tags);
    this.writer.write(`${name} ${formatted} ${Math.floor(timestamp)}\n`);
    return true;
  }

  ready(): Promise<void> {
    return this.writer.ready();
  }

  /** A sink for one poll call that counts what it passes on (calls may run concurrently in backfills). */
  counting(): CountingSink {
    return new CountingSink(this);
  }

  private pathOf(path: MetricPath): string {
    // Length-prefixed, so no node's content can make two different paths share a key.
    let key = typeof path === 'string' ? 's' + path : 'a';
    if (typeof path !== 'string') for (const node of path) key += node.length + ':' + node;
    let name = this.cache.get(key);
    if (name === undefined) {
      name = formatPath(path, this.options.prefix);
      if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
      this.cache.set(key, name);
    }
    return name;
  }
}

export class CountingSink implements Sink {
  datapoints = 0;
  invalid = 0;
  constructor(private readonly inner: GraphiteSink) {}

  emit(path: MetricPath, value: number, timestamp: number, tags?: MetricTags): void {
    if (this.inner.write(path, value, timestamp, tags)) this.datapoints++;
    else this.invalid++;
  }

  ready(): Promise<void> {
    return this.inner.ready();
  }
}
