// Finds pollers by name: `pollers/<name>.ts` is the only place a poller is registered. POLLERS_PATH adds
// directories (colon-separated) for pollers kept outside this checkout.
import { existsSync, readdirSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError } from '../poller-kit/config-error.ts';
import type { Poller } from '../poller-kit/contract.ts';

export const POLLERS_DIR = resolve(import.meta.dirname, '..', '..', 'pollers');
const NAME = /^[a-z0-9][a-z0-9_-]*$/;

/** The directories searched, in order: the project's pollers/, then POLLERS_PATH. */
export function pollerDirectories(env: NodeJS.ProcessEnv = process.env): string[] {
  const extra = (env.POLLERS_PATH ?? '')
    .split(delimiter)
    .filter(Boolean)
    .map((d) => resolve(d));
  return [POLLERS_DIR, ...extra];
}

/** Names of every poller file, sorted. */
export function pollerNames(dirs = pollerDirectories()): string[] {
  const names = new Set<string>();
  for (const dir of dirs) {
    if (!existsSync(dir)) continue;
    for (const file of readdirSync(dir)) {
      if (!file.endsWith('.ts') || file.endsWith('.d.ts')) continue;
      const name = file.slice(0, -3);
      if (NAME.test(name)) names.add(name);
    }
  }
  return [...names].sort();
}

/**
 * Imports `<dir>/<name>.ts` and checks it exports a poller; unknown names are configuration errors. A file that
 * exports a factory (`export default createXPoller`) gives a new instance on every call: one per job.
 */
export async function loadPoller(name: string, dirs = pollerDirectories()): Promise<Poller> {
  const file = NAME.test(name) ? dirs.map((dir) => join(dir, `${name}.ts`)).find((f) => existsSync(f)) : undefined;
  if (!file) throw new ConfigError(`unknown poller "${name}" (known: ${pollerNames(dirs).join(', ')})`, { file: 'command line' });
  const module = (await import(pathToFileURL(file).href)) as { default?: unknown };
  const poller = instantiate(module.default);
  if (!isPoller(poller)) throw new Error(`${file} does not export default definePoller({...}) or a function that returns one`);
  if (poller.name !== name) throw new Error(`${file} declares name "${poller.name}"; it must match the file name`);
  return poller;
}

/** The poller a file's default export stands for: itself, or what its factory makes. */
export function instantiate(exported: unknown): unknown {
  return typeof exported === 'function' ? (exported as () => unknown)() : exported;
}

/** Ends a poller instance's lifetime (its `close`), reporting a failure as one line instead of throwing. */
export async function closePoller(poller: Poller, log: { error(message: string, fields?: Record<string, unknown>): void }): Promise<void> {
  try {
    await poller.close?.();
  } catch (error) {
    log.error(`closing the ${poller.name} poller failed: ${error instanceof Error ? error.message : String(error)}`);
  }
}

export function isPoller(value: unknown): value is Poller {
  const p = value as Partial<Poller> | undefined;
  return (
    !!p &&
    typeof p.name === 'string' &&
    typeof p.summary === 'string' &&
    typeof p.poll === 'function' &&
    typeof p.options === 'object' &&
    typeof p.schedule?.interval === 'number' &&
    (p.close === undefined || typeof p.close === 'function')
  );
}
