// :window_start / :window_end in a query's text become the driver's placeholders ($1 / ?), bound as real parameters.
//
// The text is scanned the way the server will read it (string literals, quoted identifiers, comments, PostgreSQL's
// dollar quoting and :: casts), so a `:window_start` inside a literal or a comment stays text, and nothing is ever
// spliced in: the values travel apart from the text. What the scanner cannot vouch for is refused at load time:
// a second statement, the driver's own placeholders, MySQL's executable comments.

export type Dialect = 'postgres' | 'mysql';
export type WindowParameter = 'window_start' | 'window_end';

export interface RewrittenQuery {
  /** The query text with the driver's placeholders, one statement, no trailing `;`. */
  text: string;
  /** The value each placeholder takes, in placeholder order (PostgreSQL: by number; MySQL: by position). */
  parameters: WindowParameter[];
  /** Whether the query takes the window: then it has history. */
  usesWindow: boolean;
}

/** Thrown for text the scanner refuses; the options schema reports it as the query's `sql` field. */
export class QueryTextError extends Error {
  override readonly name = 'QueryTextError';
}

const IDENTIFIER_CHAR = /[A-Za-z0-9_$\u0080-\uFFFF]/;

/**
 * Rewrites the window parameters of `sql` for `dialect`. PostgreSQL gets `($1::timestamptz)` and `($2::timestamptz)`
 * (a name used twice reuses its number); MySQL gets `CAST(? AS DATETIME(6))` once per occurrence.
 */
