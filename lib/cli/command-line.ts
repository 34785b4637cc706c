// What the bin/ commands share: argv parsing whose mistakes are configuration errors, and exit codes for errors.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { loadEnvironmentFile } from '../config/job-config.ts';
import { ConfigError, EXIT_CONFIG } from '../poller-kit/config-error.ts';
import { readEnvironment } from '../config/environment.ts';
import { createLogger, type Logger } from '../poller-kit/logger.ts';

type Options = NonNullable<ParseArgsConfig['options']>;

/** parseArgs with positionals allowed; an unknown or malformed flag becomes a ConfigError (exit 78). */
export function parseCommandLine<O extends Options>(argv: string[], options: O) {
  try {
    return parseArgs({ args: argv, allowPositionals: true, options, strict: true });
  } catch (error) {
    // Node's message goes on about positionals after '--'; the first sentence is what the user needs.
    throw new ConfigError(`${(error as Error).message.split(/\.\s|\n/)[0]} (see --help)`, { file: 'command line' });
  }
}

/**
 * The line a command prints for an error that ended it, and its exit code: a user's configuration mistake is one
 * line naming file and field, exit 78; anything else is a bug or an outage nobody handled, exit 1, and its line
 * carries the stack (as one `stack=` field, so a log stays one line per event) for the bug report.
 */
export function reportFatal(error: unknown, log: Logger): number {
  if (error instanceof ConfigError) {
    log.error(error.describe());
    return EXIT_CONFIG;
  }
  const stack = error instanceof Error ? error.stack : undefined;
  log.error(`fatal: ${error instanceof Error ? error.message : String(error)}`, stack ? { stack } : undefined);
  return 1;
}

/**
 * Starts a bin/ command: `.env` read, the whole environment checked, then the logger made as LOG_LEVEL and
 * LOG_FORMAT say. A mistake in any variable, those two included, is one line and exit 78 before anything starts;
 * that line comes from a logger falling back to text at info, since the variables that would shape it are wrong.
 */
export async function startCommand(command: (argv: string[], log: Logger) => Promise<number>, argv: string[]): Promise<number> {
  loadEnvironmentFile();
  let log: Logger;
  try {
    const environment = readEnvironment();
    log = createLogger({ level: environment.logLevel, format: environment.logFormat });
  } catch (error) {
    return reportFatal(error, createLogger());
  }
  return command(argv, log);
}
