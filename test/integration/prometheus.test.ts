// bin/backfill.ts and bin/poll.ts prometheus against a REAL Prometheus (TSDB blocks of known values, and a live
// scrape of the test's own exporter) into a REAL carbon-cache: exact values and timestamps, splitting, resume, errors.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { formatPath } from '../../lib/graphite/metric-path.ts';
import { Carbon, describeCarbon, type Point } from '../helpers/carbon.ts';
import { describePrometheus, PrometheusServer, type RangeResult } from '../helpers/prometheus-server.ts';
import { ROOT, runCommand } from '../helpers/run-command.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const DAY = 86400;
const STEP = 15;
// Three days of history ending at least a day ago: all in TSDB blocks, none in the head the server writes.
const D0 = Math.floor(Date.now() / 1000 / DAY) * DAY - 4 * DAY;
const HISTORY_END = D0 + 3 * DAY;
const STEPS = (HISTORY_END - D0) / STEP; // 17,280: more than one request's 11,000
const HOST = 'db.example.com'; // a label value with dots: one node, db_example_com
const LONG = 'L'.repeat(1000);
const WEIRD = ['a.b c\nd', LONG, 'x 0 0\nevil.metric 1 0'];

/** The history's value at time t of series s: exact in decimal and binary (a quarter), distinct at every step. */
const historyValue = (t: number, series: number) => (((t - D0) / STEP) % 997) + series * 1000 + 0.25;
const iso = (t: number) => new Date(t * 1000).toISOString();

/** OpenMetrics for promtool: gp_history{host, series} every 15 s over [D0, HISTORY_END), one series after the other. */
function historyText(): string {
  const lines = ['# TYPE gp_history gauge'];
  for (const series of [0, 1]) {
    for (let t = D0; t < HISTORY_END; t += STEP) {
      lines.push(`gp_history{host="${HOST}",series="${series}"} ${historyValue(t, series)} ${t}`);
    }
  }
  lines.push('# EOF');
  return lines.join('\n') + '\n';
}

