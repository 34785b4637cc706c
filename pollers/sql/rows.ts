// Rows → datapoints: value columns become numbers (or are skipped and counted), the other columns fill the path template.
import { renderPathTemplate, type MetricTags, type TimeWindow } from '../../lib/poller-kit/index.ts';
import type { SqlQuery } from './options.ts';

export type Row = Readonly<Record<string, unknown>>;

export interface Datapoint {
  nodes: string[];
  value: number;
  timestamp: number;
  tags: MetricTags | undefined;
}

export interface RowCounts {
  /** NULL values (and rows whose timestamp is NULL). */
  nulls: number;
  /** Values that are not numbers: text, dates, bytes. */
  notNumeric: number;
  /** Rows whose timestamp column holds no readable time. */
  badTimestamps: number;
}

// What NUMERIC/DECIMAL/BIGINT columns arrive as: exact decimal text.
const NUMERIC_TEXT = /^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/;

/** A column's number: numbers, bigints, booleans (1/0) and numeric text; undefined for NULL or anything else. */
export function numericValue(value: unknown): number | null | undefined {
  if (value === null || value === undefined) return null;
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'bigint') return Number(value);
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value === 'string' && NUMERIC_TEXT.test(value)) {
    const number = Number(value);
    return Number.isFinite(number) ? number : undefined;
  }
  return undefined;
}

/**
 * Epoch seconds of a timestamp column: a Date, epoch seconds, or text the database gave (an ISO time, or
 * 'YYYY-MM-DD HH:MM:SS' which the poller's UTC session means as UTC). undefined when unreadable.
 */
export function timestampValue(value: unknown): number | null | undefined {
  if (value === null || value === undefined) return null;
  if (value instanceof Date) return Number.isFinite(value.getTime()) ? Math.floor(value.getTime() / 1000) : undefined;
  const number = numericValue(value);
  if (typeof value !== 'string' && number !== undefined && number !== null) return Math.floor(number);
  if (typeof value === 'string') {
    if (NUMERIC_TEXT.test(value)) return Math.floor(Number(value));
    let text = value.trim().replace(' ', 'T');
    if (/^\d{4}-\d{2}-\d{2}$/.test(text)) text += 'T00:00:00';
    if (!/(Z|[+-]\d{2}(:?\d{2})?)$/.test(text)) text += 'Z';
    const ms = Date.parse(text.replace(/([+-]\d{2})$/, '$1:00'));
    return Number.isFinite(ms) ? Math.floor(ms / 1000) : undefined;
  }
  return undefined;
}

/** How a column's value reads in a path node or a tag: text as is, dates as ISO, NULL as "null". */
export function labelText(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (value instanceof Date) return Number.isFinite(value.getTime()) ? value.toISOString() : 'invalid-date';
  if (Buffer.isBuffer(value)) return value.toString('hex');
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

export interface MapContext {
  /** The query's window; a windowed row without a timestamp column is dated at its start. */
  window: TimeWindow;
  /** A snapshot's rows are dated here (the tick). */
  snapshotAt: number;
  usesWindow: boolean;
  /** The query's index in `queries`, for messages. */
  index: number;
}

/**
 * The datapoints of one result. Throws (a failure of this query, not the job) when a configured column is missing
 * from the result, naming it and the columns there are: the SQL and the config disagree.
 */
export function mapRows(
  rows: readonly Row[],
  columns: readonly string[],
  query: SqlQuery,
  context: MapContext,
  counts: RowCounts,
): Datapoint[] {
  const field = `queries[${context.index}]`;
  const known = new Set(columns);
  const missing = (what: string, column: string) =>
    new Error(
      `${field} (${query.name}): ${what} names column "${column}", which the result does not have (columns: ` +
        `${columns.join(', ') || 'none'})`,
    );
  for (const column of query.values) if (!known.has(column)) throw missing('values', column);
  for (const column of query.tags) if (!known.has(column)) throw missing('tags', column);
  if (query.timestamp && !known.has(query.timestamp)) throw missing('timestamp', query.timestamp);
  // Placeholders other than {query} and {value} name columns: checked here, once the result's columns are known.
  const placeholders = [...query.path.matchAll(/\{([A-Za-z0-9_.-]+)\}/g)].map((m) => m[1]!).filter((p) => p !== 'query' && p !== 'value');
  for (const column of placeholders) if (!known.has(column)) throw missing('path', column);

  const points: Datapoint[] = [];
  for (const row of rows) {
    let timestamp = context.usesWindow ? context.window.start : context.snapshotAt;
    if (query.timestamp) {
      const at = timestampValue(row[query.timestamp]);
      if (at === null) {
        counts.nulls++;
        continue;
      }
      if (at === undefined) {
        counts.badTimestamps++;
        continue;
      }
      timestamp = at;
    }
    const labels: Record<string, string> = {};
    for (const column of placeholders) labels[column] = labelText(row[column]);
    const tags = query.tags.length > 0 ? Object.fromEntries(query.tags.map((column) => [column, labelText(row[column])])) : undefined;
    for (const column of query.values) {
      const value = numericValue(row[column]);
      if (value === null) {
        counts.nulls++;
        continue;
      }
      if (value === undefined) {
        counts.notNumeric++;
        continue;
      }
      // Reserved names last: a column called "query" or "value" cannot change what those placeholders mean.
      const nodes = renderPathTemplate(query.path, { ...labels, query: query.name, value: column });
      points.push({ nodes, value, timestamp, tags });
    }
  }
  return points;
}
