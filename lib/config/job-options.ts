// The keys every job accepts whatever its poller (interval, delay, lookback, …), merged into the poller's schema.
import { z } from 'zod';
import { duration } from '../poller-kit/duration.ts';
import type { Poller } from '../poller-kit/contract.ts';

/** Keys lib adds to every poller's options; a poller's own schema must not declare them. */
export const COMMON_KEYS = ['job', 'interval', 'delay', 'lookback', 'runTimeout', 'catchUp'] as const;

export interface CommonJobOptions {
  job?: string;
  interval: number;
  delay: number;
  lookback: number;
  runTimeout?: number;
  catchUp: number;
}

const JOB_NAME = /^[A-Za-z0-9_-]{1,100}$/;

function commonShape(poller: Poller) {
  const { interval, delay = 0, lookback = 0 } = poller.schedule;
  return {
    job: z
      .string()
      .regex(JOB_NAME, 'expected letters, digits, "_" or "-" (it becomes a Graphite node and a state file name)')
      .optional()
      .describe('Name of this job in logs, self-metrics and state files. Defaults to the config file name without .yaml, or the poller name.'),
    interval: duration()
      .refine((s) => s >= 1, 'expected at least 1 second')
      .default(interval)
      .describe('Seconds between ticks (or a duration such as "5m"). Ticks fall on wall-clock multiples of it: 60 ticks at :00 of every minute.'),
    delay: duration()
      .default(delay)
      .describe('How far behind the tick the live window ends, for sources whose data arrives late.'),
    lookback: duration()
      .default(lookback)
      .describe(
        'How far back from its end the live window reaches: [tick - delay - lookback, tick - delay), at least one interval ' +
          '(0 means one interval). Periods inside it are fetched again on every tick, so late or revised points are corrected ' +
          '(Graphite overwrites a point at the same timestamp).',
      ),
    runTimeout: duration()
      .refine((s) => s >= 1, 'expected at least 1 second (leave it out to use the interval)')
      .optional()
      .describe('Deadline of one run, after which its requests are aborted and it counts as an error. Defaults to the interval.'),
    catchUp: duration()
      .default(86400)
      .describe('For sources with history: at start-up, fill a gap since the last delivered window of at most this long (older data is left to bin/backfill.ts). 0 turns catch-up off.'),
  };
}

/** The schema a job's YAML is validated against: the poller's options plus the common keys. */
export function jobSchema(poller: Poller) {
  return poller.options.extend(commonShape(poller));
}

export interface OptionDoc {
  key: string;
  description: string;
  required: boolean;
  default?: unknown;
  type: string;
  common: boolean;
}

/** Every option of a poller with its description, default and type: for --help and the contract test. */
export function documentOptions(poller: Poller): OptionDoc[] {
  const shape = jobSchema(poller).shape as Record<string, z.ZodType>;
  return Object.entries(shape).map(([key, schema]) => {
    let description = '';
    let required = true;
    let defaultValue: unknown;
    let type = 'value';
    let current: z.ZodType | undefined = schema;
    while (current) {
      description ||= current.description ?? '';
      const def = current.def as { type: string; defaultValue?: unknown; innerType?: z.ZodType; in?: z.ZodType };
      if (def.type === 'default') {
        required = false;
        defaultValue = def.defaultValue;
      } else if (def.type === 'optional' || def.type === 'nullable') {
        required = false;
      } else if (def.type !== 'pipe' && type === 'value') {
        type = def.type === 'union' ? 'value' : def.type;
      }
      current = def.innerType ?? def.in;
    }
    return { key, description, required, default: defaultValue, type, common: (COMMON_KEYS as readonly string[]).includes(key) };
  });
}
