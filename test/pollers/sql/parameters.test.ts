// :window_start/:window_end → driver placeholders: only where the server reads SQL, never in literals or comments.
import { describe, expect, it } from 'vitest';
import { limitedStatement, parameterValues, rewriteParameters } from '../../../pollers/sql/parameters.ts';

describe('rewriteParameters for PostgreSQL', () => {
  it('numbers the parameters, typed as timestamptz, reusing a number for a repeated name', () => {
    const r = rewriteParameters('SELECT 1 FROM t WHERE at >= :window_start AND at < :window_end AND :window_start < now()', 'postgres');
    expect(r.text).toBe('SELECT 1 FROM t WHERE at >= ($1::timestamptz) AND at < ($2::timestamptz) AND ($1::timestamptz) < now()');
    expect(r.parameters).toEqual(['window_start', 'window_end']);
    expect(r.usesWindow).toBe(true);
  });

  it('leaves :: casts, string literals, quoted identifiers, comments and dollar quotes alone', () => {
    const sql = [
      "SELECT ':window_start' AS a, 'it''s :window_end' AS b, E'\\' :window_end' AS c, \":window_start\" AS d,",
      '  $$ :window_end $$ AS e, $tag$ :window_start $tag$ AS f, x::timestamp, arr[1:2] -- :window_end',
      '  /* :window_start /* nested :window_end */ still comment :window_start */ FROM t WHERE at >= :window_start::timestamp',
    ].join('\n');
    const r = rewriteParameters(sql, 'postgres');
    expect(r.parameters).toEqual(['window_start']);
    expect(r.text.match(/\$1/g)).toHaveLength(1);
    expect(r.text).toContain('at >= ($1::timestamptz)::timestamp');
    expect(r.text).toContain("':window_start' AS a");
    expect(r.text).toContain('x::timestamp');
  });

  it('a query without the parameters is a snapshot', () => {
    const r = rewriteParameters('SELECT count(*) AS depth FROM queue', 'postgres');
    expect(r).toEqual({ text: 'SELECT count(*) AS depth FROM queue', parameters: [], usesWindow: false });
  });

  it('drops a trailing semicolon and comments, refuses a second statement', () => {
    expect(rewriteParameters('SELECT 1 AS v;  -- done\n', 'postgres').text).toBe('SELECT 1 AS v');
    expect(() => rewriteParameters('SELECT 1 AS v; DELETE FROM t', 'postgres')).toThrow(/one statement/);
    // A ; inside a literal is not a statement boundary.
    expect(rewriteParameters("SELECT ';DROP TABLE t' AS v", 'postgres').text).toBe("SELECT ';DROP TABLE t' AS v");
  });

  it('refuses positional parameters, misspelt window parameters and unterminated text', () => {
    expect(() => rewriteParameters('SELECT $1', 'postgres')).toThrow(/positional/);
    expect(() => rewriteParameters('SELECT :window_begin', 'postgres')).toThrow(/unknown parameter :window_begin/);
    expect(() => rewriteParameters("SELECT 'open", 'postgres')).toThrow(/unterminated string/);
    expect(() => rewriteParameters('SELECT $x$ open', 'postgres')).toThrow(/unterminated dollar/);
    expect(() => rewriteParameters('SELECT 1 /* open', 'postgres')).toThrow(/unterminated comment/);
    // A $ inside an identifier is neither.
    expect(rewriteParameters('SELECT a$1 FROM t', 'postgres').text).toBe('SELECT a$1 FROM t');
  });
});

describe('rewriteParameters for MySQL/MariaDB', () => {
  it('one ? per occurrence, cast to DATETIME(6), in order', () => {
    const r = rewriteParameters('SELECT 1 FROM t WHERE at >= :window_start AND at < :window_end OR at = :window_start', 'mysql');
    expect(r.text).toBe(
      'SELECT 1 FROM t WHERE at >= CAST(? AS DATETIME(6)) AND at < CAST(? AS DATETIME(6)) OR at = CAST(? AS DATETIME(6))',
    );
    expect(r.parameters).toEqual(['window_start', 'window_end', 'window_start']);
  });

  it('knows backslash escapes, backticks, # comments and -- comments that need a space', () => {
    const sql =
      "SELECT 'a\\' :window_end' AS a, \"b :window_end\" AS b, `c :window_end` AS c, 5--1 AS d # :window_end\n" +
      ' FROM t WHERE at < :window_end -- :window_start';
    const r = rewriteParameters(sql, 'mysql');
    expect(r.parameters).toEqual(['window_end']);
    expect(r.text).toContain('5--1 AS d');
  });

  it('refuses ? placeholders and executable comments', () => {
    expect(() => rewriteParameters('SELECT ? AS v', 'mysql')).toThrow(/placeholders/);
    expect(() => rewriteParameters('SELECT 1 /*! , (SELECT 2) */', 'mysql')).toThrow(/executable comments/);
    // In a literal a ? is text.
    expect(rewriteParameters("SELECT '?' AS v", 'mysql').text).toBe("SELECT '?' AS v");
  });
});

describe('limitedStatement and parameterValues', () => {
  it('wraps the query, asking for one row more than kept; a trailing comment cannot swallow the limit', () => {
    const { text } = rewriteParameters('SELECT 1 AS v -- trailing', 'postgres');
    expect(limitedStatement(text, 100)).toBe('SELECT * FROM (\nSELECT 1 AS v -- trailing\n) AS sql_poller_rows LIMIT 101');
    expect(() => limitedStatement(text, 1.5)).toThrow();
  });

  it('gives the window bounds as Dates, in placeholder order', () => {
    expect(parameterValues(['window_end', 'window_start'], { start: 3600, end: 7200 })).toEqual([new Date(7200_000), new Date(3600_000)]);
  });
});
