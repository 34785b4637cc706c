// The example-config check: a missing option, a wrong default, a stale description or a removed option each fail it.
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { checkExampleConfig, exampleBlock } from '../../../lib/config/example-config.ts';
import { documentOptions } from '../../../lib/config/job-options.ts';
import { pollerHelp } from '../../../lib/config/poller-help.ts';
import { definePoller, duration, type Poller } from '../../../lib/poller-kit/index.ts';

const poller = definePoller({
  name: 'sample',
  summary: 'test',
  options: z.strictObject({
    url: z.string().describe('The URL to GET.'),
    ttl: duration().default(300).describe('How long an answer is reused.'),
    mode: z.enum(['fast', 'safe']).default('safe').describe('How to read.'),
    tags: z.array(z.string()).optional().describe('Tags to add.'),
  }),
  schedule: { interval: 60 },
  async poll() {},
}) as unknown as Poller;

const REWORD = '(a comment line starting with a lowercase word and a colon declares an option: reword it)';

const GOOD = `# sample: an introduction, which declares nothing.
# note: a lowercase word and a colon here is prose.

# The URL to GET. Required.
url: http://x

# How long an answer is reused.
# ttl: 5m

# How to read. More words about it.
# mode: safe

# Tags to add.
# tags:
#   - a
#   - b

# Name of this job in logs, self-metrics and state files. Defaults to the config file name without .yaml,
# or the poller name.
# job: sample

# Seconds between ticks (or a duration such as "5m"). Ticks fall on wall-clock multiples of it: 60 ticks at
# :00 of every minute.
# interval: 60

# How far behind the tick the live window ends, for sources whose data arrives late.
# delay: 0

# How far back from its end the live window reaches: [tick - delay - lookback, tick - delay), at least one
# interval (0 means one interval). Periods inside it are fetched again on every tick, so late or revised
# points are corrected (Graphite overwrites a point at the same timestamp).
# lookback: 0

# Deadline of one run, after which its requests are aborted and it counts as an error. Defaults to the interval.
# runTimeout: 60
`;

describe('checkExampleConfig', () => {
  it('accepts an example that shows every option with its description and default', () => {
    expect(checkExampleConfig(poller, GOOD)).toEqual([]);
  });

  it('fails on a missing option', () => {
    const text = GOOD.replace('# How to read. More words about it.\n# mode: safe\n', '');
    expect(checkExampleConfig(poller, text)).toEqual(['mode: not shown (expected its description in a comment, then "# mode: safe")']);
  });

  it('fails on a wrong default, compared after parsing (5m is 300 s)', () => {
    expect(checkExampleConfig(poller, GOOD.replace('# ttl: 5m', '# ttl: 300'))).toEqual([]);
    expect(checkExampleConfig(poller, GOOD.replace('# ttl: 5m', '# ttl: 10m'))).toEqual([
      'line 8: the default of ttl is not shown: expected "# ttl: 300"',
    ]);
    expect(checkExampleConfig(poller, GOOD.replace('# mode: safe', '# mode: fast'))).toEqual([
      'line 11: the default of mode is not shown: expected "# mode: safe"',
    ]);
  });

  it('fails on a stale description', () => {
    expect(checkExampleConfig(poller, GOOD.replace('# How long an answer is reused.', '# How long an answer is kept.'))).toEqual([
      'line 8: the comment above ttl does not contain its description: "How long an answer is reused."',
    ]);
  });

  it('fails on an option that no longer exists, commented out or set', () => {
    expect(checkExampleConfig(poller, `${GOOD}\n# Old.\n# retries: 3\n`)).toEqual([
      `line 38: "# retries:" is not an option of sample ${REWORD}`,
    ]);
    expect(checkExampleConfig(poller, `${GOOD}\nretries: 3\n`)).toEqual(['line 37: "retries:" is not an option of sample']);
  });

  it('fails on catchUp in the example of a poller without history', () => {
    expect(checkExampleConfig(poller, `${GOOD}\n# Catch-up.\n# catchUp: 24h\n`)).toEqual([
      `line 38: "# catchUp:" is not an option of sample ${REWORD}`,
    ]);
  });

  it('fails on a required option shown only commented out, and on a shown value the schema refuses', () => {
    expect(checkExampleConfig(poller, GOOD.replace('url: http://x', '# url: http://x'))).toEqual([
      'line 5: url is required: set it (uncommented), so the example is a working config',
    ]);
    expect(checkExampleConfig(poller, GOOD.replace('#   - b', '#   - 7'))).toEqual([
      'line 14: "# tags:" shows a value the schema refuses: Invalid input: expected string, received number',
    ]);
  });

  it('renders a block that passes the check (what the scaffold writes)', () => {
    const options = documentOptions(poller);
    // What the example shows instead of the default: a value for the options that have none.
    const shown: Record<string, string> = { url: 'http://x', job: 'sample', runTimeout: '60', tags: '[a, b]' };
    const blocks = options.map((option) => exampleBlock(option, shown[option.key]));
    const text = `# sample: introduction.\n\n${blocks.join('\n')}`;
    expect(text).toContain('# ttl: 300\n');
    expect(checkExampleConfig(poller, text)).toEqual([]);
  });
});

describe('--help from the JSON Schema', () => {
  it('shows required options, defaults and the values of an enumeration', () => {
    const help = pollerHelp(poller);
    expect(help).toContain('  url (required)\n      The URL to GET.');
    expect(help).toContain('  ttl (default: 300)\n      How long an answer is reused.');
    expect(help).toContain('  mode (default: "safe"; one of "fast", "safe")\n      How to read.');
    expect(help).toContain('  tags\n      Tags to add.');
    expect(help).not.toContain('catchUp');
  });
});
