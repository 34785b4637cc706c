// One line per event on stderr: human-readable text, or JSON lines with LOG_FORMAT=json; secrets masked.
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFormat = 'text' | 'json';
export type LogFields = Readonly<Record<string, unknown>>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line (for example `{ job }`). */
  child(fields: LogFields): Logger;
}

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface LoggerOptions {
  level?: LogLevel;
  format?: LogFormat;
  /** Where lines go; stderr by default, so stdout carries only Graphite lines. */
  write?: (line: string) => void;
  /** Strings never to print (secrets); by default the values of secret-looking environment variables. */
  secrets?: readonly string[];
  now?: () => number;
}

// Environment variables whose values must never appear in a log line, whatever code logged them.
const SECRET_NAME = /(SECRET|TOKEN|PASSWORD|PASSWD|CREDENTIAL|PRIVATE|API_?KEY|ACCESS_KEY|SESSION|^GRAPHITE_AUTH$)/i;

const URL_PASSWORD = /(\b[a-z][a-z0-9+.-]*:\/\/[^\s/:@"]*:)[^\s/@"]+@/gi;
// A secret-looking query parameter of a URL (`?password=…`, `&access_token=…`, `?apiKey=…`), wherever quoted.
const QUERY_SECRET = /([?&][^=\s&"#?]*(?:pass|pwd|token|secret|key|auth|sig|credential)[^=\s&"#?]*=)[^\s&"#]+/gi;

export function secretsFromEnvironment(env: NodeJS.ProcessEnv = process.env): string[] {
  return Object.entries(env)
    .filter(([name, value]) => SECRET_NAME.test(name) && typeof value === 'string' && value.length >= 6)
    .map(([, value]) => value as string);
}

/** LOG_LEVEL, leniently: what a logger made before the environment is checked uses (an unknown level is info). */
export function parseLogLevel(value: string | undefined): LogLevel {
  const level = (value ?? 'info').trim().toLowerCase();
  return level in LEVELS ? (level as LogLevel) : 'info';
}

/** LOG_LEVEL as the environment schema checks it; throws saying what is expected. */
export function readLogLevel(text: string): LogLevel {
  const level = text.trim().toLowerCase();
  if (!(level in LEVELS)) throw new Error(`expected debug, info, warn or error, got ${JSON.stringify(text)}`);
  return level as LogLevel;
}

/** LOG_FORMAT as the environment schema checks it; throws saying what is expected. */
export function readLogFormat(text: string): LogFormat {
  const format = text.trim().toLowerCase();
  if (format !== 'text' && format !== 'json') throw new Error(`expected text or json, got ${JSON.stringify(text)}`);
  return format;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? parseLogLevel(process.env.LOG_LEVEL);
  const format = options.format ?? (process.env.LOG_FORMAT?.trim().toLowerCase() === 'json' ? 'json' : 'text');
  const write = options.write ?? ((line: string) => process.stderr.write(line + '\n'));
  const secrets = (options.secrets ?? secretsFromEnvironment()).filter((s) => s.length > 0);
  const now = options.now ?? Date.now;

  const mask = (text: string): string => {
    let out = text;
    for (const secret of secrets) if (out.includes(secret)) out = out.split(secret).join('***');
    // A password in a URL (`https://user:password@host/`), wherever a message quotes one: fetch's own error does.
    if (out.includes('@')) out = out.replace(URL_PASSWORD, '$1***@');
    return out.includes('=') ? out.replace(QUERY_SECRET, '$1***') : out;
  };

  const make = (bound: LogFields): Logger => {
    const log = (at: LogLevel, message: string, fields?: LogFields) => {
      if (LEVELS[at] < LEVELS[level]) return;
      const all = { ...bound, ...fields };
      if (format === 'json') {
        write(mask(JSON.stringify({ time: new Date(now()).toISOString(), level: at, msg: message, ...serializable(all) })));
      } else {
        const rest = Object.entries(all)
          .filter(([, v]) => v !== undefined)
          .map(([k, v]) => `${k}=${formatValue(v)}`)
          .join(' ');
        write(mask(`${new Date(now()).toISOString()} ${at.toUpperCase().padEnd(5)} ${oneLine(message)}${rest ? ' ' + rest : ''}`));
      }
    };
    return {
      debug: (m, f) => log('debug', m, f),
      info: (m, f) => log('info', m, f),
      warn: (m, f) => log('warn', m, f),
      error: (m, f) => log('error', m, f),
      child: (fields) => make({ ...bound, ...fields }),
    };
  };
  return make({});
}

/** A logger that drops everything (tests, and pollers called outside a runner). */
export const silentLogger: Logger = createLogger({ write: () => {}, secrets: [] });

function oneLine(text: string): string {
  return text.replace(/[\r\n]+/g, ' ');
}

function formatValue(value: unknown): string {
  if (value instanceof Error) return JSON.stringify(oneLine(value.message));
  if (typeof value === 'string') return /^[\w.:/@+-]*$/.test(value) && value !== '' ? value : JSON.stringify(value);
  return oneLine(JSON.stringify(value) ?? String(value));
}

function serializable(fields: LogFields): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) out[k] = v instanceof Error ? v.message : v;
  return out;
}
