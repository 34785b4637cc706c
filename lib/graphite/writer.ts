// The Graphite plaintext-protocol writer every poller's lines go through: queue, batch, send, reconnect, replay.
import type { Clock } from '../poller-kit/clock.ts';
import { parseGraphiteUrl } from './url.ts';
import type { HandOff, Overflow, QueueOptions } from './line-queue.ts';
import { silentLogger, type Logger } from '../poller-kit/logger.ts';
import { StreamGraphiteWriter } from './stream-writer.ts';
import { TcpGraphiteWriter } from './tcp-writer.ts';
import { UdpGraphiteWriter } from './udp-writer.ts';

/*
 * What the writer can lose, plainly (carbon's plaintext protocol has no acknowledgement):
 * - lines dropped, oldest first, from a full queue (never with overflow 'grow'): counted in stats().dropped and by whenHandedOff;
 *   reserved lines (self-metrics, writeReserved) are dropped only when no data line is left to drop instead;
 * - lines still queued at close(): counted the same way, and in stats().lost (flush first);
 * - over TCP, lines carbon had not read when a connection died and that are older than the replay tail
 *   (the last `replayBytes` of traffic before the loss, and more of it up to `replaySeconds` and
 *   `replayLines`: a peer that stops reading holds ~4 MB unread in kernel buffers, measured on loopback);
 * - over UDP, any datagram.
 * A replay re-sends lines carbon may already have: harmless, a whisper point is overwritten, and in order.
 */

export { parseGraphiteUrl, type GraphiteTarget } from './url.ts';
export type { HandOff } from './line-queue.ts';

export interface WriterStats {
  /** Lines handed to the socket or stream (a replay after a reconnect does not count them again). */
  sent: number;
  /** Lines dropped: oldest first when the queue was full, or still queued at close() (those also count in `lost`). */
  dropped: number;
  /** Of `dropped`, the lines never handed to Graphite because the writer closed (or its output broke) with them queued. */
  lost: number;
  /** Lines waiting in the queue now. */
  queued: number;
  /** Connections re-established after a lost one (the first connection does not count). */
  reconnects: number;
}

export interface GraphiteWriterOptions {
  /** GRAPHITE_URL: `tcp://host:port`, `udp://host:port`, or unset / `-` for stdout. */
  url?: string;
  /** GRAPHITE_QUEUE_LIMIT: lines held while Graphite is slow or away; then the oldest are dropped. Default 500000. */
  queueLimit?: number;
  /** ready() resolves when fewer lines than this are queued. Default (and at most) half of queueLimit. */
  readyLines?: number;
  /** Room for reserved lines (self-metrics) on top of queueLimit; see writeReserved. Default 10000. */
  reserveLines?: number;
  /**
   * What a full queue does: `drop-oldest` (default, live jobs: memory stays bounded through a long outage) or
   * `grow` (backfills: every producer waits on ready(), so the queue outgrows its limit only by what was already
   * in flight, and a backfill never drops what it fetched).
   */
  overflow?: Overflow;
  /** One line per event (connect, disconnect, reconnect with its delay, drops), never one per line. */
  log?: Logger;
  /** The stream for the stdout writer (default process.stdout). */
  stdout?: NodeJS.WritableStream;
  /** TCP: the lines handed to a socket in its last this-many seconds of traffic are re-sent after a reconnect. Default 10. */
  replaySeconds?: number;
  /** TCP: at most this many lines are kept for that replay (plus one chunk), unless replayBytes needs more. Default queueLimit / 10. */
  replayLines?: number;
  /**
   * TCP: the replay always holds at least the last this-many bytes (characters) handed to the socket, however
   * old: what the kernel buffers of a peer that stopped reading can hold unread. Default 16 MiB.
   */
  replayBytes?: number;
  /** Lines are joined into chunks of about this many bytes, one write each. Default 65536. */
  chunkBytes?: number;
  /** TCP: give up a connection attempt after this long. Default 10000. */
  connectTimeoutMs?: number;
  /** TCP: a socket that takes nothing for this long (no 'drain') is destroyed and reconnected. Default 10000. */
  stallTimeoutMs?: number;
  /** Reconnect delays: full jitter over min doubling per attempt up to max. Defaults 100 and 30000. */
  backoffMinMs?: number;
  backoffMaxMs?: number;
  /** TCP: close() waits this long for the peer to close its side, then destroys the socket. Default 2000. */
  closeTimeoutMs?: number;
  /** UDP: datagram size limit; a longer single line is sent alone. Default 1400. */
  udpDatagramBytes?: number;
  /** Jitter source, [0, 1). Default Math.random. */
  random?: () => number;
  /** The clock that dates replayed chunks. Default the system clock. */
  clock?: Pick<Clock, 'now'>;
}

