// Untrusted strings: 10,000 random strings each (control characters, newlines, spaces, dots, ";", "=", "~", unicode,
// very long) as JSON keys (http-json), CloudWatch dimension values (the CloudWatch fake) and GA dimension values (the
// GA4 fake), through the real pollers and the real sink. Every wire line must be valid, none injected, paths bounded.
import type { MetricDatum } from '@aws-sdk/client-cloudwatch';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, type TestContext } from 'vitest';

type Task = TestContext['task'];
import { systemClock } from '../../lib/poller-kit/clock.ts';
import { loadJobConfig } from '../../lib/config/job-config.ts';
import { GraphiteSink } from '../../lib/graphite/sink.ts';
import { silentLogger } from '../../lib/poller-kit/logger.ts';
import { NODE_MAX_BYTES } from '../../lib/graphite/metric-path.ts';
import type { Poller } from '../../lib/poller-kit/contract.ts';
import { runPoller } from '../../lib/run/run-poller.ts';
import { createCloudWatchPoller } from '../../pollers/cloudwatch.ts';
import { createGoogleAnalyticsPoller } from '../../pollers/google-analytics.ts';
import httpJson from '../../pollers/http-json.ts';
import { CloudWatchFake } from '../helpers/cloudwatch-fake.ts';
import { Ga4Fake } from '../helpers/ga4-fake.ts';
import { TestHttpServer } from '../helpers/http-server.ts';
import { MemoryWriter } from '../helpers/memory-writer.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { count, report } from './harness.ts';

const STRINGS = 10_000;
const SEED = Number(process.env.RELIABILITY_SEED ?? 20261126);

/** mulberry32: a small seeded generator, so a failure can be replayed with RELIABILITY_SEED. */
function generator(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PIECES = [
  '\n',
  '\r',
  '\r\n',
  '\t',
  '\v',
  '\f',
  ' ',
  '  ',
  '\0',
  '\x1b[31m',
  '\x7f',
  '\u0085',
  '\u00a0',
  '\u2028',
  '\u2029',
  '\u200b',
  '\u200e',
  '\u202e',
  '\ufeff',
  '.',
  '..',
  ';',
  '=',
  '~',
  ';tag=value',
  '=x',
  '~x',
  '/',
  '\\',
  '*',
  '?',
  '[',
  ']',
  '{',
  '}',
  '(',
  ')',
  ',',
  ':',
  '"',
  "'",
  '`',
  '#',
  '%',
  '&',
  '|',
  '<',
  '>',
  'é',
  'ß',
  'ø',
  'Ж',
  'ж',
  'α',
  '中',
  '文',
  'ア',
  '한',
  'א',
  'ع',
  'हि',
  'ก',
  '\u0301',
  '\u0308',
  '🙂',
  '👨‍👩‍👧',
  '🏳️‍🌈',
  '𝔸',
  '\ud800',
  '\udfff',
  'a',
  'b',
  'z',
  'A',
  'Z',
  '0',
  '9',
  '_',
  '-',
  'metric',
  'value',
  '1.5',
  '-3',
  'NaN',
  'Infinity',
  '1700000000',
];
/** Attempts at writing a second Graphite line, or a node boundary, from inside one value. */
const INJECTIONS = [
  'ok 1 1700000000\nevil.injected 666 1700000000',
  'x\revil.injected 1 2',
  'a.b.c.d',
  'evil.injected',
  ' 1 1700000000\n',
  'a;b=c',
  'x\u2028evil 1 2',
  '\n\n\n',
  '',
];

/** `n` distinct strings: mixes of the pieces above, short and very long, and injection attempts. */
function randomStrings(n: number, seed: number): string[] {
  const random = generator(seed);
  const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)]!;
  const out = new Set<string>();
  while (out.size < n) {
    const kind = random();
    let text: string;
    if (kind < 0.05) text = pick(INJECTIONS) + (out.size % 7 === 0 ? '' : String(out.size));
    else if (kind < 0.1) {
      // Very long: up to 6,000 characters, beyond any node limit.
      const length = 200 + Math.floor(random() * 5800);
      text = '';
      while (text.length < length) text += pick(PIECES);
    } else {
      const parts = 1 + Math.floor(random() * 12);
      text = '';
      for (let i = 0; i < parts; i++) text += pick(PIECES);
    }
    out.add(text);
  }
  return [...out];
}

interface Checked {
  lines: number;
  invalid: string[];
  injected: string[];
  longestNodeBytes: number;
  longestPathBytes: number;
}

const NODE = /^[\p{L}\p{N}_-]+$/u;

