// A Sink that keeps what a poller emits, for assertions; plus a ready-made PollContext around it.
import type { JobSchedule, MetricPath, MetricTags, PollContext, PollStats, Sink, TimeWindow } from '../../lib/poller-kit/contract.ts';
import { silentLogger, type Logger } from '../../lib/poller-kit/logger.ts';

export interface CapturedPoint {
  /** The path as the poller gave it: dotted string as is, node arrays joined with '.' (unsanitized). */
  path: string;
  nodes: readonly string[] | undefined;
  value: number;
  timestamp: number;
  tags: MetricTags | undefined;
}

export class CaptureSink implements Sink {
  readonly points: CapturedPoint[] = [];

  emit(path: MetricPath, value: number, timestamp: number, tags?: MetricTags): void {
    this.points.push({
      path: typeof path === 'string' ? path : path.join('.'),
      nodes: typeof path === 'string' ? undefined : path,
      value,
      timestamp,
      tags,
    });
  }

  async ready(): Promise<void> {}

  /** `{ 'a.b': [[ts, value], ...] }`, sorted by timestamp: easy to compare with toEqual. */
  series(): Record<string, Array<[number, number]>> {
    const out: Record<string, Array<[number, number]>> = {};
    for (const p of this.points) (out[p.path] ??= []).push([p.timestamp, p.value]);
    for (const list of Object.values(out)) list.sort((a, b) => a[0] - b[0]);
    return out;
  }

  paths(): string[] {
    return [...new Set(this.points.map((p) => p.path))].sort();
  }
}

export class CaptureStats implements PollStats {
  readonly counters: Record<string, number> = {};
  readonly gauges: Record<string, number> = {};
  count(name: string, n = 1): void {
    this.counters[name] = (this.counters[name] ?? 0) + n;
  }
  gauge(name: string, value: number): void {
    this.gauges[name] = value;
  }
}

export interface TestContextOptions<O> {
  options: O;
  window: TimeWindow;
  fetch?: typeof globalThis.fetch;
  now?: number;
  mode?: 'live' | 'backfill';
  log?: Logger;
  signal?: AbortSignal;
  job?: string;
  schedule?: JobSchedule;
  /** The context's sleep (default: resolves at once, recording nothing; pass a fake clock's sleep to see waits). */
  sleep?: (ms: number) => Promise<void>;
}

/** A PollContext for calling `poller.poll` directly in a unit test. */
export function testContext<O>(options: TestContextOptions<O>): PollContext<O> & { sink: CaptureSink; stats: CaptureStats } {
  return {
    options: options.options,
    window: options.window,
    sink: new CaptureSink(),
    stats: new CaptureStats(),
    signal: options.signal ?? new AbortController().signal,
    log: options.log ?? silentLogger,
    job: options.job ?? 'test',
    mode: options.mode ?? 'live',
    fetch: options.fetch ?? globalThis.fetch,
    schedule: options.schedule ?? { interval: options.window.end - options.window.start, delay: 0, lookback: 0 },
    now: () => options.now ?? options.window.end * 1000,
    sleep: options.sleep ?? (() => Promise.resolve()),
  };
}
