// The poller contract, checked for every file in pollers/: a new poller is tested here without being listed anywhere.
import dgram from 'node:dgram';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { interpolateEnvironment, loadJobConfig, type JobConfig } from '../../lib/config/job-config.ts';
import { checkExampleConfig } from '../../lib/config/example-config.ts';
import { COMMON_KEYS, documentOptions, jobSchema } from '../../lib/config/job-options.ts';
import type { Poller } from '../../lib/poller-kit/contract.ts';
import { pollerHelp } from '../../lib/config/poller-help.ts';
import { instantiate, isPoller, loadPoller, pollerNames } from '../../lib/config/poller-registry.ts';
import { testContext } from '../helpers/capture-sink.ts';

// Paths from this file, not from lib/: the scaffold's test runs a copy of this file in a temporary checkout.
const ROOT = resolve(import.meta.dirname, '..', '..');
const POLLERS = join(ROOT, 'pollers');
const CONFIG = join(ROOT, 'config');
const LIB = resolve(ROOT, 'lib');

/** A poller's name is its file name and a Graphite path node: lowercase letters, digits, "-" and "_". */
const NAME = /^[a-z][a-z0-9_-]*$/;

/**
 * Packages that carry their own HTTP client. A poller built on one (CloudWatch on the AWS SDK, GA4 on
 * googleapis) legitimately opens sockets through it, so at run time a socket or request whose stack passes
 * through such a package's code (SDK_FRAMES) is the SDK's and allowed — for pollers that import one. Its own
 * code is held to the same rules as everyone's; everything else must do its HTTP through `ctx.fetch`.
 */
const SDK_PACKAGE =
  /^(@aws-sdk\/|@smithy\/|@googleapis\/|googleapis$|google-auth-library$|gaxios$|@google-cloud\/|@azure\/|pg$|mysql2(\/promise)?$)/;
const SDK_FRAME_PACKAGES = [
  '@aws-sdk',
  '@smithy',
  '@googleapis',
  'googleapis',
  'googleapis-common',
  'google-auth-library',
  'gaxios',
  'gcp-metadata',
  '@google-cloud',
  '@azure',
  'pg',
  'pg-pool',
  'mysql2',
];
const SDK_FRAMES = new RegExp(String.raw`[\\/]node_modules[\\/](${SDK_FRAME_PACKAGES.join('|')})[\\/]`);

/** Modules a poller never imports: sockets (its HTTP goes through ctx.fetch or its SDK). */
const FORBIDDEN_MODULES = /^(node:)?(net|dgram|tls|http|https|http2|cluster|child_process|worker_threads)$|^(undici|ws)$/;

/**
 * The one part of lib/ a poller may import: the poller kit. Everything else in lib/ (Graphite's wire format, the
 * writers, the schedule, state, backfill, config loading, the commands) is the runner's business.
 */
const KIT = join(LIB, 'poller-kit');

/** What a fetch stub answers every request with: a generic JSON document with numbers at a few depths. */
const GENERIC_JSON = { value: 1, count: 2, total: 3, items: [{ name: 'a', value: 4 }], data: { value: 5 } };

const names = pollerNames([POLLERS]);

describe('the poller contract', () => {
  it('finds the pollers in pollers/ (nothing else registers them)', () => {
    expect(names.length).toBeGreaterThan(0);
    for (const file of readdirSync(POLLERS)) {
      const full = join(POLLERS, file);
      if (statSync(full).isDirectory()) {
        // A helper directory belongs to the poller of the same name.
        expect(names, `pollers/${file}/ has no pollers/${file}.ts`).toContain(file);
      } else {
        expect(file, `pollers/${file} is not a valid poller file name`).toMatch(/^[a-z][a-z0-9_-]*\.ts$/);
      }
    }
  });
});

