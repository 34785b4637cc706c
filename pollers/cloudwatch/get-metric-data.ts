// Runs one planned GetMetricData call: every NextToken page, each value to its paths at its period's start, fill: 0.
import type { GetMetricDataCommandInput, GetMetricDataCommandOutput, MetricDataQuery } from '@aws-sdk/client-cloudwatch';
import type { Logger, PollStats, Sink } from '../../lib/poller-kit/index.ts';
import type { PlannedCall } from './batching.ts';
import type { Series } from './series.ts';

export interface CallRun {
  getMetricData: (input: GetMetricDataCommandInput) => Promise<GetMetricDataCommandOutput>;
  sink: Sink;
  stats: PollStats;
  log: Logger;
}

export function toQueries(call: PlannedCall): MetricDataQuery[] {
  return call.queries.map(({ series, period }, index) => ({
    Id: `q${index}`,
    MetricStat: {
      Metric: {
        Namespace: series.namespace,
        MetricName: series.metric,
        Dimensions: series.dimensions.map(([Name, Value]) => ({ Name, Value })),
      },
      Period: period,
      Stat: series.stat,
    },
    ReturnData: true,
  }));
}

/**
 * Fetches `call` and emits its datapoints; returns how many it emitted. CloudWatch timestamps a value at the
 * start of its period, which is the Graphite timestamp too. Missing periods emit nothing, except for series
 * with `fill: 0`, which get a 0 for each period of the range that had no value.
 */
export async function runCall(call: PlannedCall, run: CallRun): Promise<number> {
  const queries = toQueries(call);
  const seen = call.queries.map((q) => (q.series.fill ? new Set<number>() : undefined));
  let emitted = 0;
  let nextToken: string | undefined;
  do {
    const page = await run.getMetricData({
      MetricDataQueries: queries,
      StartTime: new Date(call.startTime * 1000),
      EndTime: new Date(call.endTime * 1000),
      ScanBy: 'TimestampAscending',
      ...(nextToken ? { NextToken: nextToken } : {}),
    });
    for (const result of page.MetricDataResults ?? []) {
      const index = Number(result.Id?.slice(1));
      const planned = call.queries[index];
      if (!planned || result.Id !== `q${index}`) continue;
      if (result.StatusCode === 'InternalError' || result.StatusCode === 'Forbidden') {
        run.stats.count('query_errors');
        run.log.warn(`GetMetricData answered ${result.StatusCode} for one query`, {
          namespace: planned.series.namespace,
          metric: planned.series.metric,
          stat: planned.series.stat,
          messages: result.Messages?.map((m) => `${m.Code}: ${m.Value}`).join('; '),
        });
      }
      const timestamps = result.Timestamps ?? [];
      const values = result.Values ?? [];
      for (let i = 0; i < timestamps.length && i < values.length; i++) {
        const timestamp = Math.floor(timestamps[i]!.getTime() / 1000);
        // Nothing outside the range asked for (a server rounding differently must not shift points).
        if (timestamp < call.startTime || timestamp >= call.endTime) continue;
        emitAll(run.sink, planned.series, values[i]!, timestamp);
        emitted += planned.series.paths.length;
        seen[index]?.add(timestamp);
      }
    }
    for (const message of page.Messages ?? []) run.log.warn('GetMetricData message', { code: message.Code, message: message.Value });
    nextToken = page.NextToken;
    if (nextToken) run.stats.count('get_metric_data_pages');
    // Backfills stream millions of points: let the writer drain between pages.
    await run.sink.ready();
  } while (nextToken);

  call.queries.forEach((planned, index) => {
    const got = seen[index];
    if (!got) return;
    for (let t = call.startTime; t < call.endTime; t += planned.period) {
      if (got.has(t)) continue;
      emitAll(run.sink, planned.series, 0, t);
      emitted += planned.series.paths.length;
    }
  });
  return emitted;
}

/** One value to every path of the series, each with its Graphite tags (if it has any). */
function emitAll(sink: Sink, series: Series, value: number, timestamp: number): void {
  const { paths, pathTags } = series;
  for (let p = 0; p < paths.length; p++) sink.emit(paths[p]!, value, timestamp, pathTags?.[p]);
}
