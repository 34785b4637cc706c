// The environment contract: one schema for every variable (defaults, checks, --help), held to .env.example and the code.
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../lib/poller-kit/config-error.ts';
import { ENVIRONMENT, environmentHelp, graphiteTransport, readEnvironment } from '../../../lib/config/environment.ts';
import { ROOT, runCommand } from '../../helpers/run-command.ts';
import { tempDir } from '../../helpers/temp-dir.ts';

function errorOf(env: NodeJS.ProcessEnv): ConfigError {
  try {
    readEnvironment(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify(env)}`);
}

describe('readEnvironment', () => {
  it('has defaults for a bare environment: stdout, no prefix, ./state, info, text', () => {
    expect(readEnvironment({})).toEqual({
      graphiteUrl: undefined,
      prefix: undefined,
      queueLimit: 500_000,
      tags: false,
      stateDir: resolve('state'),
      selfMetrics: true,
      logLevel: 'info',
      logFormat: 'text',
      shard: undefined,
      pollersPath: [],
    });
    expect(readEnvironment({ GRAPHITE_URL: '-' }).graphiteUrl).toBeUndefined();
    // Empty (LOG_LEVEL= in .env) and blank mean unset.
    expect(readEnvironment({ LOG_LEVEL: '', SELF_METRICS: ' ', GRAPHITE_TAGS: '' })).toMatchObject({
      logLevel: 'info',
      selfMetrics: true,
      tags: false,
    });
  });

  it('reads every variable', () => {
    const env = readEnvironment({
      GRAPHITE_URL: 'tcp://carbon:2003',
      GRAPHITE_PREFIX: '.prod.web.',
      GRAPHITE_QUEUE_LIMIT: '1000',
      GRAPHITE_TAGS: '1',
      STATE_DIR: '/var/lib/gp',
      SELF_METRICS: 'off',
      LOG_LEVEL: 'DEBUG',
      LOG_FORMAT: 'json',
      SHARD: '2/3',
      POLLERS_PATH: 'test/helpers/pollers',
    });
    expect(env).toEqual({
      graphiteUrl: 'tcp://carbon:2003',
      prefix: 'prod.web',
      queueLimit: 1000,
      tags: true,
      stateDir: '/var/lib/gp',
      selfMetrics: false,
      logLevel: 'debug',
      logFormat: 'json',
      shard: { index: 1, count: 3 },
      pollersPath: [resolve('test/helpers/pollers')],
    });
  });

  it.each([
    [{ SELF_METRICS: 'bogus' }, 'environment: SELF_METRICS: expected 1 (on) or 0 (off), got "bogus"'],
    [{ LOG_LEVEL: 'verbose' }, 'environment: LOG_LEVEL: expected debug, info, warn or error, got "verbose"'],
    [{ LOG_FORMAT: 'yaml' }, 'environment: LOG_FORMAT: expected text or json, got "yaml"'],
    [{ GRAPHITE_TAGS: 'ture' }, 'environment: GRAPHITE_TAGS: expected 1 (tagged series) or 0 (plain series), got "ture"'],
    [{ GRAPHITE_QUEUE_LIMIT: 'lots' }, 'environment: GRAPHITE_QUEUE_LIMIT: expected a positive whole number of datapoints, got "lots"'],
    [{ GRAPHITE_QUEUE_LIMIT: '0' }, 'environment: GRAPHITE_QUEUE_LIMIT: expected a positive whole number of datapoints, got "0"'],
    [
      { GRAPHITE_PREFIX: 'prod web' },
      'environment: GRAPHITE_PREFIX: expected nodes of letters, digits, "_" or "-" separated by dots, got "prod web"',
    ],
    [
      { GRAPHITE_PREFIX: 'prod..web' },
      'environment: GRAPHITE_PREFIX: expected nodes of letters, digits, "_" or "-" separated by dots, got "prod..web"',
    ],
    [{ SHARD: '3/2' }, 'environment: SHARD: expected i/n with 1 ≤ i ≤ n ≤ 1024, such as 1/2 or 2/2; got "3/2"'],
    [
      { POLLERS_PATH: '/no/such/dir' },
      'environment: POLLERS_PATH: expected directories separated by ":", but there is no directory "/no/such/dir"',
    ],
    [
      { GRAPHITE_URL: 'carbon:2003' },
      `environment: GRAPHITE_URL: expected tcp://host:port, tls://host:port, udp://host:port, ` +
        `an https:// URL or '-' for stdout, got "carbon:2003"`,
    ],
    [
      { GRAPHITE_URL: 'tcp://carbon' },
      `environment: GRAPHITE_URL: missing port in "tcp://carbon": expected tcp://carbon:port (carbon's line receiver is usually 2003)`,
    ],
  ])('refuses %o with one line naming the variable', (env, line) => {
    const error = errorOf(env);
    expect(error.describe()).toBe(line);
  });

  it.each([
    [
      { GRAPHITE_URL: 'tcp://h:2003', GRAPHITE_TOKEN: 'sekrit-token' },
      'environment: GRAPHITE_TOKEN: is only sent to an https:// ingestion URL; over tls:// a key goes in GRAPHITE_PREFIX as the first node',
    ],
    [{ GRAPHITE_URL: 'https://h/graphite/metrics', GRAPHITE_USER: '1234' }, 'environment: GRAPHITE_USER: needs GRAPHITE_TOKEN'],
    [
      { GRAPHITE_URL: 'https://h/graphite/metrics', GRAPHITE_AUTH: 'sekrit-token' },
      'environment: GRAPHITE_AUTH: expected <user>:<token> (the value is not shown: it is a secret)',
    ],
    [
      { GRAPHITE_URL: 'https://h/graphite/metrics', GRAPHITE_AUTH: '1:sekrit', GRAPHITE_TOKEN: 'sekrit2' },
      'environment: GRAPHITE_AUTH: set either GRAPHITE_AUTH or GRAPHITE_USER with GRAPHITE_TOKEN, not both',
    ],
    [
      { GRAPHITE_URL: 'tls://h:2004', GRAPHITE_TLS_CA: '/no/such/ca.pem' },
      'environment: GRAPHITE_TLS_CA: expected a readable PEM file, cannot read "/no/such/ca.pem" (ENOENT)',
    ],
    [
      { GRAPHITE_URL: 'tls://h:2004', GRAPHITE_TLS_CA: 'package.json' },
      'environment: GRAPHITE_TLS_CA: expected a PEM file holding a CERTIFICATE, ' +
        'but "package.json" has no "-----BEGIN ...CERTIFICATE-----" block',
    ],
    [
      { GRAPHITE_URL: 'tls://h:2004', GRAPHITE_TLS_CERT: 'package.json', GRAPHITE_TLS_KEY: 'package.json' },
      'environment: GRAPHITE_TLS_CERT: expected a PEM file holding a CERTIFICATE, ' +
        'but "package.json" has no "-----BEGIN ...CERTIFICATE-----" block',
    ],
    [
      { GRAPHITE_URL: 'https://h/m?api_key=sekrit' },
      'environment: GRAPHITE_URL: expected the ingestion URL without a query string ' +
        '(a token goes in GRAPHITE_TOKEN), got "https://h/m?***"',
    ],
  ])('checks the transport variables: %o', (env, line) => {
    const error = errorOf(env);
    expect(error.describe()).toBe(line);
    expect(error.describe()).not.toContain('sekrit');
  });

  it('refuses a CA for a plaintext URL (it would look like encryption and not be), and a certificate without its key', () => {
    const ca = join(tempDir('env-tls'), 'ca.pem');
    writeFileSync(ca, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    try {
      expect(errorOf({ GRAPHITE_URL: 'tcp://h:2003', GRAPHITE_TLS_CA: ca }).describe()).toBe(
        'environment: GRAPHITE_TLS_CA: is set, but GRAPHITE_URL is not tls:// or https://: use tls://host:port to encrypt',
      );
      expect(errorOf({ GRAPHITE_URL: 'tls://h:2004', GRAPHITE_TLS_CERT: ca }).describe()).toBe(
        'environment: GRAPHITE_TLS_KEY: must be set together with GRAPHITE_TLS_CERT (a client certificate and its key)',
      );
      const environment = readEnvironment({ GRAPHITE_URL: 'tls://h:2004', GRAPHITE_TLS_CA: ca });
      expect(graphiteTransport(environment)).toEqual({ tls: { ca: readFileSync(ca, 'utf8') }, http: {} });
      const https = readEnvironment({
        GRAPHITE_URL: 'https://h.grafana.net/graphite/metrics',
        GRAPHITE_USER: '123',
        GRAPHITE_TOKEN: 'glc_x',
      });
      expect(graphiteTransport(https).http).toEqual({ user: '123', token: 'glc_x' });
    } finally {
      rmSync(ca, { force: true });
    }
  });

  it.each([
    ['tcp://h:2003?password=hunter2', 'got "tcp://h:2003?***"'],
    ['tcp://h:2003/?token=hunter2&x=1', 'got "tcp://h:2003/?***"'],
    ['tcp://admin:hunter2@h:2003', 'got "tcp://admin:***@h:2003"'],
    ['http://admin:hunter2@h:2003/', 'got "http://admin:***@h:2003/"'],
    ['tcp://:hun@ter2@h:2003', 'got "tcp://:***@h:2003"'],
  ])('masks the secret of GRAPHITE_URL=%s in its error line', (url, shown) => {
    const line = errorOf({ GRAPHITE_URL: url }).describe();
    expect(line).toMatch(/^environment: GRAPHITE_URL: /);
    expect(line).toContain(shown);
    expect(line).not.toMatch(/hunter2|ter2/);
  });
});

