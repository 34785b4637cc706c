// Finds pollers by name: `pollers/<name>.ts` is the only place a poller is registered.
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError } from './config-error.ts';
import type { Poller } from './poller.ts';

export const POLLERS_DIR = resolve(import.meta.dirname, '..', 'pollers');
const NAME = /^[a-z0-9][a-z0-9_-]*$/;

/** Names of every poller file, sorted. */
export function pollerNames(dir = POLLERS_DIR): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
    .map((f) => f.slice(0, -3))
    .filter((name) => NAME.test(name))
    .sort();
}

/** Imports `pollers/<name>.ts` and checks it exports a poller; unknown names are configuration errors. */
export async function loadPoller(name: string, dir = POLLERS_DIR): Promise<Poller> {
  const file = join(dir, `${name}.ts`);
  if (!NAME.test(name) || !existsSync(file)) {
    throw new ConfigError(`unknown poller "${name}" (known: ${pollerNames(dir).join(', ')})`);
  }
  const module = (await import(pathToFileURL(file).href)) as { default?: unknown };
  const poller = module.default;
  if (!isPoller(poller)) throw new Error(`pollers/${name}.ts does not export default definePoller({...})`);
  if (poller.name !== name) throw new Error(`pollers/${name}.ts declares name "${poller.name}"; it must match the file name`);
  return poller;
}

export function isPoller(value: unknown): value is Poller {
  const p = value as Partial<Poller> | undefined;
  return (
    !!p &&
    typeof p.name === 'string' &&
    typeof p.summary === 'string' &&
    typeof p.poll === 'function' &&
    typeof p.options === 'object' &&
    typeof p.schedule?.interval === 'number'
  );
}