/** Every line `path value timestamp\n` with sanitized nodes; `expectedNodes(path)` says whether a path has the poller's shape. */
function check(lines: readonly string[], isExpected: (nodes: string[]) => boolean, tagged = false): Checked {
  const result: Checked = { lines: lines.length, invalid: [], injected: [], longestNodeBytes: 0, longestPathBytes: 0 };
  for (const line of lines) {
    const match = /^([^\s]+) (-?\d+(?:\.\d+)?(?:e[-+]?\d+)?) (\d+)\n$/.exec(line);
    const [name = '', tags = ''] = match ? [match[1]!.split(';')[0], match[1]!.slice(match[1]!.split(';')[0]!.length)] : [];
    const nodes = name.split('.');
    const badTags = tagged ? !/^(;[\p{L}\p{N}_.:-]+=[^;\s\p{Cc}~][^;\s\p{Cc}]*)*$/u.test(tags) : tags !== '';
    if (
      !match ||
      /[\r\n\u2028\u2029\u0085]/.test(line.slice(0, -1)) ||
      badTags ||
      nodes.some((node) => !NODE.test(node) || Buffer.byteLength(node) > NODE_MAX_BYTES)
    ) {
      result.invalid.push(line);
      continue;
    }
    if (!isExpected(nodes)) result.injected.push(line);
    result.longestPathBytes = Math.max(result.longestPathBytes, Buffer.byteLength(name));
    for (const node of nodes) result.longestNodeBytes = Math.max(result.longestNodeBytes, Buffer.byteLength(node));
  }
  return result;
}

const work = tempDir('rel-fuzz');
function config(poller: Poller, options: Record<string, unknown>) {
  const file = join(work, `${poller.name}.yaml`);
  writeFileSync(file, JSON.stringify(options));
  return loadJobConfig(poller, { configFile: file, env: {} });
}

async function once(poller: Poller, options: Record<string, unknown>): Promise<{ lines: string[]; errors: number }> {
  const writer = new MemoryWriter();
  const result = await runPoller({
    poller,
    config: config(poller, options),
    writer,
    log: silentLogger,
    stop: new AbortController().signal,
    clock: systemClock,
    once: true,
  });
  return { lines: writer.lines, errors: result.errors };
}

function row(task: Task, channel: string, strings: number, c: Checked, maxNodes: number, points: number, dataLines: readonly string[]) {
  const distinct = new Set(dataLines.map((line) => line.slice(0, line.indexOf(' ')))).size;
  report(
    {
      section: 'Untrusted strings',
      fault: channel,
      injected:
        `${count(strings)} random strings (seed ${SEED}): control characters, newlines, spaces, dots, ";", "=", "~", ` +
        `unicode, up to 6,000 characters, line-injection attempts`,
      expected:
        `${count(points)} points (and the job's self-metrics), every line valid; 0 injected; ` +
        `nodes ≤ ${NODE_MAX_BYTES} bytes, ${maxNodes} nodes a path`,
      observed:
        `${count(c.lines)} lines, ${c.invalid.length} invalid, ${c.injected.length} injected; ` +
        `longest node ${c.longestNodeBytes} bytes, longest path ${c.longestPathBytes} bytes; ` +
        `${count(distinct)} distinct series (${count(strings - distinct)} strings sanitized into the same node as another)`,
    },
    task,
  );
}

