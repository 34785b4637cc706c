// The sql poller against real PostgreSQL and MariaDB servers and a real carbon-cache: backfills exact and resumable,
// snapshots, timeouts, dropped connections, a broken query among good ones, refused writes and injection attempts.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createLogger } from '../../lib/poller-kit/logger.ts';
import { createSqlPoller } from '../../pollers/sql.ts';
import { optionsSchema } from '../../pollers/sql/options.ts';
import { Carbon, describeCarbon } from '../helpers/carbon.ts';
import { testContext } from '../helpers/capture-sink.ts';
import { ROOT, runCommand } from '../helpers/run-command.ts';
import { describeSqlServers, MariadbServer, PostgresServer, READER_PASSWORD, type SqlServer } from '../helpers/sql-servers.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const HOUR = 3600;
const DAY = 86400;
const iso = (t: number) => new Date(t * 1000).toISOString();
// Whisper keeps points relative to the real clock, so the seeded hours are recent ones; every expectation is
// computed from these two instants, never from the clock again.
const T = Math.floor(Date.now() / 1000 / HOUR) * HOUR - HOUR; // the fake "now" of live runs: an hour boundary
const MONTH_FROM = Math.floor(T / DAY) * DAY - 32 * DAY; // 30 days of hourly rows from here
const MONTH_HOURS = 30 * 24;

/** Rows seeded in hour `h` after MONTH_FROM: (h % 5) + 1, plan "pro" in even hours, "free.tier x" in odd ones. */
const signupsIn = (h: number) => (h % 5) + 1;
const planOf = (h: number) => (h % 2 === 0 ? 'pro' : 'free.tier x');

function expectedSeries(hours: number, plan: 'pro' | 'free.tier x'): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let h = 0; h < hours; h++) if (planOf(h) === plan) out.push([MONTH_FROM + h * HOUR, signupsIn(h)]);
  return out;
}

/** Every (created_at, plan) row of the month, for servers seeded from the client. */
function monthRows(hours: number): Array<[Date, string]> {
  const rows: Array<[Date, string]> = [];
  for (let h = 0; h < hours; h++)
    for (let r = 0; r < signupsIn(h); r++) rows.push([new Date((MONTH_FROM + h * HOUR + r * 60) * 1000), planOf(h)]);
  return rows;
}

