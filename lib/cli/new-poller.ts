// `bin/new-poller.ts <name>`: writes a working poller skeleton, its example config and its test, or refuses in one line.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { ConfigError, EXIT_CONFIG } from '../poller-kit/config-error.ts';
import { formatDuration } from '../poller-kit/duration.ts';
import { exampleBlock } from '../config/example-config.ts';
import { documentOptions, type OptionDoc } from '../config/job-options.ts';
import { definePoller } from '../poller-kit/contract.ts';

/** The project's root: where pollers/, config/ and test/ are. */
export const PROJECT_ROOT = resolve(import.meta.dirname, '..', '..');

/** A poller name is a file name and a Graphite path node: lowercase letters, digits, "-", "_", a letter first. */
export const POLLER_NAME = /^[a-z][a-z0-9_-]{0,63}$/;

const USAGE = `Usage: node --import tsx bin/new-poller.ts <name> [--root DIR]

Writes pollers/<name>.ts (a working poller that GETs JSON from its \`url\` option), config/<name>.example.yaml
and test/pollers/<name>.test.ts, ready for \`npm test\`. Then fill in the places marked TODO; the walkthrough
is docs/adding-a-poller.md.

  <name>      lowercase letters, digits, "-" and "_", starting with a letter (a file name and a Graphite node)
  --root DIR  the checkout to write into (default: this one)`;

export interface ScaffoldFile {
  /** Relative to the root, with forward slashes. */
  path: string;
  text: string;
}

/** Refuses a name that is not a valid file and Graphite node name. */
export function checkPollerName(name: string): void {
  if (!POLLER_NAME.test(name)) {
    throw new ConfigError(
      `${JSON.stringify(name)} is not a valid poller name: use lowercase letters, digits, "-" and "_", starting with a letter (at most 64)`,
    );
  }
}

/** The three files of a new poller. */
export function scaffoldFiles(name: string): ScaffoldFile[] {
  checkPollerName(name);
  return [
    { path: `pollers/${name}.ts`, text: pollerSource(name) },
    { path: `config/${name}.example.yaml`, text: exampleConfig(name) },
    { path: `test/pollers/${name}.test.ts`, text: testSource(name) },
  ];
}

/** Writes the files under `root`; refuses (ConfigError) when any of them, or pollers/<name>/, exists. */
export function writeScaffold(name: string, root = PROJECT_ROOT): ScaffoldFile[] {
  const files = scaffoldFiles(name);
  const taken = [...files.map((f) => f.path), `pollers/${name}`].filter((path) => existsSync(join(root, path)));
  if (taken.length > 0) throw new ConfigError(`${taken[0]} already exists: the name ${JSON.stringify(name)} is taken, pick another`);
  for (const file of files) {
    const target = join(root, file.path);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, file.text, { flag: 'wx' }); // wx: never overwrite, even in a race
  }
  return files;
}

