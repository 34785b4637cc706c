// What the fault-injection suite shares: its two lengths, the rows of docs/reliability.md, poller processes, sockets.
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { expect } from 'vitest';
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

export const SECTIONS = ['Graphite', 'Poller process', 'Source APIs', 'Bad input', 'Untrusted strings', 'Secrets', 'State directory'] as const;
export type Section = (typeof SECTIONS)[number];

export interface Row {
  section: Section;
  fault: string;
  injected: string;
  /** What should arrive: points, or for faults without Graphite, the figures that define "works". */
  expected: string;
  /** What did: points read back from whisper, or what was observed. */
  observed: string;
}

export interface RecordedRow extends Row {
  /** vitest's name of the test that recorded the row ("suite > test"). */
  test: string;
  file: string;
}

/** Records a row of the table (only when RELIABILITY_REPORT names a file: npm test just runs the checks). */
export function report(row: Row): void {
  const file = process.env.RELIABILITY_REPORT;
  if (!file) return;
  const state = expect.getState();
  const recorded: RecordedRow = { ...row, test: state.currentTestName ?? '', file: state.testPath ?? '' };
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

  private constructor(readonly child: ChildProcess) {
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

  /** `node --import tsx <args>` in the checkout, with JSON logs (the environment's LOG_LEVEL unless `env` sets one). */
  static start(args: string[], env: NodeJS.ProcessEnv): PollerProcess {
    const child = spawn(process.execPath, ['--import', 'tsx', ...args], {
      cwd: ROOT,
      env: { ...process.env, LOG_LEVEL: 'info', LOG_FORMAT: 'json', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return new PollerProcess(child);
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

  /** SIGTERM, then SIGKILL if it has not exited after `graceMs`. */
  async stop(graceMs = 10_000): Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }> {
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

/** A TCP server that only counts: connections made to it and bytes received (to prove nothing connected). */
export class CountingServer {
  connections = 0;
  bytes = 0;
  private readonly sockets = new Set<Socket>();
  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(): Promise<CountingServer> {
    let self!: CountingServer;
    const server = createServer((socket) => {
      self.connections++;
      self.sockets.add(socket);
      socket.on('data', (data) => (self.bytes += data.length));
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

  private constructor(
    private readonly server: Server,
    readonly port: number,
    private readonly target: number | undefined,
    mode: 'forward' | 'blackhole',
  ) {
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