/** The test's own exporter: a counter of the scrapes it served, and label values that try to break a path. */
async function startExporter(): Promise<{ server: Server; port: number }> {
  let scrapes = 0;
  const escape = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
  const server = createServer((_, response) => {
    scrapes++;
    const body = [
      '# TYPE gp_exporter_scrapes_total counter',
      `gp_exporter_scrapes_total ${scrapes}`,
      '# TYPE gp_weird gauge',
      ...WEIRD.map((v, i) => `gp_weird{v="${escape(v)}"} ${i + 1}`),
    ];
    response.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    response.end(body.join('\n') + '\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

/** A pass-through in front of Prometheus that can hold requests (never answer them) and records each one. */
async function startProxy(target: string) {
  const state = { hold: (_form: URLSearchParams) => false, requests: [] as URLSearchParams[], held: 0 };
  const server = createServer(async (request, response) => {
    let body = '';
    for await (const chunk of request) body += String(chunk);
    const form = new URLSearchParams(body);
    state.requests.push(form);
    if (state.hold(form)) {
      state.held++;
      return; // never answered: the client is killed while waiting
    }
    const headers = { 'content-type': String(request.headers['content-type']) };
    const answer = await fetch(`${target}${request.url}`, { method: request.method, headers, body });
    response.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/json' });
    response.end(Buffer.from(await answer.arrayBuffer()));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, state, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

/** Waits for `condition` (checked every 100 ms), failing with `what` after `ms`. */
async function waitUntil(condition: () => boolean | Promise<boolean>, ms: number, what: string | (() => string)): Promise<void> {
  const stop = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > stop) throw new Error(`timed out waiting for ${typeof what === 'string' ? what : what()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The points the history holds for series s at every step of [from, to). */
function expectedHistory(from: number, to: number, series: number, scale = 1, offset = 0): Point[] {
  return Array.from({ length: (to - from) / STEP }, (_, i) => [from + i * STEP, historyValue(from + i * STEP, series) * scale + offset]);
}

describePrometheus('prometheus poller against a real Prometheus', () => {
  describeCarbon('into a real carbon-cache', () => {
    let carbon: Carbon;
    let prometheus: PrometheusServer;
    let exporter: { server: Server; port: number };
    let work: string;

    beforeAll(async () => {
      exporter = await startExporter();
      work = tempDir('prometheus');
      // 1 s for the live part (the last hour), 15 s for the days of history: each point lands exactly.
      [carbon, prometheus] = await Promise.all([
        Carbon.start({ retentions: '1s:1h,15s:8d' }),
        PrometheusServer.start({ openMetrics: historyText(), scrapeTargets: [`127.0.0.1:${exporter.port}`] }),
      ]);
    }, 90_000);
    afterAll(async () => {
      await Promise.allSettled([carbon?.destroy(), prometheus?.stop(), new Promise((resolve) => exporter?.server.close(resolve))]);
    });

    const env = (name: string) => ({
      GRAPHITE_URL: carbon.url,
      STATE_DIR: join(work, `state-${name}`),
      GRAPHITE_PREFIX: name,
      LOG_LEVEL: 'info',
    });
    const config = (name: string, text: string) => {
      const file = join(work, `${name}.yaml`);
      writeFileSync(file, text);
      return file;
    };
    const historyQueries = (url: string, extra = '') =>
      `url: ${url}\ninterval: ${STEP}\nretention: 30d\n${extra}queries:\n` +
      `  - name: history\n    query: gp_history\n    path: '{name}.{label.host}.s{label.series}'\n`;

    it(`backfills 3 days at a 15 s step (${STEPS} steps, split into requests of at most 11,000): exact values and timestamps`, async () => {
      const file = config(
        'split',
        historyQueries(prometheus.url, 'maxWindow: 2d\n') +
          `  - name: doubled\n    query: gp_history * 2\n    path: '{name}.{label.host}.s{label.series}'\n`,
      );
      const args = ['bin/backfill.ts', 'prometheus', '--from', iso(D0), '--to', iso(HISTORY_END), '--config', file, '--concurrency', '2'];
      const result = await runCommand(args, {
        env: env('split'),
        timeoutMs: 120_000,
      });
      expect(result.code, result.stderr).toBe(0);
      // Windows of 2 days (11,520 steps: 11,000 + 520) and 1 day (5,760): 3 requests per query, none refused.
      expect(result.stderr).toMatch(/backfill done: 2 windows \(0 already done, 2 fetched, 0 failed\), 69120 datapoints, 6 API calls/);
      await carbon.flush();
      for (const series of [0, 1]) {
        const node = `db_example_com.s${series}`;
        const history = await carbon.fetch(`split.prometheus.history.${node}`, D0 - STEP, HISTORY_END - STEP);
        expect(history).toEqual(expectedHistory(D0, HISTORY_END, series));
        const doubled = await carbon.fetch(`split.prometheus.doubled.${node}`, D0 - STEP, HISTORY_END - STEP);
        expect(doubled).toEqual(expectedHistory(D0, HISTORY_END, series, 2));
      }
    }, 150_000);

    it('a backfill killed while waiting for the server resumes: the same command fetches only what was left', async () => {
      const proxy = await startProxy(prometheus.url);
      try {
        const file = config('resume', historyQueries(proxy.url, 'maxWindow: 1d\n'));
        const args = ['bin/backfill.ts', 'prometheus', '--from', iso(D0), '--to', iso(HISTORY_END), '--config', file, '--concurrency', '1'];
        const environment = { ...process.env, ...env('resume') };
        const record = join(work, 'state-resume', 'resume.backfill.json');
        const done = () => (existsSync(record) ? (JSON.parse(readFileSync(record, 'utf8')) as { done: string[] }).done.length : 0);

        // First run: the third day's request is held; once the first two days are recorded, kill -9.
        proxy.state.hold = (form) => Number(form.get('start')) >= D0 + 2 * DAY;
        const stdio = ['ignore', 'ignore', 'pipe'] as const;
        const first = spawn(process.execPath, ['--import', 'tsx', ...args], { cwd: ROOT, env: environment, stdio: [...stdio] });
        let firstErr = '';
        first.stderr.setEncoding('utf8').on('data', (chunk: string) => (firstErr += chunk));
        const exited = new Promise((resolve) => first.once('exit', resolve));
        try {
          await waitUntil(
            () => proxy.state.held > 0 && done() === 2,
            60_000,
            () => `a held request and 2 recorded windows: ${firstErr}`,
          );
        } finally {
          first.kill('SIGKILL');
          await exited;
        }

        // Second run, the same command, the server answering everything.
        proxy.state.hold = () => false;
        proxy.state.requests.length = 0;
        const second = await runCommand(args, { env: env('resume'), timeoutMs: 60_000 });
        expect(second.code, second.stderr).toBe(0);
        expect(second.stderr).toMatch(/resuming the interrupted backfill .*: 2 windows already done/);
        const asked = proxy.state.requests.map((f) => [Number(f.get('start')), Number(f.get('end'))]);
        expect(asked).toEqual([[D0 + 2 * DAY, HISTORY_END - STEP]]);
        await carbon.flush();
        for (const series of [0, 1]) {
          expect(await carbon.fetch(`resume.prometheus.history.db_example_com.s${series}`, D0 - STEP, HISTORY_END - STEP)).toEqual(
            expectedHistory(D0, HISTORY_END, series),
          );
        }
      } finally {
        proxy.server.closeAllConnections();
        await new Promise((resolve) => proxy.server.close(resolve));
      }
    }, 150_000);

    it("bad PromQL in one of three queries: that query fails with the server's message, the other two deliver", async () => {
      const file = config(
        'bad',
        `url: ${prometheus.url}\ninterval: ${STEP}\nretention: 30d\nqueries:\n` +
          `  - name: first\n    query: gp_history{series="0"}\n` +
          `  - name: broken\n    query: sum(rate(gp_history[5m])\n` +
          `  - name: third\n    query: gp_history{series="1"} + 1\n`,
      );
      const to = D0 + 3600;
      const args = ['bin/backfill.ts', 'prometheus', '--from', iso(D0), '--to', iso(to), '--config', file];
      const result = await runCommand(args, { env: env('bad') });
      expect(result.code, result.stderr).toBe(1);
      expect(result.stderr).toMatch(/1 of 3 queries failed: query broken: the server answered 400 bad_data: .*parse error/);
      await carbon.flush();
      expect(await carbon.fetch('bad.prometheus.first', D0 - STEP, to - STEP)).toEqual(expectedHistory(D0, to, 0));
      expect(await carbon.fetch('bad.prometheus.third', D0 - STEP, to - STEP)).toEqual(expectedHistory(D0, to, 1, 1, 1));
      const written = (await carbon.list()).filter((m) => m.startsWith('bad.prometheus.'));
      expect(written).toEqual(['bad.prometheus.first', 'bad.prometheus.third']);
    }, 90_000);

    it('live ticks with lookback deliver exactly what the server holds; odd label values stay one node each', async () => {
      const step = 2;
      const file = config(
        'live',
        `url: ${prometheus.url}\ninterval: ${step}\nlookback: 10\nqueries:\n` +
          `  - name: scrapes\n    query: gp_exporter_scrapes_total\n` +
          `  - name: weird\n    query: gp_weird\n    path: '{name}.{label.v}'\n` +
          `  - name: up\n    query: up\n    path: '{name}.{label.job}.{label.instance}'\n`,
      );
      // Until the server has scraped the exporter for a few steps (a condition, not a fixed sleep).
      await waitUntil(
        async () => {
          const now = Math.floor(Date.now() / 1000);
          const result = await prometheus.queryRange('gp_exporter_scrapes_total', now - 14, now, step);
          return (result[0]?.values.length ?? 0) >= 8;
        },
        30_000,
        'the first scrapes of the exporter',
      );
      const watermarkFile = join(work, 'state-live', 'live.watermark.json');
      const watermark = () => (JSON.parse(readFileSync(watermarkFile, 'utf8')) as { deliveredUntil: number }).deliveredUntil;

      const first = await runCommand(['bin/poll.ts', 'prometheus', '--once', '--config', file], { env: env('live') });
      expect(first.code, first.stderr).toBe(0);
      const firstEnd = watermark();
      // The next tick comes at least two steps later, so its window overlaps the first one's (the lookback re-fetch).
      await waitUntil(() => Date.now() / 1000 >= firstEnd + 2 * step, 30_000, 'the clock to pass two more steps');
      const second = await runCommand(['bin/poll.ts', 'prometheus', '--once', '--config', file], { env: env('live') });
      expect(second.code, second.stderr).toBe(0);
      const secondEnd = watermark();
      expect(secondEnd).toBeGreaterThan(firstEnd);

      // What the server holds at every step of [firstEnd - lookback, secondEnd), asked directly.
      const from = firstEnd - 10;
      const expected = new Map<string, Point[]>();
      const add = (results: RangeResult[], nodes: (labels: Record<string, string>) => string[]) => {
        for (const series of results) {
          expected.set(
            formatPath(['live', 'prometheus', ...nodes(series.metric)]),
            series.values.map(([t, v]) => [t, Number(v)]),
          );
        }
      };
      add(await prometheus.queryRange('gp_exporter_scrapes_total', from, secondEnd - step, step), () => ['scrapes']);
      add(await prometheus.queryRange('gp_weird', from, secondEnd - step, step), (m) => ['weird', m.v!]);
      add(await prometheus.queryRange('up', from, secondEnd - step, step), (m) => ['up', m.job!, m.instance!]);
      expect(expected.get('live.prometheus.scrapes')!.length).toBe((secondEnd - from) / step);

      await carbon.flush();
      const stored = [...(await carbon.dump(from - 1, secondEnd + 60))].filter(([name]) => name.startsWith('live.prometheus.'));
      expect(new Map(stored.map(([name, points]) => [name, points.filter(([t]) => t >= from && t < secondEnd)]))).toEqual(expected);

      // Each label value is exactly one node: no injected line, no extra node; the 1,000 characters are cut with a hash.
      const weird = stored.map(([name]) => name).filter((name) => name.startsWith('live.prometheus.weird.'));
      expect(weird.sort()).toEqual(WEIRD.map((v) => formatPath(['live', 'prometheus', 'weird', v])).sort());
      for (const name of weird) expect(name.split('.')).toHaveLength(4);
      expect(weird).toContain('live.prometheus.weird.a_b_c_d');
      expect(weird.find((n) => n.includes('LLL'))).toMatch(/^live\.prometheus\.weird\.L{111}_[0-9a-f]{8}$/);
      expect((await carbon.list()).filter((m) => /(^|\.)evil(\.|$)/.test(m))).toEqual([]);
      expect(carbon.log()).not.toMatch(/invalid line/i);
    }, 120_000);

    it('a Prometheus that is down: the run fails with one line naming the cause, exit 1', async () => {
      const closed = createServer();
      await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
      const port = (closed.address() as AddressInfo).port;
      await new Promise((resolve) => closed.close(resolve));
      const file = config('down', `url: http://127.0.0.1:${port}\nqueries:\n  - name: up\n    query: up\n`);
      const result = await runCommand(['bin/poll.ts', 'prometheus', '--once', '--config', file], { env: env('down') });
      expect(result.code, result.stderr).toBe(1);
      expect(result.stderr).toMatch(/query up: POST http:\/\/127\.0\.0\.1:\d+\/api\/v1\/query_range failed: ECONNREFUSED/);
      expect(result.stderr).not.toMatch(/\n\s+at /); // one line, no stack trace
    }, 60_000);
  });
});