export function rewriteParameters(sql: string, dialect: Dialect): RewrittenQuery {
  const parameters: WindowParameter[] = [];
  let out = '';
  let i = 0;
  const n = sql.length;
  const placeholder = (name: WindowParameter): string => {
    if (dialect === 'mysql') {
      parameters.push(name);
      return 'CAST(? AS DATETIME(6))';
    }
    let index = parameters.indexOf(name);
    if (index < 0) index = parameters.push(name) - 1;
    return `($${index + 1}::timestamptz)`;
  };
  // Copies sql[i, end) unchanged.
  const copyTo = (end: number) => {
    out += sql.slice(i, end);
    i = end;
  };
  const unterminated = (what: string) => new QueryTextError(`unterminated ${what}`);

  while (i < n) {
    const c = sql[i]!;
    const next = sql[i + 1] ?? '';
    const previous = i > 0 ? sql[i - 1]! : '';

    // Comments: `-- …` (MySQL wants a space after it), `#` (MySQL), `/* … */` (nested in PostgreSQL).
    if (c === '-' && next === '-' && (dialect === 'postgres' || /[\s\p{Cc}]/u.test(sql[i + 2] ?? ' '))) {
      const end = sql.indexOf('\n', i);
      copyTo(end < 0 ? n : end);
      continue;
    }
    if (c === '#' && dialect === 'mysql') {
      const end = sql.indexOf('\n', i);
      copyTo(end < 0 ? n : end);
      continue;
    }
    if (c === '/' && next === '*') {
      if (dialect === 'mysql' && /^\/\*(!|M!)/.test(sql.slice(i, i + 4))) {
        throw new QueryTextError('MySQL executable comments (/*! … */) are not supported: write the SQL itself');
      }
      let depth = 0;
      let j = i;
      while (j < n) {
        if (sql[j] === '/' && sql[j + 1] === '*') {
          depth = dialect === 'postgres' ? depth + 1 : 1;
          j += 2;
        } else if (sql[j] === '*' && sql[j + 1] === '/') {
          depth--;
          j += 2;
          if (depth === 0) break;
        } else j++;
      }
      if (depth !== 0) throw unterminated('comment /* … */');
      copyTo(j);
      continue;
    }

    // String literals and quoted identifiers.
    if (c === "'" || c === '"' || (c === '`' && dialect === 'mysql')) {
      // Backslash escapes: MySQL's strings ('…' and "…"), PostgreSQL's E'…'.
      const escapeString =
        c !== '`' && (dialect === 'mysql' || (c === "'" && /[eE]/.test(previous) && !IDENTIFIER_CHAR.test(sql[i - 2] ?? ' ')));
      let j = i + 1;
      for (;;) {
        if (j >= n)
          throw unterminated(
            c === "'" ? 'string literal' : c === '"' ? (dialect === 'mysql' ? 'string literal' : 'quoted identifier') : 'quoted identifier',
          );
        const d = sql[j]!;
        if (escapeString && d === '\\') {
          j += 2;
          continue;
        }
        if (d === c) {
          if (sql[j + 1] === c) {
            j += 2; // doubled quote
            continue;
          }
          j++;
          break;
        }
        j++;
      }
      copyTo(j);
      continue;
    }

    // PostgreSQL's $tag$ … $tag$ strings and $1 parameters (a $ inside an identifier is neither).
    if (c === '$' && dialect === 'postgres' && !IDENTIFIER_CHAR.test(previous)) {
      if (/[0-9]/.test(next)) throw new QueryTextError('positional parameters ($1) are not allowed: use :window_start and :window_end');
      const tag = /^\$([A-Za-z_\u0080-\uFFFF][A-Za-z0-9_\u0080-\uFFFF]*)?\$/.exec(sql.slice(i));
      if (tag) {
        const close = sql.indexOf(tag[0], i + tag[0].length);
        if (close < 0) throw unterminated(`dollar-quoted string ${tag[0]}`);
        copyTo(close + tag[0].length);
        continue;
      }
    }

    if (c === '?' && dialect === 'mysql') {
      throw new QueryTextError('placeholders (?) are not allowed: use :window_start and :window_end');
    }

    if (c === ':') {
      if (next === ':') {
        copyTo(i + 2); // a PostgreSQL cast, ::timestamp
        continue;
      }
      const name = /^:([A-Za-z_][A-Za-z0-9_]*)/.exec(sql.slice(i));
      if (name && previous !== ':' && !IDENTIFIER_CHAR.test(previous)) {
        if (name[1] === 'window_start' || name[1] === 'window_end') {
          out += placeholder(name[1]);
          i += name[0].length;
          continue;
        }
        // Other colons (array slices a[1:n], MySQL's :=) are SQL's own; only a misspelt window parameter is an error.
        if (/^window/i.test(name[1]!))
          throw new QueryTextError(`unknown parameter :${name[1]}: the parameters are :window_start and :window_end`);
      }
      copyTo(i + 1);
      continue;
    }

    if (c === ';') {
      if (!onlyCommentsAndSpace(sql.slice(i + 1), dialect)) throw new QueryTextError('expected one statement (a ; followed by more SQL)');
      break; // the trailing ; and what follows (space, comments) are dropped
    }

    copyTo(i + 1);
  }
  // A line comment at the end would swallow what the poller appends (the row limit), so the text ends on a new line.
  const text = out.replace(/\s+$/, '');
  if (text.trim() === '') throw new QueryTextError('expected a SELECT statement');
  return { text, parameters, usesWindow: parameters.length > 0 };
}

function onlyCommentsAndSpace(rest: string, dialect: Dialect): boolean {
  const lineComment = dialect === 'mysql' ? /^(--[\s\p{Cc}]|#)[^\n]*(\n|$)/u : /^--[^\n]*(\n|$)/;
  let text = rest;
  for (;;) {
    const before = text;
    text = text
      .replace(/^\s+/, '')
      .replace(lineComment, '')
      .replace(/^\/\*[\s\S]*?\*\//, '');
    if (text === '') return true;
    if (text === before) return false;
  }
}

/**
 * The statement the poller sends: the user's query wrapped so the server stops after `maxRows + 1` rows (one more
 * than kept, to know the limit was hit). The limit is an integer from the validated options, never a user string.
 */
export function limitedStatement(text: string, maxRows: number): string {
  if (!Number.isSafeInteger(maxRows) || maxRows < 1) throw new Error(`maxRows must be a positive integer, got ${maxRows}`);
  return `SELECT * FROM (\n${text}\n) AS sql_poller_rows LIMIT ${maxRows + 1}`;
}

/** The window's values for a query's placeholders, in their order. */
export function parameterValues(parameters: readonly WindowParameter[], window: { start: number; end: number }): Date[] {
  return parameters.map((name) => new Date((name === 'window_start' ? window.start : window.end) * 1000));
}
