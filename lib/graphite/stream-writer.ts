// Graphite lines to a writable stream (stdout when GRAPHITE_URL is unset or '-'), in big chunks, honouring backpressure.
import type { Logger } from '../poller-kit/logger.ts';
import type { QueueOptions } from './line-queue.ts';
import { QueuedWriter } from './queued-writer.ts';

export interface StreamWriterOptions {
  stream: NodeJS.WritableStream;
  queueLimit: number;
  /** readyLines and overflow of the queue (see QueueOptions). */
  queue?: QueueOptions;
  log: Logger;
  chunkChars: number;
}

/**
 * The stream is not ours: close() stops writing but never ends it (ending process.stdout would be rude).
 * A stream that fails (EPIPE when the reader went away) drops every line from then on, counted.
 */
export class StreamGraphiteWriter extends QueuedWriter {
  private readonly stream: NodeJS.WritableStream;
  private blocked = false;
  private broken = false;
  private pumpScheduled = false;

  private readonly options: StreamWriterOptions;

  constructor(options: StreamWriterOptions) {
    super(options.queueLimit, options.log, options.queue);
    this.options = options;
    this.stream = options.stream;
    this.stream.on('drain', this.onDrain);
    this.stream.on('error', this.onError);
    this.idle = true;
  }

  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.idle = true;
      this.dropQueuedOnClose();
      this.settleFlushes(true);
      this.stream.off('drain', this.onDrain);
      // Keep a listener: a late EPIPE must not become an uncaught exception.
      this.stream.off('error', this.onError);
      this.stream.on('error', ignore);
    }
    return Promise.resolve();
  }

  protected isFlushed(): boolean {
    return this.queue.length === 0 && (this.broken || writableLength(this.stream) === 0);
  }

  protected wake(): void {
    this.idle = false;
    if (this.closed || this.broken) {
      this.queue.lose();
      this.idle = true;
    } else if (!this.blocked && !this.pumpScheduled) {
      this.pumpScheduled = true;
      setImmediate(this.pump);
    }
  }

  private pump = (): void => {
    this.pumpScheduled = false;
    if (this.blocked || this.closed || this.broken) return;
    const queue = this.queue;
    while (queue.length > 0) {
      if (!this.stream.write(queue.take(this.options.chunkChars), this.afterWrite)) {
        this.blocked = true;
        return;
      }
    }
    this.idle = true;
    this.settleFlushes();
  };

  private onDrain = (): void => {
    this.blocked = false;
    this.pump();
  };

  private afterWrite = (error?: Error | null): void => {
    if (!error) this.settleFlushes();
  };

  private onError = (error: Error): void => {
    if (this.broken) return;
    this.broken = true;
    this.options.log.error('cannot write graphite lines to the output stream; dropping them from now on', { error });
    this.queue.lose();
    this.idle = true;
    this.settleFlushes(true);
  };
}

function writableLength(stream: NodeJS.WritableStream): number {
  return (stream as { writableLength?: number }).writableLength ?? 0;
}

function ignore(): void {}