/** Random strings as keys and dimension values, through the real pollers and sink (AWS credentials: see reliability.test.ts). */
export function untrustedStrings(): void {
  describe(`untrusted strings: ${STRINGS} random strings per channel through the real pollers and sink`, () => {
    it('as JSON keys (http-json)', async ({ task }) => {
      const keys = randomStrings(STRINGS, SEED);
      const document = Object.fromEntries(keys.map((key, i) => [key, i]));
      const api = await TestHttpServer.start((_, response) => {
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(JSON.stringify(document));
      });
      try {
        const { lines, errors } = await once(httpJson, { url: `${api.url}/fuzz.json`, prefix: 'fuzz', maxDatapoints: 2 * STRINGS });
        expect(errors).toBe(0);
        const data = lines.filter((line) => line.startsWith('fuzz.'));
        // fuzz.<key>: exactly two nodes; self-metrics pollers.<job>.<name…>.
        const c = check(lines, (nodes) => (nodes[0] === 'fuzz' ? nodes.length === 2 : nodes[0] === 'pollers'));
        row(task, 'JSON keys (http-json)', keys.length, c, 2, keys.length, data);
        expect(c.invalid).toEqual([]);
        expect(c.injected).toEqual([]);
        expect(data).toHaveLength(keys.length);
        expect(c.longestNodeBytes).toBeLessThanOrEqual(NODE_MAX_BYTES);
      } finally {
        await api.close();
      }
    }, 180_000);

    it('as CloudWatch dimension values (the CloudWatch fake, discovered with "*")', async ({ task }) => {
      // CloudWatch takes dimension values of 1 to 1,024 characters.
      const values = randomStrings(STRINGS, SEED + 1)
        .map((v) => v.slice(0, 1024))
        .filter((v) => v.length > 0);
      const unique = [...new Set(values)];
      const fake = await CloudWatchFake.start();
      const cloudwatch = createCloudWatchPoller();
      try {
        // Inside the live window of a tick now: [tick - 12 min, tick - 2 min), ticks every 5 minutes.
        const minute = Math.floor(Date.now() / 300_000) * 300 - 300;
        const data: MetricDatum[] = unique.map((value, i) => ({
          MetricName: 'Fuzz',
          Value: i,
          Timestamp: new Date(minute * 1000),
          Dimensions: [{ Name: 'Service', Value: value }],
        }));
        await fake.seed('Test/Fuzz', data);
        const { lines, errors } = await once(cloudwatch, {
          region: 'eu-west-1',
          endpoint: fake.url,
          metrics: [{ namespace: 'Test/Fuzz', name: 'Fuzz', dimensions: { Service: '*' }, stats: ['Sum'] }],
        });
        expect(errors).toBe(0);
        // cloudwatch.<region>.<namespace>.<dimension value>.<metric>.<stat>: exactly six nodes.
        const c = check(lines, (nodes) =>
          nodes[0] === 'cloudwatch' ? nodes.length === 6 && nodes[4] === 'Fuzz' && nodes[5] === 'Sum' : nodes[0] === 'pollers',
        );
        row(
          task,
          'CloudWatch dimension values (CloudWatch fake)',
          unique.length,
          c,
          6,
          unique.length,
          lines.filter((line) => line.startsWith('cloudwatch.')),
        );
        expect(c.invalid).toEqual([]);
        expect(c.injected).toEqual([]);
        expect(lines.filter((line) => line.startsWith('cloudwatch.'))).toHaveLength(unique.length);
      } finally {
        await cloudwatch.close?.();
        await fake.close();
      }
    }, 120_000);

    it('as GA dimension values (the GA4 fake)', async ({ task }) => {
      const values = randomStrings(STRINGS, SEED + 2);
      const fake = await Ga4Fake.start({ tokens: ['fuzz-token'] });
      try {
        const day = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10).replace(/-/g, '');
        fake.addProperty({
          id: '2000',
          timeZone: 'UTC',
          rows: values.map((value, i) => ({ dateHour: `${day}12`, dimensions: { pageTitle: value }, metrics: { screenPageViews: i + 1 } })),
        });
        const poller = createGoogleAnalyticsPoller({ env: { GOOGLE_OAUTH_ACCESS_TOKEN: 'fuzz-token' } });
        const { lines, errors } = await once(poller, {
          propertyId: '2000',
          apiRoot: fake.url,
          // fill: none: this row counts the rows GA answered; the zeros fill adds for the window's other days are not rows.
          reports: [{ name: 'pages', metrics: ['screenPageViews'], dimensions: ['pageTitle'], granularity: 'day', fill: 'none' }],
        });
        expect(errors).toBe(0);
        // ga4.<property>.<report>.<page title>.<metric>: exactly five nodes.
        const c = check(lines, (nodes) =>
          nodes[0] === 'ga4' ? nodes.length === 5 && nodes[2] === 'pages' && nodes[4] === 'screenPageViews' : nodes[0] === 'pollers',
        );
        row(
          task,
          'GA dimension values (GA4 fake)',
          values.length,
          c,
          5,
          values.length,
          lines.filter((line) => line.startsWith('ga4.')),
        );
        expect(c.invalid).toEqual([]);
        expect(c.injected).toEqual([]);
        expect(lines.filter((line) => line.startsWith('ga4.'))).toHaveLength(values.length);
      } finally {
        await fake.close();
      }
    }, 120_000);

    it('as Graphite 1.1 tag values and keys (the sink in tag mode)', ({ task }) => {
      const values = randomStrings(STRINGS, SEED + 3);
      const writer = new MemoryWriter();
      const sink = new GraphiteSink(writer, { tags: true, prefix: 'tagged' });
      values.forEach((value, i) => sink.emit(['series', value], i, 1_700_000_000, { [value.slice(0, 50) || 'k']: value, region: value }));
      const c = check(writer.lines, (nodes) => nodes.length === 3 && nodes[0] === 'tagged' && nodes[1] === 'series', true);
      row(task, 'Graphite 1.1 tags (sink, GRAPHITE_TAGS=1)', values.length, c, 3, values.length, writer.lines);
      expect(c.invalid).toEqual([]);
      expect(c.injected).toEqual([]);
      expect(writer.lines).toHaveLength(values.length);
    });
  });
}
