// What the fault-injection suite shares: its two lengths, the rows of docs/reliability.md, poller processes, sockets.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import type { Carbon } from '../helpers/carbon.ts';
import { FAKE_CREDENTIALS } from '../helpers/cloudwatch-fake.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { historyValue } from '../helpers/history-poller.ts';
import type { RecordedRow, Row } from './rows.ts';
import { ROOT } from '../helpers/run-command.ts';

export { ROOT };

/** `npm run reliability` sets RELIABILITY_FULL=1: outages as long as the issue asks (carbon stopped for 30 s …). */
export const FULL = process.env.RELIABILITY_FULL === '1';

/** `short` in `npm test`, `full` in `npm run reliability`. */
export function choose<T>(short: T, full: T): T {
  return FULL ? full : short;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------------------------------------
// Rows of docs/reliability.md. A test records what it injected and counted; whether the row passed is the
// test's own outcome, which test/reliability/run.ts reads from vitest's report.

export { SECTIONS, type Row, type RecordedRow, type Section } from './rows.ts';

/**
 * Records a row of the table (only when RELIABILITY_REPORT names a file: npm test just runs the checks). The tests
 * run concurrently, so each passes its own `task` (from the test context) to say which test the row belongs to.
 */
export function report(row: Row, task: { fullTestName?: string; file?: { filepath?: string } }): void {
  const file = process.env.RELIABILITY_REPORT;
  if (!file) return;
  const recorded: RecordedRow = { ...row, test: task.fullTestName ?? '', file: task.file?.filepath ?? '' };
  appendFileSync(file, JSON.stringify(recorded) + '\n');
}

/** 12345 → "12,345". */
export const count = (n: number) => n.toLocaleString('en-US');

// ---------------------------------------------------------------------------------------------------------
// A poller process as supervisord runs one: bin/poll.ts with JSON logs on stderr, read as they come.

export interface LogLine {
  time: string;
  level: 'debug' | 'info' | 'warn' | 'error';
  msg: string;
  [field: string]: unknown;
}

export class PollerProcess {
  readonly logs: LogLine[] = [];
  /** stderr lines that are not JSON log lines (the test poller's `fetched-window` lines, anything unexpected). */
  readonly other: string[] = [];
  stdout = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  private readonly watchers = new Set<() => void>();

  readonly child: ChildProcess;

  private constructor(child: ChildProcess) {
    this.child = child;
    let rest = '';
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      const parts = (rest + chunk).split('\n');
      rest = parts.pop()!;
      for (const text of parts) {
        if (text.startsWith('{')) {
          try {
            this.logs.push(JSON.parse(text) as LogLine);
            continue;
          } catch {
            // not a log line after all
          }
        }
        this.other.push(text);
      }
      for (const check of [...this.watchers]) check();
    });
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (this.stdout += chunk));
    this.exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, at: Date.now() })));
  }

  /** `node --import tsx <args>` in the checkout, with JSON logs (LOG_LEVEL info unless `env` sets one). */
  static start(args: string[], env: NodeJS.ProcessEnv): PollerProcess {
    const child = spawn(process.execPath, ['--import', 'tsx', ...args], {
      cwd: ROOT,
      env: { ...process.env, LOG_LEVEL: 'info', LOG_FORMAT: 'json', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const started = new PollerProcess(child);
    running.add(started);
    void started.exited.then(() => running.delete(started));
    return started;
  }

  /** Resolves once `condition` holds (checked on every stderr chunk), or rejects after `timeoutMs`. */
  waitFor(condition: () => boolean, timeoutMs: number, what = 'condition'): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.watchers.delete(check);
        reject(new Error(`${what} not seen within ${timeoutMs} ms; stderr so far:\n${this.tail()}`));
      }, timeoutMs);
      const check = () => {
        if (!condition()) return;
        clearTimeout(timer);
        this.watchers.delete(check);
        resolve();
      };
      this.watchers.add(check);
      check();
    });
  }

  /** Windows the test poller (test/helpers/pollers/history.ts) reported fetching: `[start, end)` pairs. */
  get fetchedWindows(): Array<[number, number]> {
    return this.other.flatMap((text) => {
      const m = /^fetched-window (\d+) (\d+)$/.exec(text);
      return m ? [[Number(m[1]), Number(m[2])] as [number, number]] : [];
    });
  }

  find(msg: string | RegExp): LogLine | undefined {
    return this.logs.find((line) => (typeof msg === 'string' ? line.msg === msg : msg.test(line.msg)));
  }

  /** SIGTERM, then SIGKILL if it has not exited after `graceMs` (under npm test, a margin for a busy 2-core host). */
  async stop(graceMs = choose(30_000, 10_000)): Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    const exit = await this.exited;
    clearTimeout(timer);
    return exit;
  }

  tail(lines = 30): string {
    return [...this.logs.map((l) => JSON.stringify(l)), ...this.other].slice(-lines).join('\n');
  }
}

const running = new Set<PollerProcess>();
const carbons = new Set<Carbon>();

