// The sql job options: one zod schema with defaults, descriptions, and the checks of each query's text at load time.
import { z } from 'zod';
import { duration, templatePlaceholders } from '../../lib/poller-kit/index.ts';
import { QueryTextError, rewriteParameters, type Dialect } from './parameters.ts';

const YEAR = 365 * 86_400;
const NAME = /^[A-Za-z0-9_-]{1,100}$/;
// A column as the driver names it in a row (a SELECT's alias): what `values`, `tags` and `timestamp` refer to.
const COLUMN = z.string().min(1, 'expected a column name').max(128, 'expected a column name of at most 128 characters');
/** Placeholders every template has besides the row's columns. */
export const RESERVED_PLACEHOLDERS = ['query', 'value'] as const;
export const DEFAULT_PATH = 'sql.{query}.{value}';

/** The dialect of a database URL, or undefined when its scheme is not one the poller speaks. */
export function dialectOf(url: string): Dialect | undefined {
  const scheme = /^([a-z]+):\/\//i.exec(url)?.[1]?.toLowerCase();
  if (scheme === 'postgres' || scheme === 'postgresql') return 'postgres';
  if (scheme === 'mysql' || scheme === 'mariadb') return 'mysql';
  return undefined;
}

const query = z.strictObject({
  name: z
    .string()
    .regex(NAME, 'expected letters, digits, "_" or "-" (it becomes a Graphite node)')
    .describe('Name of the query: the {query} node of its path, and how logs and --plan refer to it.'),
  sql: z
    .string()
    .min(1, 'expected a SELECT statement')
    .describe(
      'One SELECT (or WITH … SELECT). Write :window_start and :window_end where the query takes the time window: they are bound as ' +
        'timestamp parameters (never pasted into the text) and make the query one with history. Without them the query is a snapshot, ' +
        'sent at every tick. Timestamps are UTC: the session time zone is set to UTC.',
    ),
  values: z
    .array(COLUMN)
    .min(1, 'expected at least one value column')
    .describe(
      'Columns whose numbers are sent, one series each (the {value} placeholder). ' +
        'NULLs and text that is not a number are skipped and counted.',
    ),
  path: z
    .string()
    .regex(/^[^.\s][^\s]*[^.\s]$|^[^.\s]$/, 'expected a dotted path template without spaces, such as sql.{query}.{value}')
    .default(DEFAULT_PATH)
    .describe(
      'Path template of each series: {query} is the name, {value} the value column, and {column} any other column of the row, whose ' +
        'text becomes (part of) one node, sanitized, so a value can never add a node or a line.',
    ),
  tags: z
    .array(COLUMN)
    .default([])
    .describe(
      'Columns sent as Graphite tags (column=value) when GRAPHITE_TAGS=1; without tag mode they are left out, ' +
        'so the path must tell rows apart on its own.',
    ),
  timestamp: COLUMN.optional().describe(
    'For a query with :window_start: the column (a timestamp, or epoch seconds) that dates each row, such as the hour of date_trunc. ' +
      'Not set: every row is dated at the window start.',
  ),
});

export type SqlQuery = z.output<typeof query>;

