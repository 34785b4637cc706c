// The keys every job accepts whatever its poller (interval, delay, lookback, …), merged into the poller's schema.
import { z } from 'zod';
import { duration } from '../poller-kit/duration.ts';
import type { Poller } from '../poller-kit/contract.ts';

/** Keys lib adds to a poller's options (catchUp only to pollers with history); a poller's own schema must not declare them. */
export const COMMON_KEYS = ['job', 'interval', 'delay', 'lookback', 'runTimeout', 'catchUp'] as const;

export interface CommonJobOptions {
  job?: string;
  interval: number;
  delay: number;
  lookback: number;
  runTimeout?: number;
  /** Only for pollers with history: other jobs have no such key. */
  catchUp?: number;
}

const JOB_NAME = /^[A-Za-z0-9_-]{1,100}$/;

function commonShape(poller: Poller) {
  const { interval, delay = 0, lookback = 0 } = poller.schedule;
  return {
    job: z
      .string()
      .regex(JOB_NAME, 'expected letters, digits, "_" or "-" (it becomes a Graphite node and a state file name)')
      .optional()
      .describe(
        'Name of this job in logs, self-metrics and state files. Defaults to the config file name without .yaml, or the poller name.',
      ),
    interval: duration()
      .refine((s) => s >= 1, 'expected at least 1 second')
      .default(interval)
      .describe(
        'Seconds between ticks (or a duration such as "5m"). Ticks fall on wall-clock multiples of it: 60 ticks at :00 of every minute.',
      ),
    delay: duration().default(delay).describe('How far behind the tick the live window ends, for sources whose data arrives late.'),
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
    // Offered only where there is history to fetch again: in any other job `catchUp` is an unknown option.
    ...(poller.history
      ? {
          catchUp: duration()
            .default(86400)
            .describe(
              'At start-up, fill a gap since the last delivered window of at most this long (older data is left to bin/backfill.ts). ' +
                '0 turns catch-up off.',
            ),
        }
      : {}),
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
  /** JSON Schema's type of the value a config file gives ("string", "integer", …), or "value" when it may be several. */
  type: string;
  /** The values allowed, when the option is an enumeration. */
  values?: unknown[];
  common: boolean;
}

interface JsonSchemaProperty {
  description?: string;
  default?: unknown;
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  anyOf?: JsonSchemaProperty[];
}

interface JsonSchemaObject {
  properties?: Record<string, JsonSchemaProperty>;
  required?: string[];
}

/**
 * Every option of a poller with its description, default and type, read through zod's own JSON Schema
 * (z.toJSONSchema): for --help, the example configs' check and the scaffold. The input side says what a file
 * must give (required, accepted types), the output side the default a missing option takes.
 */
export function documentOptions(poller: Poller): OptionDoc[] {
  const schema = jobSchema(poller);
  // unrepresentable: 'any' — a transform (durations, byte sizes) or a refinement describes nothing JSON Schema
  // can say; its description, default and input types still come through.
  const input = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchemaObject;
  const output = z.toJSONSchema(schema, { io: 'output', unrepresentable: 'any' }) as JsonSchemaObject;
  const required = new Set(input.required ?? []);
  return Object.entries(input.properties ?? {}).map(([key, property]) => {
    const values = enumValues(property);
    return {
      key,
      description: property.description ?? '',
      required: required.has(key),
      default: output.properties?.[key]?.default,
      type: typeof property.type === 'string' ? property.type : 'value',
      ...(values ? { values } : {}),
      common: (COMMON_KEYS as readonly string[]).includes(key),
    };
  });
}

/** The allowed values of an enumeration (z.enum, a union of literals), or undefined for any other option. */
function enumValues(property: JsonSchemaProperty): unknown[] | undefined {
  if (property.enum) return property.enum;
  if (property.anyOf && property.anyOf.length > 0 && property.anyOf.every((branch) => 'const' in branch)) {
    return property.anyOf.map((branch) => branch.const);
  }
  return undefined;
}
