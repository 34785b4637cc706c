// The Graphite plaintext-protocol writer every poller's lines go through: queue, batch, send, reconnect, replay.
import { parseGraphiteUrl } from './url.ts';
import type { QueueOptions } from './line-queue.ts';
import { silentLogger } from '../poller-kit/logger.ts';
import { HttpsGraphiteWriter } from './https-writer.ts';
import { StreamGraphiteWriter } from './stream-writer.ts';
import { TcpGraphiteWriter } from './tcp-writer.ts';
import { UdpGraphiteWriter } from './udp-writer.ts';
import { DEFAULT_QUEUE_LIMIT, type GraphiteWriter, type GraphiteWriterOptions } from './writer-types.ts';

/*
 * What the writer can lose, plainly (carbon's plaintext protocol has no acknowledgement):
 * - lines dropped, oldest first, from a full queue (never with overflow 'grow'): counted in stats().dropped and by whenDelivered;
 *   reserved lines (self-metrics, writeReserved) are dropped only when no data line is left to drop instead;
 * - lines still queued at close(): counted the same way, and in stats().lost (flush first);
 * - over TCP, lines carbon had not read when a connection died and that are older than the replay tail
 *   (the last `replayBytes` of traffic before the loss, and more of it up to `replaySeconds` and
 *   `replayLines`: a peer that stops reading holds ~4 MB unread in kernel buffers, measured on loopback;
 *   lines older than 5 minutes that carbon proved it read are dropped, see DEFAULT_REPLAY_PROOF_SECONDS);
 * - over UDP, any datagram.
 * Over HTTP(S) (an ingestion endpoint that answers) a line is delivered when its batch got a 2xx: no replay tail,
 * and whenHandedOff/flush wait for those answers; a point the endpoint refuses for good is counted in `rejected`.
 * A replay re-sends lines carbon may already have: harmless, a whisper point is overwritten, and in order.
 */

export { parseGraphiteUrl, type GraphiteTarget } from './url.ts';
export { DEFAULT_QUEUE_LIMIT, type Delivery, type GraphiteWriter, type GraphiteWriterOptions, type WriterStats } from './writer-types.ts';
/**
 * A peer that accepts but stops reading (a hung carbon, a blackholed route) leaves ~4 MB unread in kernel
 * buffers on loopback (our socket's send buffer and its receive buffer), up to ~10 MB across a network with
 * Linux's default maxima; at a few lines a second that is hours of traffic. Replaying less after the stalled
 * connection is destroyed loses the rest (measured in test/reliability/blackhole.ts).
 */
export const DEFAULT_REPLAY_BYTES = 16 * 1024 * 1024;
/**
 * How long the replay may hold lines before the writer has the peer prove it read them (it ends the connection
 * and waits for carbon's end, then connects again, keeping the newer half): an idle job's replay holds 5 to 10
 * minutes, not 16 MiB of hours. A hung peer does not answer, and gets the whole replay on the next connection.
 */
export const DEFAULT_REPLAY_PROOF_SECONDS = 600;

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
  if (target.kind === 'http') {
    return new HttpsGraphiteWriter({
      url: target.url,
      queueLimit,
      queue,
      log,
      ...(options.http ? { credentials: options.http } : {}),
      ...(options.tls ? { tls: options.tls } : {}),
      intervalSeconds: positive('intervalSeconds', options.intervalSeconds ?? 60),
      batchPoints: Math.floor(positive('batchPoints', options.batchPoints ?? 5000)) || 1,
      batchBytes: positive('batchBytes', options.batchBytes ?? 1024 * 1024),
      maxInFlight: Math.floor(positive('maxInFlight', options.maxInFlight ?? 4)) || 1,
      requestTimeoutMs: positive('requestTimeoutMs', options.requestTimeoutMs ?? 30_000),
      backoffMinMs,
      backoffMaxMs,
      random,
    });
  }
  const clock = options.clock ?? { now: Date.now };
  return new TcpGraphiteWriter({
    host: target.host,
    port: target.port,
    ...(target.kind === 'tls' ? { tls: options.tls ?? {} } : {}),
    queueLimit,
    queue,
    log,
    chunkChars,
    replaySeconds: Math.max(0, options.replaySeconds ?? 10),
    replayLines: Math.max(0, options.replayLines ?? Math.ceil(queueLimit / 10)),
    replayChars: Math.max(0, options.replayBytes ?? DEFAULT_REPLAY_BYTES),
    replayProofMs: DEFAULT_REPLAY_PROOF_SECONDS * 1000,
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
