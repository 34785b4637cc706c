// A real, isolated carbon-cache for integration tests, through ../shared/tools/graphite-test-server.sh.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, it } from 'vitest';
import { WAIT_MS } from './wait-for.ts';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '..', '..');

/** The test server script: GRAPHITE_TEST_SERVER overrides the path beside the repository. */
export const TEST_SERVER = process.env.GRAPHITE_TEST_SERVER ?? resolve(ROOT, '..', 'shared', 'tools', 'graphite-test-server.sh');

function whyUnavailable(): string | undefined {
  if (!existsSync(TEST_SERVER)) return `${TEST_SERVER} not found (set GRAPHITE_TEST_SERVER)`;
  if (!existsSync('/usr/bin/carbon-cache'))
    return 'graphite-carbon is not installed (apt-get install -y graphite-carbon python3-whisper carbon-c-relay)';
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
  readonly dir: string;
  readonly port: number;
  private readonly env: NodeJS.ProcessEnv;

  private constructor(dir: string, port: number, env: NodeJS.ProcessEnv) {
    this.dir = dir;
    this.port = port;
    this.env = env;
  }

  static async start(options: CarbonOptions = {}): Promise<Carbon> {
    // The script's 30 s for carbon to listen is tight when several suites start carbons at once on a loaded host.
    const env = { GTS_START_TIMEOUT: '90', ...process.env, ...(options.retentions ? { GTS_RETENTIONS: options.retentions } : {}) };
    let lastError: unknown;
    // Port 0 lets the script pick free ports, but a suite running beside this one may bind them between the
    // pick and carbon's bind: start again in a fresh directory (a fixed port is the caller's to retry).
    for (let attempt = 0; attempt < (options.port ? 1 : 4); attempt++) {
      const dir = mkdtempSync(join(tmpdir(), 'gp-carbon-'));
      try {
        const { stdout } = await run(TEST_SERVER, ['start', dir, String(options.port ?? 0)], { env });
        return new Carbon(dir, Number(stdout.trim()), env);
      } catch (error) {
        lastError = error;
        rmSync(dir, { recursive: true, force: true });
      }
    }
    throw lastError;
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
      const out = await this.script(
        ['fetch', this.dir, metric, ...(from !== undefined ? [String(from)] : []), ...(until !== undefined ? [String(until)] : [])],
        {
          GTS_FETCH_TIMEOUT: '0',
        },
      );
      return (JSON.parse(out) as { points: Point[] }).points;
    } catch {
      return [];
    }
  }

  /**
   * Waits until at least `min` points of `metric` are on disk (exit 0), or throws after WAIT_MS: generous, as a
   * poller's first points can take tens of seconds on a busy 2-core host (node + tsx start-up, carbon's writer).
   */
  async wait(metric: string, min: number, from?: number, until?: number): Promise<void> {
    await this.script(
      [
        'wait',
        this.dir,
        metric,
        String(min),
        ...(from !== undefined ? [String(from)] : []),
        ...(until !== undefined ? [String(until)] : []),
      ],
      {
        GTS_FETCH_TIMEOUT: String(WAIT_MS / 1000),
      },
    );
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

  /** Non-null points of a tagged series (`name;k=v…`), read from the hashed file carbon keeps it in. */
  async fetchTagged(series: string, from?: number, until?: number): Promise<Point[]> {
    return this.fetch(taggedWhisperName(series), from, until);
  }

  /**
   * Every whisper file's non-null points in [from, until] in one read (metric name → points; tagged series
   * under their `_tagged.…` file name), without the flush sentinel.
   */
  async dump(from: number, until: number): Promise<Map<string, Point[]>> {
    const { stdout } = await run(
      '/usr/bin/python3',
      ['-c', DUMP_WHISPER, join(this.dir, 'storage', 'whisper'), String(from), String(until)],
      {
        env: this.env,
        maxBuffer: 256 * 1024 * 1024,
      },
    );
    return new Map(Object.entries(JSON.parse(stdout) as Record<string, Point[]>));
  }

  /** carbon-cache's own log (console.log): where it reports lines it could not parse. */
  log(): string {
    try {
      return readFileSync(join(this.dir, 'log', 'console.log'), 'utf8');
    } catch {
      return '';
    }
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

const DUMP_WHISPER = `
import json, os, sys, time, whisper
root, frm, until = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
out = {}
for d, _, files in os.walk(root):
    for f in files:
        if not f.endswith('.wsp'):
            continue
        name = os.path.relpath(os.path.join(d, f[:-4]), root).replace(os.sep, '.')
        if name.startswith('_gts_flush.'):
            continue
        (start, end, step), values = whisper.fetch(os.path.join(d, f), frm, until, now=int(time.time()))
        out[name] = [[start + i * step, v] for i, v in enumerate(values) if v is not None]
json.dump(out, sys.stdout)
`;

/**
 * The name carbon stores a tagged series under, as its TaggedSeries.parse(…).path: the tags sorted, a `name`
 * tag replaced by the metric name, a later duplicate tag winning (carbon/util.py).
 */
export function normalizeTaggedSeries(series: string): string {
  const [metric, ...segments] = series.split(';');
  const tags = new Map<string, string>();
  for (const segment of segments) {
    const at = segment.indexOf('=');
    tags.set(segment.slice(0, at), segment.slice(at + 1));
  }
  tags.delete('name');
  // Python sorts strings by code point, as UTF-8 bytes compare.
  const sorted = [...tags].map(([k, v]) => `;${k}=${v}`).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  return metric + sorted.join('');
}

/**
 * Carbon (TAG_HASH_FILENAMES, its default) keeps a tagged series in `_tagged/<3 hex>/<3 hex>/<sha256>.wsp`, the
 * sha256 of its normalized name: returned in the dotted form `fetch` and `list` use.
 */
export function taggedWhisperName(series: string): string {
  const hash = createHash('sha256').update(normalizeTaggedSeries(series), 'utf8').digest('hex');
  return `_tagged.${hash.slice(0, 3)}.${hash.slice(3, 6)}.${hash}`;
}

/** A port free for both TCP and UDP on 127.0.0.1 right now (carbon-c-relay listens on both). */
async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolvePort, reject) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as { port: number };
        server.close(() => resolvePort(port));
      });
      server.on('error', reject);
    });
    const udpFree = await new Promise<boolean>((resolveUdp) => {
      const socket = createSocket('udp4');
      socket.once('error', () => resolveUdp(false));
      socket.bind(port, '127.0.0.1', () => socket.close(() => resolveUdp(true)));
    });
    if (udpFree) return port;
  }
}

