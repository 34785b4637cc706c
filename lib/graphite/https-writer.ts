// Graphite over HTTP(S) in Grafana Cloud's JSON ingestion format: batches, a few in flight, delivery = a 2xx answer.
import { request as httpRequest, Agent as HttpAgent, type IncomingMessage } from 'node:http';
import { request as httpsRequest, Agent as HttpsAgent } from 'node:https';
import { backoffDelay } from '../poller-kit/backoff.ts';
import type { Logger } from '../poller-kit/logger.ts';
import type { QueueOptions } from './line-queue.ts';
import { QueuedWriter } from './queued-writer.ts';
import { maskUrlSecrets } from './url.ts';
import type { Delivery, HttpCredentials, TlsOptions, WriterStats } from './writer-types.ts';

export interface HttpsWriterOptions {
  url: string;
  queueLimit: number;
  queue?: QueueOptions;
  log: Logger;
  credentials?: HttpCredentials;
  tls?: TlsOptions;
  intervalSeconds: number;
  batchPoints: number;
  batchBytes: number;
  maxInFlight: number;
  requestTimeoutMs: number;
  backoffMinMs: number;
  backoffMaxMs: number;
  random: () => number;
}

/** Points of one request: their JSON objects and the writer's sequence of each (0 for a reserved line). */
interface Batch {
  items: string[];
  sequences: number[];
  bytes: number;
}

// The answer body kept for messages and for Grafana's `{"invalid":N,...}` count.
const MAX_ANSWER_CHARS = 64 * 1024;
// Whatever a Retry-After says, wait at most this long before trying again.
const MAX_RETRY_AFTER_MS = 10 * 60_000;
const FLUSH_RETRY_MS = 250;

/**
 * Lines leave the queue into batches of at most `batchPoints` points and `batchBytes` bytes, `maxInFlight` at a
 * time. A batch counts as delivered only when its answer is a 2xx: until then it stays outstanding, and
 * whenDelivered, flush and stats follow those acknowledgements (so the watermark and backfill progress do).
 * 429, 5xx, 408, timeouts and cut connections are retried with backoff and jitter (at least Retry-After); 401/403
 * too (credentials can be fixed without losing the queue), logged once per distinct answer. A 400 or 413 is split
 * in halves until the refused point is alone, which is then rejected; any other 4xx rejects the batch. Rejections
 * are logged once per distinct answer with the endpoint's message and counted in `rejected` and `dropped`.
 */
export class HttpsGraphiteWriter extends QueuedWriter {
  private readonly target: string;
  private readonly agent: HttpAgent;
  private readonly authorization: string | undefined;
  private readonly send: typeof httpRequest;
  private inFlight = new Set<Batch>();
  private readonly aborts = new Map<Batch, () => void>();
  /** Batches to send again before new ones, oldest first. */
  private retrying: Batch[] = [];
  private batchPoints: number;
  private pumpScheduled = false;
  private attempt = 0;
  private pausedUntil = 0;
  private pauseFromServer = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private acked = 0;
  private rejected = 0;
  private lostInFlight = 0;
  /** Requests that failed and were sent again. */
  retries = 0;
  private readonly logged = new Set<string>();
  // whenDelivered after the queue's part: waiters for acknowledgement, and the sequences never delivered.
  private ackWaiters: Array<{ at: number; resolve: () => void }> = [];
  private undelivered: number[] = [];
  private lastAsked = 0;

  private readonly options: HttpsWriterOptions;

  constructor(options: HttpsWriterOptions) {
    super(options.queueLimit, options.log, options.queue);
    this.options = options;
    const url = new URL(options.url);
    this.target = url.href;
    const secure = url.protocol === 'https:';
    this.send = secure ? httpsRequest : httpRequest;
    const agentOptions = { keepAlive: true, maxSockets: options.maxInFlight };
    this.agent = secure ? new HttpsAgent({ ...agentOptions, ...options.tls }) : new HttpAgent(agentOptions);
    this.authorization = authorizationHeader(options.credentials);
    this.batchPoints = options.batchPoints;
    this.idle = true;
  }

  override whenDelivered(sequence: number): Promise<Delivery> {
    const at = Math.max(sequence, this.lastAsked);
    this.lastAsked = at;
    return super.whenDelivered(sequence).then(
      (handOff) =>
        new Promise<Delivery>((resolve) => {
          const done = () => resolve({ dropped: handOff.dropped + this.takeUndelivered(at) });
          if (this.closed || this.ackedThrough() >= at) return done();
          this.ackWaiters.push({ at, resolve: done });
          this.onWait();
        }),
    );
  }

