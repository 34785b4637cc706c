// Row → datapoint mapping: numbers from every driver type, NULLs and text skipped and counted, labels kept to one node.
import { describe, expect, it } from 'vitest';
import { optionsSchema, type SqlQuery } from '../../../pollers/sql/options.ts';
import { labelText, mapRows, numericValue, timestampValue, type RowCounts } from '../../../pollers/sql/rows.ts';

const query = (q: Partial<SqlQuery> & { values: string[] }): SqlQuery => ({
  name: 'q',
  sql: 'SELECT 1',
  path: 'sql.{query}.{value}',
  tags: [],
  ...q,
});
const counts = (): RowCounts => ({ nulls: 0, notNumeric: 0, badTimestamps: 0 });
const window = { start: 7200, end: 10800 };

describe('numericValue', () => {
  it('reads numbers, bigints, booleans and the exact text of NUMERIC/DECIMAL/BIGINT columns', () => {
    expect(numericValue(3)).toBe(3);
    expect(numericValue(12n)).toBe(12);
    expect(numericValue(true)).toBe(1);
    expect(numericValue('1234.5600')).toBe(1234.56);
    expect(numericValue('-9007199254740993')).toBe(-9007199254740992);
    expect(numericValue('1e3')).toBe(1000);
  });
  it('NULL is null; text, dates, NaN and infinities are not numbers', () => {
    expect(numericValue(null)).toBeNull();
    expect(numericValue(undefined)).toBeNull();
    for (const v of ['abc', '', '12abc', 'NaN', 'Infinity', new Date(0), Buffer.from('1'), Number.NaN, Infinity])
      expect(numericValue(v)).toBeUndefined();
  });
});

describe('timestampValue', () => {
  it('reads Dates, epoch seconds and timestamp text as UTC', () => {
    expect(timestampValue(new Date('2026-01-02T03:00:00Z'))).toBe(Date.UTC(2026, 0, 2, 3) / 1000);
    expect(timestampValue(1767322800)).toBe(1767322800);
    expect(timestampValue('1767322800')).toBe(1767322800);
    expect(timestampValue('2026-01-02 03:00:00')).toBe(Date.UTC(2026, 0, 2, 3) / 1000);
    expect(timestampValue('2026-01-02 03:00:00+01')).toBe(Date.UTC(2026, 0, 2, 2) / 1000);
    expect(timestampValue('2026-01-02')).toBe(Date.UTC(2026, 0, 2) / 1000);
    expect(timestampValue(null)).toBeNull();
    expect(timestampValue('yesterday-ish')).toBeUndefined();
  });
});