/** carbon-c-relay with consistent hashing (carbon_ch) in front of carbon-caches, through the test server script. */
export class Relay {
  readonly dir: string;
  readonly port: number;

  private constructor(dir: string, port: number) {
    this.dir = dir;
    this.port = port;
  }

  static async start(caches: readonly Carbon[]): Promise<Relay> {
    const dir = mkdtempSync(join(tmpdir(), 'gp-relay-'));
    let lastError: unknown;
    // The port is free when chosen; another process may take it before the relay binds it: choose again.
    for (let attempt = 0; attempt < 5; attempt++) {
      const port = await freePort();
      try {
        await run(TEST_SERVER, ['relay-start', dir, String(port), ...caches.map((c) => c.dir)]);
        return new Relay(dir, port);
      } catch (error) {
        lastError = error;
      }
    }
    throw lastError;
  }

  get url(): string {
    return `tcp://127.0.0.1:${this.port}`;
  }

  /** The relay's log: in submission mode (-s) it reports queue pressure and drops there. */
  log(): string {
    try {
      return readFileSync(join(this.dir, 'log', 'carbon-c-relay.log'), 'utf8');
    } catch {
      return '';
    }
  }

  async stop(): Promise<void> {
    await run(TEST_SERVER, ['relay-stop', this.dir]);
  }

  async destroy(): Promise<void> {
    await this.stop().catch(() => {});
    rmSync(this.dir, { recursive: true, force: true });
  }
}