for (const name of names) {
  describe(`pollers/${name}.ts`, () => {
    const file = join(POLLERS, `${name}.ts`);
    const example = join(CONFIG, `${name}.example.yaml`);
    let poller: Poller;
    let exampleText: string;
    let config: JobConfig;
    let loadError: unknown;

    let exported: unknown;

    beforeAll(async () => {
      const module = (await import(pathToFileURL(file).href)) as { default?: unknown };
      exported = module.default;
      // A poller, or a factory of pollers (one instance per job), as the registry loads it.
      const instance = instantiate(exported);
      const shown = relative(ROOT, file);
      if (!isPoller(instance)) throw new Error(`${shown} does not export default definePoller({...}) or a function that returns one`);
      poller = instance;
      exampleText = existsSync(example) ? readFileSync(example, 'utf8') : '';
      try {
        config = loadJobConfig(poller, { configFile: example, env: { ...process.env, ...dummyEnvironment(exampleText) } });
      } catch (error) {
        loadError = error;
      }
    });

    it('exports a poller whose name is the file name', () => {
      expect(isPoller(poller)).toBe(true);
      expect(poller.name).toBe(name);
      expect(name).toMatch(NAME);
      expect(poller.summary.trim(), 'summary: one line for --list').not.toBe('');
      expect(poller.summary).not.toMatch(/\n/);
      expect(poller.schedule.interval).toBeGreaterThanOrEqual(1);
      expect(poller.schedule.delay ?? 0).toBeGreaterThanOrEqual(0);
      expect(poller.schedule.lookback ?? 0).toBeGreaterThanOrEqual(0);
    });

    it('gives every job its own instance: a factory makes a new poller on each load, state is not shared', async () => {
      if (typeof exported !== 'function') {
        // A plain poller is shared by every job that loads it: it must keep no state (no factory needed).
        expect(isPoller(exported)).toBe(true);
        return;
      }
      // Loaded as the commands load it, once per job.
      const first = await loadPoller(name, [POLLERS]);
      const second = await loadPoller(name, [POLLERS]);
      expect(second, 'two loads, two instances').not.toBe(first);
      expect(second.poll, 'each instance has its own poll (its own state)').not.toBe(first.poll);
      await first.close?.();
      await second.close?.();
    });

    it('keeps no state at module level: state belongs to an instance, made by an exported factory', () => {
      for (const source of sourceFiles(name)) {
        const shown = relative(ROOT, source);
        const code = stripComments(readFileSync(source, 'utf8'));
        expect(code, `${shown}: export the factory (export default createXPoller), not one instance every job would share`).not.toMatch(
          /export\s+default\s+(?!definePoller\b)\w+\s*\(/,
        );
        // Caches, clients and limiters in module-level maps outlive jobs and leak between tests.
        expect(code, `${shown} keeps a Map at module level: move it into the poller instance`).not.toMatch(
          /^(const|let|var)\s+\w+\s*(:[^=]+)?=\s*new\s+(Map|WeakMap)\b/m,
        );
      }
    });

    it('leaves the keys of every job to lib/ and rejects unknown options', () => {
      const own = Object.keys(poller.options.shape);
      const common = own.filter((key) => (COMMON_KEYS as readonly string[]).includes(key));
      expect(common, 'options that lib/config/job-options.ts adds to every job').toEqual([]);
      // A misspelt option must be an error (exit 78), not silently ignored: the schema is strict.
      const raw = readExample(exampleText);
      const parsed = jobSchema(poller).safeParse({ ...raw, contractTestUnknownOption: 1 });
      expect(parsed.success, 'an unknown key must not validate (use z.strictObject)').toBe(false);
    });

    it(`has config/${name}.example.yaml, which validates against its schema`, () => {
      expect(existsSync(example), `config/${name}.example.yaml is missing`).toBe(true);
      expect(
        loadError === undefined ? undefined : String((loadError as Error).message ?? loadError),
        'loading the example',
      ).toBeUndefined();
      expect(config.options).toBeTypeOf('object');
    });

    it('documents every option: a description, a key in the example, a line in --help', () => {
      const help = pollerHelp(poller);
      for (const option of documentOptions(poller)) {
        expect(option.description.trim(), `option ${option.key} has no .describe()`).not.toBe('');
        // Set or shown commented out (`# key: default`), at the top level of the example.
        expect(exampleText, `config/${name}.example.yaml does not show ${option.key}`).toMatch(
          new RegExp(`^(#\\s?)?${option.key}\\s*:`, 'm'),
        );
        expect(help, `--help does not show ${option.key}`).toContain(`\n  ${option.key}`);
        expect(help).toContain(option.description);
      }
    });

    it(`config/${name}.example.yaml shows every option with the schema's description and default, and no other`, () => {
      // One source for the documentation: the schema. The example may say more, never something else.
      expect(checkExampleConfig(poller, exampleText).map((problem) => `config/${name}.example.yaml: ${problem}`)).toEqual([]);
    });

    it('declares its maximum window and retention if it has history', () => {
      if (!poller.history) {
        expect(pollerHelp(poller)).toContain('no history');
        return;
      }
      if (!config) throw new Error(`needs a valid config/${name}.example.yaml (see the test above)`);
      const { maxWindow, retention, step } = poller.history;
      expect(typeof maxWindow, 'history.maxWindow(options)').toBe('function');
      expect(typeof retention, 'history.retention(options)').toBe('function');
      const window = maxWindow(config.options);
      const kept = retention(config.options);
      const every = step?.(config.options) ?? config.schedule.interval;
      for (const [what, value] of [
        ['maxWindow', window],
        ['retention', kept],
        ['step', every],
      ] as const) {
        expect(Number.isFinite(value) && value > 0, `history.${what} must be a positive number of seconds, got ${value}`).toBe(true);
      }
      expect(window, 'maxWindow holds at least one step').toBeGreaterThanOrEqual(every);
    });

    it('never touches sockets, timers or Graphite in its source', () => {
      for (const source of sourceFiles(name)) {
        const shown = relative(ROOT, source);
        const code = stripComments(readFileSync(source, 'utf8'));
        for (const specifier of importsOf(code)) {
          expect(specifier, `${shown} imports ${specifier}: use ctx.fetch (or the source's SDK)`).not.toMatch(FORBIDDEN_MODULES);
        }
        expect(importsOutsideKit(source, code), `${shown}: a poller imports from lib/ only lib/poller-kit/`).toEqual([]);
        expect(code, `${shown} calls setInterval: the runner owns the schedule`).not.toMatch(/\bsetInterval\s*\(/);
        expect(code, `${shown} writes to stdout: datapoints go through the sink, logs through ctx.log`).not.toMatch(
          /process\.stdout|console\.(log|info|warn|error|debug)\s*\(/,
        );
      }
    });

    const sdk = sdkImports(name);
    const outsideSdk = sdk.length ? ` outside its SDK (${sdk.join(', ')})` : '';
    it(`poll emits only through the sink: no socket${outsideSdk}, no global fetch, no timer left behind`, async () => {
      if (!config) throw new Error(`needs a valid config/${name}.example.yaml (see the test above)`);
      const watch = watchSideEffects();
      const stub: typeof globalThis.fetch = async () => {
        return new Response(JSON.stringify(GENERIC_JSON), { status: 200, headers: { 'content-type': 'application/json' } });
      };
      const end = Math.floor(Date.now() / 1000 / config.schedule.interval) * config.schedule.interval;
      const ctx = testContext({
        options: config.options,
        window: { start: end - config.schedule.interval, end },
        fetch: stub,
        now: end * 1000,
        schedule: config.schedule,
        signal: AbortSignal.timeout(10_000),
        job: name,
      });
      let outcome: unknown;
      try {
        await poller.poll(ctx);
      } catch (error) {
        outcome = error; // a generic document may not be what the poller expects: failing is allowed, side effects are not
      } finally {
        // The instance ends as the commands end it: after the run, close() releases its clients.
        await poller.close?.();
        watch.restore();
      }
      // The SDK's own HTTP (its stack runs through the SDK's code) is allowed to pollers that use one.
      const own = (calls: Recorded[]) => calls.filter((call) => !(sdk.length > 0 && SDK_FRAMES.test(call.stack))).map((call) => call.what);
      expect(own(watch.sockets), 'sockets opened by poll itself (use ctx.fetch)').toEqual([]);
      expect(own(watch.globalFetches), 'globalThis.fetch called (use ctx.fetch, which tests replace)').toEqual([]);
      expect(watch.intervals, 'setInterval called').toEqual([]);
      expect(watch.pendingTimers(), 'timers still pending after poll returned').toEqual([]);
      expect(watch.stdout, 'written to stdout').toEqual([]);
      // Whatever it emitted went to the sink, with finite timestamps.
      for (const point of ctx.sink.points) expect(Number.isFinite(point.timestamp)).toBe(true);
      if (outcome !== undefined) expect(outcome, 'poll rejects with an Error').toBeInstanceOf(Error);
    });
  });
}

describe('the poller kit boundary', () => {
  it('fails a poller that imports lib/ outside the kit, from its file or a helper module, statically or not', () => {
    // A checkout of its own: pollers/ and lib/ side by side, the imports resolved as in the real one.
    const root = mkdtempSync(join(tmpdir(), 'gp-contract-kit-'));
    try {
      const lib = join(root, 'lib');
      mkdirSync(join(root, 'pollers', 'leaky'), { recursive: true });
      const poller = join(root, 'pollers', 'leaky.ts');
      const helper = join(root, 'pollers', 'leaky', 'paths.ts');
      writeFileSync(
        poller,
        [
          "import { definePoller, duration } from '../lib/poller-kit/index.ts';",
          "import { GraphiteSink } from '../lib/graphite/sink.ts';",
          "import type { Watermark } from '../lib/state/watermark.ts';",
          "// import { schedule } from '../lib/run/schedule.ts'; (a comment is not an import)",
          'export default definePoller({} as never);',
        ].join('\n'),
      );
      writeFileSync(helper, "import { shardOf } from '../../lib/poller-kit/shard.ts';\nawait import('../../lib/cli/poll-command.ts');\n");
      const outside = (file: string) => importsOutsideKit(file, stripComments(readFileSync(file, 'utf8')), lib);
      expect(outside(poller)).toEqual(['lib/graphite/sink.ts', 'lib/state/watermark.ts']);
      expect(outside(helper)).toEqual(['lib/cli/poll-command.ts']);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('the kit itself imports nothing in lib/ outside the kit (a poller cannot reach the runner through it)', () => {
    const files = readdirSync(KIT).filter((file) => file.endsWith('.ts'));
    expect(files).toContain('index.ts');
    for (const file of files) {
      const source = join(KIT, file);
      expect(importsOutsideKit(source, stripComments(readFileSync(source, 'utf8'))), `lib/poller-kit/${file}`).toEqual([]);
    }
  });
});

afterEach(() => {
  // A failed assertion inside the runtime check must not leave the spies in place for the next poller.
  restoreSpies?.();
});

/**
 * Values for the `${VAR}` references of an example that have no default, so the example validates without
 * the real secrets: a URL for *_URL/*_ROOT, digits for *_ID/*_PORT, a word otherwise.
 */
function dummyEnvironment(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [, name, fallback] of text.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)(:-[^}]*)?\}/g)) {
    if (fallback !== undefined || process.env[name!]) continue;
    // A database URL names its scheme (postgres://): port 65535, where nothing listens.
    env[name!] = /DATABASE_URL$/.test(name!)
      ? 'postgres://contract:contract-test-value@127.0.0.1:65535/contract'
      : /(URL|ROOT|ENDPOINT)$/.test(name!)
        ? 'http://contract-test.invalid/'
        : /(_ID|PORT|NUMBER)$/.test(name!)
          ? '123456789'
          : 'contract-test-value';
  }
  return env;
}

/** The example's top-level mapping with `${VAR}` filled in, or {} when it does not parse (the loading test says why). */
function readExample(text: string): Record<string, unknown> {
  try {
    const raw = (parseYaml(text) ?? {}) as Record<string, unknown>;
    return interpolateEnvironment(raw, { ...process.env, ...dummyEnvironment(text) }, 'example') as Record<string, unknown>;
  } catch {
    return {};
  }
}

/** `pollers/<name>.ts` and every .ts file under `pollers/<name>/` (its helper modules). */
function sourceFiles(name: string): string[] {
  const files = [join(POLLERS, `${name}.ts`)];
  const walk = (dir: string) => {
    if (!existsSync(dir)) return;
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.ts')) files.push(full);
    }
  };
  walk(join(POLLERS, name));
  return files;
}

