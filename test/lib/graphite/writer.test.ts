import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, Socket, type AddressInfo, type Server } from 'node:net';
import { PassThrough } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  createGraphiteWriter,
  DEFAULT_REPLAY_PROOF_SECONDS,
  type GraphiteWriter,
  type GraphiteWriterOptions,
} from '../../../lib/graphite/writer.ts';
import { createLogger } from '../../../lib/poller-kit/logger.ts';

// ---------------------------------------------------------------------------------------------------------
// A line server: a real net.Server on port 0 that keeps what each connection sent.

interface Connection {
  socket: Socket;
  /** Everything this connection sent, as received. */
  text: string;
  closed: boolean;
  partial: string;
}

interface LineServer {
  port: number;
  connections: Connection[];
  /** Complete lines of every connection, in arrival order (a line cut by a dropped connection is not one). */
  lines(): string[];
  /** Distinct complete lines received so far (kept up to date as data arrives). */
  distinct: Set<string>;
  /** Resolves once `condition` holds, checked on every connection, data and close event: keep it cheap. */
  waitFor(condition: () => boolean): Promise<void>;
  close(): Promise<void>;
}

async function startLineServer(port = 0, onConnection?: (connection: Connection, index: number) => void): Promise<LineServer> {
  const connections: Connection[] = [];
  const distinct = new Set<string>();
  const watchers = new Set<() => void>();
  const notify = () => watchers.forEach((check) => check());
  const server: Server = createServer((socket) => {
    const connection: Connection = { socket, text: '', closed: false, partial: '' };
    connections.push(connection);
    socket.setEncoding('utf8');
    socket.on('data', (data: string) => {
      connection.text += data;
      const parts = (connection.partial + data).split('\n');
      connection.partial = parts.pop()!;
      for (const part of parts) distinct.add(part + '\n');
      notify();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      connection.closed = true;
      notify();
    });
    onConnection?.(connection, connections.length - 1);
    notify();
  });
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    connections,
    distinct,
    lines: () => completeLines(connections),
    waitFor: (condition) =>
      new Promise<void>((resolve) => {
        const check = () => {
          if (!condition()) return;
          watchers.delete(check);
          resolve();
        };
        watchers.add(check);
        check();
      }),
    close: async () => {
      for (const connection of connections) connection.socket.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}

/**
 * A port nothing listens on (yet), for a server that starts later or comes back on it. Picked below the kernel's
 * ephemeral range: port-0 listeners and outgoing connections of every process on the host take ports from that
 * range, so one could take a port from it between the pick and the server's bind (and the writer's own connection
 * to a port in it can even connect to itself). Outside it only an explicit bind can, and the pick is checked by one.
 */
async function freePort(): Promise<number> {
  let ephemeralLow = 32_768;
  try {
    ephemeralLow = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || ephemeralLow;
  } catch {
    // not Linux: the IANA range starts higher still
  }
  // Below 20000 too, where the carbon test server picks its ports for the suites running beside this one.
  const low = 10_000;
  const high = Math.min(20_000, ephemeralLow);
  for (;;) {
    const server = createServer();
    const port = high - low > 1000 ? low + Math.floor(Math.random() * (high - low)) : 0;
    const bound = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (!bound) continue;
    const picked = (server.address() as AddressInfo).port;
    server.close();
    await once(server, 'close');
    return picked;
  }
}

/** Polls a condition about the writer's state (no assertion on how long it takes). */
async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await sleep(2);
}

/** Lets pending promise callbacks and immediates run, then says whether `promise` has settled. */
async function isSettled(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  void promise.then(() => (settled = true));
  await new Promise((resolve) => setImmediate(resolve));
  await new Promise((resolve) => setImmediate(resolve));
  return settled;
}

const line = (n: number) => `pollers.test.series_${n % 17}.value ${n}.5 ${1_700_000_000 + n}\n`;
const lines = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => line(from + i));
/** Complete lines sent over some connections (a line cut by a dropped connection is not one). */
const completeLines = (connections: readonly Connection[]) =>
  connections.flatMap((c) =>
    c.text
      .split('\n')
      .slice(0, -1)
      .map((text) => text + '\n'),
  );

