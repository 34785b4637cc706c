// Reads a fetch Response's body up to a bound, counting bytes while they stream, so no answer can exhaust memory.
import { formatByteSize } from './byte-size.ts';

/** 16 MiB: far above any status document or API answer these pollers read, far below what hurts a small host. */
export const DEFAULT_MAX_RESPONSE_BYTES = 16 * 2 ** 20;

/** An answer past the bound: the body was cancelled, what arrived of it is dropped. */
export class ResponseTooLargeError extends Error {
  override readonly name = 'ResponseTooLargeError';
  readonly maxBytes: number;
  constructor(maxBytes: number, from: string) {
    super(`answer larger than maxResponseBytes (${formatByteSize(maxBytes)}) from ${from}`);
    this.maxBytes = maxBytes;
  }
}

/**
 * The body as text (UTF-8), refusing at once a `content-length` above `maxBytes` and cancelling the stream as
 * soon as more than `maxBytes` arrived (an endless or lying answer). `from` names the source in the error
 * (a URL already stripped of secrets). Aborting the request's signal ends the read as usual.
 */
export async function readBoundedText(response: Response, maxBytes: number, from: string): Promise<string> {
  const declared = Number(response.headers.get('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > maxBytes) {
    await cancelQuietly(response.body);
    throw new ResponseTooLargeError(maxBytes, from);
  }
  if (!response.body) return '';

  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > maxBytes) {
        await reader.cancel().catch(() => {});
        throw new ResponseTooLargeError(maxBytes, from);
      }
      chunks.push(value);
    }
  } finally {
    reader.releaseLock();
  }
  return new TextDecoder().decode(Buffer.concat(chunks, total));
}

/** Like readBoundedText, parsed as JSON; invalid JSON is an error naming `from`. */
export async function readBoundedJson(response: Response, maxBytes: number, from: string): Promise<unknown> {
  const text = await readBoundedText(response, maxBytes, from);
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new Error(`${from} did not answer valid JSON: ${(error as Error).message}`);
  }
}

async function cancelQuietly(body: ReadableStream<Uint8Array> | null): Promise<void> {
  // Cancelling tells undici to drop the connection instead of reading the rest of a huge answer.
  await body?.cancel().catch(() => {});
}
