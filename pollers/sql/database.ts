// One small connection pool per job, PostgreSQL (pg) or MySQL/MariaDB (mysql2): each query in a read-only
// transaction with a statement timeout, the session in UTC, the window bound as parameters.
import mysql from 'mysql2/promise';
import pg from 'pg';
import { deadline, formatMs } from '../../lib/poller-kit/index.ts';
import type { Dialect } from './parameters.ts';
import type { Row } from './rows.ts';

export interface QueryResult {
  rows: Row[];
  columns: string[];
}

export interface RunRequest {
  /** The statement as sent (placeholders, row limit), never holding a value. */
  text: string;
  parameters: Date[];
  /** Server-side statement timeout; the client gives up a little later if the server does not answer. */
  timeoutMs: number;
  signal: AbortSignal;
}

export interface Database {
  readonly dialect: Dialect;
  /** The URL without its password, for messages. */
  readonly where: string;
  run(request: RunRequest): Promise<QueryResult>;
  close(): Promise<void>;
}

export interface PoolSettings {
  poolSize: number;
  connectTimeoutMs: number;
}

/** How long the client waits past the server's statement timeout before dropping the connection itself. */
const CLIENT_GRACE_MS = 2000;

/** The URL with its password replaced by ***, for every message that names the database. */
export function maskUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    for (const key of [...parsed.searchParams.keys()]) if (/pass|pwd|secret|token/i.test(key)) parsed.searchParams.set(key, '***');
    return parsed.toString().replace('%2A%2A%2A', '***');
  } catch {
    return '(database URL)';
  }
}

/** `text` without the URL's password in any spelling a driver might quote it in (raw, decoded). */
export function withoutPassword(text: string, url: string): string {
  let password = '';
  try {
    password = new URL(url).password;
  } catch {
    return text;
  }
  if (!password) return text;
  let out = text;
  for (const spelling of new Set([password, safeDecode(password)])) if (spelling.length > 0) out = out.split(spelling).join('***');
  return out;
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** Error codes that mean the connection, not the query, failed: worth another attempt on a fresh connection. */
const PG_CONNECTION_CODES = /^(08|57P0[123])/; // connection exceptions; terminated by admin, crash shutdown, cannot connect now
const NODE_CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOENT',
]);
const MYSQL_CONNECTION_CODES = new Set([
  'PROTOCOL_CONNECTION_LOST',
  'ER_CON_COUNT_ERROR',
  'ER_SERVER_SHUTDOWN',
  'ER_CONNECTION_KILLED',
  'PROTOCOL_SEQUENCE_TIMEOUT',
]);

/** The same, for drivers that say it only in the message (pg's client and pool, a server starting or stopping). */
const CONNECTION_MESSAGES = new RegExp(
  [
    'Connection terminated',
    'timeout exceeded when trying to connect',
    'connect ETIMEDOUT',
    'Client has encountered a connection error',
    'the database system is (starting up|shutting down)',
  ].join('|'),
  'i',
);

export function isConnectionError(error: unknown): boolean {
  const e = error as { code?: unknown; fatal?: unknown; message?: unknown } | undefined;
  const code = typeof e?.code === 'string' ? e.code : '';
  if (NODE_CONNECTION_CODES.has(code) || MYSQL_CONNECTION_CODES.has(code) || PG_CONNECTION_CODES.test(code)) return true;
  if (e?.fatal === true && !isStatementTimeout(error)) return true;
  const message = typeof e?.message === 'string' ? e.message : '';
  return CONNECTION_MESSAGES.test(message);
}

/** The server cancelled the statement at its timeout (PostgreSQL 57014, MariaDB 1969, MySQL 3024). */
export function isStatementTimeout(error: unknown): boolean {
  const e = error as { code?: unknown; errno?: unknown; message?: unknown } | undefined;
  if (e?.code === '57014' || e?.errno === 1969 || e?.errno === 3024) return true;
  return e?.code === 'ER_STATEMENT_TIMEOUT' || e?.code === 'ER_QUERY_TIMEOUT';
}

export function openDatabase(url: string, dialect: Dialect, settings: PoolSettings): Database {
  return dialect === 'postgres' ? openPostgres(url, settings) : openMysql(url, settings);
}

// `timestamp without time zone` as UTC (pg would read it in the process's zone); the session is in UTC too.
const TIMESTAMP_OID = 1114;
const pgTypes = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
    if (oid === TIMESTAMP_OID && format !== 'binary')
      return (text: string) => (text === 'infinity' || text === '-infinity' ? text : new Date(text.replace(' ', 'T') + 'Z'));
    return pg.types.getTypeParser(oid, format as 'text');
  }) as typeof pg.types.getTypeParser,
};

