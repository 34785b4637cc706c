// Graphite metric paths: every node sanitized, values formatted, so no API value can break a line.
import type { MetricPath } from '../poller-kit/contract.ts';
import { pathNodes } from '../poller-kit/series-name.ts';

export { formatTags, NODE_MAX_BYTES, pathNodes, sanitizeNode } from '../poller-kit/series-name.ts';

/** The sanitized dotted path. `prefix` (already dotted, e.g. GRAPHITE_PREFIX) is sanitized the same way. */
export function formatPath(path: MetricPath, prefix?: string): string {
  const nodes = pathNodes(path);
  if (prefix) nodes.unshift(...pathNodes(prefix));
  return nodes.join('.');
}

/** A plaintext-protocol value, or undefined for NaN/±Infinity (never sent). */
export function formatValue(value: number): string | undefined {
  if (typeof value !== 'number' || !Number.isFinite(value)) return undefined;
  if (Object.is(value, -0)) return '0';
  return String(value);
}

/** One plaintext line `path value timestamp\n`, or undefined when the value or timestamp cannot be sent. */
export function formatLine(path: string, value: number, timestampSeconds: number): string | undefined {
  const v = formatValue(value);
  if (v === undefined || !Number.isFinite(timestampSeconds)) return undefined;
  return `${path} ${v} ${Math.floor(timestampSeconds)}\n`;
}
