// Bad input: every config of test/fixtures/broken-configs through bin/poll.ts. Each must exit 78 with one line
// naming the file and the field, no stack trace, no state written and no connection to Graphite made.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pLimit from 'p-limit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/temp-dir.ts';
import { runCommand } from '../helpers/run-command.ts';
import { CountingServer, ROOT, count, filesUnder, report } from './harness.ts';

const DIR = join(ROOT, 'test', 'fixtures', 'broken-configs');

interface Fixture {
  name: string;
  path: string;
  poller: string;
  kind: string;
  field: string;
  expect?: string;
  env: Record<string, string>;
  /** What the line names instead of the file ("environment", "command line"). */
  names?: string;
}

function fixtures(): Fixture[] {
  return readdirSync(DIR)
    .filter((name) => name.endsWith('.yaml'))
    .sort()
    .map((name) => {
      const text = readFileSync(join(DIR, name), 'utf8');
      const header = (key: string) => [...text.matchAll(new RegExp(`^# ${key}: (.*)$`, 'gm'))].map((m) => m[1]!.trim());
      const env = Object.fromEntries(header('env').map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]));
      return {
        name,
        path: `test/fixtures/broken-configs/${name}`,
        poller: header('poller')[0]!,
        kind: header('kind')[0]!,
        field: header('field')[0]!,
        expect: header('expect')[0],
        env,
        names: header('file')[0],
      };
    });
}

interface Outcome {
  fixture: Fixture;
  code: number | null;
  stdout: string;
  stderr: string;
  stateFiles: string[];
}

/** What is wrong with how a run handled its broken config: nothing, or the reasons. */
function problems({ fixture, code, stdout, stderr, stateFiles }: Outcome): string[] {
  const out: string[] = [];
  if (code !== 78) out.push(`exit ${code}, not 78`);
  if (stdout !== '') out.push('wrote to stdout');
  // One line says what is wrong; a job whose credentials its first run finds missing also logs that it
  // started and stopped (info), nothing else.
  const lines = stderr.split('\n').filter((line) => line !== '' && !/^\S+ INFO /.test(line));
  if (lines.length !== 1 || !/^\S+ ERROR /.test(lines[0]!)) out.push(`${lines.length} lines that are not INFO, expected one ERROR`);
  if (/^\s+at |\bError:|node:internal/m.test(stderr)) out.push('a stack trace');
  const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const field = fixture.field === '-' ? '' : `${escape(fixture.field).replace(/N/g, '\\d+')}: `;
  if (!new RegExp(` ${escape(fixture.names ?? fixture.path)}: ${field}`).test(lines[0] ?? ''))
    out.push(`does not name ${fixture.names ?? fixture.path} and ${fixture.field}`);
  if (fixture.expect && !(lines[0] ?? '').includes(fixture.expect)) out.push(`does not say "${fixture.expect}"`);
  if (stateFiles.length > 0) out.push(`wrote state: ${stateFiles.join(', ')}`);
  return out;
}

/** Bad input: the corpus of broken configs through bin/poll.ts. */
export function brokenConfigs(): void {
  describe('bad input: broken configs', () => {
    const corpus = fixtures();
    let graphite: CountingServer;
    const outcomes: Outcome[] = [];

    beforeAll(async () => {
      graphite = await CountingServer.start();
      const work = tempDir('broken-configs');
      // Four at a time: each run is a process start (tsx) and little else.
      const limit = pLimit(4);
      const results = await Promise.all(
        corpus.map((fixture) =>
          limit(async () => {
            const stateDir = join(work, fixture.name);
            const result = await runCommand(['bin/poll.ts', fixture.poller, '--config', fixture.path], {
              env: {
                GRAPHITE_URL: graphite.url,
                STATE_DIR: stateDir,
                POLLERS_PATH: join(ROOT, 'test', 'helpers', 'pollers'),
                BROKEN_CONFIGS: DIR,
                GOOGLE_APPLICATION_CREDENTIALS: '',
                GOOGLE_OAUTH_ACCESS_TOKEN: '',
                LOG_FORMAT: 'text',
                ...fixture.env,
              },
              // Only bounds a hang: four node + tsx start-ups at once take many seconds on a busy 2-core host.
              timeoutMs: 120_000,
            });
            return { fixture, code: result.code, stdout: result.stdout, stderr: result.stderr, stateFiles: filesUnder(stateDir) };
          }),
        ),
      );
      outcomes.push(...results);
    }, 600_000);

    afterAll(async () => {
      await graphite?.close();
    });

    it(`holds at least 25 broken configs of every kind the issue names`, () => {
      expect(corpus.length).toBeGreaterThanOrEqual(25);
      expect(new Set(corpus.map((f) => f.kind))).toEqual(
        new Set([
          'bad YAML',
          'wrong types',
          'unknown keys',
          'missing or invalid values',
          'impossible periods',
          'empty metric lists',
          'unknown poller',
          'missing credentials',
          'unreadable key file',
          'bad environment',
        ]),
      );
    });

    for (const fixture of corpus) {
      it(`${fixture.name}: exit 78, one line naming the file and the field, nothing started`, () => {
        const outcome = outcomes.find((o) => o.fixture === fixture)!;
        expect(problems(outcome), outcome.stderr).toEqual([]);
      });
    }

    it('every kind: rows of the table; no connection to Graphite at all', ({ task }) => {
      for (const kind of new Set(corpus.map((f) => f.kind))) {
        const of = outcomes.filter((o) => o.fixture.kind === kind);
        const ok = of.filter((o) => problems(o).length === 0).length;
        report(
          {
            section: 'Bad input',
            fault: `broken config: ${kind}`,
            injected: of.map((o) => `\`${o.fixture.name}\``).join(', '),
            expected: `${of.length} × exit 78, one line naming file and field, no stack trace, no state, no Graphite connection`,
            observed:
              `${ok} of ${of.length} as expected; state files ${count(of.reduce((n, o) => n + o.stateFiles.length, 0))}; ` +
              `Graphite connections (all ${corpus.length} runs) ${graphite.connections}`,
          },
          task,
        );
      }
      expect(outcomes.filter((o) => problems(o).length > 0).map((o) => o.fixture.name)).toEqual([]);
      expect(graphite.connections).toBe(0);
      expect(existsSync(join(DIR, 'no-such-key.json'))).toBe(false);
    });
  });
}