/** What a set of received lines lacks, and what it holds that was never sent (a short sample of each). */
function compare(received: Iterable<string>, sent: readonly string[]) {
  const got = new Set(received);
  const expected = new Set(sent);
  const missing = sent.filter((text) => !got.has(text));
  const unexpected = [...got].filter((text) => !expected.has(text));
  return { missing: missing.length, someMissing: missing.slice(0, 3), unexpected: unexpected.slice(0, 3) };
}
const complete = { missing: 0, someMissing: [], unexpected: [] };

/**
 * The end of a test's traffic: closes the writer (after its flush) and waits until the server has seen the
 * connections from `from` on close, so it has read everything they carried.
 */
async function closeAndWait(writer: GraphiteWriter, sink: LineServer, from = 0): Promise<Connection[]> {
  await writer.close();
  const connections = sink.connections.slice(from);
  await sink.waitFor(() => connections.every((c) => c.closed));
  return connections;
}

// Every writer a test creates is closed afterwards, whatever the test's outcome.
const writers: GraphiteWriter[] = [];
const servers: LineServer[] = [];

afterEach(async () => {
  vi.restoreAllMocks();
  await Promise.all(writers.splice(0).map((writer) => writer.close()));
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

interface LogEntry {
  level: string;
  msg: string;
  [field: string]: unknown;
}

function writerFor(port: number, options: GraphiteWriterOptions = {}): { writer: GraphiteWriter; logs: LogEntry[] } {
  const logs: LogEntry[] = [];
  const log = createLogger({ format: 'json', level: 'debug', secrets: [], write: (text) => logs.push(JSON.parse(text)) });
  const writer = createGraphiteWriter({
    url: `tcp://127.0.0.1:${port}`,
    log,
    backoffMinMs: 5,
    backoffMaxMs: 40,
    random: () => 1,
    ...options,
  });
  writers.push(writer);
  return { writer, logs };
}

async function server(port?: number, onConnection?: (connection: Connection, index: number) => void): Promise<LineServer> {
  const started = await startLineServer(port, onConnection);
  servers.push(started);
  return started;
}

/** Records every net.Socket#write of the test process: its size, result and the socket's state before it. */
function spyOnSocketWrites() {
  const calls: Array<{ socket: Socket; bytes: number; accepted: boolean; neededDrain: boolean; bufferedAfter: number }> = [];
  const original = Socket.prototype.write;
  vi.spyOn(Socket.prototype, 'write').mockImplementation(function (this: Socket, ...args: unknown[]) {
    const neededDrain = this.writableNeedDrain;
    const accepted = (original as (...a: unknown[]) => boolean).apply(this, args);
    const chunk = args[0];
    calls.push({
      socket: this,
      bytes: typeof chunk === 'string' ? chunk.length : (chunk as Buffer).length,
      accepted,
      neededDrain,
      bufferedAfter: this.writableLength,
    });
    return accepted;
  });
  return calls;
}

// ---------------------------------------------------------------------------------------------------------

// Generous: hundreds of thousands of lines, or a child process's start-up, on a busy 2-core host.
describe('graphite writer over TCP', { timeout: 120_000 }, () => {
  it('(1) delivers lines intact and in order, in few large writes', async () => {
    const sink = await server();
    const writes = spyOnSocketWrites();
    const { writer } = writerFor(sink.port);
    const sent = lines(1, 20_000);
    for (const text of sent) writer.write(text);
    expect(writer.sequence).toBe(20_000);
    expect(await writer.flush(60_000)).toBe(true);
    await closeAndWait(writer, sink);

    expect(sink.connections).toHaveLength(1);
    expect(sink.connections[0]!.text).toBe(sent.join(''));
    const bytes = sent.join('').length;
    const chunks = writes.filter((w) => w.bytes > 0);
    // One write per ~64 KB chunk (an early partial chunk now and then), never one per line.
    expect(chunks.length).toBeLessThanOrEqual(2 * Math.ceil(bytes / 65_536));
    expect(chunks.reduce((sum, w) => sum + w.bytes, 0)).toBe(bytes);
    expect(writer.stats()).toEqual({ sent: 20_000, dropped: 0, lost: 0, queued: 0, reconnects: 0 });
  });

  it('(2) queues while graphite is down at start-up, then delivers everything once it is up', async () => {
    const port = await freePort();
    const { writer, logs } = writerFor(port);
    const sent = lines(1, 5000);
    for (const text of sent) writer.write(text);
    // Several connection attempts fail meanwhile; write() never throws.
    await until(() => logs.filter((entry) => entry.msg.includes('attempt failed')).length >= 3);
    expect(writer.stats()).toMatchObject({ sent: 0, queued: 5000, dropped: 0 });

    const sink = await server(port);
    expect(await writer.flush(60_000)).toBe(true);
    await closeAndWait(writer, sink);
    expect(sink.lines()).toEqual(sent);
    expect(writer.stats()).toEqual({ sent: 5000, dropped: 0, lost: 0, queued: 0, reconnects: 0 });
    // One warning for the whole outage, not one per attempt (those are debug).
    expect(logs.filter((entry) => entry.level === 'warn').map((entry) => entry.msg)).toEqual([
      'cannot connect to graphite, retrying with backoff',
    ]);
    expect(logs.filter((entry) => entry.msg === 'connected to graphite')).toHaveLength(1);
  });

  it('connects only once the first line is written (a job that stops before writing never connects)', async () => {
    const sink = await server();
    const { writer } = writerFor(sink.port);
    await sleep(100);
    expect(sink.connections).toHaveLength(0);
    expect(await writer.flush(1000)).toBe(true);
    expect(sink.connections).toHaveLength(0);
    writer.write(line(1));
    expect(await writer.flush(60_000)).toBe(true);
    await closeAndWait(writer, sink);
    expect(sink.lines()).toEqual([line(1)]);
  });

  it('flush() does not sit out a long backoff: it retries at once', async () => {
    const port = await freePort();
    const { writer, logs } = writerFor(port, { backoffMinMs: 600_000, backoffMaxMs: 600_000 });
    for (const text of lines(1, 100)) writer.write(text);
    await until(() => logs.some((entry) => entry.msg.startsWith('cannot connect'))); // next attempt in 10 minutes
    const sink = await server(port);
    expect(await writer.flush(60_000)).toBe(true);
    await closeAndWait(writer, sink);
    expect(sink.lines()).toEqual(lines(1, 100));
  });

  it('(3) re-sends the recent tail after the connection drops mid-stream: every line arrives', async () => {
    // The first connection is cut after 100 KB, throwing away whatever the kernel still held for it.
    const sink = await server(0, (connection, index) => {
      if (index !== 0) return;
      connection.socket.on('data', () => {
        if (connection.text.length >= 100_000) connection.socket.destroy();
      });
    });
    const { writer, logs } = writerFor(sink.port, { replayLines: 1_000_000 });
    const sent = lines(1, 100_000);
    for (let i = 0; i < sent.length; i++) {
      writer.write(sent[i]!);
      if (i % 5000 === 4999) await sleep(1);
    }
    expect(await writer.flush(60_000)).toBe(true);
    await closeAndWait(writer, sink);

    expect(compare(sink.lines(), sent)).toEqual(complete);
    // The first connection really lost lines: only the replay brought them back.
    expect(sink.connections[0]!.text.length).toBeLessThan(sent.join('').length);
    expect(writer.stats()).toMatchObject({ sent: 100_000, dropped: 0, queued: 0, reconnects: 1 });
    expect(logs.filter((entry) => entry.msg === 'graphite connection lost')).toHaveLength(1);
    expect(logs.filter((entry) => entry.msg === 'reconnected to graphite')).toHaveLength(1);
  });

  it('(3b) loses no line when carbon restarts (closes, is down a while, comes back on the same port)', async () => {
    // Not port 0: the server comes back on this port after another process could have taken it (see freePort).
    const port = await freePort();
    let sink = await server(port);
    const { writer, logs } = writerFor(port);
    const sent = lines(1, 30_000);
    for (const text of sent.slice(0, 10_000)) writer.write(text);
    expect(await writer.flush(60_000)).toBe(true);
    await sink.waitFor(() => sink.distinct.size >= 10_000);
    const before = sink.lines();
    expect(before).toEqual(sent.slice(0, 10_000));
    // carbon stops: the server goes away, and lines written meanwhile are queued.
    servers.splice(servers.indexOf(sink), 1);
    await sink.close();
    for (const text of sent.slice(10_000)) writer.write(text);
    await until(
      () => logs.some((entry) => entry.msg === 'graphite connection lost') && logs.some((entry) => entry.msg.includes('attempt failed')),
    );
    sink = await server(port);
    expect(await writer.flush(60_000)).toBe(true);
    await closeAndWait(writer, sink);
    expect(compare([...before, ...sink.lines()], sent)).toEqual(complete);
    expect(writer.stats().reconnects).toBe(1);
  });

  it('(4) honours backpressure from a slow reader: bounded socket buffer, everything arrives after resume', async () => {
    const sink = await server(0, (connection) => connection.socket.pause());
    const writes = spyOnSocketWrites();
    const { writer } = writerFor(sink.port, { stallTimeoutMs: 120_000 });
    const sent = lines(1, 400_000); // ~17 MB: more than loopback socket buffers hold
    for (const text of sent) writer.write(text);
    await until(() => writes.some((w) => !w.accepted) && writer.stats().queued > 0);
    await sleep(50);
    const blockedAt = writes.length;
    await sleep(50);
    // Blocked: no write since one returned false, and the lines wait in the (bounded) queue, not the socket.
    expect(writes.length).toBe(blockedAt);
    expect(writer.stats().queued).toBeGreaterThan(0);

    sink.connections[0]!.socket.resume();
    expect(await writer.flush(30_000)).toBe(true);
    await closeAndWait(writer, sink);
    expect(sink.connections[0]!.text).toBe(sent.join(''));
    // Never written to while the socket needed a drain; its own buffer never held more than a few chunks.
    expect(writes.filter((w) => w.neededDrain)).toEqual([]);
    expect(Math.max(...writes.map((w) => w.bufferedAfter))).toBeLessThanOrEqual(6 * 65_536);
    expect(writer.stats()).toEqual({ sent: 400_000, dropped: 0, lost: 0, queued: 0, reconnects: 0 });
  });

  it('(5) bounds the queue: with no server, queueLimit + N lines drop exactly the N oldest', async () => {
    const port = await freePort();
    const { writer, logs } = writerFor(port, { queueLimit: 1000 });
    const sent = lines(1, 1250);
    for (const text of sent) writer.write(text);
    expect(writer.stats()).toEqual({ sent: 0, dropped: 250, lost: 0, queued: 1000, reconnects: 0 });
    expect(await writer.whenDelivered(250)).toEqual({ dropped: 250 });
    const rest = writer.whenDelivered(1250);
    expect(await isSettled(rest)).toBe(false);
    expect(logs.filter((entry) => entry.msg.includes('dropping the oldest'))).toHaveLength(1);

    const sink = await server(port);
    expect(await rest).toEqual({ dropped: 0 });
    expect(await writer.flush(60_000)).toBe(true);
    await closeAndWait(writer, sink);
    expect(sink.lines()).toEqual(sent.slice(250));
  });

  it('(5b) a synchronous burst larger than a small queue reaches a connected socket without a drop', async () => {
    const sink = await server();
    const { writer } = writerFor(sink.port, { queueLimit: 1000 });
    writer.write(line(0));
    expect(await writer.flush(60_000)).toBe(true);
    // Three times the queue in one synchronous run, as one page of a poller's answer is emitted.
    const sent = lines(1, 3000);
    for (const text of sent) writer.write(text);
    expect(await writer.flush(60_000)).toBe(true);
    await closeAndWait(writer, sink);
    expect(writer.stats()).toEqual({ sent: 3001, dropped: 0, lost: 0, queued: 0, reconnects: 0 });
    expect(sink.lines()).toEqual([line(0), ...sent]);
  });

  it('(6) reconnects after the stall timeout when the peer accepts but never reads', async () => {
    // The first connection is a black hole; later ones read normally.
    const sink = await server(0, (connection, index) => {
      if (index === 0) connection.socket.pause();
    });
    // Not much shorter: this process reads what it writes, and on a busy host the reader of a healthy connection can
    // fall a few hundred ms behind, which a tighter stall timeout takes for another black hole (and replays again).
    const { writer, logs } = writerFor(sink.port, { stallTimeoutMs: 2000, replayLines: 1_000_000, queueLimit: 1_000_000 });
    const sent = lines(1, 400_000);
    for (const text of sent) writer.write(text);
    await until(() => writer.stats().reconnects >= 1);
    expect(sink.connections.length).toBeGreaterThanOrEqual(2);
    expect(logs.find((entry) => entry.msg === 'graphite connection lost')?.error).toMatch(/write stalled/);
    expect(await writer.flush(90_000)).toBe(true);
    // What the black hole swallowed comes back through the replay.
    const afterStall = await closeAndWait(writer, sink, 1);
    expect(compare(completeLines(afterStall), sent)).toEqual(complete);
  });

  it('(6b) replays all a peer that stopped reading swallowed, however long ago it was written', async () => {
    // Connection 0 is a black hole; once the writer gives up on it, the hung peer is restarted and the
    // kernel buffers it never read are gone (about 4 MB on loopback).
    const sink: LineServer = await server(0, (connection, index) => {
      if (index === 0) connection.socket.pause();
      else sink.connections[0]!.socket.resetAndDestroy();
    });
    // Every chunk counts as old at once: only the replay's byte floor (a default) keeps them.
    const { writer } = writerFor(sink.port, { stallTimeoutMs: 2000, replaySeconds: 0.001 });
    const sent = lines(1, 200_000);
    for (const text of sent) writer.write(text);
    await until(() => writer.stats().reconnects >= 1);
    expect(await writer.flush(90_000)).toBe(true);
    const afterStall = await closeAndWait(writer, sink, 1);
    expect(compare(completeLines(afterStall), sent)).toEqual(complete);
  });

  it('(6c) a replay older than 10 minutes: the peer proves it read it by closing after us; the older half is dropped', async () => {
    const sink = await server();
    let now = Date.UTC(2026, 0, 1);
    const { writer, logs } = writerFor(sink.port, { clock: { now: () => now } });
    for (const text of lines(1, 100)) writer.write(text);
    await sink.waitFor(() => sink.distinct.size === 100);
    now += DEFAULT_REPLAY_PROOF_SECONDS * 1000;
    writer.write(line(101));
    // The writer ended connection 0, carbon ended it back, and the next line goes over a new connection.
    await sink.waitFor(() => sink.connections[0]!.closed && sink.connections.length === 2);
    writer.write(line(102));
    await sink.waitFor(() => sink.distinct.size === 102);
    expect(completeLines(sink.connections.slice(0, 1))).toEqual(lines(1, 101));
    expect(writer.stats().reconnects).toBe(0);
    expect(logs.filter((entry) => entry.level === 'warn')).toEqual([]);
    // Carbon restarts: of what carbon proved it read, only the last 5 minutes are sent again (carbon's cache).
    sink.connections[1]!.socket.resetAndDestroy();
    writer.write(line(103));
    expect(await writer.flush(30_000)).toBe(true);
    const [, , third] = await closeAndWait(writer, sink);
    expect(completeLines([third!])).toEqual(lines(101, 103));
  });

  it('(6d) a hung peer never ends the connection after us: the writer gives up after the stall timeout and replays it all', async () => {
    // Connection 0 accepts and never reads (nor answers our end); the next ones read.
    const sink = await server(0, (connection, index) => {
      if (index === 0) connection.socket.pause();
    });
    let now = Date.UTC(2026, 0, 1);
    const { writer, logs } = writerFor(sink.port, { clock: { now: () => now }, stallTimeoutMs: 200 });
    const sent = lines(1, 300);
    for (const text of sent.slice(0, 299)) writer.write(text);
    await until(() => sink.connections.length === 1 && writer.stats().queued === 0);
    now += DEFAULT_REPLAY_PROOF_SECONDS * 1000;
    writer.write(sent[299]!);
    await until(() => sink.connections.length === 2);
    expect(logs.find((entry) => entry.msg === 'graphite connection lost')?.error).toMatch(/did not end the connection within 200 ms/);
    expect(await writer.flush(30_000)).toBe(true);
    const afterHang = await closeAndWait(writer, sink, 1);
    expect(completeLines(afterHang)).toEqual(sent);
  });

  it("(5c) overflow 'grow' (backfills) never drops: the queue grows past its limit while Graphite is away", async () => {
    const port = await freePort();
    const { writer } = writerFor(port, { queueLimit: 1000, overflow: 'grow', readyLines: 100 });
    const sent = lines(1, 1500);
    for (const text of sent) writer.write(text);
    expect(writer.stats()).toEqual({ sent: 0, dropped: 0, lost: 0, queued: 1500, reconnects: 0 });
    const ready = writer.ready();
    expect(await isSettled(ready)).toBe(false);
    const sink = await server(port);
    await ready;
    expect(writer.stats().queued).toBeLessThan(100);
    expect(await writer.flush(60_000)).toBe(true);
    await closeAndWait(writer, sink);
    expect(writer.stats().dropped).toBe(0);
    expect(sink.lines()).toEqual(sent);
  });

  it('(7b) readyLines lowers the mark below which ready() resolves', async () => {
    const port = await freePort();
    const { writer } = writerFor(port, { queueLimit: 1000, readyLines: 10 });
    for (const text of lines(1, 9)) writer.write(text);
    expect(await isSettled(writer.ready())).toBe(true);
    writer.write(line(10));
    expect(await isSettled(writer.ready())).toBe(false);
    const sink = await server(port);
    await writer.ready();
    expect(await writer.flush(60_000)).toBe(true);
    await closeAndWait(writer, sink);
    expect(sink.lines()).toEqual(lines(1, 10));
  });

  it('(7) ready() resolves only once the queue is below half of queueLimit', async () => {
    const port = await freePort();
    const { writer } = writerFor(port, { queueLimit: 100 });
    for (const text of lines(1, 49)) writer.write(text);
    expect(await isSettled(writer.ready())).toBe(true);
    writer.write(line(50));
    const ready = writer.ready();
    expect(await isSettled(ready)).toBe(false);
    await sleep(50); // connection attempts keep failing: still waiting
    expect(await isSettled(ready)).toBe(false);
    const sink = await server(port);
    await ready;
    expect(writer.stats().queued).toBeLessThan(50);
    expect(await writer.flush(60_000)).toBe(true);
    await closeAndWait(writer, sink);
    expect(sink.lines()).toEqual(lines(1, 50));
  });

  it('(10) whenHandedOff settles in order, once lines reached the socket, counting drops per call', async () => {
    const port = await freePort();
    const { writer } = writerFor(port, { queueLimit: 10 });
    for (const text of lines(1, 5)) writer.write(text);
    const order: string[] = [];
    const first = writer.whenDelivered(5).then((result) => (order.push('first'), result));
    for (const text of lines(6, 15)) writer.write(text); // drops 1..5
    const second = writer.whenDelivered(12).then((result) => (order.push('second'), result));
    const third = writer.whenDelivered(15).then((result) => (order.push('third'), result));
    expect(await first).toEqual({ dropped: 5 });
    expect(await isSettled(second)).toBe(false);
    const sink = await server(port);
    expect(await second).toEqual({ dropped: 0 });
    expect(await third).toEqual({ dropped: 0 });
    expect(order).toEqual(['first', 'second', 'third']);
    // Already handed off: settles at once.
    expect(await writer.whenDelivered(15)).toEqual({ dropped: 0 });
    expect(await writer.flush(60_000)).toBe(true);
    await closeAndWait(writer, sink);
    expect(sink.lines()).toEqual(lines(6, 15));
  });

  it('close() after flush ends the connection and leaves no handle or timer behind', async () => {
    const sink = await server();
    const before = process.getActiveResourcesInfo();
    const { writer } = writerFor(sink.port);
    for (const text of lines(1, 1000)) writer.write(text);
    expect(await writer.flush(60_000)).toBe(true);
    await closeAndWait(writer, sink);
    await new Promise((resolve) => setImmediate(resolve));
    // Nothing more than before the writer existed (a timer of the test runner may have ended meanwhile).
    const after = process.getActiveResourcesInfo();
    for (const kind of new Set(after)) {
      expect.soft(after.filter((name) => name === kind).length, kind).toBeLessThanOrEqual(before.filter((name) => name === kind).length);
    }
    // Lines written after close are counted as dropped, never sent, never thrown.
    writer.write(line(1001));
    expect(writer.stats()).toMatchObject({ sent: 1000, dropped: 1, queued: 0 });
  });

  it('close() while graphite is down stops reconnecting and drops (and counts) what is queued', async () => {
    const port = await freePort();
    const { writer, logs } = writerFor(port);
    for (const text of lines(1, 10)) writer.write(text);
    const handOff = writer.whenDelivered(10);
    expect(await writer.flush(30)).toBe(false);
    await writer.close();
    expect(await handOff).toEqual({ dropped: 10 });
    const attempts = logs.length;
    const sink = await server(port);
    await sleep(100);
    expect(sink.connections).toHaveLength(0);
    expect(logs.length).toBe(attempts); // no attempt after close
    expect(logs.at(-1)?.msg).toMatch(/closed with lines still queued/);
    expect(writer.stats()).toMatchObject({ sent: 0, dropped: 10, lost: 10, queued: 0 });
  });

  it('connect() opens the connection before any line: true once connected, false when refused', async () => {
    const refused = writerFor(await freePort());
    expect(await refused.writer.connect()).toBe(false);
    await refused.writer.close();
    const sink = await server();
    const { writer, logs } = writerFor(sink.port);
    expect(await writer.connect()).toBe(true);
    expect(logs.map((l) => l.msg)).toContain('connected to graphite');
    expect(await writer.connect()).toBe(true);
    await writer.close();
  });

  it('reserved lines (self-metrics) outlive a full queue while Graphite is down, and go first once it is back', async () => {
    const port = await freePort();
    const { writer } = writerFor(port, { queueLimit: 10 });
    for (let tick = 0; tick < 5; tick++) {
      for (const text of lines(tick * 10 + 1, tick * 10 + 10)) writer.write(text);
      writer.writeReserved(`pollers.job.writer.dropped ${tick} 1700000000\n`);
    }
    expect(writer.stats()).toMatchObject({ dropped: 40, queued: 15 });
    // A run waiting for room gives up at its deadline instead of waiting for Graphite.
    const deadline = new AbortController();
    const ready = writer.ready(deadline.signal);
    deadline.abort(new DOMException('run exceeded its deadline', 'TimeoutError'));
    await expect(ready).rejects.toThrow('run exceeded its deadline');
    const sink = await server(port);
    expect(await writer.flush(10_000)).toBe(true);
    await sink.waitFor(() => sink.lines().length >= 15);
    const received = sink.lines().map((l) => l.trim());
    expect(received).toHaveLength(15);
    expect(received.slice(0, 5)).toEqual([0, 1, 2, 3, 4].map((n) => `pollers.job.writer.dropped ${n} 1700000000`));
    expect(received.slice(5)).toEqual(lines(41, 50).map((l) => l.trim()));
    await writer.close();
  });
});

// Generous: hundreds of thousands of lines, or a child process's start-up, on a busy 2-core host.
describe('graphite writer and the process lifetime', { timeout: 120_000 }, () => {
  /** Runs a script in a child process (does the writer alone keep Node running?), calling `onLine` per stdout line. */
  async function runScript(
    body: string,
    onLine: (line: string) => void = () => {},
  ): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const { spawn } = await import('node:child_process');
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { fileURLToPath } = await import('node:url');
    const dir = mkdtempSync(join(tmpdir(), 'graphite-writer-'));
    const script = join(dir, 'script.mts');
    const writerModule = fileURLToPath(new URL('../../../lib/graphite/writer.ts', import.meta.url));
    writeFileSync(script, `import { createGraphiteWriter } from ${JSON.stringify(writerModule)};\n${body}\n`);
    const root = fileURLToPath(new URL('../../..', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', script], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (data: string) => {
      stdout += data;
      for (const text of data.split('\n').filter(Boolean)) onLine(text);
    });
    child.stderr.setEncoding('utf8').on('data', (data: string) => (stderr += data));
    const killer = setTimeout(() => child.kill(), 90_000); // only bounds a hang
    const [code] = (await once(child, 'exit')) as [number | null];
    clearTimeout(killer);
    return { code, stdout, stderr };
  }

  it("lets the process exit while graphite is down and nobody awaits delivery (backoff timers are unref'd)", async () => {
    const port = await freePort();
    const result = await runScript(`
      const writer = createGraphiteWriter({ url: 'tcp://127.0.0.1:${port}', backoffMinMs: 50, backoffMaxMs: 100 });
      writer.write('a.b 1 1700000000\\n');
      process.on('exit', () => console.log('exited', writer.stats().queued));
    `);
    expect(result).toMatchObject({ code: 0, stdout: 'exited 1\n' });
  });

  it('keeps the process alive while a producer awaits ready(), until graphite is back', async () => {
    const port = await freePort();
    let started: Promise<LineServer> | undefined;
    const result = await runScript(
      `
      const writer = createGraphiteWriter({ url: 'tcp://127.0.0.1:${port}', queueLimit: 10, backoffMinMs: 20, backoffMaxMs: 50 });
      for (let i = 0; i < 10; i++) writer.write('a.b ' + i + ' 1700000000\\n');
      const ready = writer.ready();
      console.log('waiting');
      await ready;
      console.log('ready', await writer.flush(60_000));
      await writer.close();
    `,
      // Graphite comes back only once the child is waiting, after some refused attempts.
      (text) => {
        if (text === 'waiting') started = sleep(300).then(() => server(port));
      },
    );
    expect(result).toMatchObject({ code: 0, stdout: 'waiting\nready true\n' });
    const sink = await started!;
    await sink.waitFor(() => sink.connections.length > 0 && sink.connections.every((c) => c.closed));
    expect(sink.lines()).toHaveLength(10);
  });
});

describe('graphite writer to stdout', () => {
  it('(8) writes lines to the stream in big chunks, honouring its backpressure', async () => {
    const stream = new PassThrough({ highWaterMark: 4096 });
    const writer = createGraphiteWriter({ url: '-', stdout: stream });
    writers.push(writer);
    const sent = lines(1, 50_000);
    for (const text of sent) writer.write(text);
    await until(() => writer.stats().sent > 0);
    await sleep(20);
    // Nobody reads yet: the stream is full and the rest waits in the queue.
    expect(writer.stats().queued).toBeGreaterThan(0);
    expect(stream.writableLength).toBeLessThanOrEqual(2 * 65_536);

    let output = '';
    let chunks = 0;
    stream.setEncoding('utf8');
    stream.on('data', (data: string) => ((output += data), chunks++));
    expect(await writer.flush(60_000)).toBe(true);
    expect(output).toBe(sent.join(''));
    expect(chunks).toBeLessThan(sent.length / 100);
    expect(writer.stats()).toEqual({ sent: 50_000, dropped: 0, lost: 0, queued: 0, reconnects: 0 });
    await writer.close();
    expect(stream.writable).toBe(true); // not ours to end
  });

  it('drops and counts lines once the stream fails (a closed pipe), never throwing', async () => {
    const stream = new PassThrough();
    const writer = createGraphiteWriter({ stdout: stream });
    writers.push(writer);
    writer.write(line(1));
    stream.destroy(new Error('EPIPE'));
    await until(() => writer.stats().dropped > 0 || writer.stats().sent > 0);
    writer.write(line(2));
    expect(writer.stats().dropped + writer.stats().sent).toBe(2);
    expect(writer.stats().queued).toBe(0);
  });
});

describe('graphite writer over UDP', () => {
  it('sends whole lines in datagrams of at most 1400 bytes', async () => {
    const { createSocket } = await import('node:dgram');
    const receiver = createSocket('udp4');
    receiver.bind(0, '127.0.0.1');
    await once(receiver, 'listening');
    const datagrams: string[] = [];
    receiver.on('message', (message) => datagrams.push(message.toString('utf8')));
    const writer = createGraphiteWriter({ url: `udp://127.0.0.1:${receiver.address().port}` });
    writers.push(writer);
    const sent = lines(1, 300);
    for (const text of sent) writer.write(text);
    expect(await writer.flush(5000)).toBe(true);
    await until(() => datagrams.join('').length >= sent.join('').length);
    receiver.close();
    expect(datagrams.join('')).toBe(sent.join(''));
    expect(datagrams.every((d) => Buffer.byteLength(d) <= 1400 && d.endsWith('\n'))).toBe(true);
    expect(datagrams.length).toBeLessThan(sent.length / 10);
  });
});
