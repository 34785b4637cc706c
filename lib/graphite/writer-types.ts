// The one Graphite writer interface every consumer takes (sink, runner, backfill, delivery ledger, commands), its
// figures and options, apart from the factory (writer.ts) so the writers it builds need not import it.
import type { Clock } from '../poller-kit/clock.ts';
import type { Logger } from '../poller-kit/logger.ts';

/** GRAPHITE_QUEUE_LIMIT's default: lines held while Graphite is slow or away. */
export const DEFAULT_QUEUE_LIMIT = 500_000;

/** What a full queue does with one more line. */
export type Overflow = 'drop-oldest' | 'grow';

/** What `whenDelivered` reports about the lines it waited for. */
export interface Delivery {
  /** Lines that will never be delivered (dropped, lost), among sequences after the previous call's and up to this one's. */
  dropped: number;
}

/** A writer's lifetime totals (self-metrics turn them into per-run deltas). */
export interface WriterStats {
  /** Lines handed to the socket or stream (a replay after a reconnect does not count them again). */
  sent: number;
  /**
   * Lines that will never be delivered: dropped oldest first when the queue was full, or still queued at close()
   * (those also count in `lost`). A writer with acknowledgements counts the lines Graphite refused here too.
   */
  dropped: number;
  /** Of `dropped`, the lines never handed to Graphite because the writer closed (or its output broke) with them queued. */
  lost: number;
  /** Lines waiting in the queue now. */
  queued: number;
  /** Connections re-established after a lost one (the first connection does not count). */
  reconnects: number;
  /** HTTP(S) only: lines whose batch got a 2xx (what "delivered" means there). */
  acked?: number;
  /** HTTP(S) only: of `dropped`, lines the endpoint refused for good (a 4xx other than 429, or counted invalid). */
  rejected?: number;
}

export interface GraphiteWriterOptions {
  /** GRAPHITE_URL: `tcp://host:port`, `tls://host:port`, `udp://host:port`, an `http(s)://` ingestion URL, or unset / `-` for stdout. */
  url?: string;
  /** `tls://` and `https://`: a private CA, client certificate and key (PEM text, read from GRAPHITE_TLS_*). */
  tls?: TlsOptions;
  /** HTTP(S): the Authorization header's credentials (GRAPHITE_USER/GRAPHITE_TOKEN or GRAPHITE_AUTH). */
  http?: HttpCredentials;
  /** HTTP(S): the job's interval in seconds, sent with every point (Grafana's `interval`). Default 60. */
  intervalSeconds?: number;
  /** HTTP(S): a batch holds at most this many points. Default 5000. */
  batchPoints?: number;
  /** HTTP(S): a batch's JSON body is at most this many bytes (a single larger point goes alone). Default 1 MiB. */
  batchBytes?: number;
  /** HTTP(S): batches awaiting an answer at once. Default 4. */
  maxInFlight?: number;
  /** HTTP(S): a request without a complete answer after this long is abandoned and retried. Default 30000. */
  requestTimeoutMs?: number;
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

/**
 * A Graphite writer: a queue in front of a transport. "Delivered" is what the transport can know: for plaintext
 * (TCP, UDP, a stream) a line handed to the socket; a transport with acknowledgements (an HTTP ingestion endpoint)
 * says delivered only once Graphite acknowledged the line's batch. Watermarks and backfill progress follow
 * `whenDelivered` (lib/state/delivery-ledger.ts), so they never run ahead of what Graphite has.
 * One writer may serve several jobs of a process: sequences and figures are the writer's, not a job's.
 */
export interface GraphiteWriter {
  /**
   * Enqueues one line (ending with '\n'). Synchronous and cheap; never throws. At queueLimit, drops the oldest queued line
   * (unless overflow is 'grow').
   */
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
   * Resolves once every line with a sequence up to `sequence` is delivered or will never be (dropped); for
   * plaintext, once each has left the queue. `dropped` counts the drops among sequences after the previous call's
   * (whoever made it) and up to this one's. Calls settle in call order; a sequence below an earlier call's settles
   * with that call.
   */
  whenDelivered(sequence: number): Promise<Delivery>;
  /** Waits until the queue is empty and the socket has drained, or the timeout; true if everything was handed off. */
  flush(timeoutMs: number): Promise<boolean>;
  /** Stops reconnecting and ends the socket, dropping (and counting) what is still queued: call flush first. */
  close(): Promise<void>;
  stats(): WriterStats;
}

/** How an HTTP(S) writer authenticates (never logged). */
export interface HttpCredentials {
  /** GRAPHITE_USER: with a token, sent as Basic base64(user:token). */
  user?: string;
  /** GRAPHITE_TOKEN: alone, sent as `Bearer <token>`. */
  token?: string;
  /** GRAPHITE_AUTH: `<user>:<token>` in one secret, sent as `Bearer <user>:<token>` (Grafana Cloud's form). */
  auth?: string;
}

/** TLS for `tls://`: verified against the system store (or `ca`), never falling back to plaintext. */
export interface TlsOptions {
  /** PEM of a private CA (GRAPHITE_TLS_CA) that replaces the system store. */
  ca?: string;
  /** PEM client certificate and key (GRAPHITE_TLS_CERT, GRAPHITE_TLS_KEY). */
  cert?: string;
  key?: string;
}
