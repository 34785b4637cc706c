// The Sink pollers emit into: sanitizes paths, adds the prefix and tags, formats lines for the writer.
import { formatPath, formatTags, formatValue } from './metric-path.ts';
import type { MetricPath, MetricTags, Sink } from '../poller-kit/contract.ts';
import type { GraphiteWriter } from './writer-types.ts';

/**
 * What the sink uses of the Graphite writer: write and ready; writeReserved (self-metrics) where the writer has
 * it, else a plain write (a test's line capture needs no reserve).
 */
export type SinkWriter = Pick<GraphiteWriter, 'write' | 'ready'> & Partial<Pick<GraphiteWriter, 'writeReserved'>>;

export interface GraphiteSinkOptions {
  /** GRAPHITE_PREFIX: prepended to every path (dotted; each node sanitized). */
  prefix?: string;
  /** GRAPHITE_TAGS: write Graphite 1.1 tagged series `path;k=v` when a datapoint has tags. */
  tags?: boolean;
}

/** Paths the cache holds at first, and the most it grows to for a document that keeps coming back. */
export const PATH_CACHE_START = 50_000;
export const PATH_CACHE_MAX = 800_000;

export class GraphiteSink implements Sink {
  // Paths repeat on every tick: remember their sanitized form instead of running the regexes again.
  private readonly byString = new Map<string, string>();
  private readonly byNodes = new Map<string, PathEntry>();
  /**
   * Bounded, and sized to what comes back. Once `limit` paths are held the cache stops taking new ones and
   * watches: when the paths it holds come back (half as many hits as it holds) it is a steady document larger
   * than the cache, and the limit doubles (up to PATH_CACHE_MAX); when PATH_CACHE_MAX misses come with fewer than
   * half as many hits, the paths do not repeat (ids or timestamps in names) and it starts over. Clearing at every
   * overflow, as before, made a document larger than the cache miss on every path of every tick.
   */
  private limit = PATH_CACHE_START;
  private cached = 0;
  private hits = 0;
  private misses = 0;
  private readonly writer: SinkWriter;
  private readonly options: GraphiteSinkOptions;

  constructor(writer: SinkWriter, options: GraphiteSinkOptions = {}) {
    this.writer = writer;
    this.options = options;
  }

  emit(path: MetricPath, value: number, timestamp: number, tags?: MetricTags): void {
    this.write(path, value, timestamp, tags);
  }

  /** Like emit; false when the datapoint was refused (NaN, ±Infinity, a bad timestamp). `reserved`: see reserved(). */
  write(path: MetricPath, value: number, timestamp: number, tags?: MetricTags, reserved = false): boolean {
    const formatted = formatValue(value);
    if (formatted === undefined || !Number.isFinite(timestamp) || timestamp < 0) return false;
    let name = this.pathOf(path);
    if (tags && this.options.tags) name += formatTags(tags);
    // Joined, not concatenated: `+` and template literals make a rope of string pieces (about 230 bytes for
    // a 50-byte line), join makes one flat string (about 64): a queue of 500,000 lines is 32 MB instead of 115.
    const line = [name, ' ', formatted, ' ', Math.floor(timestamp), '\n'].join('');
    if (reserved && this.writer.writeReserved) this.writer.writeReserved(line);
    else this.writer.write(line);
    return true;
  }

  ready(signal?: AbortSignal): Promise<void> {
    return this.writer.ready(signal);
  }

  /**
   * A sink for one poll call that counts what it passes on (calls may run concurrently in backfills). Its ready()
   * honours `signal` (the run's) even when the poller calls it without one: a run ends at its deadline.
   */
  counting(signal?: AbortSignal): CountingSink {
    return new CountingSink(this, signal);
  }

  /** The same sink for the runner's self-metrics: their lines use the writer's reserve and survive a full queue. */
  reserved(): Sink {
    return {
      emit: (path, value, timestamp, tags) => void this.write(path, value, timestamp, tags, true),
      ready: (signal) => this.ready(signal),
    };
  }

  private pathOf(path: MetricPath): string {
    if (typeof path === 'string') {
      const known = this.byString.get(path);
      if (known !== undefined) return this.hit(known);
      const name = formatPath(path, this.options.prefix);
      if (this.room()) this.byString.set(path, name);
      return name;
    }
    // One map per node, so a hit builds no key string: a backfill's millions of points make no garbage here.
    if (path.length === 0) return formatPath(path, this.options.prefix);
    let entry = this.byNodes.get(path[0]!);
    for (let i = 1; i < path.length && entry !== undefined; i++) entry = entry.next?.get(path[i]!);
    if (entry?.name !== undefined) return this.hit(entry.name);
    const name = formatPath(path, this.options.prefix);
    if (!this.room()) return name;
    // Only a path the cache takes adds nodes to it.
    entry = this.entryOf(this.byNodes, path[0]!);
    for (let i = 1; i < path.length; i++) entry = this.entryOf((entry.next ??= new Map()), path[i]!);
    entry.name = name;
    return name;
  }

  private hit(name: string): string {
    this.hits++;
    return name;
  }

  private entryOf(level: Map<string, PathEntry>, node: string): PathEntry {
    let entry = level.get(node);
    if (entry === undefined) level.set(node, (entry = {}));
    return entry;
  }

  /** After a miss: true if the path is to be cached. */
  private room(): boolean {
    if (this.cached < this.limit) {
      if (++this.cached === this.limit) this.hits = this.misses = 0;
      return true;
    }
    this.misses++;
    if (this.hits * 2 >= this.limit && this.limit < PATH_CACHE_MAX) {
      this.limit = Math.min(this.limit * 2, PATH_CACHE_MAX);
    } else if (this.misses >= PATH_CACHE_MAX && this.hits * 2 < this.misses) {
      this.byString.clear();
      this.byNodes.clear();
      this.cached = 0;
      this.limit = PATH_CACHE_START;
    } else {
      return false;
    }
    this.cached++;
    return true;
  }

  /** Paths held, and how many the cache may hold now (tests, benchmarks). */
  cacheFigures(): { cached: number; limit: number } {
    return { cached: this.cached, limit: this.limit };
  }
}

/** A node of the path cache: the sanitized name of the path ending here, and the paths that go on. */
interface PathEntry {
  name?: string;
  next?: Map<string, PathEntry>;
}

export class CountingSink implements Sink {
  datapoints = 0;
  invalid = 0;
  private readonly inner: GraphiteSink;
  private readonly signal?: AbortSignal;

  constructor(inner: GraphiteSink, signal?: AbortSignal) {
    this.inner = inner;
    this.signal = signal;
  }

  emit(path: MetricPath, value: number, timestamp: number, tags?: MetricTags): void {
    if (this.inner.write(path, value, timestamp, tags)) this.datapoints++;
    else this.invalid++;
  }

  ready(signal?: AbortSignal): Promise<void> {
    return this.inner.ready(signal ?? this.signal);
  }
}
