// PromQL into Graphite: each query's series over the window, one query_range per query, live and backfilled alike.
import { ConfigError, fanOut, type Logger, definePoller, type PollContext } from '../lib/poller-kit/index.ts';
import { queryRange } from './prometheus/client.ts';
import { emitSeries } from './prometheus/datapoints.ts';
import { MAX_POINTS_PER_SERIES, prometheusOptions, type PrometheusOptions, type QueryOptions } from './prometheus/options.ts';
import { planOf } from './prometheus/plan.ts';
import { PrometheusApiError } from './prometheus/response.ts';
import { stepRanges } from './prometheus/steps.ts';

export { prometheusOptions };

/** Distinct notes a poller instance remembers having logged; past it, new ones are still counted, not logged. */
const MAX_REMEMBERED_NOTES = 1000;

/**
 * A prometheus poller with its own memory of what it has logged: a warning the server repeats on every tick
 * (a Thanos store down, a capped query) is logged once per process and counted every time.
 */
export function createPrometheusPoller() {
  const logged = new Set<string>();
  const once = (log: Logger, key: string, write: (log: Logger) => void) => {
    if (logged.has(key) || logged.size >= MAX_REMEMBERED_NOTES) return;
    logged.add(key);
    write(log);
  };

  async function pollQuery(ctx: PollContext<PrometheusOptions>, query: QueryOptions, signal: AbortSignal | undefined): Promise<void> {
    const { options, window, sink, stats, log } = ctx;
    const prefix = options.prefix.split('.');
    const maxSeries = query.maxSeries ?? options.maxSeries;
    // step = the job's interval: a live tick, a catch-up window and a backfill window ask for the same instants.
    for (const range of stepRanges(window, ctx.schedule.interval, MAX_POINTS_PER_SERIES)) {
      // A backfill pushes millions of points: wait for the writer between requests rather than queue them all.
      await sink.ready(signal);
      stats.count('api_calls');
      let answer;
      try {
        answer = await queryRange({ fetch: ctx.fetch, signal }, options, query.query, range);
      } catch (error) {
        if (error instanceof ConfigError) throw error;
        // The API's own words ("1:4: parse error: unclosed left parenthesis") are what the user needs.
        if (error instanceof PrometheusApiError) throw new Error(`the server answered ${error.message}`, { cause: error });
        throw error;
      }
      for (const warning of answer.warnings) {
        stats.count('prometheus.warnings');
        once(log, `warning ${query.name} ${warning}`, (l) =>
          l.warn(`query ${query.name}: the server warns: ${warning} (logged once; counted in prometheus.warnings)`),
        );
      }
      for (const info of answer.infos) {
        stats.count('prometheus.infos');
        once(log, `info ${query.name} ${info}`, (l) =>
          l.info(`query ${query.name}: the server notes: ${info} (logged once; counted in prometheus.infos)`),
        );
      }
      const figures = emitSeries(answer.series, query, { prefix, maxSeries, window }, sink);
      stats.count('prometheus.series', Math.min(answer.series.length, maxSeries));
      if (figures.nonFinite > 0) stats.count('prometheus.non_finite', figures.nonFinite);
      if (figures.outsideWindow > 0) {
        stats.count('prometheus.outside_window', figures.outsideWindow);
        once(log, `outside ${query.name}`, (l) =>
          l.warn(
            `query ${query.name}: the server answered samples at times not asked for; ` +
              'they are not sent (counted in prometheus.outside_window)',
          ),
        );
      }
      if (figures.histograms > 0) {
        stats.count('prometheus.histogram_samples', figures.histograms);
        once(log, `histograms ${query.name}`, (l) =>
          l.warn(
            `query ${query.name}: native histogram samples are not sent (Graphite holds numbers): ` +
              'use histogram_quantile() or histogram_count() in the query',
          ),
        );
      }
      if (figures.capped > 0) {
        stats.count('prometheus.series_capped', figures.capped);
        once(log, `capped ${query.name}`, (l) =>
          l.warn(
            `query ${query.name}: ${answer.series.length} series, only the first ${maxSeries} (by labels) are sent: ` +
              'narrow the query or raise maxSeries (logged once; counted in prometheus.series_capped)',
          ),
        );
      }
      for (const collision of figures.collisions) {
        stats.count('prometheus.path_collisions');
        once(log, `collision ${query.name} ${collision.path}`, (l) =>
          l.warn(
            `query ${query.name}: ${collision.second} has the same path ${collision.path} as ${collision.first} and is not sent: ` +
              'add the label that tells them apart to the path (logged once; counted in prometheus.path_collisions)',
          ),
        );
      }
    }
  }

  return definePoller({
    name: 'prometheus',
    summary: 'PromQL queries of a Prometheus-compatible API (Prometheus, Thanos, Mimir, VictoriaMetrics), live and backfilled',
    options: prometheusOptions,
    // Delay 0: the last step asked for is a full interval old. The lookback re-fetches the last 3 minutes on every
    // tick, so samples that arrive late (remote write, a slow scrape, rule evaluation) are corrected.
    schedule: { interval: 60, delay: 0, lookback: 180 },
    history: {
      maxWindow: (options) => options.maxWindow,
      retention: (options) => options.retention,
    },

    async poll(ctx) {
      const { options, stats } = ctx;
      // One query's failure (bad PromQL, a timeout) fails the run with the API's message; the others deliver.
      await fanOut(options.queries, (query, signal) => pollQuery(ctx, query, signal), {
        concurrency: options.concurrency,
        signal: ctx.signal,
        stats,
        noun: 'queries',
        label: (query) => `query ${query.name}`,
        onFailure: () => stats.count('prometheus.failed_queries'),
      });
    },

    plan: (options, schedule) => planOf(options, schedule),
  });
}

export default createPrometheusPoller;