  override stats(): WriterStats & { retries: number } {
    const stats = super.stats();
    return {
      ...stats,
      dropped: stats.dropped + this.rejected + this.lostInFlight,
      lost: stats.lost + this.lostInFlight,
      acked: this.acked,
      rejected: this.rejected,
      retries: this.retries,
    };
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    this.idle = true;
    clearTimeout(this.retryTimer);
    this.dropQueuedOnClose();
    const outstanding = [...this.inFlight, ...this.retrying];
    this.inFlight.clear();
    this.retrying = [];
    const lines = outstanding.reduce((sum, batch) => sum + batch.items.length, 0);
    if (lines > 0) {
      this.log.warn('graphite writer closed with batches not acknowledged; they count as lost', { lines, target: this.target });
      this.lostInFlight += lines;
      for (const batch of outstanding) this.markUndelivered(batch);
    }
    for (const abort of this.aborts.values()) abort();
    this.aborts.clear();
    this.agent.destroy();
    this.settleAcks();
    this.settleFlushes(true);
    return Promise.resolve();
  }

  protected isFlushed(): boolean {
    return this.queue.length === 0 && this.inFlight.size === 0 && this.retrying.length === 0;
  }

  protected wake(): void {
    this.idle = false;
    if (this.closed) {
      this.queue.lose();
      this.idle = true;
      return;
    }
    this.schedulePump();
  }

  protected override onWait(): void {
    this.retryTimer?.ref();
  }

