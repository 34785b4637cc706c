// A series' name as Graphite will store it: every node sanitized, tags in carbon's rules. In the kit because a
// poller sometimes needs to know which of its series would land on the same name (and say so) before emitting.
import { createHash } from 'node:crypto';
import type { MetricPath, MetricTags } from './contract.ts';

/**
 * The character set of a path node: letters and digits of any script (`\p{L}`, `\p{N}`), `_` and `-`.
 * Everything else — dots, spaces, newlines, control characters, `;`, `=`, `~`, `/`, glob characters
 * (`*?[]{}`), quotes — becomes `_`, and runs of `_` collapse to one. An empty node becomes `_`.
 * A node longer than NODE_MAX_BYTES (UTF-8) is cut and given an 8-character hash of its full text,
 * so distinct long values stay distinct and whisper file names stay under the file system's 255 bytes.
 */
export const NODE_MAX_BYTES = 120;
const NOT_ALLOWED = /[^\p{L}\p{N}_-]+/gu;
const SAFE_NODE = /^[A-Za-z0-9_-]{1,120}$/;

export function sanitizeNode(raw: string): string {
  // Fast path: most nodes (names written by the poller's author) are already clean.
  if (SAFE_NODE.test(raw)) return raw;
  let node = String(raw).replace(NOT_ALLOWED, '_').replace(/_+/g, '_');
  if (node === '') node = '_';
  if (Buffer.byteLength(node, 'utf8') > NODE_MAX_BYTES) {
    const hash = createHash('sha256').update(raw).digest('hex').slice(0, 8);
    let cut = node;
    while (Buffer.byteLength(cut, 'utf8') > NODE_MAX_BYTES - 9) cut = cut.slice(0, -1);
    // Never leave half of a surrogate pair at the cut.
    if (/[\uD800-\uDBFF]$/.test(cut)) cut = cut.slice(0, -1);
    node = `${cut}_${hash}`;
  }
  return node;
}

/** Nodes of a path: a dotted string is split on its dots (trusted shape), an array is taken node by node. */
export function pathNodes(path: MetricPath): string[] {
  const nodes = typeof path === 'string' ? path.split('.') : [...path];
  return nodes.map(sanitizeNode);
}

/**
 * Graphite 1.1 tags: `name;tag=value`, by carbon's rules (carbon/util.py TaggedSeries): a tag name must not
 * be empty nor hold `;!^=`; a value must not be empty, hold `;` or start with `~`. Names here keep only
 * `\p{L}\p{N}_-.:`; values lose whitespace and control characters (they would split the line), `;` and a
 * leading `~` (each run becomes `_`); an empty value becomes `_`. A tag called `name` becomes `_name`:
 * carbon keeps the metric's name under that tag and would drop ours. Two keys that sanitize alike keep
 * the first (in key order). Tags come in key order, so one series always has one line name (carbon
 * sorts them again when it stores; carbon-c-relay hashes the name as sent).
 */
export function formatTags(tags: MetricTags | undefined): string {
  if (!tags) return '';
  const names = new Set<string>();
  let out = '';
  for (const key of Object.keys(tags).sort()) {
    let name = key.replace(/[^\p{L}\p{N}_.:-]+/gu, '_') || '_';
    if (name === 'name') name = '_name';
    if (names.has(name)) continue;
    names.add(name);
    let value = String(tags[key]).replace(/[;\s\p{Cc}\p{Cf}\p{Zl}\p{Zp}]+/gu, '_');
    if (value.startsWith('~')) value = '_' + value.slice(1);
    if (value === '') value = '_';
    if (Buffer.byteLength(value, 'utf8') > NODE_MAX_BYTES * 2) value = sanitizeNode(value);
    out += `;${name}=${value}`;
  }
  return out;
}

/** The name a series is stored under (without GRAPHITE_PREFIX): two series with the same name are one in Graphite. */
export function seriesName(path: MetricPath, tags?: MetricTags): string {
  return pathNodes(path).join('.') + formatTags(tags);
}
