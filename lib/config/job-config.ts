// Loads a job: .env into the environment, the job's YAML file, ${VAR} references, validation against the schema.
import { existsSync, readFileSync } from 'node:fs';
import { basename, extname, relative } from 'node:path';
import { config as loadDotenv } from 'dotenv';
import { isMap, isScalar, LineCounter, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { closestName } from './closest-name.ts';
import { ConfigError } from '../poller-kit/config-error.ts';
import { jobSchema, type CommonJobOptions } from './job-options.ts';
import type { JobSchedule, Poller } from '../poller-kit/contract.ts';

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
  /** The longest gap filled at start-up, in seconds; 0 for pollers without history (they have no catchUp key). */
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

  const schema = jobSchema(poller);
  const result = schema.safeParse(raw);
  if (!result.success) {
    // A misspelt required key is reported as unknown (with its likely meaning) before it is reported as missing.
    const issues = result.error.issues;
    const issue = issues.find((i) => i.code === 'unrecognized_keys') ?? issues[0]!;
    const where = shown ?? `${defaultFile} (not found)`;
    // Without a file every required option is missing, whatever the poller's schema calls the failure.
    const hint = file === undefined ? ' (create the file from its .example.yaml)' : '';
    throw new ConfigError(describeIssue(issue, schema, raw) + hint, { file: where, field: formatField(issue.path) });
  }
  const { job, interval, delay, lookback, runTimeout, catchUp, ...options } = result.data as CommonJobOptions & Record<string, unknown>;
  return {
    file: shown,
    job: job ?? (file ? basename(file, extname(file)) : poller.name),
    options,
    schedule: { interval, delay, lookback },
    runTimeout: runTimeout ?? interval,
    catchUp: catchUp ?? 0,
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
  const value = toPlainValue(document, shown, lines) ?? {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new ConfigError('expected a mapping of option names to values at the top level', { file: shown });
  }
  return value;
}

/**
 * The document as plain values. yaml refuses aliases that expand beyond maxAliasCount (a "billion laughs": a
 * few lines growing to gigabytes) with a ReferenceError: name the top-level key where the expansion blows up.
 */
function toPlainValue(document: Document, shown: string, lines: LineCounter): unknown {
  try {
    return document.toJS();
  } catch (error) {
    if (!(error instanceof ReferenceError)) throw error;
    let field: string | undefined;
    if (isMap(document.contents)) {
      for (const pair of document.contents.items) {
        try {
          (pair.value as { toJS?: (doc: Document) => unknown } | null)?.toJS?.(document);
        } catch {
          const at = isScalar(pair.key) && pair.key.range ? lines.linePos(pair.key.range[0]) : undefined;
          field = isScalar(pair.key) ? String(pair.key.value) : at && `line ${at.line}, column ${at.col}`;
          break;
        }
      }
    }
    const message = 'invalid YAML: its aliases (*name) expand to too many values (a "billion laughs"); write the values out instead';
    throw new ConfigError(message, { file: shown, field });
  }
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

function describeIssue(issue: z.core.$ZodIssue, schema: z.ZodType, raw: unknown): string {
  if (issue.code === 'unrecognized_keys') return describeUnknownKeys(issue.keys, keysAt(schema, issue.path));
  if (issue.code === 'invalid_type' && /received undefined/.test(issue.message)) return `required, expected ${issue.expected}`;
  // A union says only "Invalid input" about a missing value.
  if (issue.code === 'invalid_union' && valueAt(raw, issue.path) === undefined) return 'required';
  return issue.message.replace(/^Invalid input: /, '');
}

function valueAt(value: unknown, path: readonly PropertyKey[]): unknown {
  return path.reduce<unknown>((at, key) => (at && typeof at === 'object' ? (at as Record<PropertyKey, unknown>)[key] : undefined), value);
}

/** `unknown option "intervall"; did you mean "interval"?`: a typo is refused, with the key it most likely meant. */
export function describeUnknownKeys(keys: readonly string[], valid: readonly string[]): string {
  const suggest = (key: string) =>
    closestName(
      key,
      valid.filter((v) => !keys.includes(v)),
    );
  if (keys.length === 1) {
    const near = suggest(keys[0]!);
    return `unknown option ${JSON.stringify(keys[0])}${near ? `; did you mean ${JSON.stringify(near)}?` : ''}`;
  }
  const listed = keys.map((key) => {
    const near = suggest(key);
    return `${JSON.stringify(key)}${near ? ` (did you mean ${JSON.stringify(near)}?)` : ''}`;
  });
  return `unknown options ${listed.join(', ')}`;
}

/** The option names an object schema accepts at `path` (array indexes included), looking through wrappers. */
export function keysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  const found = new Set<string>();
  const walk = (current: z.ZodType | undefined, rest: readonly PropertyKey[], depth: number): void => {
    if (!current || depth > 64) return;
    const def = current.def as unknown as Record<string, unknown> & { type: string };
    const lazy = def.type === 'lazy' ? (def.getter as () => z.ZodType)() : undefined;
    const inner = (def.innerType ?? def.in ?? lazy) as z.ZodType | undefined;
    if (inner) return walk(inner, rest, depth + 1);
    if (def.type === 'union') return (def.options as z.ZodType[]).forEach((option) => walk(option, rest, depth + 1));
    if (def.type === 'intersection') return [def.left, def.right].forEach((side) => walk(side as z.ZodType, rest, depth + 1));
    if (rest.length === 0) {
      if (def.type === 'object') Object.keys(def.shape as object).forEach((key) => found.add(key));
      return;
    }
    const [head, ...tail] = rest;
    if (def.type === 'object') return walk((def.shape as Record<string, z.ZodType>)[String(head)], tail, depth + 1);
    if (def.type === 'array') return walk(def.element as z.ZodType, tail, depth + 1);
    if (def.type === 'record') return walk(def.valueType as z.ZodType, tail, depth + 1);
  };
  walk(schema, path, 0);
  return [...found];
}