const started: Array<Promise<Carbon>> = [];

/**
 * Starts `count` carbon-caches at once, for `startCarbon` to hand out. Tests that stop carbon restart it on the
 * same port; a carbon started meanwhile (the test server picks free ports) could take that port. Started
 * together before any test runs, none can.
 */
export async function startCarbons(count: number): Promise<void> {
  const { Carbon } = await import('../helpers/carbon.ts');
  for (let i = 0; i < count; i++) {
    const carbon = Carbon.start();
    void carbon.then(
      (c) => carbons.add(c),
      () => {},
    );
    started.push(carbon);
  }
  await Promise.all(started);
}

/** A carbon-cache for one test (one of `startCarbons`' first), destroyed by `cleanUp` whatever the test's outcome. */
export async function startCarbon(): Promise<Carbon> {
  const ready = started.shift();
  if (ready) return ready;
  const { Carbon } = await import('../helpers/carbon.ts');
  const carbon = await Carbon.start();
  carbons.add(carbon);
  return carbon;
}

/** For afterAll: kills the poller processes still running and destroys the carbons the file started. */
export async function cleanUp(): Promise<void> {
  for (const job of running) job.child.kill('SIGKILL');
  await Promise.all([...carbons].map((carbon) => carbon.destroy()));
  carbons.clear();
}

/** The points a run of the test poller must have delivered: every step of every fetched window, per series. */
export function expectedPoints(windows: Array<[number, number]>, step: number): Set<number> {
  const out = new Set<number>();
  for (const [start, end] of windows) for (let t = Math.ceil(start / step) * step; t < end; t += step) out.add(t);
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Sockets.

export async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/** A TCP server that counts connections made to it and bytes received, and with `keep` keeps what it received. */
export class CountingServer {
  connections = 0;
  bytes = 0;
  /** What was received (with `keep`), as text. */
  received = '';
  private readonly sockets = new Set<Socket>();
  private readonly server: Server;
  readonly port: number;

  private constructor(server: Server, port: number) {
    this.server = server;
    this.port = port;
  }

  static async start(keep = false): Promise<CountingServer> {
    let self!: CountingServer;
    const server = createServer((socket) => {
      self.connections++;
      self.sockets.add(socket);
      socket.on('data', (data) => {
        self.bytes += data.length;
        if (keep) self.received += data.toString('utf8');
      });
      socket.on('error', () => {});
      socket.on('close', () => self.sockets.delete(socket));
    });
    self = new CountingServer(server, await listen(server));
    return self;
  }

  get url(): string {
    return `tcp://127.0.0.1:${this.port}`;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await closeServer(this.server);
  }
}

/**
 * A TCP proxy in front of carbon that can turn into a black hole: it keeps accepting connections but reads
 * nothing from them (socket paused, so the kernel buffers fill and the writer's socket stops draining), as a
 * hung carbon-cache or a silently dropping route would. `recover` brings carbon back: connections that were
 * hung are reset (a hung carbon restarted by its supervisor loses what its kernel buffers held), new ones are
 * forwarded. With no target it is a black hole and nothing else.
 */
export class BlackholeProxy {
  connections = 0;
  /** Bytes read from clients and forwarded. */
  forwarded = 0;
  private hung = new Set<Socket>();
  private mode: 'forward' | 'blackhole';
  private readonly all = new Set<Socket>();

  private readonly server: Server;
  readonly port: number;
  private readonly target: number | undefined;

  private constructor(server: Server, port: number, target: number | undefined, mode: 'forward' | 'blackhole') {
    this.server = server;
    this.port = port;
    this.target = target;
    this.mode = mode;
  }

  static async start(target: number | undefined, mode: 'forward' | 'blackhole' = 'forward'): Promise<BlackholeProxy> {
    let self!: BlackholeProxy;
    const server = createServer((socket) => self.accept(socket));
    self = new BlackholeProxy(server, await listen(server), target, mode);
    return self;
  }

  get url(): string {
    return `tcp://127.0.0.1:${this.port}`;
  }

  /** Stops reading from every connection, open and new. */
  blackhole(): void {
    this.mode = 'blackhole';
    for (const socket of this.all) this.hang(socket);
  }

  /** Resets the hung connections and forwards new ones to carbon again. */
  recover(): void {
    this.mode = 'forward';
    for (const socket of this.hung) socket.resetAndDestroy();
    this.hung.clear();
  }

  async close(): Promise<void> {
    for (const socket of this.all) socket.destroy();
    await closeServer(this.server);
  }

  private accept(client: Socket): void {
    this.connections++;
    this.all.add(client);
    client.on('error', () => {});
    client.on('close', () => {
      this.all.delete(client);
      this.hung.delete(client);
    });
    if (this.mode === 'blackhole' || this.target === undefined) return this.hang(client);
    const upstream = connect({ port: this.target, host: '127.0.0.1' });
    upstream.on('error', () => client.destroy());
    client.on('data', (data) => (this.forwarded += data.length));
    client.pipe(upstream);
    upstream.pipe(client);
    // Carbon going away ends its client too, unless the client hangs on here (see hang()).
    upstream.on('close', () => {
      if (!this.hung.has(client)) client.destroy();
    });
    client.on('close', () => upstream.end());
    client.once('hang', () => {
      // Neither direction may reach the client any more: carbon's end of the pipe would close it.
      upstream.unpipe(client);
      client.unpipe(upstream);
      upstream.end();
    });
  }

  private hang(socket: Socket): void {
    socket.emit('hang');
    socket.pause();
    this.hung.add(socket);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Files.

/** Every file under `dir` (recursively), or [] when it does not exist. */
export function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name));
}