describe('the schema is the one place variables are declared', () => {
  const names = ENVIRONMENT.map((variable) => variable.name);
  // Read by pollers or by the SDKs they use, documented in .env.example under their poller.
  const POLLER_VARIABLES = [
    'AWS_REGION',
    'AWS_DEFAULT_REGION',
    'AWS_PROFILE',
    'AWS_ACCESS_KEY_ID',
    'AWS_SECRET_ACCESS_KEY',
    'AWS_SESSION_TOKEN',
    'AWS_ENDPOINT_URL_CLOUDWATCH',
    'AWS_ENDPOINT_URL',
    'GOOGLE_APPLICATION_CREDENTIALS',
    'GOOGLE_OAUTH_ACCESS_TOKEN',
    'GA4_API_ROOT_URL',
    'GITHUB_TOKEN',
  ];
  // .env.example's samples of a user's own ${VAR} for a config (config/http-json.example.yaml, config/sql.example.yaml),
  // and the ${VAR}s config/prometheus.example.yaml refers to (the poller reads its options, never the environment).
  const EXAMPLE_VARIABLES = [
    'STATUS_API_TOKEN',
    'DATABASE_URL',
    'PROMETHEUS_URL',
    'PROMETHEUS_TOKEN',
    'PROMETHEUS_USERNAME',
    'PROMETHEUS_PASSWORD',
    'PROMETHEUS_TENANT',
  ];

  function sources(dir: string): string[] {
    return readdirSync(join(ROOT, dir), { recursive: true, encoding: 'utf8' })
      .filter((file) => file.endsWith('.ts'))
      .map((file) => readFileSync(join(ROOT, dir, file), 'utf8'));
  }
  const READ = /\benv\??\.([A-Z][A-Z0-9_]+)|\benv\[['"]([A-Z][A-Z0-9_]+)['"]\]/g;
  const readIn = (texts: string[]) => new Set(texts.flatMap((text) => [...text.matchAll(READ)].map((m) => m[1] ?? m[2]!)));

  it('declares every variable lib/ and bin/ read', () => {
    const read = readIn([...sources('lib'), ...sources('bin')]);
    // LOG_*, STATE_DIR, SHARD, POLLERS_PATH are read where they are used, too: the pattern must find them.
    expect(read.size).toBeGreaterThanOrEqual(4);
    expect([...read].filter((name) => !names.includes(name))).toEqual([]);
  });

  it('knows every variable the pollers read themselves', () => {
    expect([...readIn(sources('pollers'))].filter((name) => !POLLER_VARIABLES.includes(name))).toEqual([]);
  });

  it('.env.example documents every variable, and none it does not know', () => {
    const text = readFileSync(join(ROOT, '.env.example'), 'utf8');
    const documented = [...text.matchAll(/^#?\s*([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]!);
    expect(documented.filter((name) => ![...names, ...POLLER_VARIABLES, ...EXAMPLE_VARIABLES].includes(name))).toEqual([]);
    expect([...names, ...POLLER_VARIABLES].filter((name) => !documented.includes(name))).toEqual([]);
    // Each with the schema's default, where it shows one.
    const lines = text.split('\n');
    for (const variable of ENVIRONMENT) {
      let at = lines.findIndex((line) => new RegExp(`^#?\\s*${variable.name}=`).test(line));
      const comment: string[] = [];
      while (--at >= 0 && lines[at]!.startsWith('# ') && !/^#?\s*[A-Z][A-Z0-9_]+=|^# ---/.test(lines[at]!)) comment.unshift(lines[at]!);
      expect(comment.join(' '), variable.name).toContain(`Default ${variable.default}.`);
    }
  });

  it('lists each variable once in --help, only for the commands that read it', () => {
    const poll = environmentHelp('poll');
    const backfill = environmentHelp('backfill');
    for (const variable of ENVIRONMENT) {
      expect(poll.match(new RegExp(`^  ${variable.name} `, 'gm')), variable.name).toHaveLength(1);
      expect(backfill.includes(`  ${variable.name} `), variable.name).toBe(variable.commands.includes('backfill'));
    }
    expect(poll).toContain('SELF_METRICS');
    expect(backfill).not.toContain('SELF_METRICS');
  });
});

describe('bin/ commands with a bad environment', () => {
  const oneErrorLine = (stderr: string) => stderr.split('\n').filter((line) => line !== '');

  it.each([
    [['bin/poll.ts', 'host', '--once'], { SELF_METRICS: 'bogus' }, 'environment: SELF_METRICS: expected 1 (on) or 0 (off), got "bogus"'],
    [
      ['bin/poll.ts', 'host', '--once'],
      { LOG_LEVEL: 'verbose' },
      'environment: LOG_LEVEL: expected debug, info, warn or error, got "verbose"',
    ],
    [['bin/poll.ts', 'host', '--once'], { LOG_FORMAT: 'yaml' }, 'environment: LOG_FORMAT: expected text or json, got "yaml"'],
    [
      ['bin/poll.ts', 'host', '--once'],
      { GRAPHITE_URL: 'tcp://h:2003?password=hunter2' },
      `environment: GRAPHITE_URL: expected tcp://host:port, tls://host:port, udp://host:port, ` +
        `an https:// URL or '-' for stdout, got "tcp://h:2003?***"`,
    ],
    [
      ['bin/backfill.ts', 'cloudwatch', '--from', '-1h'],
      { LOG_LEVEL: 'verbose' },
      'environment: LOG_LEVEL: expected debug, info, warn or error, got "verbose"',
    ],
  ])('%j with %o: exit 78, one line, no stack trace', async (args, env, message) => {
    const result = await runCommand(args, {
      env: { GRAPHITE_URL: '-', LOG_FORMAT: 'text', STATE_DIR: join(ROOT, 'state-never-written'), ...env },
    });
    expect(result.code, result.stderr).toBe(78);
    expect(result.stdout).toBe('');
    const lines = oneErrorLine(result.stderr);
    expect(lines, result.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(/^\S+Z ERROR /);
    expect(lines[0]!.replace(/^\S+Z ERROR /, '')).toBe(message);
  });

  it('keeps LOG_FORMAT=json for the error line when only LOG_LEVEL is wrong', async () => {
    const result = await runCommand(['bin/poll.ts', 'host', '--once'], {
      env: { GRAPHITE_URL: '-', LOG_FORMAT: 'json', LOG_LEVEL: 'loud' },
    });
    expect(result.code).toBe(78);
    const lines = oneErrorLine(result.stderr);
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({
      level: 'error',
      msg: 'environment: LOG_LEVEL: expected debug, info, warn or error, got "loud"',
    });
  });

  it('prints the Environment paragraph of the schema in --help', async () => {
    const result = await runCommand(['bin/poll.ts', '--help'], { env: { GRAPHITE_URL: '-' } });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(environmentHelp('poll'));
  });
});
