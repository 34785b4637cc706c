// readBoundedText/readBoundedJson: a body is read up to its bound and no further, whatever the server sends.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_MAX_RESPONSE_BYTES,
  ResponseTooLargeError,
  readBoundedJson,
  readBoundedText,
} from '../../../lib/poller-kit/bounded-body.ts';
import { byteSize, formatByteSize, parseByteSize } from '../../../lib/poller-kit/byte-size.ts';
import { TestHttpServer } from '../../helpers/http-server.ts';

const MiB = 2 ** 20;
let server: TestHttpServer;

beforeAll(async () => {
  server = await TestHttpServer.start(() => {});
});
afterAll(() => server.close());

/** A Response whose body arrives in the given pieces. */
function streamed(pieces: Uint8Array[], headers: Record<string, string> = {}): Response {
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const piece of pieces) controller.enqueue(piece);
      controller.close();
    },
  });
  return new Response(body, { headers });
}

describe('readBoundedText', () => {
  it('reads a body up to exactly the bound, and refuses one byte more', async () => {
    const text = '{"a":1}';
    expect(await readBoundedText(streamed([Buffer.from(text)]), text.length, 'here')).toBe(text);
    await expect(readBoundedText(streamed([Buffer.from(text)]), text.length - 1, 'http://h/x')).rejects.toThrow(
      new ResponseTooLargeError(text.length - 1, 'http://h/x'),
    );
  });

  it('decodes UTF-8 split across chunks', async () => {
    const bytes = Buffer.from('{"größe":"€"}');
    const pieces = [bytes.subarray(0, 5), bytes.subarray(5, 11), bytes.subarray(11)];
    expect(await readBoundedText(streamed(pieces), 100, 'here')).toBe('{"größe":"€"}');
  });

  it('an empty body is an empty string', async () => {
    expect(await readBoundedText(new Response(null), 10, 'here')).toBe('');
  });

  it('an endless answer fails at the bound in one line, and the stream is cancelled', async () => {
    server.bytesWritten = 0;
    const abandonedBefore = server.abandoned;
    server.respondBytes(Infinity);
    const response = await fetch(`${server.url}/endless`);
    await expect(readBoundedText(response, MiB, `${server.url}/endless`)).rejects.toThrow(
      `answer larger than maxResponseBytes (1 MiB) from ${server.url}/endless`,
    );
    // Cancelled: the connection closes, so the server stops writing (what it wrote is the bound plus socket buffers).
    await waitFor(() => server.abandoned === abandonedBefore + 1);
    expect(server.bytesWritten).toBeLessThan(64 * MiB);
  });

  it('a content-length above the bound is refused before reading the body', async () => {
    server.bytesWritten = 0;
    const abandonedBefore = server.abandoned;
    server.respondBytes(200 * MiB, { declareLength: true });
    const response = await fetch(`${server.url}/big`);
    const error = await readBoundedText(response, 16 * MiB, 'GET /big').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ResponseTooLargeError);
    expect((error as Error).message).toBe('answer larger than maxResponseBytes (16 MiB) from GET /big');
    await waitFor(() => server.abandoned === abandonedBefore + 1);
    expect(server.bytesWritten).toBeLessThan(100 * MiB);
  });

  it('a 200 MiB answer without content-length fails once 16 MiB arrived', async () => {
    server.respondBytes(200 * MiB);
    const response = await fetch(`${server.url}/big`);
    const read = readBoundedText(response, DEFAULT_MAX_RESPONSE_BYTES, 'GET /big');
    await expect(read).rejects.toThrow(/larger than maxResponseBytes \(16 MiB\)/);
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('readBoundedJson', () => {
  it('parses JSON, and names the source when it is not JSON', async () => {
    expect(await readBoundedJson(streamed([Buffer.from('{"a":[1,2]}')]), 100, 'here')).toEqual({ a: [1, 2] });
    const read = readBoundedJson(streamed([Buffer.from('{"a":')]), 100, 'GET http://h/x');
    await expect(read).rejects.toThrow(/^GET http:\/\/h\/x did not answer valid JSON: /);
  });
});

describe('byte sizes', () => {
  it('parses numbers and units', () => {
    expect(parseByteSize(1024)).toBe(1024);
    expect(parseByteSize('16MiB')).toBe(16 * MiB);
    expect(parseByteSize('16 mib')).toBe(16 * MiB);
    expect(parseByteSize('512KiB')).toBe(512 * 1024);
    expect(parseByteSize('1.5GiB')).toBe(1.5 * 2 ** 30);
    expect(parseByteSize('10MB')).toBe(10_000_000);
    expect(parseByteSize('100')).toBe(100);
    for (const bad of ['', 'lots', '-1', '16 MiBs', -5, 1.5, Infinity, '1e3', null]) {
      expect(parseByteSize(bad), String(bad)).toBeUndefined();
    }
  });

  it('formats for messages', () => {
    expect(formatByteSize(16 * MiB)).toBe('16 MiB');
    expect(formatByteSize(1.5 * MiB)).toBe('1.5 MiB');
    expect(formatByteSize(2 ** 30)).toBe('1 GiB');
    expect(formatByteSize(1024)).toBe('1 KiB');
    expect(formatByteSize(1000)).toBe('1000 bytes');
  });

  it('the schema names what it expected', () => {
    expect(byteSize().safeParse('1MiB').data).toBe(MiB);
    expect(byteSize().safeParse('huge').error?.issues[0]?.message).toBe(
      'expected a size such as 1048576, "512KiB", "16MiB" or "1GiB", got "huge"',
    );
  });
});