export function readAll(files: string[]): string {
  return files.map((file) => readFileSync(file, 'utf8')).join('\n');
}

// ---------------------------------------------------------------------------------------------------------
// Whisper, read in bulk: one python process for many metrics (the test server's `fetch` is one per metric).

const READ_WHISPER = `
import json, os, sys, whisper
root, frm, until = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
out = {}
for metric in sys.stdin.read().split():
    path = os.path.join(root, *metric.split('.')) + '.wsp'
    if not os.path.exists(path):
        out[metric] = []
        continue
    (start, end, step), values = whisper.fetch(path, frm, until)
    out[metric] = [[start + i * step, v] for i, v in enumerate(values) if v is not None]
print(json.dumps(out))
`;

/** Non-null points of each metric in [from, until] (epoch seconds; one archive, chosen by the age of `from`). */
export async function readWhisper(
  carbon: Carbon,
  metrics: string[],
  from: number,
  until: number,
  options: { flush?: boolean } = {},
): Promise<Map<string, Map<number, number>>> {
  // A barrier first (everything carbon received is on disk), unless carbon is not running.
  if (options.flush !== false) await carbon.flush();
  const text = await new Promise<string>((resolve, reject) => {
    const child = execFile(
      '/usr/bin/python3',
      ['-c', READ_WHISPER, join(carbon.dir, 'storage', 'whisper'), String(from), String(until + 1)],
      { maxBuffer: 256 * 1024 * 1024 },
      (error, stdout) => (error ? reject(error) : resolve(stdout)),
    );
    child.stdin!.end(metrics.join('\n'));
  });
  const parsed = JSON.parse(text) as Record<string, Array<[number, number]>>;
  return new Map(Object.entries(parsed).map(([metric, points]) => [metric, new Map(points)]));
}

/** The history test poller as a job: a config file under `work` (interval = step, one point per series per step). */
export function historyConfig(
  work: string,
  name: string,
  options: { series: number; step?: number; catchUp?: number | string; windowDelayMs?: number; maxWindow?: number },
): string {
  const step = options.step ?? 1;
  const lines = [`step: ${step}`, `interval: ${step}`, `series: ${options.series}`, `catchUp: ${options.catchUp ?? 0}`];
  if (options.windowDelayMs) lines.push(`windowDelayMs: ${options.windowDelayMs}`);
  if (options.maxWindow) lines.push(`maxWindow: ${options.maxWindow}`);
  const file = join(work, `${name}.yaml`);
  writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

/** What `historyConfig`'s job must deliver and what whisper holds, per series: counts and the missing timestamps. */
export async function compareHistory(
  carbon: Carbon,
  prefix: string,
  series: number,
  expected: Set<number>,
  options: { flush?: boolean } = {},
) {
  const times = [...expected].sort((a, b) => a - b);
  if (times.length === 0) return { expected: 0, found: 0, missing: [] as number[], wrong: 0 };
  const read = await readWhisper(
    carbon,
    Array.from({ length: series }, (_, i) => `${prefix}.history.s${i}`),
    times[0]! - 5,
    times.at(-1)! + 5,
    options,
  );
  let found = 0;
  let wrong = 0;
  const missing: number[] = [];
  for (let i = 0; i < series; i++) {
    const points = read.get(`${prefix}.history.s${i}`) ?? new Map<number, number>();
    for (const t of times) {
      const value = points.get(t);
      if (value === undefined) missing.push(t);
      else if (value !== historyValue(t, i)) wrong++;
      else found++;
    }
  }
  return { expected: times.length * series, found, missing, wrong };
}

/**
 * For a suite whose in-process CloudWatch pollers find their credentials as the SDK does, in the environment:
 * the fakes' key pair, and no shared AWS config or profile of the machine. Restored afterwards.
 */
export function useFakeAwsCredentials(): void {
  const saved = { ...process.env };
  beforeAll(() => {
    const work = tempDir('rel-aws');
    Object.assign(process.env, {
      AWS_ACCESS_KEY_ID: FAKE_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: FAKE_CREDENTIALS.secretAccessKey,
      AWS_CONFIG_FILE: join(work, 'no-aws-config'),
      AWS_SHARED_CREDENTIALS_FILE: join(work, 'no-aws-credentials'),
    });
    delete process.env.AWS_SESSION_TOKEN;
    delete process.env.AWS_PROFILE;
  });
  afterAll(() => {
    process.env = saved;
  });
}
