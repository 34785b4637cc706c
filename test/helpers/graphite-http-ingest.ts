// A local Graphite HTTP ingestion endpoint in Grafana Cloud's documented JSON format, with scripted bad answers.
//
// Honest to the format of Grafana's "Graphite HTTP API" page (POST a JSON array of {name, interval, value, time,
// tags?}, `Authorization: Basic base64(<user>:<token>)` or `Bearer <user>:<token>`) and to the answer
// carbon-relay-ng's grafanaNet route reads (`{"invalid":N,"published":M,...}` on 200).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TestCertificates } from './test-certificates.ts';

/** One scripted answer for the next request, instead of the normal one. */
export type Fault =
  | { kind: 'auth' }
  | { kind: 'bad-request'; message: string }
  | { kind: 'too-many'; retryAfterSeconds: number }
  | { kind: 'server-error' }
  | { kind: 'slow'; ms: number }
  /** Takes the batch, then cuts the connection in the middle of its answer (the client must send it again). */
  | { kind: 'cut' };

export interface IngestedPoint {
  name: string;
  interval: number;
  value: number;
  time: number;
  tags?: string[];
}

export interface IngestOptions {
  user: string;
  token: string;
  /** A body larger than this is answered 413. Default 1 MiB. */
  maxBodyBytes?: number;
  /** A point whose name contains this is invalid: the whole batch is answered 400 with a message. */
  poison?: string;
}

export class GraphiteHttpIngest {
  /** Accepted points by series and time; `copies` counts duplicates (a batch sent again after a cut answer). */
  readonly points = new Map<string, { point: IngestedPoint; copies: number }>();
  readonly faults: Fault[] = [];
  readonly answers: number[] = [];
  requests = 0;
  duplicates = 0;
  /** Called before each answer with the points acknowledged so far (to check a client's state against them). */
  beforeAnswer: (() => void) | undefined;
  private readonly server: Server;
  private readonly options: IngestOptions;

  private constructor(server: Server, options: IngestOptions) {
    this.server = server;
    this.options = options;
  }

  static async start(certificates: TestCertificates, options: IngestOptions): Promise<GraphiteHttpIngest> {
    const holder: { ingest?: GraphiteHttpIngest } = {};
    const server = createServer({ cert: certificates.cert, key: certificates.key }, (request, response) => {
      void holder.ingest!.handle(request, response);
    });
    holder.ingest = new GraphiteHttpIngest(server, options);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return holder.ingest;
  }

  get url(): string {
    return `https://127.0.0.1:${(this.server.address() as AddressInfo).port}/graphite/metrics`;
  }

  /** The accepted value of a series at a time, or undefined. */
  value(series: string, time: number): number | undefined {
    return this.points.get(`${series} ${time}`)?.point.value;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    this.requests++;
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of request) {
      size += (chunk as Buffer).length;
      chunks.push(chunk as Buffer);
    }
    const answer = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      this.answers.push(status);
      this.beforeAnswer?.();
      response.writeHead(status, { 'content-type': 'application/json', ...headers });
      response.end(JSON.stringify(body));
    };
    if (request.method !== 'POST' || request.url !== '/graphite/metrics') return answer(404, { message: 'not found' });
    const basic = `Basic ${Buffer.from(`${this.options.user}:${this.options.token}`).toString('base64')}`;
    const bearer = `Bearer ${this.options.user}:${this.options.token}`;
    if (request.headers.authorization !== basic && request.headers.authorization !== bearer) {
      return answer(401, { message: 'authentication error: invalid authentication credentials' });
    }
    if (request.headers['content-type'] !== 'application/json') return answer(415, { message: 'unsupported content-type' });
    if (size > (this.options.maxBodyBytes ?? 1024 * 1024)) return answer(413, { message: `request body too large: ${size} bytes` });
    // A scripted fault answers the next request that would otherwise have been taken.
    const fault = this.faults.shift();
    if (fault?.kind === 'auth') return answer(401, { message: 'authentication error: invalid authentication credentials' });
    if (fault?.kind === 'bad-request') return answer(400, { message: fault.message });
    if (fault?.kind === 'too-many') return answer(429, { message: 'rate limited' }, { 'retry-after': String(fault.retryAfterSeconds) });
    if (fault?.kind === 'server-error') return answer(500, { message: 'internal error' });
    if (fault?.kind === 'slow') await new Promise((resolve) => setTimeout(resolve, fault.ms));
    let points: IngestedPoint[];
    try {
      points = JSON.parse(Buffer.concat(chunks).toString('utf8')) as IngestedPoint[];
    } catch {
      return answer(400, { message: 'invalid JSON' });
    }
    if (!Array.isArray(points)) return answer(400, { message: 'expected an array of points' });
    for (const point of points) {
      const problem = invalid(point, this.options.poison);
      if (problem) return answer(400, { message: problem });
    }
    for (const point of points) {
      const key = `${[point.name, ...(point.tags ?? [])].join(';')} ${point.time}`;
      const held = this.points.get(key);
      if (held) {
        held.copies++;
        this.duplicates++;
      }
      this.points.set(key, { point, copies: held ? held.copies : 1 });
    }
    if (fault?.kind === 'cut') {
      this.answers.push(0);
      response.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
      response.write('{"invalid":0,');
      setTimeout(() => response.destroy(), 20);
      return;
    }
    answer(200, { invalid: 0, published: points.length, validationErrors: {} });
  }
}

function invalid(point: IngestedPoint, poison: string | undefined): string | undefined {
  if (typeof point !== 'object' || point === null) return 'a point is not an object';
  if (typeof point.name !== 'string' || point.name === '') return 'metric name is required';
  if (poison && point.name.includes(poison)) return `invalid metric name "${point.name}"`;
  if (!Number.isInteger(point.interval) || point.interval <= 0) return `interval must be a positive integer: ${point.name}`;
  if (typeof point.value !== 'number') return `value must be a number: ${point.name}`;
  if (!Number.isInteger(point.time) || point.time <= 0) return `time must be a unix timestamp in seconds: ${point.name}`;
  if (point.tags !== undefined && (!Array.isArray(point.tags) || !point.tags.every((tag) => /^[^=;!]+=[^;~]+$/.test(tag)))) {
    return `tags must be key=value strings: ${point.name}`;
  }
  return undefined;
}
