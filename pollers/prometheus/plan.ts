// What a job costs, without fetching: requests per tick and per backfill day, points per request, against the limits.
import { formatByteSize, formatDuration, type JobSchedule, type PollPlan } from '../../lib/poller-kit/index.ts';
import { MAX_POINTS_PER_SERIES, PROMETHEUS_MAX_SAMPLES, type PrometheusOptions } from './options.ts';
import { stepsIn } from './steps.ts';

/** About what one sample costs in a query_range answer: `[1712345678,"1234.5678"],`. */
const BYTES_PER_SAMPLE = 26;

export function planOf(options: PrometheusOptions, schedule: JobSchedule): PollPlan {
  const step = schedule.interval;
  const queries = options.queries.length;
  const requestsFor = (seconds: number) => Math.ceil(stepsIn(seconds, step) / MAX_POINTS_PER_SERIES);

  const tickSeconds = Math.max(schedule.lookback, schedule.interval);
  const tickPoints = stepsIn(tickSeconds, step);
  const tickRequests = queries * requestsFor(tickSeconds);

  const windowSeconds = Math.max(step, Math.floor(options.maxWindow / step) * step);
  const windowPoints = stepsIn(windowSeconds, step);
  const requestsPerWindow = requestsFor(windowSeconds);
  const pointsPerRequest = Math.min(windowPoints, MAX_POINTS_PER_SERIES);
  const dayRequests = Math.ceil(queries * requestsPerWindow * (86400 / windowSeconds));

  const plan: PollPlan = {
    summary: [
      `${queries} ${queries === 1 ? 'query' : 'queries'}, step ${formatDuration(step)} (the interval), ` +
        `every ${formatDuration(step)}, window ${formatDuration(tickSeconds)}`,
    ],
    requests: [
      {
        what: 'requests',
        singular: 'request',
        perTick: tickRequests,
        perDay: Math.ceil((tickRequests * 86400) / step),
        note: 'query_range',
      },
    ],
    datapoints: [{ perTick: tickPoints, note: 'per series of each query' }],
    notes: [
      `backfill and catch-up: windows of ${formatDuration(windowSeconds)} (maxWindow), ` +
        `${requestsPerWindow} request(s) per query and window, ` +
        `${dayRequests} requests per backfill day, up to ${pointsPerRequest} points per series per request`,
    ],
    warnings: [],
  };
  const largest = Math.max(...options.queries.map((q) => q.maxSeries ?? options.maxSeries));
  const samples = largest * pointsPerRequest;
  const bytes = samples * BYTES_PER_SAMPLE;
  plan.notes!.push(
    `limits: ${MAX_POINTS_PER_SERIES.toLocaleString('en-US')} points per series per request ` +
      "(Prometheus's; windows are split to stay within it); " +
      `at maxSeries ${largest}, a request holds up to ${samples.toLocaleString('en-US')} samples ` +
      `(Prometheus's default --query.max-samples: ${PROMETHEUS_MAX_SAMPLES.toLocaleString('en-US')}), ` +
      `about ${(bytes / 2 ** 20).toFixed(1)} MiB of JSON ` +
      `(maxResponseBytes: ${formatByteSize(options.maxResponseBytes)})`,
  );
  if (samples > PROMETHEUS_MAX_SAMPLES) {
    plan.warnings!.push(
      'over the limit: a request that large is refused by a default Prometheus ("query processing would load too many samples"): ' +
        'lower maxWindow or maxSeries',
    );
  }
  if (bytes > options.maxResponseBytes) {
    plan.warnings!.push(
      'over the limit: an answer that large exceeds maxResponseBytes: lower maxWindow or maxSeries, or raise maxResponseBytes',
    );
  }
  return plan;
}
