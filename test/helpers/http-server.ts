// A local HTTP server on an OS-chosen port whose answers a test sets, for pollers of HTTP APIs.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Handler = (request: IncomingMessage, response: ServerResponse) => void | Promise<void>;

export class TestHttpServer {
  readonly requests: Array<{ method: string; url: string; headers: IncomingMessage['headers'] }> = [];
  private constructor(
    private readonly server: Server,
    public handler: Handler,
  ) {}

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

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
