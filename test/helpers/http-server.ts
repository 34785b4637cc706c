// A local HTTP server on an OS-chosen port whose answers a test sets, for pollers of HTTP APIs.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Handler = (request: IncomingMessage, response: ServerResponse) => void | Promise<void>;

export class TestHttpServer {
  readonly requests: Array<{ method: string; url: string; headers: IncomingMessage['headers'] }> = [];
  private readonly server: Server;
  handler: Handler;

  private constructor(server: Server, handler: Handler) {
    this.server = server;
    this.handler = handler;
  }

  static async start(handler: Handler): Promise<TestHttpServer> {
    const holder: { instance?: TestHttpServer } = {};
    const server = createServer((request, response) => {
      holder.instance!.requests.push({ method: request.method ?? '', url: request.url ?? '', headers: request.headers });
      void Promise.resolve(holder.instance!.handler(request, response)).catch((error: unknown) => {
        response.statusCode = 500;
        response.end(String(error));
      });
    });
    holder.instance = new TestHttpServer(server, handler);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return holder.instance;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Answers every request with `body` as JSON (or raw text) and `status`. */
  respond(status: number, body: unknown, contentType = 'application/json'): void {
    this.handler = (_, response) => {
      response.writeHead(status, { 'content-type': contentType });
      response.end(typeof body === 'string' ? body : JSON.stringify(body));
    };
  }

  /** Body bytes written by `respondBytes` answers so far (what the server managed to send, not what was read). */
  bytesWritten = 0;
  /** `respondBytes` answers the client went away from before their end (it cancelled the body). */
  abandoned = 0;

  /**
   * Answers every request with `bytes` bytes of JSON whitespace (Infinity: an answer that never ends), written
   * as fast as the client takes them, with a `content-length` header when `declareLength` is set. Writing
   * stops when the client goes away, so `bytesWritten` shows how much a client read before it gave up.
   */
  respondBytes(bytes: number, options: { declareLength?: boolean } = {}): void {
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    this.handler = (_, response) => {
      const declared = options.declareLength && Number.isFinite(bytes) ? { 'content-length': String(bytes) } : {};
      response.writeHead(200, { 'content-type': 'application/json', ...declared });
      let left = bytes;
      let gone = false;
      response.on('close', () => {
        gone = true;
        if (left > 0) this.abandoned++;
      });
      const pump = () => {
        while (left > 0 && !gone) {
          const size = Math.min(chunk.length, left);
          left -= size;
          this.bytesWritten += size;
          if (!response.write(size === chunk.length ? chunk : chunk.subarray(0, size))) {
            response.once('drain', pump);
            return;
          }
        }
        if (!gone) response.end();
      };
      pump();
    };
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
