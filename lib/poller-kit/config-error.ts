// A user's mistake in configuration: reported as one line naming file and field, exit code 78 (EX_CONFIG).
export const EXIT_CONFIG = 78;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly where: { file?: string; field?: string };

  constructor(message: string, where: { file?: string; field?: string } = {}) {
    super(message);
    this.where = where;
  }

  /** This error naming `file` when it names none: a run finds missing credentials by field, the command knows the job's file. */
  inFile(file: string | undefined): ConfigError {
    return this.where.file || !file ? this : new ConfigError(this.message, { ...this.where, file });
  }

  /** `config/cloudwatch.yaml: metrics[0].stats: expected …` */
  describe(): string {
    const place = [this.where.file, this.where.field].filter(Boolean).join(': ');
    return place ? `${place}: ${this.message}` : this.message;
  }
}

export function isConfigError(error: unknown): error is ConfigError {
  return error instanceof ConfigError;
}