/** Source without comments (a comment may well mention setInterval); `//` inside URLs is kept. */
function stripComments(code: string): string {
  return code.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`\\])\/\/.*$/gm, '$1');
}

function importsOf(code: string): string[] {
  const found: string[] = [];
  const pattern = new RegExp(
    [
      /\bfrom\s*['"]([^'"]+)['"]/.source,
      /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/.source,
      /\brequire\s*\(\s*['"]([^'"]+)['"]\s*\)/.source,
      /^\s*import\s*['"]([^'"]+)['"]/.source,
    ].join('|'),
    'gm',
  );
  for (const match of code.matchAll(pattern)) found.push((match[1] ?? match[2] ?? match[3] ?? match[4])!);
  return found;
}

/** The lib/ files outside lib/poller-kit/ that `source` imports (relative imports only: lib/ has no package name). */
function importsOutsideKit(source: string, code: string, lib = LIB): string[] {
  const kit = join(lib, 'poller-kit');
  const outside: string[] = [];
  for (const specifier of importsOf(code)) {
    if (!specifier.startsWith('.')) continue;
    const target = resolve(dirname(source), specifier);
    const inLib = !relative(lib, target).startsWith('..');
    const inKit = !relative(kit, target).startsWith('..');
    if (inLib && !inKit) outside.push(join('lib', relative(lib, target)));
  }
  return outside;
}

/** The SDK packages a poller's files import (type-only imports do not count: they open nothing). */
function sdkImports(name: string): string[] {
  const packages = new Set<string>();
  for (const source of sourceFiles(name)) {
    const code = stripComments(readFileSync(source, 'utf8')).replace(/^\s*import\s+type\s[^;]*;/gm, '');
    for (const specifier of importsOf(code)) if (SDK_PACKAGE.test(specifier)) packages.add(specifier);
  }
  return [...packages].sort();
}

let restoreSpies: (() => void) | undefined;

/** `https://host/path` of an http.request argument (a URL, a string or an options object). */
function describeTarget(target: unknown): string {
  if (typeof target === 'string' || target instanceof URL) return String(target);
  const options = target as { protocol?: string; hostname?: string; host?: string; path?: string } | undefined;
  return `${options?.protocol ?? ''}//${options?.hostname ?? options?.host ?? '?'}${options?.path ?? ''}`;
}

/**
 * Records, while a poll runs: socket connections (TCP, TLS and whatever rides on them, undici included),
 * UDP sockets, http(s).request, globalThis.fetch, setInterval, setTimeout timers and stdout writes. Sockets
 * and requests fail at once (nothing leaves the machine); timers still run, but those neither fired nor
 * cleared when poll returns are reported.
 */
interface Recorded {
  what: string;
  stack: string;
}

function watchSideEffects() {
  const sockets: Recorded[] = [];
  const globalFetches: Recorded[] = [];
  const intervals: string[] = [];
  const stdout: string[] = [];
  const timers = new Map<number, string>();
  const saved: Array<() => void> = [];
  const replace = <T extends object, K extends keyof T>(target: T, key: K, value: T[K]) => {
    const original = target[key];
    target[key] = value;
    saved.push(() => {
      target[key] = original;
    });
  };
  const where = () =>
    (new Error().stack ?? '')
      .split('\n')
      .slice(3, 6)
      .map((l) => l.trim())
      .join(' < ');
  const record = (list: Recorded[], what: string) => {
    // Deep enough to reach the SDK's frames below undici's or node's own.
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 100;
    const stack = new Error().stack ?? '';
    Error.stackTraceLimit = limit;
    list.push({
      what: `${what} at ${stack
        .split('\n')
        .slice(3, 6)
        .map((l) => l.trim())
        .join(' < ')}`,
      stack,
    });
  };

  replace(net.Socket.prototype, 'connect', function (this: net.Socket, ...args: unknown[]) {
    record(sockets, `net.Socket.connect(${JSON.stringify(args[0])})`);
    process.nextTick(() => this.destroy(new Error('the contract test allows no sockets in poll')));
    return this;
  } as net.Socket['connect']);
  replace(dgram, 'createSocket', ((...args: unknown[]) => {
    record(sockets, `dgram.createSocket(${JSON.stringify(args[0])})`);
    throw new Error('the contract test allows no sockets in poll');
  }) as typeof dgram.createSocket);
  for (const module of [http, https]) {
    for (const method of ['request', 'get'] as const) {
      replace(module, method, ((...args: unknown[]) => {
        record(sockets, `${module === http ? 'http' : 'https'}.${method}(${describeTarget(args[0])})`);
        throw new Error('the contract test allows no HTTP outside ctx.fetch');
      }) as typeof http.request);
    }
  }
  replace(globalThis, 'fetch', (async (input: string | URL | Request) => {
    record(globalFetches, String(input instanceof Request ? input.url : input));
    throw new Error('the contract test allows no global fetch in poll: use ctx.fetch');
  }) as typeof globalThis.fetch);

  const realSetTimeout = globalThis.setTimeout;
  const realClearTimeout = globalThis.clearTimeout;
  const realSetInterval = globalThis.setInterval;
  replace(globalThis, 'setTimeout', ((callback: (...a: unknown[]) => void, ms?: number, ...rest: unknown[]) => {
    const handle = realSetTimeout(
      (...a: unknown[]) => {
        timers.delete(Number(handle));
        callback(...a);
      },
      ms,
      ...rest,
    );
    timers.set(Number(handle), `setTimeout(${ms ?? 0} ms) at ${where()}`);
    return handle;
  }) as typeof setTimeout);
  replace(globalThis, 'clearTimeout', ((handle?: Parameters<typeof clearTimeout>[0]) => {
    if (handle !== undefined && handle !== null) timers.delete(Number(handle));
    realClearTimeout(handle);
  }) as typeof clearTimeout);
  replace(globalThis, 'setInterval', ((...args: Parameters<typeof setInterval>) => {
    intervals.push(`setInterval at ${where()}`);
    return realSetInterval(...args);
  }) as typeof setInterval);
  replace(process.stdout, 'write', ((chunk: unknown) => {
    stdout.push(String(chunk));
    return true;
  }) as typeof process.stdout.write);

  const restore = () => {
    for (const undo of saved.splice(0).reverse()) undo();
    restoreSpies = undefined;
  };
  restoreSpies = restore;
  return { sockets, globalFetches, intervals, stdout, pendingTimers: () => [...timers.values()], restore };
}
