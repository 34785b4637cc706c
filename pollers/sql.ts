// Business numbers from PostgreSQL or MySQL/MariaDB: read-only queries, the time window bound as parameters (history).
import { backoffDelay, ConfigError, formatMs, fanOut, definePoller, type PollContext } from '../lib/poller-kit/index.ts';
import { isConnectionError, isStatementTimeout, openDatabase, withoutPassword, type Database } from './sql/database.ts';
import { dialectOf, optionsSchema, statementTimeoutMs, type SqlOptions, type SqlQuery } from './sql/options.ts';
import { limitedStatement, parameterValues, rewriteParameters, type RewrittenQuery } from './sql/parameters.ts';
import { planQueries } from './sql/plan.ts';
import { mapRows, type RowCounts } from './sql/rows.ts';

/** Pause before the second attempt at a query whose connection failed; doubled after every failure (0.5 s, 1 s, 2 s…). */
const FIRST_RETRY_MS = 500;
/** The pause before the 10th attempt, the most connectAttempts allows. */
const LAST_RETRY_MS = 128_000;

type Context = PollContext<SqlOptions>;

/** Whether any query of the job takes the window: only then does the job have history. */
export function usesWindow(options: SqlOptions): boolean {
  const dialect = dialectOf(options.url)!;
  return options.queries.some((q) => rewriteParameters(q.sql, dialect).usesWindow);
}

/** An sql poller owning one connection pool, opened at its first query and ended by close(). */
export function createSqlPoller() {
  let database: Database | undefined;
  let databaseUrl: string | undefined;

  const databaseFor = (options: SqlOptions): Database => {
    // One job, one URL; a different URL (tests reuse an instance) gets its own pool.
    if (database && databaseUrl !== options.url) void database.close().catch(() => {});
    if (!database || databaseUrl !== options.url) {
      database = openDatabase(options.url, dialectOf(options.url)!, {
        poolSize: options.poolSize,
        connectTimeoutMs: options.connectTimeout * 1000,
      });
      databaseUrl = options.url;
    }
    return database;
  };

  async function runQuery(ctx: Context, db: Database, query: SqlQuery, index: number, rewritten: RewrittenQuery): Promise<void> {
    const { options, window, stats } = ctx;
    const timeoutMs = statementTimeoutMs(options, ctx.schedule.interval);
    const text = limitedStatement(rewritten.text, options.maxRows);
    const parameters = parameterValues(rewritten.parameters, window);
    const started = ctx.now();
    let result;
    for (let attempt = 1; ; attempt++) {
      try {
        result = await db.run({ text, parameters, timeoutMs, signal: ctx.signal });
        break;
      } catch (error) {
        if (ctx.signal.aborted) throw error;
        if (isStatementTimeout(error)) {
          stats.count('sql.timeouts');
          throw new Error(`cancelled by the statement timeout (${formatMs(timeoutMs)}); raise statementTimeout or make the query cheaper`);
        }
        if (!isConnectionError(error) || attempt >= options.connectAttempts) throw error;
        stats.count('sql.connection_retries');
        const pause = backoffDelay(attempt - 1, FIRST_RETRY_MS, LAST_RETRY_MS, Math.random, { jitter: 0 });
        ctx.log.warn(
          `query ${query.name}: connection to ${db.where} failed (${describe(error, options.url)}); ` +
            `attempt ${attempt + 1} of ${options.connectAttempts} in ${formatMs(pause)}`,
        );
        await ctx.sleep(pause);
        ctx.signal.throwIfAborted();
      }
    }
    stats.gauge(`sql.${query.name}.duration_ms`, ctx.now() - started);
    let rows = result.rows;
    if (rows.length > options.maxRows) {
      stats.count('sql.row_limit_hit');
      ctx.log.warn(`query ${query.name}: more than maxRows (${options.maxRows}) rows; the rest were not read`);
      rows = rows.slice(0, options.maxRows);
    }
    stats.count('sql.rows', rows.length);
    const counts: RowCounts = { nulls: 0, notNumeric: 0, badTimestamps: 0 };
    const points = mapRows(
      rows,
      result.columns,
      query,
      { window, snapshotAt: window.end, usesWindow: rewritten.usesWindow, index },
      counts,
    );
    for (const point of points) ctx.sink.emit(point.nodes, point.value, point.timestamp, point.tags);
    if (counts.nulls > 0) stats.count('sql.null_values', counts.nulls);
    if (counts.notNumeric > 0) stats.count('sql.not_numeric_values', counts.notNumeric);
    if (counts.badTimestamps > 0) stats.count('sql.bad_timestamps', counts.badTimestamps);
    await ctx.sink.ready();
  }

  return definePoller({
    name: 'sql',
    summary: 'Numbers from SQL queries on PostgreSQL or MySQL/MariaDB, read-only; queries taking :window_start/:window_end have history',
    options: optionsSchema,
    schedule: { interval: 60, delay: 0, lookback: 0 },
    // A job whose queries are all snapshots keeps no history: retention 0, so catch-up fetches nothing and a
    // backfill finds no time to fetch (exit 78); poll says why if asked anyway.
    history: {
      maxWindow: (options) => options.maxWindow,
      retention: (options) => (usesWindow(options) ? options.retention : 0),
      step: (options) => options.step,
    },

    async poll(ctx) {
      const { options } = ctx;
      const dialect = dialectOf(options.url)!;
      const all = options.queries.map((query, index) => ({ query, index, rewritten: rewriteParameters(query.sql, dialect) }));
      // A snapshot tells only the present: history (backfill, catch-up) runs the windowed queries alone.
      const parts = ctx.mode === 'backfill' ? all.filter((part) => part.rewritten.usesWindow) : all;
      if (parts.length === 0) {
        throw new ConfigError('no query uses :window_start or :window_end: a job of snapshots has no history to backfill', {
          field: 'queries',
        });
      }
      const db = databaseFor(options);
      await fanOut(parts, ({ query, index, rewritten }) => runQuery(ctx, db, query, index, rewritten), {
        concurrency: options.poolSize,
        signal: ctx.signal,
        stats: ctx.stats,
        noun: 'queries',
        label: ({ query }) => `query ${query.name}`,
        onFailure: ({ query }, error) => {
          ctx.stats.count('sql.query_errors');
          ctx.log.debug(`query ${query.name} failed: ${describe(error, options.url)}`);
        },
      }).catch((error: unknown) => {
        // Driver messages are the server's; the URL's password never travels on in one.
        if (error instanceof Error && !(error instanceof ConfigError) && !ctx.signal.aborted)
          error.message = withoutPassword(error.message, options.url);
        throw error;
      });
    },

    plan: (options, schedule) => planQueries(options, schedule),

    async close() {
      const open = database;
      database = undefined;
      await open?.close();
    },
  });
}

function describe(error: unknown, url: string): string {
  return withoutPassword(error instanceof Error ? error.message : String(error), url);
}

export default createSqlPoller;
