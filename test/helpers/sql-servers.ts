// Real PostgreSQL and MariaDB servers for integration tests: each in its own temporary directory, on a port the
// OS chose, as an unprivileged user when the tests run as root (postgres refuses root), stopped by destroy().
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { describe, it } from 'vitest';

const run = promisify(execFile);

/** The newest installed PostgreSQL (Debian keeps each major version under /usr/lib/postgresql/<n>/bin); PG_BIN overrides. */
export const PG_BIN = process.env.PG_BIN ?? newestPostgres();

function newestPostgres(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => /^\d+$/.test(v))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  return join(root, versions[0] ?? '15', 'bin');
}
const MARIADBD = ['/usr/sbin/mariadbd', '/usr/sbin/mysqld'].find((f) => existsSync(f)) ?? '/usr/sbin/mariadbd';
const INSTALL_DB = ['/usr/bin/mariadb-install-db', '/usr/bin/mysql_install_db'].find((f) => existsSync(f)) ?? '/usr/bin/mariadb-install-db';

/** The unprivileged account servers run as when the tests run as root. */
const SERVER_USER = 'nobody';
const NOBODY_UID = 65534;
const NOBODY_GID = 65534;

/** The password of the `reader` account the poller connects with: tests check it never reaches a log line. */
export const READER_PASSWORD = 'r3ader-Secret-pw';

function whyUnavailable(): string | undefined {
  if (!existsSync(join(PG_BIN, 'postgres')) || !existsSync(join(PG_BIN, 'initdb')))
    return `PostgreSQL is not installed (${PG_BIN}/postgres; apt-get install -y postgresql, or set PG_BIN)`;
  if (!existsSync(MARIADBD) || !existsSync(INSTALL_DB)) return 'MariaDB is not installed (apt-get install -y mariadb-server)';
  if (process.getuid?.() === 0 && !existsSync('/usr/sbin/runuser')) return 'runuser is missing (util-linux): postgres cannot run as root';
  return undefined;
}

export const sqlServersUnavailable = whyUnavailable();

/** `describe` for suites that need both servers: skipped with the reason when missing, failing under CI=true. */
export function describeSqlServers(name: string, body: () => void): void {
  if (!sqlServersUnavailable) {
    describe(name, body);
  } else if (process.env.CI === 'true') {
    describe(name, () => {
      it('needs PostgreSQL and MariaDB under CI', () => {
        throw new Error(`the SQL servers cannot start: ${sqlServersUnavailable}`);
      });
    });
  } else {
    describe.skipIf(true)(`${name} [skipped: ${sqlServersUnavailable}]`, body);
  }
}

const asRoot = () => process.getuid?.() === 0;

/** argv run as the server user when we are root. */
function asServerUser(command: string, args: string[]): [string, string[]] {
  return asRoot() ? ['/usr/sbin/runuser', ['-u', SERVER_USER, '--', command, ...args]] : [command, args];
}

function serverDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  if (asRoot()) chownSync(dir, NOBODY_UID, NOBODY_GID);
  return dir;
}

/** A TCP port free on 127.0.0.1 right now (a server binding it later may still lose it: callers retry). */
async function freePort(): Promise<number> {
  return new Promise<number>((resolvePort, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePort(port));
    });
    server.on('error', reject);
  });
}

