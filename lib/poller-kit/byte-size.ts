// Sizes in configs: a number of bytes, or a string with a unit (`512KiB`, `16MiB`, `1GiB`, `10MB`).
import { z } from 'zod';

const UNIT_BYTES: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
};
const SIZE = /^\s*(\d+(?:\.\d+)?)\s*([kmg]i?b|b)?\s*$/i;

/** Bytes in `value` (a whole number), or undefined when it is not a size. */
export function parseByteSize(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const match = SIZE.exec(value);
  if (!match) return undefined;
  const bytes = Math.round(Number(match[1]) * UNIT_BYTES[(match[2] ?? 'b').toLowerCase()]!);
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

/** `16777216` → `16 MiB`, `1500` → `1500 bytes`: for messages. */
export function formatByteSize(bytes: number): string {
  for (const [unit, size] of [
    ['GiB', 2 ** 30],
    ['MiB', 2 ** 20],
    ['KiB', 2 ** 10],
  ] as const) {
    if (bytes >= size && bytes % (size / 8) === 0) return `${bytes / size} ${unit}`;
  }
  return `${bytes} bytes`;
}

/** A zod schema for a size option: accepts `1048576`, `'1MiB'`, `'16 MiB'`…, yields bytes. */
export function byteSize() {
  return z.union([z.number(), z.string()]).transform((value, ctx) => {
    const bytes = parseByteSize(value);
    if (bytes === undefined) {
      const message = `expected a size such as 1048576, "512KiB", "16MiB" or "1GiB", got ${JSON.stringify(value)}`;
      ctx.addIssue({ code: 'custom', message });
      return z.NEVER;
    }
    return bytes;
  });
}
