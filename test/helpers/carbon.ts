// A real, isolated carbon-cache for integration tests, through ../shared/tools/graphite-test-server.sh.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, it } from 'vitest';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '..', '..');

/** The test server script: GRAPHITE_TEST_SERVER overrides the path beside the repository. */
export const TEST_SERVER = process.env.GRAPHITE_TEST_SERVER ?? resolve(ROOT, '..', 'shared', 'tools', 'graphite-test-server.sh');

function whyUnavailable(): string | undefined {
  if (!existsSync(TEST_SERVER)) return `${TEST_SERVER} not found (set GRAPHITE_TEST_SERVER)`;
  if (!existsSync('/usr/bin/carbon-cache')) return 'graphite-carbon is not installed (apt-get install -y graphite-carbon python3-whisper carbon-c-relay)';
  if (!existsSync('/usr/lib/python3/dist-packages/whisper.py')) return 'python3-whisper is not installed';
  return undefined;
}

export const carbonUnavailable = whyUnavailable();

/**
 * `describe` for suites that need carbon: runs them when carbon is installed; otherwise reports them skipped
 * with the reason in the suite's name, except under CI=true, where a missing carbon fails the run.
 */
export function describeCarbon(name: string, body: () => void): void {
  if (!carbonUnavailable) {
    describe(name, body);
  } else if (process.env.CI === 'true') {
    describe(name, () => {
      it('needs a real carbon-cache under CI', () => {
        throw new Error(`carbon-cache cannot start: ${carbonUnavailable}`);
      });
    });
  } else {
    describe.skipIf(true)(`${name} [skipped: ${carbonUnavailable}]`, body);
  }
}

export type Point = [timestamp: number, value: number];

export interface CarbonOptions {
  /** Whisper retentions, e.g. `1s:1h,1m:30d,1h:5y` (the script's default). */
  retentions?: string;
  /** A fixed line port (for restarts on the same port); 0 lets the script pick free ones. */
  port?: number;
}

export class Carbon {
  private constructor(
    readonly dir: string,
    readonly port: number,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  static async start(options: CarbonOptions = {}): Promise<Carbon> {
    const dir = mkdtempSync(join(tmpdir(), 'gp-carbon-'));
    const env = { ...process.env, ...(options.retentions ? { GTS_RETENTIONS: options.retentions } : {}) };
    const { stdout } = await run(TEST_SERVER, ['start', dir, String(options.port ?? 0)], { env });
    return new Carbon(dir, Number(stdout.trim()), env);
  }

  get url(): string {
    return `tcp://127.0.0.1:${this.port}`;
  }

  private async script(args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<string> {
    const { stdout } = await run(TEST_SERVER, args, { env: { ...this.env, ...extraEnv }, maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  }

  /** Barrier: everything carbon has received is on disk. */
  async flush(): Promise<void> {
    await this.script(['flush', this.dir]);
  }

  /** Non-null points of one metric in [from, until] (epoch seconds); [] when it has no whisper file. */
  async fetch(metric: string, from?: number, until?: number): Promise<Point[]> {
    try {
      const out = await this.script(['fetch', this.dir, metric, ...(from !== undefined ? [String(from)] : []), ...(until !== undefined ? [String(until)] : [])], {
        GTS_FETCH_TIMEOUT: '0',
      });
      return (JSON.parse(out) as { points: Point[] }).points;
    } catch {
      return [];
    }
  }

  /** Waits until at least `min` points of `metric` are on disk (exit 0), or throws after the script's timeout. */
  async wait(metric: string, min: number, from?: number, until?: number): Promise<void> {
    await this.script(['wait', this.dir, metric, String(min), ...(from !== undefined ? [String(from)] : []), ...(until !== undefined ? [String(until)] : [])], {
      GTS_FETCH_TIMEOUT: '20',
    });
  }

  async list(): Promise<string[]> {
    return (await this.script(['list', this.dir])).split('\n').filter(Boolean);
  }

  /** Sends plaintext lines directly (returns once carbon has read them). */
  async send(lines: string): Promise<void> {
    await new Promise<void>((resolveSend, reject) => {
      const child = execFile(TEST_SERVER, ['send', this.dir], { env: this.env }, (error) => (error ? reject(error) : resolveSend()));
      child.stdin!.end(lines);
    });
  }

  /** Stops carbon; `flush: false` loses carbon's own unwritten cache, like a crash would. */
  async stop(options: { flush?: boolean } = {}): Promise<void> {
    await this.script(['stop', this.dir], { GTS_STOP_FLUSH: options.flush === false ? '0' : '1' });
  }

  /** Starts carbon again in the same directory and on the same port (after stop). */
  async restart(): Promise<void> {
    await this.script(['start', this.dir, String(this.port)]);
  }

  async destroy(): Promise<void> {
    await this.stop({ flush: false }).catch(() => {});
    rmSync(this.dir, { recursive: true, force: true });
  }
}
