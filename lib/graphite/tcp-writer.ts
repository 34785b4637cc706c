// Graphite over TCP (or TLS): batched writes with backpressure, reconnects with backoff, replay of the recent tail, stall detection.
import { connect, isIP, type Socket, type TcpSocketConnectOpts } from 'node:net';
import { connect as connectTls } from 'node:tls';
import { performance } from 'node:perf_hooks';
import { backoffDelay } from '../poller-kit/backoff.ts';
import type { Logger } from '../poller-kit/logger.ts';
import type { QueueOptions } from './line-queue.ts';
import { QueuedWriter } from './queued-writer.ts';
import { ReplayBuffer, type ReplayChunk } from './replay-buffer.ts';
import type { TlsOptions } from './writer-types.ts';

export interface TcpWriterOptions {
  host: string;
  port: number;
  /** Set for `tls://`: the same writer over a TLS connection. */
  tls?: TlsOptions;
  queueLimit: number;
  /** readyLines and overflow of the queue (see QueueOptions). */
  queue?: QueueOptions;
  log: Logger;
  /** Chunk size in UTF-16 units (bytes for ASCII lines). */
  chunkChars: number;
  replaySeconds: number;
  replayLines: number;
  /** The replay always keeps at least this many of the newest characters handed to the socket, whatever their age. */
  replayChars: number;
  /**
   * When the replay has held chunks this long (ms by `now`), the writer asks the peer to prove it read them: it
   * ends the connection and waits for the peer's own end (stallTimeoutMs at most), then drops the chunks older
   * than half this from the replay and connects again. 0: never (the floor keeps its newest `replayChars` however old).
   */
  replayProofMs: number;
  connectTimeoutMs: number;
  stallTimeoutMs: number;
  backoffMinMs: number;
  backoffMaxMs: number;
  closeTimeoutMs: number;
  /** The socket's own buffer above which `socket.write` returns false. */
  socketHighWaterMark: number;
  random: () => number;
  /** Epoch ms for replay ages (a fake clock in tests). */
  now: () => number;
}

/**
 * One connection at a time. Lines are handed to the socket in chunks while `socket.write` accepts them;
 * after `false` the writer waits for 'drain' (and reconnects if none comes within the stall timeout).
 * A lost connection (end, close, error, stall) is retried with exponential backoff and full jitter; the
 * chunks handed to the old socket in the last `replaySeconds` are re-sent first on the new one.
 */
export class TcpGraphiteWriter extends QueuedWriter {
  private readonly target: string;
  private readonly replay: ReplayBuffer;
  private socket: Socket | undefined;
  private connected = false;
  private everConnected = false;
  private blocked = false;
  private blockedSince = 0;
  private pumpScheduled = false;
  private replaying: ReplayChunk[] = [];
  private replayIndex = 0;
  private attempt = 0;
  private failures = 0;
  private outageLogged = false;
  private connectedAt = 0;
  private lostAt = 0;
  private lastError: Error | undefined;
  private connectTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private stallTimer: NodeJS.Timeout | undefined;
  private closing: Promise<void> | undefined;
  private readonly eagerLines: number;
  private connectWaiters: Array<(connected: boolean) => void> = [];
  /** A connection we ended to learn whether the peer read everything (see replayProofMs), and whether it did. */
  private proving: Socket | undefined;
  private proven = false;
  private proofTimer: NodeJS.Timeout | undefined;

  private readonly options: TcpWriterOptions;

  constructor(options: TcpWriterOptions) {
    super(options.queueLimit, options.log, options.queue);
    this.options = options;
    // About four chunks of typical (~60 byte) lines; at most half the queue, or a synchronous burst larger
    // than a small queue would drop lines a connected socket could have taken.
    this.eagerLines = Math.max(1, Math.min(Math.max(256, Math.ceil(options.chunkChars / 16)), Math.floor(options.queueLimit / 2)));
    this.target = `${options.tls ? 'tls' : 'tcp'}://${options.host.includes(':') ? `[${options.host}]` : options.host}:${options.port}`;
    this.replay = new ReplayBuffer(options.replaySeconds * 1000, options.replayLines, options.replayChars);
    // The first line opens the connection (see wake): a job stopped by its configuration before it wrote
    // anything never connects to Graphite.
    this.idle = true;
  }

