// Graphite over UDP: whole lines packed into datagrams of about 1400 bytes; no acknowledgement, no replay.
import { createSocket, type Socket } from 'node:dgram';
import { isIP } from 'node:net';
import { performance } from 'node:perf_hooks';
import { backoffDelay } from '../poller-kit/backoff.ts';
import type { Logger } from '../poller-kit/logger.ts';
import type { QueueOptions } from './line-queue.ts';
import { QueuedWriter } from './queued-writer.ts';

export interface UdpWriterOptions {
  host: string;
  port: number;
  queueLimit: number;
  /** readyLines and overflow of the queue (see QueueOptions). */
  queue?: QueueOptions;
  log: Logger;
  datagramBytes: number;
  backoffMinMs: number;
  backoffMaxMs: number;
  random: () => number;
}

// Datagrams handed to the kernel but not yet confirmed by their send callback; more would only be dropped
// by a full socket buffer.
const MAX_IN_FLIGHT = 64;
const SEND_ERROR_LOG_MS = 60_000;

/**
 * The socket is `connect`ed once (a single DNS lookup; ICMP errors reach us); a failed lookup is retried
 * with backoff. Send errors are logged at most once a minute: UDP loses datagrams silently anyway.
 */
export class UdpGraphiteWriter extends QueuedWriter {
  private readonly target: string;
  private socket: Socket | undefined;
  private connected = false;
  private inFlight = 0;
  private pumpScheduled = false;
  private attempt = 0;
  private sendErrors = 0;
  private lastErrorLog = -Infinity;
  private retryTimer: NodeJS.Timeout | undefined;
  private closing: Promise<void> | undefined;
  private connectWaiters: Array<(connected: boolean) => void> = [];

  private readonly options: UdpWriterOptions;

  constructor(options: UdpWriterOptions) {
    super(options.queueLimit, options.log, options.queue);
    this.options = options;
    this.target = `udp://${options.host.includes(':') ? `[${options.host}]` : options.host}:${options.port}`;
    this.open();
  }

  /** True once the socket is set up, false when this attempt failed (retried with backoff) or the writer closed. */
  override connect(): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    if (this.connected) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => this.connectWaiters.push(resolve));
  }

  private answerConnect(connected: boolean): void {
    for (const resolve of this.connectWaiters.splice(0)) resolve(connected);
  }

  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.answerConnect(false);
    this.closed = true;
    this.idle = true;
    clearTimeout(this.retryTimer);
    this.dropQueuedOnClose();
    this.settleFlushes(true);
    const socket = this.socket;
    this.socket = undefined;
    this.closing = new Promise<void>((resolve) => (socket ? socket.close(() => resolve()) : resolve()));
    return this.closing;
  }

  protected isFlushed(): boolean {
    return this.queue.length === 0 && this.inFlight === 0;
  }

  protected wake(): void {
    this.idle = false;
    if (this.closed) {
      this.queue.lose();
      this.idle = true;
    } else if (this.connected && !this.pumpScheduled) {
      this.pumpScheduled = true;
      setImmediate(this.pump);
    }
  }

  protected override onWait(): void {
    this.retryTimer?.ref();
  }

  private open = (): void => {
    this.retryTimer = undefined;
    if (this.closed) return;
    const socket = createSocket(isIP(this.options.host) === 6 ? 'udp6' : 'udp4');
    this.socket = socket;
    socket.on('error', (error) => this.onFailure(socket, error));
    // A failed lookup comes to this callback, not to 'error'.
    socket.connect(this.options.port, this.options.host, (error?: Error) => {
      if (error) return this.onFailure(socket, error);
      if (socket !== this.socket) return;
      this.connected = true;
      this.attempt = 0;
      this.options.log.info('sending to graphite', { target: this.target });
      this.answerConnect(true);
      this.pump();
    });
  };

  private onFailure(socket: Socket, error: Error): void {
    if (socket !== this.socket || this.closed) return;
    if (this.connected) return this.reportSendError(error);
    this.socket = undefined;
    socket.close();
    const delay = backoffDelay(this.attempt++, this.options.backoffMinMs, this.options.backoffMaxMs, this.options.random);
    const fields = { target: this.target, error, retry_in_ms: delay };
    if (this.attempt === 1) this.options.log.warn('cannot set up graphite udp socket, retrying with backoff', fields);
    else this.options.log.debug('graphite udp socket set-up failed again', fields);
    this.retryTimer = setTimeout(this.open, delay);
    if (!this.awaited) this.retryTimer.unref();
    this.answerConnect(false);
  }

  // Without a listener, every datagram may come back as ECONNREFUSED: one warning a minute, with a count.
  private reportSendError(error: Error): void {
    this.sendErrors++;
    const now = performance.now();
    if (now - this.lastErrorLog < SEND_ERROR_LOG_MS) return;
    this.options.log.warn('graphite udp sends failing', { target: this.target, error, failed_sends: this.sendErrors });
    this.lastErrorLog = now;
    this.sendErrors = 0;
  }

  private pump = (): void => {
    this.pumpScheduled = false;
    const socket = this.socket;
    if (!this.connected || socket === undefined) return;
    const queue = this.queue;
    while (queue.length > 0 && this.inFlight < MAX_IN_FLIGHT) {
      this.inFlight++;
      socket.send(this.takeDatagram(), this.afterSend);
    }
    if (queue.length === 0) {
      this.idle = true;
      this.settleFlushes();
    }
  };

  private afterSend = (error: Error | null): void => {
    this.inFlight--;
    if (error) this.reportSendError(error);
    if (this.inFlight < MAX_IN_FLIGHT / 2) this.pump();
    else this.settleFlushes();
  };

  /** Whole lines up to `datagramBytes` (a longer line goes alone: carbon would reject a cut one). */
  private takeDatagram(): string {
    let bytes = 0;
    let count = 0;
    const limit = this.options.datagramBytes;
    for (let line = this.queue.lineAt(0); line !== undefined; line = this.queue.lineAt(count)) {
      const size = Buffer.byteLength(line);
      if (count > 0 && bytes + size > limit) break;
      bytes += size;
      count++;
    }
    return this.queue.takeLines(count);
  }
}