describeCarbon('the sql poller with real servers', () => {
  describeSqlServers('PostgreSQL 15 and MariaDB', () => {
    let carbon: Carbon;
    let postgres: PostgresServer;
    let mariadb: MariadbServer;
    let work: string;

    beforeAll(async () => {
      work = tempDir('sql');
      const started = await Promise.allSettled([Carbon.start({ retentions: '1h:60d' }), PostgresServer.start(), MariadbServer.start()]);
      carbon = started[0].status === 'fulfilled' ? started[0].value : (undefined as never);
      postgres = started[1].status === 'fulfilled' ? started[1].value : (undefined as never);
      mariadb = started[2].status === 'fulfilled' ? started[2].value : (undefined as never);
      const failed = started.find((s) => s.status === 'rejected');
      if (failed) throw failed.reason;

      await postgres.admin('CREATE TABLE signups (id serial PRIMARY KEY, created_at timestamptz NOT NULL, plan text NOT NULL)');
      await postgres.admin(
        `INSERT INTO signups (created_at, plan)
         SELECT to_timestamp($1::bigint) + h * interval '1 hour' + r * interval '1 minute',
                CASE WHEN h % 2 = 0 THEN 'pro' ELSE 'free.tier x' END
         FROM generate_series(0, ${MONTH_HOURS - 1}) AS h, generate_series(0, 4) AS r WHERE r <= h % 5`,
        [MONTH_FROM],
      );
      await postgres.admin('CREATE TABLE jobs (queue text, amount numeric(12, 2), big bigint, note text)');
      await postgres.admin(
        "INSERT INTO jobs VALUES ('mail', 12.50, 9007199254740993, E'1\\nevil.path 1 0'), " +
          "('mail.urgent\nx 1 0', NULL, 5, '7'), ('sms', 0.25, 7, 'n/a')",
      );
      await postgres.admin('CREATE TABLE audit (n int)');
      await postgres.admin(
        'CREATE FUNCTION bump() RETURNS int LANGUAGE plpgsql AS $$ BEGIN INSERT INTO audit VALUES (1); RETURN 1; END $$',
      );
      await postgres.admin('GRANT ALL ON ALL TABLES IN SCHEMA public TO reader; GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO reader');

      await mariadb.admin(
        'CREATE TABLE signups (id INT AUTO_INCREMENT PRIMARY KEY, created_at DATETIME NOT NULL, plan VARCHAR(50) NOT NULL)',
      );
      await mariadb.admin('INSERT INTO signups (created_at, plan) VALUES ?', [monthRows(3 * 24)]);
      await mariadb.admin('CREATE TABLE jobs (queue VARCHAR(50), amount DECIMAL(12, 2), big BIGINT, note TEXT)');
      await mariadb.admin(
        "INSERT INTO jobs VALUES ('mail', 12.50, 9007199254740993, '1\\nevil.path 1 0'), ('mail.urgent\\nx 1 0', NULL, 5, '7'), " +
          "('sms', 0.25, 7, 'n/a')",
      );
      await mariadb.admin('CREATE TABLE audit (n INT)');
      await mariadb.admin('CREATE FUNCTION bump() RETURNS INT MODIFIES SQL DATA BEGIN INSERT INTO audit VALUES (1); RETURN 1; END');
    }, 120_000);

    afterAll(async () => {
      await Promise.allSettled([carbon?.destroy(), postgres?.destroy(), mariadb?.destroy()]);
    });

    const env = (prefix: string, extra: NodeJS.ProcessEnv = {}) => ({
      GRAPHITE_URL: carbon.url,
      GRAPHITE_PREFIX: prefix,
      STATE_DIR: join(work, `state-${prefix}`),
      ...extra,
    });
    const config = (name: string, yaml: string) => {
      const file = join(work, `${name}.yaml`);
      writeFileSync(file, yaml);
      return file;
    };
    const hourly = (server: SqlServer, extra = '') => `url: \${DATABASE_URL}
interval: 1h
step: 1h
maxWindow: 1d
${extra}queries:
  - name: signups
    sql: |
      ${
        server.kind === 'postgres'
          ? "SELECT date_trunc('hour', created_at) AS hour, plan, count(*) AS signups FROM signups"
          : "SELECT DATE_FORMAT(created_at, '%Y-%m-%d %H:00:00') AS hour, plan, COUNT(*) AS signups FROM signups"
      }
      WHERE created_at >= :window_start AND created_at < :window_end -- not ':window_end' here
      GROUP BY 1, 2
    values: [signups]
    timestamp: hour
    path: app.signups.{plan}
`;

    it('PostgreSQL: a month of hourly rows backfills exactly, and a killed backfill resumes where it stopped', async () => {
      // Every window pauses a little (pg_sleep), so the first run can be killed halfway.
      const slow = hourly(postgres).replace('FROM signups', 'FROM signups, (SELECT pg_sleep(0.1)) AS pause');
      const file = config('pg-month', slow);
      const args = [
        'bin/backfill.ts',
        'sql',
        '--config',
        file,
        '--from',
        iso(MONTH_FROM),
        '--to',
        iso(MONTH_FROM + 30 * DAY),
        '--concurrency',
        '1',
      ];
      const environment = { ...process.env, LOG_LEVEL: 'info', ...env('pgmonth', { DATABASE_URL: postgres.url }) };
      const progressFile = join(work, 'state-pgmonth', 'pg-month.backfill.json');

      const first = spawn(process.execPath, ['--import', 'tsx', ...args], {
        cwd: ROOT,
        env: environment,
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let firstErr = '';
      first.stderr.setEncoding('utf8').on('data', (chunk: string) => (firstErr += chunk));
      const exited = new Promise((resolve) => first.on('exit', resolve));
      const done = () => {
        try {
          return (JSON.parse(readFileSync(progressFile, 'utf8')) as { done: string[] }).done.length;
        } catch {
          return 0;
        }
      };
      for (const until = Date.now() + 60_000; done() < 8 && first.exitCode === null && Date.now() < until;)
        await new Promise((r) => setTimeout(r, 50));
      first.kill('SIGKILL');
      await exited;
      const recorded = done();
      expect(recorded, firstErr).toBeGreaterThanOrEqual(8);
      expect(recorded, 'the first run was killed before it finished').toBeLessThan(30);

      const second = await runCommand(args, { env: env('pgmonth', { DATABASE_URL: postgres.url }) });
      expect(second.code, second.stderr).toBe(0);
      expect(second.stderr).toContain('resuming the interrupted backfill');
      expect(second.stderr).toMatch(
        new RegExp(`backfill done: 30 windows \\(${recorded} already done, ${30 - recorded} fetched, 0 failed\\)`),
      );
      expect(second.stderr + firstErr).not.toContain(READER_PASSWORD);

      await carbon.flush();
      expect(await carbon.fetch('pgmonth.app.signups.pro', MONTH_FROM - HOUR, MONTH_FROM + 30 * DAY)).toEqual(
        expectedSeries(MONTH_HOURS, 'pro'),
      );
      // "free.tier x" is one node, sanitized: its dot and space add no level.
      expect(await carbon.fetch('pgmonth.app.signups.free_tier_x', MONTH_FROM - HOUR, MONTH_FROM + 30 * DAY)).toEqual(
        expectedSeries(MONTH_HOURS, 'free.tier x'),
      );
      const names = await carbon.list();
      expect(names.filter((n) => n.startsWith('pgmonth.app.')).sort()).toEqual([
        'pgmonth.app.signups.free_tier_x',
        'pgmonth.app.signups.pro',
      ]);
    }, 120_000);

    it('MariaDB: bin/backfill.ts delivers three days of hourly rows exactly', async () => {
      const file = config('maria-days', hourly(mariadb));
      const result = await runCommand(
        ['bin/backfill.ts', 'sql', '--config', file, '--from', iso(MONTH_FROM), '--to', iso(MONTH_FROM + 3 * DAY)],
        {
          env: env('mariadays', { DATABASE_URL: mariadb.url }),
        },
      );
      expect(result.code, result.stderr).toBe(0);
      expect(result.stderr).toMatch(/backfill done: 3 windows \(0 already done, 3 fetched, 0 failed\)/);
      await carbon.flush();
      expect(await carbon.fetch('mariadays.app.signups.pro', MONTH_FROM - HOUR, MONTH_FROM + 3 * DAY)).toEqual(expectedSeries(72, 'pro'));
      expect(await carbon.fetch('mariadays.app.signups.free_tier_x', MONTH_FROM - HOUR, MONTH_FROM + 3 * DAY)).toEqual(
        expectedSeries(72, 'free.tier x'),
      );
    }, 60_000);

    // Three queries, the second with a syntax error: the other two deliver, the run fails naming it. Labels and
    // values that try to add a level or a line stay one node or are skipped and counted.
    for (const kind of ['postgres', 'mariadb'] as const) {
      it(`${kind}: bin/poll.ts --once: a broken query fails alone; snapshots with exact numbers, injections contained`, async () => {
        const server = kind === 'postgres' ? postgres : mariadb;
        const prefix = `once${kind}`;
        const file = config(
          `once-${kind}`,
          `url: \${DATABASE_URL}
interval: 1h
queries:
  - name: queue
    sql: SELECT queue, amount, big, note FROM jobs
    values: [amount, big, note]
    path: app.jobs.{queue}.{value}
  - name: broken
    sql: SELEC count(*) AS n FROM jobs
    values: [n]
  - name: literal
    sql: "SELECT COUNT(*) AS n, ':window_start' AS text FROM jobs"
    values: [n]
    path: app.literal.{text}
`,
        );
        const result = await runCommand(['bin/poll.ts', 'sql', '--once', '--config', file], {
          env: env(prefix, { DATABASE_URL: server.url, GRAPHITE_POLLERS_TEST_NOW: iso(T) }),
        });
        expect(result.code, result.stderr).toBe(1);
        expect(result.stderr).toMatch(/1 of 3 queries failed: query broken: .*syntax/i);
        expect(result.stderr).not.toContain(READER_PASSWORD);
        await carbon.flush();
        // NUMERIC/DECIMAL and BIGINT arrive as exact text and are sent as numbers; the NULL is skipped.
        expect(await carbon.fetch(`${prefix}.app.jobs.mail.amount`, T - HOUR, T + HOUR)).toEqual([[T, 12.5]]);
        expect(await carbon.fetch(`${prefix}.app.jobs.mail.big`, T - HOUR, T + HOUR)).toEqual([[T, 9007199254740992]]);
        expect(await carbon.fetch(`${prefix}.app.jobs.sms.amount`, T - HOUR, T + HOUR)).toEqual([[T, 0.25]]);
        expect(await carbon.fetch(`${prefix}.app.jobs.mail_urgent_x_1_0.big`, T - HOUR, T + HOUR)).toEqual([[T, 5]]);
        expect(await carbon.fetch(`${prefix}.app.jobs.mail_urgent_x_1_0.note`, T - HOUR, T + HOUR)).toEqual([[T, 7]]);
        // A ':window_start' inside a literal is text, not a parameter: the query is a snapshot.
        expect(await carbon.fetch(`${prefix}.app.literal._window_start`, T - HOUR, T + HOUR)).toEqual([[T, 3]]);
        const names = (await carbon.list()).filter((n) => n.startsWith(`${prefix}.app.`)).sort();
        expect(names).toEqual(
          [
            'app.jobs.mail.amount',
            'app.jobs.mail.big',
            'app.jobs.mail_urgent_x_1_0.big',
            'app.jobs.mail_urgent_x_1_0.note',
            'app.jobs.sms.amount',
            'app.jobs.sms.big',
            'app.literal._window_start',
          ].map((n) => `${prefix}.${n}`),
        );
        expect(carbon.log()).not.toMatch(/evil/);
        expect(names.join('\n')).not.toMatch(/evil/);
      }, 60_000);
    }

    it('a job of snapshots cannot be backfilled: one line, exit 78; --plan lists queries, parameters and history', async () => {
      const snapshot = config(
        'snapshots',
        `url: \${DATABASE_URL}\nqueries:\n  - name: queue\n    sql: SELECT count(*) AS depth FROM jobs\n    values: [depth]\n`,
      );
      const backfill = await runCommand(['bin/backfill.ts', 'sql', '--config', snapshot, '--from', iso(T - DAY), '--to', iso(T)], {
        env: env('snapshots', { DATABASE_URL: postgres.url }),
      });
      expect(backfill.code, backfill.stderr).toBe(78);
      expect(backfill.stderr).toMatch(/no time the source still has/);
      expect(backfill.stderr).not.toMatch(/\n\s+at /);

      const plan = await runCommand(
        [
          'bin/poll.ts',
          'sql',
          '--plan',
          '--config',
          config('plan', hourly(postgres) + '  - name: queue\n    sql: SELECT count(*) AS depth FROM jobs\n    values: [depth]\n'),
        ],
        {
          env: env('plan', { DATABASE_URL: postgres.url }),
        },
      );
      expect(plan.code, plan.stderr).toBe(0);
      const out = plan.stdout + plan.stderr;
      expect(out).toMatch(/query signups: parameters :window_start, :window_end; history: yes, one point per row at its hour/);
      expect(out).toMatch(/query queue: parameters none; history: no/);
      expect(out).toContain('postgres://reader:***@127.0.0.1');
      expect(out).not.toContain(READER_PASSWORD);
    }, 60_000);

    // In-process: a poller instance per server, as the registry makes one per job.
    const options = (server: SqlServer, queries: Array<Record<string, unknown>>, extra: Record<string, unknown> = {}) =>
      optionsSchema.parse({ url: server.url, queries, connectAttempts: 3, ...extra });
    const context = <O>(opts: O, sleep?: (ms: number) => Promise<void>, lines: string[] = []) =>
      testContext({
        options: opts,
        window: { start: T - HOUR, end: T },
        signal: AbortSignal.timeout(30_000),
        schedule: { interval: 60, delay: 0, lookback: 0 },
        log: createLogger({ write: (line) => lines.push(line), secrets: [], level: 'debug' }),
        ...(sleep ? { sleep } : {}),
      });

    for (const kind of ['postgres', 'mariadb'] as const) {
      it(`${kind}: a slow query is cancelled by the statement timeout; a write is refused by the read-only transaction`, async () => {
        const server = kind === 'postgres' ? postgres : mariadb;
        const poller = createSqlPoller();
        try {
          const sleepSql = kind === 'postgres' ? 'SELECT 1 AS n FROM pg_sleep(5)' : 'SELECT SLEEP(5) AS n';
          const opts = options(
            server,
            [
              { name: 'slow', sql: sleepSql, values: ['n'] },
              { name: 'write', sql: 'SELECT bump() AS n', values: ['n'] },
              { name: 'fine', sql: 'SELECT COUNT(*) AS n FROM jobs', values: ['n'] },
              { name: 'window', sql: 'SELECT :window_start AS at, 1 AS n', values: ['n'], timestamp: 'at' },
            ],
            { statementTimeout: 1 },
          );
          const ctx = context(opts);
          const started = Date.now();
          const error = await poller.poll(ctx).then(
            () => undefined,
            (e: unknown) => e as Error,
          );
          expect(Date.now() - started, 'the slow query ends at its timeout, not after 5 s').toBeLessThan(4500);
          expect(error?.message).toMatch(/^2 of 4 queries failed: /);
          expect(error?.message).toMatch(/query slow: cancelled by the statement timeout \(1 s\)/);
          expect(error?.message).toMatch(/query write: .*(read-only|READ ONLY)/i);
          expect(ctx.stats.counters['sql.timeouts']).toBe(1);
          expect(ctx.stats.counters['sql.query_errors']).toBe(2);
          // The others delivered; the window came back as the timestamp it was bound as.
          expect(ctx.sink.series()).toEqual({ 'sql.fine.n': [[T, 3]], 'sql.window.n': [[T - HOUR, 1]] });
          expect(await server.admin('SELECT COUNT(*) AS n FROM audit')).toEqual([{ n: kind === 'postgres' ? '0' : 0 }]);
        } finally {
          await poller.close?.();
        }
      }, 30_000);

      it(`${kind}: the row limit stops reading and is counted; tags go with the points`, async () => {
        const server = kind === 'postgres' ? postgres : mariadb;
        const poller = createSqlPoller();
        try {
          const opts = options(
            server,
            [{ name: 'jobs', sql: 'SELECT queue, big FROM jobs', values: ['big'], path: 'app.{queue}', tags: ['queue'] }],
            { maxRows: 2 },
          );
          const ctx = context(opts);
          await poller.poll(ctx);
          expect(ctx.stats.counters['sql.row_limit_hit']).toBe(1);
          expect(ctx.stats.counters['sql.rows']).toBe(2);
          // Which rows a limit keeps is the server's choice (MariaDB ignores ORDER BY inside the poller's derived table).
          const seeded: Record<string, number> = { mail: 9007199254740992, 'mail.urgent\nx 1 0': 5, sms: 7 };
          expect(ctx.sink.points).toHaveLength(2);
          for (const point of ctx.sink.points) {
            expect(point.nodes![0]).toBe('app');
            expect(point.tags).toEqual({ queue: point.nodes![1] });
            expect(point.value).toBe(seeded[point.nodes![1]!]);
          }
        } finally {
          await poller.close?.();
        }
      }, 30_000);

      it(`${kind}: a dropped connection and a stopped server are retried on a fresh connection`, async () => {
        const server = kind === 'postgres' ? postgres : mariadb;
        const poller = createSqlPoller();
        const opts = options(server, [{ name: 'fine', sql: 'SELECT COUNT(*) AS n FROM jobs', values: ['n'] }]);
        try {
          await poller.poll(context(opts));
          // The pool's connection is ended by the server.
          expect(await server.dropReaderConnections()).toBeGreaterThan(0);
          const afterDrop = context(opts);
          await poller.poll(afterDrop);
          expect(afterDrop.sink.series()).toEqual({ 'sql.fine.n': [[T, 3]] });

          // The server is down when the query runs; it is back by the time the backoff wait ends.
          await server.stop();
          const waits: number[] = [];
          const lines: string[] = [];
          const down = context(
            opts,
            async (ms) => {
              waits.push(ms);
              if (waits.length === 1) await server.start();
            },
            lines,
          );
          await poller.poll(down);
          expect(down.sink.series()).toEqual({ 'sql.fine.n': [[T, 3]] });
          expect(waits).toEqual([500]);
          expect(down.stats.counters['sql.connection_retries']).toBe(1);
          expect(lines.join('\n')).toMatch(/connection to .*:\*\*\*@127\.0\.0\.1.* failed/);
          expect(lines.join('\n')).not.toContain(READER_PASSWORD);

          // Down for good: bounded attempts, then the query fails.
          await server.stop();
          const gone = context(opts);
          await expect(poller.poll(gone)).rejects.toThrow(/1 of 1 queries failed: query fine/);
          expect(gone.stats.counters['sql.connection_retries']).toBe(2);
        } finally {
          await poller.close?.();
          if (existsSync(server.dir)) await server.start().catch(() => {});
        }
      }, 60_000);
    }
  });
});