  // A shutdown flush has seconds at most: a backoff of our own is cut short, a server's Retry-After is not.
  protected override hurry(): void {
    if (this.retryTimer === undefined || this.pauseFromServer) return;
    this.pausedUntil = Math.min(this.pausedUntil, Date.now() + FLUSH_RETRY_MS);
    this.armRetry();
  }

  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    setImmediate(this.pump);
  }

  private pump = (): void => {
    this.pumpScheduled = false;
    if (this.closed) return;
    if (Date.now() < this.pausedUntil) return this.armRetry();
    while (this.inFlight.size < this.options.maxInFlight) {
      const batch = this.retrying.shift() ?? this.takeBatch();
      if (!batch) break;
      this.post(batch);
    }
    if (this.queue.length === 0 && this.retrying.length === 0) this.idle = true;
    this.settleFlushes();
  };

  /** The oldest queued lines that fit one batch, out of the queue (they stay outstanding until acknowledged). */
  private takeBatch(): Batch | undefined {
    const queue = this.queue;
    if (queue.length === 0) return undefined;
    const reserved = queue.reservedCount;
    const headSequence = queue.sequence - queue.count + 1;
    const items: string[] = [];
    const sequences: number[] = [];
    let bytes = 1;
    let count = 0;
    while (count < queue.length && count < this.batchPoints) {
      const line = queue.lineAt(count)!;
      const item = jsonPoint(line, this.options.intervalSeconds);
      const size = Buffer.byteLength(item) + 1;
      if (count > 0 && bytes + size > this.options.batchBytes) break;
      count++;
      const sequence = count <= reserved ? 0 : headSequence + count - 1 - reserved;
      if (item === '') {
        this.reject([sequence], `not a plaintext line: ${JSON.stringify(line.slice(0, 200))}`, 'a line the writer cannot parse');
        continue;
      }
      items.push(item);
      sequences.push(sequence);
      bytes += size;
    }
    queue.takeLines(count);
    return items.length > 0 ? { items, sequences, bytes } : this.takeBatch();
  }

  private post(batch: Batch): void {
    this.inFlight.add(batch);
    const body = '[' + batch.items.join(',') + ']';
    const headers: Record<string, string | number> = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) };
    if (this.authorization) headers.authorization = this.authorization;
    let settled = false;
    const finish = (status: number | undefined, answer: string, error?: Error, retryAfter?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      this.aborts.delete(batch);
      if (!this.inFlight.delete(batch)) return; // closed meanwhile: already counted as lost
      this.answered(batch, status, answer, error, retryAfter);
    };
    const request = this.send(this.target, { method: 'POST', agent: this.agent, headers }, (response: IncomingMessage) => {
      let answer = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        if (answer.length < MAX_ANSWER_CHARS) answer += chunk.slice(0, MAX_ANSWER_CHARS - answer.length);
      });
      // A connection cut mid-answer is no answer: the batch is sent again.
      response.on('error', (error) => finish(undefined, '', error));
      response.on('aborted', () => finish(undefined, '', new Error('the connection was cut during the answer')));
      response.on('end', () => {
        if (!response.complete) return finish(undefined, '', new Error('the connection was cut during the answer'));
        finish(response.statusCode, answer, undefined, header(response.headers['retry-after']));
      });
    });
    const timeoutMs = this.options.requestTimeoutMs;
    const timer = setTimeout(() => request.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    this.aborts.set(batch, () => request.destroy(new Error('the writer closed')));
    request.on('error', (error) => finish(undefined, '', error));
    request.end(body);
  }

  private answered(
    batch: Batch,
    status: number | undefined,
    answer: string,
    error: Error | undefined,
    retryAfter: string | undefined,
  ): void {
    const message = error ? error.message : answerMessage(answer);
    if (status !== undefined && status >= 200 && status < 300) {
      this.attempt = 0;
      this.pauseFromServer = false;
      // Grafana answers `{"invalid":N,"published":M,...}`: invalid points were refused although the batch was taken.
      const invalid = Math.min(batch.items.length, invalidCount(answer));
      this.acked += batch.items.length - invalid;
      if (invalid > 0) this.reject(batch.sequences.slice(-invalid), message, `${status} with invalid points`);
    } else if (status === 400 || status === 413 || status === 422) {
      if (batch.items.length > 1) {
        // Halves go first in line; a 413 also makes later batches smaller.
        if (status === 413) this.batchPoints = Math.max(1, Math.floor(Math.min(this.batchPoints, batch.items.length) / 2));
        const fields = { status, error: message, points: batch.items.length };
        this.once(`split ${status}`, 'warn', 'graphite refused a batch; sending it again in halves', fields);
        this.retrying.unshift(...split(batch));
      } else {
        this.reject(batch.sequences, message, String(status));
      }
    } else if (status !== undefined && status >= 400 && status < 500 && ![401, 403, 408, 429].includes(status)) {
      this.reject(batch.sequences, message, String(status));
    } else {
      this.retry(batch, status, message, retryAfter);
    }
    this.settleAcks();
    this.schedulePump();
  }

  private retry(batch: Batch, status: number | undefined, message: string, retryAfter: string | undefined): void {
    this.retries++;
    this.retrying.push(batch);
    this.retrying.sort((a, b) => firstSequence(a) - firstSequence(b));
    const serverDelay = retryAfterMs(retryAfter);
    let delay = backoffDelay(this.attempt++, this.options.backoffMinMs, this.options.backoffMaxMs, this.options.random);
    if (serverDelay !== undefined) delay = Math.max(delay, serverDelay);
    else if (this.flushing) delay = Math.min(delay, FLUSH_RETRY_MS);
    this.pauseFromServer = serverDelay !== undefined;
    this.pausedUntil = Math.max(this.pausedUntil, Date.now() + delay);
    const fields = { target: this.target, ...(status ? { status } : {}), error: message, retry_in_ms: delay, points: batch.items.length };
    if (status === 401 || status === 403) {
      const text = 'graphite refused the credentials (GRAPHITE_USER/GRAPHITE_TOKEN or GRAPHITE_AUTH); retrying with backoff';
      this.once(`auth ${status} ${message}`, 'error', text, fields);
    } else {
      this.once(`retry ${status ?? 'network'} ${message}`, 'warn', 'graphite did not take a batch; retrying with backoff', fields);
    }
    this.armRetry();
  }

  private armRetry(): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(
      () => {
        this.retryTimer = undefined;
        this.pump();
      },
      Math.max(0, this.pausedUntil - Date.now()),
    );
    // Keep the process alive for a retry only while someone awaits delivery.
    if (!this.awaited && this.ackWaiters.length === 0) this.retryTimer.unref();
  }

  private reject(sequences: number[], message: string, reason: string): void {
    this.rejected += sequences.length;
    for (const sequence of sequences) if (sequence > 0) this.undelivered.push(sequence);
    this.once(`reject ${reason} ${message}`, 'error', 'graphite refused points; they are dropped (logged once per distinct answer)', {
      target: this.target,
      reason,
      error: message,
      points: sequences.length,
    });
  }

  private markUndelivered(batch: Batch): void {
    for (const sequence of batch.sequences) if (sequence > 0) this.undelivered.push(sequence);
  }

  /** Once per distinct answer, not once per batch: an outage of hours is a line or two. */
  private once(key: string, level: 'warn' | 'error', text: string, fields: Record<string, unknown>): void {
    if (this.logged.has(key)) return this.log.debug(text, fields);
    if (this.logged.size < 1000) this.logged.add(key);
    this.log[level](text, fields);
  }

  /** Every data line up to this sequence was acknowledged or given up (none is in the queue or outstanding). */
  private ackedThrough(): number {
    let through = this.queue.sequence - this.queue.count;
    for (const batch of this.inFlight) through = Math.min(through, firstSequence(batch) - 1);
    for (const batch of this.retrying) through = Math.min(through, firstSequence(batch) - 1);
    return through;
  }

  private settleAcks(): void {
    if (this.ackWaiters.length === 0) return;
    const through = this.closed ? Infinity : this.ackedThrough();
    let settled = 0;
    while (settled < this.ackWaiters.length && this.ackWaiters[settled]!.at <= through) settled++;
    for (const waiter of this.ackWaiters.splice(0, settled)) waiter.resolve();
  }

  /** Sequences up to `at` that were never delivered, counted once. */
  private takeUndelivered(at: number): number {
    if (this.undelivered.length === 0) return 0;
    const kept = this.undelivered.filter((sequence) => sequence > at);
    const count = this.undelivered.length - kept.length;
    this.undelivered = kept;
    return count;
  }
}

