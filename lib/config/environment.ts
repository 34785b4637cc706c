// The environment contract, declared once: every variable lib/ and bin/ read, with its meaning, default and check.
// It validates the environment at start, writes the `Environment:` part of --help, and .env.example is tested against it.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { delimiter, resolve } from 'node:path';
import { ConfigError } from '../poller-kit/config-error.ts';
import { parseGraphiteUrl } from '../graphite/url.ts';
import { DEFAULT_QUEUE_LIMIT, type GraphiteWriterOptions } from '../graphite/writer-types.ts';
import { readLogFormat, readLogLevel, type LogFormat, type LogLevel } from '../poller-kit/logger.ts';
import { sanitizeNode } from '../graphite/metric-path.ts';
import { parseShard, type Shard } from '../poller-kit/shard.ts';
import { stateDir } from '../state/state-file.ts';

export interface RuntimeEnvironment {
  /** `tcp://host:port`, `udp://host:port`, or undefined for stdout (unset or `-`). */
  graphiteUrl: string | undefined;
  prefix: string | undefined;
  queueLimit: number;
  tags: boolean;
  stateDir: string;
  selfMetrics: boolean;
  logLevel: LogLevel;
  logFormat: LogFormat;
  /** SHARD as given; `--shard` wins over it and the poller decides whether it can split (lib/poller-kit/shard.ts). */
  shard: Shard | undefined;
  /** POLLERS_PATH's directories, each checked to exist. */
  pollersPath: string[];
  /** GRAPHITE_TLS_CA, GRAPHITE_TLS_CERT, GRAPHITE_TLS_KEY: the PEM text of each file (tls:// and https://). */
  tlsCa?: string | undefined;
  tlsCert?: string | undefined;
  tlsKey?: string | undefined;
  /** GRAPHITE_USER, GRAPHITE_TOKEN, GRAPHITE_AUTH: an http(s):// endpoint's credentials (secrets: never logged). */
  graphiteUser?: string | undefined;
  graphiteToken?: string | undefined;
  graphiteAuth?: string | undefined;
}

export type CommandName = 'poll' | 'backfill';

export interface EnvironmentVariable {
  readonly name: string;
  /** One line for --help: what it does and the values it takes. */
  readonly meaning: string;
  /** The value when unset or empty, as a user reads it. */
  readonly default: string;
  /** The commands that read it. */
  readonly commands: readonly CommandName[];
}

interface Declared<K extends keyof RuntimeEnvironment> extends EnvironmentVariable {
  readonly key: K;
  /** The value of a set, non-empty variable (trimmed); throws an Error saying what is expected. */
  parse(text: string): RuntimeEnvironment[K];
  /** The value when the variable is unset or empty. */
  fallback(env: NodeJS.ProcessEnv): RuntimeEnvironment[K];
}

const BOTH: readonly CommandName[] = ['poll', 'backfill'];

function declare<K extends keyof RuntimeEnvironment>(variable: Declared<K>): Declared<K> {
  return variable;
}

// A typo (GRAPHITE_TAGS=ture, SELF_METRICS=of) must not quietly switch a feature off or on.
function parseSwitch(on: string, off: string) {
  return (text: string): boolean => {
    if (/^(1|true|yes|on)$/i.test(text)) return true;
    if (/^(0|false|no|off)$/i.test(text)) return false;
    throw new Error(`expected 1 (${on}) or 0 (${off}), got ${JSON.stringify(text)}`);
  };
}

/** A PEM file's text, checked to hold `what` (`CERTIFICATE`, `PRIVATE KEY`): a wrong path fails at start, not at connect. */
function pemFile(what: string) {
  return (path: string): string => {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'error';
      throw new Error(`expected a readable PEM file, cannot read ${JSON.stringify(path)} (${code})`);
    }
    if (!new RegExp(`-----BEGIN [A-Z ]*${what}-----`).test(text)) {
      throw new Error(`expected a PEM file holding a ${what}, but ${JSON.stringify(path)} has no "-----BEGIN ...${what}-----" block`);
    }
    return text;
  };
}

/** A client certificate needs its key and the other way round: one without the other is refused. */
function needs(other: string) {
  return (env: NodeJS.ProcessEnv): undefined => {
    if (env[other]?.trim()) throw new Error(`must be set together with ${other} (a client certificate and its key)`);
    return undefined;
  };
}