function openPostgres(url: string, settings: PoolSettings): Database {
  const pool = new pg.Pool({
    connectionString: url,
    max: settings.poolSize,
    connectionTimeoutMillis: settings.connectTimeoutMs,
    idleTimeoutMillis: 30_000,
    allowExitOnIdle: true,
    application_name: 'graphite-pollers sql',
    types: pgTypes,
  });
  // An idle connection the server drops (restart, terminated backend) must not crash the process: the next
  // query gets a fresh one.
  pool.on('error', () => {});
  return {
    dialect: 'postgres',
    where: maskUrl(url),
    async run({ text, parameters, timeoutMs, signal }) {
      const client = await withDeadline(pool.connect(), signal, timeoutMs, (c) => c.release(true));
      let broken: Error | boolean = false;
      const stop = deadline(signal, timeoutMs + CLIENT_GRACE_MS, `no answer ${formatMs(CLIENT_GRACE_MS)} past the statement timeout`);
      const onStop = () => {
        broken = true;
        // Ends the connection: the pending query rejects at once, the pool opens a fresh one next time.
        client.release(true);
      };
      stop.signal.addEventListener('abort', onStop, { once: true });
      try {
        await client.query('BEGIN READ ONLY');
        // Integers from the validated options: no user text in these statements.
        await client.query(`SET LOCAL statement_timeout = ${Math.max(1, Math.round(timeoutMs))}`);
        await client.query("SET LOCAL TimeZone = 'UTC'");
        const result = await client.query({ text, values: parameters });
        await client.query('ROLLBACK');
        return { rows: result.rows as Row[], columns: result.fields.map((f) => f.name) };
      } catch (error) {
        if (stop.signal.aborted) throw stop.signal.reason;
        broken = error instanceof Error ? error : true;
        throw error;
      } finally {
        stop.clear();
        stop.signal.removeEventListener('abort', onStop);
        // A connection that failed is dropped rather than reused half-way through a transaction.
        if (!stop.signal.aborted) client.release(broken === false ? undefined : true);
      }
    },
    close: () => pool.end(),
  };
}

function openMysql(url: string, settings: PoolSettings): Database {
  const parsed = new URL(url.replace(/^mariadb:/i, 'mysql:'));
  const pool = mysql.createPool({
    host: parsed.hostname,
    port: parsed.port ? Number(parsed.port) : 3306,
    user: safeDecode(parsed.username),
    password: safeDecode(parsed.password),
    database: safeDecode(parsed.pathname.replace(/^\//, '')) || undefined,
    connectionLimit: settings.poolSize,
    maxIdle: settings.poolSize,
    idleTimeout: 30_000,
    connectTimeout: settings.connectTimeoutMs,
    // DATETIME read and written as UTC; DECIMAL/BIGINT as exact text (the poller reads the number from it).
    timezone: 'Z',
    supportBigNumbers: true,
    bigNumberStrings: true,
    multipleStatements: false,
  });
  // Which statement-timeout variable the server has: MariaDB's max_statement_time (s) or MySQL's max_execution_time (ms).
  let flavour: 'mariadb' | 'mysql' | undefined;
  return {
    dialect: 'mysql',
    where: maskUrl(url),
    async run({ text, parameters, timeoutMs, signal }) {
      const connection = await withDeadline(pool.getConnection(), signal, timeoutMs, (c) => c.destroy());
      let broken = false;
      const stop = deadline(signal, timeoutMs + CLIENT_GRACE_MS, `no answer ${formatMs(CLIENT_GRACE_MS)} past the statement timeout`);
      const onStop = () => {
        broken = true;
        connection.destroy();
      };
      stop.signal.addEventListener('abort', onStop, { once: true });
      try {
        if (flavour === undefined) {
          const [rows] = await connection.query('SELECT VERSION() AS version');
          flavour = /mariadb/i.test(String((rows as Array<{ version?: unknown }>)[0]?.version)) ? 'mariadb' : 'mysql';
        }
        // Numbers from the validated options: no user text in these statements.
        await connection.query(
          flavour === 'mariadb'
            ? `SET SESSION max_statement_time = ${(Math.max(1, Math.round(timeoutMs)) / 1000).toFixed(3)}`
            : `SET SESSION max_execution_time = ${Math.max(1, Math.round(timeoutMs))}`,
        );
        await connection.query("SET SESSION time_zone = '+00:00'");
        await connection.query('START TRANSACTION READ ONLY');
        // execute(): a server-side prepared statement; the parameters travel apart from the text.
        const [rows, fields] = await connection.execute(text, parameters);
        await connection.query('ROLLBACK');
        return { rows: rows as Row[], columns: (fields ?? []).map((f) => f.name) };
      } catch (error) {
        broken = true;
        if (stop.signal.aborted) throw stop.signal.reason;
        throw error;
      } finally {
        stop.clear();
        stop.signal.removeEventListener('abort', onStop);
        if (!stop.signal.aborted) {
          if (broken) connection.destroy();
          else connection.release();
        }
      }
    },
    close: () => pool.end(),
  };
}

/**
 * Waits for a pooled connection, at most until the run's signal aborts or the timeout passes; a connection that
 * arrives after giving up is handed to `discard`.
 */
async function withDeadline<T>(pending: Promise<T>, signal: AbortSignal, timeoutMs: number, discard: (value: T) => void): Promise<T> {
  const stop = deadline(signal, timeoutMs + CLIENT_GRACE_MS, `no connection within ${formatMs(timeoutMs + CLIENT_GRACE_MS)}`);
  try {
    return await new Promise<T>((resolve, reject) => {
      const onAbort = () => {
        pending.then(discard, () => {});
        reject(stop.signal.reason);
      };
      if (stop.signal.aborted) return onAbort();
      stop.signal.addEventListener('abort', onAbort, { once: true });
      pending.then(
        (value) => {
          stop.signal.removeEventListener('abort', onAbort);
          resolve(value);
        },
        (error: unknown) => {
          stop.signal.removeEventListener('abort', onAbort);
          reject(error);
        },
      );
    });
  } finally {
    stop.clear();
  }
}
