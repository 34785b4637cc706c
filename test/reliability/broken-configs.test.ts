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
      return { name, path: `test/fixtures/broken-configs/${name}`, poller: header('poller')[0]!, kind: header('kind')[0]!, field: header('field')[0]!, expect: header('expect')[0], env, names: header('file')[0] };
    });
}

interface Outcome {
  fixture: Fixture;
  code: number | null;
  stdout: string;
  stderr: string;
  stateFiles: string[];
}

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
            timeoutMs: 30_000,
          });
          return { fixture, code: result.code, stdout: result.stdout, stderr: result.stderr, stateFiles: filesUnder(stateDir) };
        }),
      ),
    );
    outcomes.push(...results);
  }, 180_000);

  afterAll(async () => {
    await graphite?.close();
  });

  it(`holds at least 25 broken configs of every kind the issue names`, () => {
    expect(corpus.length).toBeGreaterThanOrEqual(25);
    expect(new Set(corpus.map((f) => f.kind))).toEqual(
      new Set(['bad YAML', 'wrong types', 'unknown keys', 'missing or invalid values', 'impossible periods', 'empty metric lists', 'unknown poller', 'missing credentials', 'unreadable key file', 'bad environment']),
    );
  });

  it.each(corpus.map((f) => [f.name, f] as const))('%s: exit 78, one line naming the file and the field, nothing started', (_, fixture) => {
    const outcome = outcomes.find((o) => o.fixture === fixture)!;
    expect(outcome.code, outcome.stderr).toBe(78);
    expect(outcome.stdout).toBe('');
    const lines = outcome.stderr.split('\n').filter(Boolean);
    // One line says what is wrong; a job whose credentials are found missing by its first run also logs
    // that it started and stopped (info), nothing else.
    const problems = lines.filter((line) => !/^\S+ INFO /.test(line));
    expect(problems, outcome.stderr).toHaveLength(1);
    const line = problems[0]!;
    expect(line).toMatch(/^\S+ ERROR /);
    expect(outcome.stderr).not.toMatch(/^\s+at |\bError:|node:internal/m);
    const place = fixture.names ?? fixture.path;
    const field = fixture.field === '-' ? '' : `${fixture.field.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/N/g, '\\d+')}: `;
    expect(line).toMatch(new RegExp(` ${place.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: ${field}`));
    if (fixture.expect) expect(line).toContain(fixture.expect);
    // Nothing half-started.
    expect(outcome.stateFiles).toEqual([]);
  });

  it('made no connection to Graphite and wrote no state', () => {
    const kinds = [...new Set(corpus.map((f) => f.kind))];
    for (const kind of kinds) {
      const of = outcomes.filter((o) => o.fixture.kind === kind);
      const ok = of.filter((o) => o.code === 78).length;
      report({
        section: 'Bad input',
        fault: `broken config: ${kind}`,
        injected: of.map((o) => `\`${o.fixture.name}\``).join(', '),
        expected: `${of.length} × exit 78, one line naming file and field, no state, no Graphite connection`,
        observed: `${ok} × exit 78; state files: ${count(of.reduce((n, o) => n + o.stateFiles.length, 0))}; Graphite connections (all ${corpus.length} runs): ${graphite.connections}`,
      });
    }
    expect(graphite.connections).toBe(0);
    expect(existsSync(join(DIR, 'no-such-key.json'))).toBe(false);
  });
});