export interface GraphiteWriter {
  /** Enqueues one line (ending with '\n'). Synchronous and cheap; never throws. At queueLimit, drops the oldest queued line (unless overflow is 'grow'). */
  write(line: string): void;
  /**
   * Enqueues a reserved line (a self-metric): sent before queued data, and when the queue is full a data line is
   * dropped in its place, so the figures that describe an outage survive it. Room: queueLimit plus reserveLines.
   */
  writeReserved(line: string): void;
  /**
   * Resolves when the queue holds fewer than readyLines (default half of queueLimit) lines: producers of many lines
   * await it. With a signal, rejects with its reason when it aborts first (a run's deadline).
   */
  ready(signal?: AbortSignal): Promise<void>;
  /**
   * Connects now instead of at the first line: true once connected (always for stdout), false when the attempt
   * failed (the writer keeps retrying with backoff, as for any outage).
   */
  connect(): Promise<boolean>;
  /** Lines ever passed to write(); line N has sequence N (1-based). */
  readonly sequence: number;
  /**
   * Resolves once every line with a sequence up to `sequence` has left the queue, handed to the socket or
   * dropped; `dropped` counts the drops among sequences after the previous call's and up to this one's.
   */
  whenHandedOff(sequence: number): Promise<HandOff>;
  /** Waits until the queue is empty and the socket has drained, or the timeout; true if everything was handed off. */
  flush(timeoutMs: number): Promise<boolean>;
  /** Stops reconnecting and ends the socket, dropping (and counting) what is still queued: call flush first. */
  close(): Promise<void>;
  stats(): WriterStats;
}

export const DEFAULT_QUEUE_LIMIT = 500_000;
/**
 * A peer that accepts but stops reading (a hung carbon, a blackholed route) leaves ~4 MB unread in kernel
 * buffers on loopback (our socket's send buffer and its receive buffer), up to ~10 MB across a network with
 * Linux's default maxima; at a few lines a second that is hours of traffic. Replaying less after the stalled
 * connection is destroyed loses the rest (measured in test/reliability/blackhole.ts).
 */
export const DEFAULT_REPLAY_BYTES = 16 * 1024 * 1024;

export function createGraphiteWriter(options: GraphiteWriterOptions = {}): GraphiteWriter {
  const target = parseGraphiteUrl(options.url);
  const queueLimit = Math.floor(positive('queueLimit', options.queueLimit ?? DEFAULT_QUEUE_LIMIT)) || 1;
  const log = options.log ?? silentLogger;
  const chunkChars = positive('chunkBytes', options.chunkBytes ?? 65_536);
  const backoffMinMs = positive('backoffMinMs', options.backoffMinMs ?? 100);
  const backoffMaxMs = Math.max(backoffMinMs, options.backoffMaxMs ?? 30_000);
  const random = options.random ?? Math.random;
  const queue: QueueOptions = {
    ...(options.readyLines !== undefined ? { readyLines: positive('readyLines', options.readyLines) } : {}),
    ...(options.reserveLines !== undefined ? { reserveLines: Math.max(0, options.reserveLines) } : {}),
    ...(options.overflow ? { overflow: options.overflow } : {}),
  };
  if (target.kind === 'stdout') {
    return new StreamGraphiteWriter({ stream: options.stdout ?? process.stdout, queueLimit, queue, log, chunkChars });
  }
  if (target.kind === 'udp') {
    const datagramBytes = positive('udpDatagramBytes', options.udpDatagramBytes ?? 1400);
    return new UdpGraphiteWriter({ ...target, queueLimit, queue, log, datagramBytes, backoffMinMs, backoffMaxMs, random });
  }
  const clock = options.clock ?? { now: Date.now };
  return new TcpGraphiteWriter({
    ...target,
    queueLimit,
    queue,
    log,
    chunkChars,
    replaySeconds: Math.max(0, options.replaySeconds ?? 10),
    replayLines: Math.max(0, options.replayLines ?? Math.ceil(queueLimit / 10)),
    replayChars: Math.max(0, options.replayBytes ?? DEFAULT_REPLAY_BYTES),
    connectTimeoutMs: positive('connectTimeoutMs', options.connectTimeoutMs ?? 10_000),
    stallTimeoutMs: positive('stallTimeoutMs', options.stallTimeoutMs ?? 10_000),
    backoffMinMs,
    backoffMaxMs,
    closeTimeoutMs: Math.max(0, options.closeTimeoutMs ?? 2000),
    // Room for a few chunks in the socket's own buffer: fewer 'drain' round trips, still bounded.
    socketHighWaterMark: chunkChars * 4,
    random,
    now: () => clock.now(),
  });
}

function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) throw new Error(`graphite writer: ${name} must be a positive number, got ${value}`);
  return value;
}
