// Rows of GA answers → datapoints: the time axis becomes the timestamp, dimension values become path nodes.
import { ConfigError, renderPathTemplate } from '../../lib/poller-kit/index.ts';
import { dateHourToEpoch, dateToEpoch } from './ga-dates.ts';
import type { Row, RunRealtimeReportResponse, RunReportResponse } from './client.ts';
import { dimensionPlaceholder, type RealtimeEntry, type ReportEntry } from './options.ts';

export type Emit = (path: readonly string[], value: number, timestamp: number) => void;

/** GA's time dimension of a report granularity. */
export function axisOf(granularity: 'hour' | 'day'): 'dateHour' | 'date' {
  return granularity === 'hour' ? 'dateHour' : 'date';
}

/** What a page of rows held besides datapoints, for the once-per-report notes. */
export interface RowNotes {
  points: number;
  /** Rows GA rolled into "(other)" (high cardinality). */
  otherRow: boolean;
  /** GA withheld rows below its privacy thresholds. */
  thresholded: boolean;
  /** Rows whose time value could not be read. */
  badTime: number;
}

interface Columns {
  axis: number;
  dimensions: number[];
  metrics: Array<{ name: string; index: number }>;
}

/** Column positions by header name, so the mapping does not depend on GA keeping the request's order. */
function columns(
  response: RunReportResponse | RunRealtimeReportResponse,
  axisName: string,
  entry: { dimensions: string[]; metrics: string[] },
): Columns {
  const dimensionNames = (response.dimensionHeaders ?? []).map((h) => h.name ?? '');
  const metricNames = (response.metricHeaders ?? []).map((h) => h.name ?? '');
  const find = (names: string[], name: string, fallback: number) => {
    const i = names.indexOf(name);
    return i >= 0 ? i : fallback;
  };
  return {
    axis: find(dimensionNames, axisName, 0),
    dimensions: entry.dimensions.map((name, i) => find(dimensionNames, name, i + 1)),
    metrics: entry.metrics.map((name, i) => ({ name, index: find(metricNames, name, i) })),
  };
}

function pathBuilder(
  template: string | undefined,
  defaultHead: readonly string[],
  fixed: Record<string, string>,
  dimensions: readonly string[],
  field: string,
): (values: readonly string[], metric: string) => string[] {
  if (template === undefined) return (values, metric) => [...defaultHead, ...values, metric];
  return (values, metric) => {
    const placeholders: Record<string, string | readonly string[]> = { ...fixed, metric, dimensions: values };
    dimensions.forEach((d, i) => (placeholders[dimensionPlaceholder(d)] = values[i] ?? ''));
    try {
      return renderPathTemplate(template, placeholders);
    } catch (error) {
      throw new ConfigError((error as Error).message, { field });
    }
  };
}

function metricValue(row: Row, index: number): number | undefined {
  const raw = row.metricValues?.[index]?.value;
  if (raw === undefined || raw === null || raw === '') return undefined;
  const value = Number(raw);
  return Number.isFinite(value) ? value : undefined;
}

function noteRow(values: readonly string[], notes: RowNotes): void {
  if (!notes.otherRow && values.includes('(other)')) notes.otherRow = true;
}

export interface ReportMapping {
  propertyId: string;
  timeZone: string;
  /** Points whose period starts in `[from, to)` are emitted; the rest of the rows are context GA sent along. */
  from: number;
  to: number;
  /** The option path of this report, for errors in its template. */
  field: string;
  /** Told of every row with a readable time (in the range or not): its dimension values (JSON) and period start. */
  seen?: (combination: string, timestamp: number) => void;
}