  /**
   * Opens the connection now rather than at the first line (`--once` connects before it fetches): true once
   * connected, false when this attempt failed (the writer goes on retrying with backoff) or the writer closed.
   */
  override connect(): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    if (this.connected) return Promise.resolve(true);
    const answer = new Promise<boolean>((resolve) => this.connectWaiters.push(resolve));
    if (this.socket === undefined) {
      clearTimeout(this.reconnectTimer);
      this.idle = false;
      this.open();
    }
    return answer;
  }

  private answerConnect(connected: boolean): void {
    for (const resolve of this.connectWaiters.splice(0)) resolve(connected);
  }

  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.answerConnect(false);
    this.closed = true;
    this.idle = true;
    this.eagerLength = Infinity;
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.stallTimer);
    this.reconnectTimer = this.stallTimer = undefined;
    this.dropQueuedOnClose();
    this.settleFlushes(true);
    const socket = this.socket;
    this.closing = new Promise<void>((resolve) => {
      if (!socket || socket.destroyed) return resolve();
      // A peer that never answers our FIN (or never reads what is buffered) must not keep close() waiting.
      const timer = setTimeout(() => socket.destroy(), this.options.closeTimeoutMs);
      socket.once('close', () => {
        clearTimeout(timer);
        clearTimeout(this.connectTimer);
        resolve();
      });
      // A proof under way has ended our side already: its answer (or the timer) closes the socket.
      if (this.connected) socket.end();
      else if (this.proving !== socket) socket.destroy();
    });
    return this.closing;
  }

  protected isFlushed(): boolean {
    if (this.queue.length > 0) return false;
    if (!this.connected) return this.replay.lines === 0 && this.replaying.length === 0;
    return this.replayIndex >= this.replaying.length && this.socket!.writableLength === 0;
  }

  protected wake(): void {
    this.idle = false;
    if (this.queue.length >= this.eagerLength) {
      this.pump();
    } else if (this.closed) {
      this.queue.lose();
      this.idle = true;
    } else if (this.socket === undefined && this.reconnectTimer === undefined) {
      this.open();
    } else if (this.connected && !this.blocked && !this.pumpScheduled) {
      this.pumpScheduled = true;
      setImmediate(this.pump);
    }
  }

  protected override onWait(): void {
    this.reconnectTimer?.ref();
  }

  // A shutdown flush has seconds at most: try now rather than at the end of a backoff of up to 30 s.
  protected override hurry(): void {
    if (this.reconnectTimer === undefined || this.closed) return;
    clearTimeout(this.reconnectTimer);
    this.open();
  }

  private open = (): void => {
    this.reconnectTimer = undefined;
    if (this.closed) return;
    this.lastError = undefined;
    // Honoured by net.Socket (a Duplex option) though @types/node does not list it.
    const connectOptions: TcpSocketConnectOpts & { writableHighWaterMark: number } = {
      host: this.options.host,
      port: this.options.port,
      writableHighWaterMark: this.options.socketHighWaterMark,
    };
    const tls = this.options.tls;
    const socket = tls
      ? connectTls({
          ...connectOptions,
          ...tls,
          // SNI from the host name (an IP address is not allowed as a server name).
          ...(isIP(this.options.host) ? {} : { servername: this.options.host }),
          rejectUnauthorized: true,
        })
      : connect(connectOptions);
    this.socket = socket;
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 30_000);
    this.connectTimer = setTimeout(
      () => socket.destroy(new Error(`no connection within ${this.options.connectTimeoutMs} ms`)),
      this.options.connectTimeoutMs,
    ).unref();
    // Over TLS, nothing is written before the handshake verified the certificate.
    socket.once(tls ? 'secureConnect' : 'connect', () => this.onConnect(socket));
    socket.on('drain', () => {
      if (socket !== this.socket) return;
      this.blocked = false;
      this.pump();
    });
    // Carbon never sends anything: data is ignored, and the end of its side means it is going away.
    socket.on('data', ignore);
    socket.on('end', () => {
      if (socket !== this.socket) return;
      // The peer ended its side after ours: it read everything we sent (a peer closing with unread data resets).
      if (socket === this.proving && this.lastError === undefined) this.proven = true;
      this.lastError ??= new Error('graphite closed the connection');
      socket.destroy();
    });
    socket.on('error', (error) => {
      if (socket === this.socket) this.lastError ??= error;
    });
    socket.on('close', () => this.onClose(socket));
  };

  private onConnect(socket: Socket): void {
    if (socket !== this.socket) return;
    clearTimeout(this.connectTimer);
    this.connected = true;
    this.blocked = false;
    this.connectedAt = performance.now();
    // After a proof the replay holds only what carbon read in the last minutes: kept, not sent again.
    this.replaying = this.proven ? [] : this.replay.takeAll();
    this.replayIndex = 0;
    const replayLines = this.replaying.reduce((sum, chunk) => sum + chunk.lines, 0);
    if (this.proven) {
      this.proven = false;
      this.options.log.debug('connected to graphite again after it proved it read the replay', { target: this.target });
    } else if (this.everConnected) {
      this.reconnects++;
      this.options.log.info('reconnected to graphite', {
        target: this.target,
        down_ms: Math.round(performance.now() - this.lostAt),
        attempts: this.failures + 1,
        replaying_lines: replayLines,
        queued: this.queue.length,
      });
    } else {
      this.options.log.info('connected to graphite', { target: this.target, attempts: this.failures + 1, queued: this.queue.length });
    }
    this.everConnected = true;
    this.failures = 0;
    this.outageLogged = false;
    this.answerConnect(true);
    this.pump();
  }

  private onClose(socket: Socket): void {
    if (socket !== this.socket) return;
    clearTimeout(this.connectTimer);
    this.socket = undefined;
    const wasConnected = this.connected || socket === this.proving;
    this.connected = false;
    if (socket === this.proving) {
      clearTimeout(this.proofTimer);
      this.proving = this.proofTimer = undefined;
      if (this.proven && !this.closed) {
        // Everything handed to that connection was read. The last minutes stay in the replay all the same: carbon
        // keeps what it read in its cache a while before whisper has it, and a carbon killed then loses it.
        // Lines written meanwhile are queued; the next connection takes them at once.
        this.replay.dropOlderThan(this.options.now() - this.options.replayProofMs / 2);
        this.eagerLength = Infinity;
        this.open();
        return;
      }
      this.proven = false;
    }
    this.eagerLength = Infinity;
    this.blocked = false;
    if (this.closed) return;
    this.idle = false;
    const reason = this.lastError?.message ?? 'connection closed';
    if (wasConnected) {
      // Chunks the lost connection never got to replay stay first in line for the next one.
      if (this.replayIndex < this.replaying.length) this.replay.restore(this.replaying.slice(this.replayIndex), this.options.now());
      this.replaying = [];
      this.replayIndex = 0;
      this.lostAt = performance.now();
      // A connection that held up longer than the longest delay was healthy: start the backoff afresh.
      if (this.lostAt - this.connectedAt >= this.options.backoffMaxMs) this.attempt = 0;
    } else {
      this.failures++;
    }
    let delay = backoffDelay(this.attempt++, this.options.backoffMinMs, this.options.backoffMaxMs, this.options.random);
    // While a flush waits, keep retrying at a short interval.
    if (this.flushing) delay = Math.min(delay, FLUSH_RETRY_MS);
    const fields = { target: this.target, error: reason, retry_in_ms: delay, queued: this.queue.length, replay_lines: this.replay.lines };
    // One warning per outage; the attempts that follow are debug lines.
    if (wasConnected) this.options.log.warn('graphite connection lost', fields);
    else if (!this.outageLogged && isCertificateError(this.lastError)) {
      // Never a plaintext fallback: the lines wait in the queue until a certificate verifies.
      this.options.log.error('graphite TLS certificate failed verification (check GRAPHITE_TLS_CA and the host name); retrying', fields);
    } else if (!this.outageLogged) this.options.log.warn('cannot connect to graphite, retrying with backoff', fields);
    else this.options.log.debug('graphite connect attempt failed', { ...fields, attempts: this.failures });
    this.outageLogged = true;
    this.reconnectTimer = setTimeout(this.open, delay);
    // Keep the process alive for a reconnect only while someone awaits delivery.
    if (!this.awaited) this.reconnectTimer.unref();
    this.answerConnect(false);
    this.settleFlushes();
  }

  private pump = (): void => {
    this.pumpScheduled = false;
    const socket = this.socket;
    if (!this.connected || this.blocked || socket === undefined) return;
    const now = this.options.now();
    while (this.replayIndex < this.replaying.length) {
      const chunk = this.replaying[this.replayIndex++]!;
      this.replay.add(chunk.text, chunk.lines, now);
      if (!socket.write(chunk.text, this.afterWrite)) return this.block();
    }
    if (this.replaying.length > 0) {
      this.replaying = [];
      this.replayIndex = 0;
    }
    const queue = this.queue;
    const chunkChars = this.options.chunkChars;
    while (queue.length > 0) {
      const text = queue.take(chunkChars);
      this.replay.add(text, queue.lastTakenLines, now);
      if (!socket.write(text, this.afterWrite)) return this.block();
    }
    // A producer writing in a long synchronous run gets its lines sent every few chunks, while they are
    // young: deep queues of old strings cost more in garbage collection than the writes themselves.
    this.eagerLength = this.eagerLines;
    this.idle = true;
    this.settleFlushes();
    this.proveIfOld(socket, now);
  };

  /**
   * A peer that stops reading holds what it was sent unread in kernel buffers (megabytes), and a job writing a few
   * lines a second never fills them: no write ever stalls. So the replay keeps its floor however old, until the
   * peer proves it read it: ending the connection and getting the peer's end back (carbon reads to the end of the
   * stream, then closes; a peer closing with unread data resets instead) does. A hung peer never answers: after
   * stallTimeoutMs the connection is destroyed and the replay is sent again on the next, as after any loss.
   * A job busy enough to fill the floor within replayProofMs never needs a proof: its replay is bounded by bytes.
   */
  private proveIfOld(socket: Socket, now: number): void {
    const oldest = this.replay.oldestTime();
    if (this.options.replayProofMs <= 0 || oldest === undefined || now - oldest < this.options.replayProofMs) return;
    if (this.closed || this.flushing) return;
    this.connected = false;
    this.proving = socket;
    this.proofTimer = setTimeout(() => {
      if (this.proving !== socket) return;
      this.lastError ??= new Error(`graphite did not end the connection within ${this.options.stallTimeoutMs} ms after we did`);
      socket.destroy();
    }, this.options.stallTimeoutMs).unref();
    socket.end();
  }

  private afterWrite = (error?: Error | null): void => {
    if (!error) this.settleFlushes();
  };

  private block(): void {
    this.eagerLength = Infinity;
    this.blocked = true;
    this.blockedSince = performance.now();
    if (this.stallTimer === undefined) this.stallTimer = setTimeout(this.checkStall, this.options.stallTimeoutMs).unref();
  }

  // One timer per stall period rather than one per chunk: it re-arms itself for the current block.
  private checkStall = (): void => {
    this.stallTimer = undefined;
    const socket = this.socket;
    if (!this.blocked || !this.connected || socket === undefined) return;
    const stalled = performance.now() - this.blockedSince;
    if (stalled < this.options.stallTimeoutMs) {
      this.stallTimer = setTimeout(this.checkStall, this.options.stallTimeoutMs - stalled).unref();
      return;
    }
    this.lastError = new Error(`write stalled: no drain for ${Math.round(stalled)} ms (${socket.writableLength} bytes unsent)`);
    socket.destroy();
  };
}

const FLUSH_RETRY_MS = 250;

/** An error of the TLS handshake's certificate checks (Node's codes for an untrusted, expired or misnamed certificate). */
function isCertificateError(error: Error | undefined): boolean {
  const code = (error as { code?: string } | undefined)?.code ?? '';
  return /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|ALTNAME|ISSUER|CHAIN/.test(code);
}

function ignore(): void {}
