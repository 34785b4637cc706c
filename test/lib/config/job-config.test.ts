// Job configuration: YAML, ${VAR} references, the common keys, and one clear line per mistake.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { loadJobConfig } from '../../../lib/config/job-config.ts';
import { loadPoller, pollerNames } from '../../../lib/config/poller-registry.ts';
import { ConfigError } from '../../../lib/poller-kit/config-error.ts';
import { duration, parseDuration } from '../../../lib/poller-kit/duration.ts';
import { definePoller, type Poller } from '../../../lib/poller-kit/contract.ts';
import { tempDir } from '../../helpers/temp-dir.ts';

const poller = definePoller({
  name: 'sample',
  summary: 'test',
  options: z.strictObject({
    url: z.string().describe('where'),
    retries: z.number().int().default(3).describe('how often'),
    ttl: duration().default(300).describe('cache'),
    headers: z.record(z.string(), z.string()).default({}).describe('headers'),
    auth: z.strictObject({ user: z.string(), password: z.string() }).optional().describe('credentials'),
  }),
  schedule: { interval: 60, delay: 30 },
  // History: this job takes catchUp, like cloudwatch's and google-analytics'.
  history: { maxWindow: () => 86400, retention: () => 30 * 86400 },
  async poll() {},
}) as unknown as Poller;

/** A live-only source (host, http-json, github): catch-up has nothing to fetch again, so it has no catchUp key. */
const liveOnly = definePoller({
  name: 'live',
  summary: 'test',
  options: z.strictObject({ url: z.string().describe('where') }),
  schedule: { interval: 60 },
  async poll() {},
}) as unknown as Poller;

const dir = tempDir('config');
function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('durations', () => {
  it('accepts seconds and units', () => {
    expect([
      parseDuration(90),
      parseDuration('30s'),
      parseDuration('5m'),
      parseDuration('48h'),
      parseDuration('7d'),
      parseDuration('1.5h'),
    ]).toEqual([90, 30, 300, 172800, 604800, 5400]);
    expect(parseDuration('5 minutes')).toBeUndefined();
    expect(parseDuration(-1)).toBeUndefined();
  });
});