/** Emits one point per row and metric of a report page: timestamp = start of the row's hour or day in the property's zone. */
export function mapReportRows(response: RunReportResponse, report: ReportEntry, mapping: ReportMapping, emit: Emit): RowNotes {
  const axis = axisOf(report.granularity);
  const toEpoch = report.granularity === 'hour' ? dateHourToEpoch : dateToEpoch;
  const cols = columns(response, axis, report);
  const path = pathBuilder(
    report.path,
    ['ga4', mapping.propertyId, report.name],
    { propertyId: mapping.propertyId, report: report.name },
    report.dimensions,
    `${mapping.field}.path`,
  );
  const notes: RowNotes = {
    points: 0,
    otherRow: response.metadata?.dataLossFromOtherRow === true,
    thresholded: response.metadata?.subjectToThresholding === true,
    badTime: 0,
  };
  for (const row of response.rows ?? []) {
    const timestamp = toEpoch(row.dimensionValues?.[cols.axis]?.value ?? '', mapping.timeZone);
    if (timestamp === undefined) {
      notes.badTime++;
      continue;
    }
    mapping.seen?.(JSON.stringify(cols.dimensions.map((i) => row.dimensionValues?.[i]?.value ?? '')), timestamp);
    if (timestamp < mapping.from || timestamp >= mapping.to) continue;
    emitRow(row, cols, path, timestamp, emit, notes);
  }
  return notes;
}

/**
 * Emits 0 for every metric of each dimension combination (JSON of its values, as `seen` names them) at each
 * period start in `periods` that had no row for it: GA leaves out rows whose metrics are all 0.
 */
export function fillReport(
  report: ReportEntry,
  mapping: { propertyId: string; field: string },
  periods: readonly number[],
  combinations: readonly string[],
  had: (combination: string, timestamp: number) => boolean,
  emit: Emit,
): number {
  const path = pathBuilder(
    report.path,
    ['ga4', mapping.propertyId, report.name],
    { propertyId: mapping.propertyId, report: report.name },
    report.dimensions,
    `${mapping.field}.path`,
  );
  let points = 0;
  for (const combination of combinations) {
    const values = JSON.parse(combination) as string[];
    for (const timestamp of periods) {
      if (had(combination, timestamp)) continue;
      for (const metric of report.metrics) {
        emit(path(values, metric), 0, timestamp);
        points++;
      }
    }
  }
  return points;
}

export interface RealtimeMapping {
  propertyId: string;
  /** Epoch seconds at which GA answered: minutesAgo counts back from the minute containing it. */
  answeredAt: number;
  field: string;
}

/** Emits one point per row and metric of a realtime answer, at the start of the minute `minutesAgo` names. */
export function mapRealtimeRows(response: RunRealtimeReportResponse, entry: RealtimeEntry, mapping: RealtimeMapping, emit: Emit): RowNotes {
  const cols = columns(response, 'minutesAgo', entry);
  const path = pathBuilder(
    entry.path,
    ['ga4', mapping.propertyId, 'realtime'],
    { propertyId: mapping.propertyId },
    entry.dimensions,
    `${mapping.field}.path`,
  );
  const currentMinute = Math.floor(mapping.answeredAt / 60) * 60;
  const notes: RowNotes = { points: 0, otherRow: false, thresholded: false, badTime: 0 };
  for (const row of response.rows ?? []) {
    // "00" is the current minute, "29" the oldest; a number, not a path node.
    const raw = row.dimensionValues?.[cols.axis]?.value ?? '';
    const minutesAgo = /^\d+$/.test(raw) ? Number(raw) : NaN;
    if (!Number.isInteger(minutesAgo)) {
      notes.badTime++;
      continue;
    }
    const timestamp = currentMinute - minutesAgo * 60;
    emitRow(row, cols, path, timestamp, emit, notes);
  }
  return notes;
}

/** One row's metrics at `timestamp`, each under the path its dimension values and metric name make. */
function emitRow(row: Row, cols: Columns, path: ReturnType<typeof pathBuilder>, timestamp: number, emit: Emit, notes: RowNotes): void {
  const values = cols.dimensions.map((i) => row.dimensionValues?.[i]?.value ?? '');
  noteRow(values, notes);
  for (const metric of cols.metrics) {
    const value = metricValue(row, metric.index);
    if (value === undefined) continue;
    emit(path(values, metric.name), value, timestamp);
    notes.points++;
  }
}
