// What the runner measures about every job, written to Graphite under <GRAPHITE_PREFIX>.pollers.<job>.
import type { PollStats, Sink } from '../poller-kit/contract.ts';
import type { WriterStats } from '../graphite/writer-types.ts';

/** Counters a poller reports through ctx.stats (api_calls, throttles…), collected between two flushes. */
export class StatsCollector implements PollStats {
  private counters = new Map<string, number>();
  private gauges = new Map<string, number>();

  count(name: string, n = 1): void {
    this.counters.set(name, (this.counters.get(name) ?? 0) + n);
  }

  gauge(name: string, value: number): void {
    this.gauges.set(name, value);
  }

  /** Everything collected since the previous call; counters restart from zero. */
  take(): { counters: Map<string, number>; gauges: Map<string, number> } {
    const out = { counters: this.counters, gauges: this.gauges };
    this.counters = new Map();
    this.gauges = new Map();
    return out;
  }
}

export interface RunFigures {
  duration_ms: number;
  datapoints: number;
  errors: number;
  skipped_ticks: number;
  /** Seconds between now and the end of the last delivered window (the watermark). */
  lag_seconds?: number;
  invalid_values: number;
}

/** The writer's figures as self-metrics: counts since the previous run, plus gauges. */
export interface WriterSelfFigures {
  sent: number;
  dropped: number;
  /** Every line dropped since the process started: the first run after an outage tells its whole loss. */
  dropped_total: number;
  queued: number;
  reconnects: number;
  /** Counts since the previous run, for writers that have acknowledgements (https://). */
  acked?: number;
  rejected?: number;
}

/**
 * Emits one run's figures as `pollers.<job>.<name>` (the sink adds GRAPHITE_PREFIX):
 * per-run counts (duration_ms, datapoints, errors, skipped_ticks, invalid_values, the poller's own counters),
 * gauges (lag_seconds, the poller's gauges, writer.queued, writer.dropped_total) and the writer's counts since
 * the previous run (writer.sent, writer.dropped, writer.reconnects; over https:// also writer.acked, writer.rejected).
 * Give it the sink's reserved() view: these lines must survive the outage they describe.
 */
export function emitSelfMetrics(
  sink: Sink,
  job: string,
  timestamp: number,
  run: RunFigures,
  writer: WriterSelfFigures | undefined,
  poller: { counters: Map<string, number>; gauges: Map<string, number> },
): void {
  const put = (name: string, value: number | undefined) => {
    if (value !== undefined) sink.emit(['pollers', job, ...name.split('.')], value, timestamp);
  };
  for (const [name, value] of Object.entries(run)) put(name, value);
  for (const [name, value] of poller.counters) put(name, value);
  for (const [name, value] of poller.gauges) put(name, value);
  if (writer) for (const [name, value] of Object.entries(writer)) put(`writer.${name}`, value);
}

/** Turns the writer's lifetime totals into per-run deltas (queued and dropped_total stay gauges). */
export class WriterDeltas {
  private previous: WriterStats = { sent: 0, dropped: 0, lost: 0, queued: 0, reconnects: 0 };

  next(current: WriterStats): WriterSelfFigures {
    const delta = {
      sent: current.sent - this.previous.sent,
      dropped: current.dropped - this.previous.dropped,
      dropped_total: current.dropped,
      queued: current.queued,
      reconnects: current.reconnects - this.previous.reconnects,
      ...(current.acked !== undefined ? { acked: current.acked - (this.previous.acked ?? 0) } : {}),
      ...(current.rejected !== undefined ? { rejected: current.rejected - (this.previous.rejected ?? 0) } : {}),
    };
    this.previous = { ...current };
    return delta;
  }
}