/** The lowest data sequence of a batch (Infinity for reserved lines only). */
function firstSequence(batch: Batch): number {
  let first = Infinity;
  for (const sequence of batch.sequences) if (sequence > 0 && sequence < first) first = sequence;
  return first;
}

function split(batch: Batch): Batch[] {
  const half = Math.ceil(batch.items.length / 2);
  const part = (from: number, to: number): Batch => {
    const items = batch.items.slice(from, to);
    return { items, sequences: batch.sequences.slice(from, to), bytes: items.reduce((sum, item) => sum + Buffer.byteLength(item) + 1, 1) };
  };
  return [part(0, half), part(half, batch.items.length)];
}

/**
 * One plaintext line (`name[;tag=value…] value timestamp\n`) as a point of Grafana's JSON format:
 * `{"name","interval","value","time"}` and, for a tagged series, `"tags":["tag=value",…]`. '' when malformed.
 */
export function jsonPoint(line: string, intervalSeconds: number): string {
  const end = line.endsWith('\n') ? line.length - 1 : line.length;
  const timeAt = line.lastIndexOf(' ', end - 1);
  const valueAt = timeAt > 0 ? line.lastIndexOf(' ', timeAt - 1) : -1;
  if (valueAt <= 0) return '';
  const series = line.slice(0, valueAt);
  const value = line.slice(valueAt + 1, timeAt);
  const time = line.slice(timeAt + 1, end);
  if (!/^-?\d+(\.\d+)?(e[+-]?\d+)?$/i.test(value) || !/^\d+$/.test(time)) return '';
  const parts = series.split(';');
  const tags = parts.length > 1 ? `,"tags":${JSON.stringify(parts.slice(1))}` : '';
  return `{"name":${JSON.stringify(parts[0])},"interval":${intervalSeconds},"value":${value},"time":${time}${tags}}`;
}

/** The Authorization header for the credentials, or undefined for none. */
export function authorizationHeader(credentials: HttpCredentials | undefined): string | undefined {
  if (!credentials) return undefined;
  if (credentials.auth) return `Bearer ${credentials.auth}`;
  if (credentials.user && credentials.token) return `Basic ${Buffer.from(`${credentials.user}:${credentials.token}`).toString('base64')}`;
  if (credentials.token) return `Bearer ${credentials.token}`;
  return undefined;
}

/** Retry-After in ms: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function retryAfterMs(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const seconds = /^\s*\d+\s*$/.test(value) ? Number(value) * 1000 : Date.parse(value) - now;
  if (!Number.isFinite(seconds)) return undefined;
  return Math.min(MAX_RETRY_AFTER_MS, Math.max(0, seconds));
}

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** The endpoint's own words: a JSON answer's message or error, else the text, on one line and bounded. */
function answerMessage(answer: string): string {
  let text = answer.trim();
  try {
    const parsed = JSON.parse(text) as Record<string, unknown>;
    const said = parsed.message ?? parsed.error ?? parsed.Message ?? parsed.Error;
    if (typeof said === 'string') text = said;
  } catch {
    // Not JSON: the text as it is.
  }
  text = text.replace(/\s+/g, ' ').slice(0, 300);
  return maskUrlSecrets(text) || '(empty answer)';
}

function invalidCount(answer: string): number {
  try {
    const parsed = JSON.parse(answer) as Record<string, unknown>;
    const invalid = parsed.invalid ?? parsed.Invalid;
    return typeof invalid === 'number' && invalid > 0 ? Math.floor(invalid) : 0;
  } catch {
    return 0;
  }
}
