// Loads a job: .env into the environment, the job's YAML file, ${VAR} references, validation against the schema.
import { existsSync, readFileSync } from 'node:fs';
import { basename, extname, relative } from 'node:path';
import { config as loadDotenv } from 'dotenv';
import { LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';
import { ConfigError } from './config-error.ts';
import { jobSchema, type CommonJobOptions } from './job-options.ts';
import type { JobSchedule, Poller } from './poller.ts';

let dotenvLoaded = false;

/** Reads `.env` (dotenv) once; variables already set in the environment win. */
export function loadEnvironmentFile(path = '.env'): void {
  if (dotenvLoaded) return;
  dotenvLoaded = true;
  if (existsSync(path)) loadDotenv({ path, quiet: true });
}

export interface JobConfig {
  /** The config file, relative to the working directory; undefined when the job runs without one. */
  file: string | undefined;
  job: string;
  /** The poller's own options, validated, defaults applied. */
  options: Record<string, unknown>;
  schedule: JobSchedule;
  runTimeout: number;
  catchUp: number;
}

export interface LoadJobOptions {
  /** `--config FILE`; when absent, `config/<poller>.yaml` if it exists, else no file. */
  configFile?: string;
  env?: NodeJS.ProcessEnv;
}

/** Loads and validates one job's configuration; throws ConfigError naming the file and the field. */
export function loadJobConfig(poller: Poller, { configFile, env = process.env }: LoadJobOptions = {}): JobConfig {
  const defaultFile = `config/${poller.name}.yaml`;
  const file = configFile ?? (existsSync(defaultFile) ? defaultFile : undefined);
  const shown = file && relative(process.cwd(), file).startsWith('..') ? file : file && relative(process.cwd(), file);

  let raw: unknown = {};
  if (file !== undefined) raw = readYaml(file, shown!);
  raw = interpolateEnvironment(raw, env, shown ?? defaultFile);

  const result = jobSchema(poller).safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const where = shown ?? `${defaultFile} (not found)`;
    throw new ConfigError(describeIssue(issue, file === undefined), { file: where, field: formatField(issue.path) });
  }
  const { job, interval, delay, lookback, runTimeout, catchUp, ...options } = result.data as CommonJobOptions & Record<string, unknown>;
  return {
    file: shown,
    job: job ?? (file ? basename(file, extname(file)) : poller.name),
    options,
    schedule: { interval, delay, lookback },
    runTimeout: runTimeout ?? interval,
    catchUp,
  };
}

function readYaml(file: string, shown: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ConfigError(code === 'ENOENT' ? 'file not found' : `cannot read the file (${code ?? 'error'})`, { file: shown });
  }
  // Without prettyErrors an error carries only offsets: the line counter turns them into a place to name.
  const lines = new LineCounter();
  const document = parseDocument(text, { prettyErrors: false, uniqueKeys: true, lineCounter: lines });
  const error = document.errors[0];
  if (error) {
    const at = error.linePos?.[0] ?? lines.linePos(error.pos[0]);
    const place = at ? `line ${at.line}, column ${at.col}` : undefined;
    throw new ConfigError(`invalid YAML: ${error.message.split('\n')[0]}`, { file: shown, field: place });
  }
  const value = document.toJS() ?? {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new ConfigError('expected a mapping of option names to values at the top level', { file: shown });
  }
  return value;
}

const REFERENCE = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/**
 * Replaces `${VAR}` (and `${VAR:-default}`) in every string of the config with the environment's value, so
 * secrets stay in the environment or `.env`. A reference to an unset variable without default is an error.
 */
export function interpolateEnvironment(value: unknown, env: NodeJS.ProcessEnv, file: string, path: Array<string | number> = []): unknown {
  if (typeof value === 'string') {
    return value.replace(REFERENCE, (_, name: string, fallback: string | undefined) => {
      const found = env[name];
      if (found !== undefined && found !== '') return found;
      if (fallback !== undefined) return fallback;
      throw new ConfigError(`environment variable ${name} is not set (referenced as \${${name}})`, { file, field: formatField(path) });
    });
  }
  if (Array.isArray(value)) return value.map((item, i) => interpolateEnvironment(item, env, file, [...path, i]));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolateEnvironment(v, env, file, [...path, k])]));
  }
  return value;
}

export function formatField(path: readonly PropertyKey[]): string | undefined {
  if (path.length === 0) return undefined;
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`)).join('');
}

function describeIssue(issue: z.core.$ZodIssue, noFile: boolean): string {
  if (issue.code === 'unrecognized_keys') {
    return `unknown option${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}`;
  }
  if (issue.code === 'invalid_type' && /received undefined/.test(issue.message)) {
    return `required, expected ${issue.expected}${noFile ? ' (create the file from its .example.yaml)' : ''}`;
  }
  return issue.message.replace(/^Invalid input: /, '');
}