describe('loadJobConfig', () => {
  it('applies defaults, the poller schedule and the file name as job name', () => {
    const config = loadJobConfig(poller, { configFile: file('shop-api.yaml', 'url: http://x\nttl: 10m\ninterval: 5m\n') });
    expect(config.job).toBe('shop-api');
    expect(config.options).toEqual({ url: 'http://x', retries: 3, ttl: 600, headers: {} });
    expect(config.schedule).toEqual({ interval: 300, delay: 30, lookback: 0 });
    expect(config.runTimeout).toBe(300);
    expect(config.catchUp).toBe(86400);
  });

  it('replaces ${VAR} from the environment and refuses unset ones', () => {
    const path = file('env.yaml', 'url: http://x\nheaders:\n  Authorization: Bearer ${TOKEN_X}\n  X-Default: ${UNSET_Y:-fallback}\n');
    const config = loadJobConfig(poller, { configFile: path, env: { TOKEN_X: 'abc' } });
    expect(config.options.headers).toEqual({ Authorization: 'Bearer abc', 'X-Default': 'fallback' });
    const error = errorOf(() => loadJobConfig(poller, { configFile: path, env: {} }));
    expect(error.describe()).toMatch(/env\.yaml: headers\.Authorization: environment variable TOKEN_X is not set/);
  });

  it.each([
    ['missing required option', 'retries: 2\n', /: url: required, expected string/],
    ['wrong type', 'url: http://x\nretries: many\n', /: retries: expected number, received string/],
    ['unknown key', 'url: http://x\nretires: 2\n', /unknown option "retires"/],
    ['bad duration', 'url: http://x\ninterval: 5 minutes\n', /: interval: expected a duration such as 60/],
    ['zero interval', 'url: http://x\ninterval: 0\n', /: interval: expected at least 1 second/],
    ['bad YAML', 'url: [http://x\n', /: line \d+, column \d+: invalid YAML/],
    ['duplicate key', 'url: a\nurl: b\n', /: line 2, column 1: invalid YAML: Map keys must be unique/],
    ['top level list', '- url: a\n', /expected a mapping/],
  ])('%s → one line naming the file and field', (_, text, message) => {
    const path = file('bad.yaml', text);
    const error = errorOf(() => loadJobConfig(poller, { configFile: path }));
    expect(error.describe()).toMatch(message);
    expect(error.describe()).toContain('bad.yaml');
    expect(error.describe()).not.toContain('\n');
  });

  it.each([
    [
      'a misspelt key suggests the nearest one',
      'url: http://x\nintervall: 5\n',
      'bad.yaml: unknown option "intervall"; did you mean "interval"?',
    ],
    ['a swapped pair of letters', 'url: http://x\nretires: 2\n', 'bad.yaml: unknown option "retires"; did you mean "retries"?'],
    [
      'a nested key',
      'url: http://x\nauth:\n  user: u\n  pasword: p\n',
      'bad.yaml: auth: unknown option "pasword"; did you mean "password"?',
    ],
    ['a key near nothing', 'url: http://x\nmetrics: []\n', 'bad.yaml: unknown option "metrics"'],
    ['several keys', 'url: http://x\ncatchup: 1\nzzz: 1\n', 'bad.yaml: unknown options "catchup" (did you mean "catchUp"?), "zzz"'],
    ['a misspelt required key', 'ulr: http://x\n', 'bad.yaml: unknown option "ulr"; did you mean "url"?'],
    [
      'runTimeout 0',
      'url: http://x\nrunTimeout: 0\n',
      'bad.yaml: runTimeout: expected at least 1 second (leave it out to use the interval)',
    ],
    [
      'an interval of 100000 days',
      'url: http://x\ninterval: 100000d\n',
      'bad.yaml: interval: expected a duration of at most 366d, got "100000d"',
    ],
    [
      'an interval of 1e20 seconds',
      'url: http://x\ninterval: 1e20\n',
      'bad.yaml: interval: expected a duration of at most 366d, got 100000000000000000000',
    ],
    [
      'a lookback of 1e20 seconds',
      'url: http://x\nlookback: 1e20\n',
      'bad.yaml: lookback: expected a duration of at most 366d, got 100000000000000000000',
    ],
    ['a delay of 10 years', 'url: http://x\ndelay: 520w\n', 'bad.yaml: delay: expected a duration of at most 366d, got "520w"'],
    ['a catchUp of 400 days', 'url: http://x\ncatchUp: 400d\n', 'bad.yaml: catchUp: expected a duration of at most 366d, got "400d"'],
    [
      "a poller's own duration",
      'url: http://x\nttl: 1e20\n',
      'bad.yaml: ttl: expected a duration of at most 366d, got 100000000000000000000',
    ],
  ])('%s → exactly one line naming file and field', (_, text, line) => {
    const error = errorOf(() => loadJobConfig(poller, { configFile: file('bad.yaml', text) }));
    expect(error.describe().replace(dir + '/', '')).toBe(line);
  });

  it('offers catchUp only to pollers with history: elsewhere it is an unknown option, in one line', () => {
    const error = errorOf(() => loadJobConfig(liveOnly, { configFile: file('live.yaml', 'url: http://x\ncatchUp: 1h\n') }));
    expect(error.describe().replace(dir + '/', '')).toBe('live.yaml: unknown option "catchUp"');
    expect(loadJobConfig(liveOnly, { configFile: file('live.yaml', 'url: http://x\n') }).catchUp).toBe(0);
  });

  it('accepts a duration of a year', () => {
    expect(loadJobConfig(poller, { configFile: file('year.yaml', 'url: http://x\ncatchUp: 366d\n') }).catchUp).toBe(366 * 86400);
  });

  it('refuses a YAML alias bomb (billion laughs) naming the key where it expands', () => {
    const bomb = [
      'url: http://x',
      'a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]',
      ...['b', 'c', 'd', 'e', 'f'].map(
        (name, i) =>
          `${name}: &${name} [${Array(9)
            .fill('*' + 'abcde'[i])
            .join(', ')}]`,
      ),
      '',
    ].join('\n');
    const error = errorOf(() => loadJobConfig(poller, { configFile: file('bomb.yaml', bomb) }));
    expect(error.describe().replace(dir + '/', '')).toBe(
      'bomb.yaml: d: invalid YAML: its aliases (*name) expand to too many values (a "billion laughs"); write the values out instead',
    );
  });

  it('says "create the file from its .example.yaml" for every poller that cannot run without a file', async () => {
    const before = process.cwd();
    process.chdir(tempDir('no-config'));
    try {
      const needingFile: string[] = [];
      for (const name of pollerNames()) {
        const real = await loadPoller(name);
        expect(existsSync(`config/${name}.yaml`)).toBe(false);
        let error: ConfigError | undefined;
        try {
          loadJobConfig(real);
        } catch (e) {
          error = e as ConfigError;
        }
        if (!error) continue;
        needingFile.push(name);
        expect(error).toBeInstanceOf(ConfigError);
        expect(error.describe().startsWith(`config/${name}.yaml (not found): `), error.describe()).toBe(true);
        expect(error.describe().endsWith(' (create the file from its .example.yaml)'), error.describe()).toBe(true);
      }
      expect(needingFile).toEqual(expect.arrayContaining(['cloudwatch', 'github', 'google-analytics', 'http-json']));
    } finally {
      process.chdir(before);
    }
  });

  it('names a missing file', () => {
    expect(errorOf(() => loadJobConfig(poller, { configFile: join(dir, 'nope.yaml') })).describe()).toMatch(/nope\.yaml: file not found/);
  });
});
