// Throughput of the writer over tls:// and https:// (JSON batches, delivery = a 2xx) beside tcp://, into loopback sinks.
import { once } from 'node:events';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createTcpServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { createServer as createTlsServer } from 'node:tls';
import { pathToFileURL } from 'node:url';
import { createGraphiteWriter, type GraphiteWriterOptions } from '../lib/graphite/writer.ts';
import { makeTestCertificates } from '../test/helpers/test-certificates.ts';
import { formatText, info, perSecond, ratio, type Section } from './report.ts';
import { makeLines } from './writer.ts';

const LINES = 500_000;
const RUNS = 3;

/** A socket server (plain or TLS) that only counts bytes. */
async function countingSocketServer(server: Server): Promise<{ url: (scheme: string) => string; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => sockets.add(socket));
  server.on('secureConnection', (socket: Socket) => {
    socket.on('data', () => {});
    socket.on('error', () => {});
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: (scheme) => `${scheme}://127.0.0.1:${port}`,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}

/** Seconds from the first write until every line is delivered: flushed to the socket, or acknowledged over HTTPS. */
async function timeWriter(options: GraphiteWriterOptions, lines: string[]): Promise<number> {
  const writer = createGraphiteWriter({ queueLimit: lines.length, ...options });
  await writer.connect();
  const start = performance.now();
  for (let i = 0; i < lines.length; i++) {
    writer.write(lines[i]!);
    if ((i & 0xffff) === 0) await writer.ready();
  }
  const flushed = await writer.flush(120_000);
  const seconds = (performance.now() - start) / 1000;
  await writer.close();
  if (!flushed) throw new Error(`${options.url}: not delivered within 120 s`);
  return seconds;
}

async function best(runs: number, run: () => Promise<number>): Promise<number> {
  let fastest = Infinity;
  for (let i = 0; i < runs; i++) fastest = Math.min(fastest, await run());
  return fastest;
}

export default async function benchRemoteWriters(): Promise<Section> {
  const { lines } = makeLines(LINES);
  const certificates = makeTestCertificates();
  const tcp = await countingSocketServer(
    createTcpServer((socket) => {
      socket.on('data', () => {});
      socket.on('error', () => {});
    }),
  );
  const tls = await countingSocketServer(createTlsServer({ cert: certificates.cert, key: certificates.key }));
  // An ingestion endpoint that reads each batch whole and answers as Grafana's does (no JSON parse: the writer's cost).
  let batches = 0;
  const https = createHttpsServer({ cert: certificates.cert, key: certificates.key }, (request, response) => {
    let size = 0;
    request.on('data', (chunk: Buffer) => (size += chunk.length));
    request.on('end', () => {
      batches++;
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(`{"invalid":0,"published":${size > 0 ? 1 : 0}}`);
    });
  });
  https.listen(0, '127.0.0.1');
  await once(https, 'listening');
  const httpsUrl = `https://127.0.0.1:${(https.address() as AddressInfo).port}/graphite/metrics`;
  try {
    const tcpSeconds = await best(RUNS, () => timeWriter({ url: tcp.url('tcp') }, lines));
    const tlsSeconds = await best(RUNS, () => timeWriter({ url: tls.url('tls'), tls: { ca: certificates.ca } }, lines));
    const httpsSeconds = await best(RUNS, () =>
      timeWriter({ url: httpsUrl, tls: { ca: certificates.ca }, http: { user: '1', token: 'bench' }, intervalSeconds: 60 }, lines),
    );
    return {
      title: 'Graphite writer over tls:// and https://',
      method:
        `${LINES.toLocaleString('en-US')} distinct ~50-byte lines through the writer into loopback servers in the same process ` +
        `(best of ${RUNS}): tcp:// and tls:// servers that only read, an https:// endpoint that reads each JSON batch and answers ` +
        `200 (default batches of 5,000 points / 1 MiB, 4 in flight). Timed until flush() is true: handed to the socket for ` +
        'tcp:// and tls://, acknowledged for https://.',
      figures: [
        info('tcp://', perSecond(LINES / tcpSeconds)),
        info('tls://', `${perSecond(LINES / tlsSeconds)} (${ratio(tcpSeconds / tlsSeconds)} of tcp://)`),
        info(
          'https:// (JSON, acknowledged)',
          `${perSecond(LINES / httpsSeconds)} (${ratio(tcpSeconds / httpsSeconds)} of tcp://, ${batches} batches)`,
        ),
      ],
    };
  } finally {
    await tcp.close();
    await tls.close();
    https.closeAllConnections();
    https.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(formatText(await benchRemoteWriters()));
}
