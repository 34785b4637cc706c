// A query's result as datapoints: one path per series from its labels, finite values only, capped in series.
import {
  type MetricTags,
  type Sink,
  type TimeWindow,
  seriesName,
  renderPathTemplate,
  templatePlaceholders,
} from '../../lib/poller-kit/index.ts';
import type { QueryOptions } from './options.ts';
import { sampleValue, type ResultSeries } from './response.ts';

/** What one result gave, for counters and the once-logged notes. */
export interface MappingFigures {
  datapoints: number;
  /** NaN, ±Inf (stale markers are NaN) and unreadable values: not sent. */
  nonFinite: number;
  /** Samples a compatible server returned outside the window (never asked for): not sent. */
  outsideWindow: number;
  /** Native histogram samples: Graphite holds numbers, not buckets. */
  histograms: number;
  /** Series past the query's maxSeries: not sent. */
  capped: number;
  /** Series whose path (and tags) another series of the same result already has: not sent. */
  collisions: Array<{ path: string; first: string; second: string }>;
}

/** `{job="api", instance="a:9100"}`: how a series is named in log lines. */
export function describeLabels(labels: Readonly<Record<string, string>>): string {
  const name = labels.__name__ ?? '';
  const rest = Object.keys(labels)
    .filter((key) => key !== '__name__')
    .sort()
    .map((key) => `${key}=${JSON.stringify(labels[key])}`);
  return `${name}{${rest.join(', ')}}`;
}

/**
 * Emits every finite sample of `series` whose time lies in the half-open window, at that time, under
 * `prefix` + the query's path template. The series are taken in the order of their labels, so the `maxSeries`
 * kept are the same from one window to the next. Two series with the same path would overwrite each other in
 * whisper: the second is not sent and reported instead, so the template can be fixed.
 */
export function emitSeries(
  series: readonly ResultSeries[],
  query: QueryOptions,
  settings: { prefix: readonly string[]; maxSeries: number; window: TimeWindow },
  sink: Sink,
): MappingFigures {
  const figures: MappingFigures = { datapoints: 0, nonFinite: 0, outsideWindow: 0, histograms: 0, capped: 0, collisions: [] };
  const placeholders = templatePlaceholders(query.path);
  const named = series
    .map((s) => ({ series: s, key: describeLabels(s.labels) }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const seen = new Map<string, string>();
  let kept = 0;
  for (const { series: one, key } of named) {
    if (kept >= settings.maxSeries) {
      figures.capped++;
      continue;
    }
    kept++;
    const path = [...settings.prefix, ...renderPathTemplate(query.path, placeholderValues(placeholders, query.name, one.labels))];
    const tags = tagsOf(query.tags, one.labels);
    // Compared as written: "a.b" and "a b" are one node "a_b" once sanitized.
    const identity = seriesName(path, tags);
    const earlier = seen.get(identity);
    if (earlier !== undefined) {
      figures.collisions.push({ path: identity, first: earlier, second: key });
      continue;
    }
    seen.set(identity, key);
    figures.histograms += one.histograms;
    for (const [time, text] of one.samples) {
      if (!(time >= settings.window.start && time < settings.window.end)) {
        figures.outsideWindow++;
        continue;
      }
      const value = sampleValue(text);
      if (value === undefined) {
        figures.nonFinite++;
        continue;
      }
      sink.emit(path, value, time, tags);
      figures.datapoints++;
    }
  }
  return figures;
}

/** `{name}` and each `{label.X}` the template uses; a label the series lacks is empty, as PromQL treats it. */
function placeholderValues(
  placeholders: readonly string[],
  name: string,
  labels: Readonly<Record<string, string>>,
): Record<string, string> {
  const values: Record<string, string> = { name };
  for (const placeholder of placeholders) {
    if (placeholder.startsWith('label.')) values[placeholder] = labels[placeholder.slice('label.'.length)] ?? '';
  }
  return values;
}

function tagsOf(choice: boolean | readonly string[], labels: Readonly<Record<string, string>>): MetricTags | undefined {
  if (choice === false) return undefined;
  const names = choice === true ? Object.keys(labels).filter((key) => key !== '__name__') : choice;
  const tags: Record<string, string> = {};
  for (const name of names) if (labels[name] !== undefined && labels[name] !== '') tags[name] = labels[name];
  return Object.keys(tags).length > 0 ? tags : undefined;
}