export async function newPollerCommand(
  argv: string[],
  io: { out: (line: string) => void; err: (line: string) => void } = {
    out: (line) => process.stdout.write(line + '\n'),
    err: (line) => process.stderr.write(line + '\n'),
  },
): Promise<number> {
  try {
    let parsed;
    try {
      parsed = parseArgs({
        args: argv,
        allowPositionals: true,
        options: { root: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      });
    } catch (error) {
      throw new ConfigError(`${(error as Error).message.split('\n')[0]} (see --help)`);
    }
    const { values, positionals } = parsed;
    if (values.help) {
      io.out(USAGE);
      return 0;
    }
    if (positionals.length !== 1)
      throw new ConfigError('expected one poller name, for example: node --import tsx bin/new-poller.ts status-page (see --help)');
    const name = positionals[0]!;
    const root = resolve(values.root ?? PROJECT_ROOT);
    const files = writeScaffold(name, root);
    io.out(files.map((f) => `created ${f.path}`).join('\n'));
    io.out(
      [
        '',
        'Next:',
        `  npx vitest run test/pollers/${name}.test.ts test/pollers/contract.test.ts   # passes as generated`,
        `  fill in the TODOs: the API call and the mapping in pollers/${name}.ts, a real answer in its test,`,
        `  the options in config/${name}.example.yaml; docs/adding-a-poller.md walks through each step.`,
        `  node --import tsx bin/poll.ts ${name} --once --dry-run --config config/${name}.example.yaml`,
      ].join('\n'),
    );
    return 0;
  } catch (error) {
    if (error instanceof ConfigError) {
      io.err(`new-poller: ${error.message}`);
      return EXIT_CONFIG;
    }
    io.err(`new-poller: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
}

function pollerSource(name: string): string {
  return `// ${name}: TODO say in one line what this poller reads, and from where.
import { z } from 'zod';
// A poller imports from lib/ only the poller kit (test/pollers/contract.test.ts checks it).
import { byteSize, deadline, DEFAULT_MAX_RESPONSE_BYTES, definePoller, duration, readBoundedJson } from '../lib/poller-kit/index.ts';

export default definePoller({
  name: '${name}',
  // One line for \`bin/poll.ts --list\`.
  summary: 'TODO: what ${name} measures',
  // One schema: validation, defaults, --help and the documentation of config/${name}.example.yaml. Every
  // option needs .describe() and a line in the example (test/pollers/contract.test.ts checks both).
  options: z.strictObject({
    url: z
      .url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' })
      .describe('The API endpoint to GET on every tick; it must answer a JSON object.'),
    headers: z
      .record(z.string(), z.string())
      .default({})
      .describe('Request headers, for example Authorization. Values may use \${ENV_VAR} so secrets stay in the environment or .env.'),
    prefix: z
      .string()
      .regex(/^[A-Za-z0-9_-]+(\\.[A-Za-z0-9_-]+)*$/, 'expected dot-separated nodes of letters, digits, "_" or "-"')
      .default('${name}')
      .describe('Path under which the values go: <prefix>.<field>.'),
    timeout: duration()
      .refine((s) => s > 0, 'expected more than 0 seconds')
      .default(10)
      .describe('Seconds the request may take before the run counts as failed.'),
    maxResponseBytes: byteSize()
      .refine((bytes) => bytes > 0, 'expected more than 0 bytes')
      .default(DEFAULT_MAX_RESPONSE_BYTES)
      .describe('The largest answer read, in bytes or with a unit ("512KiB", "16MiB"); past it the run fails and the rest is not read.'),
  }),
  // Default timing in seconds; every job may override it in its config.
  schedule: { interval: 60 },
  // A source that can answer for past periods declares \`history: { maxWindow, retention, step }\` here:
  // bin/backfill.ts and the catch-up after downtime then work with no more code (docs/adding-a-poller.md).

  async poll({ options, window, sink, signal, fetch, stats }) {
    // TODO: the API call. Use the context's \`fetch\` (tests hand in their own) and its \`signal\` (aborted
    // when the run's deadline passes or the process stops). deadline() adds the request's own timeout: not
    // AbortSignal.any with AbortSignal.timeout, whose timeout the garbage collector can drop on Node 20.
    const request = deadline(signal, options.timeout * 1000, \`GET \${where(options.url)}: no answer within \${options.timeout} s\`);
    let body: unknown;
    try {
      const response = await fetch(options.url, { headers: { accept: 'application/json', ...options.headers }, signal: request.signal });
      stats.count('api_calls');
      // Errors: throw. The runner logs one line, counts it in pollers.<job>.errors and keeps the loop going.
      if (!response.ok) {
        await response.body?.cancel();
        throw new Error(\`GET \${where(options.url)} answered \${response.status}\`);
      }
      // Read within a bound: an endless or huge answer fails the run instead of using up the process's memory.
      body = await readBoundedJson(response, options.maxResponseBytes, where(options.url));
    } finally {
      request.clear();
    }

    // TODO: the mapping. Build paths as arrays: each element is one node, sanitized by the sink, so a value
    // that comes from the API (a name, a key) can never add a node or break a line.
    const prefix = options.prefix.split('.');
    for (const [field, value] of numericFields(body)) sink.emit([...prefix, field], value, window.end);
  },
});

/** TODO: replace with your mapping. The top-level numeric fields of a JSON object. */
export function numericFields(body: unknown): Array<[string, number]> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new Error('expected a JSON object');
  return Object.entries(body).filter((entry): entry is [string, number] => typeof entry[1] === 'number' && Number.isFinite(entry[1]));
}

/** The URL for messages: without its query string, where tokens often hide. */
function where(url: string): string {
  const parsed = new URL(url);
  return \`\${parsed.host}\${parsed.pathname}\`;
}
`;
}

function testSource(name: string): string {
  return `// ${name} against a local HTTP server that stands in for the API. TODO: answer what the real API answers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import poller, { numericFields } from '../../pollers/${name}.ts';
import { testContext } from '../helpers/capture-sink.ts';
import { TestHttpServer } from '../helpers/http-server.ts';

const window = { start: 1_700_000_000, end: 1_700_000_060 };
let api: TestHttpServer;

beforeAll(async () => {
  api = await TestHttpServer.start(() => {});
});
afterAll(() => api.close());

function options(extra: Record<string, unknown> = {}) {
  return poller.options.parse({ url: \`\${api.url}/status\`, ...extra });
}

describe('${name}', () => {
  it('writes every numeric field under <prefix>, at the window end', async () => {
    // TODO: a real answer, copied from the API's documentation or recorded from the API itself.
    api.respond(200, { queued: 12, 'failed jobs': 3, name: 'main', paused: null });
    const ctx = testContext({ options: options(), window });
    await poller.poll(ctx);
    expect(ctx.sink.series()).toEqual({
      '${name}.queued': [[window.end, 12]],
      '${name}.failed jobs': [[window.end, 3]],
    });
    // A key from the API is one node, whatever it holds (the sink writes "failed jobs" as failed_jobs).
    expect(ctx.sink.points[1]!.nodes).toEqual(['${name}', 'failed jobs']);
    expect(ctx.stats.counters.api_calls).toBe(1);
  });

  it('sends the configured headers', async () => {
    api.respond(200, { queued: 1 });
    await poller.poll(testContext({ options: options({ headers: { authorization: 'Bearer t0ken' } }), window }));
    expect(api.requests.at(-1)!.headers.authorization).toBe('Bearer t0ken');
  });

  it('an error answer fails the run, and nothing is written', async () => {
    api.respond(503, { message: 'down for maintenance' });
    const ctx = testContext({ options: options(), window });
    await expect(poller.poll(ctx)).rejects.toThrow(/answered 503/);
    expect(ctx.sink.points).toEqual([]);
  });

  it('maps finite numbers only, from an object', () => {
    expect(numericFields({ a: 1, b: '2', c: null, d: [3] })).toEqual([['a', 1]]);
    expect(() => numericFields([1, 2])).toThrow(/expected a JSON object/);
  });
});
`;
}

function exampleConfig(name: string): string {
  const tokenVariable = `${name.toUpperCase().replace(/-/g, '_')}_TOKEN`;
  return `# ${name}: TODO say what this poller reads, and from where.
# Paths written on every tick, timestamped at the end of the tick's window:
#   <prefix>.<field>    every top-level numeric field of the answer (TODO: list your paths)
#
# Copy this file to config/${name}.yaml, or to config/<job>.yaml and pass --config for several jobs.
# Values shown commented out are the defaults.

# The API endpoint to GET on every tick; it must answer a JSON object. Required.
url: http://127.0.0.1:8080/${name}.json

# Request headers, for example Authorization. Values may use \${ENV_VAR} so secrets stay in the environment or
# .env. \${ENV_VAR:-default} gives a value for an unset variable. For example:
#   headers:
#     Authorization: Bearer \${${tokenVariable}}
# headers: {}

# Path under which the values go: <prefix>.<field>.
# prefix: ${name}

# Seconds the request may take before the run counts as failed. A duration works too: "10s", "1m".
# timeout: 10

# The largest answer read, in bytes or with a unit ("512KiB", "16MiB"); past it the run fails and the rest is
# not read. The failure is one line naming maxResponseBytes and the URL.
# maxResponseBytes: 16MiB

# --- Options of every job -------------------------------------------------------------------------
${commonOptionsSection(name)}`;
}

/** The keys every job accepts, documented from lib/config/job-options.ts itself, so the scaffold never drifts from it. */
function commonOptionsSection(name: string): string {
  const interval = 60;
  const probe = definePoller({ name, summary: '', options: z.strictObject({}), schedule: { interval }, poll: async () => {} });
  return documentOptions(probe)
    .filter((option) => option.common)
    .map((option) => `\n${exampleBlock(option, shownDefault(option, name, interval))}`)
    .join('');
}

function shownDefault(option: OptionDoc, name: string, interval: number): string | undefined {
  if (option.key === 'job') return name;
  if (option.key === 'runTimeout') return String(interval);
  if (option.key === 'catchUp' && typeof option.default === 'number') return formatDuration(option.default);
  return undefined;
}