/** Every variable the commands read, in the order --help lists them. */
export const ENVIRONMENT = [
  declare({
    key: 'graphiteUrl',
    name: 'GRAPHITE_URL',
    meaning: 'where datapoints go: tcp://host:2003, tls://host:port, udp://host:2003, an https:// ingestion URL, or - for stdout',
    default: 'stdout',
    commands: BOTH,
    parse: (text) => (parseGraphiteUrl(text).kind === 'stdout' ? undefined : text),
    fallback: () => undefined,
  }),
  declare({
    key: 'tlsCa',
    name: 'GRAPHITE_TLS_CA',
    meaning: 'tls:// and https://: a PEM file of the CA to trust instead of the system store',
    default: 'the system store',
    commands: BOTH,
    parse: pemFile('CERTIFICATE'),
    fallback: () => undefined,
  }),
  declare({
    key: 'tlsCert',
    name: 'GRAPHITE_TLS_CERT',
    meaning: 'tls:// and https://: a PEM client certificate, with GRAPHITE_TLS_KEY',
    default: 'none',
    commands: BOTH,
    parse: pemFile('CERTIFICATE'),
    fallback: needs('GRAPHITE_TLS_KEY'),
  }),
  declare({
    key: 'tlsKey',
    name: 'GRAPHITE_TLS_KEY',
    meaning: "tls:// and https://: the client certificate's PEM private key",
    default: 'none',
    commands: BOTH,
    parse: pemFile('PRIVATE KEY'),
    fallback: needs('GRAPHITE_TLS_CERT'),
  }),
  declare({
    key: 'graphiteUser',
    name: 'GRAPHITE_USER',
    meaning: 'https://: the user (Grafana Cloud: the Graphite instance ID), with GRAPHITE_TOKEN',
    default: 'none',
    commands: BOTH,
    parse: (text) => text,
    fallback: () => undefined,
  }),
  declare({
    key: 'graphiteToken',
    name: 'GRAPHITE_TOKEN',
    meaning: 'https://: the token (Grafana Cloud: an access policy token with metrics:write); never logged',
    default: 'none',
    commands: BOTH,
    parse: (text) => text,
    fallback: () => undefined,
  }),
  declare({
    key: 'graphiteAuth',
    name: 'GRAPHITE_AUTH',
    meaning: 'https://: <user>:<token> in one secret, instead of GRAPHITE_USER and GRAPHITE_TOKEN; never logged',
    default: 'none',
    commands: BOTH,
    parse: (text) => {
      if (!/^[^:\s]+:\S+$/.test(text)) throw new Error('expected <user>:<token> (the value is not shown: it is a secret)');
      return text;
    },
    fallback: () => undefined,
  }),
  declare({
    key: 'prefix',
    name: 'GRAPHITE_PREFIX',
    meaning: 'prepended to every path, self-metrics included, such as prod.host1',
    default: 'none',
    commands: BOTH,
    parse: (text) => {
      const prefix = text.replace(/^\.+|\.+$/g, '');
      // The sink would silently rewrite a node it cannot write ("prod web" → prod_web): say so instead.
      if (prefix !== '' && !prefix.split('.').every((node) => node !== '' && sanitizeNode(node) === node)) {
        throw new Error(`expected nodes of letters, digits, "_" or "-" separated by dots, got ${JSON.stringify(text)}`);
      }
      return prefix || undefined;
    },
    fallback: () => undefined,
  }),
  declare({
    key: 'queueLimit',
    name: 'GRAPHITE_QUEUE_LIMIT',
    meaning: 'datapoints held while Graphite is away; a live job drops the oldest beyond it',
    default: String(DEFAULT_QUEUE_LIMIT),
    commands: BOTH,
    parse: (text) => {
      const limit = Number(text);
      if (!Number.isSafeInteger(limit) || limit < 1) {
        throw new Error(`expected a positive whole number of datapoints, got ${JSON.stringify(text)}`);
      }
      return limit;
    },
    fallback: () => DEFAULT_QUEUE_LIMIT,
  }),
  declare({
    key: 'tags',
    name: 'GRAPHITE_TAGS',
    meaning: '1: tagged series (name;tag=value) where a poller offers tags; 0: tags are dropped',
    default: '0',
    commands: BOTH,
    parse: parseSwitch('tagged series', 'plain series'),
    fallback: () => false,
  }),
  declare({
    key: 'selfMetrics',
    name: 'SELF_METRICS',
    meaning: '0 turns off the self-metrics <prefix>.pollers.<job>.*',
    default: '1',
    commands: ['poll'],
    parse: parseSwitch('on', 'off'),
    fallback: () => true,
  }),
  declare({
    key: 'stateDir',
    name: 'STATE_DIR',
    meaning: 'watermarks (the last delivered window of each job) and backfill progress',
    default: './state',
    commands: BOTH,
    parse: (text) => stateDir({ STATE_DIR: text }),
    fallback: () => stateDir({}),
  }),
  declare({
    key: 'logFormat',
    name: 'LOG_FORMAT',
    meaning: 'text, or json for log shippers (one object per line)',
    default: 'text',
    commands: BOTH,
    parse: readLogFormat,
    fallback: () => 'text',
  }),
  declare({
    key: 'logLevel',
    name: 'LOG_LEVEL',
    meaning: 'debug, info, warn or error',
    default: 'info',
    commands: BOTH,
    parse: readLogLevel,
    fallback: () => 'info',
  }),
  declare({
    key: 'shard',
    name: 'SHARD',
    meaning: 'i/n: only the i-th of n shares of the job, like --shard i/n',
    default: 'none',
    commands: BOTH,
    parse: parseShard,
    fallback: () => undefined,
  }),
  declare({
    key: 'pollersPath',
    name: 'POLLERS_PATH',
    meaning: `more directories of poller files, separated by "${delimiter}"`,
    default: 'none',
    commands: BOTH,
    parse: (text) =>
      text
        .split(delimiter)
        .filter(Boolean)
        .map((directory) => {
          // A typo would only show as "unknown poller" later, naming none of this.
          if (!existsSync(directory) || !statSync(directory).isDirectory()) {
            throw new Error(`expected directories separated by "${delimiter}", but there is no directory ${JSON.stringify(directory)}`);
          }
          return resolve(directory);
        }),
    fallback: () => [],
  }),
] as const;