async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs: number, log: () => string): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > until) throw new Error(`${what} did not become ready within ${timeoutMs} ms:\n${log()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface SqlServer {
  readonly kind: 'postgres' | 'mariadb';
  readonly dir: string;
  readonly port: number;
  /** The URL the poller uses: the `reader` account (password READER_PASSWORD), database `app`. */
  readonly url: string;
  /** Runs SQL as the administrator (seeding, terminating connections); returns the rows. */
  admin(sql: string, values?: unknown[]): Promise<Array<Record<string, unknown>>>;
  /** Ends every connection of the reader account (the server side of a dropped connection). */
  dropReaderConnections(): Promise<number>;
  /** Stops the server (its data stays), as a crash or an outage would. */
  stop(): Promise<void>;
  /** Starts it again on the same port and directory. */
  start(): Promise<void>;
  destroy(): Promise<void>;
}

// ---------------------------------------------------------------- PostgreSQL

export class PostgresServer implements SqlServer {
  readonly kind = 'postgres' as const;
  readonly dir: string;
  readonly port: number;

  private constructor(dir: string, port: number) {
    this.dir = dir;
    this.port = port;
  }

  get url(): string {
    return `postgres://reader:${READER_PASSWORD}@127.0.0.1:${this.port}/app`;
  }

  private get data(): string {
    return join(this.dir, 'data');
  }

  static async start(): Promise<PostgresServer> {
    const dir = serverDir('gp-postgres-');
    try {
      writeFileSync(join(dir, 'pwfile'), 'admin-pw\n');
      if (asRoot()) chownSync(join(dir, 'pwfile'), NOBODY_UID, NOBODY_GID);
      const [command, args] = asServerUser(join(PG_BIN, 'initdb'), [
        '-D',
        join(dir, 'data'),
        '-U',
        'postgres',
        '--pwfile',
        join(dir, 'pwfile'),
        '--auth-local=trust',
        '--auth-host=scram-sha-256',
        '-E',
        'UTF8',
        '--no-locale',
        '--no-sync',
      ]);
      await run(command, args);
      let lastError: unknown;
      for (let attempt = 0; attempt < 5; attempt++) {
        const server = new PostgresServer(dir, await freePort());
        try {
          await server.startProcess();
          await server.seedAccounts();
          return server;
        } catch (error) {
          lastError = error;
          await server.stopProcess().catch(() => {});
        }
      }
      throw lastError;
    } catch (error) {
      rmSync(dir, { recursive: true, force: true });
      throw error;
    }
  }

  private async startProcess(): Promise<void> {
    const options =
      `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off ` +
      `-c full_page_writes=off -c max_connections=40`;
    const [command, args] = asServerUser(join(PG_BIN, 'pg_ctl'), [
      '-D',
      this.data,
      '-l',
      join(this.dir, 'postgres.log'),
      '-o',
      options,
      '-w',
      '-t',
      '60',
      'start',
    ]);
    await run(command, args);
  }

  private async stopProcess(): Promise<void> {
    const [command, args] = asServerUser(join(PG_BIN, 'pg_ctl'), ['-D', this.data, '-m', 'immediate', '-w', '-t', '30', 'stop']);
    await run(command, args);
  }

  private client(database = 'postgres'): pg.Client {
    return new pg.Client({ host: this.dir, port: this.port, user: 'postgres', database });
  }

  private async seedAccounts(): Promise<void> {
    const client = this.client();
    await client.connect();
    try {
      await client.query(`CREATE ROLE reader LOGIN PASSWORD '${READER_PASSWORD}'`);
      await client.query('CREATE DATABASE app OWNER reader');
    } finally {
      await client.end();
    }
  }

  /** SQL as the superuser in database app (the reader owns it: only the read-only transaction stops its writes). */
  async admin(sql: string, values: unknown[] = []): Promise<Array<Record<string, unknown>>> {
    const client = this.client('app');
    await client.connect();
    try {
      return (await client.query(sql, values)).rows as Array<Record<string, unknown>>;
    } finally {
      await client.end();
    }
  }

  async dropReaderConnections(): Promise<number> {
    const rows = await this.admin("SELECT pg_terminate_backend(pid) AS ended FROM pg_stat_activity WHERE usename = 'reader'");
    return rows.filter((r) => r.ended === true).length;
  }

  stop(): Promise<void> {
    return this.stopProcess();
  }

  start(): Promise<void> {
    return this.startProcess();
  }

  log(): string {
    try {
      return readFileSync(join(this.dir, 'postgres.log'), 'utf8');
    } catch {
      return '';
    }
  }

  async destroy(): Promise<void> {
    await this.stopProcess().catch(() => {});
    rmSync(this.dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- MariaDB

export class MariadbServer implements SqlServer {
  readonly kind = 'mariadb' as const;
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  readonly dir: string;
  readonly port: number;

  private constructor(dir: string, port: number) {
    this.dir = dir;
    this.port = port;
  }

  get url(): string {
    return `mysql://reader:${READER_PASSWORD}@127.0.0.1:${this.port}/app`;
  }

  private get socket(): string {
    return join(this.dir, 'mysqld.sock');
  }

  static async start(): Promise<MariadbServer> {
    const dir = serverDir('gp-mariadb-');
    try {
      const [command, args] = asServerUser(INSTALL_DB, [
        '--no-defaults',
        `--datadir=${join(dir, 'data')}`,
        '--auth-root-authentication-method=normal',
        '--skip-test-db',
        '--skip-name-resolve',
      ]);
      await run(command, args);
      let lastError: unknown;
      for (let attempt = 0; attempt < 5; attempt++) {
        const server = new MariadbServer(dir, await freePort());
        try {
          await server.startProcess();
          await server.seedAccounts();
          return server;
        } catch (error) {
          lastError = error;
          await server.stopProcess();
        }
      }
      throw lastError;
    } catch (error) {
      rmSync(dir, { recursive: true, force: true });
      throw error;
    }
  }

  private async startProcess(): Promise<void> {
    const [command, args] = asServerUser(MARIADBD, [
      '--no-defaults',
      `--datadir=${join(this.dir, 'data')}`,
      `--socket=${this.socket}`,
      `--port=${this.port}`,
      '--bind-address=127.0.0.1',
      `--pid-file=${join(this.dir, 'mysqld.pid')}`,
      `--log-error=${join(this.dir, 'error.log')}`,
      '--skip-name-resolve',
      '--skip-log-bin',
      '--innodb-buffer-pool-size=16M',
      '--innodb-log-file-size=8M',
      '--innodb-flush-log-at-trx-commit=0',
      '--max-connections=40',
    ]);
    const child = spawn(command, args, { stdio: 'ignore' });
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    let gone = false;
    void this.exited.then(() => (gone = true));
    await waitUntil(
      'mariadbd',
      async () => {
        if (gone) throw new Error('exited');
        const connection = await mysql.createConnection({ socketPath: this.socket, user: 'root' });
        await connection.end();
        return true;
      },
      60_000,
      () => this.log(),
    ).catch((error: unknown) => {
      throw gone ? new Error(`mariadbd exited at start:\n${this.log()}`) : error;
    });
  }

  private async stopProcess(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    // runuser passes SIGTERM on to mariadbd, which shuts down cleanly.
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    await this.exited;
    clearTimeout(killer);
  }

  private async seedAccounts(): Promise<void> {
    await this.admin('CREATE DATABASE app');
    await this.admin(`CREATE USER 'reader'@'%' IDENTIFIED BY '${READER_PASSWORD}'`);
    await this.admin("GRANT ALL PRIVILEGES ON app.* TO 'reader'@'%'");
  }

  async admin(sql: string, values: unknown[] = []): Promise<Array<Record<string, unknown>>> {
    const connection = await mysql.createConnection({
      socketPath: this.socket,
      user: 'root',
      database: sql.startsWith('CREATE DATABASE') ? undefined : 'app',
      timezone: 'Z',
    });
    try {
      const [rows] = await connection.query(sql, values);
      return Array.isArray(rows) ? (rows as Array<Record<string, unknown>>) : [];
    } finally {
      await connection.end();
    }
  }

  async dropReaderConnections(): Promise<number> {
    const rows = await this.admin("SELECT id FROM information_schema.processlist WHERE user = 'reader'");
    for (const row of rows) await this.admin(`KILL CONNECTION ${Number(row.id)}`).catch(() => {});
    return rows.length;
  }

  stop(): Promise<void> {
    return this.stopProcess();
  }

  start(): Promise<void> {
    return this.startProcess();
  }

  log(): string {
    try {
      return readFileSync(join(this.dir, 'error.log'), 'utf8');
    } catch {
      return '';
    }
  }

  async destroy(): Promise<void> {
    await this.stopProcess().catch(() => {});
    rmSync(this.dir, { recursive: true, force: true });
  }
}
