// The environment contract, declared once: every variable lib/ and bin/ read, with its meaning, default and check.
// It validates the environment at start, writes the `Environment:` part of --help, and .env.example is tested against it.
import { existsSync, statSync } from 'node:fs';
import { delimiter, resolve } from 'node:path';
import { ConfigError } from '../poller-kit/config-error.ts';
import { parseGraphiteUrl } from '../graphite/url.ts';
import { DEFAULT_QUEUE_LIMIT } from '../graphite/writer-types.ts';
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

/** Every variable the commands read, in the order --help lists them. */
export const ENVIRONMENT = [
  declare({
    key: 'graphiteUrl',
    name: 'GRAPHITE_URL',
    meaning: 'where datapoints go: tcp://host:2003, udp://host:2003, or - for stdout',
    default: 'stdout',
    commands: BOTH,
    parse: (text) => (parseGraphiteUrl(text).kind === 'stdout' ? undefined : text),
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
  return values as RuntimeEnvironment;
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