export const optionsSchema = z
  .strictObject({
    url: z
      .string()
      .refine(
        (url) => dialectOf(url) !== undefined,
        'expected a postgres://, postgresql://, mysql:// or mariadb:// URL (normally ${DATABASE_URL})',
      )
      .refine((url) => {
        try {
          return new URL(url).hostname !== '' || new URL(url).searchParams.has('host');
        } catch {
          return false;
        }
      }, 'expected a URL with a host, such as postgres://reader:${DATABASE_PASSWORD}@db.internal:5432/app')
      .describe(
        'The database: postgres://user:password@host:5432/db (postgresql:// too) or mysql://user:password@host:3306/db (mariadb:// too). ' +
          'Keep it in the environment (url: ${DATABASE_URL}); its password is never logged. Use an account that may only read.',
      ),
    queries: z
      .array(query)
      .min(1, 'expected at least one query')
      .describe('The queries run at every tick, each its own part: one failing does not stop the others.'),
    statementTimeout: duration()
      .refine((s) => s > 0, 'expected more than 0 seconds')
      .optional()
      .describe(
        'How long the server may run one query before cancelling it. Not set: ' +
          '80% of the job interval (at least 1s), so a tick never overruns.',
      ),
    maxRows: z
      .number()
      .int()
      .min(1)
      .max(1_000_000)
      .default(10_000)
      .describe('At most this many rows are read per query and tick; past it the rest is not read and sql.row_limit_hit is counted.'),
    connectTimeout: duration()
      .refine((s) => s > 0, 'expected more than 0 seconds')
      .default(10)
      .describe('How long to wait for a connection to the server.'),
    connectAttempts: z
      .number()
      .int()
      .min(1)
      .max(10)
      .default(3)
      .describe(
        'Attempts at a query whose connection fails (refused, dropped, server restarting), ' +
          'with a growing pause between them (0.5s, 1s, 2s …) within the run.',
      ),
    poolSize: z
      .number()
      .int()
      .min(1)
      .max(10)
      .default(2)
      .describe('Connections the job keeps open at most; queries beyond it wait their turn. One small pool per job, closed on exit.'),
    step: duration()
      .refine((s) => s >= 1, 'expected at least 1 second')
      .default(60)
      .describe(
        'For queries with :window_start: windows start and end on multiples of this. Set it to the bucket the query groups by (1h for ' +
          "date_trunc('hour', …)), so a window never holds part of a bucket and a point is never overwritten by a partial count.",
      ),
    maxWindow: duration()
      .refine((s) => s > 0, 'expected more than 0 seconds')
      .default(86_400)
      .describe(
        'The longest window one query is asked for: backfill (bin/backfill.ts sql) ' +
          'and catch-up split their range into windows of this size.',
      ),
    retention: duration({ max: 20 * YEAR })
      .refine((s) => s > 0, 'expected more than 0 seconds')
      .default(2 * YEAR)
      .describe('How far back the tables hold rows: backfill and catch-up never ask for older windows.'),
  })
  .superRefine((options, ctx) => {
    const dialect = dialectOf(options.url);
    const seen = new Set<string>();
    options.queries.forEach((q, index) => {
      if (seen.has(q.name))
        ctx.addIssue({
          code: 'custom',
          path: ['queries', index, 'name'],
          message: `another query is called ${q.name}: names must be unique`,
        });
      seen.add(q.name);
      if (dialect) {
        try {
          const rewritten = rewriteParameters(q.sql, dialect);
          if (q.timestamp && !rewritten.usesWindow) {
            ctx.addIssue({
              code: 'custom',
              path: ['queries', index, 'timestamp'],
              message: 'only a query with :window_start or :window_end has a timestamp column (a snapshot is sent at the tick)',
            });
          }
        } catch (error) {
          if (!(error instanceof QueryTextError)) throw error;
          ctx.addIssue({ code: 'custom', path: ['queries', index, 'sql'], message: error.message });
        }
      }
      const placeholders = templatePlaceholders(q.path);
      if (q.values.length > 1 && !placeholders.includes('value')) {
        ctx.addIssue({
          code: 'custom',
          path: ['queries', index, 'path'],
          message: 'with several value columns the template needs {value}, or they would share one series',
        });
      }
      for (const column of q.values) {
        if (placeholders.includes(column)) {
          ctx.addIssue({
            code: 'custom',
            path: ['queries', index, 'path'],
            message: `{${column}} is a value column: its number cannot be a path node (use {value} for its name)`,
          });
        }
      }
    });
  });

export type SqlOptions = z.output<typeof optionsSchema>;

/** The statement timeout in milliseconds: the option, or 80% of the interval (at least 1 s). */
export function statementTimeoutMs(options: SqlOptions, interval: number): number {
  return Math.round(1000 * (options.statementTimeout ?? Math.max(1, interval * 0.8)));
}
