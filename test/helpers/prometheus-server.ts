// A real, isolated Prometheus for integration tests: its own data directory (TSDB blocks of known values), config and port.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, it } from 'vitest';

const run = promisify(execFile);

export const PROMETHEUS_BINARY = process.env.PROMETHEUS_BINARY ?? '/usr/bin/prometheus';
export const PROMTOOL_BINARY = process.env.PROMTOOL_BINARY ?? '/usr/bin/promtool';

function whyUnavailable(): string | undefined {
  if (!existsSync(PROMETHEUS_BINARY)) return `${PROMETHEUS_BINARY} not found (apt-get install -y prometheus, or set PROMETHEUS_BINARY)`;
  if (!existsSync(PROMTOOL_BINARY)) return `${PROMTOOL_BINARY} not found (it comes with the prometheus package; or set PROMTOOL_BINARY)`;
  return undefined;
}

export const prometheusUnavailable = whyUnavailable();

/**
 * `describe` for suites that need a real Prometheus: runs them when it is installed; otherwise reports them
 * skipped with the reason in the suite's name, except under CI=true, where a missing Prometheus fails the run.
 */
export function describePrometheus(name: string, body: () => void): void {
  if (!prometheusUnavailable) {
    describe(name, body);
  } else if (process.env.CI === 'true') {
    describe(name, () => {
      it('needs a real Prometheus under CI', () => {
        throw new Error(`Prometheus cannot start: ${prometheusUnavailable}`);
      });
    });
  } else {
    describe.skipIf(true)(`${name} [skipped: ${prometheusUnavailable}]`, body);
  }
}

export interface PrometheusStartOptions {
  /**
   * OpenMetrics text (ending in `# EOF`) turned into TSDB blocks by `promtool tsdb create-blocks-from openmetrics`
   * before the server starts: history of exactly known values. Blocks are cut at 2 h boundaries; keep the
   * samples out of the last few hours, which belong to the head the server writes itself.
   */
  openMetrics?: string;
  /** `host:port` targets scraped as job "test" every `scrapeInterval`. */
  scrapeTargets?: string[];
  /** Default 1s: a live test needs points quickly. */
  scrapeInterval?: string;
}

/** Every server started and not yet stopped: killed when the test process exits, whatever happened. */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export class PrometheusServer {
  readonly dir: string;
  readonly url: string;
  private readonly child: ChildProcess;
  private readonly output: () => string;

  private constructor(dir: string, url: string, child: ChildProcess, output: () => string) {
    this.dir = dir;
    this.url = url;
    this.child = child;
    this.output = output;
  }

  static async start(options: PrometheusStartOptions = {}): Promise<PrometheusServer> {
    const dir = mkdtempSync(join(tmpdir(), 'gp-prometheus-'));
    try {
      const data = join(dir, 'data');
      if (options.openMetrics !== undefined) {
        const input = join(dir, 'history.om');
        writeFileSync(input, options.openMetrics);
        await run(PROMTOOL_BINARY, ['tsdb', 'create-blocks-from', 'openmetrics', input, data], { maxBuffer: 16 * 2 ** 20 });
      }
      writeFileSync(join(dir, 'prometheus.yml'), configText(options));
      return await PrometheusServer.launch(dir, data);
    } catch (error) {
      rmSync(dir, { recursive: true, force: true });
      throw error;
    }
  }

  /**
   * Starts the server on port 0 and reads the port it bound from its "Listening on" log line (2.42 logs it), so
   * no other process can take a port between a pick and the bind. Resolves once /-/ready answers 200.
   */
  private static async launch(dir: string, data: string): Promise<PrometheusServer> {
    const args = [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${data}`,
      // The blocks' samples are days old at most, but retention counts from the newest block: keep everything.
      '--storage.tsdb.retention.time=100y',
      '--web.listen-address=127.0.0.1:0',
      '--log.level=info',
    ];
    const child = spawn(PROMETHEUS_BINARY, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    running.add(child);
    let log = '';
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      log += chunk;
    });
    const exited = new Promise<never>((_, reject) => {
      child.once('exit', (code, signal) => {
        reject(new Error(`prometheus exited (${code ?? signal}) before it was ready:\n${log.slice(-2000)}`));
      });
    });
    const server = (async () => {
      const listening = () => /msg="Listening on" address=127\.0\.0\.1:(\d+)/.exec(log)?.[1];
      const port = await until(listening, 30_000, () => `no "Listening on" line:\n${log}`);
      const url = `http://127.0.0.1:${port}`;
      const ready = async () => ((await fetch(`${url}/-/ready`).catch(() => undefined))?.status === 200 ? true : undefined);
      await until(ready, 30_000, () => `not ready:\n${log}`);
      return new PrometheusServer(dir, url, child, () => log);
    })();
    try {
      return await Promise.race([server, exited]);
    } catch (error) {
      child.kill('SIGKILL');
      running.delete(child);
      throw error;
    } finally {
      exited.catch(() => {});
    }
  }

  /** The raw answer of /api/v1/query_range, as the test's own reference for what the server holds. */
  async queryRange(query: string, start: number, end: number, step: number): Promise<RangeResult[]> {
    const params = new URLSearchParams({ query, start: String(start), end: String(end), step: String(step) });
    const response = await fetch(`${this.url}/api/v1/query_range?${params}`);
    const body = (await response.json()) as { status: string; error?: string; data?: { result: RangeResult[] } };
    if (body.status !== 'success') throw new Error(`query_range ${query}: ${body.error}`);
    return body.data!.result;
  }

  /** Stops the server (SIGTERM, then SIGKILL after 10 s) and removes its directory. */
  async stop(): Promise<void> {
    const child = this.child;
    if (child.exitCode === null && child.signalCode === null) {
      const gone = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await gone;
      clearTimeout(timer);
    }
    running.delete(child);
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** What the server logged (stderr), for a failing test's message. */
  log(): string {
    return this.output();
  }
}

export interface RangeResult {
  metric: Record<string, string>;
  values: Array<[number, string]>;
}

function configText(options: PrometheusStartOptions): string {
  const interval = options.scrapeInterval ?? '1s';
  const lines = ['global:', `  scrape_interval: ${interval}`, `  evaluation_interval: ${interval}`, 'scrape_configs:'];
  if (options.scrapeTargets?.length) {
    const targets = options.scrapeTargets.map((t) => JSON.stringify(t)).join(', ');
    lines.push('  - job_name: test', '    static_configs:', `      - targets: [${targets}]`);
  } else {
    lines[lines.length - 1] = 'scrape_configs: []';
  }
  return lines.join('\n') + '\n';
}

/** Polls `probe` every 50 ms until it gives a value; throws `why()` after `ms`. */
async function until<T>(probe: () => T | undefined | Promise<T | undefined>, ms: number, why: () => string): Promise<T> {
  const stop = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > stop) throw new Error(why());
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
