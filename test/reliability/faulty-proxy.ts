// An HTTP proxy in front of an API fake that injects network faults the fake itself does not make: connection
// resets, bodies cut short, bodies that are not JSON, slow answers, error statuses; and logs every request.
import { createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import { closeServer, listen } from './harness.ts';

export type Fault =
  /** The connection is reset before any answer. */
  | { kind: 'reset' }
  /** The upstream answer's headers (its Content-Length too) and half of its body, then the connection is reset. */
  | { kind: 'truncate' }
  /** A 200 whose body is the upstream answer cut in the middle of its JSON, then closed properly. */
  | { kind: 'malformed' }
  /** The upstream answer, `ms` later. */
  | { kind: 'slow'; ms: number }
  /** An answer made here instead of the upstream's. */
  | { kind: 'status'; status: number; body: string; headers?: Record<string, string> };

export interface ProxiedRequest {
  at: number;
  method: string;
  url: string;
  body: string;
  /** The fault injected, if any. */
  fault?: Fault['kind'];
  /** Whatever the test tags requests with when they arrive (the run in flight). */
  tag?: number;
}

export class FaultyProxy {
  readonly requests: ProxiedRequest[] = [];
  /** Chooses the fault for a request (undefined: forward it untouched). */
  fault: ((request: ProxiedRequest) => Fault | undefined) | undefined;
  /** Called for each request as it arrives: its result becomes the request's tag. */
  tagger: (() => number) | undefined;

  private readonly server: ReturnType<typeof createServer>;
  readonly port: number;
  private readonly target: URL;

  private constructor(server: ReturnType<typeof createServer>, port: number, target: URL) {
    this.server = server;
    this.port = port;
    this.target = target;
  }

  static async start(target: string): Promise<FaultyProxy> {
    let self!: FaultyProxy;
    const server = createServer((req, res) => void self.handle(req, res));
    // Clients keep connections alive between requests, as the SDKs do.
    server.keepAliveTimeout = 5000;
    self = new FaultyProxy(server, await listen(server), new URL(target));
    return self;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await closeServer(this.server);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const entry: ProxiedRequest = { at: Date.now(), method: req.method ?? 'GET', url: req.url ?? '/', body: body.toString('utf8') };
    if (this.tagger) entry.tag = this.tagger();
    this.requests.push(entry);
    const fault = this.fault?.(entry);
    entry.fault = fault?.kind;
    if (fault?.kind === 'reset') return void req.socket.resetAndDestroy();
    if (fault?.kind === 'status') {
      res.writeHead(fault.status, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(fault.body),
        ...fault.headers,
      });
      return void res.end(fault.body);
    }
    if (fault?.kind === 'slow') await new Promise((resolve) => setTimeout(resolve, fault.ms));
    if (res.destroyed) return;
    let upstream: { status: number; headers: IncomingHttpHeaders; body: Buffer };
    try {
      upstream = await this.forward(req, body);
    } catch {
      return void req.socket.destroy();
    }
    const headers = { ...upstream.headers };
    delete headers['transfer-encoding'];
    delete headers['content-encoding'];
    if (fault?.kind === 'truncate') {
      res.writeHead(upstream.status, { ...headers, 'content-length': upstream.body.length });
      res.write(upstream.body.subarray(0, Math.floor(upstream.body.length / 2)));
      // Let the half reach the client before the reset.
      return void setTimeout(() => req.socket.resetAndDestroy(), 20);
    }
    if (fault?.kind === 'malformed') {
      const cut = upstream.body.subarray(0, Math.max(1, Math.floor(upstream.body.length / 2)));
      res.writeHead(200, { ...headers, 'content-length': cut.length });
      return void res.end(cut);
    }
    res.writeHead(upstream.status, { ...headers, 'content-length': upstream.body.length });
    res.end(upstream.body);
  }

  private forward(req: IncomingMessage, body: Buffer): Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }> {
    return new Promise((resolve, reject) => {
      const outgoing = httpRequest(
        {
          host: this.target.hostname,
          port: this.target.port,
          method: req.method,
          path: req.url,
          // Uncompressed answers, so truncation and corruption cut real JSON.
          headers: { ...req.headers, host: this.target.host, 'accept-encoding': 'identity' },
        },
        (response) => {
          const parts: Buffer[] = [];
          response.on('data', (chunk: Buffer) => parts.push(chunk));
          response.on('end', () => resolve({ status: response.statusCode ?? 502, headers: response.headers, body: Buffer.concat(parts) }));
          response.on('error', reject);
        },
      );
      outgoing.on('error', reject);
      outgoing.end(body);
    });
  }
}
