// Paths and lines: no API value can add a line, a space or a path node; NaN/Infinity are never sent.
import { describe, expect, it } from 'vitest';
import { GraphiteSink } from '../../../lib/graphite/sink.ts';
import { formatLine, formatPath, formatTags, NODE_MAX_BYTES, sanitizeNode } from '../../../lib/graphite/metric-path.ts';
import { renderPathTemplate } from '../../../lib/poller-kit/path-template.ts';

/** A valid plaintext line: path without whitespace, a float, an integer timestamp. */
const LINE = /^([^\s]+) (-?(?:\d+(?:\.\d+)?(?:e[+-]\d+)?)) (\d+)\n$/;

function randomString(random: () => number): string {
  const pools = [
    ' \t\r\n\u0000\u0007\u001b\u007f\u0085\u2028\u2029\u00a0\ufeff',
    '.;=~*?[]{}()/\\\'"`,|#%&$!^',
    'abcXYZ019_-',
    'éßøçЖ中文😀\ud83d', // letters of other scripts, an emoji, and a lone surrogate
  ];
  const length = Math.floor(random() * (random() < 0.05 ? 400 : 24));
  let out = '';
  for (let i = 0; i < length; i++) {
    const pool = pools[Math.floor(random() * pools.length)]!;
    out += pool[Math.floor(random() * pool.length)];
  }
  return out;
}

function seeded(seed: number): () => number {
  return () => {
    seed = (seed * 1664525 + 1013904223) >>> 0;
    return seed / 2 ** 32;
  };
}

describe('sanitizeNode', () => {
  it('keeps clean names as they are', () => {
    expect(sanitizeNode('AWS_ELB')).toBe('AWS_ELB');
    expect(sanitizeNode('p99-9')).toBe('p99-9');
    expect(sanitizeNode('Zürich')).toBe('Zürich');
  });

  it('turns separators, whitespace and control characters into one "_"', () => {
    expect(sanitizeNode('a.b c\nd')).toBe('a_b_c_d');
    expect(sanitizeNode('/index.html?q=1')).toBe('_index_html_q_1');
    expect(sanitizeNode('x;tag=1~y')).toBe('x_tag_1_y');
    expect(sanitizeNode('')).toBe('_');
    expect(sanitizeNode('...')).toBe('_');
  });

  it('bounds long nodes and keeps distinct long values distinct', () => {
    const a = sanitizeNode('x'.repeat(500) + 'a');
    const b = sanitizeNode('x'.repeat(500) + 'b');
    expect(Buffer.byteLength(a)).toBeLessThanOrEqual(NODE_MAX_BYTES);
    expect(a).not.toBe(b);
    expect(Buffer.byteLength(sanitizeNode('中'.repeat(300)))).toBeLessThanOrEqual(NODE_MAX_BYTES);
  });
});

describe('paths and lines', () => {
  it('splits trusted dotted paths and keeps array nodes whole', () => {
    expect(formatPath('host.load.1m')).toBe('host.load.1m');
    expect(formatPath(['ga4', '123', 'Home | My site. Welcome\n', 'views'])).toBe('ga4.123.Home_My_site_Welcome_.views');
    expect(formatPath(['a'], 'team.prod')).toBe('team.prod.a');
  });

  it('never formats NaN or infinities', () => {
    expect(formatLine('a', NaN, 1)).toBeUndefined();
    expect(formatLine('a', Infinity, 1)).toBeUndefined();
    expect(formatLine('a', -Infinity, 1)).toBeUndefined();
    expect(formatLine('a', 1, NaN)).toBeUndefined();
    expect(formatLine('a', -0, 1.9)).toBe('a 0 1\n');
    expect(formatLine('a', 1e21, 5)).toBe('a 1e+21 5\n');
  });

  it('fills templates with one node per placeholder value', () => {
    expect(
      renderPathTemplate('aws.{region}.{dim.LoadBalancer}.{metric}', {
        region: 'eu-west-1',
        'dim.LoadBalancer': 'app/my.lb/1',
        metric: 'Count',
      }),
    ).toEqual(['aws', 'eu-west-1', 'app/my.lb/1', 'Count']);
    expect(renderPathTemplate('x.{dimensions}.y', { dimensions: ['a', 'b.c'] })).toEqual(['x', 'a', 'b.c', 'y']);
    expect(() => renderPathTemplate('x.{nope}', {})).toThrow(/unknown placeholder \{nope\}/);
  });

  it('writes tags by Graphite 1.1 rules', () => {
    expect(formatTags({ region: 'eu west;1', '~x': '~y' })).toBe(';region=eu_west_1;_x=_y');
  });
});

describe('fuzz: untrusted strings as path nodes, tag values and values', () => {
  it('every emitted line parses as exactly one valid plaintext line', () => {
    const random = seeded(20261126);
    const lines: string[] = [];
    const sink = new GraphiteSink({ write: (line) => lines.push(line), ready: async () => {} }, { prefix: 'test', tags: true });
    let refused = 0;
    for (let i = 0; i < 20_000; i++) {
      const nodes = Array.from({ length: 1 + Math.floor(random() * 4) }, () => randomString(random));
      const value = [NaN, Infinity, -Infinity, random() * 1e6 - 5e5, Math.floor(random() * 100), 1e-7][Math.floor(random() * 6)]!;
      const before = lines.length;
      sink.emit(nodes, value, 1_700_000_000 + i, random() < 0.3 ? { [randomString(random)]: randomString(random) } : undefined);
      if (lines.length === before) {
        refused++;
        expect(Number.isFinite(value)).toBe(false);
        continue;
      }
      const line = lines[lines.length - 1]!;
      const match = LINE.exec(line);
      expect(match, JSON.stringify(line)).not.toBeNull();
      const [name, ...tags] = match![1]!.split(';');
      // Exactly the prefix plus one node per input node: nothing injected a level.
      expect(name!.split('.')).toHaveLength(1 + nodes.length);
      for (const node of name!.split('.')) {
        expect(node).toMatch(/^[\p{L}\p{N}_-]+$/u);
        expect(Buffer.byteLength(node)).toBeLessThanOrEqual(NODE_MAX_BYTES);
      }
      for (const tag of tags) expect(tag).toMatch(/^[^;=\s]+=[^;~\s][^;\s]*$/u);
      expect(line.indexOf('\n')).toBe(line.length - 1);
    }
    expect(refused).toBeGreaterThan(0);
    expect(lines.length).toBeGreaterThan(9_000);
  });
});