describe('mapRows', () => {
  it('a snapshot: one point per row and value column, at the tick, label columns as single nodes', () => {
    const q = query({ values: ['depth', 'oldest_s'], path: 'app.queues.{queue}.{value}' });
    const rows = [
      { queue: 'mail', depth: '12', oldest_s: 30 },
      { queue: 'a.b c\nd', depth: 1n, oldest_s: null },
    ];
    const c = counts();
    const points = mapRows(rows, ['queue', 'depth', 'oldest_s'], q, { window, snapshotAt: 10800, usesWindow: false, index: 0 }, c);
    expect(points).toEqual([
      { nodes: ['app', 'queues', 'mail', 'depth'], value: 12, timestamp: 10800, tags: undefined },
      { nodes: ['app', 'queues', 'mail', 'oldest_s'], value: 30, timestamp: 10800, tags: undefined },
      // The value stays inside one node: the sink sanitizes it there, it can never add a level.
      { nodes: ['app', 'queues', 'a.b c\nd', 'depth'], value: 1, timestamp: 10800, tags: undefined },
    ]);
    expect(c).toEqual({ nulls: 1, notNumeric: 0, badTimestamps: 0 });
  });

  it('a windowed query: at its timestamp column, or the window start without one; tags from columns', () => {
    const q = query({ values: ['signups'], timestamp: 'hour', tags: ['plan'], path: 'app.signups.{plan}' });
    const rows = [
      { hour: new Date(7200_000), plan: 'pro', signups: '5' },
      { hour: null, plan: 'pro', signups: '6' },
      { hour: 'not a time', plan: 'pro', signups: '7' },
      { hour: new Date(10800_000 - 3600_000), plan: 'free', signups: 'n/a' },
    ];
    const c = counts();
    const points = mapRows(rows, ['hour', 'plan', 'signups'], q, { window, snapshotAt: 10800, usesWindow: true, index: 2 }, c);
    expect(points).toEqual([{ nodes: ['app', 'signups', 'pro'], value: 5, timestamp: 7200, tags: { plan: 'pro' } }]);
    expect(c).toEqual({ nulls: 1, notNumeric: 1, badTimestamps: 1 });

    const noColumn = mapRows(
      [{ n: 4 }],
      ['n'],
      query({ values: ['n'] }),
      { window, snapshotAt: 10800, usesWindow: true, index: 0 },
      counts(),
    );
    expect(noColumn).toEqual([{ nodes: ['sql', 'q', 'n'], value: 4, timestamp: 7200, tags: undefined }]);
  });

  it('a column called query or value cannot change what {query} and {value} mean', () => {
    const q = query({ name: 'orders', values: ['n'], path: 'sql.{query}.{value}' });
    const points = mapRows(
      [{ query: 'evil.path', value: 'x', n: 1 }],
      ['query', 'value', 'n'],
      q,
      { window, snapshotAt: 0, usesWindow: false, index: 0 },
      counts(),
    );
    expect(points[0]!.nodes).toEqual(['sql', 'orders', 'n']);
  });

  it('a configured column the result lacks fails the query, naming it and the columns there are', () => {
    const at = { window, snapshotAt: 0, usesWindow: false, index: 1 };
    expect(() => mapRows([], ['a'], query({ values: ['total'] }), at, counts())).toThrow(
      'queries[1] (q): values names column "total", which the result does not have (columns: a)',
    );
    expect(() => mapRows([], ['n'], query({ values: ['n'], path: 'x.{region}' }), at, counts())).toThrow(/path names column "region"/);
  });

  it('labelText: dates as ISO, NULL as null, bytes as hex', () => {
    expect(labelText(new Date(0))).toBe('1970-01-01T00:00:00.000Z');
    expect(labelText(null)).toBe('null');
    expect(labelText(Buffer.from([1, 255]))).toBe('01ff');
  });
});

describe('the options schema', () => {
  const parse = (options: Record<string, unknown>) => optionsSchema.safeParse({ url: 'postgres://u:p@db:5432/app', ...options });
  const issue = (options: Record<string, unknown>) => {
    const result = parse(options);
    return result.success ? undefined : `${result.error.issues[0]!.path.join('.')}: ${result.error.issues[0]!.message}`;
  };
  it('refuses what could write, splice or collide, naming the field', () => {
    expect(issue({ queries: [{ name: 'a', sql: 'SELECT 1 AS v; DROP TABLE t', values: ['v'] }] })).toMatch(
      /^queries.0.sql: expected one statement/,
    );
    expect(issue({ queries: [{ name: 'a b', sql: 'SELECT 1', values: ['v'] }] })).toMatch(/^queries.0.name/);
    expect(issue({ queries: [{ name: 'a', sql: 'SELECT 1 AS v', values: ['v', 'w'], path: 'sql.{query}' }] })).toMatch(
      /^queries.0.path: with several value columns/,
    );
    expect(
      issue({
        queries: [
          { name: 'a', sql: 'SELECT 1 AS v', values: ['v'] },
          { name: 'a', sql: 'SELECT 2 AS v', values: ['v'] },
        ],
      }),
    ).toMatch(/^queries.1.name/);
    expect(issue({ queries: [{ name: 'a', sql: 'SELECT 1 AS v', values: ['v'], timestamp: 't' }] })).toMatch(
      /^queries.0.timestamp: only a query with :window_start/,
    );
    expect(issue({ url: 'http://db/app', queries: [{ name: 'a', sql: 'SELECT 1 AS v', values: ['v'] }] })).toMatch(
      /^url: expected a postgres:\/\//,
    );
    expect(issue({ url: 'mysql://u:p@db/app', queries: [{ name: 'a', sql: 'SELECT ? AS v', values: ['v'] }] })).toMatch(
      /^queries.0.sql: placeholders/,
    );
  });
});
