// Any HTTP endpoint that answers JSON: every finite numeric leaf becomes a datapoint under `prefix`.
import { z } from 'zod';
import {
  blockedPortMessage,
  byteSize,
  deadline,
  DEFAULT_MAX_RESPONSE_BYTES,
  definePoller,
  duration,
  fetchBlockedPort,
  formatMs,
  readBoundedText,
} from '../lib/poller-kit/index.ts';

export default definePoller({
  name: 'http-json',
  summary: 'Numeric fields of a JSON document served over HTTP (status pages, /metrics.json, admin APIs)',
  options: z.strictObject({
    url: z
      .url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' })
      // fetch refuses credentials in a URL; say so at load time rather than failing every tick.
      .refine(
        (url) => !/^https?:\/\/[^/]*@/.test(url),
        'expected no user:password@ in the URL: put credentials in headers (Authorization: Basic ${TOKEN})',
      )
      // Likewise a port fetch never connects to (6000, 6665-6669, 25…): every run would fail with "bad port".
      .refine((url) => fetchBlockedPort(url) === undefined, { error: (issue) => blockedPortMessage(String(issue.input)) })
      .describe('The URL to GET on every tick.'),
    prefix: z
      .string()
      .regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, 'expected dot-separated nodes of letters, digits, "_" or "-"')
      .default('http_json')
      .describe('Path under which the document\'s leaves go: {"db":{"connections":5}} becomes <prefix>.db.connections.'),
    headers: z
      .record(z.string(), z.string())
      .default({})
      .describe('Request headers, for example Authorization. Values may use ${ENV_VAR} so secrets stay in the environment or .env.'),
    timeout: duration()
      .refine((s) => s > 0, 'expected more than 0 seconds')
      .default(10)
      .describe('Seconds to wait for the whole response before the run counts as failed.'),
    maxResponseBytes: byteSize()
      .refine((bytes) => bytes > 0, 'expected more than 0 bytes')
      .default(DEFAULT_MAX_RESPONSE_BYTES)
      .describe(
        'The largest answer read, in bytes or with a unit ("512KiB", "16MiB"): past it the run fails, so no answer can exhaust memory.',
      ),
    maxDepth: z
      .number()
      .int()
      .min(1)
      .max(64)
      .default(16)
      .describe('Nesting deeper than this is ignored, so a recursive document cannot produce unbounded paths.'),
    maxDatapoints: z
      .number()
      .int()
      .min(1)
      .default(10000)
      .describe('At most this many leaves are sent per tick; the rest are counted in the self-metric http.truncated.'),
  }),
  schedule: { interval: 60 },

  async poll({ options, window, sink, signal, fetch, stats, now }) {
    const started = now();
    const where = redact(options.url);
    const timeoutMs = options.timeout * 1000;
    const request = deadline(signal, timeoutMs, `GET ${where}: no complete answer within the timeout (${formatMs(timeoutMs)})`);
    let body: string;
    let response: Response;
    try {
      response = await fetch(options.url, {
        headers: { accept: 'application/json', ...options.headers },
        signal: request.signal,
        redirect: 'follow',
      });
      // Status and duration live in the job's self-metrics (pollers.<job>.http.*): a JSON key can never reach there.
      stats.gauge('http.status', response.status);
      body = await readBoundedText(response, options.maxResponseBytes, where);
    } finally {
      request.clear();
    }
    stats.gauge('http.duration_ms', now() - started);
    stats.gauge('http.response_bytes', Buffer.byteLength(body));
    if (!response.ok) throw new Error(`GET ${where} answered ${response.status} ${response.statusText}`.trim());

    let document: unknown;
    try {
      document = JSON.parse(body);
    } catch (error) {
      throw new Error(`GET ${where} did not answer valid JSON: ${(error as Error).message}`);
    }

    const prefix = options.prefix.split('.');
    let sent = 0;
    let truncated = 0;
    for (const [nodes, value] of numericLeaves(document, options.maxDepth)) {
      if (sent >= options.maxDatapoints) {
        truncated++;
        continue;
      }
      sink.emit([...prefix, ...nodes], value, window.end);
      sent++;
    }
    if (truncated > 0) stats.count('http.truncated', truncated);
  },
});

/** Every finite number (and boolean, as 0/1) in a JSON value, with its path; array indices are nodes. */
export function* numericLeaves(value: unknown, maxDepth: number, path: string[] = []): Generator<[string[], number]> {
  if (typeof value === 'number') {
    if (Number.isFinite(value)) yield [path, value];
  } else if (typeof value === 'boolean') {
    yield [path, value ? 1 : 0];
  } else if (value !== null && typeof value === 'object' && path.length < maxDepth) {
    const entries = Array.isArray(value) ? value.map((item, index) => [String(index), item] as const) : Object.entries(value);
    for (const [key, child] of entries) yield* numericLeaves(child, maxDepth, [...path, key]);
  }
}

/** The URL without credentials or query string, for log lines (tokens are often passed as ?key=…). */
function redact(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname}${parsed.search ? '?…' : ''}`;
  } catch {
    return '(url)';
  }
}
