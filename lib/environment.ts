// The environment contract: GRAPHITE_URL, GRAPHITE_PREFIX, GRAPHITE_QUEUE_LIMIT, GRAPHITE_TAGS, STATE_DIR, LOG_*.
import { ConfigError } from './config-error.ts';
import { parseGraphiteUrl } from './graphite-url.ts';
import { stateDir } from './state-file.ts';

export interface RuntimeEnvironment {
  /** `tcp://host:port`, `udp://host:port`, or undefined for stdout (unset or `-`). */
  graphiteUrl: string | undefined;
  prefix: string | undefined;
  queueLimit: number;
  tags: boolean;
  stateDir: string;
  selfMetrics: boolean;
}

export const DEFAULT_QUEUE_LIMIT = 500_000;

export function readEnvironment(env: NodeJS.ProcessEnv = process.env): RuntimeEnvironment {
  const url = env.GRAPHITE_URL?.trim();
  try {
    parseGraphiteUrl(url);
  } catch (error) {
    throw new ConfigError((error as Error).message, { file: 'environment', field: 'GRAPHITE_URL' });
  }
  const limitText = env.GRAPHITE_QUEUE_LIMIT?.trim();
  const queueLimit = limitText ? Number(limitText) : DEFAULT_QUEUE_LIMIT;
  if (!Number.isInteger(queueLimit) || queueLimit < 1) {
    throw new ConfigError('expected a positive whole number of datapoints', { file: 'environment', field: 'GRAPHITE_QUEUE_LIMIT' });
  }
  // A typo (GRAPHITE_TAGS=ture) must not quietly write the untagged series instead.
  const tagsText = env.GRAPHITE_TAGS?.trim() ?? '';
  if (tagsText !== '' && !/^(0|1|true|false|yes|no|on|off)$/i.test(tagsText)) {
    throw new ConfigError('expected 1 (tagged series) or 0', { file: 'environment', field: 'GRAPHITE_TAGS' });
  }
  const prefix = env.GRAPHITE_PREFIX?.trim().replace(/^\.+|\.+$/g, '') || undefined;
  return {
    graphiteUrl: url && url !== '-' ? url : undefined,
    prefix,
    queueLimit,
    tags: isOn(tagsText),
    stateDir: stateDir(env),
    selfMetrics: env.SELF_METRICS === undefined ? true : isOn(env.SELF_METRICS),
  };
}

function isOn(value: string | undefined): boolean {
  return /^(1|true|yes|on)$/i.test(value?.trim() ?? '');
}