/**
 * Every variable of ENVIRONMENT, read and checked: unset or empty means the default; a value that is not valid
 * is a ConfigError naming `environment` and the variable (one line, exit 78), never a silent default.
 */
export function readEnvironment(env: NodeJS.ProcessEnv = process.env): RuntimeEnvironment {
  const values: Partial<Record<keyof RuntimeEnvironment, unknown>> = {};
  for (const variable of ENVIRONMENT as readonly Declared<keyof RuntimeEnvironment>[]) {
    const text = env[variable.name]?.trim();
    try {
      values[variable.key] = text ? variable.parse(text) : variable.fallback(env);
    } catch (error) {
      throw new ConfigError((error as Error).message, { file: 'environment', field: variable.name });
    }
  }
  checkGraphiteTransport(values as RuntimeEnvironment);
  return values as RuntimeEnvironment;
}

/**
 * The TLS and credential variables belong to a URL scheme: set for another one they would be silently unused (a
 * CA set for tcp:// looks like encryption and is not), so that is refused, like a user without a token.
 */
function checkGraphiteTransport(environment: RuntimeEnvironment): void {
  const kind = parseGraphiteUrl(environment.graphiteUrl).kind;
  const refuse = (field: string, message: string) => {
    throw new ConfigError(message, { file: 'environment', field });
  };
  if (kind !== 'tls' && kind !== 'http') {
    const plaintext = 'is set, but GRAPHITE_URL is not tls:// or https://: use tls://host:port to encrypt';
    if (environment.tlsCa) refuse('GRAPHITE_TLS_CA', plaintext);
    if (environment.tlsCert) refuse('GRAPHITE_TLS_CERT', plaintext);
  }
  const credentials = environment.graphiteUser || environment.graphiteToken || environment.graphiteAuth;
  if (credentials && kind !== 'http') {
    const field = environment.graphiteAuth ? 'GRAPHITE_AUTH' : environment.graphiteToken ? 'GRAPHITE_TOKEN' : 'GRAPHITE_USER';
    refuse(field, 'is only sent to an https:// ingestion URL; over tls:// a key goes in GRAPHITE_PREFIX as the first node');
  }
  if (environment.graphiteAuth && (environment.graphiteUser || environment.graphiteToken)) {
    refuse('GRAPHITE_AUTH', 'set either GRAPHITE_AUTH or GRAPHITE_USER with GRAPHITE_TOKEN, not both');
  }
  if (environment.graphiteUser && !environment.graphiteToken) refuse('GRAPHITE_USER', 'needs GRAPHITE_TOKEN');
}

/** The writer options the TLS and credential variables make (spread into createGraphiteWriter's). */
export function graphiteTransport(environment: RuntimeEnvironment): Pick<GraphiteWriterOptions, 'tls' | 'http'> {
  const tls = {
    ...(environment.tlsCa ? { ca: environment.tlsCa } : {}),
    ...(environment.tlsCert ? { cert: environment.tlsCert } : {}),
    ...(environment.tlsKey ? { key: environment.tlsKey } : {}),
  };
  const http = {
    ...(environment.graphiteUser ? { user: environment.graphiteUser } : {}),
    ...(environment.graphiteToken ? { token: environment.graphiteToken } : {}),
    ...(environment.graphiteAuth ? { auth: environment.graphiteAuth } : {}),
  };
  return { tls, http };
}

/** The `Environment:` paragraph of a command's --help, from ENVIRONMENT. */
export function environmentHelp(command: CommandName): string {
  const variables = ENVIRONMENT.filter((variable) => variable.commands.includes(command));
  const width = Math.max(...variables.map((variable) => variable.name.length));
  return [
    'Environment (also read from .env; variables already set win; see .env.example):',
    ...variables.map((variable) => `  ${variable.name.padEnd(width)}  ${variable.meaning} (default: ${variable.default})`),
  ].join('\n');
}
